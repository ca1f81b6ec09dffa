// Tests of the embedding API (act/act.h): both memory layouts against an element-by-
// element reference for every parameter shape, both element types, in-place use,
// parameter defaults, extra inputs and argument checks. Diagnostics, lookup, lifetime
// and threads are in ApiTests.cpp; NaN and infinities in SpecialValueTests.cpp;
// per-channel tables over many channels (unstaged rows, transposed tiles) in TableTests.cpp.
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

namespace {
using act_test::fmt;
using act_test::layoutName;
using act_test::offsetOf;
using act_test::compileOne;

constexpr int64_t kN = 2, kC = 3, kS = 5;

/// A value that differs for every (n, c, s), so that a wrong broadcast or a wrong
/// layout shows. `which` separates several inputs.
double inputValue(int64_t n, int64_t c, int64_t s, int which = 0) {
  return -2.3 + 0.61 * (double)s + 1.37 * (double)c - 0.83 * (double)n + 0.29 * which +
         0.013 * (double)(s * c);
}

/// Reference for one element: inputs at (n, c, s) and the parameter values (double).
using ElemRef = std::function<double(const std::vector<double> &in, int64_t n, int64_t c,
                                     const std::vector<std::vector<double>> &params)>;

/// Runs `a` on an N x C x S tensor in `layout` with element type T and compares every
/// element with `ref`. `params[k]` empty means: pass null (the kernel uses the initial
/// value), and the reference gets `refParams[k]` instead.
template <typename T>
void checkAgainstReference(const act::Activation &a, Layout layout,
                           const std::vector<std::vector<double>> &params,
                           const std::vector<std::vector<double>> &refParams,
                           const ElemRef &ref, bool viaDType = false) {
  constexpr bool f32 = std::is_same<T, float>::value;
  INFO(a.name() << " " << layoutName(layout) << " " << (f32 ? "f32" : "f64")
                << (viaDType ? " (DType overload)" : ""));
  TensorShape sh{kN, kC, kS, layout};
  const size_t nin = a.inputs().size();
  const int64_t count = sh.numElements();

  std::vector<std::vector<T>> in(nin, std::vector<T>((size_t)count));
  for (size_t k = 0; k < nin; ++k)
    for (int64_t n = 0; n < kN; ++n)
      for (int64_t c = 0; c < kC; ++c)
        for (int64_t s = 0; s < kS; ++s)
          in[k][(size_t)offsetOf(sh, n, c, s)] = (T)inputValue(n, c, s, (int)k);

  REQUIRE(params.size() == a.params().size());
  std::vector<std::vector<T>> pk(params.size());
  std::vector<std::vector<double>> pr(params.size());
  std::vector<const T *> pptr(params.size(), nullptr);
  for (size_t k = 0; k < params.size(); ++k) {
    const std::vector<double> &src = params[k].empty() ? refParams[k] : params[k];
    REQUIRE((int64_t)src.size() == a.params()[k].numValues(sh));
    for (double v : src) {
      pk[k].push_back((T)v);
      pr[k].push_back((double)(T)v);
    }
    if (!params[k].empty())
      pptr[k] = pk[k].data();
  }

  std::vector<const T *> inPtr;
  for (auto &v : in)
    inPtr.push_back(v.data());
  std::vector<T> y((size_t)count, (T)NAN);
  if (viaDType)
    a.forward(f32 ? DType::F32 : DType::F64, sh,
              reinterpret_cast<const void *const *>(inPtr.data()), y.data(),
              reinterpret_cast<const void *const *>(pptr.data()));
  else
    a.forward(sh, inPtr.data(), y.data(), pptr.data());

  int bad = 0;
  for (int64_t n = 0; n < kN; ++n)
    for (int64_t c = 0; c < kC; ++c)
      for (int64_t s = 0; s < kS; ++s) {
        size_t off = (size_t)offsetOf(sh, n, c, s);
        std::vector<double> xs;
        for (size_t k = 0; k < nin; ++k)
          xs.push_back((double)in[k][off]);
        double expected = ref(xs, n, c, pr);
        double got = (double)y[off];
        // A few ulps of the element type, relative to max(1, |expected|): these
        // sources are a handful of arithmetic operations on values of order 1-10.
        double tol = (f32 ? 2e-6 : 1e-13) * std::max(1.0, std::fabs(expected));
        if (!(std::fabs(got - expected) <= tol) && bad++ < 5) {
          INFO("n=" << n << " c=" << c << " s=" << s << " x=" << fmt(xs[0])
                    << " expected=" << fmt(expected) << " got=" << fmt(got)
                    << " tolerance=" << fmt(tol));
          CHECK(std::fabs(got - expected) <= tol);
        }
      }
  CHECK(bad == 0);
}

/// The same check in both layouts, both element types and through both overloads.
void checkAllWays(const act::Activation &a, const std::vector<std::vector<double>> &params,
                  const std::vector<std::vector<double>> &refParams, const ElemRef &ref) {
  for (Layout l : {Layout::NCS, Layout::NSC}) {
    checkAgainstReference<double>(a, l, params, refParams, ref);
    checkAgainstReference<float>(a, l, params, refParams, ref);
    checkAgainstReference<double>(a, l, params, refParams, ref, true);
    checkAgainstReference<float>(a, l, params, refParams, ref, true);
  }
}

/// PWLU as the paper defines it, in double.
double pwlRef(double x, const double *y, int n, double bl, double br, double kl, double kr) {
  if (x < bl)
    return y[0] + kl * (x - bl);
  if (x > br)
    return y[n] + kr * (x - br);
  double d = (br - bl) / n;
  double u = (x - bl) / d;
  int i = std::max(0, std::min(n - 1, (int)std::floor(u)));
  double t = u - i;
  return y[i] + t * (y[i + 1] - y[i]);
}

} // namespace

