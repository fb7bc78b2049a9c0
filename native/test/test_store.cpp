// store: checksum64 against an independent bytewise reference of its
// definition (store.h) on both CRC paths and several thread counts, bit-flip
// sensitivity, file round trips at an offset inside other bytes, error codes,
// row gathers; then (without --quick / JOBBERT_QUICK=1) GB/s of checksum64,
// write and read of 512 MB.
#include "jobbert/store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "harness.h"
#include "jobbert/buffer.h"

using namespace jobbert;
using namespace jobbert::harness;

namespace {

// ---------------------------------------------------------------- reference (bytewise, written from the definition)

uint32_t refCrc32c(const uint8_t* p, size_t n) {
  static uint32_t table[256] = {};
  static bool ready = false;
  if (!ready) {
    for (uint32_t b = 0; b < 256; ++b) {
      uint32_t c = b;
      for (int k = 0; k < 8; ++k) c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
      table[b] = c;
    }
    ready = true;
  }
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) c = table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
  return ~c;
}

uint32_t refMurmur3(const std::vector<uint8_t>& s, uint32_t seed) {
  auto rotl = [](uint32_t x, int r) { return (x << r) | (x >> (32 - r)); };
  uint32_t h = seed;
  for (size_t i = 0; i < s.size(); i += 4) {
    uint32_t k = uint32_t(s[i]) | uint32_t(s[i + 1]) << 8 | uint32_t(s[i + 2]) << 16 | uint32_t(s[i + 3]) << 24;
    k *= 0xCC9E2D51u, k = rotl(k, 15), k *= 0x1B873593u;
    h ^= k, h = rotl(h, 13), h = h * 5 + 0xE6546B64u;
  }
  h ^= uint32_t(s.size());
  h ^= h >> 16, h *= 0x85EBCA6Bu, h ^= h >> 13, h *= 0xC2B2AE35u, h ^= h >> 16;
  return h;
}

uint64_t refChecksum(const uint8_t* p, size_t n) {
  std::vector<uint8_t> s;
  for (size_t at = 0; at < n; at += kChecksumBlock) {
    uint32_t c = refCrc32c(p + at, std::min(kChecksumBlock, n - at));
    for (int k = 0; k < 4; ++k) s.push_back(uint8_t(c >> (8 * k)));
  }
  for (int k = 0; k < 8; ++k) s.push_back(uint8_t(uint64_t(n) >> (8 * k)));
  return uint64_t(refCrc32c(s.data(), s.size())) << 32 | refMurmur3(s, 0x4A4F4242u);
}

std::vector<uint8_t> randomBytes(std::mt19937_64& rng, size_t n) {
  std::vector<uint8_t> v(n + 8);
  for (auto& b : v) b = uint8_t(rng());
  return v;
}

std::string hex(uint64_t v) { return checksumHex(v); }

// ---------------------------------------------------------------- temp files

std::string tempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string templ = std::string(base && *base ? base : "/tmp") + "/jobbert-store-XXXXXX";
  std::vector<char> buf(templ.begin(), templ.end());
  buf.push_back('\0');
  if (!mkdtemp(buf.data())) {
    std::perror("mkdtemp");
    std::exit(2);
  }
  return buf.data();
}

void writeAll(const std::string& path, const std::vector<uint8_t>& bytes) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f || std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size() || std::fclose(f) != 0) {
    std::perror(path.c_str());
    std::exit(2);
  }
}

std::vector<uint8_t> readAll(const std::string& path) {
  std::vector<uint8_t> out;
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return out;
  uint8_t buf[65536];
  size_t got;
  while ((got = std::fread(buf, 1, sizeof buf, f)) > 0) out.insert(out.end(), buf, buf + got);
  std::fclose(f);
  return out;
}

// ---------------------------------------------------------------- cases

void knownValues() {
  const char* digits = "123456789";
  check(crc32c(digits, 9) == 0xE3069283u, "CRC32C('123456789') on the default path");
  check(crc32c(digits, 9, CrcPath::kPortable) == 0xE3069283u, "CRC32C('123456789') on the portable path");
  // Pinned values: a change here is a change of the file format.
  check(checksum64(nullptr, 0) == refChecksum(nullptr, 0), "checksum64 of nothing matches the reference");
  std::printf("checksum64('') = %s, checksum64('123456789') = %s\n", hex(checksum64(nullptr, 0)).c_str(),
              hex(checksum64(digits, 9)).c_str());
  check(hex(checksum64(nullptr, 0)) == "8c28b28a48fe917b", "checksum64('') is pinned");
  check(hex(checksum64(digits, 9)) == "1f46b11540419244", "checksum64('123456789') is pinned");
  uint64_t v = 0;
  check(parseChecksumHex("00000000DEADbeef", &v) && v == 0xDEADBEEFull, "parseChecksumHex reads mixed case");
  check(!parseChecksumHex("deadbeef", &v) && !parseChecksumHex("00000000deadbeeg", &v),
        "parseChecksumHex refuses bad text");
}

