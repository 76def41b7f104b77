// The HNSW walk (index/hnsw_search.h) on its own: with a result list as large as the graph it
// visits every row, so its answer equals a brute force exactly, and HnswRowsScoredByThisThread
// counts each row it scored: every row at least once at level 0, and no more than the rows plus
// the upper levels' link slots; the count is per thread. At any ef it answers as the textbook
// walk does, scoring fewer rows.
#include <gtest/gtest.h>

#include <faiss/IndexHNSW.h>
#include <omp.h>

#include <algorithm>
#include <numeric>
#include <queue>
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

// The textbook walk, for the test below: greedy steps down the upper levels that score every
// neighbour of the entry each time, then best-first at level 0 scoring each unvisited
// neighbour as it is read. `scored` counts the rows it scores.
std::vector<GraphHit> TextbookWalk(const faiss::HNSW& graph, const float* rows, const float* query,
                                   size_t k, size_t ef, uint64_t* scored) {
  const auto score = [&](size_t row) {
    ++*scored;
    float s = 0;
    for (size_t i = 0; i < kDim; ++i) s += query[i] * rows[row * kDim + i];
    return s;
  };
  size_t entry = size_t(graph.entry_point);
  float entry_score = score(entry);
  for (int level = graph.max_level; level >= 1; --level) {
    for (bool moved = true; moved;) {
      moved = false;
      size_t begin, end;
      graph.neighbor_range(faiss::HNSW::idx_t(entry), level, &begin, &end);
      for (size_t j = begin; j < end && graph.neighbors[j] >= 0; ++j) {
        const float s = score(size_t(graph.neighbors[j]));
        if (s > entry_score) {
          entry_score = s;
          entry = size_t(graph.neighbors[j]);
          moved = true;
        }
      }
    }
  }
  using Scored = std::pair<float, size_t>;
  std::priority_queue<Scored> candidates;                                          // best on top
  std::priority_queue<Scored, std::vector<Scored>, std::greater<Scored>> results;  // worst on top
  std::vector<bool> visited(graph.levels.size());
  visited[entry] = true;
  candidates.push({entry_score, entry});
  results.push({entry_score, entry});
  while (!candidates.empty()) {
    const Scored current = candidates.top();
    if (results.size() >= ef && current.first < results.top().first) break;
    candidates.pop();
    size_t begin, end;
    graph.neighbor_range(faiss::HNSW::idx_t(current.second), 0, &begin, &end);
    for (size_t j = begin; j < end && graph.neighbors[j] >= 0; ++j) {
      const size_t row = size_t(graph.neighbors[j]);
      if (visited[row]) continue;
      visited[row] = true;
      const float s = score(row);
      if (results.size() < ef || s > results.top().first) {
        candidates.push({s, row});
        results.push({s, row});
        if (results.size() > ef) results.pop();
      }
    }
  }
  std::vector<GraphHit> hits;
  for (; !results.empty(); results.pop()) {
    hits.push_back(GraphHit{results.top().first, uint32_t(results.top().second)});
  }
  std::reverse(hits.begin(), hits.end());
  hits.resize(std::min(hits.size(), k));
  return hits;
}

// The walk batches a candidate's neighbours (to ask for their rows together) and skips rows the
// descent has scored already: neither may change an answer. Same rows, same similarities, as
// the textbook walk at every ef, and fewer rows scored, since the descent's steps revisit the
// rows next to the entry they left.
TEST(HnswSearch, AnswersAsTheTextbookWalkWithFewerRowsScored) {
  const std::vector<float> rows = RandomRows(kRows, kDim, 5);
  const std::vector<float> queries = RandomRows(20, kDim, 6);
  IndexOptions options;
  options.hnsw_m = 4;  // small, so the graph has several upper levels to descend
  omp_set_num_threads(1);
  std::vector<uint32_t> order;
  const auto sealed = BuildSealed(IndexKind::kHnsw, rows, kRows, kDim, options, nullptr, &order);
  const faiss::HNSW& graph = sealed->hnsw->hnsw;
  ASSERT_GE(graph.max_level, 2);
  const AllowAll all;
  uint64_t walk_scored = 0, textbook_scored = 0;
  for (size_t ef : {1, 10, 16, 64}) {
    for (size_t q = 0; q < 20; ++q) {
      const float* query = queries.data() + q * kDim;
      const uint64_t before = HnswRowsScoredByThisThread();
      const std::vector<GraphHit> hits =
          SearchHnswGraph(graph, sealed->vectors, kDim, query, 10, int(ef), all);
      walk_scored += HnswRowsScoredByThisThread() - before;
      const std::vector<GraphHit> expected =
          TextbookWalk(graph, sealed->vectors, query, 10, std::max<size_t>(ef, 10), &textbook_scored);
      ASSERT_EQ(hits.size(), expected.size()) << "ef " << ef << " query " << q;
      for (size_t i = 0; i < hits.size(); ++i) {
        EXPECT_EQ(hits[i].row, expected[i].row) << "ef " << ef << " query " << q << " rank " << i;
        EXPECT_NEAR(hits[i].similarity, expected[i].similarity, 1e-5);
      }
    }
  }
  EXPECT_LT(walk_scored, textbook_scored);
}

}  // namespace
}  // namespace vecmirror
