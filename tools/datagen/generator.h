// Synthetic PromptCraft data for the demo, the tests and the benchmarks.
//
// ClusteredVectors makes embedding-like unit vectors: real embedding sets are far from uniform
// on the sphere. They share one common direction (random pairs of text-embedding-ada-002
// vectors have a cosine of about 0.7 to 0.8), and they gather in topical clusters. Uniform noise
// would make every neighbour about equally far and recall numbers meaningless.
//
// DatasetSpec describes tenants, versioned and soft-deleted entities of skewed types, and one
// embedding row per (entity, model) in every status, some of them bad (NULL, NaN, Inf, all-zero
// or wrong-dimension vectors). PlanDataset turns a spec into rows without vectors; LoadDataset
// writes them into PostgreSQL with COPY, computing each vector as it goes.
//
// Everything is deterministic: the same spec (seed included) gives the same ids, rows and
// vectors, on any machine with the same standard library (std::normal_distribution's algorithm
// is the library's choice).
//
// Thread-safety: ClusteredVectors is immutable after construction, so its const methods may be
// called concurrently. The free functions share no state. LoadDataset uses the connection it is
// given and must be its only user for the duration of the call.
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/bad_row.h"
#include "base/model_list.h"
#include "base/status.h"

namespace vecmirror::datagen {

// How a generated vector splits its variance, before normalization, between the direction all
// vectors share, the centre of its cluster, and noise of its own. The shares are relative. With
// the defaults, vectors of different clusters have a cosine of about common / total = 0.55, and
// vectors of one cluster about (common + cluster) / total = 0.75.
struct VectorShape {
  double common = 0.55;
  double cluster = 0.20;
  double noise = 0.25;
};

// A space of embedding-like unit vectors of one dimension: a common direction, `clusters`
// cluster centres, and per-vector noise, all drawn from `seed`.
class ClusteredVectors {
 public:
  ClusteredVectors(uint32_t dim, uint32_t clusters, uint64_t seed, VectorShape shape = {});

  uint32_t dim() const { return dim_; }
  uint32_t clusters() const { return clusters_; }

  // The cluster of the vector with `key`.
  uint32_t ClusterOf(uint64_t key) const;
  // The unit vector with `key`: any 64-bit value; the same key always gives the same vector.
  std::vector<float> Vector(uint64_t key) const;
  void Vector(uint64_t key, float* out) const;
  // The n-th query vector: drawn like Vector(), from keys of its own (a query is never equal to
  // a data vector).
  std::vector<float> Query(uint64_t n) const;

 private:
  void Draw(uint64_t stream, uint64_t key, float* out) const;

  uint32_t dim_;
  uint32_t clusters_;
  uint64_t seed_;
  VectorShape shape_;
  std::vector<float> common_;   // dim_ components, unit norm
  std::vector<float> centres_;  // clusters_ x dim_, each unit norm
};

// The seed of one model's vector space in a dataset. Tenants share it, as real tenants share a
// model's embedding space, and a query made with the dataset's seed lands in the same space.
uint64_t ModelSpaceSeed(uint64_t dataset_seed, std::string_view model);

// How entity versions are identified.
enum class IdLayout : uint8_t {
  kStableId,      // every version has the entity's id (the PromptCraft layout)
  kIdPerVersion,  // each version has its own id, linked by previous_version_id
};

// A dataset. Shares are of each tenant's entities (or each (tenant, model)'s embedding rows)
// and are turned into exact counts by rounding, so a test can compute the expected counts.
struct DatasetSpec {
  uint32_t tenants = 3;
  uint32_t entities_per_tenant = 1000;
  std::vector<ModelDimension> models = {{"all-MiniLM-L6-v2", 384}};
  // Entity types and their shares. Skewed so that type filters have varied selectivity.
  std::vector<std::pair<std::string, double>> type_mix = {
      {"context", 0.60}, {"template", 0.25}, {"workflow", 0.10}, {"library", 0.05}};
  double versioned_share = 0.20;  // entities with 2 to max_versions versions
  uint32_t max_versions = 4;
  double deleted_share = 0.05;  // current version soft-deleted
  // Of the embedding rows of current versions, per (tenant, model):
  double pending_share = 0.05;  // half of them already carry their vector
  double failed_share = 0.02;   // NULL vector, an error message
  double bad_share = 0.0;       // 'completed' with a bad vector, the kinds taken in turn
  IdLayout id_layout = IdLayout::kStableId;
  uint32_t clusters = 32;
  VectorShape shape;
  uint64_t seed = 1;
};

// Exact counts that DatasetSpec's shares give for `n` rows: llround(share * n).
uint32_t ShareOf(double share, uint32_t n);

struct PlannedVersion {
  std::string id;  // the entity id of this version's row
  uint32_t version = 1;
  std::string previous_version_id;  // empty for NULL
  int64_t valid_from = 0;           // Unix seconds
  int64_t valid_to = 0;             // Unix seconds; 0 for NULL (the current version)
};

struct PlannedEntity {
  uint32_t tenant = 0;  // index into DatasetPlan::tenant_ids
  std::string type;
  std::vector<PlannedVersion> versions;  // oldest first; the last one is current
  int64_t deleted_at = 0;                // Unix seconds on the current version; 0 for NULL
  const std::string& current_id() const { return versions.back().id; }
};

struct PlannedEmbedding {
  uint32_t entity = 0;   // index into DatasetPlan::entities
  uint32_t version = 0;  // index into that entity's versions: whose id entity_id is
  uint32_t model = 0;    // index into DatasetSpec::models
  std::string status;    // pending, completed or failed
  bool has_vector = false;
  std::optional<BadRowReason> bad;  // a planted bad vector
  bool bad_is_infinity = false;     // with kNonFinite: +Infinity, else NaN
  uint64_t vector_key = 0;  // the key of its vector in the model's ClusteredVectors
  // True when the contract's query returns this row.
  bool searchable = false;
};

struct DatasetPlan {
  DatasetSpec spec;
  std::vector<std::string> tenant_ids;
  std::vector<PlannedEntity> entities;      // tenant by tenant
  std::vector<PlannedEmbedding> embeddings;  // tenant by tenant, then model by model
};

// Plans every row of `spec`. With allow_non_finite false (a pgvector column, which rejects NaN
// and Inf), bad rows take only the other kinds.
DatasetPlan PlanDataset(const DatasetSpec& spec, bool allow_non_finite = true);

// The vector of one planned row, bad values included; empty for a NULL vector.
std::vector<float> PlannedVector(const DatasetPlan& plan, const ClusteredVectors& space,
                                 const PlannedEmbedding& row);

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
