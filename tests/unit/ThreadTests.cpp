// Threads: results, including gradient reductions, are bitwise the same for any
// thread count.
#include "act/act.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <algorithm>
#include <cstring>
#include <string>
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

TEST_CASE("channels-last runs of rows read and reduce per-channel parameters by channel",
          "[threads][layout]") {
  // nsc kernels run max(1, 256 / C) rows together with [C] parameters repeated over
  // the run: C below, at and above 256, not a multiple of the vector width, and row
  // counts that leave a partial run at the end of a chunk. (Backward kernels go by
  // columns where C fills the vectors, C = 64, 256 and 300 here: ColumnTests.cpp.)
  act::Module m = act::Module::compile("act f(x; a[C] = 1.0, b[C] = 0.0) = a * x + b * x * x");
  const act::Activation &f = m.get("f");
  act::setNumThreads(7);
  for (act::TensorShape shape :
       {act::TensorShape{3, 5, 1001, act::Layout::NSC}, act::TensorShape{2, 64, 517, act::Layout::NSC},
        act::TensorShape{2, 17, 700, act::Layout::NSC}, act::TensorShape{1, 300, 37, act::Layout::NSC},
        act::TensorShape{4, 256, 9, act::Layout::NSC}}) {
    INFO("N=" << shape.n << " C=" << shape.c << " S=" << shape.s);
    size_t count = (size_t)shape.numElements(), channels = (size_t)shape.c;
    std::vector<float> x(count), dy(count), y(count), dx(count), a(channels), b(channels),
        da(channels), db(channels);
    for (size_t c = 0; c < channels; ++c) {
      a[c] = 1.0f + 0.125f * (float)(c % 7);
      b[c] = -0.25f * (float)(c % 3);
    }
    for (size_t i = 0; i < count; ++i) {
      x[i] = (float)std::sin(0.37 * (double)i);
      dy[i] = (float)std::cos(0.11 * (double)i);
    }
    const float *in[] = {x.data()};
    const float *params[] = {a.data(), b.data()};
    float *dinputs[] = {dx.data()};
    float *dparams[] = {da.data(), db.data()};
    f.forward(shape, in, y.data(), params);
    f.backward(shape, in, dy.data(), dinputs, dparams, params);
    std::vector<double> wantA(channels, 0.0), wantB(channels, 0.0), magA(channels, 0.0),
        magB(channels, 0.0);
    size_t badY = 0, badDx = 0;
    for (size_t i = 0; i < count; ++i) {
      size_t c = i % channels; // channels-last: c is the inner index
      double xi = x[i], gi = dy[i];
      double wantY = a[c] * xi + b[c] * xi * xi, wantDx = gi * (a[c] + 2.0 * b[c] * xi);
      badY += std::fabs(y[i] - wantY) > 1e-6 * std::max(1.0, std::fabs(wantY));
      badDx += std::fabs(dx[i] - wantDx) > 1e-6 * std::max(1.0, std::fabs(wantDx));
      wantA[c] += gi * xi;
      wantB[c] += gi * xi * xi;
      magA[c] += std::fabs(gi * xi);
      magB[c] += std::fabs(gi * xi * xi);
    }
    CHECK(badY == 0);
    CHECK(badDx == 0);
    for (size_t c = 0; c < channels; ++c) {
      INFO("channel " << c);
      CHECK(std::fabs(da[c] - wantA[c]) <= 1e-6 * magA[c]);
      CHECK(std::fabs(db[c] - wantB[c]) <= 1e-6 * magB[c]);
    }
  }
  act::setNumThreads(0);
}

