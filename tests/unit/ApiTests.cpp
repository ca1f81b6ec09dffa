// Tests of the embedding API (act/act.h): compile diagnostics (file, line, column,
// hints), lookup errors, empty tensors, Activation lifetime, and concurrent first calls.
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
using act_test::layoutName;
using act_test::offsetOf;

namespace {
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
                         TensorShape{0, 0, 0, Layout::NSC}, TensorShape{2, 3, 0, Layout::NSC},
                         TensorShape{2, 0, 5, Layout::NSC}}) {
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
  const int64_t kN = 2, kC = 3, S = 4099; // a: kN x kC values, b: kC
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

TEST_CASE("lazyBackward compiles the forward alone and gives the same values", "[runtime]") {
  const char *src = "act f(x; b[C] = 0.5) = x * sigmoid(b * x) + tanh(x)";
  act::CompileOptions lazy;
  lazy.useCache = false;
  lazy.lazyBackward = true;
  act::CompileOptions paired = lazy;
  paired.lazyBackward = false;
  act::Module ml = act::Module::compile(src, "lazy.act", lazy);
  act::Module mp = act::Module::compile(src, "paired.act", paired);
  const TensorShape sh{2, 3, 37, Layout::NCS};
  std::vector<float> x((size_t)sh.numElements()), dy(x.size(), 1.0f);
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = -4.0f + 8.0f * (float)i / (float)x.size();
  const float *in[] = {x.data()};
  std::vector<float> y1(x.size()), y2(x.size()), dx1(x.size()), dx2(x.size()), db1(3), db2(3);
  // Forward first (the lazy module compiles the forward kernel alone), then backward.
  ml.get("f").forward(sh, in, y1.data());
  mp.get("f").forward(sh, in, y2.data());
  CHECK(y1 == y2);
  float *d1[] = {dx1.data()}, *d2[] = {dx2.data()}, *p1[] = {db1.data()}, *p2[] = {db2.data()};
  ml.get("f").backward(sh, in, dy.data(), d1, p1);
  mp.get("f").backward(sh, in, dy.data(), d2, p2);
  CHECK(dx1 == dx2);
  CHECK(db1 == db2);
  CHECK(db1[0] != 0.0f);
}
