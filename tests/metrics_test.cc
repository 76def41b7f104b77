// src/metrics: the text format's escaping and numbers, histograms (cumulative buckets, +Inf),
// the registry's exposition read back by an independent parser (tests/support/
// prometheus_text.h), the gRPC interceptor on a real server at 127.0.0.1:0, the state
// collectors, and the HTTP endpoint scraped over loopback.
#include <gtest/gtest.h>
#include <httplib.h>

#include <cmath>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "index/kernels.h"
#include "index/model_catalog.h"
#include "index/registry.h"
#include "src/grpc_server.h"
#include "src/metrics/build_info.h"
#include "src/metrics/grpc_metrics.h"
#include "src/metrics/http_exporter.h"
#include "src/metrics/metric_registry.h"
#include "src/metrics/process_metrics.h"
#include "src/metrics/service_metrics.h"
#include "src/metrics/state_metrics.h"
#include "src/metrics/text_format.h"
#include "src/search_service.h"
#include "tests/support/prometheus_text.h"

namespace vecmirror::metrics {
namespace {

using testing::Exposition;
using testing::ParseExposition;

Exposition Parse(const std::string& text) {
  Exposition e;
  std::string error;
  EXPECT_TRUE(ParseExposition(text, &e, &error)) << error << "\n" << text;
  return e;
}

size_t CountLines(const std::string& text) {
  return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
}

TEST(TextFormatTest, LabelValuesEscapeBackslashQuoteAndNewline) {
  EXPECT_EQ(EscapeLabelValue("plain"), "plain");
  EXPECT_EQ(EscapeLabelValue("a\\b"), "a\\\\b");
  EXPECT_EQ(EscapeLabelValue("say \"hi\""), "say \\\"hi\\\"");
  EXPECT_EQ(EscapeLabelValue("two\nlines"), "two\\nlines");
  EXPECT_EQ(EscapeLabelValue("ünïcode"), "ünïcode");  // UTF-8 passes through
  EXPECT_EQ(EscapeHelp("a\\b\nc \"q\""), "a\\\\b\\nc \"q\"");  // HELP keeps quotes
}

TEST(TextFormatTest, AHostileLabelValueCannotForgeASample) {
  const std::string hostile = "x\"} 1\nvecmirror_forged_total 99\n# TYPE y counter\\";
  TextWriter w;
  w.Family("vecmirror_test_total", MetricType::kCounter, "Help with a\nnewline.");
  w.Sample("vecmirror_test_total", {{"model", hostile}}, 3);
  EXPECT_EQ(CountLines(w.text()), 3u) << w.text();
  const Exposition e = Parse(w.text());
  ASSERT_EQ(e.samples.size(), 1u);
  EXPECT_EQ(e.samples[0].labels.at("model"), hostile);  // round-trips exactly
  EXPECT_EQ(e.samples[0].value, 3);
  EXPECT_TRUE(e.Find("vecmirror_forged_total").empty());
  EXPECT_EQ(e.help.at("vecmirror_test_total"), "Help with a\nnewline.");
}

TEST(TextFormatTest, ValuesAreShortestRoundTripOrTheSpecialNames) {
  EXPECT_EQ(FormatValue(0), "0");
  EXPECT_EQ(FormatValue(12), "12");
  EXPECT_EQ(FormatValue(0.25), "0.25");
  EXPECT_EQ(FormatValue(-1.5), "-1.5");
  EXPECT_EQ(FormatValue(0.0001), "0.0001");
  EXPECT_EQ(FormatValue(0.00025), "0.00025");
  EXPECT_EQ(FormatValue(1e-7), "1e-07");
  EXPECT_EQ(FormatValue(1e20), "1e+20");
  EXPECT_EQ(FormatValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatValue(std::nan("")), "NaN");
  // An LSN-sized integer prints exactly (doubles hold integers up to 2^53).
  const double lsn = 0x16B374D848ULL;
  EXPECT_EQ(std::strtod(FormatValue(lsn).c_str(), nullptr), lsn);
  EXPECT_EQ(FormatValue(9007199254740992.0), "9007199254740992");
  for (double v : {0.1, 1.0 / 3, 6.02e23, 1e-300, 123456.789, 0.00012345678901234567}) {
    EXPECT_EQ(std::strtod(FormatValue(v).c_str(), nullptr), v) << FormatValue(v);
  }
}

TEST(TextFormatTest, HistogramBucketsAreCumulativeAndEndWithInf) {
  TextWriter w;
  const std::vector<double> bounds = {0.1, 1, 10};
  const std::vector<uint64_t> counts = {2, 0, 5, 3};  // 3 above 10
  w.Family("vecmirror_x_seconds", MetricType::kHistogram, "x");
  w.Histogram("vecmirror_x_seconds", {{"m", "a"}}, bounds, counts, 123.5);
  EXPECT_EQ(w.text(),
            "# HELP vecmirror_x_seconds x\n"
            "# TYPE vecmirror_x_seconds histogram\n"
            "vecmirror_x_seconds_bucket{m=\"a\",le=\"0.1\"} 2\n"
            "vecmirror_x_seconds_bucket{m=\"a\",le=\"1\"} 2\n"
            "vecmirror_x_seconds_bucket{m=\"a\",le=\"10\"} 7\n"
            "vecmirror_x_seconds_bucket{m=\"a\",le=\"+Inf\"} 10\n"
            "vecmirror_x_seconds_sum{m=\"a\"} 123.5\n"
            "vecmirror_x_seconds_count{m=\"a\"} 10\n");
}

TEST(HistogramTest, BoundsAreInclusiveAndLargeValuesLandInInf) {
  Histogram h({0.001, 0.01, 0.1});
  for (double v : {0.0, 0.001, 0.0010001, 0.01, 0.05, 0.1, 0.2, 1e9}) h.Observe(v);
  const Histogram::Counts c = h.Read();
  EXPECT_EQ(c.per_bucket, (std::vector<uint64_t>{2, 2, 2, 2}));
  EXPECT_EQ(c.count(), 8u);
  EXPECT_DOUBLE_EQ(c.sum, 0.001 + 0.0010001 + 0.01 + 0.05 + 0.1 + 0.2 + 1e9);
}

TEST(MetricRegistryTest, ConcurrentUpdatesAddUpAndRenderOnceEachFamily) {
  MetricRegistry registry;
  auto& calls = registry.AddCounter("vecmirror_test_calls_total", "Calls.", {"method"});
  auto& latency =
      registry.AddHistogram("vecmirror_test_seconds", "Latency.", {"method"}, {0.5, 1});
  auto& gauge = registry.AddGauge("vecmirror_test_in_flight", "Now.");
  registry.AddCollector([](TextWriter& w) {
    w.Family("vecmirror_test_collected", MetricType::kGauge, "At scrape time.");
    w.Sample("vecmirror_test_collected", 42);
  });
  constexpr int kThreads = 4, kEach = 5000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::string method = t % 2 ? "odd" : "even";
      for (int i = 0; i < kEach; ++i) {
        calls.With({method}).Increment();
        latency.With({method}).Observe(i % 2 ? 0.25 : 2.0);
        gauge.With({}).Add(1);
        gauge.With({}).Add(-1);
      }
    });
  }
  for (auto& t : threads) t.join();

  const Exposition e = Parse(registry.Render());
  EXPECT_EQ(e.types.at("vecmirror_test_calls_total"), "counter");
  EXPECT_EQ(e.types.at("vecmirror_test_seconds"), "histogram");
  EXPECT_EQ(e.types.at("vecmirror_test_in_flight"), "gauge");
  EXPECT_EQ(e.Value("vecmirror_test_calls_total", {{"method", "odd"}}), 2.0 * kEach);
  EXPECT_EQ(e.Value("vecmirror_test_calls_total", {{"method", "even"}}), 2.0 * kEach);
  EXPECT_EQ(e.Value("vecmirror_test_seconds_count", {{"method", "odd"}}), 2.0 * kEach);
  EXPECT_EQ(e.Value("vecmirror_test_seconds_bucket", {{"method", "odd"}, {"le", "0.5"}}),
            1.0 * kEach);
  EXPECT_EQ(e.Value("vecmirror_test_seconds_bucket", {{"method", "odd"}, {"le", "+Inf"}}),
            2.0 * kEach);
  EXPECT_DOUBLE_EQ(*e.Value("vecmirror_test_seconds_sum", {{"method", "odd"}}),
                   kEach * (0.25 + 2.0));
  EXPECT_EQ(e.Value("vecmirror_test_in_flight"), 0);
  EXPECT_EQ(e.Value("vecmirror_test_collected"), 42);
}

