// act runtime: PWLU's two-phase training support (running input statistics and the
// re-alignment of a piecewise linear unit's knots). See act.h.
#include "act/act.h"

#include "ThreadPool.h"

#include <algorithm>
#include <cmath>
#include <string>

using namespace act;

namespace {

/// Count, mean and sum of squared deviations of a set of values (Chan et al.'s
/// parallel form, so partial results combine exactly in a fixed order).
struct Moments {
  double count = 0, mean = 0, m2 = 0;

  void combine(const Moments &o) {
    if (o.count == 0)
      return;
    if (count == 0) {
      *this = o;
      return;
    }
    double n = count + o.count, delta = o.mean - mean;
    mean += delta * (o.count / n);
    m2 += o.m2 + delta * delta * (count * o.count / n);
    count = n;
  }
};

/// Shifted sums over one run of values: the shift (the first value) keeps the sums
/// small for data far from 0, so sum of squares minus square of sum stays accurate.
struct ShiftedSums {
  double shift = 0, sum = 0, sumSq = 0, count = 0;

  void add(double v) {
    if (count == 0)
      shift = v;
    double d = v - shift;
    sum += d;
    sumSq += d * d;
    count += 1;
  }
  Moments moments() const {
    Moments m;
    if (count == 0)
      return m;
    m.count = count;
    m.mean = shift + sum / count;
    m.m2 = std::max(0.0, sumSq - sum * sum / count);
    return m;
  }
};

template <typename T>
void updateStats(RunningStats &stats, const TensorShape &shape, const T *x) {
  if (shape.n < 0 || shape.c < 0 || shape.s < 0)
    throw Error("RunningStats::update: tensor extents must not be negative");
  if (shape.numElements() == 0)
    return;
  if (!x)
    throw Error("RunningStats::update: x must not be null");
  if (!(stats.momentum > 0 && stats.momentum <= 1))
    throw Error("RunningStats::update: momentum must be in (0, 1], got " +
                std::to_string(stats.momentum));
  size_t numStats = stats.perChannel ? (size_t)shape.c : 1;
  if (stats.batches > 0 && stats.mean.size() != numStats)
    throw Error("RunningStats::update: the statistics hold " +
                std::to_string(stats.mean.size()) + " channel(s), the tensor has " +
                std::to_string(shape.c) + (stats.perChannel ? "" : " (per layer: 1)"));

  // Rows as the kernels see them: NCS rows are one channel's S values, NSC rows one
  // position's C values. Chunks of whole rows, cut by the shape alone.
  bool ncs = shape.layout == Layout::NCS;
  int64_t rows = ncs ? shape.n * shape.c : shape.n * shape.s;
  int64_t rowLen = ncs ? shape.s : shape.c;
  int64_t rowsPerChunk = std::max<int64_t>(1, (int64_t(1) << 16) / std::max<int64_t>(1, rowLen));
  int64_t chunks = (rows + rowsPerChunk - 1) / rowsPerChunk;
  std::vector<std::vector<Moments>> partial((size_t)chunks);
  detail::ThreadPool::global().parallelFor((size_t)chunks, [&](size_t i) {
    std::vector<ShiftedSums> sums(numStats);
    int64_t begin = (int64_t)i * rowsPerChunk, end = std::min(rows, begin + rowsPerChunk);
    std::vector<Moments> &out = partial[i];
    out.assign(numStats, Moments{});
    for (int64_t r = begin; r < end; ++r) {
      const T *row = x + r * rowLen;
      if (ncs) {
        // One channel per row: sums per row, then combined, so a shift taken in one
        // sample does not serve another far away.
        ShiftedSums s;
        for (int64_t k = 0; k < rowLen; ++k)
          s.add((double)row[k]);
        out[stats.perChannel ? size_t(r % shape.c) : 0].combine(s.moments());
      } else {
        for (int64_t k = 0; k < rowLen; ++k)
          sums[stats.perChannel ? (size_t)k : 0].add((double)row[k]);
      }
    }
    if (!ncs)
      for (size_t c = 0; c < numStats; ++c)
        out[c].combine(sums[c].moments());
  });
  std::vector<Moments> total(numStats);
  for (const auto &chunk : partial) // in chunk order: the same sums for any thread count
    for (size_t c = 0; c < numStats; ++c)
      total[c].combine(chunk[c]);

  if (stats.batches == 0) {
    stats.mean.assign(numStats, 0);
    stats.var.assign(numStats, 0);
  }
  double m = stats.batches == 0 ? 1.0 : stats.momentum;
  for (size_t c = 0; c < numStats; ++c) {
    double mean = total[c].mean, var = total[c].m2 / total[c].count;
    stats.mean[c] = (1 - m) * stats.mean[c] + m * mean;
    stats.var[c] = (1 - m) * stats.var[c] + m * var;
  }
  ++stats.batches;
}

/// One channel's piecewise linear function, as pwl() defines it (docs/language.md).
struct Pwl {
  double bl, br, kl, kr, width;
  std::vector<double> y;
  int64_t segments() const { return (int64_t)y.size() - 1; }

