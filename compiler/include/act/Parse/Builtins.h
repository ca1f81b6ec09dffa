// act: the table of builtin functions. The parser/Sema check calls against it, MLIRGen
// lowers each entry, and docs/language.md is checked against it by a test.
#pragma once

#include <string_view>

namespace act {

struct Builtin {
  std::string_view name;
  int minArgs;      ///< positional arguments before ';'
  int maxArgs;      ///< -1: any number >= minArgs
  int trailingArgs; ///< positional arguments after ';' (smooth_max's beta, pwl's 5)
  std::string_view signature; ///< as shown in help and docs
  std::string_view summary;
};

inline constexpr Builtin kBuiltins[] = {
    {"exp", 1, 1, 0, "exp(x)", "e^x"},
    {"expm1", 1, 1, 0, "expm1(x)", "e^x - 1, accurate near 0"},
    {"log", 1, 1, 0, "log(x)", "natural logarithm"},
    {"log1p", 1, 1, 0, "log1p(x)", "log(1 + x), accurate near 0"},
    {"sqrt", 1, 1, 0, "sqrt(x)", "square root"},
    {"abs", 1, 1, 0, "abs(x)", "|x|"},
    {"sign", 1, 1, 0, "sign(x)", "-1, 0 or 1 (sign(0) = 0)"},
    {"sin", 1, 1, 0, "sin(x)", "sine"},
    {"cos", 1, 1, 0, "cos(x)", "cosine"},
    {"tan", 1, 1, 0, "tan(x)", "tangent"},
    {"tanh", 1, 1, 0, "tanh(x)", "hyperbolic tangent"},
    {"sinh", 1, 1, 0, "sinh(x)", "hyperbolic sine"},
    {"cosh", 1, 1, 0, "cosh(x)", "hyperbolic cosine"},
    {"asinh", 1, 1, 0, "asinh(x)", "inverse hyperbolic sine"},
    {"atan", 1, 1, 0, "atan(x)", "arc tangent"},
    {"erf", 1, 1, 0, "erf(x)", "error function"},
    {"sigmoid", 1, 1, 0, "sigmoid(x)", "1 / (1 + e^-x)"},
    {"softplus", 1, 1, 0, "softplus(x)", "log(1 + e^x)"},
    {"relu", 1, 1, 0, "relu(x)", "max(x, 0)"},
    {"relu6", 1, 1, 0, "relu6(x)", "min(max(x, 0), 6)"},
    {"hard_sigmoid", 1, 1, 0, "hard_sigmoid(x)", "relu6(x + 3) / 6"},
    {"hard_swish", 1, 1, 0, "hard_swish(x)", "x * relu6(x + 3) / 6"},
    {"gelu", 1, 1, 0, "gelu(x)", "x * Phi(x), the erf form"},
    {"gelu_tanh", 1, 1, 0, "gelu_tanh(x)",
     "0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))"},
    {"sinc", 1, 1, 0, "sinc(x)", "sin(x) / x, sinc(0) = 1"},
    {"gauss", 1, 1, 0, "gauss(x)", "e^(-x^2)"},
    {"pow", 2, 2, 0, "pow(a, b)", "a^b"},
    {"min", 2, -1, 0, "min(a, b, ...)", "smallest argument (NaN propagates)"},
    {"max", 2, -1, 0, "max(a, b, ...)", "largest argument (NaN propagates)"},
    {"clamp", 3, 3, 0, "clamp(v, lo, hi)", "min(max(v, lo), hi)"},
    {"select", 3, 3, 0, "select(cond, a, b)", "a where cond holds, else b"},
    {"smooth_max", 2, -1, 1, "smooth_max(a1, ..., an; beta)",
     "sum(ai e^(beta ai)) / sum(e^(beta ai))"},
    {"smooth_min", 2, -1, 1, "smooth_min(a1, ..., an; beta)",
     "smooth_max(a1, ..., an; -beta)"},
    {"logsumexp", 2, -1, 1, "logsumexp(a1, ..., an; beta)",
     "log(sum(e^(beta ai))) / beta"},
    {"gate", 2, 2, 0, "gate(v, g)", "v * sigmoid(g)"},
    {"hard_gate", 2, 2, 0, "hard_gate(v, g)", "v * hard_sigmoid(g)"},
    {"pwl", 1, 1, 5, "pwl(x; y, bl, br, kl, kr)",
     "piecewise linear: len(y)-1 uniform segments on [bl, br], slopes kl, kr outside"},
};

inline const Builtin *findBuiltin(std::string_view name) {
  for (const Builtin &b : kBuiltins)
    if (b.name == name)
      return &b;
  return nullptr;
}

} // namespace act