// A real gRPC server with the interceptor, and calls that end in several codes.
TEST(GrpcServerMetricsTest, CountsCallsByMethodAndCodeAndTimesThem) {
  MetricRegistry registry;
  GrpcServerMetrics metrics(registry);
  Registry indexes;
  ModelCatalog models;
  MirrorStatusBoard board;
  board.Update([](MirrorState& s) { s.loaded = true; });
  SearchService service(indexes, models, board);
  GrpcServer server(GrpcServerOptions{.listen = "127.0.0.1:0", .max_message_bytes = 1 << 20});
  ASSERT_TRUE(server
                  .Start({&service},
                         [&](grpc::ServerBuilder& builder) {
                           std::vector<std::unique_ptr<
                               grpc::experimental::ServerInterceptorFactoryInterface>>
                               creators;
                           creators.push_back(metrics.NewInterceptorFactory());
                           builder.experimental().SetInterceptorCreators(std::move(creators));
                         })
                  .ok());
  auto stub = v1::VectorSearch::NewStub(grpc::CreateChannel(
      "127.0.0.1:" + std::to_string(server.bound_port()), grpc::InsecureChannelCredentials()));

  constexpr int kStatusCalls = 7, kBadSearches = 3;
  for (int i = 0; i < kStatusCalls; ++i) {
    grpc::ClientContext context;
    v1::MirrorStatus status;
    ASSERT_TRUE(stub->GetMirrorStatus(&context, v1::GetMirrorStatusRequest(), &status).ok());
  }
  for (int i = 0; i < kBadSearches; ++i) {
    grpc::ClientContext context;
    v1::SearchRequest request;
    request.set_tenant_id("not-a-uuid");
    v1::SearchResponse response;
    EXPECT_EQ(stub->SearchSimilarEntities(&context, request, &response).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
  server.Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));

  const Exposition e = Parse(registry.Render());
  const std::map<std::string, std::string> status_rpc = {
      {"grpc_service", "vecmirror.v1.VectorSearch"}, {"grpc_method", "GetMirrorStatus"}};
  const std::map<std::string, std::string> search_rpc = {
      {"grpc_service", "vecmirror.v1.VectorSearch"}, {"grpc_method", "SearchSimilarEntities"}};
  EXPECT_EQ(e.Value("vecmirror_grpc_server_started_total", status_rpc), kStatusCalls);
  EXPECT_EQ(e.Value("vecmirror_grpc_server_handled_total",
                    {{"grpc_method", "GetMirrorStatus"}, {"grpc_code", "OK"}}),
            kStatusCalls);
  EXPECT_EQ(e.Value("vecmirror_grpc_server_handled_total",
                    {{"grpc_method", "SearchSimilarEntities"}, {"grpc_code", "INVALID_ARGUMENT"}}),
            kBadSearches);
  EXPECT_FALSE(e.Value("vecmirror_grpc_server_handled_total",
                       {{"grpc_method", "SearchSimilarEntities"}, {"grpc_code", "OK"}}));
  EXPECT_EQ(e.Value("vecmirror_grpc_server_handling_seconds_count", status_rpc), kStatusCalls);
  auto inf = search_rpc;
  inf["le"] = "+Inf";
  EXPECT_EQ(e.Value("vecmirror_grpc_server_handling_seconds_bucket", inf), kBadSearches);
  EXPECT_GT(*e.Value("vecmirror_grpc_server_handling_seconds_sum", search_rpc), 0);
  EXPECT_EQ(e.Value("vecmirror_grpc_server_in_flight_calls", search_rpc), 0);
  EXPECT_EQ(e.Value("vecmirror_grpc_server_queued_calls"), 0);
}

