// The front end's test helpers: the language design's examples and parse shortcuts.
#pragma once

#include "act/Parse/AST.h"
#include "act/Parse/Parser.h"

#include <string>
#include <vector>

namespace act_test {

// The examples of the language design (LANGUAGE.md), verbatim.
inline const char *kExamples = R"(# Swish-beta, which ACON calls ACON-A
act swish(x; beta = 1.0) = x * sigmoid(beta * x)

# ACON-C: per-channel learnable p1, p2, beta
act acon_c(x; p1[C] = 1.0, p2[C] = 0.0, beta[C] = 1.0) = smooth_max(p1 * x, p2 * x; beta)

# Meta-ACON-C: beta is made per (sample, channel) by the host network and passed in
act meta_acon_c(x; p1[C] = 1.0, p2[C] = 0.0, beta[N,C]) = smooth_max(p1 * x, p2 * x; beta)

# PWLU: 16 uniform segments on [bl, br], learnable knot values, edge slopes
act pwlu(x; y[C,17], bl[C] = -3.0, br[C] = 3.0, kl[C] = 0.0, kr[C] = 1.0) = pwl(x; y, bl, br, kl, kr)

# FReLU: the funnel t = BN(depthwise conv(x)) arrives as a second elementwise input
act frelu(x, t) = max(x, t)

# Leaky ReLU with a fixed (non-learnable) slope
act leaky(x; const alpha = 0.01) = select(x > 0, x, alpha * x)

# let-bindings and composition of earlier definitions
act mish(x) = let sp = softplus(x) in x * tanh(sp)
act mix(x; a = 0.5) = a * swish(x) + (1 - a) * mish(x)
)";

struct ParseResult {
  act::ast::File file;
  std::vector<act::Diagnostic> diags;
};

inline ParseResult parse(const std::string &src, const std::string &name = "test.act") {
  ParseResult r;
  r.file = act::parse::parseAndCheck(src, name, r.diags);
  return r;
}

inline std::vector<act::Diagnostic> errorsOf(const std::string &src) { return parse(src).diags; }

/// The one error message `src` produces ("" when none, "<n errors>" when several).
inline std::string onlyError(const std::string &src) {
  auto d = errorsOf(src);
  if (d.empty())
    return "";
  if (d.size() > 1) {
    std::string all = "<" + std::to_string(d.size()) + " errors>";
    for (auto &x : d)
      all += "\n" + x.str();
    return all;
  }
  return d[0].message;
}

} // namespace act_test
