// Storage for resident matrices: checksum64 (block CRC32C, see store.h for the
// definition), chunked pread/pwrite straight into/out of the final buffer, and
// row gathers. Cost model: memory-bound — CRC32C runs at ~3 streams × 8 bytes
// per cycle per core with SSE4.2 (three blocks interleaved), so reads and
// writes are limited by the page cache copy, not by the checksum.
#include "jobbert/store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <vector>

#include "files.h"
#include "guard.h"
#include "thread_pool.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <nmmintrin.h>
#define JOBBERT_CRC_HW 1
#endif

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
static_assert(false, "jobbert stores float32 and checksums little-endian: big-endian hosts are not supported");
#endif

namespace jobbert {
namespace {

// ---------------------------------------------------------------- CRC32C

constexpr uint32_t kPoly = 0x82F63B78u;  // Castagnoli, reflected

// Slicing-by-8 tables: table[k][b] is the CRC of byte b followed by k zero bytes.
struct CrcTables {
  uint32_t t[8][256];
  CrcTables() {
    for (uint32_t b = 0; b < 256; ++b) {
      uint32_t c = b;
      for (int i = 0; i < 8; ++i) c = (c >> 1) ^ (kPoly & (0u - (c & 1u)));
      t[0][b] = c;
    }
    for (uint32_t b = 0; b < 256; ++b)
      for (int k = 1; k < 8; ++k) t[k][b] = (t[k - 1][b] >> 8) ^ t[0][t[k - 1][b] & 0xFF];
  }
};

const CrcTables& tables() {
  static const CrcTables t;
  return t;
}

// The CRC register update (no init or final xor).
uint32_t crcPortable(uint32_t crc, const uint8_t* p, size_t n) {
  const CrcTables& T = tables();
  while (n >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);  // little-endian load
    w ^= crc;
    crc = T.t[7][w & 0xFF] ^ T.t[6][(w >> 8) & 0xFF] ^ T.t[5][(w >> 16) & 0xFF] ^ T.t[4][(w >> 24) & 0xFF] ^
          T.t[3][(w >> 32) & 0xFF] ^ T.t[2][(w >> 40) & 0xFF] ^ T.t[1][(w >> 48) & 0xFF] ^ T.t[0][w >> 56];
    p += 8, n -= 8;
  }
  while (n--) crc = (crc >> 8) ^ T.t[0][(crc ^ *p++) & 0xFF];
  return crc;
}

#ifdef JOBBERT_CRC_HW
__attribute__((target("sse4.2"))) uint32_t crcHardware(uint32_t crc, const uint8_t* p, size_t n) {
  uint64_t c = crc;
  while (n >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    c = _mm_crc32_u64(c, w);
    p += 8, n -= 8;
  }
  uint32_t c32 = static_cast<uint32_t>(c);
  while (n--) c32 = _mm_crc32_u8(c32, *p++);
  return c32;
}

// Three independent blocks of equal length at once: the crc32 instruction has
// a latency of 3 cycles and a throughput of 1, so three streams keep it busy
// without the CRC-combine algebra one long stream would need.
__attribute__((target("sse4.2"))) void crcHardware3(const uint8_t* a, const uint8_t* b, const uint8_t* c, size_t n,
                                                    uint32_t* out) {
  uint64_t ca = 0xFFFFFFFFu, cb = 0xFFFFFFFFu, cc = 0xFFFFFFFFu;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t wa, wb, wc;
    std::memcpy(&wa, a + i, 8);
    std::memcpy(&wb, b + i, 8);
    std::memcpy(&wc, c + i, 8);
    ca = _mm_crc32_u64(ca, wa);
    cb = _mm_crc32_u64(cb, wb);
    cc = _mm_crc32_u64(cc, wc);
  }
  out[0] = ~crcHardware(static_cast<uint32_t>(ca), a + i, n - i);
  out[1] = ~crcHardware(static_cast<uint32_t>(cb), b + i, n - i);
  out[2] = ~crcHardware(static_cast<uint32_t>(cc), c + i, n - i);
}

bool cpuHasSse42() {
  static const bool has = __builtin_cpu_supports("sse4.2");
  return has;
}
#endif

