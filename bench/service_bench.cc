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
#include "index/model_catalog.h"
#include "index/registry.h"
#include "src/grpc_server.h"
#include "src/mirror_status.h"
#include "src/search_service.h"
#include "tools/datagen/generator.h"
#include "vecmirror/v1/vecmirror.grpc.pb.h"

namespace vecmirror {
namespace {

constexpr uint32_t kLimit = 10;
constexpr uint64_t kSeed = 7;
constexpr int kRepetitions = 5;
const char* const kTypes[] = {"context", "template", "workflow", "library"};

struct Config {
  size_t n = 20000;
  size_t dim = 1536;
  size_t queries = 256;
};
Config g_config;

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

std::string ModelFor(size_t dim) {
  for (const auto& [name, known_dim] : DefaultModels()) {
    if (known_dim == dim) return name;
  }
  return "bench-" + std::to_string(dim);
}

Uuid UuidFrom(uint64_t hi, uint64_t lo) {
  Uuid id;
  for (int i = 0; i < 8; ++i) {
    id.bytes[i] = static_cast<uint8_t>(hi >> (56 - 8 * i));
    id.bytes[8 + i] = static_cast<uint8_t>(lo >> (56 - 8 * i));
  }
  return id;
}

// One registry with two tenants holding the same rows: one pinned to flat, one to HNSW. A
// SearchService over it, served by a GrpcServer on 127.0.0.1:0, and a stub to that server.
class World {
 public:
  World() : model_(ModelFor(g_config.dim)), models_(Models()) {
    const datagen::ClusteredVectors space(static_cast<uint32_t>(g_config.dim), 32, kSeed);
    Fill(space);
    for (size_t q = 0; q < g_config.queries; ++q) queries_.push_back(space.Query(q));

    board_.Update([&](MirrorState& s) {
      s.state = "streaming";
      s.applied_lsn = registry_.applied_lsn();
      s.loaded = true;
    });
    service_ = std::make_unique<SearchService>(registry_, models_, board_);
    server_ = std::make_unique<GrpcServer>(GrpcServerOptions{.listen = "127.0.0.1:0", .max_message_bytes = 64 << 20});
    if (Status s = server_->Start({service_.get()}); !s.ok()) {
      std::fprintf(stderr, "cannot start the gRPC server: %s\n", s.ToString().c_str());
      std::exit(1);
    }
    server_->SetServing(true);
    channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(server_->bound_port()),
                                   grpc::InsecureChannelCredentials());
    stub_ = v1::VectorSearch::NewStub(channel_);
  }
  ~World() { server_->Shutdown(std::chrono::system_clock::now()); }

  IndexKey KeyOf(IndexKind kind) const { return {TenantOf(kind), model_, static_cast<uint32_t>(g_config.dim)}; }
  const std::vector<float>& query(size_t i) const { return queries_[i % queries_.size()]; }

  // The gRPC request for query i against the index of `kind`.
  v1::SearchRequest Request(IndexKind kind, size_t i) const {
    v1::SearchRequest request;
    request.set_tenant_id(TenantOf(kind).ToString());
    request.set_model(model_);
    const auto& v = query(i);
    request.mutable_vector()->mutable_values()->Add(v.begin(), v.end());
    request.set_limit(kLimit);
    return request;
  }

  Registry& registry() { return registry_; }
  SearchService& service() { return *service_; }
  v1::VectorSearch::Stub& stub() { return *stub_; }

 private:
  static Uuid TenantOf(IndexKind kind) { return UuidFrom(0x7e4a47, static_cast<uint64_t>(kind) + 1); }

  std::vector<ModelDimension> Models() const {
    std::vector<ModelDimension> models = DefaultModels();
    if (model_.rfind("bench-", 0) == 0) models.push_back({model_, static_cast<uint32_t>(g_config.dim)});
    return models;
  }

  void Fill(const datagen::ClusteredVectors& space) {
    const auto start = std::chrono::steady_clock::now();
    std::vector<EntityTypeCode> types;
    for (const char* name : kTypes) types.push_back(*registry_.types().Intern(name));
    for (IndexKind kind : {IndexKind::kFlat, IndexKind::kHnsw}) {
      std::vector<KeyedWrite> writes;
      writes.reserve(g_config.n);
      for (size_t i = 0; i < g_config.n; ++i) {
        KeyedWrite w;
        w.key = KeyOf(kind);
        w.write.op = IndexWrite::Op::kUpsert;
        w.write.entity_id = UuidFrom(0xe7, i);
        w.write.type = types[i % types.size()];
        w.write.vector = space.Vector(i);
        writes.push_back(std::move(w));
      }
      registry_.ApplyTransaction(writes, ++lsn_);
    }
    std::printf("generated and applied 2 x %zu rows of %zu-d in %.1f s\n", g_config.n,
                g_config.dim, Seconds(start));
    // Seal each index as its kind (pinned), so searches run on the structure, not the tail.
    for (IndexKind kind : {IndexKind::kFlat, IndexKind::kHnsw}) {
      const auto build = std::chrono::steady_clock::now();
      const auto infos = registry_.Rebuild(TenantOf(kind), model_, kind);
      const bool ok = infos.size() == 1 && infos[0].stats.kind == kind && infos[0].stats.tail == 0;
      std::printf("built %s index in %.1f s%s\n", IndexKindName(kind), Seconds(build),
                  ok ? "" : " (NOT as asked: results are meaningless)");
      if (!ok) std::exit(1);
    }
    std::fflush(stdout);
  }

  const std::string model_;
  Registry registry_;
  ModelCatalog models_;
  MirrorStatusBoard board_;
  uint64_t lsn_ = 0;
  std::vector<std::vector<float>> queries_;
  std::unique_ptr<SearchService> service_;
  std::unique_ptr<GrpcServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::VectorSearch::Stub> stub_;
};

World& TheWorld() {
  static World* world = new World();  // built on first use; lives until exit
  return *world;
}

// CPU time of the whole process (every thread: client, gRPC server, its pollers), in seconds.
double ProcessCpuSeconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

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