//===----------------------------------------------------------------------===//
// Layouts and parameter broadcasting
//===----------------------------------------------------------------------===//

TEST_CASE("scalar parameter broadcasts over N, C, S in both layouts", "[runtime][layout]") {
  act::Module m = compileOne("act f(x; a = 0.5) = a * x + a");
  const act::Activation &f = m.get("f");
  REQUIRE(f.params().size() == 1);
  CHECK(f.params()[0].shape() == "");
  auto ref = [](const std::vector<double> &x, int64_t, int64_t,
                const std::vector<std::vector<double>> &p) { return p[0][0] * x[0] + p[0][0]; };
  checkAllWays(f, {{1.75}}, {{}}, ref);
  checkAllWays(f, {{}}, {{0.5}}, ref); // null: the initial value
}

TEST_CASE("per-channel [C] parameter indexes by channel in both layouts", "[runtime][layout]") {
  act::Module m = compileOne("act f(x; a[C]) = a * x + a * a");
  const act::Activation &f = m.get("f");
  CHECK(f.params()[0].shape() == "[C]");
  checkAllWays(f, {{2.0, -3.0, 5.5}}, {{}},
               [](const std::vector<double> &x, int64_t, int64_t c,
                  const std::vector<std::vector<double>> &p) {
                 double a = p[0][(size_t)c];
                 return a * x[0] + a * a;
               });
}

TEST_CASE("per-sample [N] parameter indexes by sample in both layouts", "[runtime][layout]") {
  act::Module m = compileOne("act f(x; a[N]) = a * x - a");
  const act::Activation &f = m.get("f");
  CHECK(f.params()[0].shape() == "[N]");
  checkAllWays(f, {{7.0, -11.0}}, {{}},
               [](const std::vector<double> &x, int64_t n, int64_t,
                  const std::vector<std::vector<double>> &p) {
                 double a = p[0][(size_t)n];
                 return a * x[0] - a;
               });
}

