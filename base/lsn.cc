#include "base/lsn.h"

#include <cinttypes>
#include <cstdio>

#include "base/hex.h"

namespace vecmirror {
namespace {

// Parses 1 to 8 hex digits, as pg_lsn_in accepts for each half.
bool ParseLsnHalf(std::string_view text, uint32_t* out) {
  if (text.empty() || text.size() > 8) return false;
  uint32_t value = 0;
  for (char c : text) {
    const int digit = HexDigitValue(c);
    if (digit < 0) return false;
    value = value << 4 | static_cast<uint32_t>(digit);
  }
  *out = value;
  return true;
}

}  // namespace

std::string FormatLsn(Lsn lsn) {
  char text[24];
  std::snprintf(text, sizeof text, "%" PRIX32 "/%" PRIX32, static_cast<uint32_t>(lsn >> 32),
                static_cast<uint32_t>(lsn));
  return text;
}

std::optional<Lsn> ParseLsn(std::string_view text) {
  const size_t slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  uint32_t hi = 0, lo = 0;
  if (!ParseLsnHalf(text.substr(0, slash), &hi) || !ParseLsnHalf(text.substr(slash + 1), &lo)) {
    return std::nullopt;
  }
  return Lsn{hi} << 32 | lo;
}

Lsn CoveringLsn(Lsn awaited, uint64_t wal_segment_bytes) {
  const uint64_t offset_in_page = awaited % kWalPageBytes;
  const Lsn page_start = awaited - offset_in_page;
  const bool first_page_of_segment = wal_segment_bytes != 0 && page_start % wal_segment_bytes == 0;
  const uint64_t header = first_page_of_segment ? kWalLongHeaderBytes : kWalShortHeaderBytes;
  return offset_in_page <= header ? page_start : awaited;
}

}  // namespace vecmirror
