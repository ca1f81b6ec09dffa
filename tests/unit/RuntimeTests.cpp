// Tests of the embedding API (act/act.h): both memory layouts against an element-by-
// element reference for every parameter shape, both element types, in-place use,
// parameter defaults, extra inputs, compile diagnostics, lookup errors, empty tensors,
// concurrent first calls, and NaN / infinity inputs.
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

act::Module compileOne(const std::string &src) {
  INFO(src);
  try {
    return act::Module::compile(src, "test.act");
  } catch (const act::CompileError &e) {
    FAIL("unexpected compile error:\n" << e.what());
    throw;
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

/// Captures what the process writes to stdout and stderr (file descriptors 1 and 2,
/// which is where LLVM and MLIR print) between construction and finish().
class CaptureOutput {
public:
  CaptureOutput() {
    std::fflush(stdout);
    std::fflush(stderr);
    for (int i = 0; i < 2; ++i) {
      files[i] = std::tmpfile();
      saved[i] = dup(i + 1);
      dup2(fileno(files[i]), i + 1);
    }
  }
  /// Restores the descriptors and returns everything written, stdout then stderr.
  std::string finish() {
    std::fflush(stdout);
    std::fflush(stderr);
    std::string out;
    for (int i = 0; i < 2; ++i) {
      dup2(saved[i], i + 1);
      close(saved[i]);
      std::rewind(files[i]);
      char buf[256];
      size_t got;
      while ((got = std::fread(buf, 1, sizeof buf, files[i])) > 0)
        out.append(buf, got);
      std::fclose(files[i]);
    }
    return out;
  }

private:
  FILE *files[2];
  int saved[2];
};

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

//===----------------------------------------------------------------------===//
// Compile errors and lookup
//===----------------------------------------------------------------------===//

TEST_CASE("compile error: unknown function has file, line, column, hint, no output",
          "[runtime][diagnostics]") {
  const std::string line3 = "act bad(x; beta = 1.0) = x * sigmod(beta * x)";
  const std::string src = "# swish, misspelt\n\n" + line3 + "\n";
  const unsigned col = (unsigned)line3.find("sigmod") + 1; // 30

  bool threw = false;
  std::vector<act::Diagnostic> diags;
  std::string what;
  CaptureOutput capture;
  try {
    act::Module::compile(src, "acon.act");
  } catch (const act::CompileError &e) {
    threw = true;
    diags = e.diagnostics();
    what = e.what();
  } catch (...) {
  }
  std::string printed = capture.finish();

  REQUIRE(threw);
  INFO("what(): " << what);
  CHECK(printed.empty());
  REQUIRE(diags.size() >= 1);
  const act::Diagnostic &d = diags[0];
  CHECK(d.severity == act::Diagnostic::Severity::Error);
  CHECK(d.file == "acon.act");
  CHECK(d.line == 3u);
  CHECK(d.column == col);
  CHECK(d.message.find("unknown function 'sigmod'") != std::string::npos);
  CHECK(d.message.find("did you mean 'sigmoid'") != std::string::npos);
  CHECK(d.sourceLine == line3);
  std::string expectedCaret = line3 + "\n" + std::string(col - 1, ' ') + "^";
  CHECK(d.str().rfind("acon.act:3:" + std::to_string(col) + ": error: ", 0) == 0);
  CHECK(d.str().find(expectedCaret) != std::string::npos);
  CHECK(what.find("acon.act:3:" + std::to_string(col)) != std::string::npos);
}

TEST_CASE("compile error: unknown parameter name on line 2, and syntax errors",
          "[runtime][diagnostics]") {
  SECTION("unknown name") {
    const std::string line2 = "act h(x; alpha = 1) = alpah * x";
    CaptureOutput capture;
    std::vector<act::Diagnostic> diags;
    try {
      act::Module::compile("act g(x) = x\n" + line2 + "\n", "two.act");
    } catch (const act::CompileError &e) {
      diags = e.diagnostics();
    }
    std::string printed = capture.finish();
    CHECK(printed.empty());
    REQUIRE(diags.size() >= 1);
    INFO(act::formatDiagnostics(diags));
    CHECK(diags[0].file == "two.act");
    CHECK(diags[0].line == 2u);
    CHECK(diags[0].column == (unsigned)line2.find("alpah") + 1);
    CHECK(diags[0].message.find("alpah") != std::string::npos);
    CHECK(diags[0].message.find("did you mean 'alpha'") != std::string::npos);
  }
  SECTION("syntax errors") {
    for (const char *bad : {"act f(x) = (x + 1", "act f(x) = x +", "act f(x = x",
                            "act f(x) = sigmoid(x,", "act (x) = x", "act f(x) = x $ 2"}) {
      INFO(bad);
      CaptureOutput capture;
      std::vector<act::Diagnostic> diags;
      bool threw = false;
      try {
        act::Module::compile(bad, "syn.act");
      } catch (const act::CompileError &e) {
        threw = true;
        diags = e.diagnostics();
      } catch (...) {
      }
      std::string printed = capture.finish();
      CHECK(threw);
      CHECK(printed.empty());
      REQUIRE(!diags.empty());
      CHECK(diags[0].file == "syn.act");
      CHECK(diags[0].line == 1u);
      CHECK(diags[0].column >= 1u);
      CHECK(!diags[0].message.empty());
    }
  }
}

TEST_CASE("compileFile: diagnostics name the path; a missing file is a CompileError",
          "[runtime][diagnostics]") {
  char path[] = "/tmp/act-runtime-test-XXXXXX";
  int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  close(fd);
  {
    std::ofstream out(path);
    out << "act ok(x) = x\n\nact bad(x) = x * tanhh(x)\n";
  }
  std::vector<act::Diagnostic> diags;
  try {
    act::Module::compileFile(path);
  } catch (const act::CompileError &e) {
    diags = e.diagnostics();
  }
  std::remove(path);
  REQUIRE(!diags.empty());
  CHECK(diags[0].file == path);
  CHECK(diags[0].line == 3u);
  CHECK(diags[0].column == 18u);
  CHECK(diags[0].message.find("did you mean 'tanh'") != std::string::npos);

  CHECK_THROWS_AS(act::Module::compileFile("/nonexistent/dir/none.act"), act::CompileError);
  try {
    act::Module::compileFile("/nonexistent/dir/none.act");
  } catch (const act::CompileError &e) {
    REQUIRE(!e.diagnostics().empty());
    CHECK(e.diagnostics()[0].file == "/nonexistent/dir/none.act");
  }
}

TEST_CASE("Module::get of an unknown name throws act::Error with a hint", "[runtime]") {
  act::Module m = compileOne("act swish(x; beta = 1.0) = x * sigmoid(beta * x)\n"
                             "act mish(x) = let sp = softplus(x) in x * tanh(sp)\n");
  CHECK(m.names() == std::vector<std::string>{"swish", "mish"});
  CHECK(m.find("swish") != nullptr);
  CHECK(m.find("swsh") == nullptr);
  CHECK_THROWS_AS(m.get("swsh"), act::Error);
  std::string msg;
  try {
    m.get("swsh");
  } catch (const act::Error &e) {
    msg = e.what();
  }
  INFO(msg);
  CHECK(msg.find("swsh") != std::string::npos);
  CHECK(msg.find("did you mean 'swish'") != std::string::npos);
  CHECK(&m.get("mish") == m.find("mish"));
}

//===----------------------------------------------------------------------===//
// Empty tensors, lifetime, threads
//===----------------------------------------------------------------------===//

TEST_CASE("zero-element tensors do nothing", "[runtime]") {
  act::Module m = compileOne("act f(x, t; a[N,C], b[C] = 1) = a * x + b * t");
  const act::Activation &f = m.get("f");
  std::vector<double> x(8, 1.0), t(8, 2.0), y(8, -7.0), a(8, 3.0), b(8, 4.0);
  const double *in[] = {x.data(), t.data()}, *p[] = {a.data(), b.data()};
  for (TensorShape sh : {TensorShape{0, 3, 5}, TensorShape{2, 0, 5}, TensorShape{2, 3, 0},
                         TensorShape{0, 0, 0, Layout::NSC}, TensorShape{2, 3, 0, Layout::NSC}}) {
    INFO("shape " << sh.n << "x" << sh.c << "x" << sh.s << " " << layoutName(sh.layout));
    CHECK_NOTHROW(f.forward(sh, in, y.data(), p));
    CHECK_NOTHROW(f.forward(sh, in, y.data(), nullptr)); // a has no init, but no element
    CHECK_NOTHROW(f.forward(sh, static_cast<const double *const *>(nullptr),
                            static_cast<double *>(nullptr)));
    CHECK(y == std::vector<double>(8, -7.0));
  }
}

TEST_CASE("an Activation copy stays usable after its Module is destroyed", "[runtime]") {
  act::Activation copy = [] {
    act::Module m = compileOne("act f(x; a = 3) = a * x");
    return m.get("f");
  }();
  std::vector<double> x = {1, 2, 3}, y(3);
  const double *in[] = {x.data()};
  copy.forward(TensorShape{1, 1, 3}, in, y.data());
  CHECK(y == std::vector<double>{3, 6, 9});
  CHECK(copy.name() == "f");
}

TEST_CASE("concurrent first calls from 4 threads race the lazy JIT and stay correct",
          "[runtime][threads]") {
  const char *src = "act f(x; a[N,C], b[C] = 0.5) = a * x * sigmoid(b * x) + tanh(x)";
  std::vector<double> a = {0.5, -1.25, 2.0, 3.5, -4.75, 6.0}, b = {1.0, 0.5, 3.0};
  std::vector<float> af(a.begin(), a.end()), bf(b.begin(), b.end());
  const int64_t S = 4099;
  auto ref = [&](double x, int64_t n, int64_t c) {
    return a[(size_t)(n * kC + c)] * x / (1 + std::exp(-b[(size_t)c] * x)) + std::tanh(x);
  };

  // mixed: thread i uses f32 when i is odd and NSC when i >= 2, so different kernels are
  // generated concurrently; !mixed: all four race for the same f64 NCS kernel.
  for (bool mixed : {false, true}) {
    INFO((mixed ? "mixed element types and layouts" : "all f64 NCS"));
    act::Module m = compileOne(src); // fresh: no kernel built yet
    const act::Activation &f = m.get("f");
    std::atomic<int> ready{0};
    std::vector<int> bad(4, 0);
    std::vector<std::string> errors(4);
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; ++i)
      threads.emplace_back([&, i] {
        bool f32 = mixed && (i % 2 == 1);
        Layout l = mixed && i >= 2 ? Layout::NSC : Layout::NCS;
        TensorShape sh{kN, kC, S, l};
        size_t count = (size_t)sh.numElements();
        std::vector<double> x(count), y(count);
        std::vector<float> xf(count), yf(count);
        for (size_t k = 0; k < count; ++k)
          xf[k] = (float)(x[k] = -6.0 + 12.0 * (double)((k * 7919 + i) % count) / count);
        ready.fetch_add(1);
        while (ready.load() < 4) {
        }
        try {
          for (int rep = 0; rep < 10; ++rep) {
            if (f32) {
              const float *in[] = {xf.data()}, *p[] = {af.data(), bf.data()};
              f.forward(sh, in, yf.data(), p);
            } else {
              const double *in[] = {x.data()}, *p[] = {a.data(), b.data()};
              f.forward(sh, in, y.data(), p);
            }
            for (int64_t n = 0; n < kN; ++n)
              for (int64_t c = 0; c < kC; ++c)
                for (int64_t s = 0; s < S; ++s) {
                  size_t o = (size_t)offsetOf(sh, n, c, s);
                  double want = f32 ? ref((double)xf[o], n, c) : ref(x[o], n, c);
                  double got = f32 ? (double)yf[o] : y[o];
                  double tol = (f32 ? 2e-6 : 1e-13) * std::max(1.0, std::fabs(want));
                  if (!(std::fabs(got - want) <= tol))
                    ++bad[(size_t)i];
                }
          }
        } catch (const std::exception &e) {
          errors[(size_t)i] = e.what();
        }
      });
    for (auto &t : threads)
      t.join();
    for (int i = 0; i < 4; ++i) {
      INFO("thread " << i);
      CHECK(errors[(size_t)i] == "");
      CHECK(bad[(size_t)i] == 0);
    }
  }
}

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
