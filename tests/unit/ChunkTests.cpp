// How calls cut tensors whose rows are far from a chunk's size. Channels-last
// backward on few, long rows: a chunk is a segment of channels in every row
// (Chunks::spansRows), so its per-channel gradient windows are its own.
// Channels-first rows shorter than a vector: {N, C, S} runs as the channels-last
// {N, C S, 1}, each per-channel parameter repeated S times, its gradient summed over
// S after. Checked against float64 references written out here, with per-channel,
// per-sample and scalar parameters (and a per-channel table where it applies), on
// shapes that take the path and ones that do not; bitwise the same on 1 and 7
// threads.
#include "act/act.h"

#include "TestSupport.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <vector>

namespace {

constexpr int kKnots = 5;

const char *kSource =
    "act g(x; a[C] = 1.0, t[N] = 0.5, s = 0.25, y[C,5] = [0, 0.5, 1, 1.5, 2],\n"
    "        bl[C] = -2.0, br[C] = 2.0, kl[C] = 0.0, kr[C] = 1.0) =\n"
    "  a * x + t * x * x + s * x + pwl(x; y, bl, br, kl, kr)\n";

struct Outputs {
  std::vector<float> dx, da, dt, ds, dy, dbl, dbr, dkl, dkr;
};

Outputs backward(const act::Activation &g, const act::TensorShape &shape,
                 const std::vector<float> &x, const std::vector<float> &up,
                 const std::vector<std::vector<float>> &params, unsigned threads) {
  size_t c = (size_t)shape.c, n = (size_t)shape.n;
  Outputs o{std::vector<float>(x.size()), std::vector<float>(c), std::vector<float>(n),
            std::vector<float>(1), std::vector<float>(c * kKnots), std::vector<float>(c),
            std::vector<float>(c), std::vector<float>(c), std::vector<float>(c)};
  std::vector<const float *> pp;
  for (const auto &p : params)
    pp.push_back(p.data());
  const float *in[] = {x.data()};
  float *din[] = {o.dx.data()};
  float *dp[] = {o.da.data(), o.dt.data(), o.ds.data(), o.dy.data(),
                 o.dbl.data(), o.dbr.data(), o.dkl.data(), o.dkr.data()};
  act::setNumThreads(threads);
  g.backward(shape, in, up.data(), din, dp, pp.data());
  act::setNumThreads(0);
  return o;
}

} // namespace

