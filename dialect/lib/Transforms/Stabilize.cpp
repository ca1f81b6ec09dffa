// act-stabilize: rewrite numerically fragile spellings into stable primitives.
//
// Each pattern recognises one spelling (sums in either operand order) and replaces
// it with an act primitive or math op whose lowering does not overflow or cancel;
// the identity it relies on is in the comment above it. The pass records on each
// activation which rewrites fired (`act.stabilized`), so `actc emit --emit=act`
// shows them.
#include "act/Dialect/ActPasses.h"
#include "act/Dialect/ScalarBuilder.h"

#include "mlir/IR/Matchers.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include "llvm/ADT/SetVector.h"

#include <cmath>

using namespace mlir;
using namespace act;

namespace act {
#define GEN_PASS_DEF_ACTSTABILIZE
#include "act/Dialect/ActPasses.h.inc"
} // namespace act

namespace {

/// The rewrites' names, in the order `act.stabilized` lists them.
const char *const kNames[] = {"softplus", "log_sigmoid", "logsumexp",     "sigmoid", "tanh",
                              "expm1",    "log1p",       "one_plus_trig", "hypot"};

/// Names of the rewrites that fired on the activation being rewritten.
using Fired = llvm::SmallSetVector<StringRef, 8>;

bool isConstant(Value v, double c) {
  APFloat f(0.0);
  return matchPattern(v, m_ConstantFloat(&f)) && f.convertToDouble() == c;
}

/// `v` is `c + y` or `y + c` for the constant c: returns y.
Value addendOf(Value v, double c) {
  auto add = v.getDefiningOp<arith::AddFOp>();
  if (!add)
    return {};
  if (isConstant(add.getLhs(), c))
    return add.getRhs();
  if (isConstant(add.getRhs(), c))
    return add.getLhs();
  return {};
}

/// The argument of `exp(z)`, or null.
Value expArg(Value v) {
  if (auto e = v.getDefiningOp<math::ExpOp>())
    return e.getOperand();
  return {};
}

/// -w without a double negation: the operand when w is itself a negation.
Value negate(ScalarBuilder &a, Value w) {
  if (auto n = w.getDefiningOp<arith::NegFOp>())
    return n.getOperand();
  return a.neg(w);
}

/// A pattern that reports the rewrite it performed to `fired`.
template <typename OpT>
struct StablePattern : OpRewritePattern<OpT> {
  StablePattern(MLIRContext *ctx, Fired &fired) : OpRewritePattern<OpT>(ctx), fired(fired) {}
  LogicalResult done(PatternRewriter &rewriter, OpT op, Value replacement,
                     StringRef name) const {
    rewriter.replaceOp(op, replacement);
    fired.insert(name);
    return success();
  }
  Fired &fired;
};

// log(1 + exp(z)) = softplus(z);  log(exp(a) + exp(b)) = logsumexp(a, b; 1);
// log(sigmoid(z)) = -log(1 + exp(-z)) = -softplus(-z);  log(1 + x) = log1p(x).
struct StabilizeLog : StablePattern<math::LogOp> {
  using StablePattern::StablePattern;
  LogicalResult matchAndRewrite(math::LogOp op, PatternRewriter &rewriter) const override {
    ScalarBuilder a{rewriter, op.getLoc(), op.getType()};
    Value in = op.getOperand();
    if (Value y = addendOf(in, 1.0)) {
      if (Value z = expArg(y))
        return done(rewriter, op, rewriter.create<SoftplusOp>(op.getLoc(), z), "softplus");
      return done(rewriter, op, a.log1p(y), "log1p");
    }
    if (auto add = in.getDefiningOp<arith::AddFOp>()) {
      Value za = expArg(add.getLhs()), zb = expArg(add.getRhs());
      if (za && zb)
        return done(rewriter, op,
                    rewriter.create<LogSumExpOp>(op.getLoc(), ValueRange{za, zb}, a.c(1)),
                    "logsumexp");
    }
    if (auto sig = in.getDefiningOp<SigmoidOp>()) {
      Value sp = rewriter.create<SoftplusOp>(op.getLoc(), negate(a, sig.getInput()));
      return done(rewriter, op, a.neg(sp), "log_sigmoid");
    }
    return failure();
  }
};

// log1p(exp(z)) = softplus(z)
struct StabilizeLog1p : StablePattern<math::Log1pOp> {
  using StablePattern::StablePattern;
  LogicalResult matchAndRewrite(math::Log1pOp op, PatternRewriter &rewriter) const override {
    Value z = expArg(op.getOperand());
    if (!z)
      return failure();
    return done(rewriter, op, rewriter.create<SoftplusOp>(op.getLoc(), z), "softplus");
  }
};

// exp(a) / (exp(a) + exp(b)) = 1 / (1 + exp(b - a)) = sigmoid(a - b);
// exp(z) / (1 + exp(z)) = sigmoid(z);  v / (1 + exp(w)) = v sigmoid(-w).
struct StabilizeDiv : StablePattern<arith::DivFOp> {
  using StablePattern::StablePattern;
  LogicalResult matchAndRewrite(arith::DivFOp op, PatternRewriter &rewriter) const override {
    ScalarBuilder a{rewriter, op.getLoc(), op.getType()};
    Value num = op.getLhs(), den = op.getRhs();
    Value zn = expArg(num);
    if (Value y = addendOf(den, 1.0)) {
      Value w = expArg(y);
      if (!w)
        return failure();
      if (zn == w)
        return done(rewriter, op, a.sigmoid(w), "sigmoid");
      Value s = a.sigmoid(negate(a, w));
      return done(rewriter, op, isConstant(num, 1.0) ? s : a.mul(num, s), "sigmoid");
    }
    auto add = den.getDefiningOp<arith::AddFOp>();
    if (!add || !zn)
      return failure();
    Value z0 = expArg(add.getLhs()), z1 = expArg(add.getRhs());
    if (!z0 || !z1)
      return failure();
    if (zn == z0)
      return done(rewriter, op, a.sigmoid(a.sub(z0, z1)), "sigmoid");
    if (zn == z1)
      return done(rewriter, op, a.sigmoid(a.sub(z1, z0)), "sigmoid");
    return failure();
  }
};

// exp(x) - 1 = expm1(x);  1 - exp(x) = -expm1(x);  1 - sigmoid(z) = sigmoid(-z).
struct StabilizeSub : StablePattern<arith::SubFOp> {
  using StablePattern::StablePattern;
  LogicalResult matchAndRewrite(arith::SubFOp op, PatternRewriter &rewriter) const override {
    ScalarBuilder a{rewriter, op.getLoc(), op.getType()};
    if (isConstant(op.getRhs(), 1.0))
      if (Value x = expArg(op.getLhs()))
        return done(rewriter, op, rewriter.create<math::ExpM1Op>(op.getLoc(), x), "expm1");
    if (isConstant(op.getLhs(), 1.0)) {
      if (Value x = expArg(op.getRhs()))
        return done(rewriter, op, a.neg(rewriter.create<math::ExpM1Op>(op.getLoc(), x)),
                    "expm1");
      if (auto sig = op.getRhs().getDefiningOp<SigmoidOp>())
        return done(rewriter, op, a.sigmoid(negate(a, sig.getInput())), "sigmoid");
    }
    // softplus(z) - z = softplus(-z);  z - softplus(z) = -softplus(-z)
    if (auto sp = op.getLhs().getDefiningOp<SoftplusOp>(); sp && sp.getInput() == op.getRhs())
      return done(rewriter, op,
                  rewriter.create<SoftplusOp>(op.getLoc(), negate(a, op.getRhs())),
                  "softplus");
    if (auto sp = op.getRhs().getDefiningOp<SoftplusOp>(); sp && sp.getInput() == op.getLhs())
      return done(rewriter, op,
                  a.neg(rewriter.create<SoftplusOp>(op.getLoc(), negate(a, op.getLhs()))),
                  "softplus");
    return failure();
  }
};

/// `v` is exp(z) - exp(-z) (`difference`) or exp(z) + exp(-z) (either order): z.
Value expPairArg(Value v, bool difference) {
  Operation *op = v.getDefiningOp();
  if (!op || !(difference ? isa<arith::SubFOp>(op) : isa<arith::AddFOp>(op)))
    return {};
  Value z = expArg(op->getOperand(0)), w = expArg(op->getOperand(1));
  if (!z || !w)
    return {};
  auto isNegOf = [](Value n, Value of) {
    auto neg = n.getDefiningOp<arith::NegFOp>();
    return neg && neg.getOperand() == of;
  };
  if (isNegOf(w, z))
    return z;
  if (!difference && isNegOf(z, w))
    return w;
  return {};
}

// (exp(z) - exp(-z)) / (exp(z) + exp(-z)) = tanh(z): the quotient is inf/inf = NaN
// for |z| > 88.7 (float).
struct StabilizeTanh : StablePattern<arith::DivFOp> {
  using StablePattern::StablePattern;
  LogicalResult matchAndRewrite(arith::DivFOp op, PatternRewriter &rewriter) const override {
    Value z = expPairArg(op.getLhs(), true);
    if (!z || expPairArg(op.getRhs(), false) != z)
      return failure();
    return done(rewriter, op, rewriter.create<math::TanhOp>(op.getLoc(), z), "tanh");
  }
};

// exp(x) + (-1) = expm1(x), either operand order.
struct StabilizeAddMinusOne : StablePattern<arith::AddFOp> {
  using StablePattern::StablePattern;
  LogicalResult matchAndRewrite(arith::AddFOp op, PatternRewriter &rewriter) const override {
    Value y = addendOf(op.getResult(), -1.0);
    Value x = y ? expArg(y) : Value();
    if (!x)
      return failure();
    return done(rewriter, op, rewriter.create<math::ExpM1Op>(op.getLoc(), x), "expm1");
  }
};

/// sign * sin(x) or sign * cos(x) (through negations): the trig op and the sign.
std::pair<Operation *, int> trigTerm(Value v) {
  int sign = 1;
  while (auto n = v.getDefiningOp<arith::NegFOp>()) {
    v = n.getOperand();
    sign = -sign;
  }
  Operation *op = v.getDefiningOp();
  if (op && isa<math::SinOp, math::CosOp>(op))
    return {op, sign};
  return {nullptr, 0};
}

// c + s T with c = +-1, T = sin(x) or cos(x): c (1 + u), u = (s / c) T, cancels where
// u is near -1. With the other function O (cos for sin, sin for cos), O^2 = 1 - T^2:
// 1 + u = O^2 / (1 - u) where u < 0 (no cancellation), 1 + u directly otherwise.
// Derivative bodies meet this as cos(x) - x -> -sin(x) - 1 at its double zeros.
Value onePlusTrig(ScalarBuilder &a, Operation *trig, int sign, double c) {
  Value x = trig->getOperand(0), t = trig->getResult(0);
  Value other = isa<math::SinOp>(trig) ? Value(a.b.create<math::CosOp>(a.loc, x))
                                       : Value(a.b.create<math::SinOp>(a.loc, x));
  Value u = sign * c > 0 ? t : a.neg(t);
  // 1 + u and 1 - u as fma(u, +-1, 1): the same values, in a form this pattern does
  // not match again.
  Value direct = a.b.create<math::FmaOp>(a.loc, u, a.c(1), a.c(1));
  Value viaOther = a.div(a.mul(other, other), a.b.create<math::FmaOp>(a.loc, u, a.c(-1), a.c(1)));
  Value r = a.select(a.cmp(ScalarBuilder::P::OLT, u, a.c(0)), viaOther, direct);
  return c > 0 ? r : a.neg(r);
}

// c + s T and s T + c (addf), c - s T and s T - c (subf), c = +-1.
template <typename OpT>
struct StabilizeOnePlusTrig : StablePattern<OpT> {
  using StablePattern<OpT>::StablePattern;
  LogicalResult matchAndRewrite(OpT op, PatternRewriter &rewriter) const override {
    constexpr bool isSub = std::is_same<OpT, arith::SubFOp>::value;
    ScalarBuilder a{rewriter, op.getLoc(), op.getType()};
    for (unsigned i = 0; i < 2; ++i) {
      Value k = op->getOperand(i);
      double c = isConstant(k, 1.0) ? 1.0 : isConstant(k, -1.0) ? -1.0 : 0.0;
      if (c == 0)
        continue;
      auto [trig, sign] = trigTerm(op->getOperand(1 - i));
      if (!trig)
        continue;
      if (isSub && i == 0)
        sign = -sign; // c - s T
      if (isSub && i == 1)
        c = -c; // s T - c
      return this->done(rewriter, op, onePlusTrig(a, trig, sign, c), "one_plus_trig");
    }
    return failure();
  }
};

/// `v` is u * u: returns u.
Value squareOf(Value v) {
  auto m = v.getDefiningOp<arith::MulFOp>();
  return m && m.getLhs() == m.getRhs() ? m.getLhs() : Value();
}

// sqrt(u^2 + v^2) = hypot(u, v) and sqrt(u^2 + c) = hypot(u, sqrt c) for a constant
// c > 0: |u| sqrt(1 + (v/u)^2) where |u| > |v|, else |v| sqrt(1 + (u/v)^2) (0 when
// both are 0). u^2 overflows from |u| = 1.8e19 in float, where the result is finite.
// Both branches are the same smooth function, so derivatives are right at |u| = |v|.
struct StabilizeHypot : StablePattern<math::SqrtOp> {
  using StablePattern::StablePattern;
  LogicalResult matchAndRewrite(math::SqrtOp op, PatternRewriter &rewriter) const override {
    auto add = op.getOperand().getDefiningOp<arith::AddFOp>();
    if (!add)
      return failure();
    ScalarBuilder a{rewriter, op.getLoc(), op.getType()};
    Value u, v;
    for (unsigned i = 0; i < 2 && !u; ++i) {
      Value sq = squareOf(add->getOperand(i)), other = add->getOperand(1 - i);
      if (!sq)
        continue;
      APFloat c(0.0);
      if (Value sq2 = squareOf(other)) {
        u = sq;
        v = sq2;
      } else if (matchPattern(other, m_ConstantFloat(&c)) && c.convertToDouble() > 0) {
        u = sq;
        v = a.c(std::sqrt(c.convertToDouble()));
      }
    }
    if (!u)
      return failure();
    Value au = a.abs(u), av = a.abs(v);
    auto scaled = [&](Value big, Value absBig, Value other) {
      Value r = a.div(other, big);
      // 1 + r^2 as fma(r, r, 1), which this pattern does not match again
      return a.mul(absBig, a.sqrt(a.b.create<math::FmaOp>(a.loc, r, r, a.c(1))));
    };
    Value bothZero = a.andi(a.cmp(ScalarBuilder::P::OEQ, au, a.c(0)),
                            a.cmp(ScalarBuilder::P::OEQ, av, a.c(0)));
    Value h = a.select(a.cmp(ScalarBuilder::P::OGT, au, av), scaled(u, au, v),
                       scaled(v, av, u));
    return done(rewriter, op, a.select(bothZero, a.c(0), h), "hypot");
  }
};

struct ActStabilizePass : act::impl::ActStabilizeBase<ActStabilizePass> {
  void runOnOperation() override {
    for (ActivationOp act : getOperation().getOps<ActivationOp>())
      if (failed(stabilizeActivation(act)))
        return signalPassFailure();
  }
};

} // namespace