TEST(GrpcServerMetricsTest, InventedMethodNamesShareOneSeriesPastTheCap) {
  MetricRegistry registry;
  GrpcServerMetrics metrics(registry);
  for (size_t i = 0; i < GrpcServerMetrics::kMaxMethods + 50; ++i) {
    auto& series = metrics.SeriesFor(("/evil.Service/M" + std::to_string(i)).c_str());
    series.started->Increment();
  }
  metrics.SeriesFor(nullptr).started->Increment();
  const Exposition e = Parse(registry.Render());
  const auto started = e.Find("vecmirror_grpc_server_started_total");
  EXPECT_EQ(started.size(), GrpcServerMetrics::kMaxMethods + 1);
  EXPECT_EQ(e.Value("vecmirror_grpc_server_started_total", {{"grpc_service", "unknown"}}), 51);
  EXPECT_STREQ(GrpcCodeName(16), "UNAUTHENTICATED");
  EXPECT_STREQ(GrpcCodeName(17), "UNKNOWN");
}

TEST(StateMetricsTest, MirrorStateIsWrittenWithLagAndBadRows) {
  MirrorState s;
  s.state = "streaming";
  s.slot_name = "vecmirror";
  s.publication = "pub\"lic";
  s.loaded = true;
  s.applied_lsn = 0x16B374D848ULL;
  s.confirmed_lsn = 0x16B374D000ULL;
  s.server_lsn = 0x16B374D848ULL + 4096;
  s.transactions_applied = 17;
  s.changes_applied = 1234;
  s.bad_rows[BadRowReason::kNonFinite] = 3;
  s.bad_rows[BadRowReason::kZeroVector] = 2;
  s.lag_seconds = 0.5;
  const auto now = std::chrono::system_clock::now();
  s.last_commit_applied_at = now - std::chrono::seconds(2);
  TextWriter w;
  WriteMirrorMetrics(s, now, w);
  const Exposition e = Parse(w.text());
  EXPECT_EQ(e.Value("vecmirror_mirror_info", {{"publication", "pub\"lic"}}), 1);
  EXPECT_EQ(e.Value("vecmirror_mirror_loaded"), 1);
  EXPECT_EQ(e.Value("vecmirror_mirror_state", {{"state", "streaming"}}), 1);
  EXPECT_EQ(e.Value("vecmirror_mirror_state"), 1);  // one state at a time
  EXPECT_EQ(e.Value("vecmirror_mirror_applied_lsn_bytes"), double(0x16B374D848ULL));
  EXPECT_EQ(e.Value("vecmirror_mirror_lag_bytes"), 4096);
  EXPECT_NEAR(*e.Value("vecmirror_mirror_lag_seconds"), 2.5, 1e-6);  // behind: it grows
  EXPECT_EQ(e.Value("vecmirror_mirror_transactions_applied_total"), 17);
  EXPECT_EQ(e.Value("vecmirror_mirror_changes_applied_total"), 1234);
  EXPECT_EQ(e.Value("vecmirror_mirror_bad_rows_total", {{"reason", "non_finite"}}), 3);
  EXPECT_EQ(e.Value("vecmirror_mirror_bad_rows_total", {{"reason", "zero_vector"}}), 2);
  EXPECT_EQ(e.Value("vecmirror_mirror_bad_rows_total"), 5);
  EXPECT_EQ(e.Find("vecmirror_mirror_bad_rows_total").size(), kBadRowReasonCount);
  EXPECT_EQ(e.types.at("vecmirror_mirror_bad_rows_total"), "counter");
  EXPECT_NEAR(*e.Value("vecmirror_mirror_last_commit_applied_timestamp_seconds"),
              std::chrono::duration<double>(s.last_commit_applied_at.time_since_epoch()).count(),
              1e-3);

  s.server_lsn = s.applied_lsn;  // caught up
  TextWriter caught_up;
  WriteMirrorMetrics(s, now, caught_up);
  EXPECT_EQ(Parse(caught_up.text()).Value("vecmirror_mirror_lag_seconds"), 0);
}

