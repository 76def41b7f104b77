// vecmirror_freshness_bench: how fresh the live mirror is, and how fast it applies changes,
// with the real vecmirror-server following a scratch database of the throwaway cluster.
//
// Freshness: --writer-threads connections commit embedding updates at a steady rate (--rates,
// updates per second, grouped into --commits-per-second transactions) while --search-threads
// threads search. After each commit the writer reads pg_current_wal_lsn() (its session commits
// synchronously, so that covers the commit) and hands it to a prober thread, which searches
// for the updated vector with min_lsn set to it. Freshness is the time from the COMMIT's return
// to that search's answer: "committed" to "visible in a search", gRPC round trip included.
// The background searches (limit 10) run at --search-qps in all, or without pause with
// --search-qps 0. Updated vectors and queries are drawn from the loaded data's own clustered
// space (tools/datagen), as real embeddings would be: uniform random vectors are near-orthogonal
// to every row, which leaves an HNSW search without a gradient to follow.
// Each answer is also checked: its top hit must be the updated entity at similarity ~1.
//
// Apply throughput: --apply-rows vector updates in transactions of --apply-batch rows, the
// vectors computed by PostgreSQL itself so that it produces changes as fast as it can. The
// production rate is rows / (time until the last COMMIT returned); the apply rate is
// rows / (time until the server's applied LSN reached the final LSN), both from the same start.
// The server's changes_applied counter must have grown by exactly --apply-rows.
//
// Every figure is printed per repetition and as the median over --repetitions.
//
// Usage: scripts/pg-cluster.sh start DIR
//        vecmirror_freshness_bench --pgdir DIR [--rates 200,2000] [--seconds 20] [--repetitions 3]
#include <arpa/inet.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "base/lsn.h"
#include "bench/machine.h"
#include "tests/support/pg_env.h"
#include "tests/support/server_process.h"
#include "tools/datagen/loader.h"
#include "tools/datagen/vector_space.h"
#include "vecmirror/v1/vecmirror.grpc.pb.h"

namespace vecmirror {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr char kModel[] = "all-MiniLM-L6-v2";
constexpr uint32_t kDim = 384;
constexpr char kSlot[] = "vecmirror_freshness_bench";

struct Options {
  std::string pgdir;
  std::vector<int> rates = {200, 2000};
  int commits_per_second = 200;
  int seconds = 20;
  int repetitions = 3;
  uint32_t tenants = 1;
  uint32_t entities = 20000;
  int search_threads = 2;
  int search_qps = 200;
  int probe_threads = 4;
  int writer_threads = 2;
  int apply_rows = 50000;
  int apply_batch = 1000;
  uint64_t ann_min_rows = 10000;  // the server's default
  std::string server_args;        // more flags for vecmirror-server
};

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "vecmirror_freshness_bench: %s\n", message.c_str());
  std::exit(1);
}

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * (v.size() - 1) + 0.5));
  return v[i];
}
double Median(const std::vector<double>& v) { return Percentile(v, 0.5); }

// One libpq session that commits synchronously (the cluster's default is off, which would let
// a commit return before its WAL is written, and pg_current_wal_lsn() would not cover it).
class Session {
 public:
  explicit Session(const std::string& conninfo) : conn_(PQconnectdb(conninfo.c_str())) {
    if (PQstatus(conn_) != CONNECTION_OK) Die(std::string("cannot connect: ") + PQerrorMessage(conn_));
    Exec("SET synchronous_commit = on");
  }
  ~Session() { PQfinish(conn_); }
  // Runs `sql`; returns the first column of the last result's rows.
  std::vector<std::string> Exec(const std::string& sql) {
    PGresult* r = PQexec(conn_, sql.c_str());
    const auto status = PQresultStatus(r);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      const std::string message = PQresultErrorMessage(r);
      PQclear(r);
      Die("SQL failed: " + message + " in: " + sql.substr(0, 200));
    }
    std::vector<std::string> out;
    for (int i = 0; i < PQntuples(r); ++i) out.emplace_back(PQgetvalue(r, i, 0));
    PQclear(r);
    return out;
  }
  PGconn* raw() { return conn_; }

 private:
  PGconn* conn_;
};

