// vecmirror_index_bench: search latency and recall@10 of EntityIndex per kind (flat, HNSW, IVF),
// next to raw in-process FAISS (IndexFlatIP, IndexHNSWFlat, IndexIVFFlat with the same
// parameters) on the same data in the same run, unfiltered and with entity_type filters that
// allow 5% and 0.1% of the rows.
//
// Data: clustered, embedding-like unit vectors (tests/support/clustered_embeddings.h). Truth:
// an exact Eigen matrix product, independent of both engines. One query per iteration on one
// thread (FAISS with one OpenMP thread), as a gRPC handler runs it; items_per_second is QPS.
//
// Size: --n=ROWS (default 100000), --dim=D (default 1536), --queries=Q (default 200), or the
// environment variables VECMIRROR_BENCH_N / _DIM / _QUERIES. Google Benchmark flags work as
// usual, e.g. --benchmark_filter=hnsw. Indexes are built lazily, only for the benchmarks that
// run, and the build times are printed.
//
// Rows of the report:
//   EntityIndex/<kind>/all           unfiltered search at default effort
//   EntityIndex/<kind>/<share>/ann   filtered search through the ANN structure (exact-scan
//                                    thresholds off), effort raised as the planner does
//   EntityIndex/<kind>/<share>/exact filtered exact scan of the allowed rows: what the default
//                                    policy does at <= 5% (exact_max_allowed_share)
//   Faiss/<kind>/all, Faiss/<kind>/<share>   raw FAISS; filtered ones with an IDSelectorBitmap
//                                    and the same efSearch / nprobe as EntityIndex's planner
#include <benchmark/benchmark.h>
#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIVFFlat.h>
#include <faiss/impl/IDSelector.h>
#include <omp.h>

#include <Eigen/Dense>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "index/entity_index.h"
#include "index/kernels.h"
#include "index/policy.h"
#include "tests/support/clustered_embeddings.h"

namespace vecmirror {
namespace {

constexpr size_t kTopK = 10;

struct Config {
  size_t n = 100000;
  size_t dim = 1536;
  size_t queries = 200;
};
Config g_config;

// A filter: which type codes a query allows, and the rows that have them.
struct Filter {
  std::string name;  // "all", "5%", "0.1%"
  TypeMask mask;
  std::vector<uint8_t> bitmap;  // FAISS IDSelectorBitmap layout: bit i of byte i / 8
  size_t allowed = 0;
};

// Row i has type 1 for 5% of the rows, 2 for 0.1%, 0 otherwise.
EntityTypeCode TypeOfRow(size_t i) {
  const size_t r = i % 1000;
  return r < 50 ? 1 : r == 50 ? 2 : 0;
}

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

// The data, queries, filters and exact answers, built once.
struct Corpus {
  std::vector<float> rows;     // n x dim
  std::vector<float> queries;  // queries x dim
  std::vector<Uuid> ids;
  std::vector<Filter> filters;
  // truth[filter][query] = the exact top-10 row numbers.
  std::vector<std::vector<std::vector<uint32_t>>> truth;

