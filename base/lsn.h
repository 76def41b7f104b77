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

}  // namespace vecmirror
