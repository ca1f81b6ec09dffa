// act-approximate-math: branch-free float32 exp, expm1, log1p and tanh that
// vectorise (libm's are scalar calls), each keeping NaN, infinities and subnormals.
//
// Accuracy (measured by tests/unit/AccuracyTests.cpp and `actc accuracy`, see
// docs/numerics.md): about 1 ulp for exp, expm1 and log1p, 2-3 ulp for tanh.
//
// Before that, for float32: exp(x) * 2^m becomes one exp whose exponent is k + m
// (the float sigmoid's e^w 2^-64 stays finite).
#include "act/Conversion/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include <algorithm>
#include <cmath>
#include <optional>

using namespace mlir;

namespace act {
#define GEN_PASS_DEF_APPROXIMATEMATH
#include "act/Conversion/Passes.h.inc"

namespace {

/// Builds float32 arithmetic on `type` (f32 or a vector of f32) and the matching i32.
/// The value of a float constant or splat constant.
std::optional<double> splatValue(Value v) {
  Attribute attr;
  if (!matchPattern(v, m_Constant(&attr)))
    return std::nullopt;
  if (auto dense = dyn_cast<DenseFPElementsAttr>(attr); dense && dense.isSplat())
    return dense.getSplatValue<APFloat>().convertToDouble();
  if (auto f = dyn_cast<FloatAttr>(attr))
    return f.getValueAsDouble();
  return std::nullopt;
}

/// Bounds [lo, hi] on x's non-NaN values from its definition (a few levels deep):
/// constants, negation, |y|, clamps written select(y > C, C, y) and
/// select(y < C, C, y) (the float sigmoid's, gelu's), products of bounded values,
/// and k y y >= 0 for k >= 0 (gelu's and gauss's x^2 / 2). The exp below leaves out
/// its clamps where these bounds show them to be no-ops.
struct Range {
  double lo = -INFINITY, hi = INFINITY;
};
Range knownRange(Value x, unsigned depth = 6) {
  if (std::optional<double> v = splatValue(x))
    return {*v, *v};
  Operation *def = x.getDefiningOp();
  if (!def || depth == 0)
    return {};
  auto range = [&](Value v) { return knownRange(v, depth - 1); };
  if (auto neg = dyn_cast<arith::NegFOp>(def)) {
    Range r = range(neg.getOperand());
    return {-r.hi, -r.lo};
  }
  if (auto abs = dyn_cast<math::AbsFOp>(def)) {
    Range r = range(abs.getOperand());
    return {0.0, std::max(std::abs(r.lo), std::abs(r.hi))};
  }
  if (auto sel = dyn_cast<arith::SelectOp>(def)) {
    auto cmp = sel.getCondition().getDefiningOp<arith::CmpFOp>();
    if (!cmp || cmp.getRhs() != sel.getTrueValue() || cmp.getLhs() != sel.getFalseValue())
      return {};
    std::optional<double> bound = splatValue(sel.getTrueValue());
    if (!bound)
      return {};
    Range r = range(sel.getFalseValue());
    if (cmp.getPredicate() == arith::CmpFPredicate::OGT)
      return {std::min(r.lo, *bound), std::min(r.hi, *bound)};
    if (cmp.getPredicate() == arith::CmpFPredicate::OLT)
      return {std::max(r.lo, *bound), std::max(r.hi, *bound)};
    return {};
  }
  if (auto mul = dyn_cast<arith::MulFOp>(def)) {
    Value a = mul.getLhs(), b = mul.getRhs();
    Range ra = range(a), rb = range(b);
    double products[] = {ra.lo * rb.lo, ra.lo * rb.hi, ra.hi * rb.lo, ra.hi * rb.hi};
    Range r{-INFINITY, INFINITY};
    if (llvm::none_of(products, [](double p) { return std::isnan(p); }))
      r = {*std::min_element(std::begin(products), std::end(products)),
           *std::max_element(std::begin(products), std::end(products))};
    // y y, or (k y) y with k >= 0: never negative.
    auto scaledCopyOf = [&](Value scaled, Value y) {
      if (scaled == y)
        return true;
      auto m = scaled.getDefiningOp<arith::MulFOp>();
      if (!m)
        return false;
      for (unsigned i = 0; i < 2; ++i)
        if (m->getOperand(1 - i) == y)
          if (std::optional<double> k = splatValue(m->getOperand(i)); k && *k >= 0)
            return true;
      return false;
    };
    if (scaledCopyOf(a, b) || scaledCopyOf(b, a))
      r.lo = std::max(r.lo, 0.0);
    return r;
  }
  return {};
}

class F32Builder {
public:
  F32Builder(OpBuilder &b, Location loc, Type type)
      : b(b), loc(loc), type(type), i32(shaped(b.getI32Type())) {}