TEST_CASE("per-sample-and-channel [N,C] parameter is row-major n*C+c in both layouts",
          "[runtime][layout]") {
  act::Module m = compileOne("act f(x; a[N,C]) = a * x + 1");
  const act::Activation &f = m.get("f");
  CHECK(f.params()[0].shape() == "[N,C]");
  checkAllWays(f, {{0.5, -1.25, 2.0, 3.5, -4.75, 6.0}}, {{}},
               [](const std::vector<double> &x, int64_t n, int64_t c,
                  const std::vector<std::vector<double>> &p) {
                 return p[0][(size_t)(n * kC + c)] * x[0] + 1;
               });
}

TEST_CASE("table parameter [C,K] selects the channel's row in both layouts",
          "[runtime][layout]") {
  act::Module m = compileOne(
      "act f(x; y[C,5], lo[C], hi[C], kl = 0.5, kr = 2) = pwl(x; y, lo, hi, kl, kr)");
  const act::Activation &f = m.get("f");
  CHECK(f.params()[0].shape() == "[C,5]");
  CHECK(f.params()[0].tableLength == 5);
  std::vector<double> table = {1, -1, 0.5, 2, 3,    // channel 0
                               -2, 0, 4, -3, 1.5,   // channel 1
                               0.25, 7, -5, 6, -1}; // channel 2
  checkAllWays(f, {table, {-2.0, -0.5, 0.0}, {1.0, 2.5, 3.0}, {-0.75}, {1.5}}, {},
               [](const std::vector<double> &x, int64_t, int64_t c,
                  const std::vector<std::vector<double>> &p) {
                 return pwlRef(x[0], &p[0][(size_t)(c * 5)], 4, p[1][(size_t)c],
                               p[2][(size_t)c], p[3][0], p[4][0]);
               });
}

TEST_CASE("table parameter [K] without C is shared by every channel", "[runtime][layout]") {
  act::Module m = compileOne("act f(x; y[4], lo = -1, hi = 2) = pwl(x; y, lo, hi, 0.5, -1)");
  const act::Activation &f = m.get("f");
  CHECK(f.params()[0].shape() == "[4]");
  checkAllWays(f, {{3.0, -1.0, 2.0, 0.5}, {}, {}}, {{}, {-1.0}, {2.0}},
               [](const std::vector<double> &x, int64_t, int64_t,
                  const std::vector<std::vector<double>> &p) {
                 return pwlRef(x[0], p[0].data(), 3, p[1][0], p[2][0], 0.5, -1.0);
               });
}

TEST_CASE("scalar, [C], [N] and [N,C] parameters together in both layouts",
          "[runtime][layout]") {
  act::Module m =
      compileOne("act f(x; s, c[C], n[N], nc[N,C]) = s * x + c * x * x + n + nc * sigmoid(x)");
  const act::Activation &f = m.get("f");
  checkAllWays(f,
               {{0.75}, {1.5, -0.25, 0.125}, {10.0, -20.0}, {0.5, 1.0, 2.0, -3.0, -4.0, 5.0}},
               {{}, {}, {}, {}},
               [](const std::vector<double> &x, int64_t n, int64_t c,
                  const std::vector<std::vector<double>> &p) {
                 double v = x[0];
                 return p[0][0] * v + p[1][(size_t)c] * v * v + p[2][(size_t)n] +
                        p[3][(size_t)(n * kC + c)] / (1 + std::exp(-v));
               });
}

