// vecmirror_walk_bench: variants of the HNSW walk over SQ8 codes, timed on one graph in one
// process, so that graph-to-graph variance (FAISS's OpenMP build is not deterministic) does not
// blur differences of a few percent. It is where the walk's variants are tried before one goes
// into index/hnsw_search.cc; the figures are in bench/RESULTS.md ("The walk: huge pages,
// prefetch and a 1-bit walk").
//
// Variants (each at every --ef):
//   engine           SearchHnswGraph over the SQ8 codes, as EntityIndex searches
//   walk             this file's copy of that walk, scoring each neighbour as it is read
//   batch            a node's unvisited neighbours gathered first, then scored in order
//   batch+next       ... while prefetching the next row's whole code (24 lines at 1536-d)
//   batch+all2       ... and, before scoring, the first 2 lines of every row of the batch
//   batch+lists      batch+next, and the next candidate's neighbour list while scoring
//   bits xF rr R     a walk on 1-bit codes (below) with a result list of F x ef, then the best
//                    R x ef of it re-scored with the SQ8 codes (the similarities returned)
//
// The 1-bit codes (RaBitQ-style, without the random rotation): c is the mean of the rows; a row
// x is stored as the signs of x - c (dim / 8 bytes) and one float, s = ||x - c||^2 / |x - c|_1,
// and <x, q> is estimated as <c, q> + s * (2 * sum_{i: bit i set} q_i - sum_i q_i), which is
// <c, q> + ||x - c|| * <o_bar, q> / <o_bar, o> with o = (x - c) / ||x - c|| and o_bar its sign
// vector. The masked sum runs on the fp32 query with AVX-512 masked adds. Rows are 200 bytes
// at 1536-d (192 of bits, the float, 4 of padding), about 4 cache lines instead of 24.
//
// Counters per line: p50 (wall) and CPU p50 per query over 5 passes of the queries, recall@10
// against an exact fp32 scan of the rows, and rows scored per query (1-bit rows in the walk;
// the re-scored rows are not counted).
//
// Run: vecmirror_walk_bench [--n=100000] [--dim=1536] [--queries=200] [--ef=32,64,...]
//        [--pages=4k|huge] [--graph-cache=FILE] [--variants=engine,walk,...]
//        [--sweep=MxEFC,...]
// --sweep=32x80,16x128,... builds one graph per M x ef_construction and times only the engine
// on each, the graphs taking turns at each ef (the defaults' curves); --graph-cache=FILE then
// keeps each in FILE-m<M>-efc<EFC>.bin.
// --pages=huge (the default) copies the codes, the 1-bit rows and the neighbour lists into
// buffers backed by huge pages (AdviseHugePages), --pages=4k into buffers left on 4 KiB pages
// (the process has PR_SET_THP_DISABLE). --graph-cache=FILE keeps the graph and its codes in
// FILE after the first build, since a 100k x 1536 SQ8 build takes minutes.
#include <faiss/IndexHNSW.h>
#include <faiss/impl/HNSW.h>
#include <immintrin.h>
#include <sys/prctl.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <queue>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "index/hnsw_search.h"
#include "index/huge_pages.h"
#include "index/index_options.h"
#include "index/kernels.h"
#include "index/sealed_structure.h"
#include "index/sq8_codec.h"
#include "index/sq8_int8_query.h"
#include "index/visited_marks.h"
#include "tests/support/vector_stream.h"

