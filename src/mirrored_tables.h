// MirroredTables: the two application tables that the mirror follows, entity and embedding, as
// the catalog described them when the mirror connected: their names, their replica-identity
// keys, the columns DESIGN.md's contract names, and the type of embedding's vector column.
//
// It is where a tuple finds its table and its decoder. The initial load asks it which columns
// to copy and for the decoder of the COPY's tuples; the stream asks it which table a Relation
// message is about and for the decoder of that relation's tuples. So both decode alike, and the
// vector column's type is decided once, from the catalog (ReadCatalog), for both.
//
// Thread-safety: a plain value. ReadCatalog uses the connection it is given; the const methods
// may be called from any thread.
#pragma once

#include <pqxx/pqxx>

#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "src/pg/catalog.h"
#include "src/pg/pgoutput.h"
#include "src/table_rows.h"

namespace vecmirror {

class MirroredTables {
 public:
  MirroredTables(pg::TableName entity_table, EntityColumns entity_columns,
                 pg::TableName embedding_table, EmbeddingColumns embedding_columns);

  // Reads both tables' replica-identity keys and the type of the vector column. An error is
  // FailedPrecondition (an operator must fix the table) or Unavailable (the query failed).
  Status ReadCatalog(pqxx::connection& conn);

  const pg::TableName& table_name(MirroredTable table) const;
  const EntityColumns& entity_columns() const { return entity_columns_; }

  // Which mirrored table a Relation message is about; nullopt for any other relation.
  std::optional<MirroredTable> TableOf(const pg::Relation& relation) const;

  // What the initial load copies of `table`: the key columns, then the contract's columns.
  std::vector<std::string> CopyColumns(MirroredTable table) const;

  // The decoder of `table`'s tuples whose columns are `columns`, in order (a COPY's column list,
  // or a Relation message's). FailedPrecondition when a needed column is missing.
  Status NewDecoder(MirroredTable table, const std::vector<std::string>& columns,
                    RowDecoder* out) const;
  Status NewDecoder(MirroredTable table, const pg::Relation& relation, RowDecoder* out) const;

  // Ok unless a Relation message of the embedding table types the vector column otherwise than
  // ReadCatalog found: an ALTER TABLE changed it. pgoutput does not send the rewrite of such an
  // ALTER, so the stream cannot go on: the error (Unavailable) asks for a fresh initial load.
  Status CheckVectorType(const pg::Relation& relation) const;

 private:
  pg::TableName entity_table_, embedding_table_;
  EntityColumns entity_columns_;
  EmbeddingColumns embedding_columns_;
  std::vector<std::string> entity_key_, embedding_key_;  // replica identity, in index order
  pg::VectorColumnType vector_type_;
};

}  // namespace vecmirror