  const float* Query(size_t q) const { return queries.data() + q * g_config.dim; }
};

Filter MakeFilter(const std::string& name, std::vector<EntityTypeCode> codes) {
  Filter f;
  f.name = name;
  f.mask = codes.empty() ? TypeMask::All() : TypeMask::None();
  for (EntityTypeCode c : codes) f.mask.Add(c);
  f.bitmap.assign((g_config.n + 7) / 8, 0);
  for (size_t i = 0; i < g_config.n; ++i) {
    if (!f.mask.Contains(TypeOfRow(i))) continue;
    f.bitmap[i / 8] |= uint8_t(1u << (i % 8));
    ++f.allowed;
  }
  return f;
}

// Exact top-10 of every query under every filter: one Eigen GEMM, then a partial sort.
void ComputeTruth(Corpus& c) {
  const auto start = std::chrono::steady_clock::now();
  using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const auto n = Eigen::Index(g_config.n), d = Eigen::Index(g_config.dim);
  const auto nq = Eigen::Index(g_config.queries);
  Eigen::Map<const RowMajor> base(c.rows.data(), n, d);
  Eigen::Map<const RowMajor> queries(c.queries.data(), nq, d);
  const Eigen::MatrixXf sims = base * queries.transpose();  // n x nq, column-major
  c.truth.assign(c.filters.size(), {});
  std::vector<uint32_t> order(g_config.n);
  for (size_t f = 0; f < c.filters.size(); ++f) {
    for (Eigen::Index q = 0; q < nq; ++q) {
      const float* col = sims.col(q).data();
      order.clear();
      for (size_t i = 0; i < g_config.n; ++i) {
        if (c.filters[f].mask.Contains(TypeOfRow(i))) order.push_back(uint32_t(i));
      }
      const size_t keep = std::min(kTopK, order.size());
      std::partial_sort(order.begin(), order.begin() + keep, order.end(),
                        [&](uint32_t a, uint32_t b) {
                          return col[a] != col[b] ? col[a] > col[b] : c.ids[a] < c.ids[b];
                        });
      order.resize(keep);
      c.truth[f].push_back(order);
    }
  }
  std::fprintf(stderr, "truth: %.1f s\n", Seconds(start));
}

const Corpus& GetCorpus() {
  static const Corpus corpus = [] {
    const auto start = std::chrono::steady_clock::now();
    Corpus c;
    testing::ClusteredEmbeddings gen(g_config.dim, 50, 42);
    c.rows = gen.Generate(g_config.n);
    c.queries = gen.Generate(g_config.queries);  // same clusters, unseen samples
    for (size_t i = 0; i < g_config.n; ++i) c.ids.push_back(testing::TestId(i));
    c.filters.push_back(MakeFilter("all", {}));
    c.filters.push_back(MakeFilter("5%", {1}));
    c.filters.push_back(MakeFilter("0.1%", {2}));
    std::fprintf(stderr, "data: %zu x %zu, %zu queries, kernels %s: %.1f s\n", g_config.n,
                 g_config.dim, g_config.queries, KernelVariantName(), Seconds(start));
    ComputeTruth(c);
    return c;
  }();
  return corpus;
}

// Recall@10 of a list of row numbers against the truth of (filter, query).
double RecallOf(const std::vector<uint32_t>& found, const std::vector<uint32_t>& truth) {
  if (truth.empty()) return 1.0;
  size_t hit = 0;
  for (uint32_t t : truth) hit += std::find(found.begin(), found.end(), t) != found.end();
  return double(hit) / double(truth.size());
}

// ---- EntityIndex ----

IndexOptions EngineOptions(IndexKind kind) {
  IndexOptions options;
  options.forced_kind = kind;
  // Off, so the filtered "ann" rows measure the ANN path; the "exact" rows ask for exact
  // explicitly, which is what the default thresholds choose at <= 5%.
  options.exact_max_allowed_rows = 0;
  options.exact_max_allowed_share = 0;
  return options;
}

EntityIndex& GetEngine(IndexKind kind) {
  static std::map<IndexKind, std::unique_ptr<EntityIndex>> engines;
  auto& slot = engines[kind];
  if (slot) return *slot;
  const Corpus& c = GetCorpus();
  const auto start = std::chrono::steady_clock::now();
  slot = std::make_unique<EntityIndex>(IndexKey{Uuid{}, "bench", uint32_t(g_config.dim)},
                                       EngineOptions(kind));
  for (size_t begin = 0; begin < g_config.n; begin += 10000) {
    std::vector<IndexWrite> writes;
    for (size_t i = begin; i < std::min(g_config.n, begin + 10000); ++i) {
      IndexWrite w;
      w.entity_id = c.ids[i];
      w.type = TypeOfRow(i);
      w.vector.assign(c.rows.begin() + i * g_config.dim, c.rows.begin() + (i + 1) * g_config.dim);
      writes.push_back(std::move(w));
    }
    slot->Apply(writes, 1);
  }
  const Status s = slot->Rebuild();
  if (!s.ok()) std::fprintf(stderr, "rebuild failed: %s\n", s.ToString().c_str());
  std::fprintf(stderr, "EntityIndex %s build: %.1f s, %.0f MiB\n", IndexKindName(kind),
               Seconds(start), double(slot->Stats().memory_bytes) / (1 << 20));
  return *slot;
}

std::map<Uuid, uint32_t> RowOfId() {
  std::map<Uuid, uint32_t> m;
  const Corpus& c = GetCorpus();
  for (size_t i = 0; i < c.ids.size(); ++i) m[c.ids[i]] = uint32_t(i);
  return m;
}

void BM_EntityIndex(benchmark::State& state, IndexKind kind, size_t filter, bool exact) {
  const Corpus& c = GetCorpus();
  const EntityIndex& index = GetEngine(kind);
  auto query_of = [&](size_t q) {
    SearchQuery query;
    query.vector = std::span<const float>(c.Query(q), g_config.dim);
    query.types = c.filters[filter].mask;
    query.limit = kTopK;
    query.effort.exact = exact;
    return query;
  };
  size_t q = 0;
  for (auto _ : state) {
    SearchResult r = index.Search(query_of(q));
    benchmark::DoNotOptimize(r.hits.data());
    q = (q + 1) % g_config.queries;
  }
  state.SetItemsProcessed(int64_t(state.iterations()));

  static const std::map<Uuid, uint32_t> row_of = RowOfId();
  double recall = 0, exact_share = 0;
  for (size_t i = 0; i < g_config.queries; ++i) {
    const SearchResult r = index.Search(query_of(i));
    std::vector<uint32_t> rows;
    for (const Hit& h : r.hits) rows.push_back(row_of.at(h.entity_id));
    recall += RecallOf(rows, c.truth[filter][i]);
    exact_share += r.exact;
  }
  state.counters["recall@10"] = recall / double(g_config.queries);
  state.counters["exact_share"] = exact_share / double(g_config.queries);
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
  const auto d = faiss::Index::idx_t(g_config.dim);
  const auto n = faiss::Index::idx_t(g_config.n);
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
      r.nlist = IvfListCount(g_config.n, defaults);
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
  IndexOptions options;
  options.exact_max_allowed_rows = 0;
  options.exact_max_allowed_share = 0;
  return PlanSearch(in, options);
}

void BM_Faiss(benchmark::State& state, IndexKind kind, size_t filter) {
  const Corpus& c = GetCorpus();
  RawFaiss& r = GetFaiss(kind);
  const Filter& f = c.filters[filter];
  const SearchPlan plan = PlannedEffort(r, f.allowed);
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
  size_t q = 0;
  for (auto _ : state) {
    r.index->search(1, c.Query(q), kTopK, distances.data(), labels.data(), params);
    benchmark::DoNotOptimize(labels.data());
    q = (q + 1) % g_config.queries;
  }
  state.SetItemsProcessed(int64_t(state.iterations()));

  double recall = 0;
  for (size_t i = 0; i < g_config.queries; ++i) {
    r.index->search(1, c.Query(i), kTopK, distances.data(), labels.data(), params);
    std::vector<uint32_t> rows;
    for (faiss::Index::idx_t l : labels) {
      if (l >= 0) rows.push_back(uint32_t(l));
    }
    recall += RecallOf(rows, c.truth[filter][i]);
  }
  omp_set_num_threads(saved_threads);
  if (kind == IndexKind::kHnsw) static_cast<faiss::IndexHNSW&>(*r.index).hnsw.efSearch = saved_ef;
  state.counters["recall@10"] = recall / double(g_config.queries);
  state.counters["ef_search"] = kind == IndexKind::kHnsw ? plan.ef_search : 0;
  state.counters["nprobe"] = kind == IndexKind::kIvf ? double(plan.nprobe) : 0;
}

void RegisterAll() {
  const IndexKind kinds[] = {IndexKind::kFlat, IndexKind::kHnsw, IndexKind::kIvf};
  const char* shares[] = {"all", "5%", "0.1%"};
  auto reg = [](const std::string& name, auto fn) {
    benchmark::RegisterBenchmark(name.c_str(), fn)->Unit(benchmark::kMicrosecond);
  };
  for (IndexKind kind : kinds) {
    const std::string k = IndexKindName(kind);
    reg("EntityIndex/" + k + "/all",
        [kind](benchmark::State& s) { BM_EntityIndex(s, kind, 0, false); });
    reg("Faiss/" + k + "/all", [kind](benchmark::State& s) { BM_Faiss(s, kind, 0); });
  }
  for (size_t f = 1; f < 3; ++f) {
    for (IndexKind kind : kinds) {
      const std::string k = IndexKindName(kind);
      if (kind != IndexKind::kFlat) {
        reg("EntityIndex/" + k + "/" + shares[f] + "/ann",
            [kind, f](benchmark::State& s) { BM_EntityIndex(s, kind, f, false); });
      }
      if (kind != IndexKind::kIvf) {  // the exact scan reads the same rows either way
        reg("EntityIndex/" + k + "/" + shares[f] + "/exact",
            [kind, f](benchmark::State& s) { BM_EntityIndex(s, kind, f, true); });
      }
      reg("Faiss/" + k + "/" + shares[f], [kind, f](benchmark::State& s) { BM_Faiss(s, kind, f); });
    }
  }
}

// Takes --n=, --dim=, --queries= (after the environment) out of argv.
void ParseConfig(int* argc, char** argv) {
  auto env = [](const char* name, size_t* out) {
    if (const char* v = std::getenv(name)) *out = std::strtoull(v, nullptr, 10);
  };
  env("VECMIRROR_BENCH_N", &g_config.n);
  env("VECMIRROR_BENCH_DIM", &g_config.dim);
  env("VECMIRROR_BENCH_QUERIES", &g_config.queries);
  int kept = 1;
  for (int i = 1; i < *argc; ++i) {
    const std::string arg = argv[i];
    auto take = [&](const char* prefix, size_t* out) {
      if (arg.rfind(prefix, 0) != 0) return false;
      *out = std::strtoull(arg.c_str() + std::strlen(prefix), nullptr, 10);
      return true;
    };
    if (take("--n=", &g_config.n) || take("--dim=", &g_config.dim) ||
        take("--queries=", &g_config.queries)) {
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
  vecmirror::RegisterAll();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
