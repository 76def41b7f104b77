#include "tools/datagen/plan.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>

#include "base/uuid.h"
#include "tools/datagen/random_streams.h"

namespace vecmirror::datagen {
namespace {

// A version-4 UUID whose random bits come from `key`.
std::string UuidFromKey(uint64_t key) {
  Uuid id;
  const uint64_t hi = SplitMix64(key), lo = SplitMix64(hi ^ 0xA5A5A5A5A5A5A5A5ULL);
  for (int i = 0; i < 8; ++i) {
    id.bytes[i] = static_cast<uint8_t>(hi >> (56 - 8 * i));
    id.bytes[8 + i] = static_cast<uint8_t>(lo >> (56 - 8 * i));
  }
  id.bytes[6] = (id.bytes[6] & 0x0F) | 0x40;  // version 4
  id.bytes[8] = (id.bytes[8] & 0x3F) | 0x80;  // RFC 4122 variant
  return id.ToString();
}

// Shuffled 0..n-1.
std::vector<uint32_t> Permutation(uint32_t n, std::mt19937_64& rng) {
  std::vector<uint32_t> p(n);
  std::iota(p.begin(), p.end(), 0);
  std::shuffle(p.begin(), p.end(), rng);
  return p;
}

// Entity types for n entities, in the proportions of `mix` (largest remainder), shuffled.
std::vector<std::string> AssignTypes(const std::vector<std::pair<std::string, double>>& mix,
                                     uint32_t n, std::mt19937_64& rng) {
  double total = 0;
  for (const auto& [name, share] : mix) total += share;
  std::vector<uint32_t> counts(mix.size());
  std::vector<std::pair<double, size_t>> remainders;
  uint32_t assigned = 0;
  for (size_t i = 0; i < mix.size(); ++i) {
    const double exact = total > 0 ? mix[i].second / total * n : 0;
    counts[i] = static_cast<uint32_t>(std::floor(exact));
    assigned += counts[i];
    remainders.push_back({exact - counts[i], i});
  }
  std::sort(remainders.begin(), remainders.end(),
            [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); });
  for (size_t r = 0; assigned < n && r < remainders.size(); ++r, ++assigned) {
    ++counts[remainders[r].second];
  }
  std::vector<std::string> types;
  types.reserve(n);
  for (size_t i = 0; i < mix.size(); ++i) types.insert(types.end(), counts[i], mix[i].first);
  types.resize(n, mix.empty() ? std::string("context") : mix[0].first);
  std::shuffle(types.begin(), types.end(), rng);
  return types;
}

void PlanEntities(const DatasetSpec& spec, uint32_t tenant, DatasetPlan* plan) {
  const uint32_t n = spec.entities_per_tenant;
  std::mt19937_64 rng(Mix(spec.seed, kEntityStream, tenant));
  const std::vector<std::string> types = AssignTypes(spec.type_mix, n, rng);

  std::vector<uint32_t> versions(n, 1);
  const std::vector<uint32_t> by_versioning = Permutation(n, rng);
  const uint32_t max_versions = std::max<uint32_t>(spec.max_versions, 2);
  std::uniform_int_distribution<uint32_t> extra_versions(2, max_versions);
  for (uint32_t k = 0; k < ShareOf(spec.versioned_share, n); ++k) {
    versions[by_versioning[k]] = extra_versions(rng);
  }
  std::vector<bool> deleted(n, false);
  const std::vector<uint32_t> by_deletion = Permutation(n, rng);
  for (uint32_t k = 0; k < ShareOf(spec.deleted_share, n); ++k) deleted[by_deletion[k]] = true;

  for (uint32_t i = 0; i < n; ++i) {
    PlannedEntity entity;
    entity.tenant = tenant;
    entity.type = types[i];
    const uint64_t entity_key = Mix(spec.seed, kEntityIdStream, Mix(tenant, i));
    const int64_t created = kEpoch + static_cast<int64_t>(i) * 60;
    for (uint32_t v = 1; v <= versions[i]; ++v) {
      PlannedVersion version;
      version.version = v;
      version.id = spec.id_layout == IdLayout::kStableId ? UuidFromKey(entity_key)
                                                         : UuidFromKey(Mix(entity_key, v));
      if (spec.id_layout == IdLayout::kIdPerVersion && v > 1) {
        version.previous_version_id = entity.versions.back().id;
      }
      version.valid_from = created + (v - 1) * kDay;
      if (v < versions[i]) version.valid_to = created + v * kDay;
      entity.versions.push_back(std::move(version));
    }
    if (deleted[i]) entity.deleted_at = entity.versions.back().valid_from + 3600;
    plan->entities.push_back(std::move(entity));
  }
}

// Bad kinds in the order they are handed out.
std::vector<BadRowReason> BadKinds(bool allow_non_finite) {
  if (allow_non_finite) {
    // Non-finite twice: a NaN row, then an Infinity row.
    return {BadRowReason::kNullVector, BadRowReason::kNonFinite, BadRowReason::kNonFinite,
            BadRowReason::kZeroVector, BadRowReason::kDimensionMismatch};
  }
  return {BadRowReason::kNullVector, BadRowReason::kZeroVector, BadRowReason::kDimensionMismatch};
}

void PlanEmbeddings(const DatasetSpec& spec, uint32_t tenant, uint32_t model,
                    size_t first_entity, bool allow_non_finite, DatasetPlan* plan) {
  const uint32_t n = spec.entities_per_tenant;
  std::mt19937_64 rng(Mix(spec.seed, kStatusStream, Mix(tenant, model)));
  const std::vector<uint32_t> order = Permutation(n, rng);
  const uint32_t pending = std::min(ShareOf(spec.pending_share, n), n);
  const uint32_t failed = std::min(ShareOf(spec.failed_share, n), n - pending);
  const uint32_t bad = std::min(ShareOf(spec.bad_share, n), n - pending - failed);
  const std::vector<BadRowReason> kinds = BadKinds(allow_non_finite);

  // The fate of each entity's current row, by its rank in `order`.
  std::vector<uint32_t> rank(n);
  for (uint32_t k = 0; k < n; ++k) rank[order[k]] = k;

  for (uint32_t i = 0; i < n; ++i) {
    const size_t entity_index = first_entity + i;
    const PlannedEntity& entity = plan->entities[entity_index];
    const uint32_t current = static_cast<uint32_t>(entity.versions.size() - 1);
    // One row per version whose id differs; with stable ids, one row for the entity.
    const uint32_t first_version = spec.id_layout == IdLayout::kIdPerVersion ? 0 : current;
    for (uint32_t v = first_version; v <= current; ++v) {
      PlannedEmbedding row;
      row.entity = static_cast<uint32_t>(entity_index);
      row.version = v;
      row.model = model;
      row.vector_key = Mix(spec.seed, kVectorKeyStream, Mix(Mix(tenant, i), v));
      row.status = "completed";
      row.has_vector = true;
      if (v == current) {
        const uint32_t k = rank[i];
        if (k < pending) {
          row.status = "pending";
          row.has_vector = k % 2 == 0;
        } else if (k < pending + failed) {
          row.status = "failed";
          row.has_vector = false;
        } else if (k < pending + failed + bad) {
          const size_t turn = (k - pending - failed) % kinds.size();
          row.bad = kinds[turn];
          row.bad_is_infinity = turn > 0 && kinds[turn - 1] == BadRowReason::kNonFinite;
          row.has_vector = row.bad != BadRowReason::kNullVector;
        }
      }
      row.searchable = v == current && entity.deleted_at == 0 && row.status == "completed" &&
                       !row.bad;
      plan->embeddings.push_back(std::move(row));
    }
  }
}

}  // namespace