TEST_CASE("channels-last runs of rows stay within a sample for [N,C] and [N] parameters",
          "[threads][layout]") {
  // Runs of max(1, 256 / C) rows never cross a sample: m's repeated buffer is
  // refilled per sample, and m's and t's gradients go to sample n's entries.
  act::Module mod = act::Module::compile(
      "act g(x; a[C] = 1.0, m[N,C] = 0.5, t[N] = 0.0) = a * x + m * x * x + t * x");
  const act::Activation &g = mod.get("g");
  act::setNumThreads(7);
  for (act::TensorShape shape :
       {act::TensorShape{3, 64, 7, act::Layout::NSC}, act::TensorShape{5, 5, 100, act::Layout::NSC},
        act::TensorShape{2, 300, 3, act::Layout::NSC}, act::TensorShape{40, 17, 33, act::Layout::NSC},
        act::TensorShape{2, 64, 3001, act::Layout::NSC}, act::TensorShape{16, 200, 1, act::Layout::NSC},
        act::TensorShape{9, 64, 1, act::Layout::NSC}}) {
    INFO("N=" << shape.n << " C=" << shape.c << " S=" << shape.s);
    size_t count = (size_t)shape.numElements(), channels = (size_t)shape.c,
           samples = (size_t)shape.n, perSample = count / samples;
    std::vector<float> x(count), dy(count), y(count), dx(count), a(channels),
        m(samples * channels), t(samples), da(channels), dm(m.size()), dt(samples);
    for (size_t c = 0; c < channels; ++c)
      a[c] = 1.0f + 0.125f * (float)(c % 7);
    for (size_t k = 0; k < m.size(); ++k)
      m[k] = 0.25f * (float)(k % 5) - 0.5f;
    for (size_t n = 0; n < samples; ++n)
      t[n] = 0.5f * (float)(n % 3);
    for (size_t i = 0; i < count; ++i) {
      x[i] = (float)std::sin(0.37 * (double)i);
      dy[i] = (float)std::cos(0.11 * (double)i);
    }
    const float *in[] = {x.data()};
    const float *params[] = {a.data(), m.data(), t.data()};
    float *dinputs[] = {dx.data()};
    float *dparams[] = {da.data(), dm.data(), dt.data()};
    g.forward(shape, in, y.data(), params);
    g.backward(shape, in, dy.data(), dinputs, dparams, params);
    { // bitwise the same on one thread
      std::vector<float> y1(count), dx1(count), da1(channels), dm1(m.size()), dt1(samples);
      float *dinputs1[] = {dx1.data()};
      float *dparams1[] = {da1.data(), dm1.data(), dt1.data()};
      act::setNumThreads(1);
      g.forward(shape, in, y1.data(), params);
      g.backward(shape, in, dy.data(), dinputs1, dparams1, params);
      act::setNumThreads(7);
      CHECK(same(y1, y));
      CHECK(same(dx1, dx));
      CHECK(same(da1, da));
      CHECK(same(dm1, dm));
      CHECK(same(dt1, dt));
    }
    std::vector<double> wantA(channels), wantM(m.size()), wantT(samples), magA(channels),
        magM(m.size()), magT(samples);
    size_t badY = 0, badDx = 0;
    for (size_t i = 0; i < count; ++i) {
      size_t c = i % channels, n = i / perSample, nc = n * channels + c;
      double xi = x[i], gi = dy[i];
      double wantY = a[c] * xi + m[nc] * xi * xi + t[n] * xi;
      double wantDx = gi * (a[c] + 2.0 * m[nc] * xi + t[n]);
      badY += std::fabs(y[i] - wantY) > 1e-6 * std::max(1.0, std::fabs(wantY));
      badDx += std::fabs(dx[i] - wantDx) > 1e-6 * std::max(1.0, std::fabs(wantDx));
      wantA[c] += gi * xi;
      magA[c] += std::fabs(gi * xi);
      wantM[nc] += gi * xi * xi;
      magM[nc] += std::fabs(gi * xi * xi);
      wantT[n] += gi * xi;
      magT[n] += std::fabs(gi * xi);
    }
    CHECK(badY == 0);
    CHECK(badDx == 0);
    for (size_t c = 0; c < channels; ++c)
      CHECK(std::fabs(da[c] - wantA[c]) <= 1e-6 * magA[c]);
    for (size_t k = 0; k < m.size(); ++k) {
      INFO("m entry " << k);
      CHECK(std::fabs(dm[k] - wantM[k]) <= 1e-6 * magM[k]);
    }
    for (size_t n = 0; n < samples; ++n)
      CHECK(std::fabs(dt[n] - wantT[n]) <= 1e-6 * magT[n]);
  }
  act::setNumThreads(0);
}

