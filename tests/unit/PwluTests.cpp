// PWLU two-phase training: running statistics (phase I) against a float64 two-pass
// reference, and the re-alignment (phase II) keeping the function the compiled pwlu
// kernel computes, on skewed input distributions.
#include "TestSupport.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <random>

using act_test::offsetOf;

namespace {

/// Skewed values: a + b * exp(g), g standard normal (log-normal, long right tail).
std::vector<double> skewed(size_t count, double a, double b, double sigma, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> g(0.0, sigma);
  std::vector<double> v(count);
  for (double &x : v)
    x = a + b * std::exp(g(rng));
  return v;
}

/// A tensor of `sh` whose channel c holds values from skewed(.., a[c], b[c], ..).
std::vector<float> skewedTensor(const act::TensorShape &sh, const std::vector<double> &a,
                                const std::vector<double> &b, unsigned seed) {
  std::vector<float> x((size_t)sh.numElements());
  for (int64_t c = 0; c < sh.c; ++c) {
    std::vector<double> v = skewed((size_t)(sh.n * sh.s), a[c], b[c], 1.0, seed + (unsigned)c);
    for (int64_t n = 0; n < sh.n; ++n)
      for (int64_t s = 0; s < sh.s; ++s)
        x[(size_t)offsetOf(sh, n, c, s)] = (float)v[(size_t)(n * sh.s + s)];
  }
  return x;
}

/// Two-pass mean and population variance per channel (or of everything), in long double.
void reference(const act::TensorShape &sh, const std::vector<float> &x, bool perChannel,
               std::vector<double> &mean, std::vector<double> &var) {
  size_t stats = perChannel ? (size_t)sh.c : 1;
  std::vector<long double> sum(stats, 0), sq(stats, 0), count(stats, 0);
  for (int64_t n = 0; n < sh.n; ++n)
    for (int64_t c = 0; c < sh.c; ++c)
      for (int64_t s = 0; s < sh.s; ++s) {
        size_t k = perChannel ? (size_t)c : 0;
        sum[k] += x[(size_t)offsetOf(sh, n, c, s)];
        count[k] += 1;
      }
  mean.assign(stats, 0);
  var.assign(stats, 0);
  for (size_t k = 0; k < stats; ++k)
    mean[k] = (double)(sum[k] / count[k]);
  for (int64_t n = 0; n < sh.n; ++n)
    for (int64_t c = 0; c < sh.c; ++c)
      for (int64_t s = 0; s < sh.s; ++s) {
        size_t k = perChannel ? (size_t)c : 0;
        long double d = (long double)x[(size_t)offsetOf(sh, n, c, s)] - mean[k];
        sq[k] += d * d;
      }
  for (size_t k = 0; k < stats; ++k)
    var[k] = (double)(sq[k] / count[k]);
}

const act::Activation &pwlu() {
  static const act::Module m = act::Module::compileFile(ACT_EXAMPLES_DIR "/seeds.act");
  return m.get("pwlu");
}

/// The pwlu kernel (float64) for channel c's parameters at the points xs.
std::vector<double> runPwlu(const std::vector<double> &xs, const double *y, int64_t knots,
                            double bl, double br, double kl, double kr) {
  act::TensorShape sh{1, 1, (int64_t)xs.size(), act::Layout::NCS};
  std::vector<double> out(xs.size());
  const double *in[] = {xs.data()};
  const double *params[] = {y, &bl, &br, &kl, &kr};
  REQUIRE(knots == 17);
  pwlu().forward(sh, in, out.data(), params);
  return out;
}

} // namespace

TEST_CASE("PWLU statistics match a float64 two-pass reference on skewed data", "[pwlu]") {
  std::vector<double> a = {-1.0, 10000.0, 0.5}, b = {2.0, 0.01, 0.1};
  for (bool perChannel : {true, false})
    for (act::Layout layout : {act::Layout::NCS, act::Layout::NSC}) {
      INFO((perChannel ? "per channel, " : "per layer, ") << act_test::layoutName(layout));
      act::TensorShape sh{3, 3, 700, layout};
      act::RunningStats stats;
      stats.perChannel = perChannel;
      stats.momentum = 0.25;
      std::vector<double> runMean, runVar;
      for (unsigned batch = 0; batch < 3; ++batch) {
        std::vector<float> x = skewedTensor(sh, a, b, 100 * batch + 7);
        stats.update(sh, x.data());
        std::vector<double> mean, var;
        reference(sh, x, perChannel, mean, var);
        if (batch == 0) {
          runMean = mean;
          runVar = var;
        } else {
          for (size_t k = 0; k < mean.size(); ++k) {
            runMean[k] = 0.75 * runMean[k] + 0.25 * mean[k];
            runVar[k] = 0.75 * runVar[k] + 0.25 * var[k];
          }
        }
      }
      REQUIRE(stats.batches == 3);
      REQUIRE(stats.mean.size() == (perChannel ? 3u : 1u));
      for (size_t k = 0; k < runMean.size(); ++k) {
        INFO("stat " << k << " mean " << act_test::fmt(runMean[k]) << " var "
                     << act_test::fmt(runVar[k]));
        CHECK(std::fabs(stats.mean[k] - runMean[k]) <= 1e-12 * std::fabs(runMean[k]) + 1e-14);
        // Channel 1 sits at 1e4 with std 1e-2: a naive sum of squares would lose it.
        CHECK(std::fabs(stats.var[k] - runVar[k]) <= 1e-9 * runVar[k]);
      }
    }
}

