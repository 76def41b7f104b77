// How one query's candidates are filtered and ranked. AllowList says which slots the query may
// return (live, of an allowed type, not the excluded entity) and counts them from the per-type
// live counts; TopK keeps the best `limit` by similarity descending, then entity_id ascending;
// ScanExact scores allowed slots with the exact kernels (index/kernels.h) and offers them to a
// TopK. EntityIndex answers a query with ScanExact alone, or with its ANN search filtered by
// the same AllowList, ranked by the same TopK, plus ScanExact over the tail.
//
// Thread-safety: an AllowList or TopK belongs to one query on one thread and refers to the
// SlotState it was made for, which the caller keeps readable (EntityIndex's shared lock) for as
// long as either lives.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "base/uuid.h"
#include "index/entity_types.h"
#include "index/hnsw_search.h"
#include "index/search_query.h"
#include "index/slot_state.h"

namespace vecmirror {

// live AND type in the query's mask AND not the excluded entity.
class AllowList final : public RowFilter {
 public:
  AllowList(const SlotState& state, const TypeMask& types, const std::optional<Uuid>& exclude)
      : state_(state), type_allowed_(state.live_by_type.size()) {
    // Every slot's type code is below live_by_type.size(): one byte per code in this index.
    for (size_t code = 0; code < type_allowed_.size(); ++code) {
      type_allowed_[code] = types.Contains(static_cast<EntityTypeCode>(code));
    }
    if (exclude) {
      const uint32_t slot = state.slot_of.Find(*exclude, state.ids);
      if (slot != SlotTable::kNoSlot) excluded_slot_ = slot;
    }
  }

  bool Allows(size_t slot) const override {
    return state_.live[slot] && type_allowed_[state_.types[slot]] && slot != excluded_slot_;
  }

  // O(types), from the per-type live counts.
  size_t CountAllowed() const {
    size_t allowed = 0;
    for (size_t code = 0; code < type_allowed_.size(); ++code) {
      if (type_allowed_[code]) allowed += state_.live_by_type[code];
    }
    if (excluded_slot_ != kNoSlot && type_allowed_[state_.types[excluded_slot_]]) --allowed;
    return allowed;
  }

 private:
  static constexpr size_t kNoSlot = ~size_t{0};
  const SlotState& state_;
  std::vector<uint8_t> type_allowed_;  // per type code of the index
  size_t excluded_slot_ = kNoSlot;
};

// The best `limit` (slot, similarity) pairs by similarity descending, then entity_id ascending.
class TopK {
 public:
  TopK(const SlotState& state, size_t limit, std::optional<float> min_similarity)
      : state_(state), limit_(limit), min_similarity_(min_similarity) {
    heap_.reserve(limit);
  }

  void Offer(uint32_t slot, float similarity) {
    if (min_similarity_ && similarity < *min_similarity_) return;
    const Candidate c{similarity, slot};
    if (heap_.size() < limit_) {
      heap_.push_back(c);
      std::push_heap(heap_.begin(), heap_.end(), Ranks());
    } else if (limit_ > 0 && Ranks()(c, heap_.front())) {
      std::pop_heap(heap_.begin(), heap_.end(), Ranks());
      heap_.back() = c;
      std::push_heap(heap_.begin(), heap_.end(), Ranks());
    }
  }

  std::vector<Hit> TakeSorted() {
    std::sort_heap(heap_.begin(), heap_.end(), Ranks());
    std::vector<Hit> hits;
    hits.reserve(heap_.size());
    for (const Candidate& c : heap_) {
      hits.push_back(Hit{state_.ids[c.slot], state_.types[c.slot], c.similarity});
    }
    heap_.clear();
    return hits;
  }

 private:
  struct Candidate {
    float similarity;
    uint32_t slot;
  };
  // "a ranks before b". As the heap's order it keeps the worst candidate at the front.
  struct RanksBefore {
    const SlotState* state;
    bool operator()(const Candidate& a, const Candidate& b) const {
      if (a.similarity != b.similarity) return a.similarity > b.similarity;
      return state->ids[a.slot] < state->ids[b.slot];
    }
  };
  RanksBefore Ranks() const { return RanksBefore{&state_}; }

  const SlotState& state_;
  const size_t limit_;
  const std::optional<float> min_similarity_;
  std::vector<Candidate> heap_;
};

// Scores the allowed slots in [begin, end) exactly and offers them to `top`. Consecutive allowed
// slots are scored with one DotProductMany call. Returns how many slots were allowed.
size_t ScanExact(const SlotState& state, const AllowList& allow, const float* query, size_t begin,
                 size_t end, TopK& top);

}  // namespace vecmirror