  Value c(double v) { return constant(b.getF32FloatAttr((float)v), type); }
  Value ci(int32_t v) { return constant(b.getI32IntegerAttr(v), i32); }
  Value add(Value x, Value y) { return b.create<arith::AddFOp>(loc, x, y); }
  Value sub(Value x, Value y) { return b.create<arith::SubFOp>(loc, x, y); }
  Value mul(Value x, Value y) { return b.create<arith::MulFOp>(loc, x, y); }
  Value div(Value x, Value y) { return b.create<arith::DivFOp>(loc, x, y); }
  Value neg(Value x) { return b.create<arith::NegFOp>(loc, x); }
  Value fma(Value x, Value y, Value z) { return b.create<math::FmaOp>(loc, x, y, z); }
  /// max(x, lo) and min(x, hi) as compare-and-select: NaN x stays x, and x86 does
  /// each in one instruction (arith.maximumf needs NaN fix-ups there).
  Value atLeast(Value x, double lo) {
    return select(cmp(arith::CmpFPredicate::OLT, x, c(lo)), c(lo), x);
  }
  Value atMost(Value x, double hi) {
    return select(cmp(arith::CmpFPredicate::OGT, x, c(hi)), c(hi), x);
  }
  Value abs(Value x) { return b.create<math::AbsFOp>(loc, x); }
  Value cmp(arith::CmpFPredicate p, Value x, Value y) {
    return b.create<arith::CmpFOp>(loc, p, x, y);
  }
  Value isNaN(Value x) { return cmp(arith::CmpFPredicate::UNO, x, x); }
  Value select(Value cond, Value x, Value y) {
    return b.create<arith::SelectOp>(loc, cond, x, y);
  }
  Value bitsOf(Value x) { return b.create<arith::BitcastOp>(loc, i32, x); }
  Value floatOf(Value bits) { return b.create<arith::BitcastOp>(loc, type, bits); }

  /// 2^k for integer k in [-126, 127] (i32), built from its exponent bits.
  Value pow2(Value k) {
    Value biased = b.create<arith::AddIOp>(loc, k, ci(127));
    return floatOf(b.create<arith::ShLIOp>(loc, biased, ci(23)));
  }

  /// Horner evaluation of sum coeffs[i] r^i.
  Value poly(Value r, ArrayRef<double> coeffs) {
    Value acc = c(coeffs.back());
    for (size_t i = coeffs.size() - 1; i-- > 0;)
      acc = fma(acc, r, c(coeffs[i]));
    return acc;
  }

  /// Cody-Waite reduction: x = k ln2 + r with |r| <= ln2/2 (k as float, for |x| < 2^15).
  std::pair<Value, Value> reduce(Value x) {
    Value k = b.create<math::RoundEvenOp>(loc, mul(x, c(1.4426950408889634)));
    Value nk = neg(k);
    Value r = fma(nk, c(0.693359375), x); // ln2 high part: k * it is exact
    r = fma(nk, c(-2.12194440e-4), r);    // ln2 - 0.693359375
    return {k, r};
  }

