// WMMA (nvcuda::wmma) for the CPU emulator of CUDA (see cuda_runtime.h).
//
// Every lane holds the WHOLE tile in x[], row-major (A: M×K, B: K×N,
// accumulator: M×N), so num_elements is the tile's size, not the hardware's
// per-lane share. Code that touches x[] element-wise and uniformly (converting,
// scaling, `for (i < num_elements)`) behaves as on the GPU; code that assumes the
// hardware's element-to-lane mapping does not. load/mma/store are lane-local: each
// lane reads (and stores) the whole tile, so a missing __syncwarp between a store
// and other lanes' reads goes unnoticed here.
//
// Supported: m16n16k8 with precision::tf32 (float storage); m16n16k16,
// m32n8k16, m8n32k16 with __nv_bfloat16; float accumulators. mma_sync multiplies
// in fp32 with fp32 accumulation; tf32 inputs lose their low 13 mantissa bits as
// on the hardware (truncation). Pointers must be 32-byte aligned and ldm a
// multiple of 16 bytes (the CUDA programming guide's rule), else the kernel aborts.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

namespace nvcuda {
namespace wmma {

struct row_major {};
struct col_major {};
struct matrix_a {};
struct matrix_b {};
struct accumulator {};
namespace precision {
struct tf32 {};
}  // namespace precision

enum layout_t { mem_row_major, mem_col_major };

template <class T>
struct helper_traits {
  typedef T element_type;
  typedef T storage_element_type;
  typedef T fill_argument_type;
};
template <>
struct helper_traits<precision::tf32> {
  typedef precision::tf32 element_type;
  typedef float storage_element_type;
  typedef float fill_argument_type;
};

// Round to tf32 (10-bit mantissa): to nearest, ties away from zero (cvt.rna.tf32.f32).
inline float __float_to_tf32(float in) {
  unsigned int bits;
  std::memcpy(&bits, &in, sizeof bits);
  if ((bits & 0x7f800000u) == 0x7f800000u) return in;  // Inf, NaN
  bits = (bits + 0x1000u) & 0xffffe000u;
  float out;
  std::memcpy(&out, &bits, sizeof out);
  return out;
}

namespace detail {

template <class Use, int M, int N, int K>
struct Shape;
template <int M, int N, int K>
struct Shape<matrix_a, M, N, K> {
  static constexpr int rows = M, cols = K;
};
template <int M, int N, int K>
struct Shape<matrix_b, M, N, K> {
  static constexpr int rows = K, cols = N;
};
template <int M, int N, int K>
struct Shape<accumulator, M, N, K> {
  static constexpr int rows = M, cols = N;
};

template <class Use, int M, int N, int K, class T, class Layout>
constexpr bool valid() {
  constexpr bool tf32Shape = M == 16 && N == 16 && K == 8;
  constexpr bool bf16Shape = K == 16 && ((M == 16 && N == 16) || (M == 32 && N == 8) || (M == 8 && N == 32));
  if (std::is_same<Use, accumulator>::value)
    return std::is_same<T, float>::value && std::is_void<Layout>::value && (tf32Shape || bf16Shape);
  if (!std::is_same<Layout, row_major>::value && !std::is_same<Layout, col_major>::value) return false;
  if (std::is_same<T, precision::tf32>::value) return tf32Shape;
  if (std::is_same<T, __nv_bfloat16>::value) return bf16Shape;
  return false;
}

// The hardware ignores a tf32 operand's low 13 mantissa bits.
inline float mmaInput(float v) {
  unsigned int bits;
  std::memcpy(&bits, &v, sizeof bits);
  if ((bits & 0x7f800000u) == 0x7f800000u) return v;
  bits &= 0xffffe000u;
  std::memcpy(&v, &bits, sizeof v);
  return v;
}
inline float mmaInput(__nv_bfloat16 v) { return static_cast<float>(v); }

inline void checkOperand(const char* function, const void* p, unsigned ldm, size_t elementSize) {
  if (reinterpret_cast<uintptr_t>(p) % 32 != 0 || (ldm * elementSize) % 16 != 0) {
    char message[256];
    std::snprintf(message, sizeof message,
                  "nvcuda::wmma::%s(p=%p, ldm=%u): WMMA needs p 256-bit (32-byte) aligned and ldm a multiple of "
                  "16 bytes (%zu elements)",
                  function, p, ldm, 16 / elementSize);
    emu::detail::trap(message);
  }
}

}  // namespace detail

template <class Use, int M, int N, int K, class T, class Layout = void>
struct fragment {
  static_assert(detail::valid<Use, M, N, K, T, Layout>(),
                "WMMA fragment not supported (by CUDA or by the emulator): tf32 m16n16k8, bf16 m16n16k16/m32n8k16/"
                "m8n32k16, float accumulators; A/B need row_major or col_major, accumulators no layout");
  typedef typename helper_traits<T>::element_type element_type;
  typedef typename helper_traits<T>::storage_element_type storage_element_type;
  static constexpr int rows = detail::Shape<Use, M, N, K>::rows;
  static constexpr int cols = detail::Shape<Use, M, N, K>::cols;
  static constexpr int num_elements = rows * cols;
  storage_element_type x[num_elements];
};

template <class Use, int M, int N, int K, class T, class Layout>
inline void fill_fragment(fragment<Use, M, N, K, T, Layout>& f,
                          const typename helper_traits<T>::fill_argument_type& value) {
  for (int i = 0; i < f.num_elements; ++i) f.x[i] = value;
}

// A or B from memory in the fragment's layout: row_major (r, c) at p[r*ldm + c],
// col_major at p[c*ldm + r].
template <class Use, int M, int N, int K, class T, class Layout>
inline void load_matrix_sync(fragment<Use, M, N, K, T, Layout>& f,
                             const typename helper_traits<T>::storage_element_type* p, unsigned ldm) {
  static_assert(!std::is_same<Use, accumulator>::value, "accumulators are loaded with a layout_t");
  using Frag = fragment<Use, M, N, K, T, Layout>;
  detail::checkOperand("load_matrix_sync", p, ldm, sizeof(*p));
  constexpr bool rowMajor = std::is_same<Layout, row_major>::value;
  for (int r = 0; r < Frag::rows; ++r)
    for (int c = 0; c < Frag::cols; ++c)
      f.x[r * Frag::cols + c] = rowMajor ? p[size_t(r) * ldm + c] : p[size_t(c) * ldm + r];
}

template <int M, int N, int K>
inline void load_matrix_sync(fragment<accumulator, M, N, K, float>& f, const float* p, unsigned ldm, layout_t layout) {
  detail::checkOperand("load_matrix_sync", p, ldm, sizeof(float));
  for (int r = 0; r < M; ++r)
    for (int c = 0; c < N; ++c)
      f.x[r * N + c] = layout == mem_row_major ? p[size_t(r) * ldm + c] : p[size_t(c) * ldm + r];
}

template <int M, int N, int K>
inline void store_matrix_sync(float* p, const fragment<accumulator, M, N, K, float>& f, unsigned ldm, layout_t layout) {
  detail::checkOperand("store_matrix_sync", p, ldm, sizeof(float));
  for (int r = 0; r < M; ++r)
    for (int c = 0; c < N; ++c) {
      if (layout == mem_row_major) p[size_t(r) * ldm + c] = f.x[r * N + c];
      else p[size_t(c) * ldm + r] = f.x[r * N + c];
    }
}

// d = a·b + c in fp32; d may alias c. The lanes of a warp usually pass equal
// operands, so the last product is reused when the operands match byte for byte.
template <int M, int N, int K, class T, class LayoutA, class LayoutB>
inline void mma_sync(fragment<accumulator, M, N, K, float>& d, const fragment<matrix_a, M, N, K, T, LayoutA>& a,
                     const fragment<matrix_b, M, N, K, T, LayoutB>& b, const fragment<accumulator, M, N, K, float>& c) {
  struct Last {
    bool valid = false;
    decltype(a.x) ax;
    decltype(b.x) bx;
    float cx[M * N], dx[M * N];
  };
  static thread_local Last last;
  if (last.valid && std::memcmp(last.cx, c.x, sizeof c.x) == 0 && std::memcmp(last.ax, a.x, sizeof a.x) == 0 &&
      std::memcmp(last.bx, b.x, sizeof b.x) == 0) {
    std::memcpy(d.x, last.dx, sizeof d.x);
    return;
  }
  std::memcpy(last.ax, a.x, sizeof a.x);
  std::memcpy(last.bx, b.x, sizeof b.x);
  std::memcpy(last.cx, c.x, sizeof c.x);
  float av[M * K], bv[K * N], acc[M * N];
  for (int i = 0; i < M * K; ++i) av[i] = detail::mmaInput(a.x[i]);
  for (int i = 0; i < K * N; ++i) bv[i] = detail::mmaInput(b.x[i]);
  for (int i = 0; i < M * N; ++i) acc[i] = c.x[i];
  for (int i = 0; i < M; ++i)
    for (int k = 0; k < K; ++k)
      for (int j = 0; j < N; ++j) acc[i * N + j] += av[i * K + k] * bv[k * N + j];
  std::memcpy(last.dx, acc, sizeof acc);
  last.valid = true;
  std::memcpy(d.x, acc, sizeof acc);
}

}  // namespace wmma
}  // namespace nvcuda