std::string VectorLiteral(const std::vector<float>& v) {
  std::string out = "'{";
  char buf[32];
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out.push_back(',');
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v[i]);
    out.append(buf, end);
  }
  return out + "}'::real[]";
}

std::vector<float> RandomVector(std::mt19937_64& rng) {
  std::normal_distribution<float> normal;
  std::vector<float> v(kDim);
  for (float& x : v) x = normal(rng);
  return v;
}

struct Row {
  std::string embedding_id, entity_id, tenant_id;
};

// The server under test, on a free loopback port, with the bench's slot.
class Server {
 public:
  Server(const std::string& conninfo, const Options& options)
      : process_(conninfo, Arguments(options)), ann_min_rows_(options.ann_min_rows) {}
  void Start() {
    process_.Start();
    if (!process_.WaitLoaded(std::chrono::seconds(600))) Die("the server did not load; its log:\n" + process_.Log());
  }
  // Waits until no index is being built or compacted, and every index of at least
  // --ann-min-rows rows has been promoted from flat (the promotion after the load would
  // otherwise take the CPU from the first measurement). Returns a "kind, rows" summary.
  std::string WaitIndexesSettled() {
    int quiet = 0;
    std::string summary;
    for (int i = 0; i < 6000 && quiet < 3; ++i) {
      v1::ListIndexesResponse listed;
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
      if (!stub().ListIndexes(&context, v1::ListIndexesRequest(), &listed).ok()) Die("ListIndexes failed");
      bool rebuilding = false;
      summary.clear();
      for (const auto& index : listed.indexes()) {
        rebuilding = rebuilding || index.rebuilding() ||
                     (index.kind() == v1::INDEX_KIND_FLAT && index.live_count() >= ann_min_rows_);
        summary += (summary.empty() ? "" : "; ") + v1::IndexKind_Name(index.kind()) + " " +
                   std::to_string(index.live_count()) + " live, " + std::to_string(index.dead_count()) + " dead";
      }
      quiet = rebuilding ? 0 : quiet + 1;
      std::this_thread::sleep_for(milliseconds(200));
    }
    return summary;
  }
  // Index builds and compactions the server has logged as finished so far.
  int RebuildsDone() {
    std::istringstream log(process_.Log());
    int n = 0;
    for (std::string line; std::getline(log, line);) {
      if (line.find(" rebuild ") != std::string::npos && line.find(" done in ") != std::string::npos) ++n;
    }
    return n;
  }
  v1::VectorSearch::Stub& stub() { return process_.stub(); }
  v1::MirrorStatus Status() { return process_.Status(); }
  void Stop() { process_.Kill(SIGTERM); }
  // CPU time the server has used so far (all its threads, user and system).
  double CpuSeconds() const {
    std::ifstream stat("/proc/" + std::to_string(process_.pid()) + "/stat");
    std::string line;
    std::getline(stat, line);
    // Fields 14 and 15 (utime, stime) follow the ")" that ends the command name.
    std::istringstream rest(line.substr(line.rfind(')') + 2));
    std::string field;
    for (int i = 3; i < 14 && rest >> field; ++i) {
    }
    double utime = 0, stime = 0;
    rest >> utime >> stime;
    return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
  }

 private:
  static std::vector<std::string> Arguments(const Options& options) {
    std::vector<std::string> args = {"--slot", kSlot, "--ann-min-rows",
                                     std::to_string(options.ann_min_rows)};
    std::istringstream extra(options.server_args);
    for (std::string arg; extra >> arg;) args.push_back(arg);
    return args;
  }

  testing::ServerProcess process_;
  const uint64_t ann_min_rows_;
};

grpc::Status Search(v1::VectorSearch::Stub& stub, const std::string& tenant, const std::vector<float>& v,
                    uint32_t limit, uint64_t min_lsn, v1::SearchResponse* response) {
  v1::SearchRequest request;
  request.set_tenant_id(tenant);
  request.set_model(kModel);
  request.mutable_vector()->mutable_values()->Add(v.begin(), v.end());
  request.set_limit(limit);
  request.set_min_lsn(min_lsn);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  return stub.SearchSimilarEntities(&context, request, response);
}