namespace vecmirror {
namespace {

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
double ThreadCpu() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

// ---- the graph and its codes, built or read from the cache file ----

struct Graph {
  faiss::HNSW hnsw;
  std::vector<uint8_t> codes;
  Sq8Ranges ranges;
};

template <typename T>
void PutArray(std::ofstream& f, const std::vector<T>& v) {
  const uint64_t n = v.size();
  f.write(reinterpret_cast<const char*>(&n), 8);
  f.write(reinterpret_cast<const char*>(v.data()), std::streamsize(n * sizeof(T)));
}
template <typename T>
void GetArray(std::ifstream& f, std::vector<T>& v) {
  uint64_t n = 0;
  f.read(reinterpret_cast<char*>(&n), 8);
  if (!f || n > (uint64_t{1} << 34)) return f.setstate(std::ios::failbit);
  v.resize(n);
  f.read(reinterpret_cast<char*>(v.data()), std::streamsize(n * sizeof(T)));
}

void SaveGraph(const Graph& g, const std::string& path) {
  std::ofstream f(path, std::ios::binary);
  PutArray(f, g.hnsw.assign_probas);
  PutArray(f, g.hnsw.cum_nneighbor_per_level);
  PutArray(f, g.hnsw.levels);
  PutArray(f, g.hnsw.offsets);
  PutArray(f, g.hnsw.neighbors);
  const int32_t header[2] = {g.hnsw.entry_point, g.hnsw.max_level};
  f.write(reinterpret_cast<const char*>(header), sizeof(header));
  PutArray(f, g.codes);
  PutArray(f, g.ranges.vmin);
  PutArray(f, g.ranges.vdiff);
}

bool LoadGraph(Graph& g, const std::string& path, size_t n, size_t dim) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  GetArray(f, g.hnsw.assign_probas);
  GetArray(f, g.hnsw.cum_nneighbor_per_level);
  GetArray(f, g.hnsw.levels);
  GetArray(f, g.hnsw.offsets);
  GetArray(f, g.hnsw.neighbors);
  int32_t header[2] = {};
  f.read(reinterpret_cast<char*>(header), sizeof(header));
  g.hnsw.entry_point = header[0];
  g.hnsw.max_level = header[1];
  GetArray(f, g.codes);
  GetArray(f, g.ranges.vmin);
  GetArray(f, g.ranges.vdiff);
  return bool(f) && g.codes.size() == n * dim && g.hnsw.levels.size() == n;
}

// A copy of `src` in a buffer of its own, on huge pages or left on small ones. Never freed.
template <typename T>
const T* PlacedCopy(const T* src, size_t n, bool huge) {
  constexpr size_t kHugePage = size_t{2} << 20;
  const size_t bytes = (n * sizeof(T) + kHugePage - 1) / kHugePage * kHugePage;
  auto* p = static_cast<T*>(std::aligned_alloc(kHugePage, bytes));
  std::memcpy(p, src, n * sizeof(T));
  if (huge) AdviseHugePages(p, bytes);
  return p;
}

// ---- the walk, with its variants ----

struct Scored {
  float similarity;
  uint32_t row;
};
struct BestFirst {
  bool operator()(const Scored& a, const Scored& b) const { return a.similarity < b.similarity; }
};
struct WorstFirst {
  bool operator()(const Scored& a, const Scored& b) const { return a.similarity > b.similarity; }
};

void PrefetchLines(const void* p, size_t bytes, bool to_l2 = false) {
  const char* c = static_cast<const char*>(p);
  if (to_l2) {
    for (size_t off = 0; off < bytes; off += 64) _mm_prefetch(c + off, _MM_HINT_T1);
    return;
  }
  for (size_t off = 0; off < bytes; off += 64) _mm_prefetch(c + off, _MM_HINT_T0);
}

struct WalkShape {
  bool batch = false;         // gather a node's unvisited neighbours, then score them
  size_t next_lines = 0;      // lines of the next row of the batch prefetched while scoring
  size_t all_lines = 0;       // lines of every row of the batch prefetched before scoring
  bool next_list = false;     // prefetch the next candidate's neighbour list
  size_t rows_ahead = 1;      // with next_lines: prefetch row i + rows_ahead while scoring row i
  bool to_l2 = false;         // prefetch rows into L2 (prefetcht1) rather than L1 (prefetcht0)
};

// The rows a row scorer reads: row r's bytes at base + r * stride.
struct RowBytes {
  const uint8_t* base;
  size_t stride;
  void Prefetch(size_t row, size_t lines, bool to_l2 = false) const {
    PrefetchLines(base + row * stride, std::min(lines * 64, stride), to_l2);
  }
};

// The results list (up to list_size rows, best first) of an unfiltered walk; `scored` grows by
// the rows scored.
template <typename Score>
std::vector<Scored> Walk(const faiss::HNSW& graph, const int32_t* neighbors, size_t list_size,
                         const Score& score, const RowBytes& bytes, const WalkShape& shape,
                         size_t* scored) {
  thread_local std::vector<uint32_t> batch;
  thread_local std::vector<float> batch_similarity;
  auto score_batch = [&](size_t count) {
    *scored += count;
    for (size_t i = 0; shape.all_lines > 0 && i < count; ++i) {
      bytes.Prefetch(batch[i], shape.all_lines, shape.to_l2);
    }
    for (size_t i = 0; shape.next_lines > 0 && i < std::min(count, shape.rows_ahead); ++i) {
      bytes.Prefetch(batch[i], shape.next_lines, shape.to_l2);
    }
    for (size_t i = 0; i < count; ++i) {
      if (shape.next_lines > 0 && i + shape.rows_ahead < count) {
        bytes.Prefetch(batch[i + shape.rows_ahead], shape.next_lines, shape.to_l2);
      }
      batch_similarity[i] = score(batch[i]);
    }
  };
  auto gather = [&](uint32_t row, int level, bool skip_visited, auto& visited) {
    size_t begin, end;
    graph.neighbor_range(row, level, &begin, &end);
    if (batch.size() < end - begin) {
      batch.resize(end - begin);
      batch_similarity.resize(end - begin);
    }
    size_t count = 0;
    for (size_t j = begin; j < end && neighbors[j] >= 0; ++j) {
      if (skip_visited && visited.TestAndSet(size_t(neighbors[j]))) continue;
      batch[count++] = uint32_t(neighbors[j]);
    }
    return count;
  };

  thread_local VisitedMarks visited;
  auto entry = uint32_t(graph.entry_point);
  float entry_similarity = score(entry);
  ++*scored;
  for (int level = graph.max_level; level >= 1; --level) {
    for (bool improved = true; improved;) {
      improved = false;
      const size_t count = gather(entry, level, false, visited);
      score_batch(count);
      for (size_t i = 0; i < count; ++i) {
        if (batch_similarity[i] > entry_similarity) {
          entry_similarity = batch_similarity[i];
          entry = batch[i];
          improved = true;
        }
      }
    }
  }

  visited.Begin(graph.levels.size());
  std::priority_queue<Scored, std::vector<Scored>, BestFirst> candidates;
  std::priority_queue<Scored, std::vector<Scored>, WorstFirst> results;
  visited.TestAndSet(entry);
  candidates.push({entry_similarity, entry});
  results.push({entry_similarity, entry});
  auto offer = [&](float s, uint32_t row) {
    if (results.size() < list_size || s > results.top().similarity) {
      candidates.push({s, row});
      results.push({s, row});
      if (results.size() > list_size) results.pop();
    }
  };
  while (!candidates.empty()) {
    const Scored current = candidates.top();
    if (results.size() >= list_size && current.similarity < results.top().similarity) break;
    candidates.pop();
    if (shape.next_list && !candidates.empty()) {
      size_t begin, end;
      graph.neighbor_range(candidates.top().row, 0, &begin, &end);
      PrefetchLines(neighbors + begin, (end - begin) * sizeof(int32_t));
    }
    if (shape.batch) {
      const size_t count = gather(current.row, 0, true, visited);
      score_batch(count);
      for (size_t i = 0; i < count; ++i) offer(batch_similarity[i], batch[i]);
      continue;
    }
    size_t begin, end;
    graph.neighbor_range(current.row, 0, &begin, &end);
    for (size_t j = begin; j < end && neighbors[j] >= 0; ++j) {
      if (visited.TestAndSet(size_t(neighbors[j]))) continue;
      ++*scored;
      offer(score(size_t(neighbors[j])), uint32_t(neighbors[j]));
    }
  }
  std::vector<Scored> out(results.size());
  for (size_t i = out.size(); i-- > 0; results.pop()) out[i] = results.top();
  return out;
}

// The rows of the best 10 (or fewer) of `scored`, best first: a re-ranked list's answer.
std::vector<uint32_t> BestTenRows(std::vector<Scored> scored) {
  const size_t k = std::min<size_t>(10, scored.size());
  std::partial_sort(scored.begin(), scored.begin() + k, scored.end(),
                    [](const Scored& a, const Scored& b) { return a.similarity > b.similarity; });
  std::vector<uint32_t> out;
  for (size_t i = 0; i < k; ++i) out.push_back(scored[i].row);
  return out;
}

// ---- 1-bit codes ----

struct SignCodes {
  size_t dim = 0;
  size_t stride = 0;
  std::vector<float> center;
  std::vector<uint8_t> rows;  // row r at rows + r * stride: dim / 8 bytes of signs, then s
};

SignCodes EncodeSigns(const float* x, size_t n, size_t dim) {
  SignCodes codes;
  codes.dim = dim;
  codes.stride = (dim / 8 + sizeof(float) + 7) / 8 * 8;
  std::vector<double> sum(dim, 0);
  for (size_t r = 0; r < n; ++r) {
    for (size_t i = 0; i < dim; ++i) sum[i] += x[r * dim + i];
  }
  codes.center.resize(dim);
  for (size_t i = 0; i < dim; ++i) codes.center[i] = float(sum[i] / double(n));
  codes.rows.assign(n * codes.stride, 0);
  for (size_t r = 0; r < n; ++r) {
    uint8_t* out = codes.rows.data() + r * codes.stride;
    double squares = 0, absolutes = 0;
    for (size_t i = 0; i < dim; ++i) {
      const double d = double(x[r * dim + i]) - codes.center[i];
      squares += d * d;
      absolutes += std::fabs(d);
      if (d > 0) out[i / 8] |= uint8_t(1u << (i % 8));
    }
    const float s = absolutes > 0 ? float(squares / absolutes) : 0.0f;
    std::memcpy(out + dim / 8, &s, sizeof(s));
  }
  return codes;
}

// sum of q_i over the set bits; dim a multiple of 64.
__attribute__((target("avx512f"))) float MaskedSum(const float* q, const uint8_t* bits,
                                                   size_t dim) {
  __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
  __m512 a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
  for (size_t i = 0; i < dim; i += 64) {
    uint64_t w;
    std::memcpy(&w, bits + i / 8, sizeof(w));
    a0 = _mm512_mask_add_ps(a0, __mmask16(w), a0, _mm512_loadu_ps(q + i));
    a1 = _mm512_mask_add_ps(a1, __mmask16(w >> 16), a1, _mm512_loadu_ps(q + i + 16));
    a2 = _mm512_mask_add_ps(a2, __mmask16(w >> 32), a2, _mm512_loadu_ps(q + i + 32));
    a3 = _mm512_mask_add_ps(a3, __mmask16(w >> 48), a3, _mm512_loadu_ps(q + i + 48));
  }
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, _mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
  float s = 0;
  for (float l : lanes) s += l;
  return s;
}

// ---- the run ----

struct Config {
  size_t n = 100000;
  size_t dim = 1536;
  size_t queries = 200;
  std::vector<int> efs = {32, 48, 64, 96, 128, 192, 256};
  bool huge = true;
  std::string graph_cache;
  std::vector<std::string> variants;  // empty: all of them
  std::vector<std::pair<int, int>> sweep;  // (M, ef_construction) of each graph of a sweep
};

double Quantile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, size_t(p * double(v.size())))];
}

