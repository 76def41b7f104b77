#include "tools/recall/census.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <random>

namespace vecmirror::recall {

std::vector<float> RandomDirection(uint32_t dim, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal;
  std::vector<float> v(dim);
  double norm2 = 0;
  for (float& x : v) {
    x = normal(rng);
    norm2 += double(x) * x;
  }
  const double inv = norm2 > 0 ? 1.0 / std::sqrt(norm2) : 1.0;
  for (float& x : v) x = float(x * inv);
  return v;
}

Status ProbeCensus(IndexSource& source, const IndexDescription& index,
                   const CensusOptions& options, Census* out) {
  out->entities.clear();
  out->complete = index.live == 0;
  if (index.live == 0) return Status::Ok();

  const size_t target = std::min<size_t>(index.live, std::max<size_t>(options.max_entities, 1));
  // Each search finds at most kMaxLimit entities, many of them known already; four times the
  // minimum plus a few is enough for the mix of probes to reach `target` on clustered data.
  const size_t budget = 8 + 4 * ((target + kMaxLimit - 1) / kMaxLimit);
  std::mt19937_64 rng(options.seed);
  std::map<Uuid, std::string> found;
  std::vector<Uuid> unused_seeds;  // found entities not yet used as a "more like this" probe

  for (size_t probe = 0; probe < budget && found.size() < target; ++probe) {
    SourceQuery query;
    query.limit = kMaxLimit;
    query.effort.exact = true;
    std::vector<float> direction;
    if (probe % 2 == 0 || unused_seeds.empty()) {
      direction = RandomDirection(index.key.dim, rng());
      query.vector = direction;
    } else {
      const size_t pick = rng() % unused_seeds.size();
      query.entity_id = unused_seeds[pick];
      unused_seeds[pick] = unused_seeds.back();
      unused_seeds.pop_back();
    }
    SourceAnswer answer;
    Status s = source.Search(index.key, query, &answer);
    if (s.code() == Status::Code::kNotFound && query.entity_id) continue;  // removed meanwhile
    if (!s.ok()) return s;
    for (const SourceHit& hit : answer.hits) {
      if (found.emplace(hit.entity_id, hit.type).second) unused_seeds.push_back(hit.entity_id);
    }
  }
  for (auto& [id, type] : found) out->entities.push_back({id, std::move(type)});
  out->complete = found.size() >= index.live;
  return Status::Ok();
}

std::optional<size_t> CountAllowedIfFew(IndexSource& source, const IndexDescription& index,
                                        const std::vector<std::string>& types, uint64_t seed) {
  const std::vector<float> direction = RandomDirection(index.key.dim, seed);
  SourceQuery query;
  query.vector = direction;
  query.types = types;
  query.limit = kMaxLimit;
  query.effort.exact = true;
  SourceAnswer answer;
  if (!source.Search(index.key, query, &answer).ok()) return std::nullopt;
  if (answer.hits.size() >= kMaxLimit) return std::nullopt;
  return answer.hits.size();
}

}  // namespace vecmirror::recall
