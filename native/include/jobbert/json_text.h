// jobbert native kernels: JSON text assembly. A JSON Lines output made of
// cached byte fragments (an occupation's fields, a score, punctuation) and
// strings quoted as JSON.stringify quotes them (a title, an id), so a batch's
// lines are one pass of copies instead of thousands of small writes in
// JavaScript.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "jobbert/kernels.h"

namespace jobbert {

// Byte fragments: fragment f is bytes[offsets[f] .. offsets[f + 1]).
struct Fragments {
  const uint8_t* bytes = nullptr;
  int64_t numBytes = 0;
  const uint32_t* offsets = nullptr;  // [count + 1], ascending, offsets[count] ≤ numBytes
  int64_t count = 0;
};

// UTF-16 strings (as JavaScript holds them): string s is
// units[starts[s] .. starts[s + 1]).
struct Utf16Strings {
  const char16_t* units = nullptr;
  const int64_t* starts = nullptr;  // [count + 1], ascending
  int64_t count = 0;
};

// Bytes made by assembleJson (not zeroed first: only `size` are written).
struct JsonText {
  std::unique_ptr<char[]> bytes;
  size_t size = 0;
};

// The bytes of, for each entry e of program[0 .. length): fragment e when
// e ≥ 0, else string −1 − e as JSON.stringify writes it, in UTF-8 — in double
// quotes; '"' and '\' escaped; \b \t \n \f \r and the other code units
// below 0x20 (as \u00xx) escaped; a lone surrogate as \udxxx (lower-case
// hex); everything else as its UTF-8 bytes. A RangeError names an entry
// outside the fragments or strings, fragments whose offsets are not
// ascending within their bytes, or a text longer than maxBytes (sized
// before anything is allocated).
Status assembleJson(const Fragments& fragments, const Utf16Strings& strings, const int32_t* program, int64_t length,
                    size_t maxBytes, JsonText* out);

}  // namespace jobbert
