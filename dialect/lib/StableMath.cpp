// act: accurate building blocks for tails (see StableMath.h).
#include "act/Dialect/StableMath.h"

#include <algorithm>
#include <array>
#include <cmath>

using namespace mlir;

namespace act {

namespace {
using P = arith::CmpFPredicate;

Value fma(ScalarBuilder &a, Value x, Value y, Value z) {
  return a.b.create<math::FmaOp>(a.loc, x, y, z);
}

// erfcx(z) (1 + 2z) / 2 as a Chebyshev series in t = (z - K) / (z + K) on [0, inf),
// K = 3.75 (the mapping of Schonfelder, "Chebyshev expansions for the error and
// related functions", Math. Comp. 1978). Coefficients computed for act with 40-digit
// arithmetic (Chebyshev-Gauss quadrature, 200 nodes); the truncated tail is < 2e-18.
constexpr double kErfcxK = 3.75;
constexpr double kErfcxCheb[] = {
    0.5887894672837009,     -0.002295027290323239,  -0.04212456668325896,
    0.029604969999095947,   -0.013329334217652877,  0.004537498835352633,
    -0.001206581770208804,  0.0002453879182629043,  -3.4584866512506035e-05,
    2.069513993036505e-06,  3.870191533099245e-07,  -1.0943200524617198e-07,
    5.382499732835455e-09,  2.2609799056091433e-09, -3.8772001044156754e-10,
    -3.159044170443342e-11, 1.434397505465335e-11,  9.727934272888673e-14,
    -4.82734837421672e-13,  1.62627407407437e-14,   1.6739059741434028e-14,
    -9.322814402096565e-16, -6.253975265344324e-16, 3.709117628312022e-17,
    2.5340744523980558e-17, -1.1185283297179982e-18,
};
// Float kernels: erfcx(z) = t Q(t), t = 1 / (1 + z / 2), with Q of degree 8 fitted
// for act to the minimax relative error (4.4e-8; Lawson-weighted least squares
// against 40-digit erfc on z in [0, 11.5], docs/fits/erfcx_float.py). Past 11.5 the
// polynomial is extrapolated (finite, positive): every use multiplies erfcx(z) by
// exp(-z^2), which is below the smallest float from z = 10.05 on.
constexpr double kErfcxFloatP = 0.5;
/// float gelu and gelu' clamp |x| here: Phi(-14.8) = 7e-50 and phi(14.8) are 0 in float.
constexpr double kGeluFloatClamp = 14.8;
constexpr double kErfcxFloat[] = {
    0.28208467658831954,  0.2824059353381636,   0.2428805845597756,
    0.20357059811958522,  -0.02871464195914454, 0.2810987118278816,
    -0.48984819393183493, 0.2858529313616266,   -0.059330645753860545,
};
} // namespace

// exp(-s (hi + lo)) = exp(-s hi) exp(-s lo) = E (1 - s lo) + O(lo^2), lo = fma(x, x, -hi)
// exactly; where E is 0 (x^2 huge or infinite, lo possibly inf/NaN) the result is 0.
Value expNegSquare(ScalarBuilder &a, Value x, double scale) {
  Value hi = a.mul(x, x);
  Value lo = fma(a, x, x, a.neg(hi));
  Value e = a.exp(a.mul(a.c(-scale), hi));
  Value r = fma(a, a.neg(e), a.mul(a.c(scale), lo), e);
  return a.select(a.cmp(P::OEQ, e, a.c(0)), a.c(0), r);
}

// Clenshaw: b_k = fma(2t, b_{k+1}, c_k - b_{k+2}); S = fma(t, b_1, c_0 - b_2). The
// subtraction does not wait for b_{k+1}, so each step adds one FMA to the chain.
// t = 1 - 2K / (z + K) reaches 1 (not NaN) at z = inf, where 2 / (1 + 2z) = 0.
// erfcx = 2S / (1 + 2z) is computed as S / (0.5 + z): the same rounded value (the
// factor 2 is exact), two additions fewer, and no overflow of 2z near FLT_MAX.
//
// Float kernels use kErfcxFloat instead: one division (t) and 8 FMAs, against two
// divisions and 11 FMAs for the series' first 12 terms; z = inf gives t = 0 and Q(0)
// finite, so erfcx = 0.
/// scale * erfcx(zPerU * u) for float kernels; `scale` a power of two, so the scaled
/// coefficients round alike. t takes u in one FMA: no rounding of z itself.
static Value erfcxFloat(ScalarBuilder &a, Value u, double zPerU, double scale) {
  Value t = a.div(a.c(1), fma(a, u, a.c(zPerU * kErfcxFloatP), a.c(1)));
  Value q = a.c(scale * std::end(kErfcxFloat)[-1]);
  for (size_t k = std::size(kErfcxFloat) - 1; k-- > 0;)
    q = fma(a, q, t, a.c(scale * kErfcxFloat[k]));
  return a.mul(t, q);
}

/// scale * u * erfcx(zPerU * u) for float kernels as s Q(1 - k s), s = u t = u / (1 + k u),
/// k = zPerU p: the polynomial in s has Q's values, and the product u t is the
/// division itself (one multiply fewer than u * erfcxFloat).
static Value timesErfcxFloat(ScalarBuilder &a, Value u, double zPerU, double scale) {
  const double k = zPerU * kErfcxFloatP;
  // Q(1 - k s) = sum_j m_j s^j, expanded in double: row holds (1 - k s)^i.
  constexpr size_t n = std::size(kErfcxFloat);
  std::array<double, n> m{}, row{};
  row[0] = 1;
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j <= i; ++j)
      m[j] += kErfcxFloat[i] * row[j];
    for (size_t j = std::min(i + 1, n - 1); j > 0; --j)
      row[j] -= k * row[j - 1];
  }
  Value s = a.div(u, fma(a, u, a.c(k), a.c(1)));
  Value q = a.c(scale * m.back());
  for (size_t j = m.size() - 1; j-- > 0;)
    q = fma(a, q, s, a.c(scale * m[j]));
  return a.mul(s, q);
}

