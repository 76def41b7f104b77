// One search of an EntityIndex: what it asks (SearchQuery) and what it answers (SearchResult,
// a list of Hit). The hits' order, similarity descending then entity_id ascending, is that of the
// SQL search the service replaces (sql/search_similar_entities.sql).
//
// Thread-safety: plain values. A SearchQuery's vector is a view: its floats must outlive the
// search.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "base/uuid.h"
#include "index/entity_types.h"
#include "index/index_options.h"

namespace vecmirror {

struct SearchQuery {
  std::span<const float> vector;  // unit norm, the index's dimension
  TypeMask types = TypeMask::All();
  size_t limit = 10;
  std::optional<float> min_similarity;
  std::optional<Uuid> exclude;  // "more like this": leave this entity out
  SearchEffort effort;
};

struct Hit {
  Uuid entity_id;
  EntityTypeCode type = 0;
  float similarity = 0;  // cosine similarity
};

struct SearchResult {
  std::vector<Hit> hits;  // similarity descending, then entity_id ascending
  bool exact = false;
  IndexKind kind = IndexKind::kFlat;
  uint64_t applied_lsn = 0;  // the watermark read while the search held the index
};

}  // namespace vecmirror
