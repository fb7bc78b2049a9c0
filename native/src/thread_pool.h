// A small persistent thread pool for the CPU kernels.
//
// run(tasks, fn) calls fn(i) for every i in [0, tasks) and returns when all are
// done; the calling thread works too, so nested or concurrent calls (several
// AsyncWorkers at once) always make progress. The first exception thrown by a
// task is re-thrown on the caller's thread after the others finish.
#pragma once

#include <cstdint>
#include <functional>

namespace jobbert {

class ThreadPool {
 public:
  static ThreadPool& instance();

  // Runs fn(0..tasks-1) on up to maxThreads threads (<= 0: all), caller included.
  void run(int64_t tasks, const std::function<void(int64_t)>& fn, int maxThreads = 0);

  // Threads that run() may use, the caller's included.
  int size() const;
  // n <= 0: JOBBERT_THREADS or the hardware concurrency.
  void resize(int n);

  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

 private:
  ThreadPool();
  ~ThreadPool();
  struct Impl;
  Impl* impl_;
};

// Convenience: split [0, n) into about `chunks` contiguous ranges and run
// fn(begin, end) for each on the pool.
void parallelRanges(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

}  // namespace jobbert
