// BruteForceTopK: the exact answer to a search, computed with Eigen and independent of the
// engine (no FAISS, no index/ kernels), as the oracle tests and benchmarks compare against.
// It mirrors the SQL contract: similarity = dot product of unit vectors, rows filtered by
// type and an optional excluded id, ordered by similarity descending then id ascending.
//
// Thread-safety: Dataset is read-only after construction; the functions are pure.
#pragma once

#include <Eigen/Dense>
#include <algorithm>
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "base/uuid.h"

namespace vecmirror::testing {

struct OracleHit {
  Uuid id;
  float similarity;
};

// The rows a search may see: one per live entity.
struct Dataset {
  using Matrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  Matrix vectors;  // n x dim, unit rows
  std::vector<Uuid> ids;
  std::vector<uint8_t> types;
};

struct OracleQuery {
  std::optional<std::vector<uint8_t>> types;  // nullopt: all
  size_t limit = 10;
  std::optional<float> min_similarity;
  std::optional<Uuid> exclude;
};

// Exact top-k. Similarities are computed in double, so float rounding in the engine shows up as
// small differences, never as the oracle's own error.
inline std::vector<OracleHit> BruteForceTopK(const Dataset& data, const float* query,
                                             const OracleQuery& q) {
  const auto dim = data.vectors.cols();
  const Eigen::VectorXd qd = Eigen::Map<const Eigen::VectorXf>(query, dim).cast<double>();
  const Eigen::VectorXd sims = data.vectors.cast<double>() * qd;
  std::vector<OracleHit> hits;
  for (Eigen::Index i = 0; i < sims.size(); ++i) {
    if (q.types && std::find(q.types->begin(), q.types->end(), data.types[i]) == q.types->end()) {
      continue;
    }
    if (q.exclude && data.ids[i] == *q.exclude) continue;
    const auto sim = static_cast<float>(sims[i]);
    if (q.min_similarity && sim < *q.min_similarity) continue;
    hits.push_back(OracleHit{data.ids[i], sim});
  }
  auto ranks_before = [](const OracleHit& a, const OracleHit& b) {
    if (a.similarity != b.similarity) return a.similarity > b.similarity;
    return a.id < b.id;
  };
  const size_t keep = std::min(q.limit, hits.size());
  std::partial_sort(hits.begin(), hits.begin() + keep, hits.end(), ranks_before);
  hits.resize(keep);
  return hits;
}

// |found ∩ truth| / |truth| over ids (1.0 when truth is empty).
template <typename Found>
double RecallOf(const Found& found, const std::vector<OracleHit>& truth,
                const std::function<Uuid(const typename Found::value_type&)>& id_of) {
  if (truth.empty()) return 1.0;
  size_t hit = 0;
  for (const OracleHit& t : truth) {
    for (const auto& f : found) {
      if (id_of(f) == t.id) {
        ++hit;
        break;
      }
    }
  }
  return double(hit) / double(truth.size());
}

}  // namespace vecmirror::testing
