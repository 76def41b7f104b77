// vecmirror_restart_bench: how much sooner the real vecmirror-server is ANN-ready after a restart
// from its durable snapshot (--snapshot-dir) than after a fresh load, and whether a snapshot being
// written slows concurrent searches, against a real PostgreSQL.
//
// For each --sizes n it creates a scratch database in the throwaway cluster
// (scripts/pg-cluster.sh start DIR), generates n completed text-embedding-3-small (1536-d)
// embeddings of one tenant with tools/datagen (one index of n rows, HNSW once built), then
// --repetitions times, alternating:
//
//   fresh    the snapshot directory emptied; the server started (default index options, so the
//            maintenance thread builds the HNSW graph after the load), timed from exec until it
//            is ANN-ready: GetMirrorStatus says loaded (the point where health turns SERVING,
//            src/main.cc) and ListIndexes lists every index as HNSW with no rebuild running.
//            Then SIGTERM, which writes the snapshot the next restart loads.
//   restart  the server started again on that snapshot, timed the same way; its log must say
//            "resumed from snapshot". Then SIGTERM.
//
// Then the searches: one client thread, unfiltered top-10 ANN searches ("more like this" of
// entities of the index) for --window seconds at a time while a writer commits --write-rate
// embedding updates per second, against two restarts of the server that differ in one flag:
//   quiet      --snapshot-every-changes 1000000000 (no snapshot is written in the window)
//   snapshots  --snapshot-every-changes --snapshot-changes (snapshots written back to back)
// alternated --windows times each; p50/p99 per window, and medians of them. The writer runs in
// both, so the difference is the snapshot writes. The share of the window during which a
// snapshot was being written (MirrorStatus.snapshots.writing, sampled) is reported.
//
// Usage: vecmirror_restart_bench --pgdir DIR [--sizes 50000,100000] [--repetitions 3]
//          [--window 10] [--windows 3] [--write-rate 100] [--snapshot-changes 200]
//          [--server PATH] [--timeout 1800]
// The scratch database, the slot and the snapshot directory are removed at the end.
#include <arpa/inet.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/machine.h"
#include "index/model_catalog.h"
#include "tests/support/pg_env.h"
#include "tests/support/server_process.h"
#include "tools/datagen/loader.h"
#include "vecmirror/v1/vecmirror.grpc.pb.h"

namespace vecmirror {
namespace {

using Clock = std::chrono::steady_clock;
constexpr char kSlot[] = "vecmirror_restart_bench";

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

double Median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t rank = size_t(std::ceil(p * double(values.size())));
  return values[std::min(values.size() - 1, rank == 0 ? 0 : rank - 1)];
}

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "vecmirror_restart_bench: %s\n", message.c_str());
  std::exit(1);
}

struct Options {
  std::string pgdir;
  std::vector<uint32_t> sizes = {50000, 100000};
  int repetitions = 3;
  double window_s = 10;
  int windows = 3;
  int write_rate = 100;
  int snapshot_changes = 200;
  std::string server;
  int timeout_s = 1800;
  std::string model = "text-embedding-3-small";  // a default model: its dimension is known
};

using ConnPtr = std::unique_ptr<PGconn, decltype(&PQfinish)>;

ConnPtr Connect(const std::string& conninfo) {
  ConnPtr conn(PQconnectdb(conninfo.c_str()), &PQfinish);
  if (PQstatus(conn.get()) != CONNECTION_OK) Die("cannot connect: " + std::string(PQerrorMessage(conn.get())));
  return conn;
}

std::vector<std::string> Column(PGconn* conn, const std::string& sql) {
  PGresult* result = PQexec(conn, sql.c_str());
  if (PQresultStatus(result) != PGRES_TUPLES_OK) {
    const std::string error = PQresultErrorMessage(result);
    PQclear(result);
    Die(sql + ": " + error);
  }
  std::vector<std::string> values;
  for (int i = 0; i < PQntuples(result); ++i) values.push_back(PQgetvalue(result, i, 0));
  PQclear(result);
  return values;
}

void Exec(PGconn* conn, const std::string& sql) {
  PGresult* result = PQexec(conn, sql.c_str());
  const ExecStatusType status = PQresultStatus(result);
  const std::string error = PQresultErrorMessage(result);
  PQclear(result);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) Die(sql + ": " + error);
}

