#include "tools/cli/cli_text.h"

#include <cerrno>
#include <charconv>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>

#include "base/lsn.h"

namespace vecmirror::cli {
namespace {

bool IsSeparator(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',' || c == '[' || c == ']';
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

bool ParseLsnArgument(std::string_view text, uint64_t* out) {
  if (text.find('/') != std::string_view::npos) {
    const std::optional<Lsn> lsn = ParseLsn(text);
    if (lsn) *out = *lsn;
    return lsn.has_value();
  }
  if (text.empty()) return false;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out, 10);
  return ec == std::errc() && end == text.data() + text.size();
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