TEST_CASE("NCS and NSC give the same values element by element", "[runtime][layout]") {
  act::Module m = compileOne("act f(x; a[N,C], b[C]) = a * x * sigmoid(b * x)");
  const act::Activation &f = m.get("f");
  std::vector<double> a = {0.5, -1.25, 2.0, 3.5, -4.75, 6.0}, b = {1.0, 0.5, 3.0};
  TensorShape ncs{kN, kC, kS, Layout::NCS}, nsc{kN, kC, kS, Layout::NSC};
  std::vector<double> x1(30), x2(30), y1(30), y2(30);
  for (int64_t n = 0; n < kN; ++n)
    for (int64_t c = 0; c < kC; ++c)
      for (int64_t s = 0; s < kS; ++s)
        x1[(size_t)offsetOf(ncs, n, c, s)] = x2[(size_t)offsetOf(nsc, n, c, s)] =
            inputValue(n, c, s);
  const double *in1[] = {x1.data()}, *in2[] = {x2.data()}, *p[] = {a.data(), b.data()};
  f.forward(ncs, in1, y1.data(), p);
  f.forward(nsc, in2, y2.data(), p);
  for (int64_t n = 0; n < kN; ++n)
    for (int64_t c = 0; c < kC; ++c)
      for (int64_t s = 0; s < kS; ++s) {
        INFO("n=" << n << " c=" << c << " s=" << s);
        CHECK(y1[(size_t)offsetOf(ncs, n, c, s)] ==
              Approx(y2[(size_t)offsetOf(nsc, n, c, s)]).epsilon(1e-15));
      }
}

//===----------------------------------------------------------------------===//
// In place, defaults, extra inputs
//===----------------------------------------------------------------------===//

TEMPLATE_TEST_CASE("y may alias x (in-place forward)", "[runtime]", float, double) {
  act::Module m = compileOne("act f(x; a[N,C], b[C] = 1.0) = a * x * sigmoid(b * x) + b");
  const act::Activation &f = m.get("f");
  std::vector<TestType> a = {0.5, -1.25, 2.0, 3.5, -4.75, 6.0}, b = {1.0, 0.5, 3.0};
  const TestType *p[] = {a.data(), b.data()};
  for (Layout l : {Layout::NCS, Layout::NSC}) {
    INFO(layoutName(l));
    // A long S so that vectorised bodies and remainders both run.
    TensorShape sh{kN, kC, 1001, l};
    std::vector<TestType> x((size_t)sh.numElements());
    for (size_t i = 0; i < x.size(); ++i)
      x[i] = (TestType)(-8.0 + 16.0 * (double)i / (double)x.size());
    std::vector<TestType> outOfPlace(x.size());
    const TestType *in[] = {x.data()};
    f.forward(sh, in, outOfPlace.data(), p);
    f.forward(sh, in, x.data(), p); // y == inputs[0]
    int bad = 0;
    for (size_t i = 0; i < x.size(); ++i)
      if (!(x[i] == outOfPlace[i]) && bad++ < 5) {
        INFO("element " << i << ": in place " << fmt(x[i]) << ", out of place "
                        << fmt(outOfPlace[i]));
        CHECK(x[i] == outOfPlace[i]);
      }
    CHECK(bad == 0);
  }
}

TEST_CASE("null parameters take their initial values", "[runtime][params]") {
  act::Module m = compileOne(
      "act f(x; a[C] = 2.0, b = -1.5, y[C,3] = [1, 0, 2], lo = -1, hi = 1) ="
      " a * x + b + pwl(x; y, lo, hi, 0.5, 0.25)");
  const act::Activation &f = m.get("f");
  REQUIRE(f.params().size() == 5);
  CHECK(f.params()[2].init == std::vector<double>{1, 0, 2});
  std::vector<std::vector<double>> defaults = {
      {2.0, 2.0, 2.0}, {-1.5}, {1, 0, 2, 1, 0, 2, 1, 0, 2}, {-1.0}, {1.0}};
  auto ref = [](const std::vector<double> &x, int64_t, int64_t c,
                const std::vector<std::vector<double>> &p) {
    return p[0][(size_t)c] * x[0] + p[1][0] +
           pwlRef(x[0], &p[2][(size_t)c * 3], 2, p[3][0], p[4][0], 0.5, 0.25);
  };
  SECTION("params itself null") {
    for (Layout l : {Layout::NCS, Layout::NSC}) {
      TensorShape sh{kN, kC, kS, l};
      std::vector<double> x(30), y(30);
      for (int64_t n = 0; n < kN; ++n)
        for (int64_t c = 0; c < kC; ++c)
          for (int64_t s = 0; s < kS; ++s)
            x[(size_t)offsetOf(sh, n, c, s)] = inputValue(n, c, s);
      const double *in[] = {x.data()};
      f.forward(sh, in, y.data(), nullptr);
      for (int64_t n = 0; n < kN; ++n)
        for (int64_t c = 0; c < kC; ++c)
          for (int64_t s = 0; s < kS; ++s) {
            size_t o = (size_t)offsetOf(sh, n, c, s);
            INFO(layoutName(l) << " n=" << n << " c=" << c << " s=" << s << " x=" << x[o]);
            CHECK(y[o] == Approx(ref({x[o]}, n, c, defaults)).epsilon(1e-13).margin(1e-13));
          }
    }
  }
  SECTION("every entry null") {
    checkAllWays(f, {{}, {}, {}, {}, {}}, defaults, ref);
  }
  SECTION("some entries null, some given") {
    checkAllWays(f, {{0.5, -1.0, 3.0}, {}, {}, {-2.0}, {}}, defaults, ref);
    checkAllWays(f, {{}, {4.0}, {0, 1, 0, -1, 2, -3, 5, 5, 5}, {}, {2.0}}, defaults, ref);
  }
}