TEST_CASE("channels-first forward rows run their last vector on into the next row",
          "[threads][layout]") {
  // A row of S elements, S not a multiple of the vector width, ends in a step
  // that runs on into the next row of the call, its lanes past the row taking the
  // next row's a[c], m[n, c], t[n] (c wraps to 0 at the next sample): every element
  // must equal the float64 reference, and bitwise the row computed on its own.
  act::Module mod = act::Module::compile(
      "act g(x; a[C] = 1.0, m[N,C] = 0.5, t[N] = 0.0) = a * x + m * x * x + t * x");
  const act::Activation &g = mod.get("g");
  for (act::TensorShape shape :
       {act::TensorShape{3, 5, 49, act::Layout::NCS}, act::TensorShape{2, 7, 17, act::Layout::NCS},
        act::TensorShape{4, 3, 63, act::Layout::NCS}, act::TensorShape{2, 9, 15, act::Layout::NCS},
        act::TensorShape{3, 4, 16, act::Layout::NCS}, act::TensorShape{1, 1, 33, act::Layout::NCS},
        act::TensorShape{40, 17, 33, act::Layout::NCS}, act::TensorShape{5, 64, 7, act::Layout::NCS},
        act::TensorShape{2, 3, 70001, act::Layout::NCS}, act::TensorShape{64, 256, 49, act::Layout::NCS}}) {
    INFO("N=" << shape.n << " C=" << shape.c << " S=" << shape.s);
    size_t count = (size_t)shape.numElements(), channels = (size_t)shape.c,
           samples = (size_t)shape.n, length = (size_t)shape.s;
    std::vector<float> x(count), y(count), y1(count), a(channels), m(samples * channels),
        t(samples);
    for (size_t c = 0; c < channels; ++c)
      a[c] = 1.0f + 0.125f * (float)(c % 7);
    for (size_t k = 0; k < m.size(); ++k)
      m[k] = 0.25f * (float)(k % 5) - 0.5f;
    for (size_t n = 0; n < samples; ++n)
      t[n] = 0.5f * (float)(n % 3) - 0.25f;
    for (size_t i = 0; i < count; ++i)
      x[i] = (float)std::sin(0.37 * (double)i);
    const float *in[] = {x.data()};
    const float *params[] = {a.data(), m.data(), t.data()};
    act::setNumThreads(7);
    g.forward(shape, in, y.data(), params);
    act::setNumThreads(1);
    g.forward(shape, in, y1.data(), params);
    CHECK(same(y1, y));
    size_t badY = 0, apart = 0;
    for (size_t i = 0; i < count; ++i) {
      size_t row = i / length, c = row % channels, n = row / channels;
      double xi = x[i];
      double want = a[c] * xi + m[row] * xi * xi + t[n] * xi;
      badY += !(std::fabs(y[i] - want) <= 1e-6 * std::max(1.0, std::fabs(want)));
    }
    CHECK(badY == 0);
    // Rows on their own ({1, 1, S}, the row's parameters): a masked last step.
    size_t rows = count / length, step = std::max<size_t>(1, rows / 64);
    std::vector<float> alone(length);
    for (size_t row = 0; row < rows; row += step) {
      size_t c = row % channels, n = row / channels;
      const float *in1[] = {x.data() + row * length};
      const float *params1[] = {&a[c], &m[row], &t[n]};
      g.forward(act::TensorShape{1, 1, (int64_t)length, act::Layout::NCS}, in1, alone.data(),
                params1);
      apart += std::memcmp(alone.data(), y.data() + row * length, length * 4) != 0;
    }
    CHECK(apart == 0);
  }
  act::setNumThreads(0);
}

