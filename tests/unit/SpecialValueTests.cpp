// NaN and infinities through the compiled kernels: NaN in gives NaN out without
// touching neighbours, infinities give the limits, in both element types.
#include "act/act.h"

#include "TestSupport.h"
#include <catch2/catch.hpp>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <limits>
#include <sstream>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include <unistd.h>

using act::DType;
using act::Layout;
using act::TensorShape;
using act_test::compileOne;
using act_test::fmt;

//===----------------------------------------------------------------------===//
// NaN and infinities
//===----------------------------------------------------------------------===//

namespace {
const char *kSpecialSrc = R"(
act swish(x; beta = 1.0) = x * sigmoid(beta * x)
act relu_(x) = relu(x)
act sigmoid_(x) = sigmoid(x)
act tanh_(x) = tanh(x)
act softplus_(x) = softplus(x)
act elu(x; const alpha = 1.0) = select(x > 0, x, alpha * expm1(x))
act gelu_(x) = gelu(x)
act gelu_tanh_(x) = gelu_tanh(x)
act hard_swish_(x) = hard_swish(x)
act prelu(x; a[C] = 0.25) = max(x, 0) + a * min(x, 0)
act pwlu(x; y[C,17] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0.375, 0.75, 1.125, 1.5, 1.875, 2.25, 2.625, 3],
            bl[C] = -3.0, br[C] = 3.0, kl[C] = 0.0, kr[C] = 1.0)
  = pwl(x; y, bl, br, kl, kr)
)";

/// y = fn(xs) with default parameters, one channel, in type T.
template <typename T>
std::vector<double> eval1(const act::Module &m, const std::string &fn,
                          const std::vector<double> &xs, const T *const *params = nullptr) {
  std::vector<T> x(xs.begin(), xs.end()), y(xs.size(), (T)12345);
  const T *in[] = {x.data()};
  m.get(fn).forward(TensorShape{1, 1, (int64_t)xs.size()}, in, y.data(), params);
  return std::vector<double>(y.begin(), y.end());
}
} // namespace

TEMPLATE_TEST_CASE("NaN in gives NaN out, and neighbours are unaffected", "[runtime][special]",
                   float, double) {
  act::Module m = compileOne(kSpecialSrc);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  // NaN at several positions, including inside vector bodies and remainders.
  std::vector<double> xs;
  for (int i = 0; i < 37; ++i)
    xs.push_back(i % 5 == 2 ? nan : -4.0 + 0.25 * i);
  for (const char *fn : {"swish", "relu_", "sigmoid_", "tanh_", "softplus_", "elu", "gelu_",
                         "gelu_tanh_", "hard_swish_", "prelu", "pwlu"}) {
    INFO(fn << (std::is_same<TestType, float>::value ? " f32" : " f64"));
    std::vector<double> y;
    REQUIRE_NOTHROW(y = eval1<TestType>(m, fn, xs));
    for (size_t i = 0; i < xs.size(); ++i) {
      INFO("x=" << xs[i] << " y=" << fmt(y[i]));
      if (std::isnan(xs[i]))
        CHECK(std::isnan(y[i]));
      else
        CHECK(std::isfinite(y[i]));
    }
  }
}

TEMPLATE_TEST_CASE("pwlu with NaN, infinities and huge inputs does not crash",
                   "[runtime][special]", float, double) {
  act::Module m = compileOne(kSpecialSrc);
  const double inf = std::numeric_limits<double>::infinity();
  const double big = (double)std::numeric_limits<TestType>::max();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  SECTION("ReLU table: kl = 0, kr = 1") {
    std::vector<double> xs = {nan, inf, 1e30, big, -1e30, -big, -inf, 2.5, -2.5, nan};
    std::vector<double> y = eval1<TestType>(m, "pwlu", xs);
    CHECK(std::isnan(y[0]));
    CHECK(y[1] == inf);
    CHECK(y[2] == Approx(1e30));
    CHECK(y[3] == Approx(big));
    CHECK(y[4] == 0.0);
    CHECK(y[5] == 0.0);
    // y[6] = 0 + 0 * (-inf - bl): 0 or NaN are both defensible; it must just not crash.
    CHECK(y[7] == 2.5);
    CHECK(y[8] == 0.0);
    CHECK(std::isnan(y[9]));
  }
  SECTION("non-zero edge slopes: kl = -0.5, kr = 2") {
    std::vector<TestType> table(17);
    for (int i = 0; i < 17; ++i)
      table[(size_t)i] = (TestType)std::sin(0.5 * i);
    std::vector<TestType> bl = {-1}, br = {2}, kl = {-0.5}, kr = {2};
    const TestType *p[] = {table.data(), bl.data(), br.data(), kl.data(), kr.data()};
    std::vector<double> xs = {-inf, inf, nan, -1e30, 1e30};
    std::vector<double> y = eval1<TestType>(m, "pwlu", xs, p);
    CHECK(y[0] == inf);
    CHECK(y[1] == inf);
    CHECK(std::isnan(y[2]));
    CHECK(y[3] == Approx(0.5e30));
    CHECK(y[4] == Approx(2e30));
  }
}

TEMPLATE_TEST_CASE("builtins at +-inf give their limits", "[runtime][special]", float, double) {
  act::Module m = compileOne(kSpecialSrc);
  const double inf = std::numeric_limits<double>::infinity();
  struct Limit {
    const char *fn;
    double atMinusInf, atPlusInf;
  };
  // 0 stands for "+0 or -0".
  for (Limit l : {Limit{"sigmoid_", 0.0, 1.0}, Limit{"swish", 0.0, inf},
                  Limit{"relu_", 0.0, inf}, Limit{"tanh_", -1.0, 1.0},
                  Limit{"softplus_", 0.0, inf}, Limit{"elu", -1.0, inf},
                  Limit{"prelu", -inf, inf}, Limit{"gelu_", 0.0, inf},
                  Limit{"gelu_tanh_", 0.0, inf}, Limit{"hard_swish_", 0.0, inf}}) {
    std::vector<double> y = eval1<TestType>(m, l.fn, {-inf, inf});
    INFO(l.fn << (std::is_same<TestType, float>::value ? " f32" : " f64") << ": f(-inf) = "
              << fmt(y[0]) << " (want " << l.atMinusInf << "), f(+inf) = " << fmt(y[1])
              << " (want " << l.atPlusInf << ")");
    CHECK(y[0] == l.atMinusInf);
    CHECK(y[1] == l.atPlusInf);
  }
}
