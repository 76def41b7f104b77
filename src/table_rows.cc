#include "src/table_rows.h"

#include <algorithm>
#include <iterator>

namespace vecmirror {
namespace {

Status PositionsOf(const std::vector<std::string>& columns, const std::vector<std::string>& wanted,
                   const char* table, std::vector<int>* out) {
  out->clear();
  for (const auto& name : wanted) {
    auto it = std::find(columns.begin(), columns.end(), name);
    if (it == columns.end()) {
      return Status::InvalidArgument(std::string("table ") + table + " has no column \"" + name +
                                     "\"");
    }
    out->push_back(static_cast<int>(it - columns.begin()));
  }
  return Status::Ok();
}

// The key as a byte string: for each key column, a length prefix and the bytes. The same for a
// binary COPY tuple and a pgoutput tuple.
void AppendKeyPart(const pg::ColumnValue& v, std::string* key) {
  const uint32_t len = v.kind == pg::ColumnValue::Kind::kNull ? 0xFFFFFFFFu
                                                               : static_cast<uint32_t>(v.bytes.size());
  key->append(reinterpret_cast<const char*>(&len), sizeof len);
  key->append(v.bytes.data(), v.bytes.size());
}

}  // namespace

const char* TableLabel(MirroredTable table) {
  return table == MirroredTable::kEntity ? "entity" : "embedding";
}

EmbeddingStatus ParseEmbeddingStatus(std::string_view text) {
  if (text == "completed") return EmbeddingStatus::kCompleted;
  if (text == "pending") return EmbeddingStatus::kPending;
  if (text == "failed") return EmbeddingStatus::kFailed;
  return EmbeddingStatus::kOther;
}

Status RowDecoder::ForEntity(const std::vector<std::string>& columns,
                             const std::vector<std::string>& key_columns,
                             const EntityColumns& names, RowDecoder* out) {
  RowDecoder d;
  d.table_ = MirroredTable::kEntity;
  d.names_ = {names.id, names.tenant_id, names.entity_type, names.valid_to, names.deleted_at};
  if (auto s = PositionsOf(columns, key_columns, "entity", &d.key_positions_); !s.ok()) return s;
  if (auto s = PositionsOf(columns, d.names_, "entity", &d.positions_); !s.ok()) return s;
  *out = std::move(d);
  return Status::Ok();
}

Status RowDecoder::ForEmbedding(const std::vector<std::string>& columns,
                                const std::vector<std::string>& key_columns,
                                const EmbeddingColumns& names, pg::VectorType vector_type,
                                RowDecoder* out) {
  RowDecoder d;
  d.table_ = MirroredTable::kEmbedding;
  d.names_ = {names.entity_id, names.model, names.status, names.vector};
  d.vector_type_ = vector_type;
  if (auto s = PositionsOf(columns, key_columns, "embedding", &d.key_positions_); !s.ok()) return s;
  if (auto s = PositionsOf(columns, d.names_, "embedding", &d.positions_); !s.ok()) return s;
  *out = std::move(d);
  return Status::Ok();
}

const pg::ColumnValue* RowDecoder::At(const pg::Tuple& tuple, int position, const char* what,
                                      Status* status) const {
  if (position < 0 || static_cast<size_t>(position) >= tuple.size()) {
    *status = Status::Corruption(std::string("tuple has ") + std::to_string(tuple.size()) +
                                 " columns; expected column " + what + " at " +
                                 std::to_string(position));
    return nullptr;
  }
  return &tuple[position];
}

Status RowDecoder::DecodeKey(const pg::Tuple& tuple, std::string* key) const {
  key->clear();
  for (int pos : key_positions_) {
    Status s;
    const auto* v = At(tuple, pos, "key", &s);
    if (!v) return s;
    if (v->kind == pg::ColumnValue::Kind::kNull || v->kind == pg::ColumnValue::Kind::kUnchanged) {
      return Status::Corruption("key column at position " + std::to_string(pos) + " is missing");
    }
    AppendKeyPart(*v, key);
  }
  return Status::Ok();
}

Status RowDecoder::Columns(const pg::Tuple& tuple, const pg::ColumnValue** out,
                           size_t count) const {
  if (count != positions_.size()) {
    return Status::Internal(std::string("the decoder of ") + TableLabel(table_) +
                            " was given a tuple of the other table");
  }
  for (size_t i = 0; i < positions_.size(); ++i) {
    Status s;
    out[i] = At(tuple, positions_[i], names_[i].c_str(), &s);
    if (out[i] == nullptr) return s;
  }
  return Status::Ok();
}

Status RowDecoder::ColumnError(size_t i, const Status& why) const {
  return Status::Corruption(std::string(TableLabel(table_)) + "." + names_[i] + ": " + why.message());
}

Status RowDecoder::DecodeEntity(const pg::Tuple& tuple, EntityRow* row) const {
  if (auto s = DecodeKey(tuple, &row->key); !s.ok()) return s;
  const pg::ColumnValue* columns[5];
  if (auto s = Columns(tuple, columns, std::size(columns)); !s.ok()) return s;
  const auto [id, tenant, type, valid_to, deleted_at] = columns;
  if (auto s = pg::DecodeUuid(*id, &row->id); !s.ok()) return ColumnError(0, s);
  if (auto s = pg::DecodeUuid(*tenant, &row->tenant_id); !s.ok()) return ColumnError(1, s);
  if (auto s = pg::DecodeText(*type, &row->entity_type); !s.ok()) return ColumnError(2, s);
  using Kind = pg::ColumnValue::Kind;
  row->current = valid_to->kind == Kind::kNull && deleted_at->kind == Kind::kNull;
  return Status::Ok();
}

Status RowDecoder::DecodeEmbedding(const pg::Tuple& tuple, EmbeddingRow* row) const {
  if (auto s = DecodeKey(tuple, &row->key); !s.ok()) return s;
  const pg::ColumnValue* columns[4];
  if (auto s = Columns(tuple, columns, std::size(columns)); !s.ok()) return s;
  const auto [entity_id, model, status, vector] = columns;
  if (auto s = pg::DecodeUuid(*entity_id, &row->entity_id); !s.ok()) return ColumnError(0, s);
  if (auto s = pg::DecodeText(*model, &row->model); !s.ok()) return ColumnError(1, s);
  std::string status_text;
  if (auto s = pg::DecodeText(*status, &status_text); !s.ok()) return ColumnError(2, s);
  row->status = ParseEmbeddingStatus(status_text);

  using Kind = pg::ColumnValue::Kind;
  row->vector.clear();
  row->error.clear();
  switch (vector->kind) {
    case Kind::kNull:
      row->vector_state = EmbeddingRow::VectorState::kNull;
      break;
    case Kind::kUnchanged:
      row->vector_state = EmbeddingRow::VectorState::kUnchanged;
      break;
    default: {
      const Status s = pg::DecodeVector(*vector, vector_type_, &row->vector);
      row->vector_state = s.ok() ? EmbeddingRow::VectorState::kValue
                                 : EmbeddingRow::VectorState::kMalformed;
      if (!s.ok()) row->error = s.message();
    }
  }
  return Status::Ok();
}

}  // namespace vecmirror
