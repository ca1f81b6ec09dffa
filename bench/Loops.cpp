// Hand-written C++ loops for act's benchmark peers: the code a user would write for
// each activation, in float with <cmath>, forward and backward (dx, and parameter
// gradients accumulated in double). Compiled -O3 -march=native (bench/CMakeLists.txt);
// no -ffast-math, as a user's default build would have none.
#include "Peers.h"

#include <cmath>
#include <thread>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace actbench {
namespace {

/// Where parameter k's value for sample n, channel c lives.
enum class Kind { Scalar, C, NC, Table17 };

int64_t index(Kind kind, int64_t n, int64_t c, int64_t channels) {
  switch (kind) {
  case Kind::Scalar:
    return 0;
  case Kind::C:
    return c;
  case Kind::NC:
    return n * channels + c;
  case Kind::Table17:
    return c * 17;
  }
  return 0;
}

int64_t numValues(Kind kind, const Problem &p) {
  switch (kind) {
  case Kind::Scalar:
    return 1;
  case Kind::C:
    return p.c;
  case Kind::NC:
    return p.n * p.c;
  case Kind::Table17:
    return p.c * 17;
  }
  return 0;
}

/// fn(i) for i in [0, count), over `threads` threads (count <= threads).
template <typename Fn>
void parallelFor(int64_t count, unsigned threads, Fn &&fn) {
#ifdef _OPENMP
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t i = 0; i < count; ++i)
    fn(i);
#else
  // One thread per chunk (the loops make `threads` chunks), this one taking the first.
  (void)threads;
  std::vector<std::thread> pool;
  for (int64_t i = 1; i < count; ++i)
    pool.emplace_back([&, i] { fn(i); });
  if (count > 0)
    fn(0);
  for (std::thread &t : pool)
    t.join();
#endif
}

float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

// --- the activations --------------------------------------------------------------
// Each has `kinds` (its parameters, seeds.act order), `f` (forward at one element) and
// `grad` (returns dy * df/dx and adds dy * df/dparam into g[k][...], the double
// accumulators of parameter k at this element's sample and channel).

struct Swish { // x * sigmoid(beta * x)
  static constexpr Kind kinds[] = {Kind::Scalar};
  static float f(float x, const float *const *p) { return x * sigmoid(p[0][0] * x); }
  static float grad(float x, float dy, const float *const *p, double *const *g) {
    float beta = p[0][0], s = sigmoid(beta * x), ds = s * (1.0f - s);
    g[0][0] += (double)(dy * x * x * ds);
    return dy * (s + beta * x * ds);
  }
};

struct AconC { // (p1 - p2) x sigmoid(beta (p1 - p2) x) + p2 x
  static constexpr Kind kinds[] = {Kind::C, Kind::C, Kind::C};
  static float f(float x, const float *const *p) {
    float d = (p[0][0] - p[1][0]) * x;
    return d * sigmoid(p[2][0] * d) + p[1][0] * x;
  }
  static float grad(float x, float dy, const float *const *p, double *const *g) {
    float p1 = p[0][0], p2 = p[1][0], beta = p[2][0];
    float d = (p1 - p2) * x, s = sigmoid(beta * d), ds = s * (1.0f - s);
    float dfdd = s + beta * d * ds; // d/dd of d * sigmoid(beta d)
    g[0][0] += (double)(dy * x * dfdd);
    g[1][0] += (double)(dy * x * (1.0f - dfdd));
    g[2][0] += (double)(dy * d * d * ds);
    return dy * ((p1 - p2) * dfdd + p2);
  }
};

struct MetaAconC : AconC { // the same with beta[N,C]
  static constexpr Kind kinds[] = {Kind::C, Kind::C, Kind::NC};
};