TEST_CASE("channels-last backward on few long rows: chunks span every row",
          "[threads][layout]") {
  act::Module mod = act::Module::compile(kSource);
  const act::Activation &g = mod.get("g");
  // {4, 40000, 1}: few rows (three segments of every row); {12, 70000, 1}: rows
  // longer than a chunk; {3, 20000, 2}: six rows; {100, 3000, 1}: too many rows,
  // row chunks.
  for (act::TensorShape shape :
       {act::TensorShape{4, 40000, 1, act::Layout::NSC}, act::TensorShape{12, 70000, 1, act::Layout::NSC},
        act::TensorShape{3, 20000, 2, act::Layout::NSC}, act::TensorShape{100, 3000, 1, act::Layout::NSC}}) {
    INFO("N=" << shape.n << " C=" << shape.c << " S=" << shape.s);
    size_t count = (size_t)shape.numElements(), channels = (size_t)shape.c,
           samples = (size_t)shape.n, perSample = count / samples;
    std::vector<float> x(count), up(count);
    for (size_t i = 0; i < count; ++i) {
      x[i] = (float)(3.0 * std::sin(0.37 * (double)i + 0.2));
      up[i] = (float)std::cos(0.11 * (double)i);
    }
    std::vector<float> a(channels), t(samples), s{0.25f}, y(channels * kKnots), bl(channels),
        br(channels), kl(channels), kr(channels);
    for (size_t c = 0; c < channels; ++c) {
      a[c] = 1.0f + 0.125f * (float)(c % 7);
      bl[c] = -2.0f - 0.25f * (float)(c % 3);
      br[c] = 2.0f + 0.25f * (float)(c % 5);
      kl[c] = 0.125f * (float)(c % 4);
      kr[c] = 1.0f - 0.125f * (float)(c % 3);
      for (int k = 0; k < kKnots; ++k)
        y[c * kKnots + (size_t)k] = 0.5f * (float)k + 0.25f * (float)((c + (size_t)k) % 3);
    }
    for (size_t n = 0; n < samples; ++n)
      t[n] = 0.5f - 0.25f * (float)(n % 3);
    std::vector<std::vector<float>> params{a, t, s, y, bl, br, kl, kr};
    Outputs one = backward(g, shape, x, up, params, 1), seven = backward(g, shape, x, up, params, 7);
    CHECK(act_test::sameBits(one.dx, seven.dx));
    CHECK(act_test::sameBits(one.da, seven.da));
    CHECK(act_test::sameBits(one.dt, seven.dt));
    CHECK(act_test::sameBits(one.ds, seven.ds));
    CHECK(act_test::sameBits(one.dy, seven.dy));
    CHECK(act_test::sameBits(one.dbl, seven.dbl));
    CHECK(act_test::sameBits(one.dkr, seven.dkr));

    // float64 references: the sums and each element's dx.
    std::vector<double> wantA(channels), wantT(samples), wantY(channels * kKnots),
        wantKl(channels), wantKr(channels), mag(channels * kKnots);
    double wantS = 0, magS = 0;
    size_t badDx = 0;
    for (size_t i = 0; i < count; ++i) {
      size_t c = i % channels, n = i / perSample;
      double xi = x[i], gi = up[i], lo = bl[c], hi = br[c], w = (hi - lo) / (kKnots - 1);
      double slope; // d pwl / dx
      const float *yc = &y[c * kKnots];
      if (xi < lo) {
        slope = kl[c];
        wantY[c * kKnots] += gi;
        wantKl[c] += gi * (xi - lo);
      } else if (xi > hi) {
        slope = kr[c];
        wantY[c * kKnots + kKnots - 1] += gi;
        wantKr[c] += gi * (xi - hi);
      } else {
        double at = std::clamp(std::floor((xi - lo) / w), 0.0, (double)kKnots - 2);
        size_t k = (size_t)at;
        double u = (xi - (lo + at * w)) / w;
        slope = (yc[k + 1] - yc[k]) / w;
        wantY[c * kKnots + k] += gi * (1.0 - u);
        wantY[c * kKnots + k + 1] += gi * u;
      }
      for (int k = 0; k < kKnots; ++k)
        mag[c * kKnots + (size_t)k] += std::fabs(gi);
      double wantDx = gi * (a[c] + 2.0 * t[n] * xi + s[0] + slope);
      badDx += std::fabs(seven.dx[i] - wantDx) > 2e-5 * std::max(1.0, std::fabs(wantDx));
      wantA[c] += gi * xi;
      wantT[n] += gi * xi * xi;
      wantS += gi * xi;
      magS += std::fabs(gi * xi);
    }
    CHECK(badDx == 0);
    size_t badA = 0, badY = 0, badK = 0, badT = 0;
    for (size_t c = 0; c < channels; ++c) {
      double m = mag[c * kKnots] * 4.0 + 1.0; // |g x| <= 4.5 |g|
      badA += std::fabs(seven.da[c] - wantA[c]) > 1e-5 * m;
      badK += std::fabs(seven.dkl[c] - wantKl[c]) > 1e-5 * m;
      badK += std::fabs(seven.dkr[c] - wantKr[c]) > 1e-5 * m;
      for (int k = 0; k < kKnots; ++k) {
        size_t e = c * kKnots + (size_t)k;
        badY += std::fabs(seven.dy[e] - wantY[e]) > 1e-5 * (mag[e] + 1.0);
      }
    }
    for (size_t n = 0; n < samples; ++n)
      badT += std::fabs(seven.dt[n] - wantT[n]) > 1e-5 * (1.0 + 16.0 * (double)perSample);
    CHECK(badA == 0);
    CHECK(badY == 0);
    CHECK(badK == 0);
    CHECK(badT == 0);
    CHECK(std::fabs(seven.ds[0] - wantS) <= 1e-5 * (1.0 + magS));
  }
}

