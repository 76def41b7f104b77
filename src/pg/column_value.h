// ColumnValue: one column of a row as PostgreSQL sent it, in a binary COPY tuple or a pgoutput
// TupleData. The bytes are borrowed from the message they came from.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace vecmirror::pg {

struct ColumnValue {
  enum class Kind : uint8_t {
    kNull,       // SQL NULL (pgoutput 'n'; COPY length -1)
    kUnchanged,  // pgoutput 'u': an unchanged TOASTed value; no bytes were sent
    kText,       // pgoutput 't': the type's text output
    kBinary,     // pgoutput 'b' or binary COPY: the type's send (binary) output
  };
  Kind kind = Kind::kNull;
  std::string_view bytes;
};

using Tuple = std::vector<ColumnValue>;

}  // namespace vecmirror::pg
