// Tests of the persistent kernel cache and of batch compilation: a miss then a hit
// give the same results and the hit leaves the entry alone; truncated or altered
// entries are detected, dropped and rebuilt; several actc processes filling one cache
// at once all succeed and leave valid entries only; a disabled cache writes nothing;
// Module::compileKernels gives the same kernels as compiling one by one. Each test
// has a fresh cache directory of its own. `[.latency]` prints compile-time figures.
#include "act/act.h"

#include "TestSupport.h"
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <sys/stat.h>
#include <unistd.h>

namespace fs = std::filesystem;
using act::DType;
using act::Layout;
using act::TensorShape;

namespace {
using act_test::sameBits;


/// Every file in `dir` (name -> inode), empty when it does not exist.
std::map<std::string, ino_t> listFiles(const std::string &dir) {
  std::map<std::string, ino_t> out;
  std::error_code ec;
  if (!fs::exists(dir, ec))
    return out;
  for (const auto &entry : fs::directory_iterator(dir)) {
    struct stat st;
    REQUIRE(::stat(entry.path().c_str(), &st) == 0);
    out[entry.path().filename().string()] = st.st_ino;
  }
  return out;
}

std::vector<std::string> entries(const std::string &dir) {
  std::vector<std::string> out;
  for (auto &[name, inode] : listFiles(dir))
    if (name.size() > 5 && name.compare(name.size() - 5, 5, ".actk") == 0)
      out.push_back(dir + "/" + name);
  return out;
}

act::CompileOptions withCache(const std::string &dir) {
  act::CompileOptions o;
  o.cacheDir = dir;
  return o;
}

const char *kSource = "act swishb(x; beta[C] = 1.5) = x * sigmoid(beta * x)\n"
                      "act softsign2(x) = x / (1 + abs(x)) + 0.25 * x\n";

/// Forward (both layouts) and backward outputs of `name`, f32, over a small tensor:
/// everything a kernel computes, to compare bit for bit.
std::vector<float> runAll(const act::Module &m, const std::string &name) {
  const act::Activation &a = m.get(name);
  std::vector<float> out;
  for (Layout layout : {Layout::NCS, Layout::NSC}) {
    TensorShape shape{2, 3, 5, layout};
    size_t count = (size_t)shape.numElements();
    std::vector<float> x(count), y(count), dy(count, 1.0f), dx(count);
    for (size_t i = 0; i < count; ++i)
      x[i] = -3.0f + 0.37f * (float)i;
    const float *in[] = {x.data()};
    a.forward(shape, in, y.data());
    std::vector<std::vector<float>> dparams;
    std::vector<float *> dparamPtrs;
    for (const act::ParamInfo &p : a.params()) {
      dparams.emplace_back((size_t)p.numValues(shape));
    }
    for (auto &d : dparams)
      dparamPtrs.push_back(d.data());
    float *dinputs[] = {dx.data()};
    a.backward(shape, in, dy.data(), dinputs, dparamPtrs.data());
    out.insert(out.end(), y.begin(), y.end());
    out.insert(out.end(), dx.begin(), dx.end());
    for (auto &d : dparams)
      out.insert(out.end(), d.begin(), d.end());
  }
  return out;
}

double msSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
      .count();
}

/// Milliseconds to build `name`'s f32 forward and backward kernels (the first
/// forward and backward calls on one element, parameter gradients included).
double timeFirstCall(const act::Module &m, const std::string &name) {
  const act::Activation &a = m.get(name);
  float x = 0.5f, y = 0, dy = 1, dx = 0;
  const float *in[] = {&x};
  float *din[] = {&dx};
  std::vector<std::vector<float>> dparams;
  std::vector<float *> dptr;
  for (const act::ParamInfo &p : a.params()) {
    dparams.emplace_back((size_t)p.numValues(act_test::kOne));
    dptr.push_back(dparams.back().data());
  }
  auto t0 = std::chrono::steady_clock::now();
  a.forward(act_test::kOne, in, &y);
  a.backward(act_test::kOne, in, &dy, din, dptr.data());
  return msSince(t0);
}

/// Sets an environment variable for the scope of a test.
struct ScopedEnv {
  std::string name;
  bool had;
  std::string old;
  ScopedEnv(const char *n, const char *value) : name(n) {
    const char *v = std::getenv(n);
    had = v != nullptr;
    if (had)
      old = v;
    if (value)
      ::setenv(n, value, 1);
    else
      ::unsetenv(n);
  }
  ~ScopedEnv() {
    if (had)
      ::setenv(name.c_str(), old.c_str(), 1);
    else
      ::unsetenv(name.c_str());
  }
};

} // namespace