TEST_CASE("a parameter without an initial value must be passed", "[runtime][params]") {
  act::Module m = compileOne("act f(x; p1[C] = 1.0, beta[N,C]) = p1 * x * sigmoid(beta * x)");
  const act::Activation &f = m.get("f");
  TensorShape sh{kN, kC, kS};
  std::vector<double> x(30, 0.5), y(30, 0.0);
  const double *in[] = {x.data()};

  CHECK_THROWS_AS(f.forward(sh, in, y.data(), nullptr), act::Error);
  const double *nulls[] = {nullptr, nullptr};
  CHECK_THROWS_AS(f.forward(sh, in, y.data(), nulls), act::Error);
  try {
    f.forward(sh, in, y.data(), nulls);
  } catch (const act::Error &e) {
    INFO(e.what());
    CHECK(std::string(e.what()).find("beta") != std::string::npos);
  }
  std::vector<float> xf(30, 0.5f), yf(30, 0.0f);
  const float *inf[] = {xf.data()};
  CHECK_THROWS_AS(f.forward(sh, inf, yf.data(), nullptr), act::Error);

  REQUIRE(f.findParam("beta"));
  CHECK(f.findParam("beta")->init.empty());
  CHECK_THROWS_AS(f.findParam("beta")->initialValues(sh), act::Error);

  // Passing beta and leaving p1 null works.
  std::vector<double> beta = {1, 2, 3, 4, 5, 6};
  const double *p[] = {nullptr, beta.data()};
  REQUIRE_NOTHROW(f.forward(sh, in, y.data(), p));
  for (int64_t n = 0; n < kN; ++n)
    for (int64_t c = 0; c < kC; ++c) {
      double b = beta[(size_t)(n * kC + c)];
      CHECK(y[(size_t)((n * kC + c) * kS)] == Approx(0.5 / (1 + std::exp(-b * 0.5))));
    }
}

TEST_CASE("extra elementwise inputs are read at the same position", "[runtime][inputs]") {
  act::Module m = compileOne("act f(x, u, v; a[C]) = x * u + a * v - max(x, v)");
  const act::Activation &f = m.get("f");
  CHECK(f.inputs() == std::vector<std::string>{"x", "u", "v"});
  checkAllWays(f, {{0.5, -2.0, 3.0}}, {{}},
               [](const std::vector<double> &in, int64_t, int64_t c,
                  const std::vector<std::vector<double>> &p) {
                 return in[0] * in[1] + p[0][(size_t)c] * in[2] - std::max(in[0], in[2]);
               });
}