void act::populateActStabilizePatterns(RewritePatternSet &patterns,
                                       llvm::SmallSetVector<StringRef, 8> &fired) {
  patterns.add<StabilizeLog, StabilizeLog1p, StabilizeDiv, StabilizeSub,
               StabilizeAddMinusOne, StabilizeOnePlusTrig<arith::AddFOp>,
               StabilizeOnePlusTrig<arith::SubFOp>, StabilizeHypot, StabilizeTanh>(
      patterns.getContext(), fired);
}

LogicalResult act::stabilizeActivation(ActivationOp act) {
  MLIRContext *ctx = act.getContext();
  Fired fired;
  RewritePatternSet patterns(ctx);
  populateActStabilizePatterns(patterns, fired);
  if (failed(applyPatternsAndFoldGreedily(act.getBody(), std::move(patterns))))
    return failure();
  if (auto old = act->getAttrOfType<ArrayAttr>("act.stabilized"))
    for (Attribute name : old)
      fired.insert(cast<StringAttr>(name).getValue());
  if (fired.empty())
    return success();
  SmallVector<StringRef> names;
  for (const char *name : kNames)
    if (fired.contains(name))
      names.push_back(name);
  act->setAttr("act.stabilized", Builder(ctx).getStrArrayAttr(names));
  return success();
}
