// What an operator sees of the real vecmirror-server binary, against a scratch database of the
// pg_cluster fixture:
//  - the Prometheus endpoint scraped over loopback while real searches and commits happen (the
//    counters move by exactly the calls made, the applied LSN passes each commit, the bad rows
//    and index sizes match what the test inserted);
//  - settings from a config file, the environment and flags at once, each winning where it
//    should; JSON logs that stay one object per line when the database hands the server a
//    model name made to forge a line.
#include <gtest/gtest.h>
#include <httplib.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/live_mirror.h"
#include "tests/support/prometheus_text.h"
#include "tests/support/rebuild_wait.h"

namespace vecmirror {
namespace {

using testing::Exposition;
using testing::LiveMirror;
using testing::Quote;
using testing::SqlSession;
using testing::VectorSql;

constexpr char kModel[] = "all-MiniLM-L6-v2";
constexpr uint32_t kDim = 384;
constexpr char kSearchService[] = "vecmirror.v1.VectorSearch";

// GET /metrics on 127.0.0.1:port, parsed; fails the test (and returns an empty exposition) if
// the endpoint does not answer or the text is malformed.
Exposition Scrape(int port) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(5);
  client.set_read_timeout(10);
  auto response = client.Get("/metrics");
  Exposition e;
  if (!response) {
    ADD_FAILURE() << "no answer from the metrics endpoint: "
                  << httplib::to_string(response.error());
    return e;
  }
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->get_header_value("Content-Type"),
            "text/plain; version=0.0.4; charset=utf-8");
  std::string error;
  EXPECT_TRUE(testing::ParseExposition(response->body, &e, &error)) << error;
  return e;
}

double Get(const Exposition& e, const std::string& name,
           const std::map<std::string, std::string>& labels = {}) {
  return e.Value(name, labels).value_or(0);
}

// A scrape once the mirror's status shows `lsn` applied (bounded). The mirror applies a
// transaction to the indexes, which wakes the searches waiting for it, and only then publishes
// it to the status the metrics read (the applied LSN with the transaction and change counts):
// a scrape right after a search waited for `lsn` may still show the commit before.
Exposition ScrapeApplied(int port, uint64_t lsn) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  Exposition e = Scrape(port);
  while (Get(e, "vecmirror_mirror_applied_lsn_bytes") < double(lsn) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    e = Scrape(port);
  }
  return e;
}

std::map<std::string, std::string> Rpc(const std::string& method,
                                       const std::string& code = "") {
  std::map<std::string, std::string> labels = {{"grpc_service", kSearchService},
                                               {"grpc_method", method}};
  if (!code.empty()) labels["grpc_code"] = code;
  return labels;
}

class OpsTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (HasFailure() && mirror_.LogTail() != "(no server)") {
      std::cerr << "server log (tail):\n" << mirror_.LogTail() << "\n";
    }
  }

  // One entity with a completed embedding; `vector` empty means a NULL vector (a bad row).
  std::string InsertSql(const std::string& tenant, const std::vector<float>& vector) {
    return "WITH e AS (INSERT INTO entity (tenant_id, entity_type) VALUES (" + Quote(tenant) +
           ", 'context') RETURNING id) INSERT INTO embedding (entity_id, model, status, vector) "
           "SELECT id, " + Quote(kModel) + ", 'completed', " +
           (vector.empty() ? std::string("NULL") : VectorSql(vector)) + " FROM e;";
  }

  std::vector<float> Vec() {
    std::normal_distribution<float> normal;
    std::vector<float> v(kDim);
    for (float& x : v) x = normal(rng_);
    return v;
  }

  LiveMirror mirror_;
  std::mt19937_64 rng_{20250611};
};