uint32_t ShareOf(double share, uint32_t n) {
  if (!(share > 0)) return 0;
  return static_cast<uint32_t>(std::min<long long>(std::llround(share * n), n));
}

DatasetPlan PlanDataset(const DatasetSpec& spec, bool allow_non_finite) {
  DatasetPlan plan;
  plan.spec = spec;
  for (uint32_t t = 0; t < spec.tenants; ++t) {
    plan.tenant_ids.push_back(UuidFromKey(Mix(spec.seed, kTenantIdStream, t)));
  }
  for (uint32_t t = 0; t < spec.tenants; ++t) {
    const size_t first_entity = plan.entities.size();
    PlanEntities(spec, t, &plan);
    for (uint32_t m = 0; m < spec.models.size(); ++m) {
      PlanEmbeddings(spec, t, m, first_entity, allow_non_finite, &plan);
    }
  }
  return plan;
}

std::vector<float> PlannedVector(const DatasetPlan& plan, const ClusteredVectors& space,
                                 const PlannedEmbedding& row) {
  if (!row.has_vector) return {};
  std::vector<float> v = space.Vector(row.vector_key);
  if (!row.bad) return v;
  switch (*row.bad) {
    case BadRowReason::kNonFinite:
      v[v.size() / 2] = row.bad_is_infinity ? std::numeric_limits<float>::infinity()
                                            : std::numeric_limits<float>::quiet_NaN();
      break;
    case BadRowReason::kZeroVector:
      std::fill(v.begin(), v.end(), 0.0f);
      break;
    case BadRowReason::kDimensionMismatch:
      v.resize(std::max<size_t>(v.size() / 2, 1));
      break;
    case BadRowReason::kNullVector:
    case BadRowReason::kMalformed:
    case BadRowReason::kUnknownModel:
    case BadRowReason::kEntityTypeLimit:
      break;
  }
  return v;
}

}  // namespace vecmirror::datagen
