// vecmirror_service_bench: what the gRPC service adds to a search. The same queries against the
// same indexes, three ways, in one process and one run:
//
//   Engine/<kind>      Registry::Search: the index engine alone (the baseline)
//   Service/<kind>     SearchService::Search: request validation, lookup, the response proto;
//                      no gRPC
//   Grpc/<kind>        SearchSimilarEntities over a real channel to the real GrpcServer on
//                      127.0.0.1 (HTTP/2, protobuf, the server's thread hand-off), one call at
//                      a time
//   GrpcStatus         GetMirrorStatus over the same channel: the floor of a unary call
//
// <kind> is flat (an exact scan) or hnsw (FAISS HNSW at the default efSearch). Each index holds
// --n clustered, embedding-like unit vectors (tools/datagen) of --dim dimensions in one tenant;
// queries are drawn from the same space, limit 10, no filter, cycled through --queries of them.
// Latency is wall time per query on one client thread; proc_cpu_us is the CPU time of the whole
// process (client and server threads) per query, which contention from other programs on a
// shared machine does not inflate. Each benchmark runs 5 repetitions,
// interleaved in random order with the others' (--benchmark_enable_random_interleaving, on by
// default here), and reports mean, median and spread; the table at the end gives the medians as
// ratios to Engine/<kind> of the same run.
//
// Size: --n=ROWS (default 20000), --dim=D (default 1536), --queries=Q (default 256), or the
// environment variables VECMIRROR_BENCH_N / _DIM / _QUERIES.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "bench/machine.h"
#include "bench/search_world.h"
#include "index/registry.h"
#include "src/search_service.h"
#include "tools/datagen/vector_space.h"
#include "vecmirror/v1/vecmirror.grpc.pb.h"

namespace vecmirror {
namespace {

constexpr uint32_t kLimit = bench::SearchWorld::kLimit;
constexpr int kRepetitions = 5;

struct Config {
  size_t n = 20000;
  size_t dim = 1536;
  size_t queries = 256;
};
Config g_config;

using World = bench::SearchWorld;

World& TheWorld() {
  // Built on first use; lives until exit.
  static World* world = new World(World::Options{g_config.n, g_config.dim, g_config.queries, {}});
  return *world;
}

using bench::ProcessCpuSeconds;

// Reports the process CPU time per query as the counter proc_cpu_us. Unlike wall time it does
// not grow when other programs on the machine take the cores: it is what a query costs.
class ProcessCpuMeter {
 public:
  explicit ProcessCpuMeter(benchmark::State& state) : state_(state), start_(ProcessCpuSeconds()) {}
  ~ProcessCpuMeter() {
    state_.counters["proc_cpu_us"] =
        benchmark::Counter((ProcessCpuSeconds() - start_) * 1e6, benchmark::Counter::kAvgIterations);
    state_.SetItemsProcessed(state_.iterations());
  }

 private:
  benchmark::State& state_;
  const double start_;
};

// A search that returned fewer than kLimit rows, or did not take the path its kind names (an
// HNSW search answered by an exact scan, say because the index is below the planner's exact
// threshold), means the setup is wrong: stop the benchmark.
bool AsIntended(size_t hits, bool exact, IndexKind kind, benchmark::State& state) {
  if (hits != kLimit) {
    state.SkipWithError("a search returned fewer than 10 results");
    return false;
  }
  if (exact != (kind == IndexKind::kFlat)) {
    state.SkipWithError(exact ? "an HNSW search was answered by an exact scan (use a larger --n)"
                              : "a flat search was not exact");
    return false;
  }
  return true;
}

void BM_Engine(benchmark::State& state, IndexKind kind) {
  World& world = TheWorld();
  const IndexKey key = world.KeyOf(kind);
  size_t i = 0;
  ProcessCpuMeter meter(state);
  for (auto _ : state) {
    SearchQuery query;
    query.vector = world.query(i++);
    query.limit = kLimit;
    const SearchResult result = world.registry().Search(key, query);
    if (!AsIntended(result.hits.size(), result.exact, kind, state)) break;
    benchmark::DoNotOptimize(result.hits.data());
  }
}

void BM_Service(benchmark::State& state, IndexKind kind) {
  World& world = TheWorld();
  std::vector<v1::SearchRequest> requests;
  for (size_t q = 0; q < g_config.queries; ++q) requests.push_back(world.Request(kind, q));
  size_t i = 0;
  ProcessCpuMeter meter(state);
  for (auto _ : state) {
    v1::SearchResponse response;
    const Status s = world.service().Search(requests[i++ % requests.size()],
                                            std::chrono::steady_clock::now() + std::chrono::seconds(10),
                                            &response);
    if (!s.ok()) {
      state.SkipWithError(s.ToString().c_str());
      break;
    }
    if (!AsIntended(response.results_size(), response.exact(), kind, state)) break;
  }
}

void BM_Grpc(benchmark::State& state, IndexKind kind) {
  World& world = TheWorld();
  std::vector<v1::SearchRequest> requests;
  for (size_t q = 0; q < g_config.queries; ++q) requests.push_back(world.Request(kind, q));
  size_t i = 0;
  ProcessCpuMeter meter(state);
  for (auto _ : state) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::SearchResponse response;
    const grpc::Status s = world.stub().SearchSimilarEntities(&context, requests[i++ % requests.size()], &response);
    if (!s.ok()) {
      state.SkipWithError(s.error_message().c_str());
      break;
    }
    if (!AsIntended(response.results_size(), response.exact(), kind, state)) break;
  }
}

void BM_GrpcStatus(benchmark::State& state) {
  World& world = TheWorld();
  ProcessCpuMeter meter(state);
  for (auto _ : state) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::MirrorStatus status;
    const grpc::Status s = world.stub().GetMirrorStatus(&context, v1::GetMirrorStatusRequest(), &status);
    if (!s.ok()) {
      state.SkipWithError(s.error_message().c_str());
      break;
    }
  }
}

