// vecmirror_serving_bench: the server under concurrent load, next to the engine alone.
//
// An in-process server over a filled registry (bench/search_world.h: --n clustered 1536-d
// vectors in an index pinned to flat and one pinned to HNSW; no PostgreSQL). For each index kind
// and each run:
//
//   for each level of --clients (1, 4, 16, 64):
//     engine    Registry::Search on the same queries in one thread per core, no gRPC, for
//               --seconds: the throughput the cores give without serving, measured just before
//               the level so that both see the same load on a shared machine;
//     engine 1  at the 1-client level only, the same searches one at a time in one thread: the
//               p50 that one client's calls are compared with ("added p50 µs");
//     clients   that many closed-loop clients over loopback for --seconds. Each client has a
//               connection of its own and keeps exactly one SearchSimilarEntities call in
//               flight (the next call starts from the completion of the last), so N clients
//               are N concurrent calls. One thread drives them all through a completion queue
//               (MeasureClients says why).
//
// The kind "floor" sends the HNSW requests to a second server whose service answers each at
// once with a fixed response (CannedSearchService): no engine, so its CPU per query and its
// 1-client p50 are what gRPC alone costs a call on this machine, measured in the same run.
//
// Every answer is checked: OK with 10 results, exact for flat and approximate for HNSW;
// anything else is an error, counted by status code. Reported per level: QPS, p50 and p99
// latency, errors, the engine's QPS and QPS / engine QPS, and the process CPU per query (every
// thread: clients, gRPC, the search workers) with engine CPU / served CPU, a ratio that other
// programs taking the cores do not move, and the context switches per query of each side. The summary gives the medians over --runs runs,
// errors summed.
//
// The clients run in a second process (this program again, with --client-of), so the server's
// CPU per query is read apart from theirs: the server's process CPU per query minus the
// engine's is what the gRPC layer costs a query (admission, the queue, the reactor, protobuf
// and loopback TCP on the server's side). Both processes share the machine's cores, as they
// would on one host. --clients-in-process runs the clients in the server's process instead,
// as earlier versions of this bench did, and then the CPU figure counts both sides.
#include <CLI/CLI.hpp>
#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/machine.h"
#include "bench/search_world.h"
#include "src/worker_pool.h"

