// JSON text assembly (jobbert/json_text.h).
#include "jobbert/json_text.h"

#include <cstring>

namespace jobbert {
namespace {

const char kHex[] = "0123456789abcdef";

char* writeEscape(uint32_t unit, char* dst) {
  const char e[6] = {'\\',           'u', kHex[(unit >> 12) & 15], kHex[(unit >> 8) & 15], kHex[(unit >> 4) & 15],
                     kHex[unit & 15]};
  std::memcpy(dst, e, 6);
  return dst + 6;
}

// The escape of a code unit below 0x20, '"' or '\', or 0 for one written as it is.
char shortEscape(char16_t c) {
  switch (c) {
    case '"': return '"';
    case '\\': return '\\';
    case '\b': return 'b';
    case '\t': return 't';
    case '\n': return 'n';
    case '\f': return 'f';
    case '\r': return 'r';
    default: return 0;
  }
}

// Bytes of s[0 .. n) as writeJsonString writes it.
size_t jsonStringBytes(const char16_t* s, int64_t n) {
  size_t bytes = 2;
  for (int64_t i = 0; i < n; i++) {
    const char16_t c = s[i];
    if (c < 0x80) bytes += c < 0x20 ? (shortEscape(c) ? 2 : 6) : (c == '"' || c == '\\') ? 2 : 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < n && s[i + 1] >= 0xdc00 && s[i + 1] <= 0xdfff) {
      bytes += 4;
      i++;
    } else if (c >= 0xd800 && c <= 0xdfff) bytes += 6;
    else bytes += 3;
  }
  return bytes;
}

// Writes s[0 .. n) as a JSON string at dst (jsonStringBytes(s, n) bytes); returns the end.
char* writeJsonString(const char16_t* s, int64_t n, char* dst) {
  *dst++ = '"';
  for (int64_t i = 0; i < n; i++) {
    const char16_t c = s[i];
    if (c < 0x80) {
      if (c >= 0x20 && c != '"' && c != '\\') {
        *dst++ = char(c);
        continue;
      }
      const char e = shortEscape(c);
      if (e) {
        *dst++ = '\\';
        *dst++ = e;
      } else dst = writeEscape(c, dst);
    } else if (c < 0x800) {
      *dst++ = char(0xc0 | (c >> 6));
      *dst++ = char(0x80 | (c & 0x3f));
    } else if (c >= 0xd800 && c <= 0xdbff && i + 1 < n && s[i + 1] >= 0xdc00 && s[i + 1] <= 0xdfff) {
      const uint32_t cp = 0x10000 + ((uint32_t(c) - 0xd800) << 10) + (uint32_t(s[i + 1]) - 0xdc00);
      *dst++ = char(0xf0 | (cp >> 18));
      *dst++ = char(0x80 | ((cp >> 12) & 0x3f));
      *dst++ = char(0x80 | ((cp >> 6) & 0x3f));
      *dst++ = char(0x80 | (cp & 0x3f));
      i++;
    } else if (c >= 0xd800 && c <= 0xdfff) dst = writeEscape(c, dst);  // a lone surrogate
    else {
      *dst++ = char(0xe0 | (c >> 12));
      *dst++ = char(0x80 | ((c >> 6) & 0x3f));
      *dst++ = char(0x80 | (c & 0x3f));
    }
  }
  *dst++ = '"';
  return dst;
}

// Copies n bytes in 32-byte blocks (one or two moves for most fragments):
// src and dst must both hold n rounded up to 32.
inline char* copyBlocks(char* dst, const char* src, uint32_t n) {
  for (uint32_t i = 0; i < n; i += 32) std::memcpy(dst + i, src + i, 32);
  return dst + n;
}

constexpr size_t kSlack = 32;

}  // namespace

Status assembleJson(const Fragments& fragments, const Utf16Strings& strings, const int32_t* program, int64_t length,
                    size_t maxBytes, JsonText* out) {
  if (fragments.count < 0 || (fragments.count > 0 && !fragments.offsets))
    return Status::Range("fragments: offsets must hold count + 1 entries");
  for (int64_t f = 0; f < fragments.count; f++)
    if (fragments.offsets[f] > fragments.offsets[f + 1])
      return Status::Range("fragments: offsets must ascend (offsets[" + std::to_string(f) + "] > offsets[" +
                           std::to_string(f + 1) + "])");
  if (fragments.count > 0 && int64_t(fragments.offsets[fragments.count]) > fragments.numBytes)
    return Status::Range("fragments: offsets must lie within the bytes (" + std::to_string(fragments.numBytes) + ")");
  // Sized exactly first: one allocation, and every entry checked before a byte is written.
  size_t bytes = 0;
  for (int64_t p = 0; p < length; p++) {
    const int32_t e = program[p];
    if (e >= 0) {
      if (e >= fragments.count)
        return Status::Range("program[" + std::to_string(p) + "] names fragment " + std::to_string(e) + " of " +
                             std::to_string(fragments.count));
      bytes += fragments.offsets[e + 1] - fragments.offsets[e];
    } else {
      const int64_t s = -1 - int64_t(e);
      if (s >= strings.count)
        return Status::Range("program[" + std::to_string(p) + "] names string " + std::to_string(s) + " of " +
                             std::to_string(strings.count));
      bytes += jsonStringBytes(strings.units + strings.starts[s], strings.starts[s + 1] - strings.starts[s]);
    }
  }
  if (bytes > maxBytes)
    return Status::Range("the text would take " + std::to_string(bytes) + " bytes, more than the " +
                         std::to_string(maxBytes) + " a buffer holds");
  // Block copies may write up to 31 bytes past a fragment's end (the next entry overwrites them, or the slack
  // takes them) and read as far past it: fragments that end within 32 bytes of the table's end are copied exactly.
  out->bytes.reset(new char[bytes + kSlack]);
  out->size = bytes;
  char* dst = out->bytes.get();
  const char* base = reinterpret_cast<const char*>(fragments.bytes);
  const uint64_t blockSafe = fragments.numBytes >= int64_t(kSlack) ? uint64_t(fragments.numBytes) - kSlack : 0;
  for (int64_t p = 0; p < length; p++) {
    const int32_t e = program[p];
    if (e >= 0) {
      const uint32_t from = fragments.offsets[e], n = fragments.offsets[e + 1] - from;
      if (uint64_t(from) + n <= blockSafe) dst = copyBlocks(dst, base + from, n);
      else {
        std::memcpy(dst, base + from, n);
        dst += n;
      }
    } else {
      const int64_t s = -1 - int64_t(e);
      dst = writeJsonString(strings.units + strings.starts[s], strings.starts[s + 1] - strings.starts[s], dst);
    }
  }
  return Status::Ok();
}

}  // namespace jobbert
