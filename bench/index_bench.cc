// vecmirror_index_bench: search latency and recall@10 of EntityIndex, next to raw in-process
// FAISS or to EntityIndex's own exact scan, on the same data in the same run. The suites
// (--suite=a,b,...; default "issue") are the measurements behind the defaults of IndexOptions
// (bench/RESULTS.md, "Index engine"):
//
//   issue      Per kind (flat, HNSW, IVF): EntityIndex next to raw FAISS (IndexFlatIP,
//              IndexHNSWFlat, IndexIVFFlat with the same parameters), unfiltered and with
//              entity_type filters that allow 5% and 0.1% of the rows.
//                EntityIndex/<kind>/all           unfiltered search at default effort
//                EntityIndex/<kind>/<share>/ann   filtered search through the ANN structure
//                                                 (exact-scan thresholds off), effort raised
//                                                 as the planner does
//                EntityIndex/<kind>/<share>/exact filtered exact scan of the allowed rows
//                Faiss/<kind>/all, Faiss/<kind>/<share>   raw FAISS; filtered ones with an
//                                                 IDSelectorBitmap and the same efSearch /
//                                                 nprobe as EntityIndex's planner
//   filters    exact_max_allowed_rows / _share: HNSW at --n/--dim, for filters allowing 0.1% to
//              50% of the rows, the exact scan of the allowed rows against the filtered ANN
//              search.
//                FilterSweep/<share>/exact   exact scan of the allowed rows
//                FilterSweep/<share>/ann     filtered HNSW, ef raised by the planner (1 / share)
//                FilterSweep/<share>/ann_ef64   filtered HNSW at the unraised ef_search 64
//              counter default_is_exact: 1 where IndexOptions' default thresholds choose the
//              exact scan for this filter at this size
//   ef         hnsw_ef_search: unfiltered HNSW at --n/--dim for ef_search 16 to 512.
//                EfSweep/ef<ef>
//   latency    the recall-latency curve of unfiltered HNSW at --n/--dim: every query timed on
//              its own, 5 passes over the queries, for ef_search 16 to 256.
//                Latency/ef<ef>   counters p50_us, p90_us, p99_us (wall time per query),
//                                 cpu_p50_us (the thread's CPU time), recall@10
//              With --storage=fp32,fp16,sq8 each ef runs on each storage named
//              (IndexOptions::storage), the fp16 and sq8 ones named Latency/fp16/ef<ef> and
//              Latency/sq8/ef<ef>; recall is against the fp32 truth.
//              With --build-storage=fp16 (or sq8) every HNSW graph is built on fp16 rows
//              (SQ8 codes) and then stored as its storage says
//              (IndexOptions::hnsw_build_storage); --build-storage=stored is the default.
//              --ef-construction=N builds them with that ef_construction (default:
//              IndexOptions' own).
//              Counters rows_scored (rows the walk scored per query) and ns_per_row (mean CPU
//              per query / rows_scored), huge_MiB (the process's memory on huge pages).
//              With --pages=compare each storage's curve runs twice on one engine: first
//              Latency/[<storage>/]4k/ef<ef>, the engine built and searched with transparent
//              huge pages off for the process (PR_SET_THP_DISABLE), then .../huge/ef<ef>, the
//              same graph after BackWithHugePages (index/huge_pages.h).
//   promotion  ann_min_rows: flat (exact) against HNSW for 1536-d at 2k to 50k rows, 384-d at
//              2k, 10k and 50k rows and 3072-d at 5k and 10k, each with its own data (--n/--dim
//              don't apply).
//                Promotion/d<dim>/n<rows>/<kind>   counters build_s / build_cpu_s: the Rebuild
//                                                 that builds it (wall / all threads' CPU)
//   absorb     tail_absorb_rows: a tail of 1k, 5k or 20k rows absorbed into the HNSW graph of
//              the other --n rows, by adding it to a copy of the graph or by a full rebuild.
//                Absorb/tail<rows>/add_to_graph | full_rebuild   counters cpu_s, recall@10
//
// Every EntityIndex here is built with its kind forced and the exact-scan thresholds
// (exact_max_allowed_rows / _share) off, so that a row measures the path it names.
//
// Data: clustered, embedding-like unit vectors (tests/support/vector_stream.h); the
// queries are drawn first, so a smaller corpus's rows are a prefix of a larger one's. Entity
// types are scattered through the rows, as in real data (see TypeOfRow). Truth: an exact Eigen
// matrix product, independent of both engines. One query per iteration on one thread (FAISS
// with one OpenMP thread), as a gRPC handler runs it; items_per_second is QPS. The iterations
// of a benchmark walk through the queries, carrying on from one repetition to the next; the
// recall counters cover all the queries, computed once per benchmark.
//
// Size: --n=ROWS (default 100000), --dim=D (default 1536), --queries=Q (default 200), or the
// environment variables VECMIRROR_BENCH_N / _DIM / _QUERIES / _SUITE. Google Benchmark flags
// work as usual, e.g. --benchmark_filter=hnsw. Indexes are built lazily, only for the
// benchmarks that run, and the build times are printed.
#include <benchmark/benchmark.h>
#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIVFFlat.h>
#include <faiss/impl/IDSelector.h>
#include <omp.h>
#include <sys/prctl.h>

