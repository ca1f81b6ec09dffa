// Stable derivative rules and tails (docs/numerics.md): values where the literal
// formula overflows, rounds to 0 or cancels. Expected values are from closed forms
// (40-digit arithmetic where noted).
#include "act/act.h"

#include "TestSupport.h"
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <vector>

namespace {
using act_test::kOne;

template <typename T> std::pair<T, T> fd(const act::Activation &a, T x) {
  return act_test::valueAndSlope(a, x);
}

/// dx and the scalar parameter gradients at x (dy = 1), float64.
std::vector<double> grads(const act::Activation &a, double x) {
  double dx = 0;
  std::vector<double> dp(a.params().size());
  std::vector<double *> dpp;
  for (double &v : dp)
    dpp.push_back(&v);
  const double *in[] = {&x};
  double dy = 1;
  double *din[] = {&dx};
  a.backward(kOne, in, &dy, din, dpp.data());
  dp.insert(dp.begin(), dx);
  return dp;
}

double sig(double z) { return z >= 0 ? 1 / (1 + std::exp(-z)) : std::exp(z) / (1 + std::exp(z)); }

bool rel(double got, double want, double tol) {
  return std::fabs(got - want) <= tol * std::fabs(want);
}

} // namespace

TEST_CASE("numerics: sigmoid' and tanh' keep their tails", "[numerics]") {
  act::Module m = act::Module::compile("act s(x) = sigmoid(x)\nact t(x) = tanh(x)\n"
                                       "act sp(x) = softplus(x)");
  // s (1 - s) rounds to 0 from x = 37 (double) and 17 (float).
  CHECK(rel(fd<double>(m.get("s"), 40.0).second, 4.248354255291589e-18, 1e-14));
  CHECK(rel(fd<float>(m.get("s"), 20.0f).second, sig(20) * sig(-20), 1e-6));
  CHECK(fd<double>(m.get("s"), 1000.0).second == 0.0);
  CHECK(fd<double>(m.get("s"), -1000.0).second == 0.0);
  // 1 - tanh^2 rounds to 0 from |x| = 19 (double) and 9 (float).
  CHECK(rel(fd<double>(m.get("t"), 20.0).second, 1.6993417021166355e-17, 1e-14));
  CHECK(rel(fd<double>(m.get("t"), -20.0).second, 1.6993417021166355e-17, 1e-14));
  CHECK(rel(fd<float>(m.get("t"), 10.0f).second, 4 * sig(20) * sig(-20), 1e-6));
  CHECK(fd<double>(m.get("sp"), 1000.0).second == 1.0);
  CHECK(fd<double>(m.get("sp"), -1000.0).second == 0.0);
}

TEST_CASE("numerics: smooth maximum and logsumexp gradients at large beta * x",
          "[numerics]") {
  act::Module m = act::Module::compile(
      "act sm(x; beta = 1.0) = smooth_max(x, 0; beta)\n"
      "act sm3(x; beta = 1.0) = smooth_max(x, 0, -x; beta)\n"
      "act lse(x; beta = 1.0) = logsumexp(x, 0; beta)");
  // d/dbeta = d^2 s t: the old sum of w (a - f)^2 cancelled in a - f.
  CHECK(rel(grads(m.get("sm"), 30)[1], 900 * sig(30) * sig(-30), 1e-12));
  CHECK(rel(grads(m.get("sm"), 30)[0], sig(30) * (1 + 30 * sig(-30)), 1e-15));
  // d/dbeta of logsumexp = -H(w) / beta^2, not (mean - L) / beta.
  double h = sig(30) * std::log1p(std::exp(-30.0)) + sig(-30) * (30 + std::log1p(std::exp(-30.0)));
  CHECK(rel(grads(m.get("lse"), 30)[1], -h, 1e-12));
  // beta * x = +-1e4: every gradient finite, the limits exact.
  for (const char *fn : {"sm", "sm3", "lse"}) {
    const act::Activation &a = m.get(fn);
    for (double x : {-1.0, 1.0}) {
      double beta = 1e4;
      double dx = 0, db = 0, dy = 1;
      const double *in[] = {&x};
      const double *pp[] = {&beta};
      double *din[] = {&dx};
      double *dpp[] = {&db};
      a.backward(kOne, in, &dy, din, dpp, pp);
      INFO(fn << " at x = " << x);
      CHECK(std::isfinite(dx));
      CHECK(std::isfinite(db));
      CHECK(std::fabs(db) < 1e-12);
    }
  }
}