// Whether something accepts TCP connections on 127.0.0.1:port.
bool PortOpen(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(uint16_t(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool open = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return open;
}

// Loaded (health SERVING) and every index HNSW with no rebuild running.
bool AnnReady(v1::VectorSearch::Stub& server) {
  grpc::ClientContext status_context;
  status_context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(1));
  // Wait for the channel to connect rather than fail fast while it backs off: the time to ready
  // must be the server's, not the client's reconnect schedule.
  status_context.set_wait_for_ready(true);
  v1::MirrorStatus mirror;
  if (!server.GetMirrorStatus(&status_context, v1::GetMirrorStatusRequest(), &mirror).ok() ||
      !mirror.loaded()) {
    return false;
  }
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(1));
  v1::ListIndexesResponse indexes;
  if (!server.ListIndexes(&context, v1::ListIndexesRequest(), &indexes).ok() ||
      indexes.indexes_size() == 0) {
    return false;
  }
  for (const auto& index : indexes.indexes()) {
    if (index.kind() != v1::INDEX_KIND_HNSW || index.rebuilding()) return false;
  }
  return true;
}

struct Server {
  std::unique_ptr<testing::ServerProcess> process;
  double seconds_to_ready = 0;
  uint64_t rss_bytes = 0;  // the server's resident set once ANN-ready and settled
};

// VmRSS of a process, from /proc/<pid>/status; 0 if unreadable.
uint64_t ResidentBytes(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  }
  return 0;
}

// VmRSS once it has settled: just after ANN-ready the promotion frees its copies, and the
// snapshot after a load holds a copy of the mirror's state while it writes (and for a moment
// after its status says it is done: the writer frees the copy then). Read every half second
// until two readings in a row, each taken when no snapshot was being written, agree within 0.5%;
// at most 60 s.
uint64_t SettledResidentBytes(testing::ServerProcess& server) {
  uint64_t last = 0;
  bool last_quiet = false;
  for (int i = 0; i < 120; ++i) {
    if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(500));
    const bool quiet = !server.Status().snapshots().writing();
    const uint64_t now = ResidentBytes(server.pid());
    const bool settled = now <= last + last / 200 && last <= now + now / 200;
    if (settled && quiet && last_quiet) return now;
    last = now;
    last_quiet = quiet;
  }
  return last;
}

