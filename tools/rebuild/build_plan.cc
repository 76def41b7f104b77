#include "tools/rebuild/build_plan.h"

#include <algorithm>
#include <functional>

#include "index/policy.h"

namespace vecmirror::rebuild {

bool BuildFilter::Selects(const IndexKey& key) const {
  const bool tenant = tenants.empty() ||
                      std::find(tenants.begin(), tenants.end(), key.tenant_id) != tenants.end();
  const bool model =
      models.empty() || std::find(models.begin(), models.end(), key.model) != models.end();
  return tenant && model;
}

uint64_t EstimateBuildBytes(size_t rows, uint32_t dim, IndexKind kind, const IndexOptions& options) {
  const uint64_t vectors = uint64_t{rows} * dim * sizeof(float);
  switch (kind) {
    case IndexKind::kFlat:
      return vectors;  // the copy becomes the structure
    case IndexKind::kHnsw: {
      // Level 0 holds 2M links of 4 bytes, the upper levels about 1/(M-1) of that again; plus
      // each node's level and offset.
      const uint64_t m = static_cast<uint64_t>(std::max(options.hnsw_m, 2));
      const uint64_t links = 2 * m * 4 + (2 * m * 4) / (m - 1);
      return vectors + uint64_t{rows} * (links + 4 + 8);
    }
    case IndexKind::kIvf: {
      const uint64_t nlist = IvfListCount(rows, options);
      return 2 * vectors + uint64_t{rows} * 8 + nlist * dim * sizeof(float);
    }
  }
  return vectors;
}

std::vector<PlannedBuild> PlanBuilds(const std::vector<const EntityIndex*>& indexes,
                                     const BuildFilter& filter, std::optional<IndexKind> kind,
                                     const IndexOptions& options) {
  std::vector<PlannedBuild> plan;
  for (const EntityIndex* index : indexes) {
    const IndexStats stats = index->Stats();
    PlannedBuild p;
    p.key = index->key();
    p.rows = stats.live;
    p.selected = filter.Selects(p.key);
    p.kind = p.selected ? kind.value_or(PolicyKind(stats.live, options)) : stats.kind;
    p.build_bytes = p.selected ? EstimateBuildBytes(p.rows, p.key.dim, p.kind, options) : 0;
    p.index_bytes = stats.memory_bytes;
    plan.push_back(std::move(p));
  }
  return plan;
}

uint64_t LoadedBytes(const std::vector<PlannedBuild>& plan) {
  uint64_t bytes = 0;
  for (const PlannedBuild& p : plan) bytes += p.index_bytes;
  return bytes;
}

uint64_t PeakBytes(const std::vector<PlannedBuild>& plan, size_t jobs, uint64_t max_bytes) {
  std::vector<uint64_t> builds;
  for (const PlannedBuild& p : plan) {
    if (p.selected) builds.push_back(p.build_bytes);
  }
  std::sort(builds.begin(), builds.end(), std::greater<>());
  const uint64_t loaded = LoadedBytes(plan);
  uint64_t running = 0;
  for (size_t i = 0; i < builds.size() && i < std::max<size_t>(jobs, 1); ++i) {
    if (max_bytes != 0 && loaded + running + builds[i] > max_bytes) continue;
    running += builds[i];
  }
  return loaded + running;
}

}  // namespace vecmirror::rebuild
