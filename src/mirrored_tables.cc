#include "src/mirrored_tables.h"

#include <utility>

namespace vecmirror {
namespace {

std::vector<std::string> Concat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

const char* VectorTypeName(pg::VectorType type) {
  return type == pg::VectorType::kPgvector ? "vector" : "real[]";
}

}  // namespace

MirroredTables::MirroredTables(pg::TableName entity_table, EntityColumns entity_columns,
                               pg::TableName embedding_table, EmbeddingColumns embedding_columns)
    : entity_table_(std::move(entity_table)),
      embedding_table_(std::move(embedding_table)),
      entity_columns_(std::move(entity_columns)),
      embedding_columns_(std::move(embedding_columns)) {}

Status MirroredTables::ReadCatalog(pqxx::connection& conn) {
  if (auto s = pg::ReplicaIdentityColumns(conn, entity_table_, &entity_key_); !s.ok()) return s;
  if (auto s = pg::ReplicaIdentityColumns(conn, embedding_table_, &embedding_key_); !s.ok()) return s;
  return pg::ReadVectorColumnType(conn, embedding_table_, embedding_columns_.vector, &vector_type_);
}

const pg::TableName& MirroredTables::table_name(MirroredTable table) const {
  return table == MirroredTable::kEntity ? entity_table_ : embedding_table_;
}

std::optional<MirroredTable> MirroredTables::TableOf(const pg::Relation& relation) const {
  const std::string_view schema = relation.nspname.empty() ? "pg_catalog" : relation.nspname;
  for (MirroredTable table : {MirroredTable::kEntity, MirroredTable::kEmbedding}) {
    const pg::TableName& name = table_name(table);
    if (schema == name.schema && relation.relname == name.name) return table;
  }
  return std::nullopt;
}

std::vector<std::string> MirroredTables::CopyColumns(MirroredTable table) const {
  if (table == MirroredTable::kEntity) {
    const EntityColumns& c = entity_columns_;
    return Concat(entity_key_, {c.id, c.tenant_id, c.entity_type, c.valid_to, c.deleted_at});
  }
  const EmbeddingColumns& c = embedding_columns_;
  return Concat(embedding_key_, {c.entity_id, c.model, c.status, c.vector});
}

Status MirroredTables::NewDecoder(MirroredTable table, const std::vector<std::string>& columns,
                                  RowDecoder* out) const {
  const Status s =
      table == MirroredTable::kEntity
          ? RowDecoder::ForEntity(columns, entity_key_, entity_columns_, out)
          : RowDecoder::ForEmbedding(columns, embedding_key_, embedding_columns_,
                                     vector_type_.type, out);
  if (!s.ok()) return Status::FailedPrecondition(s.message());
  return Status::Ok();
}

Status MirroredTables::NewDecoder(MirroredTable table, const pg::Relation& relation,
                                  RowDecoder* out) const {
  std::vector<std::string> columns;
  for (const pg::RelationColumn& c : relation.columns) columns.emplace_back(c.name);
  return NewDecoder(table, columns, out);
}

Status MirroredTables::CheckVectorType(const pg::Relation& relation) const {
  if (TableOf(relation) != MirroredTable::kEmbedding) return Status::Ok();
  for (const pg::RelationColumn& c : relation.columns) {
    if (c.name != embedding_columns_.vector || c.type_oid == vector_type_.type_oid) continue;
    return Status::Unavailable(
        "column " + embedding_table_.Qualified() + "." + embedding_columns_.vector +
        " changed type from " + VectorTypeName(vector_type_.type) + " (oid " +
        std::to_string(vector_type_.type_oid) + ") to the type of oid " +
        std::to_string(c.type_oid) + "; the rows it rewrote are not in the stream");
  }
  return Status::Ok();
}

}  // namespace vecmirror
