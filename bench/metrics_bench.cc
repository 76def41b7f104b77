// vecmirror_metrics_bench: what the metrics cost.
//
//   GrpcStatus/plain     GetMirrorStatus over loopback to a GrpcServer without interceptors:
//                        the floor of a unary call
//   GrpcStatus/metered   the same call to a second server in the same process with the metrics
//                        interceptor (counters, in-flight gauge, latency histogram)
//   CallBookkeeping      what the interceptor does for one call, without gRPC: find the
//                        method's series, count, time, observe, count the code (one thread)
//   Scrape/<indexes>     one rendering of /metrics (what a Prometheus scrape costs the server)
//                        with that many indexes in the registry, per-index series on
//
// proc_cpu_us is the CPU time of the whole process (client and server threads) per call, which
// other programs on a shared machine don't inflate. 5 repetitions each, interleaved in random
// order; medians are what to compare.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "bench/machine.h"
#include "index/model_catalog.h"
#include "index/registry.h"
#include "src/grpc_server.h"
#include "src/metrics/service_metrics.h"
#include "src/mirror_status.h"
#include "src/search_service.h"
#include "vecmirror/v1/vecmirror.grpc.pb.h"

namespace vecmirror {
namespace {

constexpr int kRepetitions = 5;

double ProcessCpuSeconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

class ProcessCpuMeter {
 public:
  explicit ProcessCpuMeter(benchmark::State& state) : state_(state), start_(ProcessCpuSeconds()) {}
  ~ProcessCpuMeter() {
    state_.counters["proc_cpu_us"] = benchmark::Counter((ProcessCpuSeconds() - start_) * 1e6,
                                                        benchmark::Counter::kAvgIterations);
  }

 private:
  benchmark::State& state_;
  const double start_;
};

// Two servers over one SearchService: one plain, one with the metrics interceptor.
struct Servers {
  Servers() : service(registry, models, board), metrics(metrics::MetricsOptions{}) {
    board.Update([](MirrorState& s) { s.loaded = true; });
    metrics.Watch(registry, board);
    Start(plain, nullptr, &plain_stub);
    Start(metered, [this](grpc::ServerBuilder& b) { metrics.InstallInterceptors(b); },
          &metered_stub);
  }
  void Start(std::unique_ptr<GrpcServer>& server,
             const std::function<void(grpc::ServerBuilder&)>& customize,
             std::unique_ptr<v1::VectorSearch::Stub>* stub) {
    server = std::make_unique<GrpcServer>(GrpcServerOptions{.listen = "127.0.0.1:0", .max_message_bytes = 64 << 20});
    if (Status s = server->Start({&service}, customize); !s.ok()) {
      std::fprintf(stderr, "cannot start the gRPC server: %s\n", s.ToString().c_str());
      std::exit(1);
    }
    *stub = v1::VectorSearch::NewStub(grpc::CreateChannel(
        "127.0.0.1:" + std::to_string(server->bound_port()), grpc::InsecureChannelCredentials()));
  }

  Registry registry;
  ModelCatalog models;
  MirrorStatusBoard board;
  SearchService service;
  metrics::ServiceMetrics metrics;
  std::unique_ptr<GrpcServer> plain, metered;
  std::unique_ptr<v1::VectorSearch::Stub> plain_stub, metered_stub;
};

Servers& TheServers() {
  static Servers* servers = new Servers();  // lives until exit
  return *servers;
}

void BM_GrpcStatus(benchmark::State& state, bool metered) {
  Servers& servers = TheServers();
  v1::VectorSearch::Stub& stub = metered ? *servers.metered_stub : *servers.plain_stub;
  ProcessCpuMeter meter(state);
  for (auto _ : state) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::MirrorStatus status;
    const grpc::Status s = stub.GetMirrorStatus(&context, v1::GetMirrorStatusRequest(), &status);
    if (!s.ok()) {
      state.SkipWithError(s.error_message().c_str());
      break;
    }
  }
}

void BM_CallBookkeeping(benchmark::State& state) {
  metrics::MetricRegistry registry;
  metrics::GrpcServerMetrics grpc(registry);
  for (auto _ : state) {
    auto& series = grpc.SeriesFor("/vecmirror.v1.VectorSearch/SearchSimilarEntities");
    const auto start = std::chrono::steady_clock::now();
    series.started->Increment();
    series.in_flight->Add(1);
    series.latency->Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    series.in_flight->Add(-1);
    grpc.RecordHandled(series, 0);
  }
}

// A registry of `count` indexes of one row each (tenants 1..count), and the metrics over it.
void BM_Scrape(benchmark::State& state) {
  const size_t count = static_cast<size_t>(state.range(0));
  Registry registry;
  MirrorStatusBoard board;
  metrics::ServiceMetrics metrics(metrics::MetricsOptions{"", true});
  metrics.Watch(registry, board);
  std::vector<KeyedWrite> writes;
  for (size_t i = 0; i < count; ++i) {
    KeyedWrite w;
    w.key.tenant_id.bytes[15] = static_cast<uint8_t>(i);
    w.key.tenant_id.bytes[14] = static_cast<uint8_t>(i >> 8);
    w.key.tenant_id.bytes[13] = static_cast<uint8_t>(i >> 16);
    w.key.model = "all-MiniLM-L6-v2";
    w.key.dim = 4;
    w.write.entity_id.bytes[0] = 1;
    w.write.vector = {1, 0, 0, 0};
    writes.push_back(std::move(w));
  }
  registry.ApplyTransaction(writes, 1);
  size_t bytes = 0;
  ProcessCpuMeter meter(state);
  for (auto _ : state) {
    const std::string text = metrics.Render();
    bytes = text.size();
    benchmark::DoNotOptimize(text.data());
  }
  state.counters["bytes"] = static_cast<double>(bytes);
}

}  // namespace
}  // namespace vecmirror

int main(int argc, char** argv) {
  using namespace vecmirror;
  std::printf("cpu: %s, load average: %s\n", bench::CpuModel().c_str(),
              bench::LoadAverage().c_str());
  for (bool metered : {false, true}) {
    benchmark::RegisterBenchmark(metered ? "GrpcStatus/metered" : "GrpcStatus/plain",
                                 BM_GrpcStatus, metered)
        ->Unit(benchmark::kMicrosecond)
        ->UseRealTime()
        ->Repetitions(kRepetitions)
        ->ReportAggregatesOnly(true);
  }
  benchmark::RegisterBenchmark("CallBookkeeping", BM_CallBookkeeping)
      ->Unit(benchmark::kNanosecond)
      ->Repetitions(kRepetitions)
      ->ReportAggregatesOnly(true);
  benchmark::RegisterBenchmark("Scrape", BM_Scrape)
      ->Arg(100)
      ->Arg(10000)
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime()
      ->Repetitions(kRepetitions)
      ->ReportAggregatesOnly(true);
  std::vector<char*> args(argv, argv + argc);
  static char interleave[] = "--benchmark_enable_random_interleaving=true";
  if (std::none_of(args.begin(), args.end(), [](const char* a) {
        return std::strncmp(a, "--benchmark_enable_random_interleaving", 38) == 0;
      })) {
    args.insert(args.begin() + 1, interleave);
  }
  argc = static_cast<int>(args.size());
  benchmark::Initialize(&argc, args.data());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
