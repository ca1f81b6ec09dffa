// act: constant folding and simple algebraic folds of act ops.
//
// Constants are evaluated in double with the same stable formulas act-expand emits,
// then rounded to the op's type.
#include "act/Dialect/ActOps.h"

#include "mlir/IR/Matchers.h"

#include <cmath>

using namespace mlir;
using namespace act;

namespace {
double sigmoid(double x) {
  double e = std::exp(-std::fabs(x));
  return x >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
}
double relu(double x) { return std::isnan(x) ? x : (x > 0 ? x : 0.0); }
double relu6(double x) { return std::isnan(x) ? x : std::min(relu(x), 6.0); }
double hardSigmoid(double x) { return relu6(x + 3.0) / 6.0; }

/// The op's value type's FloatAttr for `v`, or null when `operand` is not constant.
template <typename Fn>
OpFoldResult foldUnary(Attribute operand, Type type, Fn fn) {
  auto attr = dyn_cast_or_null<FloatAttr>(operand);
  if (!attr)
    return {};
  return FloatAttr::get(type, fn(attr.getValueAsDouble()));
}

/// Every operand constant: their values; otherwise empty.
std::optional<SmallVector<double>> constants(ArrayRef<Attribute> operands) {
  SmallVector<double> values;
  for (Attribute a : operands) {
    auto f = dyn_cast_or_null<FloatAttr>(a);
    if (!f)
      return std::nullopt;
    values.push_back(f.getValueAsDouble());
  }
  return values;
}

/// smooth_max over `a` with sharpness `beta`, the max subtracted for stability.
double smoothMax(ArrayRef<double> a, double beta) {
  double m = -INFINITY;
  for (double v : a)
    m = std::max(m, beta * v);
  double num = 0, den = 0;
  for (double v : a) {
    double w = std::exp(beta * v - m);
    num += v * w;
    den += w;
  }
  return num / den;
}
double logSumExp(ArrayRef<double> a, double beta) {
  double m = -INFINITY;
  for (double v : a)
    m = std::max(m, beta * v);
  double s = 0;
  for (double v : a)
    s += std::exp(beta * v - m);
  return (m + std::log(s)) / beta;
}

bool allSame(ValueRange values) {
  return llvm::all_equal(values);
}
} // namespace

OpFoldResult SigmoidOp::fold(FoldAdaptor a) {
  return foldUnary(a.getInput(), getType(), sigmoid);
}
OpFoldResult SoftplusOp::fold(FoldAdaptor a) {
  return foldUnary(a.getInput(), getType(), [](double x) {
    return std::max(x, 0.0) + std::log1p(std::exp(-std::fabs(x)));
  });
}
OpFoldResult ErfcxOp::fold(FoldAdaptor a) {
  return foldUnary(a.getInput(), getType(), [](double x) {
    if (x < 25) // exp(x^2) overflows beyond; there the asymptotic series is exact
      return std::exp(x * x) * std::erfc(x);
    double r = 1 / (x * x);
    return (1 - r / 2 + 0.75 * r * r) / (x * std::sqrt(M_PI));
  });
}
OpFoldResult TanhSoftplusOp::fold(FoldAdaptor a) {
  return foldUnary(a.getInput(), getType(), [](double x) {
    return std::tanh(std::max(x, 0.0) + std::log1p(std::exp(-std::fabs(x))));
  });
}
OpFoldResult ReluOp::fold(FoldAdaptor a) {
  // relu(relu(x)) = relu(x)
  if (getInput().getDefiningOp<ReluOp>())
    return getInput();
  return foldUnary(a.getInput(), getType(), relu);
}
OpFoldResult Relu6Op::fold(FoldAdaptor a) {
  if (getInput().getDefiningOp<Relu6Op>())
    return getInput();
  return foldUnary(a.getInput(), getType(), relu6);
}
OpFoldResult HardSigmoidOp::fold(FoldAdaptor a) {
  return foldUnary(a.getInput(), getType(), hardSigmoid);
}
OpFoldResult HardSwishOp::fold(FoldAdaptor a) {
  return foldUnary(a.getInput(), getType(),
                   [](double x) { return x * hardSigmoid(x); });
}
OpFoldResult GeluOp::fold(FoldAdaptor a) {
  return foldUnary(a.getInput(), getType(), [](double x) {
    return 0.5 * x * std::erfc(-x / std::sqrt(2.0));
  });
}
OpFoldResult GeluDerivOp::fold(FoldAdaptor a) {
  return foldUnary(a.getInput(), getType(), [](double x) {
    return 0.5 * std::erfc(-x / std::sqrt(2.0)) + x * std::exp(-0.5 * x * x) / std::sqrt(2 * M_PI);
  });
}
OpFoldResult GeluTanhOp::fold(FoldAdaptor a) {
  return foldUnary(a.getInput(), getType(), [](double x) {
    const double k = std::sqrt(2.0 / M_PI);
    return 0.5 * x * (1.0 + std::tanh(k * (x + 0.044715 * x * x * x)));
  });
}
OpFoldResult SincOp::fold(FoldAdaptor a) {
  return foldUnary(a.getInput(), getType(),
                   [](double x) { return x == 0 ? 1.0 : std::sin(x) / x; });
}
OpFoldResult GaussOp::fold(FoldAdaptor a) {
  return foldUnary(a.getInput(), getType(), [](double x) { return std::exp(-x * x); });
}
OpFoldResult SignOp::fold(FoldAdaptor a) {
  if (getInput().getDefiningOp<SignOp>())
    return getInput();
  return foldUnary(a.getInput(), getType(), [](double x) {
    return x > 0 ? 1.0 : x < 0 ? -1.0 : x; // keeps ±0 and NaN
  });
}