Value erfcxSeries(ScalarBuilder &a, Value z, bool singlePrecision, double scale) {
  if (singlePrecision)
    return erfcxFloat(a, z, 1, scale);
  Value t = a.sub(a.c(1), a.div(a.c(2 * kErfcxK), a.add(z, a.c(kErfcxK))));
  Value twoT = a.add(t, t);
  Value b1 = a.c(0), b2 = a.c(0);
  size_t terms = std::size(kErfcxCheb);
  for (size_t k = terms - 1; k >= 1; --k) {
    Value b0 = fma(a, twoT, b1, a.sub(a.c(kErfcxCheb[k]), b2));
    b2 = b1;
    b1 = b0;
  }
  Value s = fma(a, t, b1, a.sub(a.c(kErfcxCheb[0]), b2));
  return a.mul(a.c(scale), a.div(s, a.add(a.c(0.5), z)));
}

/// |x| as select(x < 0, -x, x): smooth on each side, so a derivative taken through it
/// (second derivatives of gelu) is right at x = 0, where abs' would be sign(0) = 0.
static Value magnitude(ScalarBuilder &a, Value x) {
  return a.select(a.cmp(P::OLT, x, a.c(0)), a.neg(x), x);
}

/// act.erfcx: expanded by act-expand (erfcxSeries) as precisely as the kernels need.
static Value erfcx(ScalarBuilder &a, Value z) { return a.b.create<ErfcxOp>(a.loc, z); }

namespace {
/// tanh(softplus(z)) = N / D with u = e^-|z| (all terms positive, no cancellation):
/// z >= 0: (1 + 2u) / (1 + 2u + 2u^2); z < 0: u(u + 2) / (u(u + 2) + 2).
struct TanhSoftplusParts {
  Value pos, u, num, den, r; ///< r = 1 / D
};
TanhSoftplusParts tanhSoftplusParts(ScalarBuilder &a, Value z) {
  Value pos = a.cmp(P::OGE, z, a.c(0));
  Value u = a.exp(a.neg(magnitude(a, z)));
  Value twoU = a.add(u, u);
  Value num = a.select(pos, a.add(a.c(1), twoU), a.mul(u, a.add(u, a.c(2))));
  Value den = a.add(num, a.select(pos, a.mul(twoU, u), a.c(2)));
  return {pos, u, num, den, a.div(a.c(1), den)};
}
} // namespace

// N/D as N r corrected by one Newton step: as exact as a division, and the
// derivative below shares the one division. Float kernels skip the Newton step:
// N r is within their budget.
Value tanhSoftplus(ScalarBuilder &a, Value z, bool singlePrecision) {
  TanhSoftplusParts t = tanhSoftplusParts(a, z);
  if (singlePrecision)
    return a.mul(t.num, t.r);
  Value q = a.mul(t.num, t.r);
  return fma(a, fma(a, a.neg(q), t.den, t.num), t.r, q);
}

// (1 - T^2) sigmoid(z) = 4 u (1 + u) [z >= 0 ? u : 1] / D^2.
Value tanhSoftplusDerivative(ScalarBuilder &a, Value z) {
  TanhSoftplusParts t = tanhSoftplusParts(a, z);
  Value k = a.mul(a.mul(a.c(4), t.u), a.add(a.c(1), t.u));
  return a.mul(a.mul(a.mul(k, a.select(t.pos, t.u, a.c(1))), t.r), t.r);
}