TEST_CASE("channels-first rows shorter than a vector run as channels-last rows of C S",
          "[threads][layout]") {
  act::Module mod = act::Module::compile(
      "act h(x; a[C] = 1.0, t[N] = 0.5, s = 0.25, b[C] = 0.0) = a * x + t * x * x + s * sigmoid(b + x)");
  const act::Activation &h = mod.get("h");
  // S = 4, 7, 9 and 15 take the path (below 16 float lanes; below 8 at 256 bits);
  // {8, 64, 7} is below 4096 elements and {4, 256, 7} has C S beyond an eighth of it.
  for (act::TensorShape shape :
       {act::TensorShape{300, 64, 4, act::Layout::NCS}, act::TensorShape{100, 96, 7, act::Layout::NCS},
        act::TensorShape{64, 100, 9, act::Layout::NCS}, act::TensorShape{40, 33, 15, act::Layout::NCS},
        act::TensorShape{8, 64, 7, act::Layout::NCS}, act::TensorShape{4, 256, 7, act::Layout::NCS}}) {
    INFO("N=" << shape.n << " C=" << shape.c << " S=" << shape.s);
    size_t count = (size_t)shape.numElements(), channels = (size_t)shape.c,
           samples = (size_t)shape.n, per = (size_t)shape.s;
    std::vector<float> x(count), up(count), a(channels), t(samples), s{0.25f}, b(channels);
    for (size_t i = 0; i < count; ++i) {
      x[i] = (float)(3.0 * std::sin(0.37 * (double)i + 0.2));
      up[i] = (float)std::cos(0.11 * (double)i);
    }
    for (size_t c = 0; c < channels; ++c) {
      a[c] = 1.0f + 0.125f * (float)(c % 7);
      b[c] = 0.25f * (float)(c % 5) - 0.5f;
    }
    for (size_t n = 0; n < samples; ++n)
      t[n] = 0.5f - 0.25f * (float)(n % 3);
    const float *in[] = {x.data()};
    const float *params[] = {a.data(), t.data(), s.data(), b.data()};
    auto run = [&](unsigned threads, std::vector<float> &y, std::vector<float> &dx,
                   std::vector<std::vector<float>> &dp, std::vector<float> &yf) {
      y.assign(count, 0.0f);
      yf.assign(count, 0.0f);
      dx.assign(count, 0.0f);
      dp = {std::vector<float>(channels), std::vector<float>(samples), std::vector<float>(1),
            std::vector<float>(channels)};
      float *din[] = {dx.data()};
      float *dps[] = {dp[0].data(), dp[1].data(), dp[2].data(), dp[3].data()};
      act::setNumThreads(threads);
      h.forward(shape, in, y.data(), params);
      h.backward(shape, in, up.data(), din, dps, params, yf.data());
      act::setNumThreads(0);
    };
    std::vector<float> y1, dx1, yf1, y7, dx7, yf7;
    std::vector<std::vector<float>> dp1, dp7;
    run(1, y1, dx1, dp1, yf1);
    run(7, y7, dx7, dp7, yf7);
    CHECK(act_test::sameBits(y1, y7));
    CHECK(act_test::sameBits(dx1, dx7));
    for (size_t p = 0; p < 4; ++p)
      CHECK(act_test::sameBits(dp1[p], dp7[p]));

    std::vector<double> wantA(channels), wantB(channels), magA(channels), magB(channels),
        wantT(samples), magT(samples);
    double wantS = 0, magS = 0;
    size_t bad = 0;
    for (size_t i = 0; i < count; ++i) {
      size_t c = (i / per) % channels, n = i / (per * channels);
      double xi = x[i], g = up[i], sig = 1.0 / (1.0 + std::exp(-(b[c] + xi)));
      double y = a[c] * xi + t[n] * xi * xi + s[0] * sig;
      double dsig = sig * (1.0 - sig);
      double dx = g * (a[c] + 2.0 * t[n] * xi + s[0] * dsig);
      auto off = [](double got, double want) {
        return std::fabs(got - want) > 2e-6 * std::max(1.0, std::fabs(want));
      };
      bad += off(y7[i], y) + off(yf7[i], y) + off(dx7[i], dx);
      wantA[c] += g * xi;
      magA[c] += std::fabs(g * xi);
      wantB[c] += g * s[0] * dsig;
      magB[c] += std::fabs(g * s[0] * dsig);
      wantT[n] += g * xi * xi;
      magT[n] += std::fabs(g * xi * xi);
      wantS += g * sig;
      magS += std::fabs(g * sig);
    }
    CHECK(bad == 0);
    size_t badSums = 0;
    for (size_t c = 0; c < channels; ++c) {
      badSums += std::fabs(dp7[0][c] - wantA[c]) > 1e-6 * (1.0 + magA[c]);
      badSums += std::fabs(dp7[3][c] - wantB[c]) > 1e-6 * (1.0 + magB[c]);
    }
    for (size_t n = 0; n < samples; ++n)
      badSums += std::fabs(dp7[1][n] - wantT[n]) > 1e-6 * (1.0 + magT[n]);
    CHECK(badSums == 0);
    CHECK(std::fabs(dp7[2][0] - wantS) <= 1e-6 * (1.0 + magS));
  }
}