namespace vecmirror {
namespace {

using Clock = std::chrono::steady_clock;
using bench::SearchWorld;

struct Options {
  size_t n = 20000;
  size_t dim = 1536;
  size_t queries = 256;
  double seconds = 5;
  int runs = 3;
  std::vector<int> clients = {1, 4, 16, 64};
  std::vector<std::string> kinds = {"flat", "hnsw", "floor"};
  int search_threads = 0;
  int searches_in_handler = SearchServiceOptions().searches_in_handler;
  bool mutex_deadlock_detection = false;
  bool clients_in_process = false;
  std::string self;  // this program, run again as the client process
};

// What the client process is asked to do (--client-of ADDRESS ...).
struct ClientMode {
  std::string address;
  std::string requests_file;
  std::string kind = "hnsw";
  int clients = 1;
  double seconds = 5;
};

struct LevelResult {
  double qps = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  uint64_t calls = 0;
  uint64_t errors = 0;
  std::map<std::string, uint64_t> error_kinds;  // "RESOURCE_EXHAUSTED: ..." -> count
  double cpu_us_per_query = 0;         // the process's own CPU: the server's when apart
  double kernel_us_per_query = 0;      // the part of it in the kernel
  double client_cpu_us_per_query = 0;  // the client process's, when apart
  double switches_per_query = 0;         // the process's context switches, as the CPU above
  double client_switches_per_query = 0;  // the client process's, when apart
};

double Percentile(std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const size_t i = std::min(sorted.size() - 1, static_cast<size_t>(p * static_cast<double>(sorted.size())));
  return sorted[i];
}

// An answer as `kind` gives it: 10 results, exact from the flat index and approximate from
// HNSW. The floor's fixed answer is checked for its 10 results only: it is the HNSW index's
// answer, which a small --n turns into an exact scan.
bool AsIntended(const v1::SearchResponse& response, const std::string& kind) {
  if (response.results_size() != static_cast<int>(SearchWorld::kLimit)) return false;
  return kind == "floor" || response.exact() == (kind == "flat");
}

// Pins the calling thread to one CPU; false where it may not run there.
bool PinToCpu(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0;
}

// Reads or writes the whole buffer; false when the peer has gone.
bool Transfer(int fd, std::vector<char>& buffer, bool write) {
  for (size_t done = 0; done < buffer.size();) {
    const ssize_t n = write ? ::write(fd, buffer.data() + done, buffer.size() - done)
                            : ::read(fd, buffer.data() + done, buffer.size() - done);
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

// The p50 of `count` round trips over one loopback TCP connection, to a thread of this process
// that reads `request_bytes` and writes back `response_bytes`, with blocking reads and writes:
// what moving a call's bytes costs without gRPC, the floor under the floor below. The two
// threads are pinned to `client_cpu` and `echo_cpu`: on one CPU each wake-up is a switch there;
// across two it wakes the other CPU, which on a VM costs far more (unpinned, a run's p50 is one
// or the other). NaN where a thread cannot be pinned.
double TcpRoundTripP50Us(size_t request_bytes, size_t response_bytes, int count, int client_cpu,
                         int echo_cpu) {
  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (listener < 0 || ::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(listener, 1) != 0 ||
      ::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    std::fprintf(stderr, "cannot listen for the TCP round trip\n");
    std::exit(1);
  }
  const int one = 1;
  std::thread echo([&] {
    const int fd = ::accept(listener, nullptr, nullptr);
    if (fd < 0) return;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::vector<char> request(request_bytes), response(response_bytes);
    if (PinToCpu(echo_cpu)) {
      while (Transfer(fd, request, false) && Transfer(fd, response, true)) {
      }
    }
    ::close(fd);
  });
  std::vector<double> latencies;
  std::thread client([&] {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
      std::fprintf(stderr, "cannot connect for the TCP round trip\n");
      std::exit(1);
    }
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::vector<char> request(request_bytes), response(response_bytes);
    if (PinToCpu(client_cpu)) {
      for (int i = 0; i < count; ++i) {
        const auto started = Clock::now();
        if (!Transfer(fd, request, true) || !Transfer(fd, response, false)) break;
        latencies.push_back(std::chrono::duration<double, std::micro>(Clock::now() - started).count());
      }
    }
    ::close(fd);
  });
  client.join();
  echo.join();
  ::close(listener);
  if (latencies.size() != static_cast<size_t>(count)) return std::nan("");
  std::sort(latencies.begin(), latencies.end());
  return Percentile(latencies, 0.50);
}

// The floor: a VectorSearch service whose SearchSimilarEntities answers every call at once with
// one fixed response (the HNSW index's answer to a query, so that as many bytes go back), on a
// GrpcServer of its own with the same options. What a call to it costs is what gRPC costs any
// service on this machine: the least a search can add.
class CannedSearchService final : public v1::VectorSearch::CallbackService {
 public:
  explicit CannedSearchService(v1::SearchResponse response) : response_(std::move(response)) {}

  grpc::ServerUnaryReactor* SearchSimilarEntities(grpc::CallbackServerContext* context,
                                                  const v1::SearchRequest* /*request*/,
                                                  v1::SearchResponse* response) override {
    *response = response_;
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

 private:
  const v1::SearchResponse response_;
};

class FloorServer {
 public:
  FloorServer(SearchWorld& world, bool mutex_deadlock_detection) {
    grpc::ClientContext context;
    v1::SearchResponse canned;
    const grpc::Status status =
        world.stub().SearchSimilarEntities(&context, world.Request(IndexKind::kHnsw, 0), &canned);
    if (!status.ok()) {
      std::fprintf(stderr, "cannot get the floor's response: %s\n", status.error_message().c_str());
      std::exit(1);
    }
    response_bytes_ = canned.ByteSizeLong();
    service_ = std::make_unique<CannedSearchService>(std::move(canned));
    server_ = std::make_unique<GrpcServer>(
        GrpcServerOptions{.listen = "127.0.0.1:0",
                          .max_message_bytes = 64 << 20,
                          .mutex_deadlock_detection = mutex_deadlock_detection});
    if (Status s = server_->Start({service_.get()}); !s.ok()) {
      std::fprintf(stderr, "cannot start the floor's server: %s\n", s.ToString().c_str());
      std::exit(1);
    }
  }
  ~FloorServer() { server_->Shutdown(std::chrono::system_clock::now()); }

  std::string address() const { return "127.0.0.1:" + std::to_string(server_->bound_port()); }
  size_t response_bytes() const { return response_bytes_; }

 private:
  size_t response_bytes_ = 0;
  std::unique_ptr<CannedSearchService> service_;
  std::unique_ptr<GrpcServer> server_;
};

// Registry::Search on the queries in `threads` threads for `seconds`.
LevelResult MeasureEngine(SearchWorld& world, IndexKind kind, int threads, double seconds) {
  const IndexKey key = world.KeyOf(kind);
  std::atomic<uint64_t> calls{0}, errors{0};
  const double cpu_start = bench::ProcessCpuSeconds();
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  std::vector<std::thread> workers;
  std::vector<std::vector<double>> latencies_ms(threads);
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (size_t i = t * 7919; Clock::now() < end; ++i) {
        SearchQuery query;
        query.vector = world.query(i);
        query.limit = SearchWorld::kLimit;
        const auto started = Clock::now();
        const SearchResult result = world.registry().Search(key, query);
        latencies_ms[t].push_back(std::chrono::duration<double, std::milli>(Clock::now() - started).count());
        if (result.hits.size() != SearchWorld::kLimit || result.exact != (kind == IndexKind::kFlat)) ++errors;
        ++calls;
      }
    });
  }
  for (std::thread& w : workers) w.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  LevelResult r;
  std::vector<double> latencies;
  for (const auto& own : latencies_ms) latencies.insert(latencies.end(), own.begin(), own.end());
  std::sort(latencies.begin(), latencies.end());
  r.p50_ms = Percentile(latencies, 0.50);
  r.p99_ms = Percentile(latencies, 0.99);
  r.calls = calls.load();
  r.errors = errors.load();
  r.qps = static_cast<double>(r.calls) / elapsed;
  r.cpu_us_per_query = (bench::ProcessCpuSeconds() - cpu_start) * 1e6 / static_cast<double>(r.calls);
  return r;
}

// `n` clients: each a connection of its own with one SearchSimilarEntities call in flight until
// `end` (the next call starts from the completion of the last), all driven from one completion
// queue by the calling thread. That is gRPC's cheapest client path, so that the clients take as
// little of the shared cores as a client can: in a scratch comparison on this machine against
// an empty server, 60-66 µs of client CPU per call at 16 clients, against 105-110 µs for the
// callback API with one call per client and for blocking calls in a thread per client.
LevelResult MeasureClients(const std::string& address, const std::string& kind,
                           const std::vector<v1::SearchRequest>& requests, int n, double seconds) {
  struct Call {
    grpc::ClientContext context;
    v1::SearchResponse response;
    grpc::Status status;
    Clock::time_point started;
    std::unique_ptr<grpc::ClientAsyncResponseReader<v1::SearchResponse>> reader;
    int client = 0;
  };
  std::vector<std::unique_ptr<v1::VectorSearch::Stub>> stubs;
  for (int i = 0; i < n; ++i) {
    grpc::ChannelArguments args;
    args.SetInt("vecmirror.bench.client", i);  // distinct arguments: a connection of its own
    auto channel = grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
    if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10))) {
      std::fprintf(stderr, "client %d could not connect\n", i);
      std::exit(1);
    }
    stubs.push_back(v1::VectorSearch::NewStub(channel));
  }
  grpc::CompletionQueue queue;
  size_t next_request = 0;
  auto start_call = [&](int client) {
    auto* call = new Call;
    call->client = client;
    call->context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    const v1::SearchRequest& request = requests[(next_request++ * 7919) % requests.size()];
    call->started = Clock::now();
    call->reader = stubs[client]->AsyncSearchSimilarEntities(&call->context, request, &queue);
    call->reader->Finish(&call->response, &call->status, call);
  };

  LevelResult r;
  std::vector<double> latencies;
  const double cpu_start = bench::ProcessCpuSeconds();
  const double kernel_start = bench::ProcessKernelCpuSeconds();
  const uint64_t switches_start = bench::ProcessContextSwitches();
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  for (int i = 0; i < n; ++i) start_call(i);
  int in_flight = n;
  void* tag = nullptr;
  bool ok = false;
  while (in_flight > 0 && queue.Next(&tag, &ok)) {
    std::unique_ptr<Call> call(static_cast<Call*>(tag));
    const auto now = Clock::now();
    latencies.push_back(std::chrono::duration<double, std::milli>(now - call->started).count());
    if (!call->status.ok()) {
      ++r.error_kinds[std::to_string(call->status.error_code()) + ": " +
                      call->status.error_message().substr(0, 80)];
    } else if (!AsIntended(call->response, kind)) {
      ++r.error_kinds["OK but not 10 results of the index's kind"];
    }
    --in_flight;
    if (now < end) {
      start_call(call->client);
      ++in_flight;
    }
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  for (const auto& [what, count] : r.error_kinds) r.errors += count;
  std::sort(latencies.begin(), latencies.end());
  r.calls = latencies.size();
  r.qps = static_cast<double>(r.calls - r.errors) / elapsed;
  r.p50_ms = Percentile(latencies, 0.50);
  r.p99_ms = Percentile(latencies, 0.99);
  r.cpu_us_per_query = (bench::ProcessCpuSeconds() - cpu_start) * 1e6 / static_cast<double>(r.calls);
  r.kernel_us_per_query =
      (bench::ProcessKernelCpuSeconds() - kernel_start) * 1e6 / static_cast<double>(r.calls);
  r.switches_per_query =
      static_cast<double>(bench::ProcessContextSwitches() - switches_start) / static_cast<double>(r.calls);
  return r;
}

