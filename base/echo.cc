#include "base/echo.h"

#include <cstdint>
#include <cstdio>

namespace vecmirror {
namespace {

// Length of the well-formed UTF-8 sequence at the start of `s` (RFC 3629: no overlongs, no
// surrogates, at most U+10FFFF), or 0 when it is not one.
size_t Utf8SequenceLength(std::string_view s) {
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(s[i]); };
  const auto continuation = [&](size_t i) { return i < s.size() && (byte(i) & 0xC0) == 0x80; };
  const uint8_t lead = byte(0);
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return continuation(1) ? 2 : 0;
  if (lead >= 0xE0 && lead <= 0xEF) {
    if (!continuation(1) || !continuation(2)) return 0;
    if (lead == 0xE0 && byte(1) < 0xA0) return 0;  // overlong
    if (lead == 0xED && byte(1) > 0x9F) return 0;  // surrogate
    return 3;
  }
  if (lead >= 0xF0 && lead <= 0xF4) {
    if (!continuation(1) || !continuation(2) || !continuation(3)) return 0;
    if (lead == 0xF0 && byte(1) < 0x90) return 0;  // overlong
    if (lead == 0xF4 && byte(1) > 0x8F) return 0;  // past U+10FFFF
    return 4;
  }
  return 0;
}

void AppendHexEscape(uint8_t b, std::string* out) {
  char text[5];
  std::snprintf(text, sizeof text, "\\x%02X", b);
  out->append(text);
}

// Appends one character (or one invalid byte) starting at s[0]; returns the bytes consumed.
size_t AppendEscapedCharacter(std::string_view s, std::string* out) {
  const size_t length = Utf8SequenceLength(s);
  if (length == 0) {
    AppendHexEscape(static_cast<uint8_t>(s[0]), out);
    return 1;
  }
  if (length > 1) {
    const bool c1_control = static_cast<uint8_t>(s[0]) == 0xC2 && static_cast<uint8_t>(s[1]) < 0xA0;
    if (c1_control) {
      AppendHexEscape(static_cast<uint8_t>(s[0]), out);
      AppendHexEscape(static_cast<uint8_t>(s[1]), out);
    } else {
      out->append(s.substr(0, length));
    }
    return length;
  }
  const char c = s[0];
  switch (c) {
    case '\\': out->append("\\\\"); break;
    case '"': out->append("\\\""); break;
    case '\n': out->append("\\n"); break;
    case '\r': out->append("\\r"); break;
    case '\t': out->append("\\t"); break;
    default:
      if (static_cast<uint8_t>(c) < 0x20 || c == 0x7F) {
        AppendHexEscape(static_cast<uint8_t>(c), out);
      } else {
        out->push_back(c);
      }
  }
  return 1;
}

}  // namespace

std::string QuoteForEcho(std::string_view value, size_t max_chars) {
  std::string out = "\"";
  size_t pos = 0;
  for (size_t chars = 0; pos < value.size() && chars < max_chars; ++chars) {
    pos += AppendEscapedCharacter(value.substr(pos), &out);
  }
  out.push_back('"');
  if (pos < value.size()) {
    out.insert(out.size() - 1, "...");
    out += " (" + std::to_string(value.size()) + " bytes)";
  }
  return out;
}

}  // namespace vecmirror
