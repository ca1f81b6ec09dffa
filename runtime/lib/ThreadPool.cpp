// act runtime: the thread pool behind kernel splitting.
#include "ThreadPool.h"

#include <memory>

namespace act::detail {

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