OpFoldResult GateOp::fold(FoldAdaptor a) {
  auto c = constants(a.getOperands());
  if (!c)
    return {};
  return FloatAttr::get(getType(), (*c)[0] * sigmoid((*c)[1]));
}
OpFoldResult HardGateOp::fold(FoldAdaptor a) {
  auto c = constants(a.getOperands());
  if (!c)
    return {};
  return FloatAttr::get(getType(), (*c)[0] * hardSigmoid((*c)[1]));
}
OpFoldResult ClampOp::fold(FoldAdaptor a) {
  auto c = constants(a.getOperands());
  if (!c)
    return {};
  double v = (*c)[0], lo = (*c)[1], hi = (*c)[2];
  if (std::isnan(v) || std::isnan(lo) || std::isnan(hi))
    return FloatAttr::get(getType(), NAN);
  return FloatAttr::get(getType(), std::min(std::max(v, lo), hi));
}

// smooth_max(a, a, ...; beta) = a and smooth_min likewise, for any beta: the weights
// sum to one. logsumexp has no such fold (it adds log(n)/beta).
OpFoldResult SmoothMaxOp::fold(FoldAdaptor a) {
  if (allSame(getInputs()))
    return getInputs().front();
  auto c = constants(a.getOperands());
  if (!c)
    return {};
  double beta = c->back();
  return FloatAttr::get(getType(), smoothMax(ArrayRef<double>(*c).drop_back(), beta));
}
OpFoldResult SmoothMinOp::fold(FoldAdaptor a) {
  if (allSame(getInputs()))
    return getInputs().front();
  auto c = constants(a.getOperands());
  if (!c)
    return {};
  double beta = c->back();
  return FloatAttr::get(getType(), smoothMax(ArrayRef<double>(*c).drop_back(), -beta));
}
OpFoldResult LogSumExpOp::fold(FoldAdaptor a) {
  auto c = constants(a.getOperands());
  if (!c)
    return {};
  double beta = c->back();
  return FloatAttr::get(getType(), logSumExp(ArrayRef<double>(*c).drop_back(), beta));
}

// safe_mul(0, b) = 0 and safe_mul(a, 1) = a; constants multiply.
OpFoldResult SafeMulOp::fold(FoldAdaptor a) {
  auto lhs = dyn_cast_or_null<FloatAttr>(a.getLhs());
  auto rhs = dyn_cast_or_null<FloatAttr>(a.getRhs());
  if (lhs && lhs.getValueAsDouble() == 0.0)
    return FloatAttr::get(getType(), 0.0);
  if (rhs && rhs.getValueAsDouble() == 1.0)
    return getLhs();
  if (lhs && lhs.getValueAsDouble() == 1.0)
    return getRhs();
  if (lhs && rhs)
    return FloatAttr::get(getType(), lhs.getValueAsDouble() * rhs.getValueAsDouble());
  return {};
}
