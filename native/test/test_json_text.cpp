// json_text: assembleJson against a reference written from its definition
// (fragments copied, strings quoted as JSON.stringify quotes them) over random
// tables — fragments of 0 to 100 bytes, some ending at the table's very end —
// random UTF-16 strings (controls, quotes, lone and paired surrogates, BMP and
// astral characters) and random programs; then its RangeErrors.
#include "jobbert/json_text.h"

#include "harness.h"

using namespace jobbert;
using namespace jobbert::harness;

namespace {

constexpr size_t kAnySize = ~size_t(0);

void utf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) out->push_back(char(cp));
  else if (cp < 0x800) {
    out->push_back(char(0xc0 | (cp >> 6)));
    out->push_back(char(0x80 | (cp & 0x3f)));
  } else if (cp < 0x10000) {
    out->push_back(char(0xe0 | (cp >> 12)));
    out->push_back(char(0x80 | ((cp >> 6) & 0x3f)));
    out->push_back(char(0x80 | (cp & 0x3f)));
  } else {
    out->push_back(char(0xf0 | (cp >> 18)));
    out->push_back(char(0x80 | ((cp >> 12) & 0x3f)));
    out->push_back(char(0x80 | ((cp >> 6) & 0x3f)));
    out->push_back(char(0x80 | (cp & 0x3f)));
  }
}

// JSON.stringify of a string (ECMA-262 QuoteJSONString), code point by code point.
std::string refQuote(const std::u16string& s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size(); i++) {
    uint32_t c = s[i];
    const bool high = c >= 0xd800 && c <= 0xdbff, low = c >= 0xdc00 && c <= 0xdfff;
    if (high && i + 1 < s.size() && s[i + 1] >= 0xdc00 && s[i + 1] <= 0xdfff) {
      utf8(0x10000 + ((c - 0xd800) << 10) + (s[i + 1] - 0xdc00), &out);
      i++;
    } else if (c == 0x08) out += "\\b";
    else if (c == 0x09) out += "\\t";
    else if (c == 0x0a) out += "\\n";
    else if (c == 0x0c) out += "\\f";
    else if (c == 0x0d) out += "\\r";
    else if (c == '"') out += "\\\"";
    else if (c == '\\') out += "\\\\";
    else if (c < 0x20 || high || low) {
      char e[7];
      std::snprintf(e, sizeof e, "\\u%04x", c);
      out += e;
    } else utf8(c, &out);
  }
  return out + "\"";
}

std::u16string randomString(std::mt19937_64& rng) {
  static const char16_t kUnits[] = {u'a',   u'Z',   u'0',   u' ',   u'"',   u'\\',  u'/',  0x00,  0x08,
                                    0x09,   0x0a,   0x0c,   0x0d,   0x1f,   0x7f,   0xe9,  0x7ff, 0x800,
                                    0x20ac, 0x2028, 0xfffd, 0xd800, 0xdbff, 0xdc00, 0xdfff};
  std::u16string s(rng() % 40, u'x');
  for (auto& c : s) c = kUnits[rng() % (sizeof kUnits / sizeof kUnits[0])];
  if (rng() % 3 == 0 && s.size() >= 2) {  // a well-formed pair somewhere
    const size_t at = rng() % (s.size() - 1);
    s[at] = char16_t(0xd83d);
    s[at + 1] = char16_t(0xde80);
  }
  return s;
}

void testRandom(std::mt19937_64& rng, int trial) {
  const int count = 1 + int(rng() % 30);
  std::vector<std::string> parts(count);
  std::vector<uint32_t> offsets(1, 0);
  std::vector<uint8_t> bytes;
  for (auto& p : parts) {
    p.resize(rng() % 3 == 0 ? rng() % 4 : rng() % 101);
    for (auto& c : p) c = char(rng() % 256);
    bytes.insert(bytes.end(), p.begin(), p.end());
    offsets.push_back(uint32_t(bytes.size()));
  }
  std::vector<std::u16string> texts(rng() % 8);
  for (auto& t : texts) t = randomString(rng);
  std::vector<char16_t> units;
  std::vector<int64_t> starts(1, 0);
  for (auto& t : texts) {
    units.insert(units.end(), t.begin(), t.end());
    starts.push_back(int64_t(units.size()));
  }
  std::vector<int32_t> program(rng() % 200);
  std::string expected;
  for (auto& e : program) {
    if (!texts.empty() && rng() % 4 == 0) {
      const size_t s = rng() % texts.size();
      e = -1 - int32_t(s);
      expected += refQuote(texts[s]);
    } else {
      e = int32_t(rng() % count);
      expected += parts[e];
    }
  }
  Fragments f{bytes.data(), int64_t(bytes.size()), offsets.data(), count};
  Utf16Strings strings{units.data(), starts.data(), int64_t(texts.size())};
  JsonText out;
  Status st = assembleJson(f, strings, program.data(), int64_t(program.size()), kAnySize, &out);
  check(st.ok(), "random " + std::to_string(trial) + ": " + st.message);
  check(std::string(out.bytes.get(), out.size) == expected,
        "random " + std::to_string(trial) + ": bytes as the reference");
}

void testErrors() {
  const uint8_t bytes[] = {'a', 'b', 'c'};
  const uint32_t offsets[] = {0, 2, 3};
  const char16_t units[] = {u'x'};
  const int64_t starts[] = {0, 1};
  Fragments f{bytes, 3, offsets, 2};
  Utf16Strings s{units, starts, 1};
  JsonText out;
  const int32_t beyond[] = {0, 2};
  Status st = assembleJson(f, s, beyond, 2, kAnySize, &out);
  check(st.code == StatusCode::kRangeError && st.message.find("program[1] names fragment 2 of 2") != std::string::npos,
        "a fragment past the table: " + st.message);
  const int32_t noString[] = {-2};
  st = assembleJson(f, s, noString, 1, kAnySize, &out);
  check(st.code == StatusCode::kRangeError && st.message.find("names string 1 of 1") != std::string::npos,
        "a string past the list: " + st.message);
  const uint32_t descending[] = {0, 3, 2};
  st = assembleJson(Fragments{bytes, 3, descending, 2}, s, beyond, 1, kAnySize, &out);
  check(st.code == StatusCode::kRangeError && st.message.find("ascend") != std::string::npos,
        "descending offsets: " + st.message);
  const uint32_t outside[] = {0, 2, 4};
  st = assembleJson(Fragments{bytes, 3, outside, 2}, s, beyond, 1, kAnySize, &out);
  check(st.code == StatusCode::kRangeError && st.message.find("within the bytes") != std::string::npos,
        "offsets past the bytes: " + st.message);
  const int32_t ok[] = {1, -1, 0};
  st = assembleJson(f, s, ok, 3, kAnySize, &out);
  check(st.ok() && std::string(out.bytes.get(), out.size) == "c\"x\"ab", "a small program");
  st = assembleJson(f, s, ok, 0, kAnySize, &out);
  check(st.ok() && out.size == 0, "an empty program");
  st = assembleJson(f, s, ok, 3, 5, &out);
  check(
      st.code == StatusCode::kRangeError && st.message.find("would take 6 bytes, more than the 5") != std::string::npos,
      "a text over maxBytes: " + st.message);
  st = assembleJson(f, s, ok, 3, 6, &out);
  check(st.ok() && out.size == 6, "a text of exactly maxBytes");
}

}  // namespace

int main() {
  std::mt19937_64 rng(seed());
  for (int trial = 0; trial < 3000; trial++) testRandom(rng, trial);
  testErrors();
  return finish("json_text");
}
