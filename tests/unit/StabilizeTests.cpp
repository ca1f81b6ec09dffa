// Value tests of act-stabilize: each spelling below overflows, underflows or cancels
// when compiled literally; every check fails without its rewrite (the literal value is
// in the comment) and passes with it. Derivatives are checked too: they are taken
// after stabilisation, so they come from the stable forms.
#include "act/act.h"

#include "TestSupport.h"
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <vector>

namespace {
using act_test::kOne;

template <typename T> std::pair<T, T> eval(const act::Activation &a, T x) {
  return act_test::valueAndSlope(a, x);
}

double eval2(const act::Activation &a, double x, double y) {
  double f = 0;
  const double *in[] = {&x, &y};
  a.forward(kOne, in, &f);
  return f;
}

act::Module compile(const char *src) { return act::Module::compile(src); }

bool relNear(double got, double want, double tol) {
  return std::fabs(got - want) <= tol * std::fabs(want);
}

} // namespace

TEST_CASE("stabilize: log(1 + exp(x)) is softplus", "[stabilize]") {
  act::Module m = compile("act f(x) = log(1 + exp(x))");
  const act::Activation &f = m.get("f");
  // Literal: log(inf) = inf at 100 (float) and 1000 (double); log(1 + 4e-44) = 0 at -100.
  CHECK(eval<double>(f, 1000.0).first == 1000.0);
  CHECK(eval<float>(f, 100.0f).first == 100.0f);
  CHECK(relNear(eval<double>(f, -100.0).first, 3.720075976020836e-44, 1e-14));
  CHECK(eval<double>(f, 1000.0).second == 1.0);       // literal: inf / inf = NaN
  CHECK(eval<double>(f, -1000.0).second == 0.0);
  CHECK(relNear(eval<double>(f, -100.0).second, 3.720075976020836e-44, 1e-14));
  // Also spelled log1p(exp(x)): log1p(inf) at 1000.
  act::Module m2 = compile("act g(x) = log1p(exp(x))");
  CHECK(eval<double>(m2.get("g"), 1000.0).first == 1000.0);
}

TEST_CASE("stabilize: log(sigmoid(x)) is -softplus(-x)", "[stabilize]") {
  act::Module m = compile("act f(x) = log(sigmoid(x))");
  const act::Activation &f = m.get("f");
  CHECK(eval<double>(f, -1000.0).first == -1000.0); // literal: log(0) = -inf
  CHECK(eval<double>(f, -1000.0).second == 1.0);    // literal: inf
  // Literal: log(1 - 4e-44) = 0.
  CHECK(relNear(eval<double>(f, 100.0).first, -3.720075976020836e-44, 1e-14));
  CHECK(eval<float>(f, -200.0f).first == -200.0f);
}

TEST_CASE("stabilize: exp(a) / (exp(a) + exp(b)) is sigmoid(a - b)", "[stabilize]") {
  act::Module m = compile("act f(a, b) = exp(a) / (exp(a) + exp(b))\n"
                          "act g(a, b) = exp(a) / (exp(b) + exp(a))");
  // Literal: inf / inf = NaN.
  CHECK(relNear(eval2(m.get("f"), 1000, 999), 0.7310585786300049, 1e-15));
  CHECK(relNear(eval2(m.get("g"), 1000, 999), 0.7310585786300049, 1e-15));
  CHECK(relNear(eval2(m.get("f"), -1000, -1001), 0.7310585786300049, 1e-15)); // 0 / 0
}

TEST_CASE("stabilize: 1 / (1 + exp(-x)) is sigmoid(x), v / (1 + exp(-x)) a gate",
          "[stabilize]") {
  act::Module m = compile("act f(x) = 1 / (1 + exp(-x))\n"
                          "act g(x) = exp(x) / (1 + exp(x))\n"
                          "act swish(x) = x / (1 + exp(-x))\n"
                          "act h(x) = 1 - sigmoid(x)");
  // Literal: 1 / inf = 0 where sigmoid(-710) is a denormal 4.5e-309.
  CHECK(relNear(eval<double>(m.get("f"), -710.0).first, 4.47628622567513e-309, 1e-6));
  CHECK(eval<double>(m.get("f"), -710.0).second > 0); // literal: inf / inf
  CHECK(eval<double>(m.get("g"), 1000.0).first == 1.0); // literal: inf / inf
  // Literal: -inf / inf = NaN; the gate saturates to 0.
  double inf = std::numeric_limits<double>::infinity();
  CHECK(eval<double>(m.get("swish"), -inf).first == 0.0);
  auto [f, d] = eval<double>(m.get("swish"), -800.0);
  CHECK(f == 0.0);
  CHECK(d == 0.0); // literal derivative: inf / inf = NaN
  // Literal: 1 - 1 = 0 where the answer is 4.2e-18.
  CHECK(relNear(eval<double>(m.get("h"), 40.0).first, 4.248354255291589e-18, 1e-14));
}

