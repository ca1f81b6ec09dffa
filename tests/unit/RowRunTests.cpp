// Rows: how kernels walk rows, checked where the walk could go wrong. Channels-last
// runs of rows read per-channel parameters (and tables) by channel and stay within a
// sample for [N,C] and [N] ones; channels-first forward rows run their last vector
// on into the next row. Each against float64 and bitwise against simpler calls.
#include "TestSupport.h"

#include "act/act.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <algorithm>
#include <cstring>
#include <string>
#include <random>
#include <vector>

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
    std::vector<act_test::RefSum> wantA(channels), wantB(channels);
    size_t badY = 0, badDx = 0;
    for (size_t i = 0; i < count; ++i) {
      size_t c = i % channels; // channels-last: c is the inner index
      double xi = x[i], gi = dy[i];
      double wantY = a[c] * xi + b[c] * xi * xi, wantDx = gi * (a[c] + 2.0 * b[c] * xi);
      badY += std::fabs(y[i] - wantY) > 1e-6 * std::max(1.0, std::fabs(wantY));
      badDx += std::fabs(dx[i] - wantDx) > 1e-6 * std::max(1.0, std::fabs(wantDx));
      wantA[c].add(gi * xi);
      wantB[c].add(gi * xi * xi);
    }
    CHECK(badY == 0);
    CHECK(badDx == 0);
    for (size_t c = 0; c < channels; ++c) {
      INFO("channel " << c);
      CHECK(wantA[c].close(da[c], 1e-6));
      CHECK(wantB[c].close(db[c], 1e-6));
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
      CHECK(act_test::sameBits(y1, y));
      CHECK(act_test::sameBits(dx1, dx));
      CHECK(act_test::sameBits(da1, da));
      CHECK(act_test::sameBits(dm1, dm));
      CHECK(act_test::sameBits(dt1, dt));
    }
    std::vector<act_test::RefSum> wantA(channels), wantM(m.size()), wantT(samples);
    size_t badY = 0, badDx = 0;
    for (size_t i = 0; i < count; ++i) {
      size_t c = i % channels, n = i / perSample, nc = n * channels + c;
      double xi = x[i], gi = dy[i];
      double wantY = a[c] * xi + m[nc] * xi * xi + t[n] * xi;
      double wantDx = gi * (a[c] + 2.0 * m[nc] * xi + t[n]);
      badY += std::fabs(y[i] - wantY) > 1e-6 * std::max(1.0, std::fabs(wantY));
      badDx += std::fabs(dx[i] - wantDx) > 1e-6 * std::max(1.0, std::fabs(wantDx));
      wantA[c].add(gi * xi);
      wantM[nc].add(gi * xi * xi);
      wantT[n].add(gi * xi);
    }
    CHECK(badY == 0);
    CHECK(badDx == 0);
    for (size_t c = 0; c < channels; ++c)
      CHECK(wantA[c].close(da[c], 1e-6));
    for (size_t k = 0; k < m.size(); ++k) {
      INFO("m entry " << k);
      CHECK(wantM[k].close(dm[k], 1e-6));
    }
    for (size_t n = 0; n < samples; ++n)
      CHECK(wantT[n].close(dt[n], 1e-6));
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
    CHECK(act_test::sameBits(y1, y));
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
