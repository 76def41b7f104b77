// SearchHnswGraph: a filtered best-first search over a FAISS HNSW graph (the faiss::HNSW that
// faiss::IndexHNSW builds), scoring rows with the engine's kernels (index/kernels.h).
//
// Why not IndexHNSW::search with SearchParametersHNSW: in the FAISS 1.7.3 that Debian ships,
// HNSW::search sizes its candidate heap with the index's own efSearch (`int ef =
// std::max(efSearch, k)`) and only the stopping rule reads the per-call efSearch, so a
// per-query efSearch above the index default has no effect and raising effort for selective
// filters did nothing (filtered searches came back short and fell back to exact scans).
// Changing the index's efSearch per query would race with concurrent searches. This search
// reads only the graph, which is immutable after the build, takes ef per call, and needs no
// OpenMP. The build still uses FAISS (IndexHNSW::add, over index/fast_flat.h).
//
// Filtering: the walk passes through rejected rows (so the graph stays connected) and only
// allowed rows enter the result list; the walk stops when the best unexplored candidate is
// worse than the worst of ef allowed results, as in hnswlib's filtered search.
//
// Thread-safety: safe to call concurrently on the same graph. Each thread keeps its own
// visited marks (thread_local), so a search allocates nothing proportional to the graph
// after the first search of a thread on a graph that size.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace faiss {
struct HNSW;
}

namespace vecmirror {

struct Sq8Ranges;

// Which rows a search may return.
class RowFilter {
 public:
  virtual ~RowFilter() = default;
  virtual bool Allows(size_t row) const = 0;
};

struct GraphHit {
  float similarity;  // inner product with the query
  uint32_t row;
};

// Up to k allowed rows, by similarity descending. `vectors` holds row r at vectors + r * dim
// (the graph's flat storage). ef is the candidate list size (at least k is used).
std::vector<GraphHit> SearchHnswGraph(const faiss::HNSW& graph, const float* vectors, size_t dim,
                                      const float* query, size_t k, int ef,
                                      const RowFilter& filter);

// The same over fp16 rows (a HalfFlatIP storage): row r at halves + r * dim, scored against
// the float query with DotProductF16.
std::vector<GraphHit> SearchHnswGraph(const faiss::HNSW& graph, const uint16_t* halves, size_t dim,
                                      const float* query, size_t k, int ef,
                                      const RowFilter& filter);

// The same over SQ8 codes (an Sq8FlatIP storage): row r's codes at codes + r * dim, in
// `ranges`. The walk scores rows with the query quantized to int8 (Sq8Int8Query::Estimate, one
// DotProductU8I8 a row), then scores its result list (ef rows) again with the float query
// (Sq8Query, one DotProductU8 a row): the hits' similarities and order are the exact ones.
std::vector<GraphHit> SearchHnswGraph(const faiss::HNSW& graph, const uint8_t* codes,
                                      const Sq8Ranges& ranges, size_t dim, const float* query,
                                      size_t k, int ef, const RowFilter& filter);

// The rows this thread's walks have scored so far (upper levels and level 0; one dot
// product each; an SQ8 search's second scoring of its result list is not counted), for
// benchmarks that split a search's cost into rows scored x time per row. Counted once per
// search, not per row.
uint64_t HnswRowsScoredByThisThread();

}  // namespace vecmirror
