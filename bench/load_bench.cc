// vecmirror_load_bench: the initial load rate of the real vecmirror-server, next to a plain
// binary COPY of the same rows from the same database in the same run (the baseline: what
// reading the data costs before vecmirror does anything with it).
//
// It creates a scratch database in the throwaway cluster (scripts/pg-cluster.sh start DIR),
// generates --rows completed embeddings of one model (real[] column) over --tenants tenants
// with tools/datagen, VACUUMs, reads everything once to warm the caches, then --repetitions
// times, alternating:
//
//   baseline  the two COPY (SELECT ...) TO STDOUT (FORMAT binary) statements the server's load
//             runs (current entities; every embedding row), drained through libpq and thrown
//             away
//   server    vecmirror-server started fresh (--force-kind flat, so no ANN build runs after the
//             load), timed from exec until GetMirrorStatus says `loaded`: process start, slot
//             creation, both COPYs, decoding and indexing. Its own log line "initial load:
//             embedding N rows, X MB, R rows/s, M MB/s (done)" is reported too.
//
// Rates are embedding rows per second, and MB (10^6 bytes of COPY stream, as the baseline counted
// them) per second. Medians over the repetitions; ratios are server / baseline of the same run.
//
// Usage: vecmirror_load_bench --pgdir DIR [--rows 50000] [--tenants 8] [--repetitions 3]
//                             [--model text-embedding-3-small] [--server PATH]
// The scratch database is dropped at the end.
#include <libpq-fe.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
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

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "vecmirror_load_bench: %s\n", message.c_str());
  std::exit(1);
}

struct Options {
  std::string pgdir;
  uint32_t rows = 50000;
  uint32_t tenants = 8;
  int repetitions = 3;
  std::string model = "text-embedding-3-small";
  std::string server;
  int timeout_s = 300;
};

using ConnPtr = std::unique_ptr<PGconn, decltype(&PQfinish)>;

ConnPtr Connect(const std::string& conninfo) {
  ConnPtr conn(PQconnectdb(conninfo.c_str()), &PQfinish);
  if (PQstatus(conn.get()) != CONNECTION_OK) Die("cannot connect: " + std::string(PQerrorMessage(conn.get())));
  return conn;
}

void Exec(PGconn* conn, const std::string& sql) {
  PGresult* result = PQexec(conn, sql.c_str());
  const ExecStatusType status = PQresultStatus(result);
  const std::string error = PQresultErrorMessage(result);
  PQclear(result);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) Die(sql + ": " + error);
}

std::string Value(PGconn* conn, const std::string& sql) {
  PGresult* result = PQexec(conn, sql.c_str());
  if (PQresultStatus(result) != PGRES_TUPLES_OK || PQntuples(result) != 1) {
    const std::string error = PQresultErrorMessage(result);
    PQclear(result);
    Die(sql + ": " + error);
  }
  std::string value = PQgetvalue(result, 0, 0);
  PQclear(result);
  return value;
}

// The statements of the server's load (src/initial_load.cc, LoadSnapshot), column for column.
const char* const kCopyStatements[] = {
    "COPY (SELECT version_id, id, tenant_id, entity_type, valid_to, deleted_at FROM public.entity "
    "WHERE valid_to IS NULL AND deleted_at IS NULL) TO STDOUT (FORMAT binary)",
    "COPY (SELECT id, entity_id, model, status, vector FROM public.embedding) TO STDOUT (FORMAT binary)",
};

// Runs both COPY statements and drains them; returns the bytes received.
uint64_t RawCopy(PGconn* conn) {
  uint64_t bytes = 0;
  for (const char* sql : kCopyStatements) {
    PGresult* started = PQexec(conn, sql);
    if (PQresultStatus(started) != PGRES_COPY_OUT) Die(std::string(sql) + ": " + PQresultErrorMessage(started));
    PQclear(started);
    for (;;) {
      char* buffer = nullptr;
      const int n = PQgetCopyData(conn, &buffer, 0);
      if (n > 0) {
        bytes += static_cast<uint64_t>(n);
        PQfreemem(buffer);
        continue;
      }
      if (n == -1) break;
      Die(std::string("COPY: ") + PQerrorMessage(conn));
    }
    PGresult* done = PQgetResult(conn);
    if (PQresultStatus(done) != PGRES_COMMAND_OK) Die(std::string("COPY: ") + PQresultErrorMessage(done));
    PQclear(done);
    while (PGresult* extra = PQgetResult(conn)) PQclear(extra);
  }
  return bytes;
}

