// Lsn: a PostgreSQL WAL position (pg_lsn), as an unsigned 64-bit integer: "X/Y" is X<<32 | Y.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vecmirror {

using Lsn = uint64_t;

// "X/Y" as PostgreSQL prints a pg_lsn: upper-case hex halves without leading zeros
// ("16/B374D848").
std::string FormatLsn(Lsn lsn);

// Parses "X/Y" with 1 to 8 hex digits on each side, either case, as pg_lsn_in accepts.
// nullopt on anything else.
std::optional<Lsn> ParseLsn(std::string_view text);

// WAL is written in pages of kWalPageBytes; each page starts with a header (kWalLongHeaderBytes
// on the first page of a segment, kWalShortHeaderBytes on the others), and no record starts
// inside one.
inline constexpr uint64_t kWalPageBytes = 8192;
inline constexpr uint64_t kWalShortHeaderBytes = 24;
inline constexpr uint64_t kWalLongHeaderBytes = 40;
// PostgreSQL's default wal_segment_size. Default for CoveringLsn's segment size.
inline constexpr uint64_t kDefaultWalSegmentBytes = 16 * 1024 * 1024;

// The lowest LSN whose application covers every record that ends at or before `awaited`.
// pg_current_wal_insert_lsn() on a page boundary reports the position after the next page's
// header (0x...2018), while the commit that ended there has its end LSN at the boundary
// (0x...2000), and nothing the stream sends reaches the header's end until later WAL arrives.
// So an LSN that points into a page header (up to its end) is covered by the page start; any
// other LSN is its own cover. `wal_segment_bytes` is the server's wal_segment_size, a power of two.
Lsn CoveringLsn(Lsn awaited, uint64_t wal_segment_bytes = kDefaultWalSegmentBytes);

}  // namespace vecmirror
