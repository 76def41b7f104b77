// Helpers shared by the index suites: a reference model of what an index should contain
// (entity -> type, vector), conversions to the Eigen oracle, write builders, and checks that
// compare an engine answer with the oracle's.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <span>
#include <vector>

#include "index/entity_index.h"
#include "tests/support/brute_force.h"
#include "tests/support/test_id.h"
#include "tests/support/vector_stream.h"

namespace vecmirror::testing {

struct ModelRow {
  EntityTypeCode type;
  std::vector<float> vector;
};

// What the index should hold, maintained by the test independently of the engine.
using Model = std::map<Uuid, ModelRow>;

inline Dataset ToDataset(const Model& model, size_t dim) {
  Dataset data;
  data.vectors.resize(Eigen::Index(model.size()), Eigen::Index(dim));
  Eigen::Index row = 0;
  for (const auto& [id, r] : model) {
    data.vectors.row(row++) =
        Eigen::Map<const Eigen::RowVectorXf>(r.vector.data(), Eigen::Index(dim));
    data.ids.push_back(id);
    data.types.push_back(r.type);
  }
  return data;
}

inline IndexWrite Upsert(const Uuid& id, EntityTypeCode type, std::span<const float> v) {
  IndexWrite w;
  w.op = IndexWrite::Op::kUpsert;
  w.entity_id = id;
  w.type = type;
  w.vector.assign(v.begin(), v.end());
  return w;
}

inline IndexWrite Remove(const Uuid& id) {
  IndexWrite w;
  w.op = IndexWrite::Op::kRemove;
  w.entity_id = id;
  return w;
}

inline TypeMask MaskOf(std::initializer_list<EntityTypeCode> codes) {
  TypeMask mask;
  for (EntityTypeCode c : codes) mask.Add(c);
  return mask;
}

inline double Recall(const std::vector<Hit>& found, const std::vector<OracleHit>& truth) {
  return RecallOf<std::vector<Hit>>(found, truth, [](const Hit& h) { return h.entity_id; });
}

// Hits are ordered by similarity descending, then entity_id ascending, with no duplicates.
inline void ExpectWellOrdered(const std::vector<Hit>& hits) {
  for (size_t i = 1; i < hits.size(); ++i) {
    const Hit& a = hits[i - 1];
    const Hit& b = hits[i];
    EXPECT_TRUE(a.similarity > b.similarity ||
                (a.similarity == b.similarity && a.entity_id < b.entity_id))
        << "position " << i;
  }
  for (size_t i = 0; i < hits.size(); ++i) {
    for (size_t j = i + 1; j < hits.size(); ++j) {
      EXPECT_NE(hits[i].entity_id, hits[j].entity_id) << "duplicate at " << i << ", " << j;
    }
  }
}

// An exact answer: the same hits as the oracle, similarities equal up to float rounding. Where
// the oracle has near-ties (within kTie), the engine may order or cut them differently: each
// hit must then be one the oracle ranks as high, within kTie.
inline void ExpectSameAsOracle(const std::vector<Hit>& hits, const Dataset& data,
                               const float* query, const OracleQuery& oq) {
  constexpr float kTie = 2e-5f;
  const auto truth = BruteForceTopK(data, query, oq);
  ASSERT_EQ(hits.size(), truth.size());
  OracleQuery wide = oq;
  wide.limit = oq.limit + 20;
  const auto wider = BruteForceTopK(data, query, wide);
  for (size_t i = 0; i < hits.size(); ++i) {
    EXPECT_NEAR(hits[i].similarity, truth[i].similarity, kTie) << "position " << i;
    if (hits[i].entity_id == truth[i].id) continue;
    const auto it = std::find_if(wider.begin(), wider.end(),
                                 [&](const OracleHit& o) { return o.id == hits[i].entity_id; });
    ASSERT_NE(it, wider.end()) << "position " << i << ": hit not among the oracle's best";
    EXPECT_NEAR(it->similarity, truth[i].similarity, kTie) << "position " << i << ": not a tie";
  }
  ExpectWellOrdered(hits);
}

// Every query answered identically by `a` and `b`, bit for bit, approximate and exact.
inline void ExpectSameAnswers(const EntityIndex& a, const EntityIndex& b,
                              const std::vector<std::vector<float>>& queries) {
  for (const auto& qv : queries) {
    for (bool exact : {false, true}) {
      SearchQuery q;
      q.vector = qv;
      q.limit = 20;
      q.effort.exact = exact;
      const SearchResult ra = a.Search(q), rb = b.Search(q);
      ASSERT_EQ(ra.hits.size(), rb.hits.size());
      EXPECT_EQ(ra.exact, rb.exact);
      for (size_t i = 0; i < ra.hits.size(); ++i) {
        EXPECT_EQ(ra.hits[i].entity_id, rb.hits[i].entity_id);
        EXPECT_EQ(ra.hits[i].similarity, rb.hits[i].similarity);
      }
    }
  }
}

}  // namespace vecmirror::testing