TEST_CASE("channels-last runs of rows look per-channel tables up by channel", "[threads][layout]") {
  // pwl over y[C,5]: the run repeats each position's row offset c * 5 and the fixed
  // entries y[c,0] and y[c,4]; float64 reference written out here.
  act::Module mod = act::Module::compile(
      "act p(x; y[C,5] = [0, 0, 0, 1, 2], bl[C] = -2.0, br[C] = 2.0, kl[C] = 0.0, "
      "kr[C] = 1.0) = pwl(x; y, bl, br, kl, kr)");
  const act::Activation &f = mod.get("p");
  act::setNumThreads(7);
  for (act::TensorShape shape :
       {act::TensorShape{3, 5, 1001, act::Layout::NSC}, act::TensorShape{2, 64, 517, act::Layout::NSC},
        act::TensorShape{1, 300, 37, act::Layout::NSC}}) {
    INFO("N=" << shape.n << " C=" << shape.c << " S=" << shape.s);
    size_t count = (size_t)shape.numElements(), channels = (size_t)shape.c;
    std::vector<float> x(count), dy(count), out(count), dx(count), y(channels * 5), bl(channels),
        br(channels), kl(channels), kr(channels), dtab(y.size()), dbl(channels), dbr(channels),
        dkl(channels), dkr(channels);
    for (size_t c = 0; c < channels; ++c) {
      for (size_t k = 0; k < 5; ++k)
        y[c * 5 + k] = (float)std::cos(0.7 * (double)(c * 5 + k));
      bl[c] = -2.0f - 0.125f * (float)(c % 3);
      br[c] = 2.0f + 0.25f * (float)(c % 5);
      kl[c] = 0.5f - 0.125f * (float)(c % 4);
      kr[c] = 1.0f + 0.125f * (float)(c % 2);
    }
    for (size_t i = 0; i < count; ++i) {
      x[i] = 3.5f * (float)std::sin(0.37 * (double)i);
      dy[i] = (float)std::cos(0.11 * (double)i);
    }
    const float *in[] = {x.data()};
    const float *params[] = {y.data(), bl.data(), br.data(), kl.data(), kr.data()};
    float *dinputs[] = {dx.data()};
    float *dparams[] = {dtab.data(), dbl.data(), dbr.data(), dkl.data(), dkr.data()};
    f.forward(shape, in, out.data(), params);
    f.backward(shape, in, dy.data(), dinputs, dparams, params);
    std::vector<double> wantTab(y.size()), magTab(y.size()), wantBl(channels), wantBr(channels),
        wantKl(channels), wantKr(channels), mag(channels);
    size_t badY = 0, badDx = 0;
    for (size_t i = 0; i < count; ++i) {
      size_t c = i % channels;
      const float *t = &y[c * 5];
      double xi = x[i], gi = dy[i], lo = bl[c], hi = br[c], d = (hi - lo) / 4;
      double wantY, slope;
      mag[c] += std::fabs(gi) * (1 + std::fabs(xi));
      if (xi < lo) {
        wantY = t[0] + kl[c] * (xi - lo);
        slope = kl[c];
        wantTab[c * 5] += gi;
        magTab[c * 5] += std::fabs(gi);
        wantBl[c] -= gi * kl[c];
        wantKl[c] += gi * (xi - lo);
      } else if (xi > hi) {
        wantY = t[4] + kr[c] * (xi - hi);
        slope = kr[c];
        wantTab[c * 5 + 4] += gi;
        magTab[c * 5 + 4] += std::fabs(gi);
        wantBr[c] -= gi * kr[c];
        wantKr[c] += gi * (xi - hi);
      } else {
        size_t k = (size_t)std::min(3.0, std::floor((xi - lo) / d));
        double frac = (xi - (lo + (double)k * d)) / d;
        wantY = t[k] + (t[k + 1] - t[k]) * frac;
        slope = (t[k + 1] - t[k]) / d;
        // y(x) moves with the knots: d/dbl and d/dbr of y[k] + (y[k+1] - y[k]) u,
        // u = (x - bl) / d - k, d = (br - bl) / 4.
        double u = (xi - lo) / d, rise = t[k + 1] - t[k];
        wantBl[c] += gi * rise * (u - 4) / (hi - lo);
        wantBr[c] -= gi * rise * u / (hi - lo);
        wantTab[c * 5 + k] += gi * (1 - frac);
        wantTab[c * 5 + k + 1] += gi * frac;
        magTab[c * 5 + k] += std::fabs(gi);
        magTab[c * 5 + k + 1] += std::fabs(gi);
      }
      badY += std::fabs(out[i] - wantY) > 1e-5 * std::max(1.0, std::fabs(wantY));
      badDx += std::fabs(dx[i] - gi * slope) > 1e-5 * std::max(1.0, std::fabs(gi * slope));
    }
    CHECK(badY == 0);
    CHECK(badDx == 0);
    for (size_t e = 0; e < y.size(); ++e) {
      INFO("table entry " << e);
      CHECK(std::fabs(dtab[e] - wantTab[e]) <= 1e-5 * std::max(1.0, magTab[e]));
    }
    for (size_t c = 0; c < channels; ++c) {
      INFO("channel " << c);
      CHECK(std::fabs(dbl[c] - wantBl[c]) <= 1e-5 * std::max(1.0, mag[c]));
      CHECK(std::fabs(dbr[c] - wantBr[c]) <= 1e-5 * std::max(1.0, mag[c]));
      CHECK(std::fabs(dkl[c] - wantKl[c]) <= 1e-5 * std::max(1.0, mag[c]));
      CHECK(std::fabs(dkr[c] - wantKr[c]) <= 1e-5 * std::max(1.0, mag[c]));
    }
  }
  act::setNumThreads(0);
}