Value normalTail(ScalarBuilder &a, Value x) {
  Value z = a.mul(magnitude(a, x), a.c(M_SQRT1_2));
  return a.mul(a.mul(a.c(0.5), erfcx(a, z)), expNegSquare(a, x, 0.5));
}

// The exponential factor is multiplied in last: where the result is subnormal only
// that product rounds to the subnormal grid.
//
// Float kernels clamp |x| to a <= 14.8 instead of guarding inf * 0: Phi(-14.8) =
// 7e-50 is 0 in float, so with u = a Phi(-a), gelu(x) = max(x, 0) - u is x above
// 14.8 and -0 below -14.8, and every intermediate is finite (exp's argument lies in
// [-110, 0], so it needs no clamps either). A NaN x makes a and u NaN. x^2 / 2 splits
// as hi + lo from (a / 2) a exactly (halving is exact); exp(-hi) (1 - lo) becomes one
// exp of -hi - lo (act-approximate-math).
Value gelu(ScalarBuilder &a, Value x, bool singlePrecision) {
  if (singlePrecision) {
    Value ax = a.abs(x);
    Value ac = a.select(a.cmp(P::OGT, ax, a.c(kGeluFloatClamp)), a.c(kGeluFloatClamp), ax);
    Value halfAc = a.mul(a.c(0.5), ac);
    Value hi = a.mul(halfAc, ac);
    Value lo = fma(a, halfAc, ac, a.neg(hi));
    Value e = a.exp(a.neg(hi));
    Value u = a.mul(timesErfcxFloat(a, ac, M_SQRT1_2, 0.5), fma(a, a.neg(e), lo, e));
    // max(x, 0) as a select: one instruction (a NaN x makes u NaN already). Zeros
    // give +0 (x = -0 too: u is +0 there; -0 would cost an instruction).
    return a.sub(a.select(a.cmp(P::OGT, x, a.c(0)), x, a.c(0)), u);
  }
  Value z = a.mul(magnitude(a, x), a.c(M_SQRT1_2));
  Value h = a.mul(a.c(0.5), erfcx(a, z));
  Value e = expNegSquare(a, x, 0.5);
  // h = erfcx(|x| / sqrt 2) / 2 lies in [0, 1/2] and is NaN only where x is, so the
  // inf * 0 rule of x h needs one compare: h == 0 (x = -inf).
  Value xh = a.zeroWhere0(h, a.mul(x, h));
  Value left = a.mul(xh, e);
  Value right = a.mul(x, a.sub(a.c(1), a.mul(h, e)));
  return a.select(a.cmp(P::OLT, x, a.c(0)), left, right);
}

// Float kernels: with a = min(|x|, 14.8) (gelu's clamp), q = exp(-a^2/2) (erfcx(a/sqrt2)/2
// - a/sqrt(2 pi)) is 0 beyond the clamp and every intermediate is finite; the
// exp's correction folds into the exp (act-approximate-math).
Value geluDerivative(ScalarBuilder &a, Value x, bool singlePrecision) {
  if (singlePrecision) {
    Value ax = a.abs(x);
    Value ac = a.select(a.cmp(P::OGT, ax, a.c(kGeluFloatClamp)), a.c(kGeluFloatClamp), ax);
    Value halfAc = a.mul(a.c(0.5), ac);
    Value hi = a.mul(halfAc, ac);
    Value lo = fma(a, halfAc, ac, a.neg(hi));
    Value e = a.exp(a.neg(hi));
    Value bracket = fma(a, ac, a.c(-0.5 * M_2_SQRTPI * M_SQRT1_2),
                        erfcxFloat(a, ac, M_SQRT1_2, 0.5));
    Value q = a.mul(bracket, fma(a, a.neg(e), lo, e));
    return a.select(a.cmp(P::OLT, x, a.c(0)), q, a.sub(a.c(1), q));
  }
  Value ax = magnitude(a, x);
  Value r = erfcx(a, a.mul(ax, a.c(M_SQRT1_2)));
  Value bracket = a.sub(a.mul(a.c(0.5), r), a.mul(ax, a.c(0.5 * M_2_SQRTPI * M_SQRT1_2)));
  Value q = a.gateMul(expNegSquare(a, x, 0.5), bracket);
  return a.select(a.cmp(P::OLT, x, a.c(0)), q, a.sub(a.c(1), q));
}

Value geluTanhArg(ScalarBuilder &a, Value x) {
  const double k = std::sqrt(2.0 / M_PI), c = 0.044715;
  Value x3 = a.mul(a.mul(x, x), x);
  return a.mul(a.c(2 * k), a.add(x, a.mul(a.c(c), x3)));
}

} // namespace act