  /// e^x 2^m, rounded once, where m is scale.ifPositive for x > 0 and
  /// scale.otherwise elsewhere. e^-110 rounds to 0 and e^89 to inf in float, as
  /// they should; x is clamped there (the upper clamp moved by m, and left out where
  /// x is known to be small enough) so that 2^k splits into two normal factors. NaN
  /// passes the clamps and every step after them, so the result is NaN.
  struct ExpScale {
    int ifPositive = 0, otherwise = 0;
  };
  Value exp(Value x) { return exp(x, ExpScale{0, 0}); }
  /// With `minus` (a value tiny against 1, such as the rounding error of x): e^(x -
  /// minus), minus subtracted from the reduced argument, where its rounding is that
  /// of a number below ln2/2.
  Value exp(Value x, ExpScale scale, Value minus = {}) {
    // -select(y < 0, -y, y) (StableMath's magnitude, kept smooth for derivatives) as
    // -|y|: the same exp argument (only a zero's sign differs), one instruction.
    if (auto negMag = x.getDefiningOp<arith::NegFOp>())
      if (auto sel = negMag.getOperand().getDefiningOp<arith::SelectOp>())
        if (auto cmp = sel.getCondition().getDefiningOp<arith::CmpFOp>())
          if (auto negY = sel.getTrueValue().getDefiningOp<arith::NegFOp>())
            if (cmp.getPredicate() == arith::CmpFPredicate::OLT &&
                cmp.getLhs() == sel.getFalseValue() && negY.getOperand() == cmp.getLhs() &&
                splatValue(cmp.getRhs()) == 0.0)
              x = neg(abs(cmp.getLhs()));
    Range known = knownRange(x);
    Value xc = known.lo >= -110.0 ? x : atLeast(x, -110.0);
    double hi = 89.0 - scale.ifPositive * 0.6931471805599453;
    if (known.hi > hi)
      xc = atMost(xc, hi);
    // m as a float (for vscalefps) or i32, chosen by the sign of x where it varies.
    auto scaleExp = [&](auto constant) -> Value {
      if (scale.ifPositive == scale.otherwise)
        return constant(scale.ifPositive);
      return select(cmp(arith::CmpFPredicate::OGT, x, c(0.0)), constant(scale.ifPositive),
                    constant(scale.otherwise));
    };
    bool scaled = scale.ifPositive || scale.otherwise;
    auto [kf, r] = reduce(xc);
    if (minus)
      r = sub(r, minus);
    // e^r, |r| <= 0.347: degree-6 near-minimax polynomial (Chebyshev fit; truncation
    // 2e-9 relative, below 0.05 ulp).
    Value p = poly(r, {1.0, 1.0000000377168674, 0.5000000047118573, 0.16666415511750649,
                       0.04166635289314982, 0.008375126639835365, 0.0013941108735823515});
    if (useScaleF()) { // p 2^k, rounded once (also into subnormals), one instruction
      if (scaled)
        kf = add(kf, scaleExp([&](int m) { return c(m); }));
      return scalef(p, kf);
    }
    Value k = b.create<arith::FPToSIOp>(loc, i32, kf);
    if (scaled)
      k = b.create<arith::AddIOp>(loc, k, scaleExp([&](int m) { return ci(m); }));
    Value k1 = b.create<arith::ShRSIOp>(loc, k, ci(1));
    Value k2 = b.create<arith::SubIOp>(loc, k, k1);
    // p 2^k1 is exact; the second product rounds once, also into subnormals.
    return mul(mul(p, pow2(k1)), pow2(k2));
  }

  Value expm1(Value x) {
    Value xc = atMost(atLeast(x, -30.0), 20.0); // below -17.4 the result is -1; NaN stays
    auto [kf, r] = reduce(xc);
    // expm1(r) = r + r t, t = r/2 + r^2/6 + ... + r^7/40320.
    Value t = mul(r, poly(r, {1.0 / 2, 1.0 / 6, 1.0 / 24, 1.0 / 120, 1.0 / 720, 1.0 / 5040,
                              1.0 / 40320}));
    Value q = fma(r, t, r);
    Value s = pow2(b.create<arith::FPToSIOp>(loc, i32, kf));
    Value y = fma(s, q, sub(s, c(1.0))); // 2^k (1 + q) - 1
    y = select(cmp(arith::CmpFPredicate::OGT, x, c(20.0)), exp(x), y);
    return select(cmp(arith::CmpFPredicate::OEQ, x, c(0.0)), x, y); // keeps -0
  }