TEST_CASE("gradients of per-sample and shared-table and scalar parameters reduce correctly",
          "[grad]") {
  // f = a[n] * x + b * x^2 + t[k] terms through pwl over a shared 3-knot table.
  act::Module m = act::Module::compile(
      "act f(x; a[N] = 1.0, b = 0.5, t[3] = [0, 1, 3]) = "
      "a * x + b * x * x + pwl(x; t, -1.0, 1.0, 0.0, 0.0)");
  const act::Activation &f = m.get("f");
  for (act::Layout layout : {act::Layout::NCS, act::Layout::NSC}) {
    act::TensorShape shape{3, 2, 5, layout};
    size_t count = (size_t)shape.numElements();
    std::vector<double> x(count), dy(count), dx(count), a = {0.5, -1.0, 2.0}, b = {0.25},
                                                         t = {0.0, 1.0, 3.0};
    std::vector<double> da(3), db(1), dt(3), wantA(3, 0.0), wantB(1, 0.0), wantT(3, 0.0);
    for (size_t i = 0; i < count; ++i) {
      x[i] = -1.4 + 0.1 * (double)i;
      dy[i] = 1.0 + 0.01 * (double)i;
      size_t n = i / (size_t)(shape.c * shape.s); // n is outermost in both layouts
      wantA[n] += dy[i] * x[i];
      wantB[0] += dy[i] * x[i] * x[i];
      // pwl on [-1, 1] with 2 segments of width 1: interpolation weights per knot.
      if (x[i] < -1) {
        wantT[0] += dy[i];
      } else if (x[i] > 1) {
        wantT[2] += dy[i];
      } else {
        double u = x[i] + 1; // in [0, 2]
        size_t seg = std::min<size_t>(1, (size_t)std::floor(u));
        double frac = u - (double)seg;
        wantT[seg] += dy[i] * (1 - frac);
        wantT[seg + 1] += dy[i] * frac;
      }
    }
    const double *in[] = {x.data()};
    const double *params[] = {a.data(), b.data(), t.data()};
    double *dinputs[] = {dx.data()};
    double *dparams[] = {da.data(), db.data(), dt.data()};
    f.backward(shape, in, dy.data(), dinputs, dparams, params);
    for (size_t n = 0; n < 3; ++n)
      CHECK(da[n] == Approx(wantA[n]).epsilon(1e-12));
    CHECK(db[0] == Approx(wantB[0]).epsilon(1e-12));
    for (size_t k = 0; k < 3; ++k) {
      INFO("knot " << k);
      CHECK(dt[k] == Approx(wantT[k]).epsilon(1e-12));
    }
  }
}