class AllowAll final : public RowFilter {
 public:
  bool Allows(size_t) const override { return true; }
};

double ProcessCpu() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

// --sweep: one SQ8 graph per (M, ef_construction), all built (or read from
// FILE-m<M>-efc<efc>.bin) in this process, then the engine's walk timed on each at each ef,
// the graphs taking turns at every ef so that a change of load hits them alike.
int RunSweep(const Config& config, const std::vector<float>& queries,
             const std::vector<std::vector<uint32_t>>& truth, const std::vector<float>& rows) {
  const size_t n = config.n, dim = config.dim, nq = config.queries;
  std::vector<Graph> graphs(config.sweep.size());
  for (size_t i = 0; i < graphs.size(); ++i) {
    const auto [m, efc] = config.sweep[i];
    Graph& g = graphs[i];
    const std::string cache = config.graph_cache.empty()
                                  ? std::string()
                                  : config.graph_cache + "-m" + std::to_string(m) + "-efc" +
                                        std::to_string(efc) + ".bin";
    if (cache.empty() || !LoadGraph(g, cache, n, dim)) {
      const double wall = Now(), cpu = ProcessCpu();
      IndexOptions options;
      options.storage = VectorStorage::kSq8;
      options.hnsw_m = m;
      options.hnsw_ef_construction = efc;
      std::vector<uint32_t> unused;
      const auto sealed = BuildSealed(IndexKind::kHnsw, rows, n, dim, options, nullptr, &unused);
      g.hnsw = sealed->hnsw->hnsw;
      g.codes.assign(sealed->codes, sealed->codes + n * dim);
      g.ranges = *sealed->sq8_ranges;
      std::printf("build M %d ef_construction %d: %.1f s wall, %.1f s CPU\n", m, efc,
                  Now() - wall, ProcessCpu() - cpu);
      std::fflush(stdout);
      if (!cache.empty()) SaveGraph(g, cache);
    }
    if (config.huge) {
      AdviseHugePages(g.codes.data(), g.codes.size());
      AdviseHugePages(g.hnsw.neighbors.data(), g.hnsw.neighbors.size() * sizeof(int32_t));
    }
  }
  const AllowAll all;
  for (int ef : config.efs) {
    for (size_t i = 0; i < graphs.size(); ++i) {
      std::vector<double> wall, cpu;
      double recall = 0;
      const uint64_t before = HnswRowsScoredByThisThread();
      constexpr size_t kPasses = 5;
      for (size_t pass = 0; pass < kPasses; ++pass) {
        for (size_t q = 0; q < nq; ++q) {
          const double cpu_start = ThreadCpu();
          const double wall_start = Now();
          const auto hits = SearchHnswGraph(graphs[i].hnsw, graphs[i].codes.data(),
                                            graphs[i].ranges, dim, queries.data() + q * dim,
                                            10, ef, all);
          wall.push_back((Now() - wall_start) * 1e6);
          cpu.push_back((ThreadCpu() - cpu_start) * 1e6);
          if (pass > 0) continue;
          size_t hit = 0;
          for (uint32_t r : truth[q]) {
            for (const GraphHit& h : hits) hit += h.row == r;
          }
          recall += double(hit) / 10.0;
        }
      }
      const double rows_scored =
          double(HnswRowsScoredByThisThread() - before) / double(kPasses * nq);
      std::printf("M %2d efc %3d  ef %4d  p50 %7.1f us  cpu p50 %7.1f us  recall@10 %.4f  "
                  "rows %6.0f\n",
                  config.sweep[i].first, config.sweep[i].second, ef, Quantile(wall, 0.5),
                  Quantile(cpu, 0.5), recall / double(nq), rows_scored);
      std::fflush(stdout);
    }
  }
  return 0;
}