// ---- Freshness ---------------------------------------------------------------------------

struct Commit {
  Clock::time_point committed_at;
  uint64_t lsn = 0;
  std::string tenant, entity_id;
  std::vector<float> vector;  // the first updated row's new vector
};

struct FreshnessResult {
  int rate = 0, batch = 0;
  double achieved_updates_per_s = 0;
  size_t commits = 0;
  double p50_ms = 0, p90_ms = 0, p99_ms = 0, max_ms = 0;
  double probe_queue_p99_ms = 0;  // commit -> prober picked it up: the measurement's own delay
  size_t wrong_answers = 0, failed_probes = 0;
  double search_qps = 0, search_p50_ms = 0, search_p99_ms = 0;
  size_t failed_searches = 0;
  int rebuilds = 0;  // index builds or compactions that finished during the run
  double server_cpu_s = 0;  // CPU the server used during the run
};

FreshnessResult RunFreshness(const Options& options, const std::string& conninfo, Server& server,
                             const std::vector<Row>& rows, const datagen::ClusteredVectors& space,
                             int rate, uint64_t seed) {
  FreshnessResult result;
  result.rate = rate;
  const int rebuilds_before = server.RebuildsDone();
  const double cpu_before = server.CpuSeconds();
  result.batch = std::max(1, rate / options.commits_per_second);
  const auto interval = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(static_cast<double>(result.batch) / rate));

  std::mutex mu;
  std::condition_variable cv;
  std::deque<Commit> queue;
  bool writer_done = false;
  std::vector<double> freshness_ms, queue_ms;
  std::atomic<size_t> wrong{0}, failed{0};

  std::vector<std::thread> probers;
  for (int t = 0; t < options.probe_threads; ++t) {
    probers.emplace_back([&] {
      for (;;) {
        Commit c;
        {
          std::unique_lock lock(mu);
          cv.wait(lock, [&] { return !queue.empty() || writer_done; });
          if (queue.empty()) return;
          c = std::move(queue.front());
          queue.pop_front();
        }
        const auto picked = Clock::now();
        v1::SearchResponse response;
        const grpc::Status s = Search(server.stub(), c.tenant, c.vector, 1, c.lsn, &response);
        const auto visible = Clock::now();
        if (!s.ok()) {
          ++failed;
          continue;
        }
        if (response.results_size() != 1 || response.results(0).entity_id() != c.entity_id ||
            response.results(0).similarity() < 0.9999) {
          ++wrong;
        }
        std::lock_guard lock(mu);
        freshness_ms.push_back(Seconds(visible - c.committed_at) * 1e3);
        queue_ms.push_back(Seconds(picked - c.committed_at) * 1e3);
      }
    });
  }

  std::atomic<bool> stop_searches{false};
  std::vector<std::vector<double>> search_ms(options.search_threads);
  std::atomic<size_t> failed_searches{0};
  std::vector<std::thread> searchers;
  for (int t = 0; t < options.search_threads; ++t) {
    searchers.emplace_back([&, t] {
      std::mt19937_64 rng(seed * 31 + t);
      // Paced at search_qps / threads per thread (0: as fast as it goes).
      const auto period = options.search_qps > 0
                              ? std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(
                                    static_cast<double>(options.search_threads) / options.search_qps))
                              : Clock::duration::zero();
      auto due = Clock::now();
      while (!stop_searches) {
        if (period > Clock::duration::zero()) {
          std::this_thread::sleep_until(due);
          due += period;
        }
        const Row& row = rows[rng() % rows.size()];
        v1::SearchResponse response;
        const auto start = Clock::now();
        if (!Search(server.stub(), row.tenant_id, space.Query(rng()), 10, 0, &response).ok()) ++failed_searches;
        search_ms[t].push_back(Seconds(Clock::now() - start) * 1e3);
      }
    });
  }

  // The writers: transaction k is due at start + k * interval; writer w takes k = w mod W. The
  // first row of transaction k (the one its probe looks for) is order[k], used by no other
  // update of the run, so a later commit never overwrites what a probe expects to find.
  const size_t scheduled = static_cast<size_t>(options.seconds) * rate / result.batch;
  if (2 * scheduled > rows.size()) {
    Die("too few rows for one probe row per commit: use more --entities or fewer --commits-per-second");
  }
  std::vector<size_t> order(rows.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), std::mt19937_64(seed));
  const auto start = Clock::now();
  std::atomic<size_t> updates{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < options.writer_threads; ++w) {
    writers.emplace_back([&, w] {
      Session session(conninfo);
      std::mt19937_64 rng(seed * 7 + w);
      for (size_t k = w; k < scheduled; k += options.writer_threads) {
        std::this_thread::sleep_until(start + k * interval);
        Commit c;
        std::string sql = "BEGIN;";
        for (int i = 0; i < result.batch; ++i) {
          const Row& row = rows[i == 0 ? order[k] : order[scheduled + rng() % (rows.size() - scheduled)]];
          // A random key: a new vector of the loaded rows' space.
          std::vector<float> v = space.Vector(rng());
          sql += "UPDATE embedding SET vector = " + VectorLiteral(v) + " WHERE id = " + row.embedding_id + ";";
          if (i == 0) {
            c.tenant = row.tenant_id;
            c.entity_id = row.entity_id;
            c.vector = std::move(v);
          }
        }
        sql += "COMMIT; SELECT pg_current_wal_lsn()::text";
        const std::string lsn = session.Exec(sql).at(0);
        c.committed_at = Clock::now();
        c.lsn = ParseLsn(lsn).value_or(0);
        updates += result.batch;
        {
          std::lock_guard lock(mu);
          queue.push_back(std::move(c));
        }
        cv.notify_one();
      }
    });
  }
  for (auto& t : writers) t.join();
  const double write_seconds = Seconds(Clock::now() - start);
  {
    std::lock_guard lock(mu);
    writer_done = true;
  }
  cv.notify_all();
  for (auto& t : probers) t.join();
  stop_searches = true;
  for (auto& t : searchers) t.join();
  const double search_seconds = Seconds(Clock::now() - start);

  result.commits = freshness_ms.size();
  result.achieved_updates_per_s = updates.load() / write_seconds;
  result.p50_ms = Percentile(freshness_ms, 0.5);
  result.p90_ms = Percentile(freshness_ms, 0.9);
  result.p99_ms = Percentile(freshness_ms, 0.99);
  result.max_ms = Percentile(freshness_ms, 1.0);
  result.probe_queue_p99_ms = Percentile(queue_ms, 0.99);
  result.wrong_answers = wrong;
  result.failed_probes = failed;
  std::vector<double> all_searches;
  for (const auto& v : search_ms) all_searches.insert(all_searches.end(), v.begin(), v.end());
  result.search_qps = all_searches.size() / search_seconds;
  result.search_p50_ms = Percentile(all_searches, 0.5);
  result.search_p99_ms = Percentile(all_searches, 0.99);
  result.failed_searches = failed_searches;
  result.rebuilds = server.RebuildsDone() - rebuilds_before;
  result.server_cpu_s = server.CpuSeconds() - cpu_before;
  return result;
}