TEST_CASE("a cache miss then a hit give the same results; the hit leaves the entry alone",
          "[cache]") {
  act_test::TempDir dir{"act-cache-test"};
  std::vector<float> fresh, uncached, cached;
  double missMs, hitMs;
  {
    act::Module m = act::Module::compile(kSource, "<cache>", withCache(dir.path));
    missMs = timeFirstCall(m, "swishb");
    fresh = runAll(m, "swishb");
  }
  // One entry per element type and layout run: a layout's first call compiles its
  // forward and backward kernels as one build (CompileOptions::lazyBackward false).
  std::vector<std::string> stored = entries(dir.path);
  REQUIRE(stored.size() == 2);
  auto before = listFiles(dir.path);
  {
    act::Module m = act::Module::compile(kSource, "<cache>", withCache(dir.path));
    hitMs = timeFirstCall(m, "swishb");
    cached = runAll(m, "swishb");
  }
  CHECK(listFiles(dir.path) == before); // no rewrite: same file, same inode
  {
    act::CompileOptions off;
    off.useCache = false;
    act::Module m = act::Module::compile(kSource, "<cache>", off);
    uncached = runAll(m, "swishb");
  }
  CHECK(sameBits(fresh, cached));
  CHECK(sameBits(fresh, uncached));
  std::printf("kernel cache: miss (compile + store) %.2f ms, hit (load + link) %.3f ms\n",
              missMs, hitMs);

  // Another spelling of the same definition (whitespace, a comment) is the same entry.
  {
    act::Module m = act::Module::compile(
        "# respelled\nact swishb(x;beta[C]=1.5)=x*sigmoid(beta*x)", "<other>",
        withCache(dir.path));
    CHECK(sameBits(runAll(m, "swishb"), fresh));
  }
  CHECK(listFiles(dir.path) == before);

  // Another activation, and another element type of the same one, are entries of their own.
  {
    act::Module m = act::Module::compile(kSource, "<cache>", withCache(dir.path));
    runAll(m, "softsign2");
    double x = 1, y = 0;
    const double *in[] = {&x};
    m.get("swishb").forward(act_test::kOne, in, &y);
  }
  // swishb f32: 2 layouts; softsign2 f32: 1 (no parameter varies along N or C:
  // every shape runs as one channels-first row); swishb f64: 1
  CHECK(entries(dir.path).size() == 4);
}

TEST_CASE("damaged cache entries are detected, dropped and rebuilt", "[cache]") {
  act_test::TempDir dir{"act-cache-test"};
  std::vector<float> expected;
  {
    act::Module m = act::Module::compile(kSource, "<cache>", withCache(dir.path));
    expected = runAll(m, "softsign2");
  }
  std::vector<std::string> stored = entries(dir.path);
  REQUIRE(stored.size() == 1); // forward+backward, both layouts as one row
  const std::string path = stored[0];
  std::string good;
  {
    std::ifstream in(path, std::ios::binary);
    good.assign(std::istreambuf_iterator<char>(in), {});
  }
  REQUIRE(good.size() > 200);

  struct Damage {
    const char *what;
    std::string bytes;
  };
  std::vector<Damage> damages;
  damages.push_back({"truncated payload", good.substr(0, good.size() / 2)});
  damages.push_back({"truncated header", good.substr(0, 40)});
  damages.push_back({"empty file", ""});
  std::string flipped = good;
  for (size_t i = good.size() / 2; i < good.size() / 2 + 8; ++i)
    flipped[i] ^= 0x5a;
  damages.push_back({"flipped payload bytes", flipped});
  std::string badKey = good;
  badKey[20] ^= 1;
  damages.push_back({"flipped key byte", badKey});
  std::string badMagic = good;
  badMagic[0] = 'X';
  damages.push_back({"bad magic", badMagic});
  std::string longer = good + "trailing garbage";
  damages.push_back({"trailing bytes", longer});

  for (const Damage &d : damages) {
    INFO(d.what);
    {
      std::ofstream out(path, std::ios::binary | std::ios::trunc);
      out << d.bytes;
    }
    act::Module m = act::Module::compile(kSource, "<cache>", withCache(dir.path));
    CHECK(sameBits(runAll(m, "softsign2"), expected));
    // Rebuilt and stored again, whole.
    std::ifstream in(path, std::ios::binary);
    std::string now((std::istreambuf_iterator<char>(in)), {});
    CHECK(now.size() == good.size());
    CHECK(entries(dir.path).size() == 1);
  }
  // And the rebuilt entry is a good one: the next process-like use hits it.
  auto before = listFiles(dir.path);
  act::Module m = act::Module::compile(kSource, "<cache>", withCache(dir.path));
  CHECK(sameBits(runAll(m, "softsign2"), expected));
  CHECK(listFiles(dir.path) == before);
}