TEST(StateMetricsTest, IndexesPerIndexAndSummedByKind) {
  Uuid tenant;
  tenant.bytes[15] = 7;
  std::vector<IndexInfo> list(3);
  list[0].key = {tenant, "all-MiniLM-L6-v2", 384};
  list[0].stats = {IndexKind::kFlat, 100, 5, 10, 1 << 20, 0x100, false};
  list[1].key = {tenant, "text-embedding-3-small", 1536};
  list[1].stats = {IndexKind::kHnsw, 6000, 0, 0, 50 << 20, 0x200, true};
  list[2].key = {Uuid(), "text-embedding-3-small", 1536};
  list[2].stats = {IndexKind::kHnsw, 7000, 70, 0, 60 << 20, 0x300, false};
  TextWriter w;
  WriteIndexMetrics(list, true, w);
  const Exposition e = Parse(w.text());
  EXPECT_EQ(e.Value("vecmirror_indexes", {{"kind", "hnsw"}}), 2);
  EXPECT_EQ(e.Value("vecmirror_indexes", {{"kind", "ivf"}}), 0);
  EXPECT_EQ(e.Value("vecmirror_indexes_live_rows", {{"kind", "hnsw"}}), 13000);
  EXPECT_EQ(e.Value("vecmirror_indexes_dead_rows"), 75);
  EXPECT_EQ(e.Value("vecmirror_indexes_memory_bytes"), double((1 << 20) + (110 << 20)));
  const std::map<std::string, std::string> small = {
      {"tenant", tenant.ToString()}, {"model", "text-embedding-3-small"}, {"dimension", "1536"}};
  EXPECT_EQ(e.Value("vecmirror_index_live_rows", small), 6000);
  EXPECT_EQ(e.Value("vecmirror_index_rebuilding", small), 1);
  EXPECT_EQ(e.Value("vecmirror_index_covered_lsn_bytes", small), 0x200);
  auto hnsw = small;
  hnsw["kind"] = "hnsw";
  EXPECT_EQ(e.Value("vecmirror_index_kind", hnsw), 1);
  EXPECT_EQ(e.Value("vecmirror_index_kind", small), 1);  // one kind per index
  EXPECT_EQ(e.Value("vecmirror_index_tail_rows", {{"model", "all-MiniLM-L6-v2"}}), 10);

  TextWriter sums_only;
  WriteIndexMetrics(list, false, sums_only);
  const Exposition s = Parse(sums_only.text());
  EXPECT_TRUE(s.Find("vecmirror_index_live_rows").empty());
  EXPECT_EQ(s.Value("vecmirror_indexes_live_rows"), 13100);
}