void acrossPathsAndThreads(std::mt19937_64& rng) {
  const size_t MiB = kChecksumBlock;
  const size_t sizes[] = {0, 1, 7, 8, MiB - 1, MiB, MiB + 1, 3 * MiB, 3 * MiB + 5, 5 * MiB + 3, 7 * MiB - 9};
  for (size_t n : sizes) {
    std::vector<uint8_t> bytes = randomBytes(rng, n);
    for (size_t shift : {size_t(0), size_t(3)}) {  // aligned and misaligned starts
      const uint8_t* p = bytes.data() + shift;
      const uint64_t expected = refChecksum(p, n);
      for (int threads : {1, 2, 3}) {
        setThreadCount(threads);
        for (CrcPath path : {CrcPath::kAuto, CrcPath::kPortable}) {
          uint64_t got = checksum64(p, n, path);
          check(got == expected, "checksum64 of " + std::to_string(n) + " bytes (+" + std::to_string(shift) + "), " +
                                     std::to_string(threads) + " thread(s), " +
                                     (path == CrcPath::kAuto ? "auto" : "portable") + ": " + hex(got) +
                                     " != reference " + hex(expected));
        }
      }
      check(crc32c(p, n) == refCrc32c(p, n) && crc32c(p, n, CrcPath::kPortable) == refCrc32c(p, n),
            "crc32c of " + std::to_string(n) + " bytes on both paths");
    }
  }
  setThreadCount(0);
}

void bitFlips(std::mt19937_64& rng) {
  const size_t n = 3 * kChecksumBlock + 17;
  std::vector<uint8_t> bytes = randomBytes(rng, n);
  const uint64_t base = checksum64(bytes.data(), n);
  const size_t positions[] = {0, 1, kChecksumBlock - 1, kChecksumBlock, 2 * kChecksumBlock + 4096, n - 1};
  for (size_t at : positions)
    for (int bit = 0; bit < 8; ++bit) {
      bytes[at] ^= uint8_t(1u << bit);
      check(checksum64(bytes.data(), n) != base,
            "flipping bit " + std::to_string(bit) + " of byte " + std::to_string(at) + " changes the checksum");
      bytes[at] ^= uint8_t(1u << bit);
    }
  check(checksum64(bytes.data(), n) == base, "restored bytes give the first checksum");
  // Swapping two whole blocks and dropping the last byte change it too.
  std::vector<uint8_t> swapped(bytes.begin(), bytes.begin() + n);
  std::swap_ranges(swapped.begin(), swapped.begin() + kChecksumBlock, swapped.begin() + kChecksumBlock);
  check(checksum64(swapped.data(), n) != base, "swapping two blocks changes the checksum");
  check(checksum64(bytes.data(), n - 1) != base, "a shorter input changes the checksum");
  std::vector<uint8_t> zeros(kChecksumBlock * 2, 0);
  check(checksum64(zeros.data(), kChecksumBlock) != checksum64(zeros.data(), 2 * kChecksumBlock),
        "zero inputs of different lengths differ");
}