bool useHardware(CrcPath path) {
#ifdef JOBBERT_CRC_HW
  return path == CrcPath::kAuto && cpuHasSse42();
#else
  return false;
#endif
}

uint32_t crcFull(const uint8_t* p, size_t n, bool hw) {
#ifdef JOBBERT_CRC_HW
  if (hw) return ~crcHardware(0xFFFFFFFFu, p, n);
#endif
  return ~crcPortable(0xFFFFFFFFu, p, n);
}

// CRCs of blocks [b0, b1) of an input of `total` bytes starting at `base`.
void blockCrcs(const uint8_t* base, size_t total, size_t b0, size_t b1, uint32_t* out, bool hw) {
  size_t b = b0;
#ifdef JOBBERT_CRC_HW
  if (hw) {
    for (; b + 3 <= b1 && (b + 3) * kChecksumBlock <= total; b += 3) {
      const uint8_t* p = base + b * kChecksumBlock;
      crcHardware3(p, p + kChecksumBlock, p + 2 * kChecksumBlock, kChecksumBlock, out + b);
    }
  }
#endif
  for (; b < b1; ++b) {
    size_t begin = b * kChecksumBlock, end = std::min(total, begin + kChecksumBlock);
    out[b] = crcFull(base + begin, end - begin, hw);
  }
}

size_t blockCount(uint64_t bytes) { return static_cast<size_t>((bytes + kChecksumBlock - 1) / kChecksumBlock); }

// ---------------------------------------------------------------- MurmurHash3_x86_32

inline uint32_t rotl32(uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }

// MurmurHash3_x86_32 for inputs whose length is a multiple of 4 (no tail).
uint32_t murmur3(const uint8_t* p, size_t n, uint32_t seed) {
  uint32_t h = seed;
  for (size_t i = 0; i + 4 <= n; i += 4) {
    uint32_t k;
    std::memcpy(&k, p + i, 4);
    k *= 0xCC9E2D51u;
    k = rotl32(k, 15);
    k *= 0x1B873593u;
    h ^= k;
    h = rotl32(h, 13);
    h = h * 5 + 0xE6546B64u;
  }
  h ^= static_cast<uint32_t>(n);
  h ^= h >> 16;
  h *= 0x85EBCA6Bu;
  h ^= h >> 13;
  h *= 0xC2B2AE35u;
  h ^= h >> 16;
  return h;
}

constexpr uint32_t kMurmurSeed = 0x4A4F4242u;  // "JOBB"

// ---------------------------------------------------------------- file helpers

// Reads and writes go in chunks of this many bytes (a multiple of the checksum
// block), one chunk per pool task.
constexpr uint64_t kChunk = uint64_t(8) << 20;
static_assert(kChunk % kChecksumBlock == 0, "chunks must hold whole checksum blocks");

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  // Closes now, returning close()'s errno (0 on success).
  int close() {
    int rc = ::close(fd_);
    fd_ = -1;
    return rc == 0 ? 0 : errno;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;

 private:
  int fd_;
};

Status checkSpan(const char* fn, uint64_t offset, int64_t count, const void* ptr, uint64_t* bytes) {
  if (count < 0) return Status::Range(std::string(fn) + ": count must be >= 0; received " + std::to_string(count));
  if (count > 0 && !ptr) return Status::Range(std::string(fn) + ": the buffer is null");
  uint64_t n = static_cast<uint64_t>(count);
  if (n > (UINT64_MAX - offset) / sizeof(float) || offset > uint64_t(INT64_MAX) - n * sizeof(float))
    return Status::Range(std::string(fn) + ": offset + count·4 overflows a file offset");
  *bytes = n * sizeof(float);
  return Status::Ok();
}

}  // namespace

// ---------------------------------------------------------------- checksum API

uint32_t crc32c(const void* data, size_t bytes, CrcPath path) {
  return crcFull(static_cast<const uint8_t*>(data), bytes, useHardware(path));
}