TEST_CASE("several processes filling one cache at once all succeed", "[cache]") {
  act_test::TempDir dir{"act-cache-test"};
  std::string src = dir.path + "/race.act";
  {
    std::ofstream out(src);
    out << "act racer(x; a = 0.3) = x * tanh(softplus(a * x)) + a\n";
  }
  std::string cacheDir = dir.path + "/cache";
  const int kProcs = 8;
  std::string cmd = "cd '" + dir.path + "' && for i in $(seq " + std::to_string(kProcs) +
                    "); do ACT_CACHE_DIR='" + cacheDir + "' '" ACT_ACTC_PATH +
                    "' eval race.act --fn racer --x -1,0,2.5 --grad > out.$i 2> err.$i & done; "
                    "wait; for i in $(seq " + std::to_string(kProcs) +
                    "); do cmp -s out.1 out.$i || exit 1; done; test -s out.1";
  int rc = std::system(cmd.c_str());
  if (rc != 0) {
    std::ifstream err(dir.path + "/err.1");
    std::string text((std::istreambuf_iterator<char>(err)), {});
    INFO("actc stderr: " << text);
    CHECK(rc == 0);
  }
  // Only whole entries (no temporaries), at least the activation's.
  auto files = listFiles(cacheDir);
  REQUIRE(!files.empty());
  for (auto &[name, inode] : files)
    CHECK(name.size() > 5);
  for (auto &[name, inode] : files)
    CHECK(name.find(".tmp.") == std::string::npos);
  // Every entry is valid: this process finds them (and replaces none).
  act::Module m = act::Module::compileFile(src, withCache(cacheDir));
  act::CompileOptions off;
  off.useCache = false;
  act::Module ref = act::Module::compileFile(src, off);
  CHECK(sameBits(runAll(m, "racer"), runAll(ref, "racer")));
  // The entries the processes wrote are still there, unchanged (runAll adds the
  // channels-last one, which `actc eval` never compiled).
  auto after = listFiles(cacheDir);
  for (auto &entry : files)
    CHECK(std::find(after.begin(), after.end(), entry) != after.end());
}

TEST_CASE("a disabled cache writes nothing", "[cache]") {
  act_test::TempDir dir{"act-cache-test"};
  SECTION("useCache = false") {
    act::CompileOptions o = withCache(dir.path + "/c");
    o.useCache = false;
    act::Module m = act::Module::compile(kSource, "<cache>", o);
    runAll(m, "swishb");
    m.compileKernels(DType::F64);
    CHECK(listFiles(dir.path + "/c").empty());
  }
  SECTION("ACT_CACHE_DIR=off") {
    ScopedEnv env("ACT_CACHE_DIR", "off");
    ScopedEnv xdg("XDG_CACHE_HOME", (dir.path + "/xdg").c_str());
    ScopedEnv home("HOME", (dir.path + "/home").c_str());
    act::Module m = act::Module::compile(kSource, "<cache>");
    runAll(m, "swishb");
    CHECK(listFiles(dir.path).empty());
  }
  SECTION("ACT_CACHE_DIR empty") {
    ScopedEnv env("ACT_CACHE_DIR", "");
    ScopedEnv xdg("XDG_CACHE_HOME", (dir.path + "/xdg").c_str());
    act::Module m = act::Module::compile(kSource, "<cache>");
    runAll(m, "softsign2");
    CHECK(listFiles(dir.path).empty());
  }
  SECTION("without ACT_CACHE_DIR the default is $XDG_CACHE_HOME/act") {
    ScopedEnv env("ACT_CACHE_DIR", nullptr);
    ScopedEnv xdg("XDG_CACHE_HOME", (dir.path + "/xdg").c_str());
    act::Module m = act::Module::compile(kSource, "<cache>");
    runAll(m, "softsign2");
    CHECK(entries(dir.path + "/xdg/act").size() == 1); // forward+backward, one row
  }
}

