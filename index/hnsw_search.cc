#include "index/hnsw_search.h"

#include <faiss/impl/HNSW.h>

#include <algorithm>
#include <queue>

#include "index/kernels.h"
#include "index/sq8_codec.h"
#include "index/sq8_int8_query.h"
#include "index/visited_marks.h"

namespace vecmirror {
namespace {

thread_local uint64_t rows_scored_by_thread = 0;

struct Scored {
  float similarity;
  uint32_t row;
};
struct BestFirst {  // max-heap on similarity: the most promising candidate on top
  bool operator()(const Scored& a, const Scored& b) const { return a.similarity < b.similarity; }
};
struct WorstFirst {  // min-heap on similarity: the weakest result on top
  bool operator()(const Scored& a, const Scored& b) const { return a.similarity > b.similarity; }
};

// Asks for the first cache line of a row, so that a batch's rows are fetched from memory
// together rather than one after another; the hardware prefetcher follows each row's first
// line with the rest. More lines than the first were slower (bench/RESULTS.md).
void PrefetchRowStart(const void* row) { __builtin_prefetch(row); }

// The search, over any row scorer: `score(row)` is the row's similarity with the query (or an
// estimate of it), `row_start(row)` where the row's bytes begin. Returns the best `keep` of the
// result list (at least k), best first.
template <typename Score, typename RowStart>
std::vector<GraphHit> SearchGraph(const faiss::HNSW& graph, size_t k, int ef,
                                  const RowFilter& filter, const Score& score,
                                  const RowStart& row_start, size_t keep) {
  std::vector<GraphHit> hits;
  if (graph.entry_point < 0 || k == 0) return hits;

  size_t scored = 1;  // the entry point
  thread_local VisitedMarks visited;

  // Greedy descent through the upper levels, unfiltered: they only find a good entry point.
  // A row scored once on the way down is not scored again: it lost to the entry then, and the
  // entry only gets better, so it would lose again (a new entry's neighbours are mostly the old
  // entry's). The path down, and so the result, is the same.
  auto entry = static_cast<uint32_t>(graph.entry_point);
  float entry_similarity = score(entry);
  visited.Begin(graph.levels.size());
  visited.TestAndSet(entry);

  // Fills `batch` with the unvisited neighbours of `row` at `level`, marks them visited and
  // asks for their rows' first lines, so that their memory latencies overlap instead of adding
  // up while they are scored in order.
  thread_local std::vector<uint32_t> batch;
  const auto gather_unvisited = [&](uint32_t row, int level) {
    batch.clear();
    size_t begin, end;
    graph.neighbor_range(row, level, &begin, &end);
    for (size_t j = begin; j < end; ++j) {
      const int neighbor = graph.neighbors[j];
      if (neighbor < 0) break;
      if (visited.TestAndSet(size_t(neighbor))) continue;
      batch.push_back(uint32_t(neighbor));
      PrefetchRowStart(row_start(size_t(neighbor)));
    }
    scored += batch.size();
  };

  for (int level = graph.max_level; level >= 1; --level) {
    for (bool improved = true; improved;) {
      improved = false;
      gather_unvisited(entry, level);
      for (const uint32_t neighbor : batch) {
        const float s = score(size_t(neighbor));
        if (s > entry_similarity) {
          entry_similarity = s;
          entry = uint32_t(neighbor);
          improved = true;
        }
      }
    }
  }

  // Best-first search of level 0 with a result list of ef allowed rows.
  const size_t list_size = std::max<size_t>(size_t(std::max(ef, 1)), k);
  keep = std::max(keep, k);
  visited.Begin(graph.levels.size());  // a new epoch: the descent's marks do not count here
  std::priority_queue<Scored, std::vector<Scored>, BestFirst> candidates;
  std::priority_queue<Scored, std::vector<Scored>, WorstFirst> results;
  visited.TestAndSet(entry);
  candidates.push({entry_similarity, entry});
  if (filter.Allows(entry)) results.push({entry_similarity, entry});

  while (!candidates.empty()) {
    const Scored current = candidates.top();
    if (results.size() >= list_size && current.similarity < results.top().similarity) break;
    candidates.pop();
    gather_unvisited(current.row, 0);
    for (const uint32_t neighbor : batch) {
      const float s = score(size_t(neighbor));
      if (results.size() < list_size || s > results.top().similarity) {
        candidates.push({s, uint32_t(neighbor)});
        if (filter.Allows(size_t(neighbor))) {
          results.push({s, uint32_t(neighbor)});
          if (results.size() > list_size) results.pop();
        }
      }
    }
  }

  rows_scored_by_thread += scored;

  while (results.size() > keep) results.pop();
  hits.resize(results.size());
  for (size_t i = hits.size(); i-- > 0;) {
    hits[i] = GraphHit{results.top().similarity, results.top().row};
    results.pop();
  }
  return hits;
}

}  // namespace

uint64_t HnswRowsScoredByThisThread() { return rows_scored_by_thread; }

std::vector<GraphHit> SearchHnswGraph(const faiss::HNSW& graph, const float* vectors, size_t dim,
                                      const float* query, size_t k, int ef,
                                      const RowFilter& filter) {
  return SearchGraph(
      graph, k, ef, filter,
      [&](size_t row) { return DotProduct(query, vectors + row * dim, dim); },
      [&](size_t row) { return vectors + row * dim; }, k);
}

std::vector<GraphHit> SearchHnswGraph(const faiss::HNSW& graph, const uint16_t* halves, size_t dim,
                                      const float* query, size_t k, int ef,
                                      const RowFilter& filter) {
  return SearchGraph(
      graph, k, ef, filter,
      [&](size_t row) { return DotProductF16(query, halves + row * dim, dim); },
      [&](size_t row) { return halves + row * dim; }, k);
}

std::vector<GraphHit> SearchHnswGraph(const faiss::HNSW& graph, const uint8_t* codes,
                                      const Sq8Ranges& ranges, size_t dim, const float* query,
                                      size_t k, int ef, const RowFilter& filter) {
  // The prepared query's buffers are kept per thread, so a search allocates nothing once warm.
  thread_local Sq8Int8Query prepared;
  prepared.Prepare(ranges, query, dim);
  // The walk steers by the int8 estimates; its whole result list (ef rows, still in cache) is
  // then scored exactly, so the similarities returned and their order are Sq8Query's. Scoring
  // only the best k again would keep the estimates' choice of the k, and lose recall.
  std::vector<GraphHit> hits = SearchGraph(
      graph, k, ef, filter, [&](size_t row) { return prepared.Estimate(codes + row * dim); },
      [&](size_t row) { return codes + row * dim; }, size_t(std::max(ef, 1)));
  for (GraphHit& hit : hits) hit.similarity = prepared.Score(codes + size_t(hit.row) * dim);
  const size_t kept = std::min(k, hits.size());
  std::partial_sort(hits.begin(), hits.begin() + kept, hits.end(),
                    [](const GraphHit& a, const GraphHit& b) {
                      return a.similarity > b.similarity ||
                             (a.similarity == b.similarity && a.row < b.row);
                    });
  hits.resize(kept);
  return hits;
}

}  // namespace vecmirror
