#include "tools/recall/recall_cli.h"

#include <unistd.h>

#include <chrono>
#include <ctime>
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "tools/recall/census.h"
#include "tools/recall/grpc_source.h"
#include "tools/recall/measure.h"
#include "tools/recall/query_file.h"
#include "tools/recall/report_output.h"
#include "tools/recall/snapshot_source.h"
#include "tools/recall/sql_check.h"

namespace vecmirror::recall {
namespace {

// The service's bounds on a search's effort (proto/vecmirror/v1/vecmirror.proto).
constexpr int kMaxEfSearch = 4096;
constexpr int kMaxNprobe = 65536;

struct Args {
  std::string server = "127.0.0.1:50051";
  std::string snapshot;
  int timeout_ms = 60000;
  std::vector<std::string> tenants;
  std::vector<std::string> models;
  std::vector<size_t> ks = {1, 10, 100};
  size_t queries = 200;
  std::string query_file;
  uint64_t seed = 1;
  std::vector<int> ef_search = {16, 32, 64, 128, 256, 512};
  std::vector<int> nprobe = {1, 2, 4, 8, 16, 32, 64, 128};
  std::vector<std::string> selectivities = {"50%", "5%", "0.5%"};
  size_t concurrency = 1;
  size_t warmup = 50;
  size_t census_rows = 20000;
  size_t runs = 1;
  std::string verify_sql;
  size_t verify_queries = 20;
  std::string out_dir = "recall-results";
  size_t plot_k = 10;
  std::string progress = "auto";
};

// "50%" -> 0.5, "0.05" -> 0.05. False unless strictly between 0 and 1.
bool ParseShare(const std::string& text, double* share) {
  if (text.empty()) return false;
  const bool percent = text.back() == '%';
  const std::string number = percent ? text.substr(0, text.size() - 1) : text;
  char* end = nullptr;
  const double value = std::strtod(number.c_str(), &end);
  if (number.empty() || end != number.c_str() + number.size()) return false;
  *share = percent ? value / 100 : value;
  return *share > 0 && *share < 1;
}

std::string UtcNow() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

// Checks what CLI11 cannot, and fills `options`. An error message, or "" when all is well.
std::string ToOptions(const Args& a, RecallOptions* options) {
  for (size_t k : a.ks) {
    if (k < 1 || k > kMaxLimit) {
      return "--k " + std::to_string(k) + ": expected 1 to " + std::to_string(kMaxLimit) +
             " (a search returns at most " + std::to_string(kMaxLimit) + " results)";
    }
  }
  for (int ef : a.ef_search) {
    if (ef < 1 || ef > kMaxEfSearch) {
      return "--ef-search " + std::to_string(ef) + ": expected 1 to " + std::to_string(kMaxEfSearch);
    }
  }
  for (int nprobe : a.nprobe) {
    if (nprobe < 1 || nprobe > kMaxNprobe) {
      return "--nprobe " + std::to_string(nprobe) + ": expected 1 to " + std::to_string(kMaxNprobe);
    }
  }
  options->selectivities.clear();
  if (!(a.selectivities.size() == 1 && a.selectivities[0] == "none")) {
    for (const std::string& text : a.selectivities) {
      double share = 0;
      if (!ParseShare(text, &share)) {
        return "--selectivity " + text + ": expected a share between 0 and 1, as 0.05 or 5%" +
               " (or none)";
      }
      options->selectivities.push_back(share);
    }
  }
  for (const std::string& text : a.tenants) {
    const std::optional<Uuid> tenant = Uuid::Parse(text);
    if (!tenant) return "--tenant " + text + ": expected a UUID";
    options->tenants.push_back(*tenant);
  }
  options->models = a.models;
  options->ks = a.ks;
  options->queries = a.queries;
  options->seed = a.seed;
  options->ef_search = a.ef_search;
  options->nprobe = a.nprobe;
  options->concurrency = a.concurrency;
  options->runs = a.runs;
  options->warmup = a.warmup;
  options->census.max_entities = a.census_rows;
  options->verify_queries = a.verify_queries;
  return "";
}

void AddOptions(CLI::App& app, Args& a) {
  CLI::Option* server =
      app.add_option("--server", a.server, "HOST:PORT of the vecmirror service")
          ->capture_default_str();
  app.add_option("--snapshot", a.snapshot,
                 "Measure offline instead: the newest snapshot under this directory (the "
                 "service's --snapshot-dir) that verifies, with no service and no PostgreSQL")
      ->excludes(server);
  app.add_option("--timeout-ms", a.timeout_ms, "Deadline of each call, in milliseconds")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--tenant", a.tenants, "Only these tenants (UUIDs, comma-separated or repeated)")
      ->delimiter(',');
  app.add_option("--model", a.models, "Only these models (comma-separated or repeated)")
      ->delimiter(',');
  app.add_option("--k", a.ks, "Recall@k for each k, 1 to 1000")
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--queries", a.queries,
                 "Leave-one-out queries per index: entities of the index searched by "
                 "\"more like this\", which leaves the entity itself out")
      ->capture_default_str()
      ->check(CLI::Range(size_t(1), size_t(100000)));
  app.add_option("--query-file", a.query_file,
                 "Query vectors instead: a .npy float32 2-D array, or text with one vector a line "
                 "(indexes of another dimension are skipped)");
  app.add_option("--seed", a.seed, "Seed of the query sample and the census probes")
      ->capture_default_str();
  app.add_option("--ef-search", a.ef_search, "efSearch values swept on HNSW indexes")
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--nprobe", a.nprobe, "nprobe values swept on IVF indexes")
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--selectivity", a.selectivities,
                 "Filtered recall at these shares of the live rows, approximated by sets of "
                 "entity types (e.g. 50%,5%,0.5% or 0.5,0.05); none = unfiltered only")
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--concurrency", a.concurrency, "Client threads per point (1: serial latency)")
      ->capture_default_str()
      ->check(CLI::Range(size_t(1), size_t(256)));
  app.add_option("--runs", a.runs,
                 "Run each point's queries this many times and report the fastest run "
                 "(steadier latency and QPS on a busy machine)")
      ->capture_default_str()
      ->check(CLI::Range(size_t(1), size_t(100)));
  app.add_option("--warmup", a.warmup, "Untimed searches per index before its sweep")
      ->capture_default_str();
  app.add_option("--census-rows", a.census_rows,
                 "Entities a sampled census of a large index collects (queries are drawn from "
                 "them and type shares estimated on them)")
      ->capture_default_str()
      ->check(CLI::Range(size_t(1), size_t(10000000)));
  app.add_option("--verify-sql", a.verify_sql,
                 "PostgreSQL connection string (URI or key=value; the password from PGPASSWORD "
                 "or ~/.pgpass): check exact answers against the contract's SQL");
  app.add_option("--verify-queries", a.verify_queries,
                 "Answers per index checked by --verify-sql (unfiltered, limit = the largest k)")
      ->capture_default_str();
  app.add_option("--out-dir", a.out_dir, "Where recall.csv, recall.json and recall.svg go")
      ->capture_default_str();
  app.add_option("--plot-k", a.plot_k,
                 "The k of the plot and of the table's latency and QPS columns")
      ->capture_default_str();
  app.add_option("--progress", a.progress,
                 "auto (a bar on a terminal, lines otherwise), bar, lines or none")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "bar", "lines", "none"}));
}

