// bfloat16 for the CPU emulator of CUDA (see cuda_runtime.h): 16-bit storage,
// conversions with the hardware's rounding. Arithmetic goes through float (the
// implicit conversions), as it does for CUDA's operators up to the final rounding.
#pragma once

#include <cuda_runtime.h>

struct __nv_bfloat16 {
  unsigned short __x;

  __nv_bfloat16() = default;
  __nv_bfloat16(float f);  // round to nearest even
  __nv_bfloat16(double f) : __nv_bfloat16(static_cast<float>(f)) {}
  __nv_bfloat16(int i) : __nv_bfloat16(static_cast<float>(i)) {}
  __nv_bfloat16(unsigned int i) : __nv_bfloat16(static_cast<float>(i)) {}
  __nv_bfloat16(long long i) : __nv_bfloat16(static_cast<float>(i)) {}
  __nv_bfloat16(unsigned long long i) : __nv_bfloat16(static_cast<float>(i)) {}
  operator float() const {
    unsigned int bits = static_cast<unsigned int>(__x) << 16;
    float f;
    std::memcpy(&f, &bits, sizeof f);
    return f;
  }
};
static_assert(sizeof(__nv_bfloat16) == 2 && std::is_trivially_copyable<__nv_bfloat16>::value, "bf16 storage");

struct __attribute__((aligned(4))) __nv_bfloat162 {
  __nv_bfloat16 x, y;
};
typedef __nv_bfloat16 nv_bfloat16;
typedef __nv_bfloat162 nv_bfloat162;

namespace emu::detail {
inline unsigned short bf16RoundNearestEven(float f) {
  unsigned int bits;
  std::memcpy(&bits, &f, sizeof bits);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<unsigned short>((bits >> 16) | 0x0040u);  // quiet NaN
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<unsigned short>(bits >> 16);
}
inline unsigned short bf16RoundTowardZero(float f) {
  unsigned int bits;
  std::memcpy(&bits, &f, sizeof bits);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<unsigned short>((bits >> 16) | 0x0040u);
  return static_cast<unsigned short>(bits >> 16);
}
inline __nv_bfloat16 bf16FromBits(unsigned short bits) {
  __nv_bfloat16 h;
  h.__x = bits;
  return h;
}
}  // namespace emu::detail

inline __nv_bfloat16::__nv_bfloat16(float f) : __x(emu::detail::bf16RoundNearestEven(f)) {}

inline __nv_bfloat16 __float2bfloat16(float f) {
  return emu::detail::bf16FromBits(emu::detail::bf16RoundNearestEven(f));
}
inline __nv_bfloat16 __float2bfloat16_rn(float f) { return __float2bfloat16(f); }
inline __nv_bfloat16 __float2bfloat16_rz(float f) {
  return emu::detail::bf16FromBits(emu::detail::bf16RoundTowardZero(f));
}
inline float __bfloat162float(__nv_bfloat16 h) { return static_cast<float>(h); }
inline __nv_bfloat16 __ushort_as_bfloat16(unsigned short bits) { return emu::detail::bf16FromBits(bits); }
inline unsigned short __bfloat16_as_ushort(__nv_bfloat16 h) { return h.__x; }

inline __nv_bfloat162 __floats2bfloat162_rn(float a, float b) { return {__float2bfloat16(a), __float2bfloat16(b)}; }
inline __nv_bfloat162 __float22bfloat162_rn(float2 f) { return __floats2bfloat162_rn(f.x, f.y); }
inline __nv_bfloat162 __halves2bfloat162(__nv_bfloat16 a, __nv_bfloat16 b) { return {a, b}; }
inline __nv_bfloat162 __bfloat162bfloat162(__nv_bfloat16 a) { return {a, a}; }
inline float2 __bfloat1622float2(__nv_bfloat162 h) { return make_float2(float(h.x), float(h.y)); }
inline float __low2float(__nv_bfloat162 h) { return float(h.x); }
inline float __high2float(__nv_bfloat162 h) { return float(h.y); }
inline __nv_bfloat16 __low2bfloat16(__nv_bfloat162 h) { return h.x; }
inline __nv_bfloat16 __high2bfloat16(__nv_bfloat162 h) { return h.y; }
