// Channels-last gradients by columns: when C fills the vectors (4 C >= 3 * lanes *
// ceil(C / lanes)), nsc backward kernels run each group of channels down blocks of
// rows. Checked against float64 references written out here, for float and double,
// with C a multiple of the lanes, with a masked last group, too narrow for columns
// (C = 17 at 16 lanes: along rows), and past 4M elements (the unstaged column loop,
// wide steps of 4 groups); bitwise the same on 1 and 7 threads.
#include "TestSupport.h"

#include "act/act.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

namespace {

const std::vector<act::TensorShape> kShapes = {
    {3, 12, 37, act::Layout::NSC},  {2, 24, 101, act::Layout::NSC}, {3, 60, 19, act::Layout::NSC},
    {2, 64, 33, act::Layout::NSC},  {1, 200, 45, act::Layout::NSC}, {2, 17, 50, act::Layout::NSC},
    {40, 16, 3, act::Layout::NSC},
    // Past 4M elements (kStreamingElements) the column steps run their unstaged loop,
    // and without tables whole runs of 4 groups go as one wide step: none at C = 48
    // in float (three groups; one wide step and two groups in double), one and two
    // groups and a masked one at C = 100, and for two samples at C = 64.
    {1, 48, 87382, act::Layout::NSC}, {1, 100, 41944, act::Layout::NSC},
    {2, 64, 32769, act::Layout::NSC}};

template <typename T> bool sameBits(const std::vector<T> &a, const std::vector<T> &b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

template <typename T> constexpr double tolerance() { return sizeof(T) == 4 ? 1e-5 : 1e-11; }

/// Runs backward with y (fused) on `threads` threads; returns y, dx, then each
/// parameter's gradient.
template <typename T>
std::vector<std::vector<T>> backward(const act::Activation &f, const act::TensorShape &shape,
                                     const std::vector<T> &x, const std::vector<T> &dy,
                                     const std::vector<std::vector<T>> &params, unsigned threads) {
  act::setNumThreads(threads);
  std::vector<std::vector<T>> out;
  out.emplace_back(x.size());
  out.emplace_back(x.size());
  std::vector<const T *> pp;
  std::vector<T *> dp;
  for (const auto &p : params) {
    pp.push_back(p.data());
    out.emplace_back(p.size());
  }
  for (size_t k = 0; k < params.size(); ++k)
    dp.push_back(out[2 + k].data());
  const T *in[] = {x.data()};
  T *din[] = {out[1].data()};
  f.backward(shape, in, dy.data(), din, dp.data(), pp.data(), out[0].data());
  act::setNumThreads(0);
  return out;
}

/// backward on 7 threads, checked bitwise against 1 thread.
template <typename T>
std::vector<std::vector<T>> backwardOnSevenAndOne(const act::Activation &f,
                                                  const act::TensorShape &shape,
                                                  const std::vector<T> &x, const std::vector<T> &dy,
                                                  const std::vector<std::vector<T>> &params) {
  auto got = backward(f, shape, x, dy, params, 7);
  auto one = backward(f, shape, x, dy, params, 1);
  for (size_t k = 0; k < got.size(); ++k) {
    INFO("result " << k);
    CHECK(sameBits(got[k], one[k]));
  }
  return got;
}

template <typename T> void perKindParameters() {
  act::Module mod = act::Module::compile(
      "act g(x; a[C] = 1.0, m[N,C] = 0.5, t[N] = 0.0, s = 0.25) = "
      "a * x + m * x * x + t * x + s * x * x * x");
  const act::Activation &g = mod.get("g");
  for (const act::TensorShape &shape : kShapes) {
    INFO("N=" << shape.n << " C=" << shape.c << " S=" << shape.s << " bytes " << sizeof(T));
    size_t count = (size_t)shape.numElements(), C = (size_t)shape.c, N = (size_t)shape.n;
    std::vector<T> x(count), dy(count);
    for (size_t i = 0; i < count; ++i) {
      x[i] = (T)(1.5 * std::sin(0.37 * (double)i));
      dy[i] = (T)std::cos(0.11 * (double)i);
    }
    std::vector<std::vector<T>> params = {std::vector<T>(C), std::vector<T>(N * C),
                                          std::vector<T>(N), std::vector<T>(1, (T)0.25)};
    for (size_t c = 0; c < C; ++c)
      params[0][c] = (T)(1.0 + 0.125 * (double)(c % 7));
    for (size_t k = 0; k < N * C; ++k)
      params[1][k] = (T)(0.25 * (double)(k % 5) - 0.5);
    for (size_t n = 0; n < N; ++n)
      params[2][n] = (T)(0.5 * (double)(n % 3));
    auto got = backwardOnSevenAndOne(g, shape, x, dy, params);

    std::vector<act_test::RefSum> wantA(C), wantM(N * C), wantT(N);
    act_test::RefSum wantS;
    size_t bad = 0, perSample = count / N;
    const auto &a = params[0], &m = params[1], &t = params[2];
    double s = params[3][0];
    for (size_t i = 0; i < count; ++i) {
      size_t c = i % C, n = i / perSample, nc = n * C + c;
      double xi = x[i], gi = dy[i];
      double y = a[c] * xi + m[nc] * xi * xi + t[n] * xi + s * xi * xi * xi;
      double dx = gi * (a[c] + 2 * m[nc] * xi + t[n] + 3 * s * xi * xi);
      bad += std::fabs(got[0][i] - y) > tolerance<T>() * std::max(1.0, std::fabs(y));
      bad += std::fabs(got[1][i] - dx) > tolerance<T>() * std::max(1.0, std::fabs(dx));
      wantA[c].add(gi * xi);
      wantM[nc].add(gi * xi * xi);
      wantT[n].add(gi * xi);
      wantS.add(gi * xi * xi * xi);
    }
    CHECK(bad == 0);
    size_t badGrad = 0;
    for (size_t c = 0; c < C; ++c)
      badGrad += !wantA[c].close(got[2][c], tolerance<T>());
    for (size_t k = 0; k < N * C; ++k)
      badGrad += !wantM[k].close(got[3][k], tolerance<T>());
    for (size_t n = 0; n < N; ++n)
      badGrad += !wantT[n].close(got[4][n], tolerance<T>());
    CHECK(badGrad == 0);
    CHECK(wantS.close(got[5][0], tolerance<T>()));
  }
}

/// pwl's value and gradients at x over the table t[0..n] on [lo, hi].
struct PwlRef {
  double y = 0, dx = 0, dlo = 0, dhi = 0, dkl = 0, dkr = 0;
  size_t k = 0;             ///< entries k and k + 1 take wk and wk1
  double wk = 0, wk1 = 0;
};
template <typename T>
PwlRef pwl(double x, const T *t, size_t n, double lo, double hi, double kl, double kr) {
  PwlRef r;
  double d = (hi - lo) / (double)n;
  if (x < lo) {
    r.y = t[0] + kl * (x - lo);
    r.dx = kl;
    r.k = 0;
    r.wk = 1;
    r.dlo = -kl;
    r.dkl = x - lo;
  } else if (x > hi) {
    r.y = t[n] + kr * (x - hi);
    r.dx = kr;
    r.k = n - 1;
    r.wk1 = 1;
    r.dhi = -kr;
    r.dkr = x - hi;
  } else {
    double u = (x - lo) / d;
    r.k = (size_t)std::min((double)(n - 1), std::floor(u));
    double frac = u - (double)r.k, rise = t[r.k + 1] - t[r.k];
    r.y = t[r.k] + rise * frac;
    r.dx = rise / d;
    r.wk = 1 - frac;
    r.wk1 = frac;
    r.dlo = rise * (u - (double)n) / (hi - lo);
    r.dhi = -rise * u / (hi - lo);
  }
  return r;
}

template <typename T> void tables() {
  // A per-channel table y[C,5] (gradients through the [K][C] buffer), a shared one
  // z[4] (reduced across lanes), scalar bounds and per-channel slopes.
  act::Module mod = act::Module::compile(
      "act p(x; y[C,5] = [0, 0, 0, 1, 2], z[4] = [0, 1, 0, 2], bl = -2.0, br = 2.0, "
      "kl[C] = 0.0, kr[C] = 1.0) = pwl(x; y, bl, br, kl, kr) + pwl(x; z, -1.0, 1.0, 0.5, 0.0)");
  const act::Activation &p = mod.get("p");
  // With a table, column steps stay staged from memory while a row's per-channel
  // parameters (y's 5 entries, kl and kr: 28 bytes a channel in float, 56 in
  // double) fit 64 KiB (ColumnClass.h): past 4M elements C = 2400 takes the
  // unstaged steps, the other shapes the staged ones.
  std::vector<act::TensorShape> shapes = kShapes;
  shapes.push_back({1, 2400, 1750, act::Layout::NSC});
  for (const act::TensorShape &shape : shapes) {
    INFO("N=" << shape.n << " C=" << shape.c << " S=" << shape.s << " bytes " << sizeof(T));
    size_t count = (size_t)shape.numElements(), C = (size_t)shape.c;
    std::vector<T> x(count), dy(count);
    for (size_t i = 0; i < count; ++i) {
      x[i] = (T)(2.7 * std::sin(0.37 * (double)i));
      dy[i] = (T)std::cos(0.11 * (double)i);
    }
    std::vector<std::vector<T>> params = {std::vector<T>(C * 5), {(T)0, (T)1, (T)-0.5, (T)2},
                                          {(T)-2.25}, {(T)2}, std::vector<T>(C), std::vector<T>(C)};
    for (size_t e = 0; e < C * 5; ++e)
      params[0][e] = (T)std::cos(0.7 * (double)e);
    for (size_t c = 0; c < C; ++c) {
      params[4][c] = (T)(0.5 - 0.125 * (double)(c % 4));
      params[5][c] = (T)(1.0 + 0.125 * (double)(c % 3));
    }
    auto got = backwardOnSevenAndOne(p, shape, x, dy, params);

    std::vector<double> wantY(C * 5), wantKl(C), wantKr(C), mag(C), wantZ(4);
    double wantBl = 0, wantBr = 0, magAll = 0;
    size_t bad = 0;
    double lo = params[2][0], hi = params[3][0];
    for (size_t i = 0; i < count; ++i) {
      size_t c = i % C;
      double xi = x[i], gi = dy[i];
      PwlRef a = pwl(xi, &params[0][c * 5], 4, lo, hi, params[4][c], params[5][c]);
      PwlRef b = pwl(xi, params[1].data(), 3, -1.0, 1.0, 0.5, 0.0);
      double y = a.y + b.y, dx = gi * (a.dx + b.dx);
      bad += std::fabs(got[0][i] - y) > tolerance<T>() * std::max(1.0, std::fabs(y));
      bad += std::fabs(got[1][i] - dx) > tolerance<T>() * std::max(1.0, std::fabs(dx));
      wantY[c * 5 + a.k] += gi * a.wk;
      wantY[c * 5 + a.k + 1] += gi * a.wk1;
      wantZ[b.k] += gi * b.wk;
      wantZ[b.k + 1] += gi * b.wk1;
      wantBl += gi * a.dlo;
      wantBr += gi * a.dhi;
      wantKl[c] += gi * a.dkl;
      wantKr[c] += gi * a.dkr;
      mag[c] += std::fabs(gi) * (1 + std::fabs(xi));
      magAll += std::fabs(gi) * (1 + std::fabs(xi));
    }
    CHECK(bad == 0);
    size_t badGrad = 0;
    for (size_t e = 0; e < C * 5; ++e)
      badGrad += std::fabs(got[2][e] - wantY[e]) > tolerance<T>() * std::max(1.0, mag[e / 5]);
    for (size_t e = 0; e < 4; ++e)
      badGrad += std::fabs(got[3][e] - wantZ[e]) > tolerance<T>() * magAll;
    for (size_t c = 0; c < C; ++c) {
      badGrad += std::fabs(got[6][c] - wantKl[c]) > tolerance<T>() * std::max(1.0, mag[c]);
      badGrad += std::fabs(got[7][c] - wantKr[c]) > tolerance<T>() * std::max(1.0, mag[c]);
    }
    CHECK(badGrad == 0);
    CHECK(std::fabs(got[4][0] - wantBl) <= tolerance<T>() * magAll);
    CHECK(std::fabs(got[5][0] - wantBr) <= tolerance<T>() * magAll);
  }
}

/// The last column group's lanes past C read x = 0 and dy = 0; where a partial is
/// not finite at 0 (log x), they must add nothing to a shared parameter's sum,
/// which is reduced over every lane (a per-channel parameter's lanes past C are
/// never stored).
template <typename T> void maskedLanes() {
  act::Module mod = act::Module::compile("act q(x; a[C] = 1.0, s = 0.5) = a * x + s * log(x)");
  const act::Activation &q = mod.get("q");
  for (const act::TensorShape &shape :
       {act::TensorShape{3, 60, 19, act::Layout::NSC}, act::TensorShape{2, 100, 45, act::Layout::NSC}}) {
    INFO("C=" << shape.c << " bytes " << sizeof(T));
    size_t count = (size_t)shape.numElements(), C = (size_t)shape.c;
    std::vector<T> x(count), dy(count);
    for (size_t i = 0; i < count; ++i) {
      x[i] = (T)(1.25 + std::sin(0.37 * (double)i));
      dy[i] = (T)std::cos(0.11 * (double)i);
    }
    std::vector<std::vector<T>> params = {std::vector<T>(C), std::vector<T>(1, (T)0.5)};
    for (size_t c = 0; c < C; ++c)
      params[0][c] = (T)(1.0 + 0.125 * (double)(c % 7));
    auto got = backwardOnSevenAndOne(q, shape, x, dy, params);
    std::vector<act_test::RefSum> wantA(C);
    act_test::RefSum wantS;
    for (size_t i = 0; i < count; ++i) {
      double xi = x[i], gi = dy[i];
      wantA[i % C].add(gi * xi);
      wantS.add(gi * std::log(xi));
    }
    size_t badGrad = 0;
    for (size_t c = 0; c < C; ++c)
      badGrad += !wantA[c].close(got[2][c], tolerance<T>());
    CHECK(badGrad == 0);
    CHECK(wantS.close(got[3][0], tolerance<T>()));
  }
}

/// Channels-last forward with per-channel parameters (no table): the runtime
/// compiles the kernel for whether a row's parameters pass 32 KiB (act::rowsUnstaged:
/// 12 bytes a channel in float, 24 in double), the loop it needs alone; calls at C
/// on both sides, and back, each get theirs.
template <typename T> void forwardRowsClasses() {
  act::Module mod =
      act::Module::compile("act r(x; a[C] = 1.0, b[C] = 0.5, c[C] = 0.25) = "
                           "a * x + b * x * x + c * sigmoid(x)");
  const act::Activation &r = mod.get("r");
  for (int64_t channels : {64, 2800, 2731, 64}) {
    act::TensorShape shape{2, channels, 3, act::Layout::NSC};
    INFO("C=" << channels << " bytes " << sizeof(T));
    size_t count = (size_t)shape.numElements(), C = (size_t)channels;
    std::vector<T> x(count), y(count, (T)NAN), a(C), b(C), c(C);
    for (size_t i = 0; i < count; ++i)
      x[i] = (T)(1.5 * std::sin(0.37 * (double)i));
    for (size_t k = 0; k < C; ++k) {
      a[k] = (T)(1.0 + 0.125 * (double)(k % 7));
      b[k] = (T)(0.25 * (double)(k % 5) - 0.5);
      c[k] = (T)(0.5 * (double)(k % 3));
    }
    const T *pp[] = {a.data(), b.data(), c.data()};
    const T *in[] = {x.data()};
    r.forward(shape, in, y.data(), pp);
    size_t bad = 0;
    for (size_t i = 0; i < count; ++i) {
      size_t k = i % C;
      double xi = x[i];
      double want = a[k] * xi + b[k] * xi * xi + c[k] / (1 + std::exp(-xi));
      bad += !(std::fabs(y[i] - want) <= tolerance<T>() * std::max(1.0, std::fabs(want)));
    }
    CHECK(bad == 0);
  }
}

} // namespace

TEST_CASE("channels-last forward kernels for rows whose parameters pass 32 KiB and not",
          "[layout]") {
  forwardRowsClasses<float>();
  forwardRowsClasses<double>();
}

TEST_CASE("channels-last column groups: lanes past C add nothing to a shared gradient",
          "[layout]") {
  maskedLanes<float>();
  maskedLanes<double>();
}

TEST_CASE("channels-last gradients by columns: [C], [N,C], [N] and scalar parameters",
          "[threads][layout]") {
  perKindParameters<float>();
  perKindParameters<double>();
}

TEST_CASE("channels-last gradients by columns: per-channel and shared tables",
          "[threads][layout]") {
  tables<float>();
  tables<double>();
}

TEST_CASE("channels-last wide column steps in f16 and bf16: dx float32 rounded once, gradients float64",
          "[half][layout]") {
  // Past 4M elements, C = 96: one wide step of 64 channels and two groups, reading
  // 16-bit buffers; dx is float32's rounded once, the gradients float64's within the
  // half type's rounding.
  act::Module mod = act::Module::compile(
      "act h(x; a[C] = 1.0, m[N,C] = 0.5) = a * x * sigmoid(m * x)");
  const act::Activation &h = mod.get("h");
  const act::TensorShape shape{2, 96, 21846, act::Layout::NSC};
  const size_t count = (size_t)shape.numElements(), C = 96;
  struct Half {
    act::DType dtype;
    uint16_t (*round)(double);
    double (*widen)(uint16_t);
  };
  for (Half t : {Half{act::DType::F16, act::toFloat16, act::fromFloat16},
                 Half{act::DType::BF16, act::toBFloat16, act::fromBFloat16}}) {
    std::vector<uint16_t> x16(count), dy16(count), a16(C), m16(2 * C);
    std::vector<float> x32(count), dy32(count), a32(C), m32(2 * C);
    for (size_t i = 0; i < count; ++i) {
      x16[i] = t.round(3.0 * std::sin(0.37 * (double)i));
      dy16[i] = t.round(0.75 + 0.25 * std::cos(0.11 * (double)i)); // sums that do not cancel
      x32[i] = (float)t.widen(x16[i]);
      dy32[i] = (float)t.widen(dy16[i]);
    }
    for (size_t k = 0; k < 2 * C; ++k) {
      if (k < C) {
        a16[k] = t.round(1.0 + 0.125 * (double)(k % 7));
        a32[k] = (float)t.widen(a16[k]);
      }
      m16[k] = t.round(0.25 * (double)(k % 5) + 0.5);
      m32[k] = (float)t.widen(m16[k]);
    }
    std::vector<uint16_t> dx16(count), da16(C), dm16(2 * C);
    std::vector<float> dx32(count), da32(C), dm32(2 * C);
    void *in16[] = {x16.data()}, *in32[] = {x32.data()};
    void *p16[] = {a16.data(), m16.data()}, *p32[] = {a32.data(), m32.data()};
    void *d16[] = {dx16.data()}, *d32[] = {dx32.data()};
    void *dp16[] = {da16.data(), dm16.data()}, *dp32[] = {da32.data(), dm32.data()};
    h.backward(t.dtype, shape, in16, dy16.data(), d16, dp16, p16);
    h.backward(act::DType::F32, shape, in32, dy32.data(), d32, dp32, p32);
    size_t bad = 0;
    for (size_t i = 0; i < count; ++i)
      bad += dx16[i] != t.round(dx32[i]);
    CHECK(bad == 0);
    // The gradients against float64 sums over the same (half) values: within the
    // half type's rounding of the result (2^-8 relative for bf16, 2^-11 for f16).
    std::vector<act_test::RefSum> wantA(C), wantM(2 * C);
    for (size_t i = 0; i < count; ++i) {
      size_t c = i % C, nc = i / (count / 2) * C + c;
      double x = x32[i], g = dy32[i], s = 1 / (1 + std::exp(-m32[nc] * x));
      wantA[c].add(g * x * s);
      wantM[nc].add(g * a32[c] * x * x * s * (1 - s));
    }
    double rel = t.dtype == act::DType::BF16 ? 1.0 / 128 : 1.0 / 1024;
    size_t badGrad = 0;
    for (size_t c = 0; c < C; ++c)
      badGrad += !wantA[c].close(t.widen(da16[c]), rel);
    for (size_t k = 0; k < 2 * C; ++k)
      badGrad += !wantM[k].close(t.widen(dm16[k]), rel);
    CHECK(badGrad == 0);
  }
}