uint64_t combineBlockCrcs(const uint32_t* blockCrcs, size_t n, uint64_t totalBytes) {
  std::vector<uint8_t> s(n * 4 + 8);
  if (n) std::memcpy(s.data(), blockCrcs, n * 4);  // little-endian host
  std::memcpy(s.data() + n * 4, &totalBytes, 8);
  uint32_t high = crc32c(s.data(), s.size());
  uint32_t low = murmur3(s.data(), s.size(), kMurmurSeed);
  return (uint64_t(high) << 32) | low;
}

uint64_t checksum64(const void* data, size_t bytes, CrcPath path) {
  const auto* base = static_cast<const uint8_t*>(data);
  const bool hw = useHardware(path);
  const size_t n = blockCount(bytes);
  std::vector<uint32_t> crcs(n);
  // Grain 3: whole triples of blocks go to one task, for the 3-stream kernel.
  parallelRanges(static_cast<int64_t>(n), 3, [&](int64_t b0, int64_t b1) {
    blockCrcs(base, bytes, static_cast<size_t>(b0), static_cast<size_t>(b1), crcs.data(), hw);
  });
  return combineBlockCrcs(crcs.data(), n, bytes);
}

std::string checksumHex(uint64_t sum) {
  static const char digits[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i, sum >>= 4) out[i] = digits[sum & 0xF];
  return out;
}

bool parseChecksumHex(const std::string& hex, uint64_t* sum) {
  if (hex.size() != 16) return false;
  uint64_t v = 0;
  for (char c : hex) {
    int d = c >= '0' && c <= '9'   ? c - '0'
            : c >= 'a' && c <= 'f' ? c - 'a' + 10
            : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                   : -1;
    if (d < 0) return false;
    v = (v << 4) | uint64_t(d);
  }
  *sum = v;
  return true;
}

// ---------------------------------------------------------------- file I/O

Status readFloatsFromFile(const std::string& path, uint64_t offset, int64_t count, float* out, uint64_t* sum) {
  uint64_t bytes = 0;
  Status s = checkSpan("readFloatsFromFile", offset, count, out, &bytes);
  if (!s.ok()) return s;
  int raw = -1;
  if (Status opened = openRegular(path, O_RDONLY, " for reading", &raw); !opened.ok()) return opened;
  Fd fd(raw);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return Status::Io(sysError("cannot stat", path, errno));
  auto truncated = [&](uint64_t size) {
    return Status::Corrupt("'" + path + "' is truncated: it holds " + std::to_string(size) + " bytes, but " +
                           std::to_string(count) + " floats at offset " + std::to_string(offset) + " need " +
                           std::to_string(offset + bytes));
  };
  if (uint64_t(st.st_size) < offset + bytes) return truncated(uint64_t(st.st_size));
#ifdef POSIX_FADV_SEQUENTIAL
  ::posix_fadvise(fd.get(), static_cast<off_t>(offset), static_cast<off_t>(bytes), POSIX_FADV_SEQUENTIAL);
#endif

  const bool hw = useHardware(CrcPath::kAuto);
  const size_t blocks = blockCount(bytes);
  std::vector<uint32_t> crcs(sum ? blocks : 0);
  auto* dst = reinterpret_cast<uint8_t*>(out);
  const int64_t chunks = static_cast<int64_t>((bytes + kChunk - 1) / kChunk);
  FirstError error;
  ThreadPool::instance().run(chunks, [&](int64_t c) {
    if (error.failed()) return;
    const uint64_t begin = uint64_t(c) * kChunk, end = std::min(bytes, begin + kChunk);
    for (uint64_t at = begin; at < end;) {
      ssize_t got = ::pread(fd.get(), dst + at, static_cast<size_t>(end - at), static_cast<off_t>(offset + at));
      if (got < 0) {
        if (errno == EINTR) continue;
        error.set(Status::Io(sysError("cannot read", path, errno)));
        return;
      }
      if (got == 0) {  // the file shrank after fstat
        error.set(truncated(offset + at));
        return;
      }
      at += uint64_t(got);
    }
    if (sum) blockCrcs(dst, bytes, begin / kChecksumBlock, blockCount(end), crcs.data(), hw);
  });
  if (error.failed()) return error.take();
  if (sum) *sum = combineBlockCrcs(crcs.data(), blocks, bytes);
  return Status::Ok();
}