TEST(BuildInfoTest, NamesVersionCommitFaissAndKernel) {
  const BuildInfo info = CurrentBuildInfo();
  EXPECT_FALSE(info.version.empty());
  EXPECT_FALSE(info.git_commit.empty());
  EXPECT_EQ(info.faiss_version.find('.') != std::string::npos, true) << info.faiss_version;
  EXPECT_EQ(info.kernel, KernelVariantName());
  TextWriter w;
  WriteBuildInfo(info, w);
  const Exposition e = Parse(w.text());
  EXPECT_EQ(e.Value("vecmirror_build_info", {{"version", info.version},
                                             {"git_commit", info.git_commit},
                                             {"kernel", info.kernel}}),
            1);
  EXPECT_NE(BuildInfoText(info).find(info.faiss_version), std::string::npos);
}

TEST(ProcessMetricsTest, ResidentMemoryAndCpuAreThere) {
  TextWriter w;
  WriteProcessMetrics(w);
  const Exposition e = Parse(w.text());
  ASSERT_TRUE(e.Value("process_resident_memory_bytes"));
  EXPECT_GT(*e.Value("process_resident_memory_bytes"), 1 << 20);
  ASSERT_TRUE(e.Value("process_cpu_seconds_total"));
  EXPECT_GE(*e.Value("process_cpu_seconds_total"), 0);
  const double now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  ASSERT_TRUE(e.Value("process_start_time_seconds"));
  EXPECT_LE(*e.Value("process_start_time_seconds"), now + 1);
  EXPECT_GT(*e.Value("process_start_time_seconds"), now - 3600);
  EXPECT_GE(*e.Value("process_open_fds"), 3);
}

