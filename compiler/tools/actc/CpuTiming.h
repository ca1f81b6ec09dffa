// actc: timing an activation's CPU kernels against memcpy of the same bytes, shared by
// `actc bench` and the tour's ratio columns.
#pragma once

#include "act/act.h"

#include <algorithm>
#include <chrono>
#include <functional>
#include <new>
#include <vector>

namespace actc {

/// Median times of `reps` rounds, each running copy (which times itself: memcpy of
/// the forward's bytes), forward and backward one after the other after one warm-up
/// round, so that the three see the same machine (a shared VM's memory bandwidth
/// drifts by tens of percent between seconds). Milliseconds.
struct RoundTimes {
  double copyMs, forwardMs, backwardMs;
};
/// Median times of `reps` rounds of copy (which times itself) and each of `subjects`
/// in order, after one warm-up round; each round ends with an untimed copy.
/// `alternatePairs`: subjects 2k and 2k + 1 run in the other order every other round
/// (two kernels compared head to head: whichever runs right after the memcpy
/// writes back its dirty lines, 10-15% of a forward). Milliseconds: the copy's,
/// then each subject's.
template <typename Copy>
std::vector<double> timeRoundsOf(int reps, Copy &&copy,
                                 const std::vector<std::function<void()>> &subjects,
                                 bool alternatePairs = false) {
  using Clock = std::chrono::steady_clock;
  auto time = [](const std::function<void()> &fn) {
    auto start = Clock::now();
    fn();
    return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  };
  copy();
  for (const auto &fn : subjects)
    fn();
  std::vector<std::vector<double>> t(subjects.size() + 1);
  for (int i = 0; i < reps; ++i) {
    t[0].push_back(copy());
    for (size_t j = 0; j < subjects.size(); ++j) {
      size_t k = alternatePairs && i % 2 == 1 && (j ^ 1) < subjects.size() ? j ^ 1 : j;
      t[k + 1].push_back(time(subjects[k]));
    }
    // Untimed: the next round's memcpy then follows a memcpy, whatever backward left
    // behind. A peer's backward that writes hundreds of MB (Halide's adjoint
    // buffers) left dirty lines whose write-back slowed the memcpy after it, which
    // made that peer's ratios look 15-35% better than its times.
    copy();
  }
  std::vector<double> medians;
  for (std::vector<double> &v : t) {
    std::sort(v.begin(), v.end());
    medians.push_back(v[v.size() / 2]);
  }
  return medians;
}
template <typename Copy, typename Fwd, typename Bwd>
RoundTimes timeRounds(int reps, Copy &&copy, Fwd &&forward, Bwd &&backward) {
  std::vector<double> m = timeRoundsOf(reps, copy, {forward, backward});
  return RoundTimes{m[0], m[1], m[2]};
}

/// memcpy split into act::numThreads() contiguous slices copied at once: the
/// bandwidth the machine gives act's threads is the yardstick.
void parallelMemcpy(void *dst, const void *src, size_t bytes);

/// Parameter values for timing and accuracy runs: the declared initial values,
/// 1 where a parameter has none.
std::vector<std::vector<float>> defaultParams(const act::Activation &a,
                                              const act::TensorShape &shape);

/// Allocates on 64-byte boundaries (cache lines), as frameworks and Halide's buffers
/// do: malloc's large blocks start 16 bytes into a page, which puts every 64-byte
/// vector access across two cache lines.
template <typename T>
struct CacheLineAllocator {
  using value_type = T;
  CacheLineAllocator() = default;
  template <typename U>
  CacheLineAllocator(const CacheLineAllocator<U> &) {}
  T *allocate(size_t n) {
    return static_cast<T *>(::operator new(n * sizeof(T), std::align_val_t(64)));
  }
  void deallocate(T *p, size_t) { ::operator delete(p, std::align_val_t(64)); }
  template <typename U>
  bool operator==(const CacheLineAllocator<U> &) const { return true; }
  template <typename U>
  bool operator!=(const CacheLineAllocator<U> &) const { return false; }
};
using AlignedFloats = std::vector<float, CacheLineAllocator<float>>;

/// float32 buffers for one activation on `shape`: every input sweeping [lo, hi),
/// parameters at their initial values (1 where none is declared), dy = 1.
struct CpuRun {
  CpuRun(const act::Activation &a, const act::TensorShape &shape, double lo, double hi);

  /// timeRounds of memcpy, act's forward and act's backward (dx and parameter
  /// gradients, no y).
  RoundTimes measure(int reps);
  /// act's forward (into y) and backward (into din and dp) on these buffers.
  void forward();
  void backward();
  /// One memcpy of the forward's bytes (inputs read, y written), timed: milliseconds.
  double copyOnceMs();
  /// Bytes the forward moves: every input read, y written.
  double forwardBytes() const;

  const act::Activation &activation;
  act::TensorShape shape;
  std::vector<AlignedFloats> inputs, dinputs;
  std::vector<std::vector<float>> params, dparams;
  AlignedFloats y, dy, copy;
  std::vector<const float *> in, pp;
  std::vector<float *> din, dp;
};

} // namespace actc
