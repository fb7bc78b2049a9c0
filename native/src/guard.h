// Error plumbing shared by the kernels. They return a Status and never throw
// across threads or into callers: guarded() runs a kernel body and turns any
// exception into a Status; FirstError keeps a parallel loop's first failure;
// sysError words an OS error with the path it concerns.
#pragma once

#include <atomic>
#include <cstring>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>

#include "jobbert/kernels.h"

namespace jobbert {

template <typename Fn>
Status guarded(const char* what, Fn&& fn) noexcept {
  try {
    return fn();
  } catch (const std::bad_alloc&) {
    return Status::OutOfMemory(std::string("out of memory in ") + what);
  } catch (const std::exception& e) {
    return Status::Internal(std::string(what) + ": " + e.what());
  } catch (...) {
    return Status::Internal(std::string(what) + ": unknown failure");
  }
}

// The first error of a parallel loop; later tasks see failed() and stop early.
class FirstError {
 public:
  void set(Status s) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (status_.ok()) status_ = std::move(s);
    failed_.store(true, std::memory_order_relaxed);
  }
  bool failed() const { return failed_.load(std::memory_order_relaxed); }
  Status take() { return std::move(status_); }

 private:
  std::mutex mutex_;
  Status status_;
  std::atomic<bool> failed_{false};
};

// "cannot open 'path' for reading: No such file or directory"
inline std::string sysError(const char* what, const std::string& path, int err, const char* purpose = "") {
  return std::string(what) + " '" + path + "'" + purpose + ": " + std::strerror(err);
}

}  // namespace jobbert