Status writeFloatsToFile(const std::string& path, uint64_t offset, const float* data, int64_t count, uint64_t* sum) {
  uint64_t bytes = 0;
  Status s = checkSpan("writeFloatsToFile", offset, count, data, &bytes);
  if (!s.ok()) return s;
  int raw = -1;
  if (Status opened = openRegular(path, O_WRONLY, " for writing", &raw); !opened.ok()) return opened;
  Fd fd(raw);

  const bool hw = useHardware(CrcPath::kAuto);
  const size_t blocks = blockCount(bytes);
  std::vector<uint32_t> crcs(sum ? blocks : 0);
  const auto* src = reinterpret_cast<const uint8_t*>(data);
  const int64_t chunks = static_cast<int64_t>((bytes + kChunk - 1) / kChunk);
  FirstError error;
  ThreadPool::instance().run(chunks, [&](int64_t c) {
    if (error.failed()) return;
    const uint64_t begin = uint64_t(c) * kChunk, end = std::min(bytes, begin + kChunk);
    // Checksum first, while the chunk is hot for the write that follows.
    if (sum) blockCrcs(src, bytes, begin / kChecksumBlock, blockCount(end), crcs.data(), hw);
    for (uint64_t at = begin; at < end;) {
      ssize_t put = ::pwrite(fd.get(), src + at, static_cast<size_t>(end - at), static_cast<off_t>(offset + at));
      if (put < 0) {
        if (errno == EINTR) continue;
        error.set(Status::Io(sysError("cannot write", path, errno)));
        return;
      }
      if (put == 0) {
        error.set(Status::Io("cannot write '" + path + "': the device accepted no more bytes"));
        return;
      }
      at += uint64_t(put);
    }
  });
  if (error.failed()) return error.take();
  // A delayed write error (NFS, quota) can surface only at close.
  if (int err = fd.close()) return Status::Io(sysError("cannot write", path, err));
  if (sum) *sum = combineBlockCrcs(crcs.data(), blocks, bytes);
  return Status::Ok();
}

// ---------------------------------------------------------------- row moves

Status gatherRows(const ConstMatrix& src, const int32_t* rows, int64_t n, float* out) {
  if (n < 0) return Status::Range("rows must hold at least 0 indices");
  if (n > 0 && (!rows || !out || !src.data)) return Status::Range("gatherRows: a buffer is null");
  for (int64_t i = 0; i < n; ++i)
    if (rows[i] < 0 || rows[i] >= src.rows)
      return Status::Range("rows[" + std::to_string(i) + "] must be a row index in [0, " +
                           std::to_string(src.rows - 1) + "]; received " + std::to_string(rows[i]));
  const size_t rowBytes = static_cast<size_t>(src.cols) * sizeof(float);
  parallelRanges(n, std::max<int64_t>(1, (int64_t(1) << 20) / int64_t(rowBytes + 1)), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) std::memcpy(out + i * src.cols, src.data + int64_t(rows[i]) * src.cols, rowBytes);
  });
  return Status::Ok();
}

Status concatRows(const ConstMatrix* parts, size_t n, int64_t cols, float* out) {
  for (size_t i = 0; i < n; ++i) {
    if (parts[i].cols != cols)
      return Status::Range("parts[" + std::to_string(i) + "].cols must be " + std::to_string(cols) + "; received " +
                           std::to_string(parts[i].cols));
    if (parts[i].rows > 0 && !parts[i].data) return Status::Range("parts[" + std::to_string(i) + "] has no data");
  }
  float* at = out;
  for (size_t i = 0; i < n; ++i) {
    const int64_t count = parts[i].rows * cols;
    const float* from = parts[i].data;
    // Blocks of 256k floats (1 MiB) per task: memory-bound, so two threads suffice to saturate a socket.
    parallelRanges(count, int64_t(1) << 18, [&](int64_t b, int64_t e) {
      std::memcpy(at + b, from + b, static_cast<size_t>(e - b) * sizeof(float));
    });
    at += count;
  }
  return Status::Ok();
}

}  // namespace jobbert