// ---- Apply throughput --------------------------------------------------------------------

struct ApplyResult {
  double produce_s = 0, apply_s = 0;
  double produced_per_s = 0, applied_per_s = 0;
  double wal_mb = 0;
  uint64_t changes_counted = 0;
};

ApplyResult RunApply(const Options& options, const std::string& conninfo, Server& server,
                     const std::vector<Row>& rows, uint64_t seed) {
  Session session(conninfo);
  const uint64_t changes_before = server.Status().changes_applied();
  const uint64_t start_lsn = ParseLsn(session.Exec("SELECT pg_current_wal_lsn()::text").at(0)).value_or(0);

  const auto start = Clock::now();
  int done = 0;
  size_t next_row = seed % rows.size();
  while (done < options.apply_rows) {
    const int batch = std::min({options.apply_batch, options.apply_rows - done, static_cast<int>(rows.size())});
    // `batch` distinct rows, each with a new vector computed by PostgreSQL.
    std::string ids;
    for (int i = 0; i < batch; ++i) {
      ids += (i ? "," : "") + rows[next_row].embedding_id;
      next_row = (next_row + 1) % rows.size();
    }
    session.Exec("BEGIN; UPDATE embedding SET vector = (SELECT array_agg((random() - 0.5)::real) "
                 "FROM generate_series(1, " + std::to_string(kDim) + ") WHERE embedding.id IS NOT NULL) "
                 "WHERE id IN (" + ids + "); COMMIT;");
    done += batch;
  }
  const auto produced = Clock::now();
  const uint64_t final_lsn = ParseLsn(session.Exec("SELECT pg_current_wal_lsn()::text").at(0)).value_or(0);
  // Wait for the final LSN with the search the API would use (each call waits at most 30 s).
  std::mt19937_64 rng(seed);
  for (int attempt = 0;; ++attempt) {
    v1::SearchResponse response;
    const grpc::Status s = Search(server.stub(), rows[0].tenant_id, RandomVector(rng), 1, final_lsn, &response);
    if (s.ok()) break;
    if (s.error_code() != grpc::StatusCode::DEADLINE_EXCEEDED || attempt == 20) {
      Die("the server did not reach the final LSN: " + s.error_message());
    }
  }
  const auto applied = Clock::now();

  ApplyResult result;
  result.produce_s = Seconds(produced - start);
  result.apply_s = Seconds(applied - start);
  result.produced_per_s = options.apply_rows / result.produce_s;
  result.applied_per_s = options.apply_rows / result.apply_s;
  result.wal_mb = (final_lsn - start_lsn) / 1e6;
  // The board is updated just after the indexes: give it a moment to show the last commit.
  for (int i = 0; i < 100; ++i) {
    result.changes_counted = server.Status().changes_applied() - changes_before;
    if (result.changes_counted >= static_cast<uint64_t>(options.apply_rows)) break;
    std::this_thread::sleep_for(milliseconds(10));
  }
  return result;
}