struct ServerRun {
  double seconds_to_loaded = 0;
  std::string load_line;  // the server's "initial load: embedding ... (done)" line
  std::string apply_line;  // "initial load applied at ..."
};

std::string LineWith(const std::string& log, const std::string& a, const std::string& b) {
  std::istringstream lines(log);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.find(a) != std::string::npos && line.find(b) != std::string::npos) return line;
  }
  return "";
}

// Starts the server, waits until it has loaded, stops it. Its log goes to `log_path`.
ServerRun RunServer(const Options& options, const std::string& conninfo, const std::string& log_path) {
  std::remove(log_path.c_str());
  vecmirror::testing::ServerProcess server(
      conninfo, {"--force-kind", "flat", "--slot", "vecmirror_load_bench"}, options.server, log_path);
  const auto start = Clock::now();
  server.Start();
  if (!server.WaitLoaded(std::chrono::seconds(options.timeout_s))) {
    Die("the server did not load in time; see " + log_path);
  }
  ServerRun run;
  run.seconds_to_loaded = Seconds(start);
  server.Kill(SIGTERM);
  const std::string log = server.Log();
  run.load_line = LineWith(log, "initial load: embedding", "(done)");
  run.apply_line = LineWith(log, "initial load applied", "indexed in");
  return run;
}

// "... initial load: embedding 50000 rows, 310.2 MB, 40000 rows/s, 250.1 MB/s (done)" -> rates.
bool ParseLoadLine(const std::string& line, double* rows_per_s, double* mb_per_s) {
  const auto at = line.find("initial load: embedding ");
  if (at == std::string::npos) return false;
  double rows = 0, mb = 0;
  return std::sscanf(line.c_str() + at, "initial load: embedding %lf rows, %lf MB, %lf rows/s, %lf MB/s",
                     &rows, &mb, rows_per_s, mb_per_s) == 4;
}

std::string DefaultServerPath() {
  std::error_code error;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", error);
  if (error) return "vecmirror-server";
  return (self.parent_path().parent_path() / "src" / "vecmirror-server").string();
}

