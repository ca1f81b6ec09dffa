// Independent reference implementations of the activations in examples/seeds.act,
// written from the papers' formulas (not from the compiler's lowering), in long
// double. Shared by SeedTests.cpp (forward values) and GradTests.cpp (derivatives by
// central finite differences of these functions).
#pragma once

#include <algorithm>
#include <cmath>
#include <vector>

namespace act_ref {

using LD = long double;

/// Logistic sigmoid 1 / (1 + e^-z), evaluated without overflow on either side.
inline LD sigm(LD z) {
  if (z >= 0)
    return 1.0L / (1.0L + std::exp(-z));
  LD e = std::exp(z);
  return e / (1.0L + e);
}

/// softplus(z) = log(1 + e^z), stable for large |z|.
inline LD softplusRef(LD z) {
  return z > 0 ? z + std::log1p(std::exp(-z)) : std::log1p(std::exp(z));
}

inline LD relu6Ref(LD z) { return std::min<LD>(std::max<LD>(z, 0.0L), 6.0L); }

/// hard_sigmoid(x) = relu6(x + 3) / 6 (MobileNetV3).
inline LD hardSigmoidRef(LD x) { return relu6Ref(x + 3.0L) / 6.0L; }

/// ACON's smooth maximum of two terms (Ma et al., eq. for S_beta with n = 2):
/// S(a, b) = (a - b) * sigmoid(beta * (a - b)) + b.
inline LD smoothMax2(LD a, LD b, LD beta) { return (a - b) * sigm(beta * (a - b)) + b; }

/// GELU, erf form: x * Phi(x) = 0.5 * x * erfc(-x / sqrt(2)) (erfc keeps the left tail
/// accurate where 1 + erf(x/sqrt 2) would cancel).
inline LD geluRef(LD x) { return 0.5L * x * std::erfc(-x / std::sqrt(2.0L)); }

/// GELU, tanh approximation (Hendrycks & Gimpel):
/// 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), written as x * sigmoid(2u) since
/// 1 + tanh(u) = 2 sigmoid(2u), which is exact and does not cancel for negative x.
inline LD geluTanhRef(LD x) {
  const LD pi = 3.141592653589793238462643383279502884L;
  LD u = std::sqrt(2.0L / pi) * (x + 0.044715L * x * x * x);
  return x * sigm(2.0L * u);
}

/// PWLU (Zhou et al.): n = len(y) - 1 uniform segments on [bl, br]; linear
/// interpolation inside; y[0] + kl (x - bl) left of bl; y[n] + kr (x - br) right of br.
inline LD pwlRef(LD x, const std::vector<LD> &y, LD bl, LD br, LD kl, LD kr) {
  const int n = (int)y.size() - 1;
  if (x < bl)
    return y[0] + kl * (x - bl);
  if (x > br)
    return y[(size_t)n] + kr * (x - br);
  LD d = (br - bl) / n;
  LD u = (x - bl) / d;
  int i = (int)std::floor(u);
  i = std::max(0, std::min(n - 1, i));
  LD t = u - i;
  return y[(size_t)i] + t * (y[(size_t)i + 1] - y[(size_t)i]);
}

// SELU constants (Klambauer et al. 2017), to more digits than a double holds.
constexpr LD kSeluLambda = 1.0507009873554804934193349852946L;
constexpr LD kSeluAlpha = 1.6732632423543772848170429916717L;

//===----------------------------------------------------------------------===//
// The seeds, one function each (parameters as scalars at the element's position)
//===----------------------------------------------------------------------===//

inline LD reluRef(LD x) { return x > 0 ? x : 0.0L; }

/// Leaky ReLU (Maas et al.): x for x > 0, alpha x otherwise.
inline LD leakyReluRef(LD x, LD alpha) { return x > 0 ? x : alpha * x; }

/// PReLU (He et al.): per-channel slope a on the negative side.
inline LD preluRef(LD x, LD a) { return x > 0 ? x : a * x; }

/// ELU (Clevert et al.): x for x > 0, alpha (e^x - 1) otherwise.
inline LD eluRef(LD x, LD alpha) { return x > 0 ? x : alpha * std::expm1(x); }

/// SELU: lambda * (x > 0 ? x : alpha (e^x - 1)).
inline LD seluRef(LD x) { return kSeluLambda * (x > 0 ? x : kSeluAlpha * std::expm1(x)); }

/// Swish-beta (Ramachandran et al.), which ACON calls ACON-A: x * sigmoid(beta x).
inline LD swishRef(LD x, LD beta) { return x * sigm(beta * x); }

/// hard-swish (MobileNetV3): x * relu6(x + 3) / 6.
inline LD hardSwishRef(LD x) { return x * relu6Ref(x + 3.0L) / 6.0L; }

/// Mish (Misra): x * tanh(softplus(x)).
inline LD mishRef(LD x) { return x * std::tanh(softplusRef(x)); }

/// ACON-B (Ma et al.): S_beta(x, p x) = (1 - p) x sigmoid(beta (1 - p) x) + p x.
inline LD aconBRef(LD x, LD p, LD beta) {
  return (1 - p) * x * sigm(beta * (1 - p) * x) + p * x;
}

/// ACON-C (and Meta-ACON-C): (p1 - p2) x sigmoid(beta (p1 - p2) x) + p2 x.
inline LD aconCRef(LD x, LD p1, LD p2, LD beta) {
  return (p1 - p2) * x * sigm(beta * (p1 - p2) * x) + p2 * x;
}

/// FReLU (Ma et al.): max(x, t) with the funnel condition t as a second input.
inline LD freluRef(LD x, LD t) { return std::max(x, t); }

// Functions found by the Swish paper's search (Ramachandran et al., table 2).
inline LD maxXSigmoidRef(LD x) { return std::max(x, sigm(x)); }
inline LD cosMinusXRef(LD x) { return std::cos(x) - x; }
inline LD minXSinRef(LD x) { return std::min(x, std::sin(x)); }
inline LD atanSqMinusXRef(LD x) {
  LD a = std::atan(x);
  return a * a - x;
}
inline LD xAsinhSqRef(LD x) {
  LD a = std::asinh(x);
  return x * a * a;
}

} // namespace act_ref
