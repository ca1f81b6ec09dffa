// Derivative edge cases of Activation::backward (the gradcheck of every seed is in
// GradTests.cpp): NaN must not leak out of untaken select branches; one kink
// convention for every spelling of relu; PWL knots; bitwise determinism of the
// reductions; accuracy of a scalar reduction over 2^24 float32 elements; error cases
// and const parameters.
#include "TestSupport.h"
#include "act/act.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

using act::DType;
using act::Layout;
using act::TensorShape;

namespace {
using act_test::fmt;
using act_test::layoutName;
using act_test::sameBits;
using act_test::seeds;

//===----------------------------------------------------------------------===//
// Small one-element-type helpers for the edge cases
//===----------------------------------------------------------------------===//

template <typename T> struct Grad1 {
  std::vector<T> y, dx;
};

/// y and dx (dy = 1) of a one-input, parameter-free (or defaulted) activation at `xs`,
/// through the fused call; the plain call must give the same dx.
template <typename T> Grad1<T> grad1(const act::Activation &a, const std::vector<double> &xs) {
  TensorShape sh{1, 1, (int64_t)xs.size(), Layout::NCS};
  std::vector<T> x(xs.begin(), xs.end()), dy(xs.size(), (T)1);
  Grad1<T> r;
  r.y.assign(xs.size(), std::numeric_limits<T>::quiet_NaN());
  r.dx.assign(xs.size(), std::numeric_limits<T>::quiet_NaN());
  const T *in[1] = {x.data()};
  T *din[1] = {r.dx.data()};
  a.backward(sh, in, dy.data(), din, nullptr, nullptr, r.y.data());
  std::vector<T> dx2(xs.size(), std::numeric_limits<T>::quiet_NaN());
  T *din2[1] = {dx2.data()};
  a.backward(sh, in, dy.data(), din2, nullptr, nullptr);
  CHECK(sameBits(r.dx, dx2));
  return r;
}

const act::Module &edgeModule() {
  static const act::Module m = act::Module::compile(R"(
act sel_exp(x) = select(x > 0, x, exp(x) - 1)
act sel_log(x) = select(x < 0, 0, x * log(x))
act max_x0(x) = max(x, 0)
act max_0x(x) = max(0, x)
act relu_x(x) = relu(x)
act sel_x0(x) = select(x > 0, x, 0)
act abs_x(x) = abs(x)
act min_x0(x) = min(x, 0)
act min_0x(x) = min(0, x)
act sel_ge(x) = select(x >= 0, x, 0)
act relu6_x(x) = relu6(x)
act hsig_x(x) = hard_sigmoid(x)
act clamp_x(x) = clamp(x, -1, 2)
act pwl5(x; y[5] = [0, 1, 3, 2, 5], bl = -2.0, br = 2.0, kl = 0.5, kr = 2.0)
  = pwl(x; y, bl, br, kl, kr)
)",
                                                    "edge.act");
  return m;
}

