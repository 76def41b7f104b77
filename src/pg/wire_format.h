// Decoders for the column values vecmirror reads, in PostgreSQL's binary (send) and text
// (output) formats. Pure functions over bytes: no I/O, safe from any thread, fuzzable.
//
// Vector columns come as pgvector `vector` or as `real[]`:
//   vector binary: int16 dim (big-endian), int16 unused (0), dim x float4 (big-endian)
//   vector text:   [1,2.5,-3]
//   real[] binary: array_send: int32 ndim, int32 has_nulls, int32 element oid (700),
//                  per dimension int32 size + int32 lower bound, then per element int32 len + data
//   real[] text:   {1,2.5,-3}
// A malformed value yields Status::Corruption naming what is wrong, and leaves *out empty.
// Values are not range-checked here (NaN/Inf/zero checks belong to the caller, which counts them
// as bad rows): text "NaN", "Infinity" and "-Infinity" parse as such. An empty value ('[]', '{}',
// dim 0, ndim 0) decodes to an empty vector, which the caller rejects as it rejects a zero vector.
// A NULL element in a real[] is Corruption. Text parsing is independent of the C locale.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "base/uuid.h"
#include "src/pg/column_value.h"

namespace vecmirror::pg {

// How a vector column is typed in the database.
enum class VectorType : uint8_t { kPgvector, kFloat4Array };

// Well-known type OIDs (pg_type.dat).
constexpr uint32_t kFloat4ArrayOid = 1021;
constexpr uint32_t kUuidOid = 2950;
constexpr uint32_t kTextOid = 25;
constexpr uint32_t kVarcharOid = 1043;

Status DecodePgvectorBinary(std::string_view bytes, std::vector<float>* out);
Status DecodePgvectorText(std::string_view text, std::vector<float>* out);
Status DecodeFloat4ArrayBinary(std::string_view bytes, std::vector<float>* out);
Status DecodeFloat4ArrayText(std::string_view text, std::vector<float>* out);

// Dispatches on the column's kind (kText or kBinary) and type. kNull and kUnchanged are the
// caller's business and give InvalidArgument here.
Status DecodeVector(const ColumnValue& value, VectorType type, std::vector<float>* out);

// uuid: 16 raw bytes in binary; canonical text otherwise.
Status DecodeUuid(const ColumnValue& value, Uuid* out);

// text/varchar: the raw bytes in both formats.
Status DecodeText(const ColumnValue& value, std::string* out);

// int8/int4/int2 in binary (8/4/2 bytes big-endian) or decimal text.
Status DecodeInteger(const ColumnValue& value, int64_t* out);

}  // namespace vecmirror::pg
