// jobbert native storage: checksums and chunked file I/O for matrices that
// live in native memory (MatchIndex save/load), plus the row moves (take,
// concat) that build new resident matrices from old ones. No N-API.
//
// Everything here streams: a 4 GB matrix is read straight into its final
// buffer and written straight from it, never staged through a second copy.
// Little-endian hosts only (the file format stores raw float32 LE); the build
// refuses big-endian targets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "jobbert/kernels.h"

namespace jobbert {

// ---------------------------------------------------------------- checksum64
//
// Definition (the file format cites this; it depends on neither the thread
// count nor the instruction set):
//
//   CRC32C(x)  = CRC-32C (Castagnoli): reflected polynomial 0x82F63B78,
//                init 0xFFFFFFFF, final xor 0xFFFFFFFF
//                (CRC32C("123456789") = 0xE3069283).
//   Split the input into blocks of kChecksumBlock = 1 MiB (the last may be
//   shorter; an empty input has no blocks) and let c_i = CRC32C(block i).
//   S = c_0 ‖ c_1 ‖ … ‖ c_{n-1} ‖ len, each c_i as uint32 little-endian and
//       len (the input's byte length) as uint64 little-endian.
//   checksum64 = (uint64(CRC32C(S)) << 32) | MurmurHash3_x86_32(S, seed = 0x4A4F4242)
//
// Written as 16 lowercase hex digits of that integer. Each block's CRC finds
// every error burst of up to 32 bits in it; random corruption of a block goes
// unnoticed with probability about 2^-32. The Murmur half makes the value
// non-linear in the block CRCs (so swapped or repeated blocks change it too).
constexpr size_t kChecksumBlock = size_t(1) << 20;

// Which CRC32C implementation to use: the SSE4.2 instruction when the CPU has
// it (kAuto), or the table-driven one (kPortable, for tests). Both give
// identical values.
enum class CrcPath { kAuto, kPortable };

// CRC32C of `bytes` bytes (the full CRC-32C, with init and final xor).
uint32_t crc32c(const void* data, size_t bytes, CrcPath path = CrcPath::kAuto);

// Combines the block CRCs c_0..c_{n-1} of an input of `totalBytes` bytes into
// checksum64 (n must be ceil(totalBytes / kChecksumBlock)).
uint64_t combineBlockCrcs(const uint32_t* blockCrcs, size_t n, uint64_t totalBytes);

// checksum64 of the bytes, blocks computed in parallel on the CPU pool.
uint64_t checksum64(const void* data, size_t bytes, CrcPath path = CrcPath::kAuto);

// "0123456789abcdef"-style rendering (16 digits) and its inverse (false for
// anything but exactly 16 hex digits; upper case accepted).
std::string checksumHex(uint64_t sum);
bool parseChecksumHex(const std::string& hex, uint64_t* sum);

// ---------------------------------------------------------------- file I/O
//
// Reads `count` floats at byte `offset` of `path` into `out` (pread in 8 MiB
// chunks on the CPU pool, no intermediate copy) and, when `sum` is not null,
// stores checksum64 of exactly the bytes read. Errors: kIoError (open/read
// failure; the message has strerror and the path), kCorrupt (the file ends
// before offset + count·4 bytes), kRangeError (bad arguments).
Status readFloatsFromFile(const std::string& path, uint64_t offset, int64_t count, float* out, uint64_t* sum);

// Writes `count` floats to byte `offset` of the existing file `path` (opened
// without O_CREAT or O_TRUNC, so bytes before and after are kept; a missing
// file is kIoError), pwrite in 8 MiB chunks on the CPU pool. Stores checksum64
// of the bytes written in `sum` when not null. Does not fsync: the caller
// fsyncs and renames.
Status writeFloatsToFile(const std::string& path, uint64_t offset, const float* data, int64_t count, uint64_t* sum);

// ---------------------------------------------------------------- row moves
//
// out[i] = src[rows[i]] for i < n (rows of src.cols floats). Every index is
// checked first: one outside [0, src.rows) is kRangeError naming `rows[i]`.
// Cost: n·cols·4 bytes copied, in parallel.
Status gatherRows(const ConstMatrix& src, const int32_t* rows, int64_t n, float* out);

// out = parts[0] rows, then parts[1] rows, … (all parts of `cols` columns;
// kRangeError naming `parts[i].cols` otherwise). out holds Σ rows·cols floats.
Status concatRows(const ConstMatrix* parts, size_t n, int64_t cols, float* out);

}  // namespace jobbert