TEST_CASE("channels-first short rows with a [N,C] parameter: forward repeats it over S",
          "[threads][layout]") {
  // Forward repeats m to the tensor's size; backward keeps the rows (m's gradient
  // stays one double sum an entry). Both against float64, 1 and 7 threads bitwise.
  act::Module mod = act::Module::compile("act k(x; m[N,C] = 0.5, a[C] = 1.0) = m * x * x + a * x");
  const act::Activation &k = mod.get("k");
  for (act::TensorShape shape :
       {act::TensorShape{300, 64, 4, act::Layout::NCS}, act::TensorShape{100, 96, 7, act::Layout::NCS}}) {
    INFO("N=" << shape.n << " C=" << shape.c << " S=" << shape.s);
    size_t count = (size_t)shape.numElements(), channels = (size_t)shape.c, per = (size_t)shape.s;
    std::vector<float> x(count), up(count), m((size_t)shape.n * channels), a(channels);
    for (size_t i = 0; i < count; ++i) {
      x[i] = (float)(3.0 * std::sin(0.37 * (double)i + 0.2));
      up[i] = (float)std::cos(0.11 * (double)i);
    }
    for (size_t e = 0; e < m.size(); ++e)
      m[e] = 0.25f * (float)(e % 5) - 0.5f;
    for (size_t c = 0; c < channels; ++c)
      a[c] = 1.0f + 0.125f * (float)(c % 7);
    const float *in[] = {x.data()};
    const float *params[] = {m.data(), a.data()};
    std::vector<float> y1(count), y7(count), dx(count), dm(m.size()), da(channels);
    act::setNumThreads(1);
    k.forward(shape, in, y1.data(), params);
    act::setNumThreads(7);
    k.forward(shape, in, y7.data(), params);
    float *din[] = {dx.data()};
    float *dps[] = {dm.data(), da.data()};
    k.backward(shape, in, up.data(), din, dps, params);
    act::setNumThreads(0);
    CHECK(act_test::sameBits(y1, y7));
    std::vector<double> wantM(m.size());
    size_t bad = 0;
    for (size_t i = 0; i < count; ++i) {
      size_t nc = i / per, c = nc % channels;
      double xi = x[i], want = m[nc] * xi * xi + a[c] * xi;
      bad += std::fabs(y7[i] - want) > 2e-6 * std::max(1.0, std::fabs(want));
      bad += std::fabs(dx[i] - up[i] * (2.0 * m[nc] * xi + a[c])) > 2e-6 * std::max(1.0, std::fabs(want));
      wantM[nc] += (double)up[i] * xi * xi;
    }
    CHECK(bad == 0);
    size_t badM = 0;
    for (size_t e = 0; e < m.size(); ++e)
      badM += std::fabs(dm[e] - wantM[e]) > 1e-6 * (1.0 + 9.0 * (double)per);
    CHECK(badM == 0);
  }
}