TEST_CASE("compileKernels builds a batch as one unit with the same results", "[cache][batch]") {
  act_test::TempDir dir{"act-cache-test"};
  std::string source;
  std::vector<std::string> names;
  for (int i = 0; i < 6; ++i) {
    std::string name = "cand" + std::to_string(i);
    names.push_back(name);
    source += "act " + name + "(x; a[C] = 0." + std::to_string(i + 1) + ") = x * sigmoid(a * x) + " +
              std::to_string(i) + " * tanh(x) / 8\n";
  }
  act::CompileOptions off;
  off.useCache = false;
  act::Module single = act::Module::compile(source, "<batch>", off);
  act::Module batch = act::Module::compile(source, "<batch>", withCache(dir.path));
  batch.compileKernels(DType::F32, {"cand1", "cand3"});
  CHECK(entries(dir.path).size() == 1);
  batch.compileKernels(DType::F32); // the other four, one more entry
  CHECK(entries(dir.path).size() == 2);
  batch.compileKernels(DType::F32); // nothing left to do
  CHECK(entries(dir.path).size() == 2);
  for (const std::string &name : names) {
    INFO(name);
    CHECK(sameBits(runAll(batch, name), runAll(single, name)));
  }
  // A second module with the same batches hits both entries.
  auto before = listFiles(dir.path);
  act::Module again = act::Module::compile(source, "<batch>", withCache(dir.path));
  again.compileKernels(DType::F32, {"cand1", "cand3"});
  again.compileKernels(DType::F32);
  CHECK(listFiles(dir.path) == before);
  CHECK(sameBits(runAll(again, "cand5"), runAll(single, "cand5")));

  CHECK_THROWS_AS(batch.compileKernels(DType::F32, {"cand1", "nope"}), act::Error);
  act::CompileOptions cuda;
  cuda.target = act::Target::CUDA;
  act::Module gpu = act::Module::compile(source, "<batch>", cuda);
  CHECK_THROWS_AS(gpu.compileKernels(), act::Error);
}

namespace {
/// A family of small, different activations for latency figures.
std::string latencySource(int count, const std::string &prefix) {
  const char *bodies[] = {
      "x * sigmoid(a * x)",          "x * tanh(softplus(x)) + a",   "max(x, a * x)",
      "x / (1 + abs(x)) * a",        "log(1 + exp(a * x)) - x",     "x * (1 + tanh(a * x)) / 2",
      "exp(-a * x * x)",             "smooth_max(x, a * x; 4.0)",   "x * erf(a * x)",
      "sin(a * x) + x",              "x * x * a - x",               "tanh(x) * a + x / 4",
      "sigmoid(x) * sigmoid(a * x)", "sqrt(1 + x * x) * a - 1",     "x * cos(a * x)",
      "softplus(a * x) / a",         "min(x, a) + max(x, -a)",      "x * sigmoid(x) * a + tanh(x)",
      "exp(x) / (1 + exp(a * x))",   "x - tanh(a * x)",             "atan(a * x) * x",
  };
  std::string out;
  for (int i = 0; i < count; ++i)
    out += "act " + prefix + std::to_string(i) + "(x; a = 0." + std::to_string(3 + i % 7) +
           ") = " + bodies[i % (sizeof(bodies) / sizeof(bodies[0]))] + "\n";
  return out;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}
} // namespace

