// act: terse construction of scalar float arithmetic, so that expansion and
// derivative rules read like the math they implement.
#pragma once

#include "act/Dialect/ActOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/PatternMatch.h"


namespace act {

struct ScalarBuilder {
  using P = mlir::arith::CmpFPredicate;
  mlir::OpBuilder &b;
  mlir::Location loc;
  mlir::Type type;

  mlir::Value c(double v) {
    return b.create<mlir::arith::ConstantOp>(loc, type, b.getFloatAttr(type, v));
  }
  mlir::Value add(mlir::Value x, mlir::Value y) { return b.create<mlir::arith::AddFOp>(loc, x, y); }
  mlir::Value sub(mlir::Value x, mlir::Value y) { return b.create<mlir::arith::SubFOp>(loc, x, y); }
  mlir::Value mul(mlir::Value x, mlir::Value y) { return b.create<mlir::arith::MulFOp>(loc, x, y); }
  mlir::Value div(mlir::Value x, mlir::Value y) { return b.create<mlir::arith::DivFOp>(loc, x, y); }
  mlir::Value neg(mlir::Value x) { return b.create<mlir::arith::NegFOp>(loc, x); }
  mlir::Value max(mlir::Value x, mlir::Value y) { return b.create<mlir::arith::MaximumFOp>(loc, x, y); }
  mlir::Value min(mlir::Value x, mlir::Value y) { return b.create<mlir::arith::MinimumFOp>(loc, x, y); }
  /// |x|; |-y| is written |y|, so sigmoid(z) and sigmoid(-z) share one exp.
  mlir::Value abs(mlir::Value x) {
    if (auto n = x.getDefiningOp<mlir::arith::NegFOp>())
      x = n.getOperand();
    return b.create<mlir::math::AbsFOp>(loc, x);
  }
  mlir::Value exp(mlir::Value x) { return b.create<mlir::math::ExpOp>(loc, x); }
  mlir::Value fma(mlir::Value x, mlir::Value y, mlir::Value z) {
    return b.create<mlir::math::FmaOp>(loc, x, y, z);
  }
  mlir::Value log(mlir::Value x) { return b.create<mlir::math::LogOp>(loc, x); }
  mlir::Value log1p(mlir::Value x) { return b.create<mlir::math::Log1pOp>(loc, x); }
  mlir::Value sqrt(mlir::Value x) { return b.create<mlir::math::SqrtOp>(loc, x); }
  mlir::Value cmp(P p, mlir::Value x, mlir::Value y) {
    return b.create<mlir::arith::CmpFOp>(loc, p, x, y);
  }
  mlir::Value andi(mlir::Value x, mlir::Value y) { return b.create<mlir::arith::AndIOp>(loc, x, y); }
  mlir::Value select(mlir::Value cond, mlir::Value x, mlir::Value y) {
    return b.create<mlir::arith::SelectOp>(loc, cond, x, y);
  }
  /// beta * a_i for each operand, and their maximum: the shift that keeps the
  /// exponentials of the smooth-maximum family from overflowing.
  std::pair<llvm::SmallVector<mlir::Value>, mlir::Value> scaledWithMax(mlir::ValueRange in,
                                                                       mlir::Value beta) {
    llvm::SmallVector<mlir::Value> z;
    for (mlir::Value v : in)
      z.push_back(mul(beta, v));
    mlir::Value m = z[0];
    for (mlir::Value v : llvm::ArrayRef<mlir::Value>(z).drop_front())
      m = max(m, v);
    return {z, m};
  }
  /// 1 where `cond` holds, else 0.
  mlir::Value indicator(mlir::Value cond) { return select(cond, c(1), c(0)); }
  mlir::Value sigmoid(mlir::Value x) { return b.create<SigmoidOp>(loc, x); }
  mlir::Value relu6(mlir::Value x) { return min(max(x, c(0)), c(6)); }
  /// r where s != 0 (or NaN), else 0: on x86 one compare and one zero-masked multiply.
  mlir::Value zeroWhere0(mlir::Value s, mlir::Value r) {
    return select(cmp(P::UNE, s, c(0)), r, c(0));
  }
  /// True where g is NaN whenever v is: g is v, or + - * / or negation of such a
  /// value (a few levels deep). (GateGuards.cpp, with the three below.)
  static bool nanFollows(mlir::Value g, mlir::Value v, int depth = 4);
  /// A value b such that v is NaN only where b is: v itself, or b through a finite
  /// constant plus, minus or times (nonzero) it, a negation, a select between it and
  /// a finite constant, or a gate whose value and gate argument both have base b (a
  /// gate is NaN only where one of them is).
  static mlir::Value nanBase(mlir::Value v, int depth = 4);
  /// x lies in [0, 1] by construction: a sigmoid, a gate of such a value, or a
  /// product of such values.
  static bool inUnitInterval(mlir::Value x, int depth = 4);
  /// s lies in [0, 1] and is NaN wherever v is: a sigmoid of a function of v, or a
  /// gate or product of [0, 1] values one of which is such.
  static bool unitAndNanFollows(mlir::Value s, mlir::Value v, int depth = 4);
  /// s is gateMul(v, u)'s one-compare form, u [0, 1] and NaN wherever v is: s is
  /// NaN wherever v is, 0 where v is infinite and u 0, and infinite only where v is.
  static bool isSaturatedProduct(mlir::Value s, mlir::Value v);
  /// v * s where a saturated factor wins over an infinite one: when the product is
  /// NaN but neither factor is (inf * 0), the result is 0, the limit of a gate that
  /// closes faster than its input grows. NaN inputs still propagate.
  mlir::Value gateMul(mlir::Value v, mlir::Value s) {
    mlir::Value r = mul(v, s);
    // Two factors in [0, 1] (sigmoid(z) sigmoid(-z)): neither is infinite.
    if (inUnitInterval(v) && inUnitInterval(s))
      return r;
    // s in [0, 1] and NaN wherever v is (swish's sigmoid(beta x), ACON's
    // (1 + z sigmoid(-z)) sigmoid(z)): only s == 0 (v infinite) needs the limit, one
    // compare instead of two.
    if (unitAndNanFollows(s, v))
      return zeroWhere0(s, r);
    if (auto sig = s.getDefiningOp<SigmoidOp>(); sig && nanFollows(sig.getInput(), nanBase(v)))
      return zeroWhere0(s, r);
    // s = (u != 0 ? v u : 0), saturated (ACON's d (d s t)): v s is NaN from inf * 0
    // only where s == 0, and where u != 0 but v u == 0, v is finite (0 or tiny), so
    // v s is 0 there too: s's own test guards v s, no second compare (a zero's sign
    // may differ from +0 there).
    if (isSaturatedProduct(s, v))
      return select(s.getDefiningOp<mlir::arith::SelectOp>().getCondition(), r, c(0));
    mlir::Value infTimesZero = andi(cmp(P::UNO, r, r), cmp(P::ORD, v, s));
    return select(infTimesZero, c(0), r);
  }
};

} // namespace act