void roundTrip(std::mt19937_64& rng, const std::string& dir) {
  const std::string path = dir + "/roundtrip.bin";
  for (int64_t count : {int64_t(0), int64_t(1), int64_t(5), int64_t(3 << 18) + 7, int64_t(5 << 20) + 1}) {
    const uint64_t offset = 12345, tail = 999;
    const uint64_t bytes = uint64_t(count) * 4;
    std::vector<uint8_t> around = randomBytes(rng, offset + bytes + tail);
    around.resize(offset + bytes + tail);
    writeAll(path, around);
    std::vector<float> data = randomFloats(rng, count);
    uint64_t written = 0;
    Status s = writeFloatsToFile(path, offset, data.data(), count, &written);
    std::string what = std::to_string(count) + " floats";
    check(s.ok(), "writeFloatsToFile of " + what + ": " + s.message);
    check(written == checksum64(data.data(), bytes), "the write's checksum is checksum64 of the data (" + what + ")");
    std::vector<uint8_t> file = readAll(path);
    check(file.size() == around.size(), "the write keeps the file's size (" + what + ")");
    check(file.size() == around.size() && std::memcmp(file.data(), around.data(), offset) == 0 &&
              std::memcmp(file.data() + offset + bytes, around.data() + offset + bytes, tail) == 0,
          "the write keeps the bytes before and after (" + what + ")");
    check(file.size() == around.size() && (bytes == 0 || std::memcmp(file.data() + offset, data.data(), bytes) == 0),
          "the file holds the floats at the offset (" + what + ")");
    std::vector<float> back(static_cast<size_t>(count) + 1);
    poison(back.data(), count + 1);
    uint64_t read = 0;
    s = readFloatsFromFile(path, offset, count, back.data(), &read);
    check(s.ok(), "readFloatsFromFile of " + what + ": " + s.message);
    check(read == written, "the read's checksum equals the write's (" + what + ")");
    check(bytes == 0 || std::memcmp(back.data(), data.data(), bytes) == 0,
          "the read gives the floats back (" + what + ")");
    check(std::isnan(back[size_t(count)]), "the read writes nothing past count (" + what + ")");
    s = readFloatsFromFile(path, offset, count, back.data(), nullptr);
    check(s.ok(), "a read without a checksum works (" + what + ")");
  }
}

void errors(const std::string& dir) {
  const std::string path = dir + "/short.bin";
  writeAll(path, std::vector<uint8_t>(1000, 7));
  std::vector<float> out(300);
  uint64_t sum = 0;
  Status s = readFloatsFromFile(path, 0, 251, out.data(), &sum);
  check(s.code == StatusCode::kCorrupt, "reading past the end is kCorrupt: " + s.message);
  check(s.message.find(path) != std::string::npos && s.message.find("truncated") != std::string::npos,
        "the truncation message names the path: " + s.message);
  s = readFloatsFromFile(path, 8, 249, out.data(), &sum);
  check(s.code == StatusCode::kCorrupt, "an offset that pushes the end past the file is kCorrupt");
  s = readFloatsFromFile(path, 0, 250, out.data(), &sum);
  check(s.ok() && sum == checksum64(std::vector<uint8_t>(1000, 7).data(), 1000), "reading exactly to the end works");

  const std::string missing = dir + "/no-such-file.bin";
  s = readFloatsFromFile(missing, 0, 1, out.data(), &sum);
  check(s.code == StatusCode::kIoError && s.message.find(missing) != std::string::npos &&
            s.message.find("No such file") != std::string::npos,
        "reading a missing file is kIoError with the path and strerror: " + s.message);
  s = writeFloatsToFile(missing, 0, out.data(), 1, &sum);
  check(s.code == StatusCode::kIoError && s.message.find(missing) != std::string::npos,
        "writing a missing file is kIoError (no O_CREAT): " + s.message);
  check(access(missing.c_str(), F_OK) != 0, "the failed write created no file");
  s = readFloatsFromFile(dir, 0, 1, out.data(), &sum);
  check(s.code == StatusCode::kIoError, "reading a directory is kIoError: " + s.message);
  s = readFloatsFromFile(path, 0, -1, out.data(), &sum);
  check(s.code == StatusCode::kRangeError, "a negative count is kRangeError");
  s = readFloatsFromFile(path, UINT64_MAX - 2, 1, out.data(), &sum);
  check(s.code == StatusCode::kRangeError, "an offset that overflows is kRangeError: " + s.message);
}