// Prints the usual console table, and remembers each benchmark's median wall time for the
// ratio table at the end.
class MedianReporter : public benchmark::ConsoleReporter {
 public:
  MedianReporter() : ConsoleReporter(isatty(fileno(stdout)) ? OO_ColorTabular : OO_Tabular) {}

  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs) {
      if (run.run_type == Run::RT_Aggregate && run.aggregate_name == "median" && !run.error_occurred) {
        medians_[run.run_name.function_name] = run.GetAdjustedRealTime();
        unit_ = benchmark::GetTimeUnitString(run.time_unit);
        if (auto it = run.counters.find("proc_cpu_us"); it != run.counters.end()) {
          cpu_medians_[run.run_name.function_name] = it->second.value;
        }
      }
    }
    ConsoleReporter::ReportRuns(runs);
  }

  void PrintRatios() const {
    std::printf("\nmedians per query; ratios to Engine/<kind> of this run:\n");
    std::printf("  %-12s %12s %8s %14s %8s\n", "", "wall us", "ratio", "process CPU us", "ratio");
    for (const char* kind : {"flat", "hnsw"}) {
      const std::string base = std::string("Engine/") + kind;
      if (!medians_.count(base) || !cpu_medians_.count(base)) continue;
      for (const char* layer : {"Engine/", "Service/", "Grpc/"}) {
        const std::string name = layer + std::string(kind);
        if (!medians_.count(name) || !cpu_medians_.count(name)) continue;
        const double wall = medians_.at(name), cpu = cpu_medians_.at(name);
        std::printf("  %-12s %12.1f %8.3f %14.1f %8.3f\n", name.c_str(), wall, wall / medians_.at(base),
                    cpu, cpu / cpu_medians_.at(base));
      }
    }
    if (medians_.count("GrpcStatus") && cpu_medians_.count("GrpcStatus")) {
      std::printf("  %-12s %12.1f %8s %14.1f %8s  (an empty unary call)\n", "GrpcStatus",
                  medians_.at("GrpcStatus"), "", cpu_medians_.at("GrpcStatus"), "");
    }
    std::printf("(wall time in %s; process CPU: every thread of the process, client and server)\n",
                unit_.c_str());
  }

 private:
  std::map<std::string, double> medians_;
  std::map<std::string, double> cpu_medians_;
  std::string unit_;
};

void Register() {
  for (IndexKind kind : {IndexKind::kFlat, IndexKind::kHnsw}) {
    const std::string k = IndexKindName(kind);
    for (auto* b : {benchmark::RegisterBenchmark(("Engine/" + k).c_str(), BM_Engine, kind),
                    benchmark::RegisterBenchmark(("Service/" + k).c_str(), BM_Service, kind),
                    benchmark::RegisterBenchmark(("Grpc/" + k).c_str(), BM_Grpc, kind)}) {
      b->Unit(benchmark::kMicrosecond)->UseRealTime()->Repetitions(kRepetitions)->ReportAggregatesOnly(true);
    }
  }
  benchmark::RegisterBenchmark("GrpcStatus", BM_GrpcStatus)
      ->Unit(benchmark::kMicrosecond)->UseRealTime()->Repetitions(kRepetitions)->ReportAggregatesOnly(true);
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
  if (g_config.n < kLimit || g_config.dim == 0 || g_config.queries == 0) {
    std::fprintf(stderr, "--n must be at least %u, --dim and --queries positive\n", kLimit);
    std::exit(2);
  }
}

}  // namespace
}  // namespace vecmirror

int main(int argc, char** argv) {
  vecmirror::ParseConfig(&argc, argv);
  // Repetitions of the different benchmarks run interleaved in random order unless told
  // otherwise: on a shared machine the load drifts, and running all Engine repetitions before
  // all Grpc ones would turn that drift into a false overhead.
  std::vector<char*> args(argv, argv + argc);
  static char interleave[] = "--benchmark_enable_random_interleaving=true";
  if (std::none_of(args.begin(), args.end(), [](const char* a) {
        return std::strncmp(a, "--benchmark_enable_random_interleaving", 38) == 0;
      })) {
    args.insert(args.begin() + 1, interleave);
  }
  argc = static_cast<int>(args.size());
  args.push_back(nullptr);
  argv = args.data();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  std::printf("vecmirror_service_bench: n=%zu dim=%zu queries=%zu limit=%u\n", vecmirror::g_config.n,
              vecmirror::g_config.dim, vecmirror::g_config.queries, vecmirror::kLimit);
  std::printf("load average before: %s\n", vecmirror::bench::LoadAverage().c_str());
  vecmirror::Register();
  vecmirror::TheWorld();  // data and index builds, before any timing
  vecmirror::MedianReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.PrintRatios();
  std::printf("load average after: %s\n", vecmirror::bench::LoadAverage().c_str());
  benchmark::Shutdown();
  return 0;
}
