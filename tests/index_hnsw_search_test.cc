// The HNSW walk (index/hnsw_search.h) on its own: with a result list as large as the graph it
// visits every row, so its answer equals a brute force exactly, and HnswRowsScoredByThisThread
// counts each row it scored: every row at least once at level 0, and no more than the rows plus
// the upper levels' link slots; the count is per thread.
#include <gtest/gtest.h>

#include <faiss/IndexHNSW.h>
#include <omp.h>

#include <algorithm>
#include <numeric>
#include <random>
#include <thread>
#include <vector>

#include "index/hnsw_search.h"
#include "index/index_options.h"
#include "index/sealed_structure.h"

namespace vecmirror {
namespace {

constexpr size_t kRows = 2000, kDim = 32;

class AllowAll final : public RowFilter {
 public:
  bool Allows(size_t) const override { return true; }
};

std::vector<float> RandomRows(size_t n, size_t dim, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  std::vector<float> v(n * dim);
  for (float& x : v) x = normal(rng);
  return v;
}

// Link slots above level 0: an upper bound on what the greedy descent can score.
size_t UpperLevelSlots(const faiss::HNSW& graph) {
  size_t slots = 0;
  for (size_t row = 0; row < graph.levels.size(); ++row) {
    for (int level = 1; level < graph.levels[row]; ++level) {
      size_t begin, end;
      graph.neighbor_range(faiss::HNSW::idx_t(row), level, &begin, &end);
      slots += end - begin;
    }
  }
  return slots;
}

TEST(HnswSearch, ExhaustiveWalkIsExactAndCountsEveryRowScored) {
  const std::vector<float> rows = RandomRows(kRows, kDim, 3);
  const std::vector<float> queries = RandomRows(5, kDim, 4);
  IndexOptions options;
  options.hnsw_m = 8;
  // One build thread: FAISS's build is then deterministic, so the graph (which must reach
  // every row from the entry point for the walk to be exhaustive) is the same on every run.
  omp_set_num_threads(1);
  std::vector<uint32_t> order;
  const auto sealed = BuildSealed(IndexKind::kHnsw, rows, kRows, kDim, options, nullptr, &order);
  const faiss::HNSW& graph = sealed->hnsw->hnsw;
  const size_t upper_slots = UpperLevelSlots(graph);
  const AllowAll all;
  for (size_t q = 0; q < 5; ++q) {
    const float* query = queries.data() + q * kDim;
    // Brute force, in double.
    std::vector<double> truth(kRows);
    for (size_t r = 0; r < kRows; ++r) {
      double s = 0;
      for (size_t i = 0; i < kDim; ++i) s += double(query[i]) * rows[r * kDim + i];
      truth[r] = s;
    }
    std::vector<uint32_t> best(kRows);
    std::iota(best.begin(), best.end(), 0u);
    std::partial_sort(best.begin(), best.begin() + 10, best.end(),
                      [&](uint32_t a, uint32_t b) { return truth[a] > truth[b]; });

    const uint64_t before = HnswRowsScoredByThisThread();
    const std::vector<GraphHit> hits =
        SearchHnswGraph(graph, sealed->vectors, kDim, query, 10, int(kRows), all);
    const uint64_t scored = HnswRowsScoredByThisThread() - before;

    ASSERT_EQ(hits.size(), 10u);
    for (size_t i = 0; i < 10; ++i) {
      EXPECT_EQ(hits[i].row, best[i]) << "query " << q << " rank " << i;
      EXPECT_NEAR(hits[i].similarity, truth[best[i]], 1e-4);
    }
    EXPECT_GE(scored, kRows);
    EXPECT_LE(scored, kRows + upper_slots);
  }

  // Another thread's searches are not this thread's count.
  const uint64_t mine = HnswRowsScoredByThisThread();
  uint64_t theirs = 0;
  std::thread other([&] {
    SearchHnswGraph(graph, sealed->vectors, kDim, queries.data(), 10, 64, all);
    theirs = HnswRowsScoredByThisThread();
  });
  other.join();
  EXPECT_GT(theirs, 0u);
  EXPECT_EQ(HnswRowsScoredByThisThread(), mine);
}

}  // namespace
}  // namespace vecmirror
