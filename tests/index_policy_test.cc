#include <gtest/gtest.h>

#include "index/policy.h"

namespace vecmirror {
namespace {

TEST(PolicyTest, KindFollowsSizeUnlessForced) {
  IndexOptions options;
  options.ann_min_rows = 100;
  EXPECT_EQ(PolicyKind(0, options), IndexKind::kFlat);
  EXPECT_EQ(PolicyKind(99, options), IndexKind::kFlat);
  EXPECT_EQ(PolicyKind(100, options), IndexKind::kHnsw);
  options.ann_kind = IndexKind::kIvf;
  EXPECT_EQ(PolicyKind(100, options), IndexKind::kIvf);
  options.forced_kind = IndexKind::kFlat;
  EXPECT_EQ(PolicyKind(1000000, options), IndexKind::kFlat);
}

TEST(PolicyTest, IvfSizing) {
  IndexOptions options;
  EXPECT_EQ(IvfListCount(10000, options), 400u);  // 4 * sqrt(10,000)
  EXPECT_EQ(IvfListCount(3, options), 3u);        // never more lists than rows
  EXPECT_EQ(IvfListCount(0, options), 1u);
  EXPECT_EQ(IvfDefaultProbes(400, options), 50u);  // nlist / 8
  EXPECT_EQ(IvfDefaultProbes(40, options), 8u);    // at least 8
  EXPECT_EQ(IvfDefaultProbes(5, options), 5u);     // at most nlist
  options.ivf_nlist = 1000;
  options.ivf_nprobe = 30;
  EXPECT_EQ(IvfListCount(10000, options), 1000u);
  EXPECT_EQ(IvfDefaultProbes(1000, options), 30u);
}

TEST(PolicyTest, RebuildReasons) {
  IndexOptions options;
  options.ann_min_rows = 100;
  IndexShape shape;
  EXPECT_EQ(WhyRebuild(shape, options), RebuildReason::kNone);  // empty

  shape.live = 150;
  shape.target = IndexKind::kHnsw;
  EXPECT_EQ(WhyRebuild(shape, options), RebuildReason::kKind);

  shape.kind = IndexKind::kHnsw;
  shape.tail = options.tail_absorb_rows;
  EXPECT_EQ(WhyRebuild(shape, options), RebuildReason::kNone);
  shape.tail = options.tail_absorb_rows + 1;
  EXPECT_EQ(WhyRebuild(shape, options), RebuildReason::kTail);
  shape.dead = 100;  // tombstones too: only a full rebuild compacts them
  EXPECT_EQ(WhyRebuild(shape, options), RebuildReason::kTombstones);
  shape.dead = 0;

  // A flat index never rebuilds for its tail: it is scanned the same way as its sealed part.
  shape.kind = shape.target = IndexKind::kFlat;
  EXPECT_EQ(WhyRebuild(shape, options), RebuildReason::kNone);

  shape.tail = 0;
  shape.live = 80;
  shape.dead = 20;  // exactly 20%: not yet
  EXPECT_EQ(WhyRebuild(shape, options), RebuildReason::kNone);
  shape.dead = 21;
  EXPECT_EQ(WhyRebuild(shape, options), RebuildReason::kTombstones);

  // All rows removed: compact to nothing, but don't build an ANN structure over nothing.
  shape.live = 0;
  shape.target = IndexKind::kHnsw;
  EXPECT_EQ(WhyRebuild(shape, options), RebuildReason::kTombstones);
  shape.dead = 0;
  EXPECT_EQ(WhyRebuild(shape, options), RebuildReason::kNone);
}

SearchPlanInput AnnInput() {
  SearchPlanInput in;
  in.kind = IndexKind::kHnsw;
  in.sealed_rows = 100000;
  in.live = 100000;
  in.allowed = 100000;
  in.limit = 10;
  in.ivf_nlist = 1000;
  in.ivf_default_nprobe = 125;
  return in;
}

TEST(PolicyTest, UnfilteredSearchUsesTheDefaults) {
  IndexOptions options;
  const SearchPlan plan = PlanSearch(AnnInput(), options);
  EXPECT_FALSE(plan.exact);
  EXPECT_EQ(plan.ef_search, options.hnsw_ef_search);
  EXPECT_EQ(plan.nprobe, 125u);
  EXPECT_EQ(plan.k, 10u);
}

TEST(PolicyTest, SmallAllowListsAreScannedExactly) {
  IndexOptions options;
  options.exact_max_allowed_rows = 2000;
  options.exact_max_allowed_share = 0.05;
  SearchPlanInput in = AnnInput();
  in.allowed = 2000;
  EXPECT_TRUE(PlanSearch(in, options).exact);
  in.allowed = 5000;  // 5%
  EXPECT_TRUE(PlanSearch(in, options).exact);
  in.allowed = 5001;
  EXPECT_FALSE(PlanSearch(in, options).exact);
  in.effort.exact = true;
  EXPECT_TRUE(PlanSearch(in, options).exact);
  // The defaults: 5,000 rows or 15% (bench/RESULTS.md, "Index engine").
  in = AnnInput();
  in.allowed = 15000;
  EXPECT_TRUE(PlanSearch(in, IndexOptions()).exact);
  in.allowed = 15001;
  EXPECT_FALSE(PlanSearch(in, IndexOptions()).exact);
  in.live = in.sealed_rows = 20000;
  in.allowed = 5000;  // 25% of a small index, but few rows
  EXPECT_TRUE(PlanSearch(in, IndexOptions()).exact);
  in = AnnInput();
  in.kind = IndexKind::kFlat;
  EXPECT_TRUE(PlanSearch(in, options).exact);
  in = AnnInput();
  in.sealed_rows = 0;  // everything is in the tail
  EXPECT_TRUE(PlanSearch(in, options).exact);
}

TEST(PolicyTest, SelectiveFiltersRaiseDefaultEffortButNotExplicitEffort) {
  IndexOptions options;
  options.exact_max_allowed_rows = 0;
  options.exact_max_allowed_share = 0;
  SearchPlanInput in = AnnInput();
  in.allowed = 50000;  // 50%
  SearchPlan plan = PlanSearch(in, options);
  EXPECT_EQ(plan.ef_search, 2 * options.hnsw_ef_search);
  EXPECT_EQ(plan.nprobe, 250u);

  in.allowed = 100;  // 0.1%: capped
  plan = PlanSearch(in, options);
  EXPECT_EQ(plan.ef_search, kMaxEfSearch);
  EXPECT_EQ(plan.nprobe, 1000u);

  in.effort.ef_search = 32;
  in.effort.nprobe = 4;
  plan = PlanSearch(in, options);
  EXPECT_EQ(plan.ef_search, 32);
  EXPECT_EQ(plan.nprobe, 4u);
  in.effort.ef_search = 4;  // shorter than the limit: no list can hold 10 results
  EXPECT_EQ(PlanSearch(in, options).ef_search, 10);

  in = AnnInput();
  in.limit = 500;  // a large limit needs a candidate list at least twice as long
  EXPECT_EQ(PlanSearch(in, options).ef_search, 1000);
}

}  // namespace
}  // namespace vecmirror