  double operator()(double x) const {
    if (x < bl)
      return y.front() + kl * (x - bl);
    if (x > br)
      return y.back() + kr * (x - br);
    double t = (x - bl) / width;
    int64_t i = std::clamp<int64_t>((int64_t)std::floor(t), 0, segments() - 1);
    return y[i] + (t - double(i)) * (y[i + 1] - y[i]);
  }
  double slope(int64_t i) const { return (y[i + 1] - y[i]) / width; }
  /// The slope just left of x (`left`) or just right of it.
  double slopeAt(double x, bool left) const {
    if (left ? x <= bl : x < bl)
      return kl;
    if (left ? x > br : x >= br)
      return kr;
    double t = (x - bl) / width;
    int64_t i = left ? (int64_t)std::ceil(t) - 1 : (int64_t)std::floor(t);
    return slope(std::clamp<int64_t>(i, 0, segments() - 1));
  }
};

template <typename T>
void realign(const RunningStats &stats, int64_t channels, int64_t knots, T *y, T *bl, T *br,
             T *kl, T *kr, double sigmas) {
  if (stats.batches == 0 || stats.mean.empty())
    throw Error("realignPwlu: no statistics yet (call RunningStats::update first)");
  if (stats.perChannel && (int64_t)stats.mean.size() != channels)
    throw Error("realignPwlu: the statistics hold " + std::to_string(stats.mean.size()) +
                " channels, the PWLU has " + std::to_string(channels));
  if (channels < 0 || knots < 2)
    throw Error("realignPwlu: a PWLU needs at least 2 knots per channel");
  if (!y || !bl || !br || !kl || !kr)
    throw Error("realignPwlu: parameter buffers must not be null");
  if (!(sigmas > 0) || !std::isfinite(sigmas))
    throw Error("realignPwlu: sigmas must be a positive number");
  for (int64_t c = 0; c < channels; ++c) {
    Pwl old{(double)bl[c], (double)br[c], (double)kl[c], (double)kr[c], 0, {}};
    if (!(old.bl < old.br))
      throw Error("realignPwlu: channel " + std::to_string(c) + " has bl >= br");
    old.y.assign(y + c * knots, y + (c + 1) * knots);
    old.width = (old.br - old.bl) / double(old.segments());
    size_t s = stats.perChannel ? (size_t)c : 0;
    double mean = stats.mean[s];
    double sd = std::max(std::sqrt(std::max(0.0, stats.var[s])),
                         1e-6 * std::max(1.0, std::fabs(mean)));
    // Bounds rounded to T first, so the knots sit where the kernels will put them.
    T newBl = T(mean - sigmas * sd), newBr = T(mean + sigmas * sd);
    double lo = (double)newBl, hi = (double)newBr;
    for (int64_t j = 0; j < knots; ++j)
      y[c * knots + j] = T(old(lo + (hi - lo) * double(j) / double(knots - 1)));
    bl[c] = newBl;
    br[c] = newBr;
    kl[c] = T(old.slopeAt(lo, /*left=*/true));
    kr[c] = T(old.slopeAt(hi, /*left=*/false));
  }
}

} // namespace

void RunningStats::update(const TensorShape &shape, const float *x) {
  updateStats(*this, shape, x);
}
void RunningStats::update(const TensorShape &shape, const double *x) {
  updateStats(*this, shape, x);
}

void act::realignPwlu(const RunningStats &stats, int64_t channels, int64_t knots, double *y,
                      double *bl, double *br, double *kl, double *kr, double sigmas) {
  realign(stats, channels, knots, y, bl, br, kl, kr, sigmas);
}
void act::realignPwlu(const RunningStats &stats, int64_t channels, int64_t knots, float *y,
                      float *bl, float *br, float *kl, float *kr, double sigmas) {
  realign(stats, channels, knots, y, bl, br, kl, kr, sigmas);
}