TEST_CASE("rows longer than a chunk run as segments on every thread, and {n, 1, s} as one row",
          "[threads]") {
  // A tensor of few long rows ({1, 1, n}: a flat array; channels-last {1, C, 1}: a
  // dense layer's batch of one) is cut into segments of rows, each a kernel call on
  // one row with its sample's and channel's (channels-last: its channels')
  // parameters; {n, 1, s} (one channel) runs as the one row {1, 1, n s} when no
  // parameter varies along N, and any shape so when none varies along N or C.
  // Values against a float64 reference, gradients bitwise the same for 1, 2 and 7
  // threads.
  act::Module mod = act::Module::compile(
      "act g(x; a[C] = 1.0, m[N,C] = 0.5, t[N] = 0.0) = a * x + m * x * x + t * x\n"
      "act h(x; a[C] = 1.0, b = 0.0) = a * x + b * x * x\n"
      "act k(x; b = 0.0) = x + b * x * x");
  struct Case {
    const char *fn;
    act::TensorShape shape;
  };
  for (Case k : {Case{"g", {1, 1, 1000003, act::Layout::NCS}}, Case{"g", {2, 3, 300001, act::Layout::NCS}},
                 Case{"g", {3, 1, 400000, act::Layout::NSC}}, Case{"h", {1000003, 1, 1, act::Layout::NCS}},
                 Case{"h", {1, 2, 700001, act::Layout::NCS}},
                 // One channel, rows of a few elements: its [C] parameter has one value.
                 Case{"h", {200003, 1, 16, act::Layout::NCS}}, Case{"h", {100003, 1, 7, act::Layout::NSC}},
                 // A chunk sums only its own samples' [N,C] and [N] gradients: many
                 // samples a chunk, and samples cut across chunks.
                 Case{"g", {600, 200, 1, act::Layout::NCS}}, Case{"g", {5, 3, 70001, act::Layout::NSC}},
                 // A chunk's own samples' gradients are stored by its task, the
                 // sample it shares with the next chunk summed after.
                 Case{"g", {300, 7, 50, act::Layout::NCS}}, Case{"g", {300, 7, 50, act::Layout::NSC}},
                 // Channels-last rows cut into segments of channels: one row, and
                 // several (a value's chunks are then not adjacent).
                 Case{"g", {1, 300001, 1, act::Layout::NSC}}, Case{"g", {3, 100001, 1, act::Layout::NSC}},
                 Case{"h", {2, 150001, 1, act::Layout::NCS}}, Case{"k", {3, 70001, 5, act::Layout::NSC}},
                 Case{"k", {1, 200003, 1, act::Layout::NSC}}}) {
    const act::Activation &f = mod.get(k.fn);
    act::TensorShape shape = k.shape;
    INFO(k.fn << " N=" << shape.n << " C=" << shape.c << " S=" << shape.s);
    bool g = std::string(k.fn) == "g", scalarOnly = std::string(k.fn) == "k";
    size_t count = (size_t)shape.numElements(), C = (size_t)shape.c, N = (size_t)shape.n,
           S = (size_t)shape.s;
    std::vector<float> x(count), dy(count), a(C), m(N * C), t(N), b(1, 0.375f);
    for (size_t i = 0; i < count; ++i) {
      x[i] = (float)std::sin(0.0013 * (double)i);
      dy[i] = (float)std::cos(0.0007 * (double)i);
    }
    for (size_t c = 0; c < C; ++c)
      a[c] = scalarOnly ? 1.0f : 1.0f + 0.25f * (float)(c % 64);
    for (size_t j = 0; j < N * C; ++j)
      m[j] = 0.5f - 0.125f * (float)(j % 16); // bounded: y's float rounding stays near 1e-7
    for (size_t n = 0; n < N; ++n)
      t[n] = -0.75f + 0.5f * (float)(n % 8);
    std::vector<const float *> params =
        g ? std::vector<const float *>{a.data(), m.data(), t.data()}
        : scalarOnly ? std::vector<const float *>{b.data()}
                     : std::vector<const float *>{a.data(), b.data()};
    struct Out {
      std::vector<float> y, dx;
      std::vector<std::vector<float>> d;
    };
    auto runWith = [&](unsigned threads) {
      act::setNumThreads(threads);
      Out o;
      o.y.resize(count);
      o.dx.resize(count);
      o.d = g ? std::vector<std::vector<float>>{std::vector<float>(C), std::vector<float>(N * C),
                                                  std::vector<float>(N)}
            : scalarOnly ? std::vector<std::vector<float>>{std::vector<float>(1)}
                         : std::vector<std::vector<float>>{std::vector<float>(C), std::vector<float>(1)};
      std::vector<float *> dparams;
      for (auto &v : o.d)
        dparams.push_back(v.data());
      const float *in[] = {x.data()};
      float *dinputs[] = {o.dx.data()};
      f.forward(shape, in, o.y.data(), params.data());
      f.backward(shape, in, dy.data(), dinputs, dparams.data(), params.data());
      return o;
    };
    Out one = runWith(1), two = runWith(2), seven = runWith(7);
    CHECK(std::memcmp(one.y.data(), seven.y.data(), count * 4) == 0);
    CHECK(std::memcmp(one.dx.data(), two.dx.data(), count * 4) == 0);
    for (size_t j = 0; j < one.d.size(); ++j) {
      CHECK(one.d[j] == two.d[j]);
      CHECK(one.d[j] == seven.d[j]);
    }
    // float64 reference (channels-first or channels-last positions)
    std::vector<double> wantA(C, 0.0), wantM(N * C, 0.0), wantT(N, 0.0), wantB(1, 0.0);
    std::vector<double> magA(C, 0.0), magM(N * C, 0.0), magT(N, 0.0), magB(1, 0.0);
    size_t badY = 0, badDx = 0;
    for (size_t i = 0; i < count; ++i) {
      size_t n = i / (C * S);
      size_t c = shape.layout == act::Layout::NCS ? (i / S) % C : i % C;
      double xi = x[i], gi = dy[i];
      double mi = g ? m[n * C + c] : 0.0, ti = g ? t[n] : 0.0, bi = g ? 0.0 : b[0];
      double wantY = a[c] * xi + (mi + bi) * xi * xi + ti * xi;
      double wantDx = gi * (a[c] + 2.0 * (mi + bi) * xi + ti);
      badY += std::fabs(seven.y[i] - wantY) > 1e-6 * std::max(1.0, std::fabs(wantY));
      badDx += std::fabs(seven.dx[i] - wantDx) > 1e-6 * std::max(1.0, std::fabs(wantDx));
      wantA[c] += gi * xi;
      magA[c] += std::fabs(gi * xi);
      if (g) {
        wantM[n * C + c] += gi * xi * xi;
        magM[n * C + c] += std::fabs(gi * xi * xi);
        wantT[n] += gi * xi;
        magT[n] += std::fabs(gi * xi);
      } else {
        wantB[0] += gi * xi * xi;
        magB[0] += std::fabs(gi * xi * xi);
      }
    }
    CHECK(badY == 0);
    CHECK(badDx == 0);
    auto near = [](const std::vector<float> &got, const std::vector<double> &want,
                   const std::vector<double> &mag) {
      size_t bad = 0;
      for (size_t j = 0; j < got.size(); ++j)
        bad += std::fabs(got[j] - want[j]) > 1e-6 * mag[j] + 1e-30;
      return bad;
    };
    if (scalarOnly) {
      CHECK(near(seven.d[0], wantB, magB) == 0);
      continue;
    }
    CHECK(near(seven.d[0], wantA, magA) == 0);
    if (g) {
      CHECK(near(seven.d[1], wantM, magM) == 0);
      CHECK(near(seven.d[2], wantT, magT) == 0);
    } else {
      CHECK(near(seven.d[1], wantB, magB) == 0);
    }
  }
  act::setNumThreads(0);
}

