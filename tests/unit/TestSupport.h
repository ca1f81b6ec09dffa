// Small helpers shared by the unit tests.
#pragma once

#include "act/act.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <vector>
#include <sstream>
#include <string>
#include <utility>

namespace act_test {

/// A number with every digit, for INFO messages.
inline std::string fmt(double v) {
  std::ostringstream os;
  os.precision(17);
  os << v;
  return os.str();
}

/// examples/seeds.act, compiled once per test binary.
inline const act::Module &seeds() {
  static const act::Module m = act::Module::compileFile(ACT_EXAMPLES_DIR "/seeds.act");
  return m;
}

/// Same length and the same bytes (NaN payloads and signed zeros included).
template <typename T> bool sameBits(const std::vector<T> &a, const std::vector<T> &b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

/// A float64 reference sum of gradient contributions, with the sum of their
/// magnitudes: a reduced gradient is close when within `tol` of that magnitude (the
/// rounding a float sum can carry however its terms cancel).
struct RefSum {
  double sum = 0, mag = 0;
  void add(double v) {
    sum += v;
    mag += std::fabs(v);
  }
  bool close(double got, double tol) const { return std::fabs(got - sum) <= tol * mag; }
};

inline const char *layoutName(act::Layout l) { return l == act::Layout::NCS ? "NCS" : "NSC"; }

/// Offset of element (n, c, s) in a contiguous tensor of `sh`.
inline int64_t offsetOf(const act::TensorShape &sh, int64_t n, int64_t c, int64_t s) {
  return sh.layout == act::Layout::NCS ? (n * sh.c + c) * sh.s + s
                                       : (n * sh.s + s) * sh.c + c;
}

/// A one-element tensor.
inline const act::TensorShape kOne{1, 1, 1, act::Layout::NCS};

/// f and f' of a one-input activation at x, in T (initial parameter values).
template <typename T>
std::pair<T, T> valueAndSlope(const act::Activation &a, T x) {
  T f = 0, d = 0;
  T *outs[] = {&f, &d};
  const T *in[] = {&x};
  a.derivatives(1, kOne, in, outs);
  return {f, d};
}

/// A fresh directory under the system's temporary directory, named after `prefix`,
/// removed with its contents at the end of the test.
struct TempDir {
  std::string path;
  explicit TempDir(const std::string &prefix) {
    std::string pattern = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
    std::vector<char> buf(pattern.begin(), pattern.end());
    buf.push_back('\0');
    REQUIRE(mkdtemp(buf.data()) != nullptr);
    path = buf.data();
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir &) = delete;
  TempDir &operator=(const TempDir &) = delete;
};

/// Compiles `src`, failing the test with the diagnostics when it does not compile.
inline act::Module compileOne(const std::string &src) {
  INFO(src);
  try {
    return act::Module::compile(src, "test.act");
  } catch (const act::CompileError &e) {
    FAIL("unexpected compile error:\n" << e.what());
    throw;
  }
}

} // namespace act_test