// ---- Main --------------------------------------------------------------------------------

int Run(const Options& options) {
  setenv("VECMIRROR_TEST_PGDIR", options.pgdir.c_str(), 1);
  if (!std::getenv("VECMIRROR_BINARY_DIR")) {
    // The build tree: this binary is <build>/bench/vecmirror_freshness_bench.
    const auto self = std::filesystem::read_symlink("/proc/self/exe");
    setenv("VECMIRROR_BINARY_DIR", self.parent_path().parent_path().c_str(), 1);
  }
  std::printf("vecmirror_freshness_bench: nproc %u, %s, load average %s\n",
              std::thread::hardware_concurrency(), vecmirror::bench::CpuModel().c_str(), vecmirror::bench::LoadAverage().c_str());
  std::printf("%d s per run, %d repetitions, %d writer connections, %d commits/s at most, %d search "
              "threads at %d QPS in all (0 = no pause), server flags: --ann-min-rows %llu %s\n",
              options.seconds, options.repetitions, options.writer_threads, options.commits_per_second,
              options.search_threads, options.search_qps, static_cast<unsigned long long>(options.ann_min_rows),
              options.server_args.c_str());

  std::unique_ptr<testing::ScratchDatabase> db;
  if (Status s = testing::ScratchDatabase::CreateWithSchema("freshness", &db, "real[]"); !s.ok()) {
    Die(s.ToString());
  }
  datagen::DatasetSpec spec;
  spec.tenants = options.tenants;
  spec.entities_per_tenant = options.entities;
  spec.models = {{kModel, kDim}};
  spec.versioned_share = spec.deleted_share = spec.pending_share = spec.failed_share = 0;
  const datagen::ClusteredVectors space(kDim, spec.clusters, datagen::ModelSpaceSeed(spec.seed, kModel),
                                        spec.shape);
  {
    Session loader(db->conninfo());
    datagen::LoadStats stats;
    if (Status s = datagen::LoadDataset(loader.raw(), spec, {}, &stats); !s.ok()) Die(s.ToString());
    loader.Exec("VACUUM ANALYZE entity");
    loader.Exec("VACUUM ANALYZE embedding");
  }
  std::vector<Row> rows;
  {
    std::vector<testing::Row> raw;
    if (Status s = testing::QueryRows(db->conninfo(),
                                      "SELECT emb.id::text, emb.entity_id::text, e.tenant_id::text FROM embedding emb "
                                      "JOIN entity e ON e.id = emb.entity_id AND e.valid_to IS NULL",
                                      &raw);
        !s.ok()) {
      Die(s.ToString());
    }
    for (const auto& r : raw) rows.push_back({*r[0], *r[1], *r[2]});
  }
  std::printf("data: %u tenant(s) x %u entities, one %s (%u-d, real[]) embedding each: %zu rows\n",
              options.tenants, options.entities, kModel, kDim, rows.size());

  Server server(db->conninfo(), options);
  const auto load_start = Clock::now();
  server.Start();
  std::printf("server loaded in %.1f s\n", Seconds(Clock::now() - load_start));
  std::printf("indexes settled: %s\n", server.WaitIndexesSettled().c_str());

  std::vector<std::vector<FreshnessResult>> by_rate(options.rates.size());
  std::vector<ApplyResult> applies;
  std::printf("\n| rep | updates/s (target) | batch | achieved | commits | p50 ms | p90 ms | p99 ms | max ms | probe-queue p99 ms | wrong | search QPS | search p50 ms | search p99 ms | rebuilds | server CPU s |\n");
  std::printf("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (int rep = 0; rep < options.repetitions; ++rep) {
    for (size_t i = 0; i < options.rates.size(); ++i) {
      server.WaitIndexesSettled();  // no compaction left over from the previous run
      const FreshnessResult r = RunFreshness(options, db->conninfo(), server, rows, space,
                                             options.rates[i], 1000 * rep + i + 1);
      by_rate[i].push_back(r);
      std::printf("| %d | %d | %d | %.0f | %zu | %.2f | %.2f | %.2f | %.2f | %.2f | %zu | %.0f | %.2f | %.2f | %d | %.1f |\n",
                  rep + 1, r.rate, r.batch, r.achieved_updates_per_s, r.commits, r.p50_ms, r.p90_ms, r.p99_ms,
                  r.max_ms, r.probe_queue_p99_ms, r.wrong_answers + r.failed_probes, r.search_qps,
                  r.search_p50_ms, r.search_p99_ms, r.rebuilds, r.server_cpu_s);
      if (r.failed_searches) std::printf("  (%zu background searches failed)\n", r.failed_searches);
      std::fflush(stdout);
    }
  }
  std::printf("\n| rep | rows | batch | WAL MB | PostgreSQL produced in s | rows/s | applied in s | rows/s | applied / produced | changes counted |\n");
  std::printf("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (int rep = 0; rep < options.repetitions; ++rep) {
    server.WaitIndexesSettled();
    const ApplyResult a = RunApply(options, db->conninfo(), server, rows, 7919 * (rep + 1));
    applies.push_back(a);
    std::printf("| %d | %d | %d | %.1f | %.2f | %.0f | %.2f | %.0f | %.2f | %llu |\n", rep + 1, options.apply_rows,
                options.apply_batch, a.wal_mb, a.produce_s, a.produced_per_s, a.apply_s, a.applied_per_s,
                a.applied_per_s / a.produced_per_s, static_cast<unsigned long long>(a.changes_counted));
    std::fflush(stdout);
  }

  std::printf("\nMedians over %d repetitions (load average now %s):\n\n", options.repetitions, vecmirror::bench::LoadAverage().c_str());
  std::printf("| updates/s (target) | batch | achieved | freshness p50 ms | p90 ms | p99 ms | search QPS meanwhile | server CPU s |\n");
  std::printf("|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (size_t i = 0; i < options.rates.size(); ++i) {
    auto m = [&](auto field) {
      std::vector<double> v;
      for (const auto& r : by_rate[i]) v.push_back(field(r));
      return Median(v);
    };
    std::printf("| %d | %d | %.0f | %.2f | %.2f | %.2f | %.0f | %.1f |\n", options.rates[i], by_rate[i][0].batch,
                m([](const FreshnessResult& r) { return r.achieved_updates_per_s; }),
                m([](const FreshnessResult& r) { return r.p50_ms; }),
                m([](const FreshnessResult& r) { return r.p90_ms; }),
                m([](const FreshnessResult& r) { return r.p99_ms; }),
                m([](const FreshnessResult& r) { return r.search_qps; }),
                m([](const FreshnessResult& r) { return r.server_cpu_s; }));
  }
  std::vector<double> produced, applied, ratio;
  for (const auto& a : applies) {
    produced.push_back(a.produced_per_s);
    applied.push_back(a.applied_per_s);
    ratio.push_back(a.applied_per_s / a.produced_per_s);
  }
  std::printf("\n| apply: rows | PostgreSQL produces rows/s | mirror applies rows/s | applied / produced |\n");
  std::printf("|---:|---:|---:|---:|\n");
  std::printf("| %d | %.0f | %.0f | %.2f |\n", options.apply_rows, Median(produced), Median(applied), Median(ratio));

  int problems = 0;
  for (const auto& rs : by_rate) {
    for (const auto& r : rs) problems += static_cast<int>(r.wrong_answers + r.failed_probes);
  }
  for (const auto& a : applies) {
    if (a.changes_counted != static_cast<uint64_t>(options.apply_rows)) ++problems;
  }
  server.Stop();
  if (Status s = db->Drop(); !s.ok()) std::fprintf(stderr, "warning: %s\n", s.ToString().c_str());
  if (problems) {
    std::fprintf(stderr, "%d probe answers were wrong or failed, or a change count was off\n", problems);
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace vecmirror

int main(int argc, char** argv) {
  vecmirror::Options options;
  if (const char* dir = std::getenv("VECMIRROR_TEST_PGDIR")) options.pgdir = dir;
  CLI::App app{"vecmirror_freshness_bench: commit-to-visible freshness and apply throughput of the live mirror"};
  app.add_option("--pgdir", options.pgdir, "directory of a running scripts/pg-cluster.sh cluster")->capture_default_str();
  app.add_option("--rates", options.rates, "steady write loads, embedding updates per second")->delimiter(',')
      ->capture_default_str();
  app.add_option("--commits-per-second", options.commits_per_second,
                 "transactions per second; each holds rate / this many updates")->capture_default_str();
  app.add_option("--seconds", options.seconds, "duration of each freshness run")->capture_default_str();
  app.add_option("--repetitions", options.repetitions, "rounds of every run")->capture_default_str()
      ->check(CLI::Range(1, 20));
  app.add_option("--tenants", options.tenants, "tenants")->capture_default_str();
  app.add_option("--entities", options.entities, "entities (one embedding each) per tenant")->capture_default_str();
  app.add_option("--search-threads", options.search_threads, "threads searching meanwhile")->capture_default_str();
  app.add_option("--search-qps", options.search_qps, "their searches per second in all (0 = no pause)")
      ->capture_default_str();
  app.add_option("--writer-threads", options.writer_threads, "connections committing the updates")
      ->capture_default_str()->check(CLI::Range(1, 64));
  app.add_option("--probe-threads", options.probe_threads, "threads waiting for commits to show")->capture_default_str();
  app.add_option("--apply-rows", options.apply_rows, "vector updates in the apply run")->capture_default_str();
  app.add_option("--apply-batch", options.apply_batch, "rows per transaction in the apply run")->capture_default_str();
  app.add_option("--ann-min-rows", options.ann_min_rows, "passed to the server; indexes this large wait for ANN")
      ->capture_default_str();
  app.add_option("--server-args", options.server_args, "more vecmirror-server flags, space-separated");
  CLI11_PARSE(app, argc, argv);
  if (options.pgdir.empty()) {
    std::fprintf(stderr, "--pgdir is required (start one: scripts/pg-cluster.sh start DIR)\n");
    return 2;
  }
  return vecmirror::Run(options);
}