TEST(HttpExporterTest, ListenAddressesParse) {
  std::string host;
  int port = -1;
  ASSERT_TRUE(ParseListenAddress("127.0.0.1:9464", &host, &port).ok());
  EXPECT_EQ(host, "127.0.0.1");
  EXPECT_EQ(port, 9464);
  ASSERT_TRUE(ParseListenAddress("[::1]:0", &host, &port).ok());
  EXPECT_EQ(host, "::1");
  EXPECT_EQ(port, 0);
  ASSERT_TRUE(ParseListenAddress("localhost:65535", &host, &port).ok());
  for (const char* bad : {"9464", ":9464", "host:", "host:65536", "host:-1", "host:12x", ""}) {
    EXPECT_EQ(ParseListenAddress(bad, &host, &port).code(), Status::Code::kInvalidArgument)
        << bad;
  }
}

TEST(HttpExporterTest, ServesTheExpositionOverLoopback) {
  int scrapes = 0;
  MetricsHttpServer server([&] {
    ++scrapes;
    return std::string("vecmirror_up 1\n");
  });
  ASSERT_TRUE(server.Start("127.0.0.1:0").ok());
  ASSERT_GT(server.bound_port(), 0);
  httplib::Client client("127.0.0.1", server.bound_port());
  client.set_connection_timeout(5);
  client.set_read_timeout(5);
  for (int i = 1; i <= 3; ++i) {
    auto response = client.Get("/metrics");
    ASSERT_TRUE(response) << httplib::to_string(response.error());
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(response->body, "vecmirror_up 1\n");
    EXPECT_EQ(response->get_header_value("Content-Type"),
              "text/plain; version=0.0.4; charset=utf-8");
    EXPECT_EQ(scrapes, i);
  }
  auto missing = client.Get("/nothing");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);

  // The port is taken while it runs.
  MetricsHttpServer second([] { return std::string(); });
  EXPECT_EQ(second.Start("127.0.0.1:" + std::to_string(server.bound_port())).code(),
            Status::Code::kIOError);
  server.Stop();
  server.Stop();  // idempotent
  httplib::Client after("127.0.0.1", server.bound_port());
  after.set_connection_timeout(2);
  EXPECT_FALSE(after.Get("/metrics"));
}

TEST(ServiceMetricsTest, OffByDefaultAndOnWithAnAddress) {
  ServiceMetrics off;
  ASSERT_TRUE(off.StartHttp().ok());
  EXPECT_EQ(off.http_port(), 0);

  Registry indexes;
  MirrorStatusBoard board;
  ServiceMetrics on(MetricsOptions{"127.0.0.1:0", true});
  on.Watch(indexes, board);
  RebuildProgress done;
  done.kind = IndexKind::kHnsw;
  done.finished = true;
  done.seconds = 1.5;
  on.RecordRebuild(done);
  RebuildProgress cancelled = done;
  cancelled.cancelled = true;
  on.RecordRebuild(cancelled);
  RebuildProgress halfway = done;
  halfway.finished = false;
  on.RecordRebuild(halfway);  // not counted
  ASSERT_TRUE(on.StartHttp().ok());
  ASSERT_GT(on.http_port(), 0);
  httplib::Client client("127.0.0.1", on.http_port());
  auto response = client.Get("/metrics");
  ASSERT_TRUE(response);
  const Exposition e = Parse(response->body);
  EXPECT_EQ(e.Value("vecmirror_index_rebuilds_total", {{"kind", "hnsw"}, {"outcome", "completed"}}),
            1);
  EXPECT_EQ(e.Value("vecmirror_index_rebuilds_total", {{"outcome", "cancelled"}}), 1);
  EXPECT_EQ(e.Value("vecmirror_index_rebuild_duration_seconds_count"), 1);
  EXPECT_EQ(e.Value("vecmirror_index_rebuild_duration_seconds_sum"), 1.5);
  EXPECT_EQ(e.Value("vecmirror_mirror_loaded"), 0);
  EXPECT_EQ(e.Value("vecmirror_indexes"), 0);
  EXPECT_EQ(e.Value("vecmirror_build_info"), 1);
  EXPECT_TRUE(e.Value("process_resident_memory_bytes"));
}

}  // namespace
}  // namespace vecmirror::metrics