  /// musl's log1pf (FreeBSD msun): log(1 + f) = 2 atanh(f / (2 + f)) by a
  /// degree-4 polynomial in s^2, with the rounding of 1 + x corrected.
  Value log1p(Value x) {
    Value u = add(c(1.0), x);
    Value iu = b.create<arith::AddIOp>(loc, bitsOf(u), ci(0x3f800000 - 0x3f3504f3));
    Value k = b.create<arith::SubIOp>(loc, b.create<arith::ShRSIOp>(loc, iu, ci(23)), ci(127));
    Value m = floatOf(b.create<arith::AddIOp>(
        loc, b.create<arith::AndIOp>(loc, iu, ci(0x007fffff)), ci(0x3f3504f3)));
    // The rounding error of u = 1 + x, relative to u (0 once u has no room for x).
    Value kf = b.create<arith::SIToFPOp>(loc, type, k);
    Value corr = select(cmp(arith::CmpFPredicate::OGE, kf, c(2.0)),
                        sub(c(1.0), sub(u, x)), sub(x, sub(u, c(1.0))));
    corr = select(cmp(arith::CmpFPredicate::OLT, kf, c(25.0)), div(corr, u), c(0.0));
    // Near 0 (-0.2929 < x < 0.4142) f is x itself: no reduction, no correction.
    Value small = b.create<arith::AndIOp>(loc, cmp(arith::CmpFPredicate::OLT, x, c(0.41421354)),
                                          cmp(arith::CmpFPredicate::OGT, x, c(-0.29289323)));
    Value f = select(small, x, sub(m, c(1.0)));
    Value dk = select(small, c(0.0), kf);
    Value cc = select(small, c(0.0), corr);
    Value s = div(f, add(c(2.0), f));
    Value z = mul(s, s), w = mul(z, z);
    Value t1 = mul(w, fma(w, c(0xf89e26.0p-26), c(0xccce13.0p-25)));
    Value t2 = mul(z, fma(w, c(0x91e9ee.0p-25), c(0xaaaaaa.0p-24)));
    Value rr = add(t2, t1);
    Value hfsq = mul(c(0.5), mul(f, f));
    Value y = add(mul(s, add(hfsq, rr)), fma(dk, c(9.0580006145e-06), cc));
    y = add(add(sub(y, hfsq), f), mul(dk, c(6.9313812256e-01)));
    // log1p(-1) = -inf, below -1 NaN, log1p(inf) = inf, log1p(+-0) = +-0.
    y = select(cmp(arith::CmpFPredicate::OEQ, x, c(-1.0)), c(-INFINITY), y);
    y = select(cmp(arith::CmpFPredicate::OLT, x, c(-1.0)), c(NAN), y);
    y = select(cmp(arith::CmpFPredicate::OEQ, x, c(INFINITY)), x, y);
    y = select(cmp(arith::CmpFPredicate::OEQ, x, c(0.0)), x, y);
    return select(isNaN(x), x, y);
  }

  /// tanh|x| = -t / (t + 2) with t = expm1(-2|x|) (musl's small-|x| form, exact
  /// for every |x|: it tends to 1 as t tends to -1), then x's sign.
  Value tanh(Value x) {
    Value t = expm1(mul(c(-2.0), abs(x)));
    Value y = div(neg(t), add(t, c(2.0)));
    return b.create<math::CopySignOp>(loc, y, x);
  }

private:
  /// vscalefps applies on a host with AVX-512F, to vectors of 16 floats and to
  /// wider ones (the wide column steps' vector<64xf32>) by 16-lane slices: without
  /// it the wide steps' exp took the integer path to 2^k, six instructions more a
  /// register.
  bool useScaleF() const {
    auto v = dyn_cast<VectorType>(type);
    static const bool avx512 = hostVectorBits() >= 512;
    return avx512 && v && v.getRank() == 1 && v.getDimSize(0) % 16 == 0;
  }

  /// p 2^k by vscalefps, 16 lanes at a time.
  Value scalef(Value p, Value k) {
    auto one = [&](Value pSlice, Value kSlice) {
      return b
          .create<LLVM::CallIntrinsicOp>(
              loc, pSlice.getType(), "llvm.x86.avx512.mask.scalef.ps.512",
              ValueRange{pSlice, kSlice, pSlice, // a, b, src (for masked-off lanes: none)
                         b.create<arith::ConstantOp>(loc, b.getI16IntegerAttr(-1)),
                         b.create<arith::ConstantOp>(loc, b.getI32IntegerAttr(4))}) // MXCSR
          .getResult(0);
    };
    int64_t lanes = cast<VectorType>(type).getDimSize(0);
    if (lanes == 16)
      return one(p, k);
    Value out = p;
    for (int64_t at = 0; at < lanes; at += 16) {
      auto slice = [&](Value v) {
        return b.create<vector::ExtractStridedSliceOp>(loc, v, ArrayRef<int64_t>{at},
                                                       ArrayRef<int64_t>{16}, ArrayRef<int64_t>{1});
      };
      out = b.create<vector::InsertStridedSliceOp>(loc, one(slice(p), slice(k)), out,
                                                   ArrayRef<int64_t>{at}, ArrayRef<int64_t>{1});
    }
    return out;
  }

  Type shaped(Type scalar) {
    if (auto v = dyn_cast<VectorType>(type))
      return VectorType::get(v.getShape(), scalar);
    return scalar;
  }
  Value constant(TypedAttr scalar, Type t) {
    if (auto v = dyn_cast<VectorType>(t))
      return b.create<arith::ConstantOp>(loc, DenseElementsAttr::get(v, scalar));
    return b.create<arith::ConstantOp>(loc, scalar);
  }