// The requests, length-prefixed serialized protos, for the client process to read back.
bool WriteRequests(const std::string& path, const std::vector<v1::SearchRequest>& requests) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return false;
  bool ok = true;
  for (const v1::SearchRequest& r : requests) {
    const std::string bytes = r.SerializeAsString();
    const uint32_t size = static_cast<uint32_t>(bytes.size());
    ok = ok && std::fwrite(&size, sizeof size, 1, f) == 1 && std::fwrite(bytes.data(), 1, size, f) == size;
  }
  return std::fclose(f) == 0 && ok;
}

std::vector<v1::SearchRequest> ReadRequests(const std::string& path) {
  std::vector<v1::SearchRequest> requests;
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return requests;
  uint32_t size = 0;
  std::string bytes;
  while (std::fread(&size, sizeof size, 1, f) == 1) {
    bytes.resize(size);
    if (std::fread(bytes.data(), 1, size, f) != size) break;
    requests.emplace_back().ParseFromString(bytes);
  }
  std::fclose(f);
  return requests;
}

// The client process: runs one level against the server and prints its result as lines that
// RunClientProcess parses ("result ..." and one "error COUNT TEXT" per kind of error).
int ClientMain(const ClientMode& mode) {
  const std::vector<v1::SearchRequest> requests = ReadRequests(mode.requests_file);
  if (requests.empty()) {
    std::fprintf(stderr, "no requests in %s\n", mode.requests_file.c_str());
    return 1;
  }
  const LevelResult r = MeasureClients(mode.address, mode.kind, requests, mode.clients, mode.seconds);
  std::printf("result %.3f %.4f %.4f %llu %llu %.3f %.3f\n", r.qps, r.p50_ms, r.p99_ms,
              static_cast<unsigned long long>(r.calls), static_cast<unsigned long long>(r.errors),
              r.cpu_us_per_query, r.switches_per_query);
  for (const auto& [what, count] : r.error_kinds) {
    std::printf("error %llu %s\n", static_cast<unsigned long long>(count), what.c_str());
  }
  return 0;
}

