#include "index/policy.h"

#include <algorithm>
#include <cmath>

namespace vecmirror {

IndexKind PolicyKind(size_t live, const IndexOptions& options) {
  if (options.forced_kind) return *options.forced_kind;
  return live >= options.ann_min_rows ? options.ann_kind : IndexKind::kFlat;
}

size_t IvfListCount(size_t rows, const IndexOptions& options) {
  size_t nlist = options.ivf_nlist;
  if (nlist == 0) nlist = static_cast<size_t>(std::lround(4.0 * std::sqrt(double(rows))));
  return std::clamp<size_t>(nlist, 1, std::max<size_t>(rows, 1));
}

size_t IvfDefaultProbes(size_t nlist, const IndexOptions& options) {
  size_t nprobe = options.ivf_nprobe;
  if (nprobe == 0) nprobe = std::max<size_t>(nlist / 8, 8);
  return std::clamp<size_t>(nprobe, 1, std::max<size_t>(nlist, 1));
}

RebuildReason WhyRebuild(const IndexShape& shape, const IndexOptions& options) {
  // Building an ANN structure over nothing is pointless; an empty index just waits for rows.
  if (shape.kind != shape.target && shape.live > 0) return RebuildReason::kKind;
  // Tombstones before the tail: a compaction absorbs the tail too, and kTail alone lets an
  // HNSW index add its tail to the graph it has instead of building a new one.
  // No minimum count is needed: above 5,000 slots a 20% dead share is already 1,000 rows, and
  // below that a rebuild is cheap.
  const size_t slots = shape.live + shape.dead;
  if (shape.dead > 0 && double(shape.dead) > options.compact_dead_share * double(slots)) {
    return RebuildReason::kTombstones;
  }
  // A flat index scans its tail exactly like its sealed part, so a long tail costs nothing.
  if (shape.kind != IndexKind::kFlat && shape.tail > options.tail_absorb_rows) {
    return RebuildReason::kTail;
  }
  return RebuildReason::kNone;
}

const char* RebuildReasonName(RebuildReason reason) {
  switch (reason) {
    case RebuildReason::kNone:
      return "none";
    case RebuildReason::kKind:
      return "kind";
    case RebuildReason::kTail:
      return "tail";
    case RebuildReason::kTombstones:
      return "tombstones";
  }
  return "unknown";
}

SearchPlan PlanSearch(const SearchPlanInput& in, const IndexOptions& options) {
  SearchPlan plan;
  plan.k = in.limit;
  if (in.allowed == 0 || in.live == 0) return plan;
  const double share = double(in.allowed) / double(in.live);
  plan.exact = in.effort.exact || in.kind == IndexKind::kFlat || in.sealed_rows == 0 ||
               in.allowed <= options.exact_max_allowed_rows ||
               share <= options.exact_max_allowed_share;
  if (plan.exact) return plan;

  if (in.effort.ef_search > 0) {
    // A candidate list shorter than k can't hold k results.
    const int at_least_limit =
        std::max(in.effort.ef_search, int(std::min<size_t>(in.limit, kMaxEfSearch)));
    plan.ef_search = std::min(at_least_limit, kMaxEfSearch);
  } else {
    const double base = std::max(options.hnsw_ef_search, 1);
    const double raised = std::max({base, 2.0 * double(in.limit), std::ceil(base / share)});
    plan.ef_search = int(std::min(raised, double(kMaxEfSearch)));
  }

  const size_t nlist = std::max<size_t>(in.ivf_nlist, 1);
  if (in.effort.nprobe > 0) {
    plan.nprobe = std::min<size_t>(size_t(in.effort.nprobe), nlist);
  } else {
    const double base = double(std::max<size_t>(in.ivf_default_nprobe, 1));
    plan.nprobe = size_t(std::min(std::ceil(base / share), double(nlist)));
  }
  return plan;
}

}  // namespace vecmirror
