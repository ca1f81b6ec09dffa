// Second derivatives (act-autodiff applied to its own output) against closed forms.
#include "act/act.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

namespace {

double sig(double z) { return 1.0 / (1.0 + std::exp(-z)); }

/// f, f', f'' at `xs` through Activation::derivatives, in float64.
std::vector<std::vector<double>> derivs(const act::Activation &a, const std::vector<double> &xs,
                                        std::vector<std::vector<double>> params, unsigned order = 2) {
  act::TensorShape shape{1, 1, (int64_t)xs.size(), act::Layout::NCS};
  std::vector<std::vector<double>> out(order + 1, std::vector<double>(xs.size()));
  std::vector<double *> outs;
  for (auto &o : out)
    outs.push_back(o.data());
  std::vector<const double *> pp;
  for (auto &p : params)
    pp.push_back(p.data());
  const double *in[] = {xs.data()};
  a.derivatives(order, shape, in, outs.data(), pp.empty() ? nullptr : pp.data());
  return out;
}

std::vector<double> grid() {
  std::vector<double> xs;
  for (int i = 0; i <= 400; ++i)
    xs.push_back(-8 + 0.04 * i + 1e-3);
  for (double x : {-30.0, -1e-3, 0.0, 1e-3, 30.0}) // exact 0: adjoints vanish there
    xs.push_back(x);
  return xs;
}

void near(double got, double want, double tol, double x, const char *what) {
  INFO(what << " at x = " << x << ": got " << got << ", want " << want);
  CHECK(std::fabs(got - want) <= tol * std::max(1.0, std::fabs(want)));
}

} // namespace

TEST_CASE("swish second derivative matches 2 b s(1-s) + b^2 x s(1-s)(1-2s)", "[grad2]") {
  act::Module m = act::Module::compile("act swish(x; beta = 1.0) = x * sigmoid(beta * x)");
  for (double beta : {1.0, 0.5, 2.5}) {
    std::vector<double> xs = grid();
    auto d = derivs(m.get("swish"), xs, {{beta}});
    for (size_t i = 0; i < xs.size(); ++i) {
      double x = xs[i], s = sig(beta * x);
      near(d[0][i], x * s, 1e-13, x, "f");
      near(d[1][i], s + beta * x * s * (1 - s), 1e-12, x, "f'");
      near(d[2][i], 2 * beta * s * (1 - s) + beta * beta * x * s * (1 - s) * (1 - 2 * s),
           1e-12, x, "f''");
    }
  }
}

TEST_CASE("gelu second derivative matches phi(x) (2 - x^2)", "[grad2]") {
  act::Module m = act::Module::compile("act g(x) = gelu(x)");
  std::vector<double> xs = grid();
  auto d = derivs(m.get("g"), xs, {});
  for (size_t i = 0; i < xs.size(); ++i) {
    double x = xs[i];
    double phi = std::exp(-0.5 * x * x) / std::sqrt(2 * M_PI);
    double cdf = 0.5 * std::erfc(-x / std::sqrt(2.0));
    near(d[1][i], cdf + x * phi, 1e-12, x, "f'");
    near(d[2][i], phi * (2 - x * x), 1e-12, x, "f''");
  }
}

TEST_CASE("acon_c second derivative matches its closed form", "[grad2]") {
  act::Module m = act::Module::compile(
      "act acon_c(x; p1[C] = 1.0, p2[C] = 0.0, beta[C] = 1.0) = "
      "smooth_max(p1 * x, p2 * x; beta)");
  const double p1 = 1.3, p2 = -0.4, beta = 1.7, dp = p1 - p2;
  std::vector<double> xs = grid();
  auto d = derivs(m.get("acon_c"), xs, {{p1}, {p2}, {beta}});
  for (size_t i = 0; i < xs.size(); ++i) {
    double x = xs[i], u = dp * x, s = sig(beta * u);
    // f = u s(beta u) + p2 x with u = (p1 - p2) x
    near(d[0][i], u * s + p2 * x, 1e-12, x, "f");
    near(d[1][i], dp * (s + beta * u * s * (1 - s)) + p2, 1e-12, x, "f'");
    near(d[2][i],
         dp * dp * (2 * beta * s * (1 - s) + beta * beta * u * s * (1 - s) * (1 - 2 * s)),
         1e-11, x, "f''");
  }
}

TEST_CASE("third derivative of sin is -cos, and order 1 agrees with backward", "[grad2]") {
  act::Module m = act::Module::compile("act s(x) = sin(x)");
  std::vector<double> xs = grid();
  auto d3 = derivs(m.get("s"), xs, {}, 3);
  auto d1 = derivs(m.get("s"), xs, {}, 1);
  for (size_t i = 0; i < xs.size(); ++i) {
    near(d3[3][i], -std::cos(xs[i]), 1e-13, xs[i], "f'''");
    near(d1[1][i], std::cos(xs[i]), 1e-13, xs[i], "f' (order 1)");
  }
}
