// Kernels return a Status and never throw across threads or into callers:
// guarded() runs a kernel body and turns any exception into a Status.
#pragma once

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

}  // namespace jobbert