#include <Eigen/Dense>
#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "index/entity_index.h"
#include "index/hnsw_search.h"
#include "index/sealed_structure.h"
#include "index/kernels.h"
#include "index/policy.h"
#include "tests/support/test_id.h"
#include "tests/support/vector_stream.h"

namespace vecmirror {
namespace {

constexpr size_t kTopK = 10;

struct Config {
  size_t n = 100000;
  size_t dim = 1536;
  size_t queries = 200;
  std::set<std::string> suites = {"issue"};
  std::set<std::string> storages = {"fp32"};  // of the latency suite
  std::optional<VectorStorage> build_storage;  // --build-storage=: IndexOptions::hnsw_build_storage
  bool compare_pages = false;                  // --pages=compare: each latency curve on 4 KiB pages too
  size_t ef_construction = 0;  // --ef-construction=: IndexOptions::hnsw_ef_construction; 0 = its default
};
Config g_config;

// The filters of the sweep, by the share of rows they allow (per mille of each 1000 rows).
struct Share {
  const char* name;
  size_t per_mille;
};
constexpr Share kShares[] = {{"0.1%", 1},  {"1%", 10},   {"2%", 20},  {"5%", 50},
                             {"10%", 100}, {"20%", 200}, {"50%", 500}};
constexpr size_t kShareCount = sizeof(kShares) / sizeof(kShares[0]);

// Type codes nest: a row of code c (1-based) belongs to share c-1 and every wider one, so the
// filter for kShares[s] allows codes 1..s+1; code 0 rows are outside every filter. Each block of
// 1000 rows has exactly per_mille rows of each share, scattered through the block by the rank
// (i * 761) mod 1000 (761 is coprime to 1000, so this permutes a block): a type's rows are
// spread through the index as entity types are in real data, not in runs that would make an
// exact scan of them artificially sequential.
EntityTypeCode TypeOfRow(size_t i) {
  const size_t rank = (i % 1000) * 761 % 1000;
  for (size_t s = 0; s < kShareCount; ++s) {
    if (rank < kShares[s].per_mille) return EntityTypeCode(s + 1);
  }
  return 0;
}

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

// CPU time of all the process's threads (OpenMP builds included): unlike wall time, it does not
// grow when other programs take the cores.
double ProcessCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

// A filter: which type codes a query allows, and the rows that have them.
struct Filter {
  std::string name;  // "all", "5%", ...
  TypeMask mask;
  std::vector<uint8_t> bitmap;  // FAISS IDSelectorBitmap layout: bit i of byte i / 8
  std::vector<uint32_t> rows;   // the allowed row numbers
};

// codes_up_to = 0: every row.
Filter MakeFilter(const std::string& name, size_t codes_up_to, size_t n) {
  Filter f;
  f.name = name;
  f.mask = codes_up_to == 0 ? TypeMask::All() : TypeMask::None();
  for (size_t c = 1; c <= codes_up_to; ++c) f.mask.Add(EntityTypeCode(c));
  f.bitmap.assign((n + 7) / 8, 0);
  for (size_t i = 0; i < n; ++i) {
    if (!f.mask.Contains(TypeOfRow(i))) continue;
    f.bitmap[i / 8] |= uint8_t(1u << (i % 8));
    f.rows.push_back(uint32_t(i));
  }
  return f;
}

// The data, queries, filters and exact answers of one (rows, dim).
struct Corpus {
  size_t n = 0, dim = 0, nq = 0;
  std::vector<float> rows;     // n x dim
  std::vector<float> queries;  // nq x dim
  std::vector<Uuid> ids;
  std::unordered_map<Uuid, uint32_t, UuidHash> row_of;
  std::vector<Filter> filters;  // filters[0] is "all"
  // truth[filter][query] = the exact top-10 row numbers.
  std::vector<std::vector<std::vector<uint32_t>>> truth;

