// BuildPlan: what vecmirror-rebuild will build, decided before anything is built: per index its
// rows, the kind it gets (the size policy, or --kind) and the memory its build needs, and which
// indexes a --tenant/--model filter leaves as they are.
//
// Memory. A build copies the index's live vectors and builds its structure beside the index it
// replaces: EstimateBuildBytes counts the copy plus the structure (HNSW: the graph's links; IVF:
// the inverted lists and centroids). The peak of a run is the loaded indexes (LoadedBytes) plus
// the builds running at once.
//
// Thread-safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/uuid.h"
#include "index/entity_index.h"
#include "index/index_options.h"

namespace vecmirror::rebuild {

// Which indexes to build. Empty lists select every index.
struct BuildFilter {
  std::vector<Uuid> tenants;
  std::vector<std::string> models;
  bool Selects(const IndexKey& key) const;
};

struct PlannedBuild {
  IndexKey key;
  size_t rows = 0;                  // live rows
  bool selected = true;             // false: left as it is (the filter passed it over)
  IndexKind kind = IndexKind::kFlat;  // what it will be built as
  uint64_t build_bytes = 0;         // EstimateBuildBytes
  uint64_t index_bytes = 0;         // the index as loaded (IndexStats::memory_bytes)
};

// Bytes a build of `rows` rows of `dim` floats as `kind` needs while it runs.
uint64_t EstimateBuildBytes(size_t rows, uint32_t dim, IndexKind kind, const IndexOptions& options);

// One entry per index, in the order given. `kind` set: every selected index is built as it
// (and pinned there); unset: the size policy of `options` picks.
std::vector<PlannedBuild> PlanBuilds(const std::vector<const EntityIndex*>& indexes,
                                     const BuildFilter& filter, std::optional<IndexKind> kind,
                                     const IndexOptions& options);

// The loaded indexes' memory: the floor of the run's peak.
uint64_t LoadedBytes(const std::vector<PlannedBuild>& plan);

// The peak memory of building `plan` with `jobs` builds at once within `max_bytes` (0: no
// bound): the loaded indexes plus the largest builds that may run together.
uint64_t PeakBytes(const std::vector<PlannedBuild>& plan, size_t jobs, uint64_t max_bytes);

}  // namespace vecmirror::rebuild