TEST_CASE("numerics: gelu keeps its left tail (erfc form)", "[numerics]") {
  act::Module m = act::Module::compile("act g(x) = gelu(x)");
  const act::Activation &g = m.get("g");
  // 0.5 x (1 + erf(x / sqrt 2)) is 0 below x = -5.9 (float) and -8.3 (double).
  CHECK(rel(fd<double>(g, -10.0).first, -7.6198530241605261e-23, 1e-14));
  CHECK(rel(fd<double>(g, -10.0).second, -7.6184000964648141e-22, 1e-14));
  CHECK(rel(fd<double>(g, -30.0).first, -1.4720141781444561e-196, 1e-13));
  CHECK(rel(fd<double>(g, -30.0).second, -4.4160316907084944e-195, 1e-13));
  CHECK(rel(fd<float>(g, -10.0f).first, -7.6198530241605261e-23, 1e-6));
  CHECK(rel(fd<float>(g, -10.0f).second, -7.6184000964648141e-22, 1e-6));
  CHECK(rel(fd<float>(g, -5.0f).first, -1.4332578593959696e-6, 1e-6));
  CHECK(rel(fd<float>(g, -5.0f).second, -7.1469460017922946e-6, 1e-6));
  double inf = std::numeric_limits<double>::infinity();
  CHECK(fd<double>(g, -inf).first == 0.0);
  CHECK(fd<double>(g, -inf).second == 0.0);
  CHECK(fd<double>(g, inf).second == 1.0);
  // gelu_tanh as x sigmoid(2u): 1 + tanh(u) is 0 below x = -7 (float).
  act::Module t = act::Module::compile("act g(x) = gelu_tanh(x)");
  CHECK(rel(fd<double>(t.get("g"), -10.0).first, -1.204092348209806e-37, 1e-12));
  CHECK(fd<float>(t.get("g"), -10.0f).first < 0);
}

TEST_CASE("numerics: exp(-x^2) and erf' keep relative accuracy in float", "[numerics]") {
  act::Module m = act::Module::compile("act g(x) = gauss(x)\nact e(x) = erf(x)");
  for (int i = 0; i <= 130; ++i) { // up to 9.3: exp(-x^2) stays a normal float
    float x = 8.0f + 0.01f * (float)i; // x*x rounds: exp(-x*x) would be 1e-6 off
    double xd = x;
    INFO("x = " << x);
    CHECK(rel(fd<float>(m.get("g"), x).first, std::exp(-xd * xd), 1e-6));
    CHECK(rel(fd<float>(m.get("e"), x).second, 2 / std::sqrt(M_PI) * std::exp(-xd * xd), 1e-6));
  }
}

TEST_CASE("numerics: asinh' and atan' do not overflow in x^2", "[numerics]") {
  act::Module m = act::Module::compile("act s(x) = asinh(x)\nact t(x) = atan(x)");
  CHECK(rel(fd<float>(m.get("s"), 1e30f).second, 1e-30, 1e-6));
  CHECK(rel(fd<float>(m.get("s"), -1e30f).second, 1e-30, 1e-6));
  CHECK(rel(fd<double>(m.get("s"), 1e200).second, 1e-200, 1e-15));
  // 1e-40 is a float subnormal: within half its spacing.
  CHECK(std::fabs(fd<float>(m.get("t"), 1e20f).second - 1e-40) < 1e-45);
  CHECK(rel(fd<double>(m.get("t"), 1e150).second, 1e-300, 1e-15));
  CHECK(rel(fd<double>(m.get("t"), 3.0).second, 0.1, 1e-15));
}