Progress::Mode ProgressMode(const std::string& name, const std::ostream& err) {
  if (name == "bar") return Progress::Mode::kBar;
  if (name == "lines") return Progress::Mode::kLines;
  if (name == "none") return Progress::Mode::kNone;
  if (&err == &std::cerr) return Progress::DetectMode(STDERR_FILENO);
  return Progress::Mode::kLines;
}

}  // namespace

int RunRecall(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
  CLI::App app{
      "vecmirror-recall: recall@k of a vecmirror service's indexes (or of a snapshot's, "
      "offline) against exact search, over a "
      "sweep of efSearch (HNSW) or nprobe (IVF), unfiltered and at entity_type selectivities, "
      "with latency and QPS per point. Writes a table, recall.csv, recall.json and a "
      "recall-vs-QPS plot (recall.svg)."};
  Args a;
  AddOptions(app, a);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e, out, err);
  }

  RecallOptions options;
  if (const std::string problem = ToOptions(a, &options); !problem.empty()) {
    err << "error: " << problem << '\n';
    return kExitLocalError;
  }
  QueryVectors file_queries;
  if (!a.query_file.empty()) {
    if (Status s = ReadQueryFile(a.query_file, &file_queries); !s.ok()) {
      err << "error: " << s.message() << '\n';
      return kExitLocalError;
    }
    options.query_vectors = &file_queries;
  }

  const auto started = std::chrono::steady_clock::now();
  RecallReport report;
  report.started_at = UtcNow();
  std::unique_ptr<IndexSource> opened;
  if (a.snapshot.empty()) {
    opened = std::make_unique<GrpcSource>(
        GrpcSourceOptions{a.server, std::chrono::milliseconds(a.timeout_ms)});
  } else {
    std::unique_ptr<SnapshotSource> snapshot;
    if (Status s = SnapshotSource::Open(a.snapshot, IndexOptions{}, &snapshot); !s.ok()) {
      err << "error: " << s.message() << '\n';
      return kExitSourceError;
    }
    opened = std::move(snapshot);
  }
  IndexSource& source = *opened;
  Progress progress(err, ProgressMode(a.progress, err));

  std::vector<IndexPlan> plan;
  if (Status s = PlanRecall(source, options, &progress, &plan); !s.ok()) {
    progress.Finish();
    err << "error: " << s.message() << '\n';
    return kExitSourceError;
  }
  if (plan.empty()) {
    progress.Finish();
    err << "error: " << source.name() << " holds no index"
        << (options.tenants.empty() && options.models.empty() ? "" : " matching --tenant/--model")
        << '\n';
    return kExitSourceError;
  }
  if (Status s = MeasureRecall(source, plan, options, &progress, &report); !s.ok()) {
    progress.Finish();
    err << "error: " << s.message() << '\n';
    return kExitSourceError;
  }
  if (!a.verify_sql.empty()) {
    std::unique_ptr<SqlChecker> checker;
    Status s = SqlChecker::Connect(a.verify_sql, &checker);
    if (s.ok()) s = VerifyWithSql(source, *checker, plan, options, &progress, &report.verification);
    if (!s.ok()) {
      progress.Finish();
      err << "error: " << s.message() << '\n';
      return kExitSourceError;
    }
    report.verified = true;
  }
  progress.Finish();
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  PrintReport(report, a.plot_k, out);
  std::vector<std::string> written;
  if (Status s = WriteReportFiles(report, a.plot_k, a.out_dir, &written); !s.ok()) {
    err << "error: " << s.message() << '\n';
    return kExitLocalError;
  }
  out << "\nWrote";
  for (const std::string& path : written) out << ' ' << path;
  out << " (" << FormatSeconds(report.seconds) << ")\n";
  return report.verified && !report.verification.divergences.empty() ? kExitDivergence : 0;
}

}  // namespace vecmirror::recall
