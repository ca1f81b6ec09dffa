// Threads: results, including gradient reductions, are bitwise the same for any
// thread count.
#include "act/act.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

namespace {

struct Result {
  std::vector<float> y, dx, dp1, dp2, dbeta, yFused;
};

Result run(const act::Activation &acon, const act::TensorShape &shape, unsigned threads) {
  act::setNumThreads(threads);
  REQUIRE(act::numThreads() == threads);
  size_t count = (size_t)shape.numElements();
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-4, 4);
  std::vector<float> x(count), dy(count);
  for (size_t i = 0; i < count; ++i) {
    x[i] = u(rng);
    dy[i] = u(rng);
  }
  std::vector<float> p1((size_t)shape.c), p2((size_t)shape.c), beta((size_t)shape.c);
  for (int64_t c = 0; c < shape.c; ++c) {
    p1[(size_t)c] = 1.0f + 0.01f * (float)c;
    p2[(size_t)c] = -0.1f * (float)(c % 5);
    beta[(size_t)c] = 0.5f + 0.05f * (float)c;
  }
  Result r;
  r.y.resize(count);
  r.yFused.resize(count);
  r.dx.resize(count);
  r.dp1.resize(p1.size());
  r.dp2.resize(p1.size());
  r.dbeta.resize(p1.size());
  const float *in[] = {x.data()};
  const float *params[] = {p1.data(), p2.data(), beta.data()};
  float *dinputs[] = {r.dx.data()};
  float *dparams[] = {r.dp1.data(), r.dp2.data(), r.dbeta.data()};
  acon.forward(shape, in, r.y.data(), params);
  acon.backward(shape, in, dy.data(), dinputs, dparams, params, r.yFused.data());
  return r;
}

bool same(const std::vector<float> &a, const std::vector<float> &b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * 4) == 0;
}

} // namespace

TEST_CASE("forward and backward are bitwise identical for 1, 2 and 7 threads",
          "[threads]") {
  act::Module m = act::Module::compile(
      "act acon_c(x; p1[C] = 1.0, p2[C] = 0.0, beta[C] = 1.0) = "
      "smooth_max(p1 * x, p2 * x; beta)");
  const act::Activation &acon = m.get("acon_c");
  for (act::Layout layout : {act::Layout::NCS, act::Layout::NSC}) {
    act::TensorShape shape{8, 24, 3000, layout}; // 576k elements: many chunks
    Result one = run(acon, shape, 1), two = run(acon, shape, 2), seven = run(acon, shape, 7);
    CHECK(same(one.y, two.y));
    CHECK(same(one.y, seven.y));
    CHECK(same(one.y, one.yFused));
    CHECK(same(one.dx, seven.dx));
    CHECK(same(one.dp1, two.dp1));
    CHECK(same(one.dp1, seven.dp1));
    CHECK(same(one.dp2, seven.dp2));
    CHECK(same(one.dbeta, two.dbeta));
    CHECK(same(one.dbeta, seven.dbeta));
    // A repeated run with the same count is identical too.
    Result again = run(acon, shape, 7);
    CHECK(same(again.dbeta, seven.dbeta));
  }
  act::setNumThreads(0);
}

TEST_CASE("a parallel reduction matches a float64 sum", "[threads]") {
  act::Module m = act::Module::compile("act scale(x; a[C] = 1.0) = a * x * x");
  const act::Activation &f = m.get("scale");
  act::setNumThreads(7);
  act::TensorShape shape{3, 5, 40000, act::Layout::NCS};
  size_t count = (size_t)shape.numElements();
  std::vector<float> x(count), dy(count, 1.0f), dx(count), da(5);
  std::vector<double> want(5, 0.0);
  for (size_t i = 0; i < count; ++i) {
    x[i] = (float)std::sin(0.001 * (double)i);
    want[(i / 40000) % 5] += (double)x[i] * (double)x[i];
  }
  const float *in[] = {x.data()};
  float *dinputs[] = {dx.data()};
  float *dparams[] = {da.data()};
  f.backward(shape, in, dy.data(), dinputs, dparams);
  for (size_t c = 0; c < 5; ++c) {
    INFO("channel " << c);
    CHECK(std::fabs(da[c] - want[c]) <= 1e-6 * std::fabs(want[c]));
  }
  act::setNumThreads(0);
}