TEST_CASE("stabilize: exp(x) - 1 is expm1(x)", "[stabilize]") {
  act::Module m = compile("act f(x) = exp(x) - 1\nact g(x) = 1 - exp(x)");
  // Literal: 1.000000082740371e-10 (8e-8 relative error).
  CHECK(relNear(eval<double>(m.get("f"), 1e-10).first, 1.00000000005e-10, 1e-15));
  CHECK(relNear(eval<double>(m.get("g"), 1e-10).first, -1.00000000005e-10, 1e-15));
  CHECK(relNear(eval<float>(m.get("f"), 1e-5f).first, 1.0000050000166667e-05, 1e-7));
}

TEST_CASE("stabilize: log(1 + x) is log1p(x)", "[stabilize]") {
  act::Module m = compile("act f(x) = log(1 + x)");
  // Literal: 1.000000082690371e-10.
  CHECK(relNear(eval<double>(m.get("f"), 1e-10).first, 9.9999999995e-11, 1e-15));
  CHECK(relNear(eval<float>(m.get("f"), 1e-6f).first, 9.999995000003334e-07, 1e-7));
}

TEST_CASE("stabilize: log(exp(a) + exp(b)) is logsumexp", "[stabilize]") {
  act::Module m = compile("act f(a, b) = log(exp(a) + exp(b))");
  CHECK(relNear(eval2(m.get("f"), 1000, 1000), 1000.6931471805599, 1e-15)); // literal: inf
  CHECK(relNear(eval2(m.get("f"), -1000, -1000), -999.3068528194401, 1e-15)); // -inf
}

TEST_CASE("stabilize: fragile spellings inside compositions", "[stabilize]") {
  // Parameters are multiplied in before the pass: softplus(beta x) / beta.
  act::Module m = compile("act sp(x; beta = 2.0) = log(1 + exp(beta * x)) / beta\n"
                          "act use(x) = sp(x; beta = 4.0) - 1");
  CHECK(eval<double>(m.get("sp"), 500.0).first == 500.0);
  CHECK(eval<double>(m.get("use"), 500.0).first == 499.0);
  CHECK(eval<double>(m.get("use"), 500.0).second == 1.0);
}

TEST_CASE("stabilize: 1 + sin(x) near sin(x) = -1, also in derivative bodies",
          "[stabilize]") {
  // x = -pi/2 + 1e-5: 1 + sin(x) = 1 - cos(1e-5) = 5e-11; the literal sum keeps
  // only the rounding of sin(x) (2e-6 relative error).
  const double x = -M_PI / 2 + 1e-5, want = 4.99999999995833e-11;
  act::Module m = compile("act f(x) = 1 + sin(x)\nact g(x) = cos(x) - x");
  CHECK(relNear(eval<double>(m.get("f"), x).first, want, 1e-9));
  // g' = -sin(x) - 1, which autodiff builds as a sum of adjoints.
  CHECK(relNear(eval<double>(m.get("g"), x).second, -want, 1e-9));
  CHECK(relNear(eval<float>(m.get("g"), -39.27f).second,
                -(1 + std::sin((double)-39.27f)), 1e-6));
}

TEST_CASE("stabilize: tanh spelled with exponentials, softplus(x) - x", "[stabilize]") {
  act::Module m = compile("act t(x) = (exp(x) - exp(-x)) / (exp(x) + exp(-x))\n"
                          "act tb(x; b = 2.0) = (exp(b * x) - exp(-(b * x))) / "
                          "(exp(-(b * x)) + exp(b * x))\n"
                          "act q(x) = softplus(x) - x");
  CHECK(eval<double>(m.get("t"), 1000.0).first == 1.0);   // literal: inf / inf
  CHECK(eval<double>(m.get("t"), -1000.0).first == -1.0);
  CHECK(eval<float>(m.get("tb"), 50.0f).first == 1.0f);
  CHECK(eval<double>(m.get("t"), 1000.0).second == 0.0);
  // Literal: 100 - 100 = 0 where the answer is 3.7e-44.
  CHECK(relNear(eval<double>(m.get("q"), 100.0).first, 3.720075976020836e-44, 1e-14));
}