template <typename T> void edgeCases() {
  const act::Module &m = edgeModule();

  SECTION("select(x > 0, x, exp(x) - 1): the untaken exp branch does not leak") {
    Grad1<T> g = grad1<T>(m.get("sel_exp"), {1000.0, -1000.0, 2.0, -2.0});
    CHECK(g.y[0] == (T)1000);
    CHECK(g.dx[0] == (T)1); // not NaN (0 * inf)
    CHECK(g.y[1] == (T)-1);
    CHECK(g.dx[1] == (T)0); // exp(-1000) underflows to 0
    CHECK(g.dx[2] == (T)1);
    CHECK(std::fabs((double)g.dx[3] - std::exp(-2.0)) <= 1e-6 * std::exp(-2.0));
  }
  SECTION("select(x < 0, 0, x * log(x)): log of a negative in the untaken branch") {
    Grad1<T> g = grad1<T>(m.get("sel_log"), {-5.0, 2.0});
    CHECK(g.y[0] == (T)0);
    CHECK(g.dx[0] == (T)0); // not NaN
    CHECK(std::fabs((double)g.dx[1] - (std::log(2.0) + 1)) <= 1e-6 * (std::log(2.0) + 1));
  }
  SECTION("one kink convention for every spelling of relu: 0 at 0") {
    for (const char *fn : {"max_x0", "max_0x", "relu_x", "sel_x0"}) {
      INFO(fn);
      Grad1<T> g = grad1<T>(m.get(fn), {0.0, 1e-3, -1e-3});
      CHECK(g.y[0] == (T)0);
      CHECK(g.dx[0] == (T)0);
      CHECK(g.y[1] == (T)1e-3);
      CHECK(g.dx[1] == (T)1);
      CHECK(g.y[2] == (T)0);
      CHECK(g.dx[2] == (T)0);
    }
    // The seed relu_ too.
    Grad1<T> g = grad1<T>(seeds().get("relu_"), {0.0, 1e-3});
    CHECK(g.dx[0] == (T)0);
    CHECK(g.dx[1] == (T)1);
  }
  SECTION("abs: 0 at 0") {
    Grad1<T> g = grad1<T>(m.get("abs_x"), {0.0, 1.5, -1.5});
    CHECK(g.y[0] == (T)0);
    CHECK(g.dx[0] == (T)0);
    CHECK(g.dx[1] == (T)1);
    CHECK(g.dx[2] == (T)-1);
  }
  SECTION("min ties go to the second operand; >= holds at 0") {
    for (const char *fn : {"min_x0", "min_0x"}) {
      INFO(fn);
      Grad1<T> g = grad1<T>(m.get(fn), {0.0, -1e-3, 1e-3});
      CHECK(g.dx[0] == (T)0);
      CHECK(g.dx[1] == (T)1);
      CHECK(g.dx[2] == (T)0);
    }
    Grad1<T> g = grad1<T>(m.get("sel_ge"), {0.0, -1e-3});
    CHECK(g.dx[0] == (T)1);
    CHECK(g.dx[1] == (T)0);
  }
  SECTION("relu6, hard_sigmoid, clamp: the flat side at their kinks") {
    Grad1<T> r6 = grad1<T>(m.get("relu6_x"), {0.0, 6.0, 3.0});
    CHECK(r6.dx[0] == (T)0);
    CHECK(r6.dx[1] == (T)0);
    CHECK(r6.dx[2] == (T)1);
    Grad1<T> hs = grad1<T>(m.get("hsig_x"), {-3.0, 3.0, 0.0});
    CHECK(hs.dx[0] == (T)0);
    CHECK(hs.dx[1] == (T)0);
    CHECK(hs.dx[2] == (T)(1.0 / 6.0));
    Grad1<T> cl = grad1<T>(m.get("clamp_x"), {-1.0, 2.0, 0.5});
    CHECK(cl.dx[0] == (T)0);
    CHECK(cl.dx[1] == (T)0);
    CHECK(cl.dx[2] == (T)1);
  }
  SECTION("swish at -inf: a closed gate gives 0 and derivative 0; NaN stays NaN") {
    const double inf = std::numeric_limits<double>::infinity();
    Grad1<T> g = grad1<T>(seeds().get("swish"), {-inf, std::nan("")});
    CHECK(g.y[0] == (T)0);
    CHECK(g.dx[0] == (T)0);
    CHECK(std::isnan(g.y[1]));
    CHECK(std::isnan(g.dx[1]));
  }
  SECTION("pwl at a knot: the segment on its right; at bl and br the inside segment") {
    // Knots at -2 (bl), -1, 0, 1, 2 (br); slopes: kl = 0.5 | 1 | 2 | -1 | 3 | kr = 2.
    // docs/derivatives.md: at x == bl and x == br the inside segment, at an interior knot
    // the segment on its right. (At bl the inside segment is the one on the right; at br
    // it is the one on the left, slope 3, not kr = 2.)
    const std::vector<double> xs = {-2.0, -1.0, 0.0, 1.0, 2.0};
    const std::vector<double> ys = {0, 1, 3, 2, 5};
    const std::vector<double> slope = {1, 2, -1, 3, 3};
    Grad1<T> g = grad1<T>(m.get("pwl5"), xs);
    for (size_t i = 0; i < xs.size(); ++i) {
      INFO("knot x = " << xs[i] << ": y " << fmt((double)g.y[i]) << ", dx "
                       << fmt((double)g.dx[i]) << ", expected slope " << slope[i]);
      CHECK(g.y[i] == (T)ys[i]);
      CHECK(g.dx[i] == (T)slope[i]);
    }
    // Inside segments and outside, for contrast.
    Grad1<T> h = grad1<T>(m.get("pwl5"), {-3.0, -1.5, -0.5, 0.5, 1.5, 3.0});
    const std::vector<double> inside = {0.5, 1, 2, -1, 3, 2};
    for (size_t i = 0; i < inside.size(); ++i)
      CHECK(h.dx[i] == (T)inside[i]);
  }
}

} // namespace