TEST_CASE("compile latency figures", "[.latency]") {
  act_test::TempDir dir{"act-cache-test"};
  const int kCount = 20;
  act::CompileOptions off;
  off.useCache = false;

  auto t0 = std::chrono::steady_clock::now();
  act::Module first = act::Module::compile("act first(x; a = 0.5) = x * sigmoid(a * x)",
                                           "<first>", off);
  double firstModule = msSince(t0);
  double firstKernels = timeFirstCall(first, "first");
  std::printf("first in process: Module::compile %.1f ms (includes JIT warm-up), "
              "kernels %.1f ms\n",
              firstModule, firstKernels);

  for (int round = 0; round < 2; ++round) {
    std::string prefix = round ? "u" : "t";
    std::string source = latencySource(kCount, prefix);
    t0 = std::chrono::steady_clock::now();
    act::Module m = act::Module::compile(source, "<latency>", off);
    double parse = msSince(t0);
    std::vector<double> times;
    for (int i = 0; i < kCount; ++i)
      times.push_back(timeFirstCall(m, prefix + std::to_string(i)));
    std::printf("cache off: Module::compile of %d definitions %.1f ms; kernels "
                "(fwd+bwd, f32, one layout) per activation: median %.2f ms, min %.2f, "
                "max %.2f\n",
                kCount, parse, median(times), *std::min_element(times.begin(), times.end()),
                *std::max_element(times.begin(), times.end()));
  }

  {
    // Inference only: the forward kernel alone.
    act::CompileOptions lazy = off;
    lazy.lazyBackward = true;
    std::string source = latencySource(kCount, "f");
    act::Module m = act::Module::compile(source, "<latency>", lazy);
    std::vector<double> times;
    for (int i = 0; i < kCount; ++i) {
      const act::Activation &a = m.get("f" + std::to_string(i));
      float x = 0.5f, y = 0;
      const float *in[] = {&x};
      auto t = std::chrono::steady_clock::now();
      a.forward(act_test::kOne, in, &y);
      times.push_back(msSince(t));
    }
    std::printf("cache off, lazyBackward: forward kernel alone per activation: median %.2f "
                "ms\n", median(times));
  }

  std::string source = latencySource(kCount, "c");
  {
    act::Module fill = act::Module::compile(source, "<latency>", withCache(dir.path));
    std::vector<double> times;
    for (int i = 0; i < kCount; ++i)
      times.push_back(timeFirstCall(fill, "c" + std::to_string(i)));
    std::printf("cache miss (compile + store): median %.2f ms\n", median(times));
  }
  {
    act::Module hit = act::Module::compile(source, "<latency>", withCache(dir.path));
    std::vector<double> times;
    for (int i = 0; i < kCount; ++i)
      times.push_back(timeFirstCall(hit, "c" + std::to_string(i)));
    std::printf("cache hit (hash + read + link): median %.3f ms, max %.3f ms\n",
                median(times), *std::max_element(times.begin(), times.end()));
  }

  {
    // Per-channel parameters (ACON-C's form): channels-last backward kernels are
    // compiled for the column class of the shape (here columns in cache).
    std::string source;
    for (int i = 0; i < kCount; ++i)
      source += "act p" + std::to_string(i) + "(x; p1[C] = 1.0, p2[C] = 0." + std::to_string(i % 7) +
                ", beta[C] = 1.0) = smooth_max(p1 * x, p2 * x; beta)\n";
    act::Module m = act::Module::compile(source, "<latency>", off);
    for (act::Layout layout : {act::Layout::NCS, act::Layout::NSC}) {
      const act::TensorShape shape{1, 64, 16, layout};
      std::vector<float> x(1024, 0.5f), y(1024), dy(1024, 1.0f), dx(1024);
      std::vector<std::vector<float>> p(3, std::vector<float>(64, 1.0f)), dp = p;
      const float *in[] = {x.data()}, *pp[] = {p[0].data(), p[1].data(), p[2].data()};
      float *din[] = {dx.data()}, *dpp[] = {dp[0].data(), dp[1].data(), dp[2].data()};
      std::vector<double> times;
      for (int i = 0; i < kCount; ++i) {
        const act::Activation &a = m.get("p" + std::to_string(i));
        auto t = std::chrono::steady_clock::now();
        a.forward(shape, in, y.data(), pp);
        a.backward(shape, in, dy.data(), din, dpp, pp);
        times.push_back(msSince(t));
      }
      std::printf("cache off, per-channel parameters, %s: kernels (fwd+bwd, f32) per "
                  "activation: median %.2f ms\n",
                  layout == act::Layout::NCS ? "ncs" : "nsc", median(times));
    }
  }

  for (int n : {20, 200}) {
    std::string batchSource = latencySource(n, "b" + std::to_string(n) + "_");
    act::Module m = act::Module::compile(batchSource, "<batch>", off);
    t0 = std::chrono::steady_clock::now();
    m.compileKernels(DType::F32);
    double total = msSince(t0);
    std::printf("batch of %d (cache off): %.1f ms, %.2f ms per activation\n", n, total,
                total / n);
    act::Module c = act::Module::compile(batchSource, "<batch>", withCache(dir.path));
    c.compileKernels(DType::F32);
    act::Module h = act::Module::compile(batchSource, "<batch>", withCache(dir.path));
    t0 = std::chrono::steady_clock::now();
    h.compileKernels(DType::F32);
    total = msSince(t0);
    std::printf("batch of %d (cache hit): %.2f ms, %.3f ms per activation\n", n, total,
                total / n);
  }
}