void rowMoves(std::mt19937_64& rng) {
  const int64_t rows = 37, cols = 5;
  std::vector<float> src = randomFloats(rng, rows * cols);
  ConstMatrix m{src.data(), rows, cols};
  std::vector<int32_t> pick = {36, 0, 5, 5, 20};
  std::vector<float> out(pick.size() * cols);
  poison(out.data(), int64_t(out.size()));
  Status s = gatherRows(m, pick.data(), int64_t(pick.size()), out.data());
  bool same = s.ok();
  for (size_t i = 0; i < pick.size() && same; ++i)
    same = std::memcmp(&out[i * cols], &src[pick[i] * cols], cols * sizeof(float)) == 0;
  check(same, "gatherRows copies the listed rows in order");
  pick[3] = 37;
  s = gatherRows(m, pick.data(), int64_t(pick.size()), out.data());
  check(s.code == StatusCode::kRangeError && s.message.find("rows[3]") != std::string::npos,
        "gatherRows refuses an index past the end: " + s.message);
  pick[3] = -1;
  check(gatherRows(m, pick.data(), int64_t(pick.size()), out.data()).code == StatusCode::kRangeError,
        "gatherRows refuses -1");

  std::vector<float> other = randomFloats(rng, 3 * cols);
  ConstMatrix parts[] = {m, {other.data(), 3, cols}, {nullptr, 0, cols}, m};
  std::vector<float> all((rows * 2 + 3) * cols);
  s = concatRows(parts, 4, cols, all.data());
  check(s.ok() && std::memcmp(all.data(), src.data(), src.size() * 4) == 0 &&
            std::memcmp(&all[rows * cols], other.data(), other.size() * 4) == 0 &&
            std::memcmp(&all[(rows + 3) * cols], src.data(), src.size() * 4) == 0,
        "concatRows stacks the parts in order");
  parts[1].cols = 4;
  s = concatRows(parts, 2, cols, all.data());
  check(s.code == StatusCode::kRangeError && s.message.find("parts[1].cols") != std::string::npos,
        "concatRows refuses other widths: " + s.message);
}

void timing(std::mt19937_64& rng, const std::string& dir) {
  const int64_t count = int64_t(128) << 20;  // 512 MB of floats
  const uint64_t bytes = uint64_t(count) * 4;
  FloatBuffer data(count), back(count);
  std::vector<float> seedRow = randomFloats(rng, 1 << 20);
  for (int64_t i = 0; i < count; i += 1 << 20) std::memcpy(data.data() + i, seedRow.data(), (size_t(1) << 22));
  for (int64_t i = 0; i < count; i += 1 << 12) data.data()[i] = float(i);  // no two blocks alike
  std::memset(back.data(), 0, bytes);

  const double gb = double(bytes) / 1e9;
  uint64_t sum = 0;
  std::printf("timing: %.0f MB, %d thread(s)\n", double(bytes) / 1e6, threadCount());
  double t = timeIt([&] { sum = checksum64(data.data(), bytes); });
  std::printf("  checksum64 (sse4.2, pool)     %7.2f GB/s\n", gb / t);
  setThreadCount(1);
  t = timeIt([&] { sum = checksum64(data.data(), bytes); });
  std::printf("  checksum64 (sse4.2, 1 thread) %7.2f GB/s\n", gb / t);
  t = timeIt([&] { checksum64(data.data(), bytes, CrcPath::kPortable); }, 1);
  std::printf("  checksum64 (portable, 1 thread) %5.2f GB/s\n", gb / t);
  setThreadCount(0);
  t = timeIt([&] { std::memcpy(back.data(), data.data(), bytes); });
  std::printf("  memcpy (peer, 1 thread)       %7.2f GB/s\n", gb / t);

  const std::string path = dir + "/timing.bin";
  writeAll(path, {});
  uint64_t wsum = 0, rsum = 0;
  Status s;
  t = timeIt([&] { s = writeFloatsToFile(path, 4096, data.data(), count, &wsum); }, 3);
  check(s.ok(), "timed write: " + s.message);
  std::printf("  writeFloatsToFile (page cache) %6.2f GB/s\n", gb / t);
  t = timeIt([&] { s = readFloatsFromFile(path, 4096, count, back.data(), &rsum); }, 3);
  check(s.ok() && rsum == wsum && wsum == sum, "timed read gives the written checksum");
  std::printf("  readFloatsFromFile (page cache, with checksum) %6.2f GB/s\n", gb / t);
  t = timeIt([&] { s = readFloatsFromFile(path, 4096, count, back.data(), nullptr); }, 3);
  std::printf("  readFloatsFromFile (page cache, no checksum)   %6.2f GB/s\n", gb / t);
  unlink(path.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = std::getenv("JOBBERT_QUICK") && std::strcmp(std::getenv("JOBBERT_QUICK"), "1") == 0;
  for (int i = 1; i < argc; ++i)
    if (std::strcmp(argv[i], "--quick") == 0) quick = true;
  std::mt19937_64 rng(seed());
  const std::string dir = tempDir();
  knownValues();
  acrossPathsAndThreads(rng);
  bitFlips(rng);
  roundTrip(rng, dir);
  errors(dir);
  rowMoves(rng);
  if (!quick) timing(rng, dir);
  for (const char* f : {"/roundtrip.bin", "/short.bin"}) unlink((dir + f).c_str());
  rmdir(dir.c_str());
  return finish("test_store");
}