//===----------------------------------------------------------------------===//
// 3. NaN leaks, kink conventions, PWL knots
//===----------------------------------------------------------------------===//

TEST_CASE("grad: untaken branches, kinks and knots (f64)", "[grad]") { edgeCases<double>(); }
TEST_CASE("grad: untaken branches, kinks and knots (f32)", "[grad]") { edgeCases<float>(); }

//===----------------------------------------------------------------------===//
// 4. Determinism
//===----------------------------------------------------------------------===//

TEST_CASE("grad: parameter gradients are bitwise reproducible (acon_c, f32)", "[grad]") {
  const act::Activation &a = seeds().get("acon_c");
  for (Layout layout : {Layout::NCS, Layout::NSC}) {
    INFO(layoutName(layout));
    TensorShape sh{4, 8, 4096, layout};
    const size_t count = (size_t)sh.numElements();
    std::mt19937_64 rng(42);
    std::uniform_real_distribution<float> ux(-6.0f, 6.0f), ud(-1.0f, 1.0f), up(-1.5f, 1.5f);
    std::vector<float> x(count), dy(count);
    for (size_t i = 0; i < count; ++i) {
      x[i] = ux(rng);
      dy[i] = ud(rng);
    }
    std::vector<std::vector<float>> params(3, std::vector<float>(8));
    for (auto &p : params)
      for (float &v : p)
        v = up(rng);
    const float *pp[3] = {params[0].data(), params[1].data(), params[2].data()};
    const float *in[1] = {x.data()};

    auto run = [&](std::vector<float> &dx, std::vector<std::vector<float>> &dp) {
      dx.assign(count, 0.0f);
      dp.assign(3, std::vector<float>(8, 0.0f));
      float *din[1] = {dx.data()};
      float *dpp[3] = {dp[0].data(), dp[1].data(), dp[2].data()};
      a.backward(sh, in, dy.data(), din, dpp, pp);
    };
    std::vector<float> dx1, dx2;
    std::vector<std::vector<float>> dp1, dp2;
    run(dx1, dp1);
    run(dx2, dp2);
    CHECK(sameBits(dx1, dx2));
    for (size_t k = 0; k < 3; ++k) {
      INFO("parameter " << a.params()[k].name);
      CHECK(std::memcmp(dp1[k].data(), dp2[k].data(), 8 * sizeof(float)) == 0);
      for (float v : dp1[k])
        CHECK(std::isfinite(v));
    }
  }
}

//===----------------------------------------------------------------------===//
// 5. Accuracy of a large scalar reduction
//===----------------------------------------------------------------------===//

TEST_CASE("grad: swish beta gradient over 2^24 float32 elements", "[grad]") {
  const act::Activation &a = seeds().get("swish");
  TensorShape sh{16, 16, 65536, Layout::NCS};
  const size_t count = (size_t)sh.numElements();
  REQUIRE(count == 16777216u);
  std::vector<float> x(count), dy(count, 1.0f), dx(count);
  for (size_t i = 0; i < count; ++i)
    x[i] = (float)(-4.0 + 8.0 * (double)((i * 7919u) % 65521u) / 65520.0);
  const float beta = 1.3f;
  const float *params[1] = {&beta};
  const float *in[1] = {x.data()};
  float *din[1] = {dx.data()};
  float dbeta = std::numeric_limits<float>::quiet_NaN();
  float *dparams[1] = {&dbeta};
  a.backward(sh, in, dy.data(), din, dparams, params);

  // d/dbeta x sigmoid(beta x) = x^2 s (1 - s), s = sigmoid(beta x), in float64.
  double expected = 0;
  const double b = (double)beta;
  for (size_t i = 0; i < count; ++i) {
    double xi = (double)x[i];
    double s = 1.0 / (1.0 + std::exp(-b * xi));
    expected += xi * xi * s * (1.0 - s);
  }
  INFO("expected " << fmt(expected) << " got " << fmt((double)dbeta) << " rel err "
                   << fmt(std::fabs((double)dbeta - expected) / expected));
  CHECK(std::fabs((double)dbeta - expected) <= 1e-5 * std::fabs(expected));
}

