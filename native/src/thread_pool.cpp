#include "thread_pool.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace jobbert {
namespace {

// How long a thread that ran out of work polls for more before it sleeps. A
// blocked GEMM posts its next phase (pack, multiply) within microseconds, while
// waking a sleeping thread costs 10–100 µs (most in a VM, whose idle vCPU the
// host has halted): with a barrier every ~0.3 ms, sleeping between phases cost
// a small-M GEMM ~15% on 2 threads. Polling stops after this, so an idle pool
// costs nothing. JOBBERT_SPIN_US sets it (0: sleep at once, for a machine
// whose cores are all busy with other work).
std::chrono::microseconds spinTime() {
  static const std::chrono::microseconds t{[] {
    const char* env = std::getenv("JOBBERT_SPIN_US");
    return env ? std::clamp(std::atoi(env), 0, 100000) : 150;
  }()};
  return t;
}

// Polls done() until it holds or spinTime() has passed; true when it held.
template <typename Done>
bool spinUntil(Done done) {
  const auto spin = spinTime();
  if (spin.count() == 0) return done();
  const auto until = std::chrono::steady_clock::now() + spin;
  for (int i = 0;; ++i) {
    if (done()) return true;
#if defined(__x86_64__) || defined(__i386__)
    _mm_pause();
#else
    std::this_thread::yield();
#endif
    if ((i & 63) == 63 && std::chrono::steady_clock::now() >= until) return done();
  }
}

struct Job {
  const std::function<void(int64_t)>* fn;
  int64_t tasks;
  int maxHelpers;                    // workers allowed besides the caller
  std::atomic<int64_t> next{0};      // next task index to hand out
  std::atomic<int64_t> finished{0};  // tasks completed
  std::atomic<int> helpers{0};
  std::mutex doneMutex;
  std::condition_variable doneCv;
  std::mutex errorMutex;
  std::exception_ptr error;

  // Runs tasks until none are left; returns after the last one it took.
  void work() {
    for (;;) {
      int64_t i = next.fetch_add(1, std::memory_order_relaxed);
      if (i >= tasks) return;
      try {
        (*fn)(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(errorMutex);
        if (!error) error = std::current_exception();
      }
      if (finished.fetch_add(1, std::memory_order_acq_rel) + 1 == tasks) {
        std::lock_guard<std::mutex> lock(doneMutex);
        doneCv.notify_all();
      }
    }
  }
};

int defaultThreads() {
  if (const char* env = std::getenv("JOBBERT_THREADS")) {
    int n = std::atoi(env);
    if (n > 0) return std::min(n, 256);
  }
  unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(std::min(hw, 256u));
}

}  // namespace

struct ThreadPool::Impl {
  std::mutex mutex;
  std::condition_variable cv;
  std::deque<std::shared_ptr<Job>> queue;
  std::vector<std::thread> workers;
  std::atomic<int> target{1};  // total threads, caller included
  bool stopping = false;
  std::atomic<int64_t> posted{0};  // jobs queued so far: what spinning workers watch

  void workerLoop(int id) {
    std::unique_lock<std::mutex> lock(mutex);
    for (;;) {
      if (queue.empty() && !stopping) {
        const int64_t seen = posted.load(std::memory_order_acquire);
        lock.unlock();
        spinUntil([&] { return posted.load(std::memory_order_acquire) != seen; });
        lock.lock();
      }
      cv.wait(lock, [&] { return stopping || id + 1 >= target.load() || !queue.empty(); });
      if (stopping || id + 1 >= target.load()) return;
      std::shared_ptr<Job> job = queue.front();
      if (job->next.load() >= job->tasks || job->helpers.load() >= job->maxHelpers) {
        queue.pop_front();  // nothing left to hand out, or enough helpers
        continue;
      }
      job->helpers.fetch_add(1);
      lock.unlock();
      job->work();
      lock.lock();
    }
  }

  void start(int n) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      stopping = true;
    }
    cv.notify_all();
    for (auto& t : workers) t.join();
    workers.clear();
    stopping = false;
    target = n;
    for (int i = 0; i + 1 < n; ++i) workers.emplace_back([this, i] { workerLoop(i); });
  }
};

ThreadPool::ThreadPool() : impl_(new Impl) { impl_->start(defaultThreads()); }

ThreadPool::~ThreadPool() {
  // The process is exiting; workers may be blocked in wait: stop and join them.
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->stopping = true;
  }
  impl_->cv.notify_all();
  for (auto& t : impl_->workers) t.join();
  delete impl_;
}

ThreadPool& ThreadPool::instance() {
  static ThreadPool pool;
  return pool;
}

int ThreadPool::size() const { return impl_->target.load(); }

void ThreadPool::resize(int n) {
  static std::mutex resizeMutex;
  std::lock_guard<std::mutex> guard(resizeMutex);
  n = n <= 0 ? defaultThreads() : std::min(n, 256);
  if (n == impl_->target.load()) return;
  // Jobs in flight keep running: their callers finish any tasks the workers leave.
  impl_->start(n);
}

void ThreadPool::run(int64_t tasks, const std::function<void(int64_t)>& fn, int maxThreads) {
  if (tasks <= 0) return;
  int width = maxThreads <= 0 ? size() : std::min(maxThreads, size());
  if (tasks == 1 || width <= 1) {
    for (int64_t i = 0; i < tasks; ++i) fn(i);
    return;
  }
  auto job = std::make_shared<Job>();
  job->fn = &fn;
  job->tasks = tasks;
  job->maxHelpers = static_cast<int>(std::min<int64_t>(width - 1, tasks - 1));
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->queue.push_back(job);
    impl_->posted.fetch_add(1, std::memory_order_release);
  }
  impl_->cv.notify_all();
  job->work();
  // The helpers are finishing their last tasks: poll before sleeping (spinTime).
  if (!spinUntil([&] { return job->finished.load(std::memory_order_acquire) >= job->tasks; })) {
    std::unique_lock<std::mutex> lock(job->doneMutex);
    job->doneCv.wait(lock, [&] { return job->finished.load() >= job->tasks; });
  }
  {
    // Drop the job from the queue if no worker did (it holds a pointer to fn).
    std::lock_guard<std::mutex> lock(impl_->mutex);
    auto& q = impl_->queue;
    q.erase(std::remove(q.begin(), q.end(), job), q.end());
  }
  if (job->error) std::rethrow_exception(job->error);
}

void parallelRanges(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  int64_t chunks = std::min<int64_t>((n + grain - 1) / grain, 4 * ThreadPool::instance().size());
  chunks = std::max<int64_t>(chunks, 1);
  ThreadPool::instance().run(chunks, [&](int64_t c) {
    int64_t begin = n * c / chunks, end = n * (c + 1) / chunks;
    if (begin < end) fn(begin, end);
  });
}

}  // namespace jobbert