// One level with the clients in their own process; the CPU this process spends meanwhile is
// the server's.
LevelResult RunClientProcess(const Options& options, const std::string& address, const std::string& kind,
                             const std::string& requests_file, int n) {
  std::ostringstream command;
  command << "'" << options.self << "' --client-of " << address << " --requests " << requests_file
          << " --kinds " << kind << " --clients " << n << " --seconds " << options.seconds;
  LevelResult r;
  const double cpu_start = bench::ProcessCpuSeconds();
  const double kernel_start = bench::ProcessKernelCpuSeconds();
  const uint64_t switches_start = bench::ProcessContextSwitches();
  std::FILE* child = popen(command.str().c_str(), "r");
  if (child == nullptr) {
    std::fprintf(stderr, "cannot run the client process\n");
    std::exit(1);
  }
  char line[512];
  bool got_result = false;
  while (std::fgets(line, sizeof line, child) != nullptr) {
    unsigned long long calls = 0, errors = 0;
    int used = 0;
    if (std::sscanf(line, "result %lf %lf %lf %llu %llu %lf %lf", &r.qps, &r.p50_ms, &r.p99_ms, &calls,
                    &errors, &r.client_cpu_us_per_query, &r.client_switches_per_query) == 7) {
      r.calls = calls;
      r.errors = errors;
      got_result = true;
    } else if (std::sscanf(line, "error %llu %n", &errors, &used) == 1) {
      std::string what(line + used);
      if (!what.empty() && what.back() == '\n') what.pop_back();
      r.error_kinds[what] += errors;
    }
  }
  if (pclose(child) != 0 || !got_result || r.calls == 0) {
    std::fprintf(stderr, "the client process failed: %s\n", command.str().c_str());
    std::exit(1);
  }
  r.cpu_us_per_query = (bench::ProcessCpuSeconds() - cpu_start) * 1e6 / static_cast<double>(r.calls);
  r.kernel_us_per_query =
      (bench::ProcessKernelCpuSeconds() - kernel_start) * 1e6 / static_cast<double>(r.calls);
  r.switches_per_query =
      static_cast<double>(bench::ProcessContextSwitches() - switches_start) / static_cast<double>(r.calls);
  return r;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

int Main(const Options& options) {
  const int workers = ResolveWorkerThreads(options.search_threads);
  std::printf("vecmirror_serving_bench: n=%zu dim=%zu queries=%zu limit=%u, %.1f s per level, %d runs\n",
              options.n, options.dim, options.queries, SearchWorld::kLimit, options.seconds, options.runs);
  std::printf("machine: %u hardware threads, %s; search workers %d; load average before: %s\n",
              std::thread::hardware_concurrency(), bench::CpuModel().c_str(), workers,
              bench::LoadAverage().c_str());
  SearchServiceOptions service;
  service.search_threads = options.search_threads;
  service.searches_in_handler = options.searches_in_handler;
  std::printf("searches in the gRPC handler: at most %s at once; abseil mutex deadlock detection %s\n",
              options.searches_in_handler < 0 ? "every search thread's slot"
                                              : std::to_string(options.searches_in_handler).c_str(),
              options.mutex_deadlock_detection ? "on" : "off");
  SearchWorld world(SearchWorld::Options{options.n, options.dim, options.queries, service,
                                         options.mutex_deadlock_detection});
  std::optional<FloorServer> floor_server;
  if (std::count(options.kinds.begin(), options.kinds.end(), "floor") > 0) {
    floor_server.emplace(world, options.mutex_deadlock_detection);
  }

  // Each level is measured right after an engine measurement of its own, and its ratios are to
  // that one: on a shared machine the load drifts, and a baseline taken minutes apart would turn
  // the drift into a gain or a loss.
  // One client's calls are compared with the engine's searches one at a time: served p50 minus
  // the engine's p50 in one thread is what a call adds to a search's latency (issue 10 item 3).
  struct Pair {
    LevelResult engine, served;
    std::optional<LevelResult> engine_one_thread;  // 1-client levels only
  };
  std::map<std::string, std::map<int, std::vector<Pair>>> series;
  // One per run, next to the floor's levels: both threads on CPU 0, and on CPUs 0 and 1.
  std::vector<double> tcp_one_cpu_us, tcp_two_cpus_us;
  for (int run = 1; run <= options.runs; ++run) {
    for (const std::string& kind_name : options.kinds) {
      // The floor is sent the HNSW index's requests and answers as it does.
      const bool floor = kind_name == "floor";
      const IndexKind kind = kind_name == "flat" ? IndexKind::kFlat : IndexKind::kHnsw;
      const std::string address = floor ? floor_server->address() : world.address();
      std::vector<v1::SearchRequest> requests;
      for (size_t q = 0; q < world.queries(); ++q) requests.push_back(world.Request(kind, q));
      const std::string requests_file = "/tmp/vecmirror-serving-bench-" + std::to_string(::getpid()) + ".requests";
      if (!options.clients_in_process && !WriteRequests(requests_file, requests)) {
        std::fprintf(stderr, "cannot write %s\n", requests_file.c_str());
        return 1;
      }
      std::printf("\nrun %d, %s (load %s)\n  %-10s %10s %9s %9s %8s %8s %8s %10s %9s\n", run,
                  kind_name.c_str(), bench::LoadAverage().c_str(), "level", "QPS", "p50 ms", "p99 ms",
                  "errors", "CPU us", "engine QPS", "engine CPU", "ratio");
      if (floor) {
        const size_t request_bytes = requests.front().ByteSizeLong();
        tcp_one_cpu_us.push_back(
            TcpRoundTripP50Us(request_bytes, floor_server->response_bytes(), 5000, 0, 0));
        tcp_two_cpus_us.push_back(
            TcpRoundTripP50Us(request_bytes, floor_server->response_bytes(), 5000, 0, 1));
        std::printf("  loopback TCP round trip of a call's bytes, no gRPC: p50 %.1f µs on one CPU, "
                    "%.1f µs across two\n",
                    tcp_one_cpu_us.back(), tcp_two_cpus_us.back());
      }
      for (int n : options.clients) {
        Pair pair;
        if (!floor) {
          pair.engine = MeasureEngine(world, kind, workers, options.seconds);
          if (n == 1) pair.engine_one_thread = MeasureEngine(world, kind, 1, options.seconds);
        }
        pair.served = options.clients_in_process
                          ? MeasureClients(address, kind_name, requests, n, options.seconds)
                          : RunClientProcess(options, address, kind_name, requests_file, n);
        const LevelResult& r = pair.served;
        std::printf("  %-10s %10.1f %9.2f %9.2f %8llu %8.0f %10.1f %9.0f %9.3f\n",
                    (std::to_string(n) + " clients").c_str(), r.qps, r.p50_ms, r.p99_ms,
                    static_cast<unsigned long long>(r.errors + pair.engine.errors), r.cpu_us_per_query,
                    pair.engine.qps, pair.engine.cpu_us_per_query,
                    floor ? 0.0 : r.qps / pair.engine.qps);
        if (pair.engine_one_thread) {
          std::printf("  %-10s %10.1f %9.3f %9.3f   (one search at a time, in process)\n", "engine",
                      pair.engine_one_thread->qps, pair.engine_one_thread->p50_ms,
                      pair.engine_one_thread->p99_ms);
        }
        for (const auto& [what, count] : r.error_kinds) {
          std::printf("      %llu x %s\n", static_cast<unsigned long long>(count), what.c_str());
        }
        std::fflush(stdout);
        series[kind_name][n].push_back(pair);
      }
      std::remove(requests_file.c_str());
    }
  }

  const ServingCounters counters = world.service().Counters();
  std::printf("\nserver refusals over the whole bench: queue full %llu, request bytes %llu, waiting %llu; "
              "searches run in their gRPC handler: %llu\n",
              static_cast<unsigned long long>(counters.admission.refused_queue_full),
              static_cast<unsigned long long>(counters.admission.refused_request_bytes),
              static_cast<unsigned long long>(counters.admission.refused_waiting_full),
              static_cast<unsigned long long>(counters.admission.run_in_handler));
  std::printf("\nmedians of %d runs (errors: the sum over all runs). Engine: Registry::Search in %d threads, "
              "measured just before each level;\nQPS ratio = QPS / that engine QPS; CPU ratio = engine CPU "
              "per query / served CPU per query (process CPU, all threads); %s\n\n",
              options.runs, workers,
              options.clients_in_process ? "clients in the server's process: served CPU counts both sides"
                                         : "clients in their own process: served CPU is the server's; "
                                           "gRPC µs = served CPU - engine CPU; kernel µs = the served CPU's system time");
  std::printf("| index | clients | QPS | p50 ms | p99 ms | errors | engine QPS | QPS ratio | CPU µs/query "
              "| engine CPU µs/query | CPU ratio | gRPC µs/query | kernel µs/query | client CPU µs/query "
              "| engine p50 ms, 1 thread | added p50 µs | server switches/query | client switches/query |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (const std::string& kind_name : options.kinds) {
    for (int n : options.clients) {
      std::vector<double> qps, p50, p99, engine_qps, ratio, cpu, engine_cpu, cpu_ratio, grpc_cpu, kernel,
          client_cpu, engine_p50, added_p50, switches, client_switches;
      uint64_t errors = 0;
      for (const Pair& p : series[kind_name][n]) {
        qps.push_back(p.served.qps);
        p50.push_back(p.served.p50_ms);
        p99.push_back(p.served.p99_ms);
        engine_qps.push_back(p.engine.qps);
        ratio.push_back(p.served.qps / p.engine.qps);
        cpu.push_back(p.served.cpu_us_per_query);
        engine_cpu.push_back(p.engine.cpu_us_per_query);
        cpu_ratio.push_back(p.engine.cpu_us_per_query / p.served.cpu_us_per_query);
        grpc_cpu.push_back(p.served.cpu_us_per_query - p.engine.cpu_us_per_query);
        kernel.push_back(p.served.kernel_us_per_query);
        client_cpu.push_back(p.served.client_cpu_us_per_query);
        switches.push_back(p.served.switches_per_query);
        client_switches.push_back(p.served.client_switches_per_query);
        errors += p.served.errors + p.engine.errors;
        if (p.engine_one_thread) {
          engine_p50.push_back(p.engine_one_thread->p50_ms);
          added_p50.push_back((p.served.p50_ms - p.engine_one_thread->p50_ms) * 1000);
        } else if (kind_name == "floor" && n == 1) {
          added_p50.push_back(p.served.p50_ms * 1000);  // no search: the whole call is added
        }
      }
      const auto median_or_dash = [](const std::vector<double>& v, const char* format) {
        if (v.empty()) return std::string("-");
        char text[32];
        std::snprintf(text, sizeof text, format, Median(v));
        return std::string(text);
      };
      if (kind_name == "floor") engine_qps = ratio = engine_cpu = cpu_ratio = {};  // no engine
      std::printf("| %s | %d | %.0f | %.2f | %.2f | %llu | %s | %s | %.0f | %s | %s | %s | %.0f | %s | %s | %s | %.1f | %s |\n",
                  kind_name.c_str(), n, Median(qps), Median(p50), Median(p99),
                  static_cast<unsigned long long>(errors), median_or_dash(engine_qps, "%.0f").c_str(),
                  median_or_dash(ratio, "%.3f").c_str(), Median(cpu),
                  median_or_dash(engine_cpu, "%.0f").c_str(), median_or_dash(cpu_ratio, "%.3f").c_str(),
                  options.clients_in_process ? "-" : std::to_string(std::lround(Median(grpc_cpu))).c_str(),
                  Median(kernel),
                  options.clients_in_process ? "-" : std::to_string(std::lround(Median(client_cpu))).c_str(),
                  median_or_dash(engine_p50, "%.3f").c_str(), median_or_dash(added_p50, "%.0f").c_str(),
                  Median(switches),
                  options.clients_in_process ? "-" : median_or_dash(client_switches, "%.1f").c_str());
    }
  }
  if (!tcp_one_cpu_us.empty()) {
    std::printf("\nloopback TCP round trip of a call's request and response bytes, no gRPC (blocking "
                "reads and writes, one connection), p50, median of %zu runs: %.1f µs with both ends "
                "on one CPU, %.1f µs on two\n",
                tcp_one_cpu_us.size(), Median(tcp_one_cpu_us), Median(tcp_two_cpus_us));
  }
  std::printf("\nload average after: %s\n", bench::LoadAverage().c_str());
  return 0;
}

}  // namespace
}  // namespace vecmirror