int Run(const Config& config) {
  const size_t n = config.n, dim = config.dim, nq = config.queries;
  if (dim % 64 != 0 || !__builtin_cpu_supports("avx512f")) {
    std::fprintf(stderr, "needs AVX-512 and a dimension that is a multiple of 64\n");
    return 1;
  }
  if (!config.huge) prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0);
  double start = Now();
  testing::VectorStream stream(dim, 50, 42);  // the data of vecmirror_index_bench
  const std::vector<float> queries = stream.Generate(nq);
  std::vector<float> rows = stream.Generate(n);
  std::fprintf(stderr, "data %zu x %zu: %.1f s, kernels %s\n", n, dim, Now() - start,
               KernelVariantName());

  start = Now();
  std::vector<std::vector<uint32_t>> truth(nq);
  std::vector<float> column(n);
  std::vector<uint32_t> order(n);
  for (size_t q = 0; q < nq; ++q) {
    DotProductMany(queries.data() + q * dim, rows.data(), n, dim, column.data());
    for (size_t i = 0; i < n; ++i) order[i] = uint32_t(i);
    std::partial_sort(order.begin(), order.begin() + 10, order.end(),
                      [&](uint32_t a, uint32_t b) { return column[a] > column[b]; });
    truth[q].assign(order.begin(), order.begin() + 10);
  }
  std::fprintf(stderr, "truth: %.1f s\n", Now() - start);

  if (!config.sweep.empty()) return RunSweep(config, queries, truth, rows);

  Graph g;
  if (config.graph_cache.empty() || !LoadGraph(g, config.graph_cache, n, dim)) {
    start = Now();
    IndexOptions options;
    options.storage = VectorStorage::kSq8;
    std::vector<uint32_t> unused;
    const auto sealed = BuildSealed(IndexKind::kHnsw, rows, n, dim, options, nullptr, &unused);
    g.hnsw = sealed->hnsw->hnsw;
    g.codes.assign(sealed->codes, sealed->codes + n * dim);
    g.ranges = *sealed->sq8_ranges;
    if (!config.graph_cache.empty()) SaveGraph(g, config.graph_cache);
    std::fprintf(stderr, "SQ8 HNSW build: %.1f s\n", Now() - start);
  }
  rows.clear();
  rows.shrink_to_fit();
  // The 1-bit codes come from the decoded SQ8 rows, the only copy an SQ8 index keeps.
  SignCodes signs;
  {
    std::vector<float> decoded(n * dim);
    DecodeSq8(g.ranges, g.codes.data(), n, dim, decoded.data());
    signs = EncodeSigns(decoded.data(), n, dim);
  }
  const uint8_t* codes = PlacedCopy(g.codes.data(), g.codes.size(), config.huge);
  const uint8_t* sign_rows = PlacedCopy(signs.rows.data(), signs.rows.size(), config.huge);
  const int32_t* neighbors =
      PlacedCopy(g.hnsw.neighbors.data(), g.hnsw.neighbors.size(), config.huge);
  // The engine's walk reads the graph's own arrays: back them the same way.
  if (config.huge) {
    const bool codes_huge = AdviseHugePages(g.codes.data(), g.codes.size());
    const bool lists_huge =
        AdviseHugePages(g.hnsw.neighbors.data(), g.hnsw.neighbors.size() * sizeof(int32_t));
    std::printf("graph's own arrays collapsed to huge pages: codes %d, lists %d; codes at %zu "
                "bytes past a line\n",
                int(codes_huge), int(lists_huge), size_t(uintptr_t(g.codes.data()) % 64));
  }
  std::printf("pages: %s\n", config.huge ? "huge" : "4k");

  // The row kernels alone, ns per row: on 64 rows that stay in L2 (the arithmetic), and on rows
  // drawn at random from the whole index (the arithmetic and the memory), without the walk.
  {
    Sq8Int8Query probe;
    probe.Prepare(g.ranges, queries.data(), dim);
    std::mt19937 rng(7);
    std::vector<uint32_t> random_rows(200000);
    for (uint32_t& r : random_rows) r = uint32_t(rng() % n);
    auto time_rows = [&](const char* name, auto score) {
      float sink = 0;
      double t0 = ThreadCpu();
      for (size_t rep = 0; rep < 3000; ++rep) {
        for (size_t r = 0; r < 64; ++r) sink += score(codes + r * dim);
      }
      const double hot = (ThreadCpu() - t0) * 1e9 / (3000.0 * 64);
      t0 = ThreadCpu();
      for (uint32_t r : random_rows) sink += score(codes + size_t(r) * dim);
      const double cold = (ThreadCpu() - t0) * 1e9 / double(random_rows.size());
      std::printf("kernel %-10s ns/row: %6.1f on 64 rows in cache, %6.1f on random rows (%g)\n",
                  name, hot, cold, double(sink) * 0);
    };
    double t0 = ThreadCpu();
    Sq8Query float_only;
    for (size_t i = 0; i < 1000; ++i) float_only.Prepare(g.ranges, queries.data(), dim);
    const double float_prepare = (ThreadCpu() - t0) * 1e3;
    t0 = ThreadCpu();
    for (size_t i = 0; i < 1000; ++i) probe.Prepare(g.ranges, queries.data(), dim);
    std::printf("prepare a query, us: Sq8Query %.2f, Sq8Int8Query %.2f\n", float_prepare,
                (ThreadCpu() - t0) * 1e3);
    time_rows("float x u8", [&](const uint8_t* c) { return probe.Score(c); });
    time_rows("u8 x int8", [&](const uint8_t* c) { return probe.Estimate(c); });
    time_rows("float x u8", [&](const uint8_t* c) { return probe.Score(c); });
    time_rows("u8 x int8", [&](const uint8_t* c) { return probe.Estimate(c); });
  }

  const AllowAll all;
  Sq8Query prepared;
  size_t scored = 0;
  using Search = std::function<std::vector<uint32_t>(const float*, int)>;
  auto run = [&](const std::string& name, int ef, const Search& search) {
    if (!config.variants.empty() &&
        std::find(config.variants.begin(), config.variants.end(), name) == config.variants.end()) {
      return;
    }
    std::vector<double> wall, cpu;
    double recall = 0;
    scored = 0;
    const uint64_t engine_before = HnswRowsScoredByThisThread();
    constexpr size_t kPasses = 5;
    for (size_t pass = 0; pass < kPasses; ++pass) {
      for (size_t q = 0; q < nq; ++q) {
        const double cpu_start = ThreadCpu();
        const double wall_start = Now();
        const std::vector<uint32_t> found = search(queries.data() + q * dim, ef);
        wall.push_back((Now() - wall_start) * 1e6);
        cpu.push_back((ThreadCpu() - cpu_start) * 1e6);
        if (pass > 0) continue;
        size_t hit = 0;
        for (uint32_t r : truth[q]) hit += std::find(found.begin(), found.end(), r) != found.end();
        recall += double(hit) / 10.0;
      }
    }
    scored += HnswRowsScoredByThisThread() - engine_before;
    std::printf("%-22s ef %4d  p50 %7.1f us  cpu p50 %7.1f us  recall@10 %.4f  rows %6.0f\n",
                name.c_str(), ef, Quantile(wall, 0.5), Quantile(cpu, 0.5), recall / double(nq),
                double(scored) / double(kPasses * nq));
    std::fflush(stdout);
  };

  const Search engine = [&](const float* q, int ef) {
    std::vector<uint32_t> out;
    for (const GraphHit& h :
         SearchHnswGraph(g.hnsw, g.codes.data(), g.ranges, dim, q, 10, ef, all)) {
      out.push_back(h.row);
    }
    return out;
  };
  // The engine's walk over the bench's copy of the codes (2 MiB-aligned, on huge pages from
  // the start) instead of the graph's own vector: what the placement of the codes costs.
  const Search engine_placed = [&](const float* q, int ef) {
    std::vector<uint32_t> out;
    for (const GraphHit& h : SearchHnswGraph(g.hnsw, codes, g.ranges, dim, q, 10, ef, all)) {
      out.push_back(h.row);
    }
    return out;
  };
  auto sq8_walk = [&](WalkShape shape) -> Search {
    return [&, shape](const float* q, int ef) {
      prepared.Prepare(g.ranges, q, dim);
      auto score = [&](size_t r) { return prepared.Score(codes + r * dim); };
      const auto results = Walk(g.hnsw, neighbors, size_t(std::max(ef, 10)), score,
                                RowBytes{codes, dim}, shape, &scored);
      std::vector<uint32_t> out;
      for (size_t i = 0; i < std::min<size_t>(10, results.size()); ++i) {
        out.push_back(results[i].row);
      }
      return out;
    };
  };
  // The walk on int8 estimates (Sq8Int8Query), then its result list (rerank: all of it, or
  // only the best 10) scored again exactly, as a search returns.
  Sq8Int8Query int8_query;
  auto int8_walk = [&](bool rerank_all, WalkShape shape = {}) -> Search {
    return [&, rerank_all, shape](const float* q, int ef) {
      int8_query.Prepare(g.ranges, q, dim);
      auto score = [&](size_t r) { return int8_query.Estimate(codes + r * dim); };
      const auto estimates = Walk(g.hnsw, neighbors, size_t(std::max(ef, 10)), score,
                                  RowBytes{codes, dim}, shape, &scored);
      const size_t m = rerank_all ? estimates.size() : std::min<size_t>(10, estimates.size());
      std::vector<Scored> exact(m);
      for (size_t i = 0; i < m; ++i) {
        exact[i] = {int8_query.Score(codes + size_t(estimates[i].row) * dim), estimates[i].row};
      }
      return BestTenRows(std::move(exact));
    };
  };
  auto bits_walk = [&](double list_factor, double rerank_factor) -> Search {
    return [&, list_factor, rerank_factor](const float* q, int ef) {
      prepared.Prepare(g.ranges, q, dim);
      const float center_q = DotProduct(signs.center.data(), q, dim);
      float sum_q = 0;
      for (size_t i = 0; i < dim; ++i) sum_q += q[i];
      auto score = [&](size_t r) {
        const uint8_t* row = sign_rows + r * signs.stride;
        float s;
        std::memcpy(&s, row + dim / 8, sizeof(s));
        return center_q + s * (2 * MaskedSum(q, row, dim) - sum_q);
      };
      WalkShape shape;
      shape.batch = true;
      shape.next_lines = 4;
      const auto estimates =
          Walk(g.hnsw, neighbors, size_t(double(std::max(ef, 10)) * list_factor), score,
               RowBytes{sign_rows, signs.stride}, shape, &scored);
      // The best estimates re-scored with the SQ8 codes: the similarities a search returns.
      const size_t m = std::min(estimates.size(), std::max<size_t>(10, size_t(rerank_factor * ef)));
      std::vector<Scored> exact(m);
      for (size_t i = 0; i < m; ++i) {
        if (i + 1 < m) PrefetchLines(codes + size_t(estimates[i + 1].row) * dim, dim);
        exact[i] = {prepared.Score(codes + size_t(estimates[i].row) * dim), estimates[i].row};
      }
      return BestTenRows(std::move(exact));
    };
  };

  for (int ef : config.efs) {
    run("engine", ef, engine);
    run("engine placed", ef, engine_placed);
    run("walk", ef, sq8_walk({}));
    run("int8", ef, int8_walk(true));
    run("int8 rr 10", ef, int8_walk(false));
    run("int8 batch", ef, int8_walk(true, {.batch = true}));
    run("int8 batch+next", ef, int8_walk(true, {.batch = true, .next_lines = 24}));
    run("int8 batch+2ahead", ef,
        int8_walk(true, {.batch = true, .next_lines = 24, .rows_ahead = 2}));
    run("int8 batch+4ahead", ef,
        int8_walk(true, {.batch = true, .next_lines = 24, .rows_ahead = 4}));
    run("int8 batch+8ahead", ef,
        int8_walk(true, {.batch = true, .next_lines = 24, .rows_ahead = 8}));
    run("int8 L2 2ahead", ef,
        int8_walk(true, {.batch = true, .next_lines = 24, .rows_ahead = 2, .to_l2 = true}));
    run("int8 L2 4ahead", ef,
        int8_walk(true, {.batch = true, .next_lines = 24, .rows_ahead = 4, .to_l2 = true}));
    run("int8 L2 8ahead", ef,
        int8_walk(true, {.batch = true, .next_lines = 24, .rows_ahead = 8, .to_l2 = true}));
    run("int8 L2 all", ef,
        int8_walk(true, {.batch = true, .all_lines = 24, .to_l2 = true}));
    run("int8 L2 all+lists", ef,
        int8_walk(true, {.batch = true, .all_lines = 24, .next_list = true, .to_l2 = true}));
    run("int8 b+4ahead+lists", ef,
        int8_walk(true, {.batch = true, .next_lines = 24, .next_list = true, .rows_ahead = 4}));
    run("batch", ef, sq8_walk({.batch = true}));
    run("batch+next", ef, sq8_walk({.batch = true, .next_lines = 24}));
    run("batch+all2", ef, sq8_walk({.batch = true, .next_lines = 24, .all_lines = 2}));
    run("batch+lists", ef, sq8_walk({.batch = true, .next_lines = 24, .next_list = true}));
    run("bits x1 rr 1", ef, bits_walk(1, 1));
    run("bits x2 rr 1", ef, bits_walk(2, 1));
    run("bits x2 rr 2", ef, bits_walk(2, 2));
    run("bits x4 rr 2", ef, bits_walk(4, 2));
  }
  return 0;
}