namespace act {

/// The segment arithmetic of `pwl(x; y, bl, br, kl, kr)` with n = K - 1 segments,
/// shared by its expansion and its derivative so both agree at the knots:
/// t = (x - bl) / d, d = (br - bl) / n; the segment index clamps floor(t) to
/// [0, n - 1] with NaN-ignoring maxnum/minnum (a NaN x never indexes out of bounds).
/// x == bl and x == br count as inside; an interior knot belongs to the segment on
/// its right.
struct PwlSegment {
  mlir::Value t, fi, frac, lo, hi; ///< lo/hi: knot indices (index type)
  mlir::Value offset;              ///< x - (bl + i d); frac = offset (1 / d)
  mlir::Value d, invD;             ///< segment width and its reciprocal
  mlir::Value isLeft, isRight;     ///< x < bl, x > br
  int64_t n;

  static PwlSegment build(ScalarBuilder &a, mlir::Value x, mlir::Value table,
                          mlir::Value bl, mlir::Value br) {
    PwlSegment s;
    s.n = mlir::cast<mlir::MemRefType>(table.getType()).getDimSize(0) - 1;
    s.d = a.div(a.sub(br, bl), a.c(double(s.n)));
    s.t = a.div(a.sub(x, bl), s.d);
    mlir::Value fi = a.b.create<mlir::math::FloorOp>(a.loc, s.t);
    fi = a.b.create<mlir::arith::MaxNumFOp>(a.loc, fi, a.c(0));
    s.fi = a.b.create<mlir::arith::MinNumFOp>(a.loc, fi, a.c(double(s.n - 1)));
    // The offset from the segment's left knot, x - (bl + i d), is exact where the
    // knots are (ReLU-like tables): t - i would carry the rounding of x - bl.
    s.offset = a.sub(x, a.add(bl, a.mul(s.fi, s.d)));
    // The fraction by the reciprocal, constant per channel: one division an element
    // fewer, rounding once more (the division by d picks the segment). pwlu ncs
    // forward on 16.7M floats, two threads: 2.41-2.89 -> 2.18-2.37 ms.
    s.invD = a.div(a.c(1), s.d);
    s.frac = a.mul(s.offset, s.invD);
    mlir::Value i = a.b.create<mlir::arith::FPToSIOp>(a.loc, a.b.getI64Type(), s.fi);
    s.lo = a.b.create<mlir::arith::IndexCastOp>(a.loc, a.b.getIndexType(), i);
    s.hi = a.b.create<mlir::arith::AddIOp>(
        a.loc, s.lo, a.b.create<mlir::arith::ConstantIndexOp>(a.loc, 1));
    s.isLeft = a.cmp(ScalarBuilder::P::OLT, x, bl);
    s.isRight = a.cmp(ScalarBuilder::P::OGT, x, br);
    return s;
  }
  mlir::Value load(ScalarBuilder &a, mlir::Value table, mlir::Value idx) {
    return a.b.create<mlir::memref::LoadOp>(a.loc, table, mlir::ValueRange{idx});
  }
  mlir::Value index(ScalarBuilder &a, int64_t k) {
    return a.b.create<mlir::arith::ConstantIndexOp>(a.loc, k);
  }
};

/// A rewrite whose rule is a function from the op to its replacement value, so a
/// pattern set reads as a list of formulas (act-expand, the GPU math rewrites).
template <typename OpT>
struct RulePattern : mlir::OpRewritePattern<OpT> {
  using Rule = mlir::Value (*)(OpT, ScalarBuilder &);
  RulePattern(mlir::MLIRContext *ctx, Rule rule)
      : mlir::OpRewritePattern<OpT>(ctx), rule(rule) {}
  mlir::LogicalResult matchAndRewrite(OpT op,
                                      mlir::PatternRewriter &rewriter) const override {
    ScalarBuilder a{rewriter, op.getLoc(), op.getType()};
    rewriter.replaceOp(op, rule(op, a));
    return mlir::success();
  }
  Rule rule;
};

} // namespace act
