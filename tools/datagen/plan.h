// The plan of a synthetic PromptCraft dataset: tenants, versioned and soft-deleted entities of
// skewed types, and one embedding row per (entity, model) in every status, some of them bad
// (NULL, NaN, Inf, all-zero or wrong-dimension vectors). PlanDataset turns a DatasetSpec into
// rows without vectors; PlannedVector computes a row's vector from the model's ClusteredVectors
// when it is wanted (loader.h writes the rows into PostgreSQL).
//
// Deterministic: the same spec (seed included) gives the same ids, rows and vectors.
//
// Thread-safety: the functions share no state; a DatasetPlan is a plain value.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/bad_row.h"
#include "base/model_list.h"
#include "tools/datagen/vector_space.h"

namespace vecmirror::datagen {

// 2024-01-01T00:00:00Z: every planned time counts from here, so data is reproducible.
constexpr int64_t kEpoch = 1704067200;
constexpr int64_t kDay = 86400;

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

}  // namespace vecmirror::datagen
