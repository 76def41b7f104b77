// RowDecoder: tuples of entity and embedding in, rows out, with the columns found by name. The
// column bytes here are written by hand from PostgreSQL's send formats (uuid: 16 raw bytes;
// text: the raw bytes; pgvector: int16 dim, int16 0, big-endian float4s; real[]: the array
// header, then a length and a big-endian float4 per element), not by the decoders under test.
#include "src/table_rows.h"

#include <gtest/gtest.h>

#include <bit>
#include <cstdint>
#include <string>
#include <vector>

namespace vecmirror {
namespace {

using Kind = pg::ColumnValue::Kind;

void AppendBigEndian32(uint32_t v, std::string* out) {
  for (int shift = 24; shift >= 0; shift -= 8) out->push_back(static_cast<char>((v >> shift) & 0xFF));
}

std::string UuidBytes(uint8_t last) {
  std::string bytes(16, '\0');
  bytes[0] = 0x42;
  bytes[15] = static_cast<char>(last);
  return bytes;
}

Uuid UuidOf(uint8_t last) {
  Uuid u;
  u.bytes[0] = 0x42;
  u.bytes[15] = last;
  return u;
}

std::string PgvectorBytes(const std::vector<float>& v) {
  std::string out;
  out.push_back(static_cast<char>(v.size() >> 8));
  out.push_back(static_cast<char>(v.size() & 0xFF));
  out.append(2, '\0');
  for (float x : v) AppendBigEndian32(std::bit_cast<uint32_t>(x), &out);
  return out;
}

std::string Float4ArrayBytes(const std::vector<float>& v) {
  std::string out;
  AppendBigEndian32(1, &out);    // dimensions
  AppendBigEndian32(0, &out);    // no NULL elements
  AppendBigEndian32(700, &out);  // element type float4
  AppendBigEndian32(static_cast<uint32_t>(v.size()), &out);
  AppendBigEndian32(1, &out);    // lower bound
  for (float x : v) {
    AppendBigEndian32(4, &out);
    AppendBigEndian32(std::bit_cast<uint32_t>(x), &out);
  }
  return out;
}

pg::ColumnValue Binary(const std::string& bytes) { return {Kind::kBinary, bytes}; }
pg::ColumnValue Null() { return {Kind::kNull, {}}; }

// The table's own column order, as a Relation message gives it, and the load's COPY order (the
// key first, then the contract's columns).
const std::vector<std::string> kEntityTableColumns = {"id", "version_id", "tenant_id", "entity_type",
                                                      "valid_from", "valid_to", "deleted_at"};
const std::vector<std::string> kEntityCopyColumns = {"version_id", "id", "tenant_id", "entity_type",
                                                     "valid_to", "deleted_at"};
const std::vector<std::string> kEntityKey = {"version_id"};
const std::vector<std::string> kEmbeddingColumns = {"id", "entity_id", "model", "vector", "status"};
const std::vector<std::string> kEmbeddingKey = {"id"};

TEST(RowDecoderTest, KnowsItsTable) {
  RowDecoder entity, embedding;
  ASSERT_TRUE(RowDecoder::ForEntity(kEntityTableColumns, kEntityKey, {}, &entity).ok());
  ASSERT_TRUE(RowDecoder::ForEmbedding(kEmbeddingColumns, kEmbeddingKey, {},
                                       pg::VectorType::kPgvector, &embedding).ok());
  EXPECT_EQ(entity.table(), MirroredTable::kEntity);
  EXPECT_EQ(embedding.table(), MirroredTable::kEmbedding);
  EXPECT_STREQ(TableLabel(MirroredTable::kEntity), "entity");
  EXPECT_STREQ(TableLabel(MirroredTable::kEmbedding), "embedding");
}

TEST(RowDecoderTest, MissingColumnIsNamed) {
  RowDecoder d;
  std::vector<std::string> columns = kEntityTableColumns;
  columns.erase(columns.begin() + 3);  // entity_type
  const Status s = RowDecoder::ForEntity(columns, kEntityKey, {}, &d);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(s.message().find("\"entity_type\""), std::string::npos) << s.message();
  EXPECT_FALSE(RowDecoder::ForEntity(kEntityTableColumns, {"no_such_key"}, {}, &d).ok());
  EXPECT_FALSE(RowDecoder::ForEmbedding({"id", "entity_id", "model", "status"}, kEmbeddingKey, {},
                                        pg::VectorType::kPgvector, &d).ok());
}

TEST(RowDecoderTest, EntityInTableAndCopyOrderGivesTheSameRow) {
  const std::string id = UuidBytes(1), version = UuidBytes(2), tenant = UuidBytes(3);
  const std::string type = "template", valid_from = "x", closed = "closed-at";
  RowDecoder table_order, copy_order;
  ASSERT_TRUE(RowDecoder::ForEntity(kEntityTableColumns, kEntityKey, {}, &table_order).ok());
  ASSERT_TRUE(RowDecoder::ForEntity(kEntityCopyColumns, kEntityKey, {}, &copy_order).ok());

  const pg::Tuple from_stream = {Binary(id),   Binary(version), Binary(tenant), Binary(type),
                                 Binary(valid_from), Null(), Null()};
  const pg::Tuple from_copy = {Binary(version), Binary(id), Binary(tenant), Binary(type), Null(), Null()};
  EntityRow a, b;
  ASSERT_TRUE(table_order.DecodeEntity(from_stream, &a).ok());
  ASSERT_TRUE(copy_order.DecodeEntity(from_copy, &b).ok());
  EXPECT_EQ(a.key, b.key);
  EXPECT_EQ(a.id, UuidOf(1));
  EXPECT_EQ(a.tenant_id, UuidOf(3));
  EXPECT_EQ(a.entity_type, "template");
  EXPECT_TRUE(a.current);
  EXPECT_EQ(b.id, a.id);
  EXPECT_EQ(b.tenant_id, a.tenant_id);
  EXPECT_EQ(b.entity_type, a.entity_type);
  EXPECT_TRUE(b.current);

  // Closed (valid_to set) or deleted (deleted_at set): not current.
  pg::Tuple closed_version = from_copy;
  closed_version[4] = Binary(closed);
  ASSERT_TRUE(copy_order.DecodeEntity(closed_version, &b).ok());
  EXPECT_FALSE(b.current);
  pg::Tuple deleted = from_copy;
  deleted[5] = Binary(closed);
  ASSERT_TRUE(copy_order.DecodeEntity(deleted, &b).ok());
  EXPECT_FALSE(b.current);

  // Another key value, another key.
  pg::Tuple other = from_copy;
  const std::string other_version = UuidBytes(4);
  other[0] = Binary(other_version);
  ASSERT_TRUE(copy_order.DecodeEntity(other, &b).ok());
  EXPECT_NE(b.key, a.key);
}

TEST(RowDecoderTest, UndecodableEntityTuples) {
  RowDecoder d;
  ASSERT_TRUE(RowDecoder::ForEntity(kEntityCopyColumns, kEntityKey, {}, &d).ok());
  const std::string id = UuidBytes(1), version = UuidBytes(2), tenant = UuidBytes(3), type = "context";
  const pg::Tuple good = {Binary(version), Binary(id), Binary(tenant), Binary(type), Null(), Null()};
  EntityRow row;
  ASSERT_TRUE(d.DecodeEntity(good, &row).ok());

  // One column short: the last needed column is past the end.
  pg::Tuple short_tuple(good.begin(), good.end() - 1);
  EXPECT_EQ(d.DecodeEntity(short_tuple, &row).code(), Status::Code::kCorruption);
  // A NULL or unchanged key.
  pg::Tuple null_key = good;
  null_key[0] = Null();
  EXPECT_EQ(d.DecodeEntity(null_key, &row).code(), Status::Code::kCorruption);
  std::string key;
  EXPECT_EQ(d.DecodeKey(null_key, &key).code(), Status::Code::kCorruption);
  null_key[0] = {Kind::kUnchanged, {}};
  EXPECT_EQ(d.DecodeKey(null_key, &key).code(), Status::Code::kCorruption);
  // A uuid of 15 bytes: the message names the column.
  pg::Tuple bad_id = good;
  const std::string fifteen(15, '\1');
  bad_id[2] = Binary(fifteen);
  const Status s = d.DecodeEntity(bad_id, &row);
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
  EXPECT_NE(s.message().find("entity.tenant_id"), std::string::npos) << s.message();
  // An entity decoder given to an embedding: refused, not misread.
  EmbeddingRow embedding;
  EXPECT_EQ(d.DecodeEmbedding(good, &embedding).code(), Status::Code::kInternal);
}

TEST(RowDecoderTest, EmbeddingVectorStatesForBothColumnTypes) {
  const std::vector<float> v = {0.5f, -1.0f, 3.25f};
  const std::string key = UuidBytes(7), entity = UuidBytes(1), model = "all-MiniLM-L6-v2";
  const std::string completed = "completed", pending = "pending";
  for (const pg::VectorType type : {pg::VectorType::kPgvector, pg::VectorType::kFloat4Array}) {
    SCOPED_TRACE(type == pg::VectorType::kPgvector ? "vector" : "real[]");
    RowDecoder d;
    ASSERT_TRUE(RowDecoder::ForEmbedding(kEmbeddingColumns, kEmbeddingKey, {}, type, &d).ok());
    const std::string bytes = type == pg::VectorType::kPgvector ? PgvectorBytes(v) : Float4ArrayBytes(v);
    const std::string other_bytes =
        type == pg::VectorType::kPgvector ? Float4ArrayBytes(v) : PgvectorBytes(v);

    EmbeddingRow row;
    const pg::Tuple value = {Binary(key), Binary(entity), Binary(model), Binary(bytes), Binary(completed)};
    ASSERT_TRUE(d.DecodeEmbedding(value, &row).ok());
    EXPECT_EQ(row.entity_id, UuidOf(1));
    EXPECT_EQ(row.model, model);
    EXPECT_EQ(row.status, EmbeddingStatus::kCompleted);
    EXPECT_EQ(row.vector_state, EmbeddingRow::VectorState::kValue);
    EXPECT_EQ(row.vector, v);

    // The same row decoded again with another state: nothing of the last decode stays.
    const pg::Tuple unchanged = {Binary(key), Binary(entity), Binary(model), {Kind::kUnchanged, {}},
                                 Binary(pending)};
    ASSERT_TRUE(d.DecodeEmbedding(unchanged, &row).ok());
    EXPECT_EQ(row.vector_state, EmbeddingRow::VectorState::kUnchanged);
    EXPECT_EQ(row.status, EmbeddingStatus::kPending);
    EXPECT_TRUE(row.vector.empty());

    const pg::Tuple null_vector = {Binary(key), Binary(entity), Binary(model), Null(), Binary(completed)};
    ASSERT_TRUE(d.DecodeEmbedding(null_vector, &row).ok());
    EXPECT_EQ(row.vector_state, EmbeddingRow::VectorState::kNull);

    // The other type's bytes: the row decodes, its vector is malformed and says why.
    const pg::Tuple wrong = {Binary(key), Binary(entity), Binary(model), Binary(other_bytes),
                             Binary(completed)};
    ASSERT_TRUE(d.DecodeEmbedding(wrong, &row).ok());
    EXPECT_EQ(row.vector_state, EmbeddingRow::VectorState::kMalformed);
    EXPECT_FALSE(row.error.empty());
    ASSERT_TRUE(d.DecodeEmbedding(value, &row).ok());
    EXPECT_TRUE(row.error.empty());
  }
}

TEST(RowDecoderTest, EmbeddingStatusText) {
  EXPECT_EQ(ParseEmbeddingStatus("completed"), EmbeddingStatus::kCompleted);
  EXPECT_EQ(ParseEmbeddingStatus("pending"), EmbeddingStatus::kPending);
  EXPECT_EQ(ParseEmbeddingStatus("failed"), EmbeddingStatus::kFailed);
  EXPECT_EQ(ParseEmbeddingStatus("Completed"), EmbeddingStatus::kOther);
  EXPECT_EQ(ParseEmbeddingStatus(""), EmbeddingStatus::kOther);
}

}  // namespace
}  // namespace vecmirror