TEST_CASE("PWLU statistics are bitwise the same for any thread count", "[pwlu][threads]") {
  unsigned saved = act::numThreads();
  for (act::Layout layout : {act::Layout::NCS, act::Layout::NSC}) {
    act::TensorShape sh{8, 4, 20000, layout}; // several chunks in both layouts
    std::vector<float> x = skewedTensor(sh, {0, 1, 2, 3}, {1, 2, 3, 4}, 11);
    std::vector<std::vector<double>> results;
    for (unsigned threads : {1u, 3u, 8u}) {
      act::setNumThreads(threads);
      act::RunningStats stats;
      stats.update(sh, x.data());
      stats.update(sh, x.data());
      std::vector<double> r = stats.mean;
      r.insert(r.end(), stats.var.begin(), stats.var.end());
      results.push_back(r);
    }
    CHECK(results[0] == results[1]);
    CHECK(results[0] == results[2]);
  }
  act::setNumThreads(saved);
}

TEST_CASE("PWLU statistics reject mismatched channels and bad momentum", "[pwlu]") {
  act::RunningStats stats;
  std::vector<float> x(12, 1.0f);
  stats.update(act::TensorShape{1, 3, 4}, x.data());
  CHECK_THROWS_WITH(stats.update(act::TensorShape{1, 4, 3}, x.data()),
                    Catch::Contains("hold 3 channel(s), the tensor has 4"));
  stats.momentum = 0;
  CHECK_THROWS_WITH(stats.update(act::TensorShape{1, 3, 4}, x.data()),
                    Catch::Contains("momentum must be in (0, 1]"));
  std::vector<double> y(17), bl{-3}, br{3}, kl{0}, kr{1};
  act::RunningStats empty;
  CHECK_THROWS_WITH(act::realignPwlu(empty, 1, 17, y.data(), bl.data(), br.data(), kl.data(),
                                     kr.data()),
                    Catch::Contains("no statistics yet"));
}