bool ParseArgs(int argc, char** argv, Config* config) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&](const char* prefix, std::string* out) {
      if (arg.rfind(prefix, 0) != 0) return false;
      *out = arg.substr(std::strlen(prefix));
      return true;
    };
    std::string v;
    if (value("--n=", &v)) {
      config->n = std::stoul(v);
    } else if (value("--dim=", &v)) {
      config->dim = std::stoul(v);
    } else if (value("--queries=", &v)) {
      config->queries = std::max<size_t>(1, std::stoul(v));
    } else if (value("--ef=", &v)) {
      config->efs.clear();
      std::stringstream in(v);
      for (std::string item; std::getline(in, item, ',');) config->efs.push_back(std::stoi(item));
    } else if (value("--pages=", &v) && (v == "4k" || v == "huge")) {
      config->huge = v == "huge";
    } else if (value("--sweep=", &v)) {
      std::stringstream in(v);
      for (std::string item; std::getline(in, item, ',');) {
        const size_t x = item.find('x');
        if (x == std::string::npos) return false;
        config->sweep.emplace_back(std::stoi(item.substr(0, x)), std::stoi(item.substr(x + 1)));
      }
    } else if (value("--variants=", &v)) {
      std::stringstream in(v);
      for (std::string item; std::getline(in, item, ',');) config->variants.push_back(item);
    } else if (value("--graph-cache=", &v)) {
      config->graph_cache = v;
    } else {
      std::fprintf(stderr, "unknown argument %s\n", arg.c_str());
      return false;
    }
  }
  return true;
}

}  // namespace
}  // namespace vecmirror

int main(int argc, char** argv) {
  vecmirror::Config config;
  if (!vecmirror::ParseArgs(argc, argv, &config)) return 2;
  return vecmirror::Run(config);
}