int Run(const Options& options) {
  const auto dim = ModelCatalog().DimensionOf(options.model);
  if (!dim) Die("unknown model " + options.model);
  if (!options.pgdir.empty()) setenv("VECMIRROR_TEST_PGDIR", options.pgdir.c_str(), 1);

  std::printf("vecmirror_load_bench: %u rows of %s (%u-d, real[]), %u tenants, %d repetitions\n",
              options.rows, options.model.c_str(), *dim, options.tenants, options.repetitions);
  std::printf("machine: %u CPUs (nproc), %s; load average %s\n", std::thread::hardware_concurrency(),
              vecmirror::bench::CpuModel().c_str(), vecmirror::bench::LoadAverage().c_str());

  std::unique_ptr<testing::ScratchDatabase> db;
  if (Status s = testing::ScratchDatabase::CreateWithSchema("load_bench", &db, "real[]"); !s.ok()) {
    Die(s.ToString());
  }
  ConnPtr conn = Connect(db->conninfo());

  datagen::DatasetSpec spec;
  spec.tenants = options.tenants;
  spec.entities_per_tenant = (options.rows + options.tenants - 1) / options.tenants;
  spec.models = {{options.model, *dim}};
  spec.versioned_share = spec.deleted_share = spec.pending_share = spec.failed_share = 0;
  spec.bad_share = 0;
  auto start = Clock::now();
  datagen::LoadStats stats;
  if (Status s = datagen::LoadDataset(conn.get(), spec, {}, &stats); !s.ok()) Die(s.ToString());
  Exec(conn.get(), "VACUUM (ANALYZE) entity, embedding");
  const uint64_t rows = stats.embedding_rows;
  std::printf("generated %llu embedding rows in %.1f s; embedding table %s\n",
              static_cast<unsigned long long>(rows), Seconds(start),
              Value(conn.get(), "SELECT pg_size_pretty(pg_total_relation_size('embedding'))").c_str());

  const uint64_t bytes = RawCopy(conn.get());  // warm-up: caches, hint bits
  std::printf("warm-up COPY: %.1f MB\n\n", bytes / 1e6);

  const std::filesystem::path log_dir = std::filesystem::temp_directory_path() /
                                        ("vecmirror_load_bench." + std::to_string(getpid()));
  std::filesystem::create_directories(log_dir);

  std::vector<double> copy_s, server_s, logged_rows_s, logged_mb_s;
  std::printf("%-4s %12s %14s %14s %s\n", "rep", "COPY s", "server s", "server/COPY", "server's own log line");
  for (int r = 0; r < options.repetitions; ++r) {
    start = Clock::now();
    const uint64_t copied = RawCopy(conn.get());
    copy_s.push_back(Seconds(start));
    if (copied != bytes) Die("COPY returned a different byte count");

    const ServerRun run = RunServer(options, db->conninfo(), (log_dir / ("server-" + std::to_string(r) + ".log")).string());
    server_s.push_back(run.seconds_to_loaded);
    double rows_per_s = 0, mb_per_s = 0;
    if (ParseLoadLine(run.load_line, &rows_per_s, &mb_per_s)) {
      logged_rows_s.push_back(rows_per_s);
      logged_mb_s.push_back(mb_per_s);
    }
    std::printf("%-4d %12.3f %14.3f %14.2f %s\n", r + 1, copy_s.back(), server_s.back(),
                server_s.back() / copy_s.back(),
                run.load_line.empty() ? "(none)" : run.load_line.substr(run.load_line.find("initial")).c_str());
    if (!run.apply_line.empty()) std::printf("%48s %s\n", "", run.apply_line.substr(run.apply_line.find("initial")).c_str());
    std::fflush(stdout);
  }

  const double mb = bytes / 1e6;
  const double copy = Median(copy_s), server = Median(server_s);
  std::printf("\nmedians over %d repetitions (%llu rows, %.1f MB of COPY stream):\n", options.repetitions,
              static_cast<unsigned long long>(rows), mb);
  std::printf("  %-36s %8.3f s %10.0f rows/s %8.1f MB/s  x1.00\n", "baseline: plain binary COPY", copy,
              rows / copy, mb / copy);
  std::printf("  %-36s %8.3f s %10.0f rows/s %8.1f MB/s  x%.2f of the COPY rate\n",
              "server: exec -> loaded", server, rows / server, mb / server, copy / server);
  if (!logged_rows_s.empty()) {
    std::printf("  %-36s %10s %10.0f rows/s %8.1f MB/s  x%.2f of the COPY rate\n",
                "server's log: embedding COPY phase", "", Median(logged_rows_s), Median(logged_mb_s),
                Median(logged_rows_s) / (rows / copy));
  }
  std::printf("load average after: %s\n", vecmirror::bench::LoadAverage().c_str());
  std::filesystem::remove_all(log_dir);
  return 0;
}

}  // namespace
}  // namespace vecmirror

int main(int argc, char** argv) {
  vecmirror::Options options;
  options.server = vecmirror::DefaultServerPath();
  if (const char* dir = std::getenv("VECMIRROR_TEST_PGDIR")) options.pgdir = dir;
  CLI::App app{"vecmirror_load_bench: the server's initial load rate vs a plain binary COPY"};
  app.add_option("--pgdir", options.pgdir, "directory of a running scripts/pg-cluster.sh cluster")
      ->capture_default_str();
  app.add_option("--rows", options.rows, "embedding rows to generate")->capture_default_str();
  app.add_option("--tenants", options.tenants, "tenants to spread them over")->capture_default_str();
  app.add_option("--repetitions", options.repetitions, "timed rounds (COPY, then server)")
      ->capture_default_str()->check(CLI::Range(1, 50));
  app.add_option("--model", options.model, "a known model (its dimension is the catalog's)")->capture_default_str();
  app.add_option("--server", options.server, "the vecmirror-server binary")->capture_default_str();
  app.add_option("--timeout", options.timeout_s, "seconds one server load may take")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (options.pgdir.empty()) {
    std::fprintf(stderr, "--pgdir is required (start one: scripts/pg-cluster.sh start DIR)\n");
    return 2;
  }
  return vecmirror::Run(options);
}
