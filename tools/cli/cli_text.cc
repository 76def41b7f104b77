#include "tools/cli/cli_text.h"

#include <cerrno>
#include <charconv>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>

namespace vecmirror::cli {
namespace {

bool IsSeparator(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',' || c == '[' || c == ']';
}

bool ParseHex32(std::string_view text, uint32_t* out) {
  if (text.empty() || text.size() > 8) return false;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out, 16);
  return ec == std::errc() && end == text.data() + text.size();
}

}  // namespace

bool ParseVectorText(std::string_view text, std::vector<float>* out, std::string* error) {
  out->clear();
  size_t pos = 0;
  while (pos < text.size()) {
    if (IsSeparator(text[pos])) {
      ++pos;
      continue;
    }
    size_t end = pos;
    while (end < text.size() && !IsSeparator(text[end])) ++end;
    const std::string token(text.substr(pos, end - pos));
    char* parsed_end = nullptr;
    errno = 0;
    const float value = std::strtof(token.c_str(), &parsed_end);
    if (parsed_end != token.c_str() + token.size() || errno == ERANGE) {
      *error = "\"" + token + "\" (number " + std::to_string(out->size() + 1) +
               ") is not a float";
      return false;
    }
    out->push_back(value);
    pos = end;
  }
  if (out->empty()) {
    *error = "no numbers found";
    return false;
  }
  return true;
}

bool ParseLsn(std::string_view text, uint64_t* out) {
  const size_t slash = text.find('/');
  if (slash != std::string_view::npos) {
    uint32_t hi = 0, lo = 0;
    if (!ParseHex32(text.substr(0, slash), &hi) || !ParseHex32(text.substr(slash + 1), &lo)) {
      return false;
    }
    *out = static_cast<uint64_t>(hi) << 32 | lo;
    return true;
  }
  if (text.empty()) return false;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out, 10);
  return ec == std::errc() && end == text.data() + text.size();
}

std::string FormatLsn(uint64_t lsn) {
  char text[24];
  std::snprintf(text, sizeof(text), "%" PRIX32 "/%" PRIX32, static_cast<uint32_t>(lsn >> 32),
                static_cast<uint32_t>(lsn));
  return text;
}

std::string FormatBytes(uint64_t bytes) {
  static const char* const kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  if (bytes < 1024) return std::to_string(bytes) + " B";
  double value = static_cast<double>(bytes);
  size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(kUnits)) {
    value /= 1024;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof(text), "%.1f %s", value, kUnits[unit]);
  return text;
}

}  // namespace vecmirror::cli
