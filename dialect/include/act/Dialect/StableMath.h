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

/// scale * erfcx(z), erfcx(z) = exp(z^2) erfc(z) for z >= 0 (z = +inf gives 0), for
/// `scale` a power of two. Double: 2 / (1 + 2z) times a 26-term Chebyshev series in
/// t = (z - K) / (z + K), relative error ~1e-16. `singlePrecision`: t Q(t) with
/// t = 1 / (1 + z/2) and Q of degree 8 (4.4e-8 relative, valid where exp(-z^2) is
/// a float: z <= 11.5).
mlir::Value erfcxSeries(ScalarBuilder &a, mlir::Value z, bool singlePrecision = false,
                        double scale = 1);

/// Phi(-|x|) = erfc(|x| / sqrt 2) / 2, the normal tail, without cancellation:
/// exp(-x^2 / 2) erfcx(|x| / sqrt 2) / 2.
mlir::Value normalTail(ScalarBuilder &a, mlir::Value x);

/// gelu(x) = x Phi(x): x * tail for x < 0, x * (1 - tail) otherwise.
/// `singlePrecision`: x clamped to [-16, 16] in place of the inf * 0 guards.
mlir::Value gelu(ScalarBuilder &a, mlir::Value x, bool singlePrecision = false);

/// tanh(softplus(z)) (Mish) from u = exp(-|z|) with one division, and its
/// derivative (1 - tanh^2) sigmoid(z) sharing that exp and division.
mlir::Value tanhSoftplus(ScalarBuilder &a, mlir::Value z, bool singlePrecision = false);
mlir::Value tanhSoftplusDerivative(ScalarBuilder &a, mlir::Value z);

/// gelu'(x) = Phi(x) + x phi(x) = q for x < 0, 1 - q otherwise, where
/// q = gelu'(-|x|) = exp(-x^2/2) (erfcx(z) / 2 - |x| / sqrt(2 pi)), z = |x| / sqrt 2.
/// `singlePrecision`: |x| clamped to 14.8 in place of the inf * 0 guards (as gelu).
mlir::Value geluDerivative(ScalarBuilder &a, mlir::Value x, bool singlePrecision = false);

/// 2u for gelu_tanh: 2 sqrt(2/pi) (x + 0.044715 x^3); 0.5 (1 + tanh(u)) = sigmoid(2u).
mlir::Value geluTanhArg(ScalarBuilder &a, mlir::Value x);

} // namespace act
