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

#include "base/status.h"
#include "src/pg/column_value.h"

namespace vecmirror::pg {

class CopyBinaryParser {
 public:
  // Called for each complete tuple; the views are valid only during the call.
  using TupleFn = std::function<Status(const Tuple&)>;
  explicit CopyBinaryParser(TupleFn on_tuple) : on_tuple_(std::move(on_tuple)) {}

  // Consumes one chunk. A chunk may end anywhere, even inside the header or a length word; the
  // rest is kept for the next call. Stops at the first error (malformed stream, or an error
  // returned by on_tuple) and returns that error again on every later call. Bytes after the
  // trailer are Corruption.
  Status Feed(std::string_view chunk);
  // After the last chunk: Corruption if the stream ended before its trailer (or the first error).
  Status Finish() const;

  size_t tuples() const { return tuples_; }  // tuples delivered to on_tuple
  size_t bytes() const { return bytes_; }    // bytes fed so far

 private:
  // Parses as much of `data` as forms a header, whole tuples or the trailer; sets *used to the
  // bytes consumed and need_ to the bytes (from the unconsumed start) the next step waits for.
  Status Parse(std::string_view data, size_t* used);
  Status ParseHeader(std::string_view data, size_t* used);
  // Sets *used to 0 when the tuple is incomplete.
  Status ParseTuple(std::string_view data, size_t* used);

  TupleFn on_tuple_;
  std::string buffer_;  // an incomplete step carried over from earlier chunks
  size_t need_ = 0;     // buffer_ must grow to this size before parsing can progress
  bool header_done_ = false;
  bool trailer_seen_ = false;
  int field_count_ = -1;  // of the first tuple; every tuple must have the same
  size_t tuples_ = 0;
  size_t bytes_ = 0;
  Status status_;
  Tuple scratch_;
};

}  // namespace vecmirror::pg
