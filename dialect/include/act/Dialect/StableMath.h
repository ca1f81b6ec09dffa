// act: building blocks for expansions and derivative rules that must stay accurate
// in the tails (docs/numerics.md). Each builds arith/math ops, so the same formula
// serves float32 and float64 kernels and can itself be differentiated.
#pragma once

#include "act/Dialect/ScalarBuilder.h"

namespace act {

/// exp(-scale * x^2) for scale a power of two, with x^2 split exactly into
/// hi + lo by an FMA: exp(-scale hi) (1 - scale lo). Accurate to a few ulp where
/// exp(-x*x) would carry the rounding error of x*x (relative 2 x^2 ulp).
mlir::Value expNegSquare(ScalarBuilder &a, mlir::Value x, double scale);

/// erfcx(z) = exp(z^2) erfc(z) for z >= 0 (z = +inf gives 0): 2 / (1 + 2z) times a
/// Chebyshev series in t = (z - K) / (z + K). All 26 terms: relative error ~1e-16;
/// `singlePrecision`: the first 14 (dropped terms < 5e-10, 0.01 ulp of float).
mlir::Value erfcxSeries(ScalarBuilder &a, mlir::Value z, bool singlePrecision = false);

/// Phi(-|x|) = erfc(|x| / sqrt 2) / 2, the normal tail, without cancellation:
/// exp(-x^2 / 2) erfcx(|x| / sqrt 2) / 2.
mlir::Value normalTail(ScalarBuilder &a, mlir::Value x);

/// gelu(x) = x Phi(x): x * tail for x < 0, x * (1 - tail) otherwise.
mlir::Value gelu(ScalarBuilder &a, mlir::Value x);

/// tanh(softplus(z)) (Mish) from u = exp(-|z|) with one division, and its
/// derivative (1 - tanh^2) sigmoid(z) sharing that exp and division.
mlir::Value tanhSoftplus(ScalarBuilder &a, mlir::Value z, bool singlePrecision = false);
mlir::Value tanhSoftplusDerivative(ScalarBuilder &a, mlir::Value z);

/// gelu'(x) = Phi(x) + x phi(x) = q for x < 0, 1 - q otherwise, where
/// q = gelu'(-|x|) = exp(-x^2/2) (erfcx(z) / 2 - |x| / sqrt(2 pi)), z = |x| / sqrt 2.
mlir::Value geluDerivative(ScalarBuilder &a, mlir::Value x);

/// 2u for gelu_tanh: 2 sqrt(2/pi) (x + 0.044715 x^3); 0.5 (1 + tanh(u)) = sigmoid(2u).
mlir::Value geluTanhArg(ScalarBuilder &a, mlir::Value x);

} // namespace act