TEST_CASE("numerics: pwl interpolates from the segment's knot", "[numerics]") {
  // A ReLU-like table: inside the segments the result is x itself (t - i carried the
  // rounding of x - bl, 16 ulp at 0.13 in float).
  act::Module m = act::Module::compile(
      "act p(x; y[17] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0.375, 0.75, 1.125, 1.5, 1.875, 2.25, "
      "2.625, 3], bl = -3.0, br = 3.0, kl = 0.0, kr = 1.0) = pwl(x; y, bl, br, kl, kr)");
  for (float x : {0.13f, 0.001f, 1e-6f, 2.9f}) {
    INFO("x = " << x);
    CHECK(rel(fd<float>(m.get("p"), x).first, x, 2.4e-7));
  }
}

TEST_CASE("numerics: sinc' near 0 and three-operand smooth_max gradients", "[numerics]") {
  act::Module m = act::Module::compile(
      "act s(x) = sinc(x)\nact sm3(x; beta = 1.0) = smooth_max(x, 0, 0.5 * x; beta)");
  // (cos x - sinc x) / x cancels entirely near 0: sinc'(x) = -x/3 + x^3/30 - ...
  for (double x : {1e-3, -1e-5, 0.7, 1.4}) {
    long double lx = x;
    long double want = (std::cos(lx) - std::sin(lx) / lx) / lx; // 64-bit mantissa
    if (std::fabs(x) < 1e-2)
      want = -lx / 3 + lx * lx * lx / 30;
    INFO("x = " << x);
    CHECK(rel(fd<double>(m.get("s"), x).second, (double)want, 1e-12));
  }
  CHECK(fd<double>(m.get("s"), 0.0).second == 0.0);
  // a_i - f from operand differences: at x = 12 the weight of x dominates.
  for (double x : {12.0, 30.0}) {
    long double a[3] = {(long double)x, 0, 0.5L * x}, da[3] = {1, 0, 0.5L}, w[3], sum = 0;
    for (int i = 0; i < 3; ++i)
      sum += (w[i] = std::exp(a[i] - a[0]));
    long double f = 0, d = 0;
    for (int i = 0; i < 3; ++i)
      f += a[i] * (w[i] /= sum);
    for (int i = 0; i < 3; ++i) {
      long double diff = 0;
      for (int j = 0; j < 3; ++j)
        diff += w[j] * (a[i] - a[j]);
      d += w[i] * (1 + diff) * da[i];
    }
    INFO("x = " << x);
    CHECK(rel(fd<double>(m.get("sm3"), x).second, (double)d, 1e-14));
  }
}

TEST_CASE("numerics: sqrt(x*x + 1) does not overflow (hypot)", "[numerics]") {
  act::Module m = act::Module::compile("act h(x) = sqrt(x * x + 1)\n"
                                       "act h2(x, y) = sqrt(x * x + y * y)");
  CHECK(rel(fd<float>(m.get("h"), 1e30f).first, 1e30, 1e-6)); // literal: inf
  CHECK(fd<float>(m.get("h"), 1e30f).second == 1.0f);         // literal: 0
  CHECK(fd<float>(m.get("h"), -1e30f).second == -1.0f);
  CHECK(rel(fd<double>(m.get("h"), 1.0).second, std::sqrt(0.5), 1e-15)); // |u| = |v|
  CHECK(fd<double>(m.get("h"), 0.0).first == 1.0);
  double x = 3e200, y = 4e200, out = 0;
  const double *in[] = {&x, &y};
  m.get("h2").forward(kOne, in, &out);
  CHECK(rel(out, 5e200, 1e-15));
  x = 0, y = 0;
  m.get("h2").forward(kOne, in, &out);
  CHECK(out == 0.0);
}