struct Pwlu { // 16 uniform segments on [bl, br], linear extensions outside
  static constexpr Kind kinds[] = {Kind::Table17, Kind::C, Kind::C, Kind::C, Kind::C};
  static constexpr int kSegments = 16;
  static float f(float x, const float *const *p) {
    const float *y = p[0];
    float bl = p[1][0], br = p[2][0];
    if (x < bl)
      return y[0] + p[3][0] * (x - bl);
    if (x > br)
      return y[kSegments] + p[4][0] * (x - br);
    float u = (x - bl) / ((br - bl) / kSegments);
    int i = std::min(kSegments - 1, std::max(0, (int)std::floor(u)));
    float t = u - (float)i;
    return y[i] + t * (y[i + 1] - y[i]);
  }
  static float grad(float x, float dy, const float *const *p, double *const *g) {
    const float *y = p[0];
    float bl = p[1][0], br = p[2][0];
    if (x < bl) {
      float kl = p[3][0];
      g[0][0] += dy;
      g[1][0] -= (double)(dy * kl);
      g[3][0] += (double)(dy * (x - bl));
      return dy * kl;
    }
    if (x > br) {
      float kr = p[4][0];
      g[0][kSegments] += dy;
      g[2][0] -= (double)(dy * kr);
      g[4][0] += (double)(dy * (x - br));
      return dy * kr;
    }
    float width = (br - bl) / kSegments, u = (x - bl) / width;
    int i = std::min(kSegments - 1, std::max(0, (int)std::floor(u)));
    float t = u - (float)i, slope = (y[i + 1] - y[i]) / width;
    g[0][i] += (double)(dy * (1.0f - t));
    g[0][i + 1] += (double)(dy * t);
    // u = 16 (x - bl) / (br - bl): du/dbl = 16 (x - br) / (br - bl)^2,
    // du/dbr = -16 (x - bl) / (br - bl)^2; df/du = y[i+1] - y[i] = slope * width.
    float span = br - bl;
    g[1][0] += (double)(dy * slope * (x - br) / span);
    g[2][0] -= (double)(dy * slope * (x - bl) / span);
    return dy * slope;
  }
};

struct Mish { // x tanh(log(1 + e^x))
  static constexpr Kind kinds[] = {Kind::Scalar}; // (none; the slot is unused)
  static constexpr bool none = true;
  static float f(float x, const float *const *) { return x * std::tanh(std::log1p(std::exp(x))); }
  static float grad(float x, float dy, const float *const *, double *const *) {
    float t = std::tanh(std::log1p(std::exp(x)));
    return dy * (t + x * (1.0f - t * t) * sigmoid(x));
  }
};

struct Gelu { // 0.5 x (1 + erf(x / sqrt 2))
  static constexpr Kind kinds[] = {Kind::Scalar};
  static constexpr bool none = true;
  static float f(float x, const float *const *) {
    return 0.5f * x * (1.0f + std::erf(x * 0.70710678f));
  }
  static float grad(float x, float dy, const float *const *, double *const *) {
    float cdf = 0.5f * (1.0f + std::erf(x * 0.70710678f));
    return dy * (cdf + x * 0.39894228f * std::exp(-0.5f * x * x));
  }
};

template <typename A, typename = void>
struct ParamCount {
  static constexpr size_t value = sizeof(A::kinds) / sizeof(Kind);
};
template <typename A>
struct ParamCount<A, decltype((void)A::none)> {
  static constexpr size_t value = 0;
};

template <typename A>
class LoopKernel : public Kernel {
  static constexpr size_t K = ParamCount<A>::value;

public:
  explicit LoopKernel(const Problem &p) : p(p) {
    rows = p.channelsLast ? p.n * p.s : p.n * p.c;
    rowLen = p.channelsLast ? p.c : p.s;
    chunks = std::max<int64_t>(1, std::min<int64_t>(rows, p.threads));
  }

  void forward() override {
    parallelFor(chunks, p.threads, [&](int64_t chunk) {
      eachRow(chunk, p.y, [&](int64_t row, const float *x, float *y) {
        const float *pp[K + 1];
        if (!p.channelsLast) { // one channel per row: its parameters are fixed
          params(row / p.c, row % p.c, pp);
          for (int64_t j = 0; j < rowLen; ++j)
            y[j] = A::f(x[j], pp);
        } else {
          for (int64_t j = 0; j < rowLen; ++j) {
            params(row / p.s, j, pp);
            y[j] = A::f(x[j], pp);
          }
        }
      });
    });
  }

