// act runtime: the thread pool behind kernel splitting.
#include "ThreadPool.h"

#include <chrono>
#include <memory>

namespace act::detail {

namespace {
/// Spins up to kSpin on `ready` before the caller sleeps on a condition variable: a
/// futex wake-up takes tens of microseconds (more in a VM), a noticeable share of a
/// 2 ms kernel, while back-to-back kernel calls (training steps, benchmarks) come
/// sooner than that.
constexpr std::chrono::microseconds kSpin{200};
/// The spinning thread yields each turn: another process's (or the benchmark's
/// memcpy's) thread that wakes on this core runs at once instead of waiting out the
/// spin.
template <typename Ready>
void spinUntil(Ready ready) {
  auto until = std::chrono::steady_clock::now() + kSpin;
  while (!ready() && std::chrono::steady_clock::now() < until)
    std::this_thread::yield();
}
} // namespace

ThreadPool::ThreadPool(unsigned threads) {
  if (threads == 0)
    threads = std::max(1u, std::thread::hardware_concurrency());
  for (unsigned i = 1; i < threads; ++i)
    workers.emplace_back([this] { workerLoop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex);
    stopping = true;
  }
  wake.notify_all();
  for (std::thread &t : workers)
    t.join();
}

void ThreadPool::runTasks() {
  size_t count = 0;
  for (size_t i; (i = next.fetch_add(1)) < jobCount; ++count)
    (*job)(i);
  std::lock_guard<std::mutex> lock(mutex);
  finished += count;
  if (finished == jobCount)
    done.notify_all();
}

void ThreadPool::workerLoop() {
  unsigned seen = 0;
  for (;;) {
    spinUntil([&] { return stopping.load() || generation.load() != seen; });
    {
      std::unique_lock<std::mutex> lock(mutex);
      wake.wait(lock, [&] { return stopping || generation != seen; });
      if (stopping)
        return;
      seen = generation;
      ++active;
    }
    runTasks();
    {
      std::lock_guard<std::mutex> lock(mutex);
      --active;
    }
    done.notify_all();
  }
}

void ThreadPool::parallelFor(size_t count, const std::function<void(size_t)> &fn) {
  if (count == 0)
    return;
  if (workers.empty() || count == 1) {
    for (size_t i = 0; i < count; ++i)
      fn(i);
    return;
  }
  std::lock_guard<std::mutex> call(callMutex);
  {
    std::lock_guard<std::mutex> lock(mutex);
    job = &fn;
    jobCount = count;
    next = 0;
    finished = 0;
    ++generation;
  }
  wake.notify_all();
  runTasks();
  spinUntil([&] { return finished.load() == jobCount && active.load() == 0; });
  std::unique_lock<std::mutex> lock(mutex);
  // All tasks done and no worker still holding `job` for this generation.
  done.wait(lock, [&] { return finished == jobCount && active == 0; });
  job = nullptr;
}

namespace {
std::mutex globalMutex;
std::unique_ptr<ThreadPool> globalPool;
} // namespace

ThreadPool &ThreadPool::global() {
  std::lock_guard<std::mutex> lock(globalMutex);
  if (!globalPool)
    globalPool = std::make_unique<ThreadPool>(0);
  return *globalPool;
}

void ThreadPool::resizeGlobal(unsigned threads) {
  std::lock_guard<std::mutex> lock(globalMutex);
  globalPool = std::make_unique<ThreadPool>(threads);
}

} // namespace act::detail
