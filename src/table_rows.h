// The rows of the two tables the mirror follows, entity and embedding, as decoded from
// PostgreSQL tuples (binary COPY of the initial load, or pgoutput changes), and the decoder that
// finds their columns by name.
//
// A row is identified by its replica-identity key: the raw bytes of its primary-key columns as
// PostgreSQL sends them (binary send output), which are the same in COPY and in the stream.
//
// Thread-safety: RowDecoder is a plain value; use one per thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "base/uuid.h"
#include "src/pg/column_value.h"
#include "src/pg/wire_format.h"

namespace vecmirror {

// The two tables the mirror follows.
enum class MirroredTable : uint8_t { kEntity, kEmbedding };
const char* TableLabel(MirroredTable table);  // "entity" or "embedding", for messages

// One version row of `entity`. Only current rows (valid_to and deleted_at NULL) are searchable.
struct EntityRow {
  std::string key;
  Uuid id;
  Uuid tenant_id;
  std::string entity_type;
  bool current = false;
};

enum class EmbeddingStatus : uint8_t { kPending, kCompleted, kFailed, kOther };
EmbeddingStatus ParseEmbeddingStatus(std::string_view text);

// One row of `embedding`. `vector` is meaningful only when vector_state is kValue.
struct EmbeddingRow {
  enum class VectorState : uint8_t {
    kValue,      // decoded into `vector` (raw, not yet validated or normalized)
    kNull,       // SQL NULL
    kUnchanged,  // pgoutput 'u': keep the vector this row had
    kMalformed,  // undecodable bytes; `error` says why
  };
  std::string key;
  Uuid entity_id;
  std::string model;
  EmbeddingStatus status = EmbeddingStatus::kPending;
  VectorState vector_state = VectorState::kNull;
  std::vector<float> vector;
  std::string error;
};

// Column names of the application's tables (DESIGN.md's contract).
struct EntityColumns {
  std::string id = "id";
  std::string tenant_id = "tenant_id";
  std::string entity_type = "entity_type";
  std::string valid_to = "valid_to";
  std::string deleted_at = "deleted_at";
};

struct EmbeddingColumns {
  std::string entity_id = "entity_id";
  std::string model = "model";
  std::string status = "status";
  std::string vector = "vector";
};

// Where each needed column sits in a tuple of one table. Built from a column-name list (a
// Relation message, or the column list of the load's COPY).
class RowDecoder {
 public:
  // Which table's tuples this decodes: DecodeEntity is for kEntity, DecodeEmbedding for kEmbedding.
  MirroredTable table() const { return table_; }

  // `columns`: the tuple's column names in order. `key_columns`: the primary-key column names.
  // `vector_type`: how embedding.vector is typed (only used for the embedding decoder).
  static Status ForEntity(const std::vector<std::string>& columns,
                          const std::vector<std::string>& key_columns,
                          const EntityColumns& names, RowDecoder* out);
  static Status ForEmbedding(const std::vector<std::string>& columns,
                             const std::vector<std::string>& key_columns,
                             const EmbeddingColumns& names, pg::VectorType vector_type,
                             RowDecoder* out);

  // Only the key of `tuple` (for deletes, whose non-key columns are absent).
  Status DecodeKey(const pg::Tuple& tuple, std::string* key) const;
  Status DecodeEntity(const pg::Tuple& tuple, EntityRow* row) const;
  // A malformed vector is not an error here: it is reported in row->vector_state.
  Status DecodeEmbedding(const pg::Tuple& tuple, EmbeddingRow* row) const;

 private:
  const pg::ColumnValue* At(const pg::Tuple& tuple, int position, const char* name,
                            Status* status) const;
  // The columns at positions_, in that order, into out[0..count); count must be positions_'s
  // size (Internal otherwise: a decoder of the other table).
  Status Columns(const pg::Tuple& tuple, const pg::ColumnValue** out, size_t count) const;
  // Corruption naming table.column for column i of positions_.
  Status ColumnError(size_t i, const Status& why) const;

  std::vector<int> key_positions_;
  // entity: id, tenant_id, entity_type, valid_to, deleted_at
  // embedding: entity_id, model, status, vector
  std::vector<int> positions_;
  std::vector<std::string> names_;
  MirroredTable table_ = MirroredTable::kEntity;
  pg::VectorType vector_type_ = pg::VectorType::kFloat4Array;
};

}  // namespace vecmirror