TEST_CASE("forward on a tensor streaming from memory equals the in-cache kernels' results",
          "[threads]") {
  // Past 4M elements forward kernels run their vector loop unstaged (the runtime's
  // forwardRowsFor); in cache staged. The same operations either way: a tensor of
  // two samples of 2.4M elements must give bitwise what each sample alone gives.
  act::Module mod = act::Module::compile(
      "act acon(x; p1[C] = 1.0, p2[C] = 0.25, beta[C] = 1.0) = (p1 - p2) * x * sigmoid(beta * (p1 - p2) * x) + p2 * x\n"
      "act sw(x; beta = 1.0) = x * sigmoid(beta * x)");
  for (act::Layout layout : {act::Layout::NCS, act::Layout::NSC})
    for (const char *fn : {"acon", "sw"}) {
      const act::Activation &f = mod.get(fn);
      bool perChannel = std::string(fn) == "acon";
      const int64_t C = 4, S = 600001;
      act::TensorShape whole{2, C, S, layout}, half{1, C, S, layout};
      INFO(fn << (layout == act::Layout::NSC ? " nsc" : " ncs"));
      REQUIRE(whole.numElements() > (int64_t(1) << 22));
      REQUIRE(half.numElements() < (int64_t(1) << 22));
      size_t count = (size_t)whole.numElements(), halfCount = count / 2;
      std::vector<float> x(count), y(count), yHalves(count);
      for (size_t i = 0; i < count; ++i)
        x[i] = (float)(8.0 * std::sin(0.00037 * (double)i));
      std::vector<float> p1 = {1.0f, 1.5f, 0.75f, 2.0f}, p2 = {0.25f, -0.5f, 0.0f, 0.125f},
                         beta = {1.0f, 0.5f, 2.0f, 1.25f}, b = {0.875f};
      std::vector<const float *> params =
          perChannel ? std::vector<const float *>{p1.data(), p2.data(), beta.data()}
                     : std::vector<const float *>{b.data()};
      const float *in[] = {x.data()};
      f.forward(whole, in, y.data(), params.data());
      for (size_t h = 0; h < 2; ++h) {
        const float *inHalf[] = {x.data() + h * halfCount};
        f.forward(half, inHalf, yHalves.data() + h * halfCount, params.data());
      }
      CHECK(std::memcmp(y.data(), yHalves.data(), count * sizeof(float)) == 0);
      // And against float64 at a few points (the halves are not both wrong alike).
      for (size_t i : {size_t(0), size_t(12345), halfCount + 777, count - 1}) {
        size_t c = layout == act::Layout::NCS ? (i / (size_t)S) % (size_t)C : i % (size_t)C;
        double xi = x[i];
        double want = perChannel
                          ? (p1[c] - (double)p2[c]) * xi /
                                    (1.0 + std::exp(-(double)beta[c] * (p1[c] - (double)p2[c]) * xi)) +
                                p2[c] * xi
                          : xi / (1.0 + std::exp(-(double)b[0] * xi));
        CHECK(std::fabs(y[i] - want) <= 1e-5 * std::max(1.0, std::fabs(want)));
      }
    }
}
