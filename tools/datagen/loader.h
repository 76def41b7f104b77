// Writes a planned dataset (plan.h) into the tables of sql/schema.sql with COPY, computing each
// vector as it goes, and counts what a database holds for the generator's summary.
//
// Thread-safety: the functions share no state. Each uses the connection it is given and must be
// its only user for the duration of the call.
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "base/bad_row.h"
#include "base/model_list.h"
#include "base/status.h"
#include "tools/datagen/plan.h"

namespace vecmirror::datagen {

// How embedding.vector is typed in the database.
enum class VectorColumn : uint8_t { kPgvector, kFloat4Array };

// Reads the type of embedding.vector from the catalog.
Status DetectVectorColumn(PGconn* conn, VectorColumn* out);

// A vector in PostgreSQL's text input format: {1,2.5} for real[], [1,2.5] for vector. Floats are
// written in their shortest form that reads back to the same float.
void AppendVectorText(const float* v, size_t n, VectorColumn column, std::string* out);

struct LoadOptions {
  bool truncate = false;  // empty tenant, entity and embedding first (in the same transaction)
  std::function<void(const std::string&)> progress;  // one line per step; may be empty
};

struct LoadStats {
  VectorColumn column = VectorColumn::kFloat4Array;
  uint64_t tenants = 0;
  uint64_t entity_rows = 0;
  uint64_t embedding_rows = 0;
  std::map<std::string, uint64_t> embeddings_by_status;
  std::map<BadRowReason, uint64_t> bad_rows;
  // (tenant id, model) -> rows the contract's query returns.
  std::map<std::pair<std::string, std::string>, uint64_t> searchable;
};

// Writes `spec` into the tables of sql/schema.sql in one transaction, with COPY. Fails (and
// writes nothing) on a duplicate id: load a second dataset with another seed, or truncate.
Status LoadDataset(PGconn* conn, const DatasetSpec& spec, const LoadOptions& options,
                   LoadStats* stats);

// Counts straight from the database, for the generator's summary.
struct DatabaseSummary {
  std::map<std::string, uint64_t> rows_per_table;        // tenant, entity, embedding
  std::map<std::string, uint64_t> embeddings_by_status;  // pending, completed, failed
  // (tenant id, model) -> searchable rows: the contract's join, less NULL, NaN, Inf, all-zero
  // and wrong-dimension vectors (a model's dimension taken from `models`).
  std::map<std::pair<std::string, std::string>, uint64_t> searchable;
};
Status SummarizeDatabase(PGconn* conn, const std::vector<ModelDimension>& models,
                         DatabaseSummary* out);

// Writes `v` as text, one float per line, for `vecmirror-cli search --vector-file`.
Status WriteVectorFile(const std::string& path, const std::vector<float>& v);

}  // namespace vecmirror::datagen