TEST_CASE("numerics: sin, cos, tan, sinh, cosh, asinh, atan, log, erf and pow stay "
          "within 4 ulp over the float range (vector libm calls)",
          "[numerics]") {
  // On x86-64 these run as glibc libmvec's vector variants (one call a vector, not
  // one libm call a lane); the budget is the accuracy command's, max(4 ulp, 1e-6
  // relative), at every kind of input: a dense grid, huge arguments (sin and cos
  // need their full range reduction there), subnormals, signed zeros, infinities and
  // NaN, against long double references.
  struct Fn {
    const char *name;
    long double (*ref)(long double);
  };
  const Fn fns[] = {{"sin", [](long double x) { return std::sin(x); }},
                    {"cos", [](long double x) { return std::cos(x); }},
                    {"tan", [](long double x) { return std::tan(x); }},
                    {"sinh", [](long double x) { return std::sinh(x); }},
                    {"cosh", [](long double x) { return std::cosh(x); }},
                    {"asinh", [](long double x) { return std::asinh(x); }},
                    {"atan", [](long double x) { return std::atan(x); }},
                    {"log", [](long double x) { return std::log(x); }},
                    {"erf", [](long double x) { return std::erf(x); }},
                    {"pow", [](long double x) { return std::pow(x, 1.75L); }}};
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> x;
  for (int i = 0; i <= 4000; ++i)
    x.push_back(-100.0f + 0.05f * (float)i + 0.00137f);
  for (float v : {0.0f, -0.0f, 1e-40f, -1e-40f, 1e-30f, 1e-5f, 0.5f, 1.0f, 88.0f, 89.5f, 1e4f,
                  -1e4f, 1e10f, -3e12f, 1e30f, 3e38f, -3e38f, inf, -inf,
                  std::numeric_limits<float>::quiet_NaN()})
    x.push_back(v);
  while (x.size() % 16 != 3) // a masked remainder too
    x.push_back(0.25f);
  for (const Fn &fn : fns) {
    INFO(fn.name);
    std::string body = std::string(fn.name) == "pow" ? "pow(x, p)" : std::string(fn.name) + "(x)";
    act::Module m = act::Module::compile("act f(x; p = 1.75) = " + body);
    // float32 within max(4 ulp, 1e-6 relative); float64 (8 doubles a vector call
    // with AVX-512) within 4 ulp of a double.
    auto check = [&](auto zero, long double relative) {
      using T = decltype(zero);
      const T tInf = std::numeric_limits<T>::infinity();
      std::vector<T> xt(x.begin(), x.end()), y(x.size());
      const T *in[] = {xt.data()};
      m.get("f").forward({1, 1, (int64_t)xt.size(), act::Layout::NCS}, in, y.data());
      int bad = 0;
      for (size_t i = 0; i < xt.size(); ++i) {
        long double want = fn.ref((long double)xt[i]);
        T w = (T)want;
        bool ok;
        if (std::isnan(w))
          ok = std::isnan(y[i]);
        else if (std::isinf(w))
          ok = y[i] == w;
        else {
          long double ulp = std::max<long double>(std::nextafter(std::fabs(w), tInf) - std::fabs(w),
                                                  std::numeric_limits<T>::denorm_min());
          ok = std::fabs((long double)y[i] - want) <= std::max(4 * ulp, relative * std::fabs(want));
        }
        if (!ok && bad++ < 5) {
          INFO((sizeof(T) == 4 ? "float32" : "float64") << ": x = " << xt[i] << " got " << y[i]
                                                        << " want " << (double)want);
          CHECK(ok);
        }
      }
      CHECK(bad == 0);
    };
    check(0.0f, 1e-6L);
    check(0.0, 0.0L);
  }
}
