// act runtime (internal): a small persistent thread pool for splitting kernels.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace act::detail {

/// Runs parallelFor tasks on `size() - 1` workers plus the calling thread. Tasks are
/// claimed from an atomic counter, so which thread runs a task varies; callers that
/// need determinism make each task's output depend only on the task index.
class ThreadPool {
public:
  explicit ThreadPool(unsigned threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool &) = delete;
  ThreadPool &operator=(const ThreadPool &) = delete;

  unsigned size() const { return (unsigned)workers.size() + 1; }

  /// Calls fn(i) for every i in [0, count), returning when all are done. Calls from
  /// several threads at once are serialised.
  void parallelFor(size_t count, const std::function<void(size_t)> &fn);

  /// The process-wide pool, sized by setNumThreads (default: hardware threads).
  static ThreadPool &global();
  static void resizeGlobal(unsigned threads);

private:
  void workerLoop();
  void runTasks();

  std::vector<std::thread> workers;
  std::mutex callMutex; // one parallelFor at a time
  std::mutex mutex;
  std::condition_variable wake, done;
  const std::function<void(size_t)> *job = nullptr;
  size_t jobCount = 0;
  std::atomic<size_t> next{0};
  // Written under `mutex`; atomic so that a thread can spin on them before it sleeps.
  std::atomic<size_t> finished{0};
  std::atomic<unsigned> generation{0};
  std::atomic<unsigned> active{0}; // workers inside runTasks for the current generation
  std::atomic<bool> stopping{false};
};

} // namespace act::detail