//===----------------------------------------------------------------------===//
// 6. Errors, const parameters
//===----------------------------------------------------------------------===//

TEST_CASE("grad: backward errors", "[grad]") {
  TensorShape sh{1, 2, 3, Layout::NCS};
  std::vector<double> x(6, 0.5), t(6, 0.25), dy(6, 1.0), dx(6), dt(6);
  const double *in[2] = {x.data(), t.data()};

  const act::Activation &swish = seeds().get("swish");
  {
    INFO("dinputs itself null");
    CHECK_THROWS_AS(swish.backward(sh, in, dy.data(), nullptr, nullptr), act::Error);
  }
  {
    INFO("dinputs[0] null");
    double *din[1] = {nullptr};
    CHECK_THROWS_AS(swish.backward(sh, in, dy.data(), din, nullptr), act::Error);
  }
  {
    INFO("frelu: dinputs[1] (dt) null");
    double *din[2] = {dx.data(), nullptr};
    CHECK_THROWS_AS(seeds().get("frelu").backward(sh, in, dy.data(), din, nullptr),
                    act::Error);
  }
  {
    INFO("dy null");
    double *din[1] = {dx.data()};
    CHECK_THROWS_AS(swish.backward(sh, in, nullptr, din, nullptr), act::Error);
  }
  const act::Activation &meta = seeds().get("meta_acon_c");
  double *din[1] = {dx.data()};
  {
    INFO("meta_acon_c: beta[N,C] has no initial value, params null");
    CHECK_THROWS_AS(meta.backward(sh, in, dy.data(), din, nullptr, nullptr), act::Error);
  }
  {
    INFO("meta_acon_c: beta[N,C] has no initial value, its entry null");
    const double *params[3] = {nullptr, nullptr, nullptr};
    CHECK_THROWS_AS(meta.backward(sh, in, dy.data(), din, nullptr, params), act::Error);
  }
  {
    INFO("the same through the DType overload, f32");
    std::vector<float> xf(6, 0.5f), dyf(6, 1.0f), dxf(6);
    const void *inf[1] = {xf.data()};
    void *dinf[1] = {dxf.data()};
    CHECK_THROWS_AS(meta.backward(DType::F32, sh, inf, dyf.data(), dinf, nullptr, nullptr),
                    act::Error);
    void *dinNull[1] = {nullptr};
    CHECK_THROWS_AS(
        swish.backward(DType::F32, sh, inf, dyf.data(), dinNull, nullptr, nullptr),
        act::Error);
  }
  {
    INFO("with beta passed, it works");
    std::vector<double> beta(2, 1.0);
    const double *params[3] = {nullptr, nullptr, beta.data()};
    CHECK_NOTHROW(meta.backward(sh, in, dy.data(), din, nullptr, params));
  }
}

TEST_CASE("grad: const parameters get no gradient; dparams may be null", "[grad]") {
  TensorShape sh{1, 1, 4, Layout::NCS};
  std::vector<double> x = {-2.0, -0.5, 0.5, 2.0}, dy(4, 1.0);
  const double *in[1] = {x.data()};
  for (const char *fn : {"leaky_relu", "elu"}) {
    INFO(fn);
    const act::Activation &a = seeds().get(fn);
    REQUIRE(a.params().size() == 1);
    REQUIRE(a.params()[0].isConst);
    std::vector<double> dx1(4), dx2(4), dx3(4);
    double *din1[1] = {dx1.data()}, *din2[1] = {dx2.data()}, *din3[1] = {dx3.data()};
    double *dpNull[1] = {nullptr};
    CHECK_NOTHROW(a.backward(sh, in, dy.data(), din1, dpNull));
    // A buffer passed for a const parameter is ignored: left as it was.
    double sentinel = 12345.0;
    double *dpGiven[1] = {&sentinel};
    CHECK_NOTHROW(a.backward(sh, in, dy.data(), din2, dpGiven));
    CHECK(sentinel == 12345.0);
    CHECK_NOTHROW(a.backward(sh, in, dy.data(), din3, nullptr));
    CHECK(dx1 == dx2);
    CHECK(dx1 == dx3);
  }
}
