// FloatBuffer: owned, aligned, uninitialised float storage for kernel inputs,
// outputs and resident matrices.
//
// Small buffers are 64-byte aligned. Buffers of 4 MiB or more are 2 MiB aligned
// and advised to use transparent huge pages where the OS offers them: copying a
// 400 MB corpus into fresh memory otherwise costs ~100k page faults.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <new>
#include <utility>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace jobbert {

class FloatBuffer {
 public:
  FloatBuffer() = default;
  // Throws std::bad_alloc when the memory cannot be had.
  explicit FloatBuffer(int64_t count) : size_(count) {
    if (count < 0) throw std::bad_alloc();
    size_t bytes = static_cast<size_t>(count) * sizeof(float);
    size_t align = bytes >= (size_t(4) << 20) ? (size_t(2) << 20) : 64;
    bytes = (bytes + align - 1) / align * align;
    if (bytes == 0) bytes = align;
    data_ = static_cast<float*>(std::aligned_alloc(align, bytes));
    if (!data_) throw std::bad_alloc();
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (align > 64) madvise(data_, bytes, MADV_HUGEPAGE);
#endif
  }
  ~FloatBuffer() { std::free(data_); }
  FloatBuffer(FloatBuffer&& o) noexcept : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}
  FloatBuffer& operator=(FloatBuffer&& o) noexcept {
    std::swap(data_, o.data_);
    std::swap(size_, o.size_);
    return *this;
  }
  FloatBuffer(const FloatBuffer&) = delete;
  FloatBuffer& operator=(const FloatBuffer&) = delete;

  float* data() { return data_; }
  const float* data() const { return data_; }
  int64_t size() const { return size_; }
  // Gives up ownership; free the pointer with FloatBuffer::free.
  float* release() {
    size_ = 0;
    return std::exchange(data_, nullptr);
  }
  static void free(float* p) { std::free(p); }

 private:
  float* data_ = nullptr;
  int64_t size_ = 0;
};

}  // namespace jobbert