Server StartServer(const Options& options, const std::string& conninfo, const std::string& snapshot_dir,
                   uint64_t every_changes, const std::string& log_path) {
  std::remove(log_path.c_str());
  Server server;
  server.process = std::make_unique<testing::ServerProcess>(
      conninfo,
      std::vector<std::string>{"--slot", kSlot, "--snapshot-dir", snapshot_dir,
                               "--snapshot-interval-seconds", "86400", "--snapshot-every-changes",
                               std::to_string(every_changes)},
      options.server, log_path);
  const auto start = Clock::now();
  server.process->Start();
  if (getenv("RESTART_BENCH_DEBUG")) {
    const auto now = std::chrono::system_clock::now();
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
    std::printf("     started %s at %lld.%03lld\n", log_path.c_str(), (long long)(ms / 1000 % 86400), (long long)(ms % 1000));
  }
  const auto deadline = start + std::chrono::seconds(options.timeout_s);
  // A channel of its own, made once the port is open: a channel that tried before the server
  // listened backs off for seconds, which would be the client's delay, not the server's.
  const std::string address = server.process->address();
  const int port = std::stoi(address.substr(address.rfind(':') + 1));
  std::unique_ptr<v1::VectorSearch::Stub> stub;
  for (;;) {
    if (Clock::now() > deadline) Die("not ANN-ready in time; see " + log_path);
    if (::kill(server.process->pid(), 0) != 0) Die("the server died; see " + log_path);
    if (!stub && PortOpen(port)) {
      stub = v1::VectorSearch::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
      if (getenv("RESTART_BENCH_DEBUG")) std::printf("     port open after %.3f s\n", Seconds(start));
    }
    if (stub && AnnReady(*stub)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  server.seconds_to_ready = Seconds(start);
  server.rss_bytes = SettledResidentBytes(*server.process);
  if (const char* dir = getenv("RESTART_BENCH_SMAPS")) {
    // Where the resident set lies, mapping by mapping (heap, thread arenas, stacks, the binary's
    // pages): <dir>/<fresh|restart>.smaps, the last run's.
    std::ifstream smaps("/proc/" + std::to_string(server.process->pid()) + "/smaps");
    const std::string name = std::filesystem::path(log_path).stem().string() + ".smaps";
    std::ofstream((std::filesystem::path(dir) / name).string()) << smaps.rdbuf();
  }
  if (getenv("RESTART_BENCH_DEBUG")) std::printf("     ready after %.3f s\n", server.seconds_to_ready);
  return server;
}

void Stop(Server& server) {
  server.process->Signal(SIGTERM);
  if (!server.process->WaitExit(std::chrono::seconds(600))) Die("the server did not stop on SIGTERM");
}

struct Window {
  double p50_ms = 0, p99_ms = 0;
  size_t searches = 0, errors = 0;
  double writing_share = 0;  // of the status samples, the share with a snapshot being written
  uint64_t snapshots = 0;    // written during the window
};

// One client searching, a writer committing updates, a sampler polling the snapshot status.
Window Measure(const Options& options, testing::ServerProcess& server, const std::string& conninfo,
               const std::string& tenant, const std::vector<std::string>& entities) {
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    ConnPtr conn = Connect(conninfo);
    std::mt19937_64 rng(7);
    const int batch = std::max(1, options.write_rate / 10);
    auto next = Clock::now();
    while (!stop.load()) {
      std::string ids;
      for (int i = 0; i < batch; ++i) {
        ids += (i ? ",'" : "'") + entities[rng() % entities.size()] + "'";
      }
      // A new vector for each (the old one scaled: same direction, a real change in the WAL).
      Exec(conn.get(), "UPDATE embedding SET vector = (SELECT array_agg(x * 1.001) FROM "
                       "unnest(vector) x) WHERE model = '" + options.model +
                       "' AND entity_id IN (" + ids + ")");
      next += std::chrono::milliseconds(100);
      std::this_thread::sleep_until(next);
    }
  });
  std::atomic<size_t> samples{0}, writing{0};
  auto snapshots_written = [&] { return server.Status().snapshots().written(); };
  const uint64_t written_before = snapshots_written();
  std::thread sampler([&] {
    while (!stop.load()) {
      if (server.Status().snapshots().writing()) ++writing;
      ++samples;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
  Window window;
  std::vector<double> latencies;
  std::mt19937_64 rng(11);
  const auto start = Clock::now();
  while (Seconds(start) < options.window_s) {
    v1::SearchRequest request;
    request.set_tenant_id(tenant);
    request.set_model(options.model);
    request.set_query_entity_id(entities[rng() % entities.size()]);
    request.set_limit(10);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::SearchResponse response;
    const auto sent = Clock::now();
    const grpc::Status status = server.stub().SearchSimilarEntities(&context, request, &response);
    const double ms = Seconds(sent) * 1e3;
    if (status.ok()) {
      latencies.push_back(ms);
    } else {
      ++window.errors;
    }
  }
  stop = true;
  writer.join();
  sampler.join();
  window.searches = latencies.size();
  window.p50_ms = Percentile(latencies, 0.50);
  window.p99_ms = Percentile(latencies, 0.99);
  window.writing_share = samples ? double(writing) / double(samples) : 0;
  window.snapshots = snapshots_written() - written_before;
  return window;
}

void RunSize(const Options& options, uint32_t rows, const std::filesystem::path& work) {
  std::unique_ptr<testing::ScratchDatabase> db;
  if (Status s = testing::ScratchDatabase::CreateWithSchema("restart_bench", &db, "real[]"); !s.ok()) {
    Die(s.ToString());
  }
  ConnPtr conn = Connect(db->conninfo());
  const auto dim = ModelCatalog().DimensionOf(options.model);
  if (!dim) Die("unknown --model " + options.model);
  datagen::DatasetSpec spec;
  spec.tenants = 1;
  spec.entities_per_tenant = rows;
  spec.models = {{options.model, *dim}};
  spec.versioned_share = spec.deleted_share = spec.pending_share = spec.failed_share = 0;
  spec.bad_share = 0;
  auto start = Clock::now();
  datagen::LoadStats stats;
  if (Status s = datagen::LoadDataset(conn.get(), spec, {}, &stats); !s.ok()) Die(s.ToString());
  Exec(conn.get(), "VACUUM (ANALYZE) entity, embedding");
  std::printf("\n== %u rows x %u-d: generated %llu embedding rows in %.1f s; load average %s\n", rows,
              *dim, static_cast<unsigned long long>(stats.embedding_rows), Seconds(start),
              bench::LoadAverage().c_str());
  const std::string tenant = Column(conn.get(), "SELECT id::text FROM tenant LIMIT 1").at(0);
  const std::vector<std::string> entities =
      Column(conn.get(), "SELECT entity_id::text FROM embedding ORDER BY entity_id LIMIT 2000");

  const std::string snapshot_dir = (work / "snapshots").string();
  auto log = [&](const std::string& name) { return (work / (name + ".log")).string(); };
  std::vector<double> fresh_s, restart_s, fresh_rss, restart_rss;
  std::printf("%-4s %12s %12s %8s %14s %14s  %s\n", "rep", "fresh s", "restart s", "ratio",
              "fresh RSS/row", "restart RSS/row", "load average");
  for (int r = 0; r < options.repetitions; ++r) {
    std::filesystem::remove_all(snapshot_dir);
    Server fresh = StartServer(options, db->conninfo(), snapshot_dir, 1000000000, log("fresh"));
    fresh_s.push_back(fresh.seconds_to_ready);
    fresh_rss.push_back(double(fresh.rss_bytes) / rows);
    {
      // The load's own account: each table's COPY (rows/s) and the hand-over to the indexes.
      std::istringstream lines(fresh.process->Log());
      for (std::string line; std::getline(lines, line);) {
        if (line.find("(done)") != std::string::npos ||
            line.find("initial load applied") != std::string::npos) {
          std::printf("     fresh log: %s\n", line.c_str());
        }
      }
    }
    Stop(fresh);  // writes the snapshot
    Server again = StartServer(options, db->conninfo(), snapshot_dir, 1000000000, log("restart"));
    restart_s.push_back(again.seconds_to_ready);
    restart_rss.push_back(double(again.rss_bytes) / rows);
    if (again.process->Log().find("resumed from snapshot") == std::string::npos) {
      Die("the restart did not resume from the snapshot; see " + log("restart"));
    }
    if (r == 0) {
      // The server's own account of the resume (and anything it had to retry first).
      std::istringstream lines(again.process->Log());
      for (std::string line; std::getline(lines, line);) {
        if (getenv("RESTART_BENCH_DEBUG") || line.find("resumed from snapshot") != std::string::npos ||
            line.find("warn") != std::string::npos || line.find("error") != std::string::npos) {
          std::printf("     restart log: %s\n", line.c_str());
        }
      }
    }
    Stop(again);
    std::printf("%-4d %12.3f %12.3f %7.1fx %14.0f %14.0f  %s\n", r + 1, fresh_s.back(),
                restart_s.back(), fresh_s.back() / restart_s.back(), fresh_rss.back(),
                restart_rss.back(), bench::LoadAverage().c_str());
    std::fflush(stdout);
  }
  std::printf("median: fresh %.3f s, restart %.3f s, fresh / restart %.1fx; server RSS per row "
              "once ANN-ready: fresh %.0f B, restart %.0f B (raw vector %u B)\n",
              Median(fresh_s), Median(restart_s), Median(fresh_s) / Median(restart_s),
              Median(fresh_rss), Median(restart_rss), *dim * 4);

  std::printf("\nsearches (1 client, top-10 ANN, unfiltered) with a writer at %d updates/s, %.0f s "
              "windows:\n", options.write_rate, options.window_s);
  std::printf("%-4s %-10s %9s %9s %9s %7s %10s %10s\n", "win", "case", "p50 ms", "p99 ms",
              "searches", "errors", "snapshots", "writing");
  std::vector<double> p50[2], p99[2];
  for (int w = 0; w < options.windows; ++w) {
    for (int snapshots = 0; snapshots < 2; ++snapshots) {
      Server server = StartServer(options, db->conninfo(), snapshot_dir,
                                  snapshots ? uint64_t(options.snapshot_changes) : 1000000000,
                                  log(snapshots ? "snapshots" : "quiet"));
      const Window window = Measure(options, *server.process, db->conninfo(), tenant, entities);
      Stop(server);
      p50[snapshots].push_back(window.p50_ms);
      p99[snapshots].push_back(window.p99_ms);
      std::printf("%-4d %-10s %9.3f %9.3f %9zu %7zu %10llu %9.0f%%\n", w + 1,
                  snapshots ? "snapshots" : "quiet", window.p50_ms, window.p99_ms, window.searches,
                  window.errors, static_cast<unsigned long long>(window.snapshots),
                  window.writing_share * 100);
      std::fflush(stdout);
    }
  }
  std::printf("median: quiet p50 %.3f ms p99 %.3f ms; snapshots p50 %.3f ms p99 %.3f ms "
              "(p99 %+.1f%%)\n",
              Median(p50[0]), Median(p99[0]), Median(p50[1]), Median(p99[1]),
              (Median(p99[1]) / Median(p99[0]) - 1) * 100);
  Exec(conn.get(), std::string("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                               "WHERE slot_name = '") + kSlot + "'");
  std::filesystem::remove_all(snapshot_dir);
}

std::string DefaultServerPath() {
  std::error_code error;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", error);
  if (error) return "vecmirror-server";
  return (self.parent_path().parent_path() / "src" / "vecmirror-server").string();
}

int Run(const Options& options) {
  if (!options.pgdir.empty()) setenv("VECMIRROR_TEST_PGDIR", options.pgdir.c_str(), 1);
  std::printf("vecmirror_restart_bench: sizes");
  for (uint32_t n : options.sizes) std::printf(" %u", n);
  std::printf(", %d repetitions\nmachine: %u CPUs (nproc), %s; load average %s\n",
              options.repetitions, std::thread::hardware_concurrency(), bench::CpuModel().c_str(),
              bench::LoadAverage().c_str());
  const std::filesystem::path work = std::filesystem::temp_directory_path() /
                                     ("vecmirror_restart_bench." + std::to_string(getpid()));
  std::filesystem::create_directories(work);
  for (uint32_t rows : options.sizes) RunSize(options, rows, work);
  std::printf("load average after: %s\n", bench::LoadAverage().c_str());
  std::filesystem::remove_all(work);
  return 0;
}

}  // namespace
}  // namespace vecmirror

int main(int argc, char** argv) {
  vecmirror::Options options;
  options.server = vecmirror::DefaultServerPath();
  if (const char* dir = std::getenv("VECMIRROR_TEST_PGDIR")) options.pgdir = dir;
  CLI::App app{"vecmirror_restart_bench: start to ANN-ready from a snapshot vs a fresh load, and "
               "search latency while snapshots are written"};
  app.add_option("--pgdir", options.pgdir, "directory of a running scripts/pg-cluster.sh cluster");
  app.add_option("--sizes", options.sizes, "embedding rows of the one index, per run")
      ->delimiter(',')->capture_default_str();
  app.add_option("--repetitions", options.repetitions, "fresh/restart pairs")
      ->capture_default_str()->check(CLI::Range(1, 50));
  app.add_option("--window", options.window_s, "seconds of one search window")->capture_default_str();
  app.add_option("--windows", options.windows, "quiet/snapshots window pairs")
      ->capture_default_str()->check(CLI::Range(1, 50));
  app.add_option("--write-rate", options.write_rate, "embedding updates per second during windows")
      ->capture_default_str()->check(CLI::Range(1, 100000));
  app.add_option("--snapshot-changes", options.snapshot_changes,
                 "--snapshot-every-changes of the snapshots case")->capture_default_str();
  app.add_option("--server", options.server, "the vecmirror-server binary")->capture_default_str();
  app.add_option("--timeout", options.timeout_s, "seconds one start may take")->capture_default_str();
  app.add_option("--model", options.model,
                 "the rows' model (text-embedding-3-large for 3072-d)")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (options.pgdir.empty()) {
    std::fprintf(stderr, "--pgdir is required (start one: scripts/pg-cluster.sh start DIR)\n");
    return 2;
  }
  return vecmirror::Run(options);
}