TEST_CASE("a two-input activation may write in place over its main input", "[runtime]") {
  act::Module m = compileOne("act frelu(x, t) = max(x, t)");
  const act::Activation &f = m.get("frelu");
  TensorShape sh{kN, kC, 257};
  std::vector<double> x((size_t)sh.numElements()), t(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    x[i] = std::sin(0.1 * (double)i);
    t[i] = std::cos(0.07 * (double)i);
  }
  std::vector<double> want(x.size());
  for (size_t i = 0; i < x.size(); ++i)
    want[i] = std::max(x[i], t[i]);
  const double *in[] = {x.data(), t.data()};
  f.forward(sh, in, x.data());
  CHECK(x == want);
}

TEST_CASE("null or negative-size arguments throw act::Error", "[runtime]") {
  act::Module m = compileOne("act f(x, t) = x + t");
  const act::Activation &f = m.get("f");
  TensorShape sh{1, 1, 4};
  std::vector<double> x(4, 1.0), y(4);
  const double *oneNull[] = {x.data(), nullptr};
  CHECK_THROWS_AS(f.forward(sh, oneNull, y.data()), act::Error);
  const double *in[] = {x.data(), x.data()};
  CHECK_THROWS_AS(f.forward(sh, in, nullptr), act::Error);
  CHECK_THROWS_AS(f.forward(sh, static_cast<const double *const *>(nullptr), y.data()),
                  act::Error);
  CHECK_THROWS_AS(f.forward(TensorShape{1, -1, 4}, in, y.data()), act::Error);
}

TEMPLATE_TEST_CASE("forward gives the same bits wherever the buffers lie", "[runtime]", float,
                   double) {
  // Elementwise results cannot depend on where x and y lie (a kernel that peeled
  // elements to align its stores would have to keep that true). Every offset of x
  // and y from a 64-byte line, both layouts, rows shorter and longer than a vector.
  act::Module m = compileOne("act f(x; a[C] = 1.0, b = 0.5) = a * x * sigmoid(b * x)");
  const act::Activation &f = m.get("f");
  constexpr size_t kLine = 64 / sizeof(TestType);
  for (TensorShape sh : {TensorShape{2, 3, 37}, TensorShape{2, 37, 5, Layout::NSC},
                         TensorShape{1, 2, 5}, TensorShape{3, 40, 2, Layout::NSC}}) {
    size_t count = (size_t)sh.numElements();
    std::vector<TestType> a((size_t)sh.c);
    for (size_t c = 0; c < a.size(); ++c)
      a[c] = (TestType)(1 + 0.25 * (double)c);
    const TestType *params[] = {a.data(), nullptr};
    // Reference: x and y on a line.
    std::vector<TestType> xBuf(count + 2 * kLine), yBuf(count + 2 * kLine);
    auto lineAligned = [](TestType *p) {
      return reinterpret_cast<TestType *>((reinterpret_cast<uintptr_t>(p) + 63) & ~uintptr_t(63));
    };
    TestType *x0 = lineAligned(xBuf.data()), *y0 = lineAligned(yBuf.data());
    for (size_t i = 0; i < count; ++i)
      x0[i] = (TestType)(4 * std::sin(0.3 * (double)i));
    const TestType *in0[] = {x0};
    f.forward(sh, in0, y0, params);
    std::vector<TestType> want(y0, y0 + count);
    for (size_t xOff = 0; xOff < kLine; xOff += 3)
      for (size_t yOff = 0; yOff < kLine; ++yOff) {
        INFO("shape " << sh.n << "x" << sh.c << "x" << sh.s << " "
                      << act_test::layoutName(sh.layout) << ", x at +" << xOff << ", y at +"
                      << yOff);
        TestType *x = x0 + xOff, *y = y0 + yOff;
        for (size_t i = 0; i < count; ++i)
          x[i] = (TestType)(4 * std::sin(0.3 * (double)i));
        std::fill(y, y + count, (TestType)-7);
        const TestType *in[] = {x};
        f.forward(sh, in, y, params);
        CHECK(act_test::sameBits(want, std::vector<TestType>(y, y + count)));
      }
  }
}