TEST_F(OpsTest, MetricsMoveWithRealTraffic) {
  ASSERT_TRUE(mirror_.Create("ops_metrics").ok());
  const int metrics_port = testing::FreeLoopbackPort();
  ASSERT_TRUE(
      mirror_.StartServer({"--metrics-listen", "127.0.0.1:" + std::to_string(metrics_port)}).ok());
  SqlSession sql(mirror_.conninfo());
  ASSERT_TRUE(sql.connected());
  Status s;
  const std::string tenant =
      sql.Value("INSERT INTO tenant (name) VALUES ('ops') RETURNING id::text", &s);
  ASSERT_TRUE(s.ok()) << s.ToString();

  // Five searchable rows and two with a NULL vector, in one transaction.
  constexpr int kRows = 5, kNullRows = 2;
  std::string batch = "BEGIN;";
  for (int i = 0; i < kRows; ++i) batch += InsertSql(tenant, Vec());
  for (int i = 0; i < kNullRows; ++i) batch += InsertSql(tenant, {});
  ASSERT_TRUE(sql.Exec(batch + "COMMIT;").ok());
  const uint64_t first_commit = sql.CurrentLsn();
  ASSERT_GT(testing::WaitApplied(mirror_.stub(), first_commit), 0u);

  const Exposition before = ScrapeApplied(metrics_port, first_commit);
  EXPECT_EQ(Get(before, "vecmirror_mirror_loaded"), 1);
  EXPECT_EQ(Get(before, "vecmirror_mirror_state", {{"state", "streaming"}}), 1);
  EXPECT_GE(Get(before, "vecmirror_mirror_applied_lsn_bytes"), double(first_commit));
  EXPECT_EQ(Get(before, "vecmirror_mirror_bad_rows_total", {{"reason", "null_vector"}}),
            kNullRows);
  EXPECT_EQ(Get(before, "vecmirror_mirror_initial_loads_total"), 1);
  EXPECT_EQ(Get(before, "vecmirror_build_info"), 1);
  const std::map<std::string, std::string> index = {
      {"tenant", tenant}, {"model", kModel}, {"dimension", std::to_string(kDim)}};
  EXPECT_EQ(Get(before, "vecmirror_index_live_rows", index), kRows);
  EXPECT_EQ(Get(before, "vecmirror_index_kind", {{"tenant", tenant}, {"kind", "flat"}}), 1);
  EXPECT_GT(Get(before, "vecmirror_index_memory_bytes", index), kRows * kDim * sizeof(float));

  // Searches that succeed and searches that are refused, each counted under its code.
  constexpr int kSearches = 12, kRefused = 3;
  for (int i = 0; i < kSearches; ++i) {
    v1::SearchResponse response;
    const grpc::Status status = testing::ExactSearch(mirror_.stub(), tenant, kModel, Vec(), 3, 0,
                                                     std::chrono::seconds(10), &response);
    ASSERT_TRUE(status.ok()) << testing::GrpcText(status);
    EXPECT_EQ(response.results_size(), 3);
  }
  for (int i = 0; i < kRefused; ++i) {
    v1::SearchResponse response;
    const grpc::Status status = testing::ExactSearch(mirror_.stub(), "not-a-uuid", kModel, Vec(),
                                                     3, 0, std::chrono::seconds(10), &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
  const Exposition after = Scrape(metrics_port);
  const auto delta = [&](const std::string& name, const std::map<std::string, std::string>& l) {
    return Get(after, name, l) - Get(before, name, l);
  };
  const auto search = Rpc("SearchSimilarEntities");
  EXPECT_EQ(delta("vecmirror_grpc_server_handled_total", Rpc("SearchSimilarEntities", "OK")),
            kSearches);
  EXPECT_EQ(delta("vecmirror_grpc_server_handled_total",
                  Rpc("SearchSimilarEntities", "INVALID_ARGUMENT")),
            kRefused);
  EXPECT_EQ(delta("vecmirror_grpc_server_started_total", search), kSearches + kRefused);
  EXPECT_EQ(delta("vecmirror_grpc_server_handling_seconds_count", search), kSearches + kRefused);
  auto inf = search;
  inf["le"] = "+Inf";
  EXPECT_EQ(delta("vecmirror_grpc_server_handling_seconds_bucket", inf), kSearches + kRefused);
  EXPECT_GT(delta("vecmirror_grpc_server_handling_seconds_sum", search), 0);
  EXPECT_EQ(Get(after, "vecmirror_grpc_server_in_flight_calls", search), 0);
  // The buckets are cumulative: each holds at least the one below it.
  double previous = 0;
  for (const auto& sample : after.Find("vecmirror_grpc_server_handling_seconds_bucket", search)) {
    if (sample.labels.at("le") == "+Inf") continue;
    EXPECT_GE(sample.value, previous);
    previous = sample.value;
  }

  // A commit moves the applied LSN past it, and the counters with it.
  ASSERT_TRUE(sql.Exec("BEGIN;" + InsertSql(tenant, Vec()) + "COMMIT;").ok());
  const uint64_t second_commit = sql.CurrentLsn();
  ASSERT_GT(second_commit, first_commit);
  ASSERT_GT(testing::WaitApplied(mirror_.stub(), second_commit), 0u);
  const Exposition later = ScrapeApplied(metrics_port, second_commit);
  EXPECT_GE(Get(later, "vecmirror_mirror_applied_lsn_bytes"), double(second_commit));
  EXPECT_GT(Get(later, "vecmirror_mirror_applied_lsn_bytes"),
            Get(after, "vecmirror_mirror_applied_lsn_bytes"));
  EXPECT_GE(Get(later, "vecmirror_mirror_transactions_applied_total") -
                Get(after, "vecmirror_mirror_transactions_applied_total"),
            1);
  EXPECT_GE(Get(later, "vecmirror_mirror_changes_applied_total") -
                Get(after, "vecmirror_mirror_changes_applied_total"),
            2);  // an entity row and an embedding row
  EXPECT_EQ(Get(later, "vecmirror_index_live_rows", index), kRows + 1);
  EXPECT_GT(Get(later, "vecmirror_mirror_last_commit_applied_timestamp_seconds"), 0);

  // An online rebuild is counted with its duration.
  {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    v1::RebuildIndexRequest request;
    request.set_tenant_id(tenant);
    request.set_kind(v1::INDEX_KIND_HNSW);
    v1::RebuildIndexResponse response;
    ASSERT_TRUE(mirror_.stub().RebuildIndex(&context, request, &response).ok());
    // RebuildIndex returns once the rebuild is queued; ListIndexes shows it end.
    const auto ended = testing::AwaitRebuilds(mirror_.stub(), response);
    ASSERT_FALSE(ended.empty());
    EXPECT_EQ(ended.begin()->second.rebuild().state(), v1::REBUILD_STATE_DONE);
  }
  const Exposition rebuilt = Scrape(metrics_port);
  EXPECT_EQ(Get(rebuilt, "vecmirror_index_rebuilds_total",
                {{"kind", "hnsw"}, {"outcome", "completed"}}),
            1);
  EXPECT_EQ(Get(rebuilt, "vecmirror_index_rebuild_duration_seconds_count", {{"kind", "hnsw"}}), 1);
  EXPECT_EQ(Get(rebuilt, "vecmirror_index_kind", {{"tenant", tenant}, {"kind", "hnsw"}}), 1);
  EXPECT_EQ(Get(rebuilt, "vecmirror_indexes", {{"kind", "hnsw"}}), 1);
  EXPECT_EQ(Get(rebuilt, "vecmirror_grpc_server_handled_total", Rpc("RebuildIndex", "OK")) -
                Get(after, "vecmirror_grpc_server_handled_total", Rpc("RebuildIndex", "OK")),
            1);
}

// One server, configured from three places: the file asks for text logs, the environment for
// JSON (the environment wins); the file turns per-index metrics on, a flag off (the flag wins);
// the metrics address comes from the file alone.
TEST_F(OpsTest, ConfigFromFileEnvironmentAndFlagsAndJsonLogs) {
  ASSERT_TRUE(mirror_.Create("ops_config").ok());
  const int metrics_port = testing::FreeLoopbackPort();
  const std::filesystem::path config_file =
      std::filesystem::temp_directory_path() /
      ("vecmirror_ops_" + std::to_string(getpid()) + ".toml");
  std::ofstream(config_file) << "log-format = \"text\"\n"
                             << "metrics-per-index = true\n"
                             << "metrics-listen = \"127.0.0.1:" << metrics_port << "\"\n";
  setenv("VECMIRROR_LOG_FORMAT", "json", 1);
  const Status started =
      mirror_.StartServer({"--config", config_file.string(), "--metrics-per-index", "false"});
  unsetenv("VECMIRROR_LOG_FORMAT");
  std::filesystem::remove(config_file);
  ASSERT_TRUE(started.ok()) << started.ToString();

  SqlSession sql(mirror_.conninfo());
  Status s;
  const std::string tenant =
      sql.Value("INSERT INTO tenant (name) VALUES ('ops') RETURNING id::text", &s);
  ASSERT_TRUE(s.ok()) << s.ToString();
  // A model name made to end its log line and start a forged one.
  const std::string evil_model =
      "evil\"}\n{\"level\":\"critical\",\"message\":\"forged\"}\n\x1b[31m";
  ASSERT_TRUE(sql.Exec("BEGIN;" + InsertSql(tenant, Vec()) +
                       "WITH e AS (INSERT INTO entity (tenant_id, entity_type) VALUES (" +
                       Quote(tenant) + ", 'context') RETURNING id) "
                       "INSERT INTO embedding (entity_id, model, status, vector) SELECT id, " +
                       Quote(evil_model) + ", 'completed', '{1,NaN,3}'::real[] FROM e; COMMIT;")
                  .ok());
  ASSERT_GT(testing::WaitApplied(mirror_.stub(), sql.CurrentLsn()), 0u);
  {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    v1::RebuildIndexRequest request;
    request.set_tenant_id(tenant);
    v1::RebuildIndexResponse response;
    ASSERT_TRUE(mirror_.stub().RebuildIndex(&context, request, &response).ok());
    ASSERT_FALSE(testing::AwaitRebuilds(mirror_.stub(), response).empty());
  }

  // The metrics address came from the file; the flag turned the per-index series off.
  const Exposition metrics = Scrape(metrics_port);
  EXPECT_EQ(Get(metrics, "vecmirror_indexes_live_rows"), 1);
  EXPECT_TRUE(metrics.Find("vecmirror_index_live_rows").empty());
  EXPECT_EQ(Get(metrics, "vecmirror_mirror_bad_rows_total", {{"reason", "non_finite"}}), 1);

  // Every line of the log is one JSON object (the environment beat the file's "text"). The
  // server's main loop logs "first load complete" at its next 200 ms tick after the load, and
  // nothing at all if a SIGTERM comes first: wait (bounded) for that line before stopping it.
  const auto logged_by = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (mirror_.server().Log().find("first load complete") == std::string::npos &&
         std::chrono::steady_clock::now() < logged_by) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  mirror_.StopServer(SIGTERM);
  std::istringstream log(mirror_.server().Log());
  std::vector<nlohmann::json> lines;
  for (std::string line; std::getline(log, line);) {
    if (line.empty()) continue;
    try {
      lines.push_back(nlohmann::json::parse(line));
    } catch (const nlohmann::json::exception& e) {
      ADD_FAILURE() << "not a JSON line: " << line;
    }
  }
  ASSERT_FALSE(lines.empty());
  const auto find = [&](const std::string& needle) -> const nlohmann::json* {
    for (const nlohmann::json& l : lines) {
      if (l.value("message", "").find(needle) != std::string::npos) return &l;
    }
    return nullptr;
  };
  for (const nlohmann::json& l : lines) {
    EXPECT_TRUE(l.contains("time") && l.contains("level") && l.contains("message")) << l.dump();
    EXPECT_NE(l.value("message", ""), "forged");
  }
  ASSERT_TRUE(find("first load complete"));
  EXPECT_EQ((*find("first load complete"))["level"], "info");
  const nlohmann::json* bad = find("embedding not searchable");
  ASSERT_TRUE(bad) << "no bad-row line";
  EXPECT_EQ((*bad)["model"], evil_model);  // the exact bytes, escaped on the way
  EXPECT_EQ((*bad)["reason"], "non_finite");
  EXPECT_EQ((*bad)["level"], "warning");
  const nlohmann::json* streaming = find("streaming from");
  ASSERT_TRUE(streaming);
  EXPECT_TRUE(streaming->contains("lsn"));
  const nlohmann::json* rebuilt = find(" done in ");
  ASSERT_TRUE(rebuilt) << "no rebuild line";
  EXPECT_EQ((*rebuilt)["tenant"], tenant);
  EXPECT_EQ((*rebuilt)["model"], kModel);
  EXPECT_GE((*rebuilt)["duration_seconds"].get<double>(), 0);
}

}  // namespace
}  // namespace vecmirror
