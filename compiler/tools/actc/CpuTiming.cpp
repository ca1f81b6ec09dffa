// actc: timing an activation's CPU kernels against memcpy of the same bytes.
#include "CpuTiming.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <mutex>
#include <thread>

using namespace actc;

namespace {
/// Worker threads kept for the copies, woken per copy like act's own pool (a short
/// spin with yields, then a condition variable), so the yardstick pays the same
/// hand-off act's kernels pay and no thread start-up.
class CopyPool {
public:
  static CopyPool &get() {
    static CopyPool pool;
    return pool;
  }
  /// Runs copy(0) on this thread and copy(1..n-1) on workers; returns when all are done.
  void run(unsigned n, const std::function<void(unsigned)> &copy) {
    {
      std::lock_guard<std::mutex> lock(m);
      while (workers.size() + 1 < n)
        workers.emplace_back([this, id = (unsigned)workers.size() + 1] { loop(id); });
      job = &copy;
      parts = n;
      pending = n - 1;
      ++generation;
    }
    wake.notify_all();
    copy(0);
    spin([&] { return pending.load() == 0; });
    std::unique_lock<std::mutex> lock(m);
    done.wait(lock, [&] { return pending == 0; });
  }
  ~CopyPool() {
    {
      std::lock_guard<std::mutex> lock(m);
      stop = true;
    }
    wake.notify_all();
    for (std::thread &t : workers)
      t.join();
  }

private:
  /// Up to 200 us of yields before sleeping, as act's ThreadPool does.
  template <typename Ready>
  static void spin(Ready ready) {
    auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(200);
    while (!ready() && std::chrono::steady_clock::now() < until)
      std::this_thread::yield();
  }

  void loop(unsigned id) {
    unsigned long seen = 0;
    for (;;) {
      spin([&] { return stop.load() || generation.load() != seen; });
      std::unique_lock<std::mutex> lock(m);
      wake.wait(lock, [&] { return stop || generation != seen; });
      if (stop)
        return;
      seen = generation;
      const std::function<void(unsigned)> *work = id < parts ? job : nullptr;
      lock.unlock();
      if (!work)
        continue;
      (*work)(id);
      lock.lock();
      if (--pending == 0)
        done.notify_one();
    }
  }

  std::mutex m;
  std::condition_variable wake, done;
  std::vector<std::thread> workers;
  const std::function<void(unsigned)> *job = nullptr;
  unsigned parts = 0;
  // Written under m; atomic for the spins.
  std::atomic<unsigned> pending{0};
  std::atomic<unsigned long> generation{0};
  std::atomic<bool> stop{false};
};
} // namespace

void actc::parallelMemcpy(void *dst, const void *src, size_t bytes) {
  unsigned threads = std::max(1u, act::numThreads());
  size_t slice = (bytes / threads + 63) / 64 * 64;
  CopyPool::get().run(threads, [&](unsigned t) {
    size_t begin = std::min(bytes, t * slice), end = std::min(bytes, begin + slice);
    std::memcpy(static_cast<char *>(dst) + begin, static_cast<const char *>(src) + begin,
                end - begin);
  });
}

std::vector<std::vector<float>> actc::defaultParams(const act::Activation &a,
                                                   const act::TensorShape &shape) {
  std::vector<std::vector<float>> out;
  for (const act::ParamInfo &p : a.params()) {
    std::vector<double> v = p.init.empty()
                                ? std::vector<double>((size_t)p.numValues(shape), 1.0)
                                : p.initialValues(shape);
    out.emplace_back(v.begin(), v.end());
  }
  return out;
}

CpuRun::CpuRun(const act::Activation &a, const act::TensorShape &shape, double lo, double hi)
    : activation(a), shape(shape) {
  size_t count = (size_t)shape.numElements();
  inputs.assign(a.inputs().size(), AlignedFloats(count));
  for (auto &v : inputs)
    for (size_t i = 0; i < count; ++i)
      v[i] = (float)(lo + (hi - lo) * (double)(i % 4096) / 4096.0);
  params = defaultParams(a, shape);
  for (auto &p : params)
    dparams.emplace_back(p.size());
  y.resize(count);
  dy.assign(count, 1.0f);
  copy.resize(count);
  dinputs.assign(inputs.size(), AlignedFloats(count));
  for (auto &v : inputs)
    in.push_back(v.data());
  for (auto &v : params)
    pp.push_back(v.data());
  for (auto &v : dinputs)
    din.push_back(v.data());
  for (auto &v : dparams)
    dp.push_back(v.data());
}

double CpuRun::forwardBytes() const {
  return (double)y.size() * sizeof(float) * (double)(inputs.size() + 1);
}

double CpuRun::copyOnceMs() {
  auto start = std::chrono::steady_clock::now();
  parallelMemcpy(copy.data(), inputs[0].data(), copy.size() * sizeof(float));
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                  .count();
  // One copy reads and writes y's bytes; the forward reads every input and writes y.
  return ms * (double)(inputs.size() + 1) / 2.0;
}

void CpuRun::forward() { activation.forward(shape, in.data(), y.data(), pp.data()); }

void CpuRun::backward() {
  activation.backward(shape, in.data(), dy.data(), din.data(), dp.data(), pp.data());
}

RoundTimes CpuRun::measure(int reps) {
  return timeRounds(
      reps, [&] { return copyOnceMs(); }, [&] { forward(); }, [&] { backward(); });
}
