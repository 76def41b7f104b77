// The engine's policies as pure functions of counts and options: which kind an index should
// be, how an IVF is sized, when an index needs a rebuild, and how one query is answered (an
// exact scan of the allowed rows, or an ANN search with how much effort). Kept apart from
// EntityIndex so each rule can be tested on numbers alone.
//
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <optional>

#include "index/index_options.h"

namespace vecmirror {

// The kind the size policy wants for an index with `live` rows: options.forced_kind if set,
// else ann_kind from ann_min_rows live rows on, else flat.
IndexKind PolicyKind(size_t live, const IndexOptions& options);

// IVF lists for `rows` vectors: options.ivf_nlist, or about 4 * sqrt(rows); never more than
// rows (k-means needs a point per centroid) and at least 1.
size_t IvfListCount(size_t rows, const IndexOptions& options);
// Lists probed by default: options.ivf_nprobe, or nlist / 8 but at least 8; at most nlist.
size_t IvfDefaultProbes(size_t nlist, const IndexOptions& options);

// What an index looks like to the rebuild policy.
struct IndexShape {
  IndexKind kind = IndexKind::kFlat;    // kind of the sealed structure
  IndexKind target = IndexKind::kFlat;  // kind the index should have (policy or pinned)
  size_t live = 0;
  size_t dead = 0;
  size_t tail = 0;  // slots appended since the sealed structure was built
};

enum class RebuildReason { kNone, kKind, kTail, kTombstones };
RebuildReason WhyRebuild(const IndexShape& shape, const IndexOptions& options);
const char* RebuildReasonName(RebuildReason reason);

struct SearchPlanInput {
  IndexKind kind = IndexKind::kFlat;  // kind of the sealed structure
  size_t sealed_rows = 0;             // rows the ANN structure holds (0: none)
  size_t live = 0;                    // live rows in the index
  size_t allowed = 0;                 // live rows the query may return
  size_t limit = 10;
  SearchEffort effort;
  size_t ivf_nlist = 0;  // of the sealed IVF structure
  size_t ivf_default_nprobe = 0;
};

struct SearchPlan {
  bool exact = true;  // scan the allowed rows exactly instead of asking the ANN structure
  int ef_search = 0;  // HNSW candidate list size
  size_t nprobe = 0;  // IVF lists probed
  size_t k = 0;       // hits asked of the ANN structure
};

// Effort set by the caller is used as given (ef_search at least the limit; capped at
// kMaxEfSearch and nlist), so a recall sweep measures what it asks for. The defaults are raised
// for selective filters, by the inverse of the allowed share, because a filtered HNSW or IVF
// search meets allowed rows at about that rate. An ANN search that still comes back short falls
// back to an exact scan (EntityIndex).
SearchPlan PlanSearch(const SearchPlanInput& in, const IndexOptions& options);

constexpr int kMaxEfSearch = 4096;

}  // namespace vecmirror