  OpBuilder &b;
  Location loc;
  Type type, i32;
};

bool isF32(Type t) { return getElementTypeOrSelf(t).isF32(); }

template <typename OpT>
struct Approximate : OpRewritePattern<OpT> {
  using OpRewritePattern<OpT>::OpRewritePattern;
  LogicalResult matchAndRewrite(OpT op, PatternRewriter &rewriter) const override {
    if (!isF32(op.getType()))
      return failure();
    F32Builder f(rewriter, op.getLoc(), op.getType());
    Value x = op.getOperand();
    Value y;
    if constexpr (std::is_same_v<OpT, math::ExpOp>)
      y = f.exp(x);
    else if constexpr (std::is_same_v<OpT, math::ExpM1Op>)
      y = f.expm1(x);
    else if constexpr (std::is_same_v<OpT, math::Log1pOp>)
      y = f.log1p(x);
    else
      y = f.tanh(x);
    rewriter.replaceOp(op, y);
    return success();
  }
};

/// The integer m of a constant 2^m (|m| <= 100).
std::optional<int> powerOfTwo(Value v) {
  std::optional<double> value = splatValue(v);
  if (!value || *value <= 0)
    return std::nullopt;
  int m = std::ilogb(*value);
  if (std::ldexp(1.0, m) != *value || m < -100 || m > 100)
    return std::nullopt;
  return m;
}

/// exp(x) * s (the exp used only there) as one exp, where s is a constant 2^m or
/// select(x > 0, 2^a, 2^b) (the float sigmoid's scale).
void foldScaledExps(ModuleOp module) {
  SmallVector<arith::MulFOp> muls;
  module.walk([&](arith::MulFOp mul) {
    if (isF32(mul.getType()))
      muls.push_back(mul);
  });
  for (arith::MulFOp mul : muls) {
    for (unsigned i = 0; i < 2; ++i) {
      auto exp = mul->getOperand(i).getDefiningOp<math::ExpOp>();
      Value s = mul->getOperand(1 - i);
      if (!exp || !exp->hasOneUse())
        continue;
      F32Builder::ExpScale scale;
      if (std::optional<int> m = powerOfTwo(s)) {
        scale = {*m, *m};
      } else {
        auto sel = s.getDefiningOp<arith::SelectOp>();
        auto cmp = sel ? sel.getCondition().getDefiningOp<arith::CmpFOp>() : nullptr;
        std::optional<double> zero = cmp ? splatValue(cmp.getRhs()) : std::nullopt;
        if (!cmp || cmp.getPredicate() != arith::CmpFPredicate::OGT ||
            cmp.getLhs() != exp.getOperand() || zero != 0.0)
          continue;
        std::optional<int> a = powerOfTwo(sel.getTrueValue()),
                           b = powerOfTwo(sel.getFalseValue());
        if (!a || !b)
          continue;
        scale = {*a, *b};
      }
      OpBuilder b(mul);
      F32Builder f(b, mul.getLoc(), mul.getType());
      mul.replaceAllUsesWith(f.exp(exp.getOperand(), scale));
      mul.erase();
      exp.erase();
      break;
    }
  }
}

/// fma(-e, y, e) = e (1 - y) with e = exp(x) used only there, the exp-of-a-sum
/// correction of StableMath's exact squares: one exp of x - y, y subtracted inside it
/// (an add, instead of a multiply-add after it, and one rounding fewer).
void foldExpCorrections(ModuleOp module) {
  SmallVector<math::FmaOp> fmas;
  module.walk([&](math::FmaOp fma) {
    if (isF32(fma.getType()))
      fmas.push_back(fma);
  });
  for (math::FmaOp fma : fmas) {
    auto exp = fma.getC().getDefiningOp<math::ExpOp>();
    auto neg = fma.getA().getDefiningOp<arith::NegFOp>();
    if (!exp || !neg || neg.getOperand() != exp.getResult() || !neg->hasOneUse() ||
        llvm::any_of(exp->getUsers(), [&](Operation *u) { return u != fma && u != neg; }))
      continue;
    OpBuilder b(fma);
    F32Builder f(b, fma.getLoc(), fma.getType());
    fma.replaceAllUsesWith(f.exp(exp.getOperand(), {}, fma.getB()));
    fma.erase();
    neg.erase();
    exp.erase();
  }
}

struct ApproximateMathPass : impl::ApproximateMathBase<ApproximateMathPass> {
  void runOnOperation() override {
    foldScaledExps(getOperation());
    foldExpCorrections(getOperation());
    RewritePatternSet patterns(&getContext());
    patterns.add<Approximate<math::ExpOp>, Approximate<math::ExpM1Op>,
                 Approximate<math::Log1pOp>, Approximate<math::TanhOp>>(&getContext());
    if (failed(applyPatternsAndFoldGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
} // namespace act
