// Independent first derivatives of the seeds in examples/seeds.act, in long double,
// written from the closed forms (not from the compiler's rules). At kinks they follow
// the conventions of docs/derivatives.md: a comparison false at the kink picks the
// branch; a tie in max/min goes to the second operand.
#pragma once

#include "Reference.h"

namespace act_ref {

/// sigmoid'(z) = s(z) s(-z), without 1 - s.
inline LD dsigm(LD z) { return sigm(z) * sigm(-z); }

/// d/dx of smooth_max(a x, b x; beta) = (a - b) s(z) (1 + z s(-z)) + b, z = beta (a - b) x.
inline LD dSmoothMaxLinear(LD x, LD a, LD b, LD beta) {
  LD z = beta * (a - b) * x;
  LD zt = std::isinf(z) ? 0.0L : z * sigm(-z); // z s(-z) -> 0 as z -> +-inf
  return (a - b) * sigm(z) * (1 + zt) + b;
}

inline LD dSigmoidRef(LD x) { return dsigm(x); }
inline LD dHardSigmoidRef(LD x) { return (x > -3 && x < 3) ? 1.0L / 6 : 0.0L; }
inline LD dTanhRef(LD x) {
  LD c = std::cosh(x);
  return 1 / (c * c);
}
inline LD dReluRef(LD x) { return x > 0 ? 1.0L : 0.0L; }
inline LD dSoftplusRef(LD x) { return sigm(x); }
inline LD dRelu6Ref(LD x) { return (x > 0 && x < 6) ? 1.0L : 0.0L; }
inline LD dLeakyReluRef(LD x, LD alpha) { return x > 0 ? 1.0L : alpha; }
/// max(x, 0) + a min(x, 0): both ties at 0 go to the constant.
inline LD dPreluRef(LD x, LD a) { return x > 0 ? 1.0L : (x < 0 ? a : 0.0L); }
inline LD dEluRef(LD x, LD alpha) { return x > 0 ? 1.0L : alpha * std::exp(x); }
inline LD dSeluRef(LD x) { return kSeluLambda * (x > 0 ? 1.0L : kSeluAlpha * std::exp(x)); }
inline LD dSwishRef(LD x, LD beta) { return dSmoothMaxLinear(x, 1, 0, beta); }
inline LD dHardSwishRef(LD x) {
  return hardSigmoidRef(x) + ((x > -3 && x < 3) ? x / 6 : 0.0L);
}
/// x tanh(sp) with sp = softplus(x): tanh(sp) + x sech^2(sp) sigmoid(x).
inline LD dMishRef(LD x) {
  LD sp = softplusRef(x), c = std::cosh(sp);
  LD second = std::isinf(x) ? 0.0L : x * sigm(x) / (c * c);
  return std::tanh(sp) + second;
}
/// Phi(x) + x phi(x).
inline LD dGeluRef(LD x) {
  const LD pi = 3.141592653589793238462643383279502884L;
  LD phi = std::exp(-x * x / 2) / std::sqrt(2 * pi);
  LD xphi = std::isinf(x) ? 0.0L : x * phi;
  return 0.5L * std::erfc(-x / std::sqrt(2.0L)) + xphi;
}
/// x s(2u): s(2u) + x 2u' s(2u) s(-2u), u = k (x + c x^3).
inline LD dGeluTanhRef(LD x) {
  const LD pi = 3.141592653589793238462643383279502884L;
  const LD k = std::sqrt(2.0L / pi), c = 0.044715L;
  LD z = 2 * k * (x + c * x * x * x);
  LD dz = 2 * k * (1 + 3 * c * x * x);
  LD second = std::isinf(x) ? 0.0L : x * dz * dsigm(z);
  return sigm(z) + second;
}
inline LD dAconBRef(LD x, LD p, LD beta) { return dSmoothMaxLinear(x, 1, p, beta); }
inline LD dAconCRef(LD x, LD p1, LD p2, LD beta) { return dSmoothMaxLinear(x, p1, p2, beta); }
/// Inside: the segment's slope (an interior knot takes the segment on its right).
inline LD dPwlRef(LD x, const std::vector<LD> &y, LD bl, LD br, LD kl, LD kr) {
  const int n = (int)y.size() - 1;
  if (x < bl)
    return kl;
  if (x > br)
    return kr;
  LD d = (br - bl) / n;
  int i = std::max(0, std::min(n - 1, (int)std::floor((x - bl) / d)));
  return (y[(size_t)i + 1] - y[(size_t)i]) / d;
}
/// pwlRef measured from the segment's left knot, bl + i d: exact for tiny x where
/// (x - bl) / d - i loses x below the long double spacing of bl.
inline LD pwlKnotRef(LD x, const std::vector<LD> &y, LD bl, LD br, LD kl, LD kr) {
  const int n = (int)y.size() - 1;
  if (x < bl || x > br)
    return pwlRef(x, y, bl, br, kl, kr);
  LD d = (br - bl) / n;
  int i = std::max(0, std::min(n - 1, (int)std::floor((x - bl) / d)));
  return y[(size_t)i] + (y[(size_t)i + 1] - y[(size_t)i]) * ((x - (bl + i * d)) / d);
}
inline LD dFreluRef(LD x, LD t) { return x > t ? 1.0L : 0.0L; }
inline LD dMaxXSigmoidRef(LD x) { return x > sigm(x) ? 1.0L : dsigm(x); }
inline LD dCosMinusXRef(LD x) { return -std::sin(x) - 1; }
inline LD dMinXSinRef(LD x) { return x < std::sin(x) ? 1.0L : std::cos(x); }
inline LD dAtanSqMinusXRef(LD x) { return 2 * std::atan(x) / (1 + x * x) - 1; }
inline LD dXAsinhSqRef(LD x) {
  LD a = std::asinh(x);
  return a * a + 2 * x * a / std::sqrt(1 + x * x);
}

} // namespace act_ref