  const float* Query(size_t q) const { return queries.data() + q * dim; }
  size_t FilterIndex(const std::string& name) const {
    for (size_t f = 0; f < filters.size(); ++f) {
      if (filters[f].name == name) return f;
    }
    std::fprintf(stderr, "no filter %s\n", name.c_str());
    std::abort();
  }
};

// Exact top-10 of every query under every filter: one Eigen GEMM, then a partial sort.
void ComputeTruth(Corpus& c) {
  const auto start = std::chrono::steady_clock::now();
  using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const auto n = Eigen::Index(c.n), d = Eigen::Index(c.dim), nq = Eigen::Index(c.nq);
  Eigen::Map<const RowMajor> base(c.rows.data(), n, d);
  Eigen::Map<const RowMajor> queries(c.queries.data(), nq, d);
  const Eigen::MatrixXf sims = base * queries.transpose();  // n x nq, column-major
  c.truth.assign(c.filters.size(), {});
  std::vector<uint32_t> order;
  for (size_t f = 0; f < c.filters.size(); ++f) {
    for (Eigen::Index q = 0; q < nq; ++q) {
      const float* col = sims.col(q).data();
      order = c.filters[f].rows;
      const size_t keep = std::min(kTopK, order.size());
      std::partial_sort(order.begin(), order.begin() + keep, order.end(),
                        [&](uint32_t a, uint32_t b) {
                          return col[a] != col[b] ? col[a] > col[b] : c.ids[a] < c.ids[b];
                        });
      order.resize(keep);
      c.truth[f].push_back(order);
    }
  }
  std::fprintf(stderr, "truth %zu x %zu: %.1f s\n", c.n, c.dim, Seconds(start));
}

std::unique_ptr<Corpus> MakeCorpus(size_t n, size_t dim, bool with_filters) {
  const auto start = std::chrono::steady_clock::now();
  auto c = std::make_unique<Corpus>();
  c->n = n;
  c->dim = dim;
  c->nq = g_config.queries;
  testing::VectorStream gen(dim, 50, 42);
  c->queries = gen.Generate(c->nq);  // same clusters as the rows, unseen samples
  c->rows = gen.Generate(n);
  for (size_t i = 0; i < n; ++i) {
    c->ids.push_back(testing::TestId(i));
    c->row_of.emplace(c->ids.back(), uint32_t(i));
  }
  c->filters.push_back(MakeFilter("all", 0, n));
  if (with_filters) {
    for (size_t s = 0; s < kShareCount; ++s) {
      c->filters.push_back(MakeFilter(kShares[s].name, s + 1, n));
    }
  }
  std::fprintf(stderr, "data: %zu x %zu, %zu queries, kernels %s: %.1f s\n", n, dim, c->nq,
               KernelVariantName(), Seconds(start));
  ComputeTruth(*c);
  return c;
}

// The corpus of --n/--dim, with every filter.
const Corpus& GetCorpus() {
  static const std::unique_ptr<Corpus> corpus = MakeCorpus(g_config.n, g_config.dim, true);
  return *corpus;
}

// A corpus of the promotion suite, unfiltered.
const Corpus& GetSizedCorpus(size_t n, size_t dim) {
  static std::map<std::pair<size_t, size_t>, std::unique_ptr<Corpus>> corpora;
  auto& slot = corpora[{n, dim}];
  if (!slot) slot = MakeCorpus(n, dim, false);
  return *slot;
}

// Recall@10 of a list of row numbers against the truth of (filter, query).
double RecallOf(const std::vector<uint32_t>& found, const std::vector<uint32_t>& truth) {
  if (truth.empty()) return 1.0;
  size_t hit = 0;
  for (uint32_t t : truth) hit += std::find(found.begin(), found.end(), t) != found.end();
  return double(hit) / double(truth.size());
}

// Where each benchmark's iterations are in the query list, kept across repetitions so that a
// slow benchmark's few iterations per repetition still cover different queries.
size_t& QueryCursor(const std::string& benchmark) {
  static std::map<std::string, size_t> cursors;
  return cursors[benchmark];
}

// Counters that don't change between repetitions (recall), computed on the first.
using Counters = std::map<std::string, double>;
const Counters& OnceFor(const std::string& benchmark, const std::function<Counters()>& compute) {
  static std::map<std::string, Counters> done;
  auto it = done.find(benchmark);
  if (it == done.end()) it = done.emplace(benchmark, compute()).first;
  return it->second;
}

// ---- EntityIndex ----

struct Engine {
  std::unique_ptr<EntityIndex> index;
  // The Rebuild that built the sealed structure from the loaded rows: wall time, and the CPU
  // time of all threads.
  double build_s = 0;
  double build_cpu_s = 0;
};

// Upserts the corpus's rows [begin, end) as the mirror's writes would.
void ApplyRows(const Corpus& c, size_t begin, size_t end, EntityIndex& index) {
  for (; begin < end; begin += 10000) {
    std::vector<IndexWrite> writes;
    for (size_t i = begin; i < std::min(end, begin + 10000); ++i) {
      IndexWrite w;
      w.entity_id = c.ids[i];
      w.type = TypeOfRow(i);
      w.vector.assign(c.rows.begin() + i * c.dim, c.rows.begin() + (i + 1) * c.dim);
      writes.push_back(std::move(w));
    }
    index.Apply(writes, 1);
  }
}

// Loads the corpus's rows and rebuilds into the policy's kind.
Engine BuildEngine(const Corpus& c, const IndexOptions& options) {
  Engine e;
  e.index = std::make_unique<EntityIndex>(IndexKey{Uuid{}, "bench", uint32_t(c.dim)}, options);
  ApplyRows(c, 0, c.n, *e.index);
  const auto start = std::chrono::steady_clock::now();
  const double cpu_start = ProcessCpuSeconds();
  const Status s = e.index->Rebuild();
  e.build_s = Seconds(start);
  e.build_cpu_s = ProcessCpuSeconds() - cpu_start;
  if (!s.ok()) std::fprintf(stderr, "rebuild failed: %s\n", s.ToString().c_str());
  const IndexStats stats = e.index->Stats();
  std::fprintf(stderr, "EntityIndex %s %zu x %zu build: %.1f s (%.1f s CPU), %.0f MiB\n",
               IndexKindName(stats.kind), c.n, c.dim, e.build_s, e.build_cpu_s,
               double(stats.memory_bytes) / (1 << 20));
  return e;
}

IndexOptions EngineOptions(IndexKind kind) {
  IndexOptions options;
  options.forced_kind = kind;
  // Off, so the filtered "ann" rows measure the ANN path; the "exact" rows ask for exact
  // explicitly, which is what the default thresholds choose for selective filters.
  options.exact_max_allowed_rows = 0;
  options.exact_max_allowed_share = 0;
  return options;
}

// The engines over the corpus of --n/--dim.
const EntityIndex& GetEngine(IndexKind kind, VectorStorage storage = VectorStorage::kFp32) {
  static std::map<std::pair<IndexKind, VectorStorage>, Engine> engines;
  auto it = engines.find({kind, storage});
  if (it == engines.end()) {
    IndexOptions options = EngineOptions(kind);
    options.storage = storage;
    options.hnsw_build_storage = g_config.build_storage;
    if (g_config.ef_construction > 0) options.hnsw_ef_construction = int(g_config.ef_construction);
    it = engines.emplace(std::make_pair(kind, storage), BuildEngine(GetCorpus(), options)).first;
  }
  return *it->second.index;
}

// The engines of the promotion suite, built like GetEngine's.
const Engine& GetSizedEngine(size_t n, size_t dim, IndexKind kind) {
  static std::map<std::tuple<size_t, size_t, IndexKind>, Engine> engines;
  auto it = engines.find({n, dim, kind});
  if (it == engines.end()) {
    // Thresholds off as well: by default an index of at most exact_max_allowed_rows rows is
    // scanned exactly whatever its kind, and this suite measures the kind.
    it = engines.emplace(std::make_tuple(n, dim, kind),
                         BuildEngine(GetSizedCorpus(n, dim), EngineOptions(kind))).first;
  }
  return it->second;
}

SearchQuery QueryOf(const Corpus& c, size_t q, size_t filter, SearchEffort effort) {
  SearchQuery query;
  query.vector = std::span<const float>(c.Query(q), c.dim);
  query.types = c.filters[filter].mask;
  query.limit = kTopK;
  query.effort = effort;
  return query;
}

// recall@10 over all the corpus's queries, and exact_share: how many answers were exact scans
// (asked for, or ANN fallbacks).
Counters MeasureRecall(const Corpus& c, const EntityIndex& index, size_t filter,
                       SearchEffort effort) {
  double recall = 0, exact_share = 0;
  for (size_t i = 0; i < c.nq; ++i) {
    const SearchResult r = index.Search(QueryOf(c, i, filter, effort));
    std::vector<uint32_t> rows;
    for (const Hit& h : r.hits) rows.push_back(c.row_of.at(h.entity_id));
    recall += RecallOf(rows, c.truth[filter][i]);
    exact_share += r.exact;
  }
  return Counters{{"recall@10", recall / double(c.nq)}, {"exact_share", exact_share / double(c.nq)}};
}

// Times index.Search over the corpus's queries under `filter`, then sets recall@10 and
// exact_share.
void RunEngine(benchmark::State& state, const std::string& name, const Corpus& c,
               const EntityIndex& index, size_t filter, SearchEffort effort) {
  auto query_of = [&](size_t q) { return QueryOf(c, q, filter, effort); };
  size_t& q = QueryCursor(name);
  for (auto _ : state) {
    SearchResult r = index.Search(query_of(q));
    benchmark::DoNotOptimize(r.hits.data());
    q = (q + 1) % c.nq;
  }
  state.SetItemsProcessed(int64_t(state.iterations()));

  const Counters& counters = OnceFor(name, [&] { return MeasureRecall(c, index, filter, effort); });
  for (const auto& [key, value] : counters) state.counters[key] = value;
}

// The plan for an HNSW filter of `allowed` rows out of `n` under `options`.
SearchPlan PlanFor(size_t n, size_t allowed, const IndexOptions& options) {
  SearchPlanInput in;
  in.kind = IndexKind::kHnsw;
  in.sealed_rows = in.live = n;
  in.allowed = allowed;
  in.limit = kTopK;
  return PlanSearch(in, options);
}

// ---- raw FAISS ----

struct RawFaiss {
  std::unique_ptr<faiss::IndexFlatIP> quantizer;
  std::unique_ptr<faiss::Index> index;
  size_t nlist = 0, nprobe = 0;
};

RawFaiss& GetFaiss(IndexKind kind) {
  static std::map<IndexKind, RawFaiss> raw;
  RawFaiss& r = raw[kind];
  if (r.index) return r;
  const Corpus& c = GetCorpus();
  const auto start = std::chrono::steady_clock::now();
  const IndexOptions defaults;
  const auto d = faiss::Index::idx_t(c.dim);
  const auto n = faiss::Index::idx_t(c.n);
  switch (kind) {
    case IndexKind::kFlat:
      r.index = std::make_unique<faiss::IndexFlatIP>(d);
      break;
    case IndexKind::kHnsw: {
      auto hnsw =
          std::make_unique<faiss::IndexHNSWFlat>(d, defaults.hnsw_m, faiss::METRIC_INNER_PRODUCT);
      hnsw->hnsw.efConstruction = defaults.hnsw_ef_construction;
      hnsw->hnsw.efSearch = defaults.hnsw_ef_search;
      r.index = std::move(hnsw);
      break;
    }
    case IndexKind::kIvf: {
      r.nlist = IvfListCount(c.n, defaults);
      r.nprobe = IvfDefaultProbes(r.nlist, defaults);
      r.quantizer = std::make_unique<faiss::IndexFlatIP>(d);
      auto ivf = std::make_unique<faiss::IndexIVFFlat>(r.quantizer.get(), d, r.nlist,
                                                       faiss::METRIC_INNER_PRODUCT);
      // The same training as EntityIndex (entity_index.cc, BuildSealed).
      ivf->cp.spherical = true;
      ivf->cp.niter = 10;
      ivf->cp.max_points_per_centroid = 64;
      ivf->cp.min_points_per_centroid = 1;
      ivf->nprobe = r.nprobe;
      ivf->train(n, c.rows.data());
      r.index = std::move(ivf);
      break;
    }
  }
  r.index->add(n, c.rows.data());
  std::fprintf(stderr, "FAISS %s build: %.1f s\n", IndexKindName(kind), Seconds(start));
  return r;
}

// The effort EntityIndex's planner picks for this filter at default settings.
SearchPlan PlannedEffort(const RawFaiss& r, size_t allowed) {
  SearchPlanInput in;
  in.kind = IndexKind::kHnsw;
  in.sealed_rows = in.live = g_config.n;
  in.allowed = allowed;
  in.limit = kTopK;
  in.ivf_nlist = r.nlist;
  in.ivf_default_nprobe = r.nprobe;
  return PlanSearch(in, EngineOptions(IndexKind::kHnsw));
}

void BM_Faiss(benchmark::State& state, const std::string& name, IndexKind kind, size_t filter) {
  const Corpus& c = GetCorpus();
  RawFaiss& r = GetFaiss(kind);
  const Filter& f = c.filters[filter];
  const SearchPlan plan = PlannedEffort(r, f.rows.size());
  faiss::IDSelectorBitmap selector(f.bitmap.size(), f.bitmap.data());
  faiss::IDSelector* sel = f.name == "all" ? nullptr : &selector;

  faiss::SearchParameters flat_params;
  faiss::SearchParametersHNSW hnsw_params;
  faiss::SearchParametersIVF ivf_params;
  faiss::SearchParameters* params = &flat_params;
  flat_params.sel = sel;
  int saved_ef = 0;
  if (kind == IndexKind::kHnsw) {
    // FAISS 1.7.3 sizes its candidate heap with the index's efSearch and ignores a larger
    // per-call value, so set both (safe here: one benchmark thread).
    auto& hnsw = static_cast<faiss::IndexHNSW&>(*r.index).hnsw;
    saved_ef = hnsw.efSearch;
    hnsw.efSearch = plan.ef_search;
    hnsw_params.efSearch = plan.ef_search;
    hnsw_params.sel = sel;
    params = &hnsw_params;
  } else if (kind == IndexKind::kIvf) {
    ivf_params.nprobe = plan.nprobe;
    ivf_params.sel = sel;
    params = &ivf_params;
  }

  const int saved_threads = omp_get_max_threads();
  omp_set_num_threads(1);
  std::vector<float> distances(kTopK);
  std::vector<faiss::Index::idx_t> labels(kTopK);
  size_t& q = QueryCursor(name);
  for (auto _ : state) {
    r.index->search(1, c.Query(q), kTopK, distances.data(), labels.data(), params);
    benchmark::DoNotOptimize(labels.data());
    q = (q + 1) % c.nq;
  }
  state.SetItemsProcessed(int64_t(state.iterations()));

  const Counters& counters = OnceFor(name, [&] {
    double recall = 0;
    for (size_t i = 0; i < c.nq; ++i) {
      r.index->search(1, c.Query(i), kTopK, distances.data(), labels.data(), params);
      std::vector<uint32_t> rows;
      for (faiss::Index::idx_t l : labels) {
        if (l >= 0) rows.push_back(uint32_t(l));
      }
      recall += RecallOf(rows, c.truth[filter][i]);
    }
    return Counters{{"recall@10", recall / double(c.nq)}};
  });
  omp_set_num_threads(saved_threads);
  if (kind == IndexKind::kHnsw) static_cast<faiss::IndexHNSW&>(*r.index).hnsw.efSearch = saved_ef;
  for (const auto& [key, value] : counters) state.counters[key] = value;
  state.counters["ef_search"] = kind == IndexKind::kHnsw ? plan.ef_search : 0;
  state.counters["nprobe"] = kind == IndexKind::kIvf ? double(plan.nprobe) : 0;
}

// ---- registration ----

void Register(const std::string& name, std::function<void(benchmark::State&, const std::string&)> fn) {
  benchmark::RegisterBenchmark(name.c_str(), [name, fn](benchmark::State& s) { fn(s, name); })
      ->Unit(benchmark::kMicrosecond);
}

SearchEffort ExactEffort() {
  SearchEffort e;
  e.exact = true;
  return e;
}

SearchEffort EfEffort(int ef) {
  SearchEffort e;
  e.ef_search = ef;
  return e;
}

void RegisterIssue() {
  const IndexKind kinds[] = {IndexKind::kFlat, IndexKind::kHnsw, IndexKind::kIvf};
  auto engine = [](IndexKind kind, std::string filter, SearchEffort effort) {
    return [=](benchmark::State& s, const std::string& name) {
      const Corpus& c = GetCorpus();
      RunEngine(s, name, c, GetEngine(kind), c.FilterIndex(filter), effort);
    };
  };
  auto faiss = [](IndexKind kind, std::string filter) {
    return [=](benchmark::State& s, const std::string& name) {
      BM_Faiss(s, name, kind, GetCorpus().FilterIndex(filter));
    };
  };
  for (IndexKind kind : kinds) {
    const std::string k = IndexKindName(kind);
    Register("EntityIndex/" + k + "/all", engine(kind, "all", {}));
    Register("Faiss/" + k + "/all", faiss(kind, "all"));
  }
  for (const std::string share : {"5%", "0.1%"}) {
    for (IndexKind kind : kinds) {
      const std::string k = IndexKindName(kind);
      if (kind != IndexKind::kFlat) {
        Register("EntityIndex/" + k + "/" + share + "/ann", engine(kind, share, {}));
      }
      Register("EntityIndex/" + k + "/" + share + "/exact", engine(kind, share, ExactEffort()));
      Register("Faiss/" + k + "/" + share, faiss(kind, share));
    }
  }
}

void RegisterFilterSweep() {
  for (const Share& share : kShares) {
    const std::string s = share.name;
    auto run = [s](SearchEffort effort) {
      return [=](benchmark::State& state, const std::string& name) {
        const Corpus& c = GetCorpus();
        const size_t f = c.FilterIndex(s);
        RunEngine(state, name, c, GetEngine(IndexKind::kHnsw), f, effort);
        const size_t allowed = c.filters[f].rows.size();
        state.counters["allowed"] = double(allowed);
        int ef = effort.ef_search;
        if (ef == 0) ef = PlanFor(c.n, allowed, EngineOptions(IndexKind::kHnsw)).ef_search;
        state.counters["ef_search"] = effort.exact ? 0 : ef;
        // What IndexOptions' default thresholds choose for this filter: 1 = the exact scan.
        state.counters["default_is_exact"] = PlanFor(c.n, allowed, IndexOptions{}).exact;
      };
    };
    Register("FilterSweep/" + s + "/exact", run(ExactEffort()));
    Register("FilterSweep/" + s + "/ann", run({}));
    Register("FilterSweep/" + s + "/ann_ef64", run(EfEffort(64)));
  }
}

void RegisterEfSweep() {
  for (int ef : {16, 32, 64, 128, 256, 512}) {
    Register("EfSweep/ef" + std::to_string(ef), [ef](benchmark::State& s, const std::string& name) {
      RunEngine(s, name, GetCorpus(), GetEngine(IndexKind::kHnsw), 0, EfEffort(ef));
    });
  }
}

// The thread's CPU time, in seconds.
double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

// Transparent huge pages for this process's later faults and collapses (PR_SET_THP_DISABLE):
// the 4 KiB-page curves of --pages=compare build and search with them off.
void AllowHugePages(bool allow) { prctl(PR_SET_THP_DISABLE, allow ? 0 : 1, 0, 0, 0); }

// MiB of this process's anonymous memory on huge pages (/proc/self/smaps_rollup), 0 if unknown.
double AnonHugeMiB() {
  std::FILE* f = std::fopen("/proc/self/smaps_rollup", "r");
  if (f == nullptr) return 0;
  char line[256];
  double kib = 0;
  while (std::fgets(line, sizeof(line), f) != nullptr) {
    if (std::sscanf(line, "AnonHugePages: %lf kB", &kib) == 1) break;
  }
  std::fclose(f);
  return kib / 1024;
}

// pages: "" (as the engine builds them: huge pages where the kernel grants them), "4k" (built
// and searched with huge pages off for the process, --pages=compare), or "huge" (the same engine
// as "4k", then backed by huge pages with BackWithHugePages before it is timed).
void RegisterLatencyOf(VectorStorage storage, const std::string& pages) {
  for (int ef : {16, 24, 32, 48, 64, 96, 128, 192, 256}) {
    const std::string name =
        std::string("Latency/") +
        (storage == VectorStorage::kFp32 ? "" : std::string(VectorStorageName(storage)) + "/") +
        (pages.empty() ? "" : pages + "/") + "ef" + std::to_string(ef);
    benchmark::RegisterBenchmark(name.c_str(), [ef, storage, pages](benchmark::State& s) {
      const Corpus& c = GetCorpus();
      if (pages == "4k") AllowHugePages(false);
      if (pages == "huge") AllowHugePages(true);
      const EntityIndex& index = GetEngine(IndexKind::kHnsw, storage);
      if (pages == "huge") {
        static std::set<const EntityIndex*> backed;
        if (backed.insert(&index).second) BackWithHugePages(*index.Capture().sealed);
      }
      constexpr size_t kPasses = 5;
      std::vector<double> wall, cpu;
      const uint64_t scored_before = HnswRowsScoredByThisThread();
      for (auto _ : s) {
        for (size_t pass = 0; pass < kPasses; ++pass) {
          for (size_t q = 0; q < c.nq; ++q) {
            const SearchQuery query = QueryOf(c, q, 0, EfEffort(ef));
            const double cpu_start = ThreadCpuSeconds();
            const auto start = std::chrono::steady_clock::now();
            SearchResult r = index.Search(query);
            wall.push_back(Seconds(start) * 1e6);
            cpu.push_back((ThreadCpuSeconds() - cpu_start) * 1e6);
            benchmark::DoNotOptimize(r.hits.data());
          }
        }
      }
      auto quantile = [](std::vector<double> v, double p) {
        std::sort(v.begin(), v.end());
        return v[std::min(v.size() - 1, size_t(p * double(v.size())))];
      };
      s.counters["p50_us"] = quantile(wall, 0.5);
      s.counters["p90_us"] = quantile(wall, 0.9);
      s.counters["p99_us"] = quantile(wall, 0.99);
      s.counters["cpu_p50_us"] = quantile(cpu, 0.5);
      // Rows scored per query, and the mean CPU time per row scored.
      const double rows = double(HnswRowsScoredByThisThread() - scored_before) / double(wall.size());
      s.counters["rows_scored"] = rows;
      double cpu_sum = 0;
      for (double t : cpu) cpu_sum += t;
      s.counters["ns_per_row"] = rows > 0 ? cpu_sum / double(cpu.size()) / rows * 1e3 : 0;
      for (const auto& [key, value] : MeasureRecall(c, index, 0, EfEffort(ef))) {
        s.counters[key] = value;
      }
      s.counters["MiB"] = double(index.Stats().memory_bytes) / (1 << 20);
      s.counters["huge_MiB"] = AnonHugeMiB();
    })->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();
  }
}

void RegisterLatencyOf(VectorStorage storage) {
  if (!g_config.compare_pages) return RegisterLatencyOf(storage, "");
  RegisterLatencyOf(storage, "4k");
  RegisterLatencyOf(storage, "huge");
}

// fp32 first, so that its rows keep their names (Latency/ef<ef>) and come first.
void RegisterLatency() {
  if (g_config.storages.count("fp32")) RegisterLatencyOf(VectorStorage::kFp32);
  if (g_config.storages.count("fp16")) RegisterLatencyOf(VectorStorage::kFp16);
  if (g_config.storages.count("sq8")) RegisterLatencyOf(VectorStorage::kSq8);
}

void RegisterPromotion() {
  const std::pair<size_t, std::vector<size_t>> sizes[] = {
      {1536, {2000, 5000, 10000, 20000, 50000}},
      {384, {2000, 10000, 50000}},
      {3072, {5000, 10000}},
  };
  for (const auto& [dim, rows] : sizes) {
    for (size_t n : rows) {
      for (IndexKind kind : {IndexKind::kFlat, IndexKind::kHnsw}) {
        const std::string name = "Promotion/d" + std::to_string(dim) + "/n" + std::to_string(n) +
                                 "/" + IndexKindName(kind);
        Register(name, [n, dim, kind](benchmark::State& s, const std::string& name) {
          const Engine& e = GetSizedEngine(n, dim, kind);
          RunEngine(s, name, GetSizedCorpus(n, dim), *e.index, 0, {});
          s.counters["build_s"] = e.build_s;
          s.counters["build_cpu_s"] = e.build_cpu_s;
          s.counters["MiB"] = double(e.index->Stats().memory_bytes) / (1 << 20);
        });
      }
    }
  }
}

// Each iteration builds an HNSW index over the corpus's first n - tail rows, writes the last
// `tail` rows, and times what absorbs them: adding them to a copy of the graph
// (RebuildIfNeeded) or a full Rebuild. Either way the index then holds the whole corpus, so
// recall is measured against its truth.
void RegisterAbsorb() {
  for (size_t tail : {1000, 5000, 20000}) {
    for (bool add : {true, false}) {
      const std::string name =
          "Absorb/tail" + std::to_string(tail) + (add ? "/add_to_graph" : "/full_rebuild");
      benchmark::RegisterBenchmark(name.c_str(), [tail, add](benchmark::State& s) {
        const Corpus& c = GetCorpus();
        if (tail >= c.n) {
          s.SkipWithError("--n must be larger than the tail");
          return;
        }
        for (auto _ : s) {
          s.PauseTiming();
          IndexOptions options = EngineOptions(IndexKind::kHnsw);
          options.tail_absorb_rows = tail - 1;
          options.rebuild_duty_cycle = 1.0;
          EntityIndex index(IndexKey{Uuid{}, "bench", uint32_t(c.dim)}, options);
          ApplyRows(c, 0, c.n - tail, index);
          if (!index.Rebuild().ok()) s.SkipWithError("the base build failed");
          ApplyRows(c, c.n - tail, c.n, index);
          const double cpu_start = ProcessCpuSeconds();
          s.ResumeTiming();
          const bool done = add ? index.RebuildIfNeeded() : index.Rebuild().ok();
          s.PauseTiming();
          s.counters["cpu_s"] = ProcessCpuSeconds() - cpu_start;
          if (!done || index.Stats().tail != 0) s.SkipWithError("the tail was not absorbed");
          for (const auto& [key, value] : MeasureRecall(c, index, 0, {})) s.counters[key] = value;
          s.ResumeTiming();
        }
      })->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();
    }
  }
}

bool RegisterAll() {
  const std::map<std::string, void (*)()> suites = {{"issue", RegisterIssue},
                                                    {"filters", RegisterFilterSweep},
                                                    {"ef", RegisterEfSweep},
                                                    {"latency", RegisterLatency},
                                                    {"promotion", RegisterPromotion},
                                                    {"absorb", RegisterAbsorb}};
  for (const std::string& suite : g_config.suites) {
    auto it = suites.find(suite);
    if (it == suites.end()) {
      std::fprintf(stderr, "unknown suite %s (issue, filters, ef, latency, promotion, absorb)\n", suite.c_str());
      return false;
    }
    it->second();
  }
  return true;
}

std::set<std::string> SplitList(const std::string& list) {
  std::set<std::string> items;
  std::stringstream in(list);
  for (std::string item; std::getline(in, item, ',');) {
    if (!item.empty()) items.insert(item);
  }
  return items;
}

// Takes --n=, --dim=, --queries=, --suite=, --storage=, --build-storage=, --ef-construction=
// (after the environment) out of argv.
void ParseConfig(int* argc, char** argv) {
  auto env = [](const char* name, size_t* out) {
    if (const char* v = std::getenv(name)) *out = std::strtoull(v, nullptr, 10);
  };
  env("VECMIRROR_BENCH_N", &g_config.n);
  env("VECMIRROR_BENCH_DIM", &g_config.dim);
  env("VECMIRROR_BENCH_QUERIES", &g_config.queries);
  if (const char* v = std::getenv("VECMIRROR_BENCH_SUITE")) g_config.suites = SplitList(v);
  int kept = 1;
  for (int i = 1; i < *argc; ++i) {
    const std::string arg = argv[i];
    auto take = [&](const char* prefix, size_t* out) {
      if (arg.rfind(prefix, 0) != 0) return false;
      *out = std::strtoull(arg.c_str() + std::strlen(prefix), nullptr, 10);
      return true;
    };
    if (take("--n=", &g_config.n) || take("--dim=", &g_config.dim) ||
        take("--queries=", &g_config.queries) ||
        take("--ef-construction=", &g_config.ef_construction)) {
      continue;
    }
    if (arg.rfind("--suite=", 0) == 0) {
      g_config.suites = SplitList(arg.substr(std::strlen("--suite=")));
      continue;
    }
    if (arg == "--pages=compare") {
      g_config.compare_pages = true;
      continue;
    }
    if (arg.rfind("--build-storage=", 0) == 0) {
      const std::string value = arg.substr(std::strlen("--build-storage="));
      VectorStorage storage;
      if (ParseVectorStorage(value, &storage).ok()) g_config.build_storage = storage;
      else if (value != "stored") {
        std::fprintf(stderr, "--build-storage=%s: expected stored, fp32, fp16 or sq8\n", value.c_str());
        std::exit(1);
      }
      continue;
    }
    if (arg.rfind("--storage=", 0) == 0) {
      g_config.storages = SplitList(arg.substr(std::strlen("--storage=")));
      continue;
    }
    argv[kept++] = argv[i];
  }
  *argc = kept;
  g_config.queries = std::max<size_t>(g_config.queries, 1);
}

}  // namespace
}  // namespace vecmirror

int main(int argc, char** argv) {
  vecmirror::ParseConfig(&argc, argv);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  if (!vecmirror::RegisterAll()) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