int main(int argc, char** argv) {
  vecmirror::Options options;
  vecmirror::ClientMode client;
  CLI::App app{"vecmirror_serving_bench: QPS, latency and errors of the server under 1 to 64 concurrent "
               "clients over loopback, next to the engine's in-process throughput"};
  app.add_option("--n", options.n, "rows per index")->capture_default_str();
  app.add_option("--dim", options.dim, "dimensions")->capture_default_str();
  app.add_option("--queries", options.queries, "distinct queries, cycled")->capture_default_str();
  app.add_option("--seconds", options.seconds, "seconds per level")->capture_default_str();
  app.add_option("--runs", options.runs, "runs; the summary gives medians")->capture_default_str();
  app.add_option("--clients", options.clients, "client levels")->capture_default_str()->delimiter(',');
  app.add_option("--kinds", options.kinds,
                 "index kinds: flat, hnsw; floor = a service that answers every call at once with a "
                 "fixed response (what gRPC alone costs)")
      ->capture_default_str()->delimiter(',')
      ->check(CLI::IsMember({"flat", "hnsw", "floor"}));
  app.add_option("--search-threads", options.search_threads, "server search threads (0 = one per core)")
      ->capture_default_str();
  app.add_option("--searches-in-handler", options.searches_in_handler,
                 "searches that may run in the gRPC thread that received them when a worker slot is free "
                 "(SearchServiceOptions::searches_in_handler; 0 = all through the queue, -1 = up to every "
                 "search thread)")
      ->capture_default_str();
  app.add_flag("--mutex-deadlock-detection", options.mutex_deadlock_detection,
               "leave abseil's mutex deadlock detection on (as before; off by default)");
  app.add_flag("--clients-in-process", options.clients_in_process,
               "run the clients in the server's process (the CPU figure then counts both)");
  app.add_option("--client-of", client.address, "(internal) be the client process of this server");
  app.add_option("--requests", client.requests_file, "(internal) the client process's requests");
  CLI11_PARSE(app, argc, argv);
  if (!client.address.empty()) {
    client.kind = options.kinds.front();
    client.clients = options.clients.front();
    client.seconds = options.seconds;
    return vecmirror::ClientMain(client);
  }
  // The program's own path: popen's shell would resolve /proc/self/exe to itself.
  char self[4096];
  const ssize_t length = readlink("/proc/self/exe", self, sizeof self - 1);
  if (length <= 0) return 1;
  options.self.assign(self, static_cast<size_t>(length));
  return vecmirror::Main(options);
}