  void backward() override {
    std::vector<std::vector<double>> acc((size_t)chunks * K);
    parallelFor(chunks, p.threads, [&](int64_t chunk) {
      double *base[K + 1];
      for (size_t k = 0; k < K; ++k) {
        acc[chunk * K + k].assign((size_t)numValues(A::kinds[k], p), 0.0);
        base[k] = acc[chunk * K + k].data();
      }
      eachRow(chunk, p.dx, [&](int64_t row, const float *x, float *dx) {
        const float *pp[K + 1];
        double *g[K + 1];
        const float *dy = p.dy + (x - p.x);
        auto at = [&](int64_t n, int64_t c) {
          params(n, c, pp);
          for (size_t k = 0; k < K; ++k)
            g[k] = base[k] + index(A::kinds[k], n, c, p.c);
        };
        if (!p.channelsLast) {
          at(row / p.c, row % p.c);
          for (int64_t j = 0; j < rowLen; ++j)
            dx[j] = A::grad(x[j], dy[j], pp, g);
        } else {
          for (int64_t j = 0; j < rowLen; ++j) {
            at(row / p.s, j);
            dx[j] = A::grad(x[j], dy[j], pp, g);
          }
        }
      });
    });
    for (size_t k = 0; k < K; ++k) // chunks summed in order, rounded once
      for (size_t v = 0; v < acc[k].size(); ++v) {
        double sum = 0;
        for (int64_t chunk = 0; chunk < chunks; ++chunk)
          sum += acc[chunk * K + k][v];
        p.dparams[k][v] = (float)sum;
      }
  }

private:
  void params(int64_t n, int64_t c, const float **pp) const {
    for (size_t k = 0; k < K; ++k)
      pp[k] = p.params[k] + index(A::kinds[k], n, c, p.c);
  }
  /// fn(row, x + off, out + off) for each row of this chunk.
  template <typename Fn>
  void eachRow(int64_t chunk, float *out, Fn &&fn) const {
    int64_t begin = rows * chunk / chunks, end = rows * (chunk + 1) / chunks;
    for (int64_t row = begin; row < end; ++row)
      fn(row, p.x + row * rowLen, out + row * rowLen);
  }

  Problem p;
  int64_t rows = 0, rowLen = 0, chunks = 1;
};

} // namespace

const std::vector<std::string> &peerActivations() {
  static const std::vector<std::string> names = {"swish", "acon_c", "meta_acon_c",
                                                 "pwlu",  "mish",   "gelu_"};
  return names;
}

std::vector<std::string> expectedParams(const std::string &fn, bool *known) {
  static const std::vector<std::pair<std::string, std::vector<std::string>>> table = {
      {"swish", {""}},
      {"acon_c", {"[C]", "[C]", "[C]"}},
      {"meta_acon_c", {"[C]", "[C]", "[N,C]"}},
      {"pwlu", {"[C,17]", "[C]", "[C]", "[C]", "[C]"}},
      {"mish", {}},
      {"gelu_", {}}};
  for (const auto &[name, shapes] : table)
    if (name == fn) {
      if (known)
        *known = true;
      return shapes;
    }
  if (known)
    *known = false;
  return {};
}

std::unique_ptr<Kernel> makeLoop(const std::string &fn, const Problem &problem) {
  if (fn == "swish")
    return std::make_unique<LoopKernel<Swish>>(problem);
  if (fn == "acon_c")
    return std::make_unique<LoopKernel<AconC>>(problem);
  if (fn == "meta_acon_c")
    return std::make_unique<LoopKernel<MetaAconC>>(problem);
  if (fn == "pwlu")
    return std::make_unique<LoopKernel<Pwlu>>(problem);
  if (fn == "mish")
    return std::make_unique<LoopKernel<Mish>>(problem);
  if (fn == "gelu_")
    return std::make_unique<LoopKernel<Gelu>>(problem);
  return nullptr;
}

const char *loopThreading() {
#ifdef _OPENMP
  return "OpenMP";
#else
  return "std::thread";
#endif
}

} // namespace actbench