TEST_CASE("PWLU re-alignment keeps the function inside the old bounds", "[pwlu]") {
  constexpr int64_t C = 4, K = 17, n = K - 1;
  // Old PWLUs: channel 0 as initialised in seeds.act (ReLU); the others random walks
  // on differing bounds with random outer slopes.
  std::vector<double> y(C * K), bl = {-3, -3, -1, -2}, br = {3, 3, 5, 2},
                                kl = {0, 0.3, -0.5, 0.1}, kr = {1, 1.5, 0.2, -0.4};
  std::vector<double> init = pwlu().params()[0].init;
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> step(-0.6, 0.6);
  for (int64_t c = 0; c < C; ++c)
    for (int64_t j = 0; j < K; ++j)
      y[c * K + j] = c == 0 ? init[(size_t)j] : (j ? y[c * K + j - 1] : 0.0) + step(rng);
  const std::vector<double> oldY = y, oldBl = bl, oldBr = br, oldKl = kl, oldKr = kr;

  // Phase I on skewed inputs: right-skewed around 0.5 (bounds overlap the old ones), a
  // narrow one inside the old bounds, a wide one containing them, one left-skewed.
  act::TensorShape sh{4, C, 2000, act::Layout::NCS};
  std::vector<float> x = skewedTensor(sh, {-0.5, 1.5, 0.0, 1.0}, {1.0, 0.2, 1.0, 1.0}, 3);
  for (int64_t i = 0; i < sh.s * sh.n; ++i) // channel 2 wider, channel 3 mirrored
    for (int64_t c : {2, 3}) {
      float &v = x[(size_t)offsetOf(sh, i / sh.s, c, i % sh.s)];
      v = c == 2 ? 3.0f * v - 6.0f : -v;
    }
  act::RunningStats stats;
  stats.update(sh, x.data());
  act::realignPwlu(stats, C, K, y.data(), bl.data(), br.data(), kl.data(), kr.data());

  size_t exactPoints = 0, boundedPoints = 0;
  double worstNaive = 0;
  for (int64_t c = 0; c < C; ++c) {
    INFO("channel " << c);
    // The new bounds, from the statistics independently of the runtime.
    double sd = std::sqrt(stats.var[(size_t)c]);
    double lo = stats.mean[(size_t)c] - 3 * sd, hi = stats.mean[(size_t)c] + 3 * sd;
    REQUIRE(bl[c] == Approx(lo).epsilon(1e-12));
    REQUIRE(br[c] == Approx(hi).epsilon(1e-12));
    // Old kinks: positions and slope changes (the outer slopes meet the table at bl, br).
    double w = (oldBr[c] - oldBl[c]) / n;
    std::vector<double> slopes = {oldKl[c]};
    for (int64_t i = 0; i < n; ++i)
      slopes.push_back((oldY[c * K + i + 1] - oldY[c * K + i]) / w);
    slopes.push_back(oldKr[c]);
    std::vector<std::pair<double, double>> kinks; // (position, |slope change|)
    for (int64_t i = 0; i <= n; ++i)
      kinks.emplace_back(oldBl[c] + i * w, std::fabs(slopes[i + 1] - slopes[i]));
    auto variation = [&](double a, double b) { // slope change strictly inside (a, b)
      double v = 0;
      for (auto [p, d] : kinks)
        if (p > std::min(a, b) + 1e-12 && p < std::max(a, b) - 1e-12)
          v += d;
      return v;
    };

    std::vector<double> xs;
    for (int i = 0; i <= 4000; ++i)
      xs.push_back(oldBl[c] + (oldBr[c] - oldBl[c]) * i / 4000.0);
    double nw = (hi - lo) / n;
    for (int64_t j = 0; j <= n; ++j) // the new knots inside the old bounds
      if (lo + j * nw >= oldBl[c] && lo + j * nw <= oldBr[c])
        xs.push_back(lo + j * nw);
    std::vector<double> before = runPwlu(xs, &oldY[c * K], K, oldBl[c], oldBr[c], oldKl[c],
                                         oldKr[c]);
    std::vector<double> after = runPwlu(xs, &y[c * K], K, bl[c], br[c], kl[c], kr[c]);
    std::vector<double> naive = runPwlu(xs, &oldY[c * K], K, bl[c], br[c], oldKl[c], oldKr[c]);
    double scale = 1e-9 * (1 + *std::max_element(before.begin(), before.end()) -
                           *std::min_element(before.begin(), before.end()));
    for (size_t i = 0; i < xs.size(); ++i) {
      double px = xs[i];
      // The error bound of linear interpolation (or extrapolation) of the old function.
      double bound;
      bool atKnot = i > 4000;
      if (px < lo)
        bound = (lo - px) * variation(px, lo);
      else if (px > hi)
        bound = (px - hi) * variation(hi, px);
      else {
        double j = std::min(std::floor((px - lo) / nw), double(n - 1));
        bound = atKnot ? 0 : nw / 4 * variation(lo + j * nw, lo + (j + 1) * nw);
      }
      INFO("x = " << act_test::fmt(px) << " before " << act_test::fmt(before[i]) << " after "
                  << act_test::fmt(after[i]) << " bound " << act_test::fmt(bound));
      CHECK(std::fabs(after[i] - before[i]) <= bound + scale);
      (bound == 0 ? exactPoints : boundedPoints)++;
      worstNaive = std::max(worstNaive, std::fabs(naive[i] - before[i]));
    }
  }
  // Both kinds of points were checked: where the old function is linear across a new
  // segment (exact agreement) and where it is not (the interpolation bound).
  CHECK(exactPoints > 2000);
  CHECK(boundedPoints > 2000);
  // Moving the bounds without refitting the knots changes the function a lot: the
  // check above can tell a refit from none.
  CHECK(worstNaive > 0.5);
}

TEST_CASE("PWLU re-alignment in float32 matches the float64 one", "[pwlu]") {
  act::RunningStats stats;
  stats.perChannel = false;
  std::vector<float> x = skewedTensor(act::TensorShape{2, 2, 500}, {0.5, 0.5}, {1, 1}, 9);
  stats.update(act::TensorShape{2, 2, 500}, x.data());
  std::vector<double> init = pwlu().params()[0].init;
  std::vector<float> yf;
  for (int c = 0; c < 2; ++c)
    yf.insert(yf.end(), init.begin(), init.end());
  std::vector<double> yd(yf.begin(), yf.end());
  std::vector<float> blf{-3, -3}, brf{3, 3}, klf{0, 0}, krf{1, 1};
  std::vector<double> bld{-3, -3}, brd{3, 3}, kld{0, 0}, krd{1, 1};
  act::realignPwlu(stats, 2, 17, yf.data(), blf.data(), brf.data(), klf.data(), krf.data());
  act::realignPwlu(stats, 2, 17, yd.data(), bld.data(), brd.data(), kld.data(), krd.data());
  for (size_t i = 0; i < yf.size(); ++i)
    CHECK(yf[i] == Approx(yd[i]).margin(1e-5));
  CHECK(blf[1] == Approx(bld[1]).epsilon(1e-6)); // per layer: both channels alike
  CHECK(bld[0] == bld[1]);
  CHECK(krf[0] == 1.0f);
}
