// An incremental parser for COPY ... TO STDOUT (FORMAT binary): feed it the CopyData chunks as
// libpq returns them, and it yields complete tuples. Field bytes are each type's send output,
// the same bytes pgoutput sends for binary columns, so the same decoders serve both.
//
// Format: 11-byte signature "PGCOPY\n\377\r\n\0", int32 flags, int32 header-extension length
// (+ extension), then per tuple int16 field count and per field int32 length (-1 = NULL) +
// bytes; the trailer is int16 -1.
//
// Thread-safety: one instance per stream, not shared.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "index/status.h"
#include "src/pg/column_value.h"

namespace vecmirror::pg {

class CopyBinaryParser {
 public:
  // Called for each complete tuple; the views are valid only during the call.
  using TupleFn = std::function<Status(const Tuple&)>;
  explicit CopyBinaryParser(TupleFn on_tuple) : on_tuple_(std::move(on_tuple)) {}

  // Consumes one chunk. A chunk may end mid-tuple; the rest is kept for the next call.
  // Stops at the first error (malformed stream, or an error returned by on_tuple).
  Status Feed(std::string_view chunk);
  // After the last chunk: Corruption if the stream ended before its trailer.
  Status Finish() const;

  size_t tuples() const { return tuples_; }
  size_t bytes() const { return bytes_; }

 private:
  Status ParseBuffered();

  TupleFn on_tuple_;
  std::string buffer_;
  size_t consumed_ = 0;
  bool header_done_ = false;
  bool trailer_seen_ = false;
  size_t tuples_ = 0;
  size_t bytes_ = 0;
  Tuple scratch_;
};

}  // namespace vecmirror::pg
