// ListIndexes, GetMirrorStatus, RebuildIndex, and the server wrapper: health (NOT_SERVING until
// SetServing), reflection, bind failures, shutdown.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include <grpcpp/generic/generic_stub.h>

#include "tests/support/rebuild_wait.h"
#include "tests/support/service_test_fixture.h"
#include "tools/cli/health_check.h"

namespace vecmirror::service_test {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class ServiceAdminTest : public SharedWorldTest {
 protected:
  static grpc::Status ListIndexes(const v1::ListIndexesRequest& request,
                                  v1::ListIndexesResponse* response) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + seconds(20));
    return world().stub->ListIndexes(&context, request, response);
  }
  static grpc::Status Rebuild(const v1::RebuildIndexRequest& request,
                              v1::RebuildIndexResponse* response) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + seconds(60));
    return world().stub->RebuildIndex(&context, request, response);
  }
};

TEST_F(ServiceAdminTest, ListIndexesCountsWhatWasInserted) {
  v1::ListIndexesResponse all;
  ASSERT_TRUE(ListIndexes({}, &all).ok());
  EXPECT_EQ(all.applied_lsn(), world().registry.applied_lsn());
  int matched = 0;
  for (const v1::IndexInfo& info : all.indexes()) {
    const std::optional<Uuid> tenant = Uuid::Parse(info.tenant_id());
    ASSERT_TRUE(tenant.has_value()) << info.tenant_id();
    if (*tenant != world().tenant_a && *tenant != world().tenant_b) continue;
    ++matched;
    SCOPED_TRACE(info.tenant_id() + "/" + info.model());
    EXPECT_EQ(info.live_count(), world().RowsOf(*tenant, info.model()).size());
    EXPECT_EQ(info.live_count(), kRowsPerIndex - kRemovedPerIndex);
    EXPECT_EQ(info.dimension(), *world().models.DimensionOf(info.model()));
    EXPECT_EQ(info.kind(), v1::INDEX_KIND_FLAT);
    EXPECT_GT(info.memory_bytes(), info.live_count() * info.dimension() * sizeof(float) / 2);
    // The same bytes shared out over the live vectors: at least the raw fp32 vector each.
    EXPECT_DOUBLE_EQ(info.bytes_per_vector(),
                     double(info.memory_bytes()) / double(info.live_count()));
    EXPECT_GE(info.bytes_per_vector(), double(info.dimension() * sizeof(float)));
    EXPECT_GT(info.covered_lsn(), 0u);
    EXPECT_LE(info.covered_lsn(), all.applied_lsn());
  }
  EXPECT_EQ(matched, 4);

  v1::ListIndexesRequest by_tenant;
  by_tenant.set_tenant_id(world().tenant_b.ToString());
  v1::ListIndexesResponse tenant_b;
  ASSERT_TRUE(ListIndexes(by_tenant, &tenant_b).ok());
  ASSERT_EQ(tenant_b.indexes_size(), 2);
  for (const v1::IndexInfo& info : tenant_b.indexes()) {
    EXPECT_EQ(info.tenant_id(), world().tenant_b.ToString());
  }

  by_tenant.set_model(kSmall);
  v1::ListIndexesResponse one;
  ASSERT_TRUE(ListIndexes(by_tenant, &one).ok());
  ASSERT_EQ(one.indexes_size(), 1);
  EXPECT_EQ(one.indexes(0).model(), kSmall);
  EXPECT_EQ(one.indexes(0).dimension(), kSmallDim);

  v1::ListIndexesRequest bad;
  bad.set_tenant_id("zzz");
  v1::ListIndexesResponse none;
  const grpc::Status status = ListIndexes(bad, &none);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("tenant_id"), std::string::npos);
}

TEST_F(ServiceAdminTest, GetMirrorStatusReportsTheBoardWithLagAtReadTime) {
  const auto now = std::chrono::system_clock::now();
  world().board.Update([&](MirrorState& s) {
    s.slot_name = "vecmirror_slot";
    s.publication = "vecmirror_pub";
    s.confirmed_lsn = 0x16B30000;
    s.server_lsn = s.applied_lsn + 4096;  // behind by 4 KiB
    s.lag_seconds = 0.5;
    s.last_commit_applied_at = now - seconds(3);
    s.reconnects = 2;
    s.initial_loads = 1;
    s.transactions_applied = 77;
    s.changes_applied = 1234;
    s.bad_rows[BadRowReason::kNullVector] = 1;
    s.bad_rows[BadRowReason::kNonFinite] = 2;
    s.bad_rows[BadRowReason::kZeroVector] = 3;
    s.bad_rows[BadRowReason::kDimensionMismatch] = 4;
    s.bad_rows[BadRowReason::kMalformed] = 5;
    s.last_error = "connection reset";
  });
  const MirrorState state = world().board.Get();

  grpc::ClientContext context;
  v1::MirrorStatus status;
  ASSERT_TRUE(world().stub->GetMirrorStatus(&context, {}, &status).ok());
  const double elapsed =
      std::chrono::duration<double>(std::chrono::system_clock::now() - now).count();
  EXPECT_EQ(status.state(), "streaming");
  EXPECT_TRUE(status.loaded());
  EXPECT_EQ(status.slot_name(), "vecmirror_slot");
  EXPECT_EQ(status.publication(), "vecmirror_pub");
  EXPECT_EQ(status.applied_lsn(), state.applied_lsn);
  EXPECT_EQ(status.confirmed_lsn(), 0x16B30000u);
  EXPECT_EQ(status.server_lsn(), state.applied_lsn + 4096);
  EXPECT_EQ(status.lag_bytes(), 4096u);
  // The newest applied commit took 0.5 s to arrive and was applied 3 s ago.
  EXPECT_GE(status.seconds_since_last_commit(), 3.0);
  EXPECT_LE(status.seconds_since_last_commit(), 3.0 + elapsed + 0.01);
  EXPECT_GE(status.lag_seconds(), 3.5);
  EXPECT_LE(status.lag_seconds(), 3.5 + elapsed + 0.01);
  EXPECT_EQ(status.reconnects(), 2u);
  EXPECT_EQ(status.initial_loads(), 1u);
  EXPECT_EQ(status.transactions_applied(), 77u);
  EXPECT_EQ(status.changes_applied(), 1234u);
  EXPECT_EQ(status.bad_rows().null_vector(), 1u);
  EXPECT_EQ(status.bad_rows().non_finite(), 2u);
  EXPECT_EQ(status.bad_rows().zero_vector(), 3u);
  EXPECT_EQ(status.bad_rows().dimension_mismatch(), 4u);
  EXPECT_EQ(status.bad_rows().malformed(), 5u);
  EXPECT_EQ(status.last_error(), "connection reset");

  // Caught up: no lag, however old the last commit.
  world().board.Update([](MirrorState& s) { s.server_lsn = s.applied_lsn; });
  grpc::ClientContext again;
  ASSERT_TRUE(world().stub->GetMirrorStatus(&again, {}, &status).ok());
  EXPECT_EQ(status.lag_bytes(), 0u);
  EXPECT_EQ(status.lag_seconds(), 0.0);
  EXPECT_GE(status.seconds_since_last_commit(), 3.0);
}

TEST(ServiceLagTest, LagAndSinceLastCommitAtAFixedTime) {
  const std::chrono::system_clock::time_point t0{std::chrono::seconds(1'700'000'000)};
  MirrorState s;
  EXPECT_EQ(SecondsSinceLastCommitAt(s, t0), 0.0) << "no commit yet";
  EXPECT_EQ(LagSecondsAt(s, t0), 0.0);
  s.applied_lsn = 100;
  s.server_lsn = 300;
  s.lag_seconds = 1.25;
  s.last_commit_applied_at = t0 - milliseconds(2500);
  EXPECT_DOUBLE_EQ(SecondsSinceLastCommitAt(s, t0), 2.5);
  EXPECT_DOUBLE_EQ(LagSecondsAt(s, t0), 3.75);
  s.server_lsn = 100;
  EXPECT_EQ(LagSecondsAt(s, t0), 0.0);
}

TEST_F(ServiceAdminTest, RebuildIndexSwapsInTheRequestedKind) {
  // A tenant of its own, so the other tests keep their flat indexes.
  const Uuid tenant = world().RandomUuid();
  std::vector<Row> rows;
  for (int i = 0; i < 300; ++i) {
    rows.push_back({world().RandomUuid(), i % 2 ? "context" : "template",
                    Normalized(world().RandomVector(kMiniLmDim))});
  }
  world().Upsert(tenant, kMiniLm, rows, world().NextLsn());
  const Row other_model{world().RandomUuid(), "context",
                        Normalized(world().RandomVector(kSmallDim))};
  world().Upsert(tenant, kSmall, {other_model}, world().NextLsn());

  v1::RebuildIndexRequest request;
  request.set_tenant_id(tenant.ToString());
  request.set_model(kMiniLm);
  request.set_kind(v1::INDEX_KIND_HNSW);
  v1::RebuildIndexResponse response;
  const grpc::Status status = Rebuild(request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(response.rebuilt_size(), 1);
  EXPECT_EQ(response.rebuilt(0).model(), kMiniLm);
  EXPECT_EQ(response.rebuilt(0).rebuild().requested_kind(), v1::INDEX_KIND_HNSW);
  EXPECT_GT(response.rebuilt(0).rebuild().job_id(), 0u);
  // RebuildIndex returns once the rebuild is queued; ListIndexes shows it end.
  std::map<std::string, v1::IndexInfo> ended = testing::AwaitRebuilds(*world().stub, response);
  ASSERT_EQ(ended.count(kMiniLm), 1u);
  const v1::IndexInfo& rebuilt = ended[kMiniLm];
  EXPECT_EQ(rebuilt.rebuild().job_id(), response.rebuilt(0).rebuild().job_id());
  EXPECT_EQ(rebuilt.rebuild().state(), v1::REBUILD_STATE_DONE);
  EXPECT_EQ(rebuilt.rebuild().target_kind(), v1::INDEX_KIND_HNSW);
  EXPECT_EQ(rebuilt.rebuild().rows_done(), rows.size());
  EXPECT_EQ(rebuilt.rebuild().rows_total(), rows.size());
  EXPECT_GT(rebuilt.rebuild().started_at_unix_ms(), 0u);
  EXPECT_GE(rebuilt.rebuild().started_at_unix_ms(), rebuilt.rebuild().queued_at_unix_ms());
  EXPECT_EQ(rebuilt.kind(), v1::INDEX_KIND_HNSW);
  EXPECT_EQ(rebuilt.live_count(), rows.size());
  EXPECT_EQ(rebuilt.dead_count(), 0u);
  EXPECT_FALSE(rebuilt.rebuilding());

  // Exact searches still equal the brute force; approximate ones come from HNSW and report
  // true similarities in order.
  const Rows& mirrored = world().RowsOf(tenant, kMiniLm);
  const std::vector<float> q = world().QueryNear(rows[17]);
  v1::SearchResponse exact;
  ASSERT_TRUE(world().Search(VectorRequest(tenant, kMiniLm, q, 20, true), &exact).ok());
  ExpectSameResults(exact, BruteForce(mirrored, {q, {}, 20, {}, {}}));
  EXPECT_EQ(exact.index_kind(), v1::INDEX_KIND_HNSW);

  v1::SearchResponse approximate;
  ASSERT_TRUE(world().Search(VectorRequest(tenant, kMiniLm, q, 20, false), &approximate).ok());
  EXPECT_EQ(approximate.index_kind(), v1::INDEX_KIND_HNSW);
  ASSERT_EQ(approximate.results_size(), 20);
  for (int i = 0; i < approximate.results_size(); ++i) {
    const v1::SearchResult& r = approximate.results(i);
    const Row& row = mirrored.at(*Uuid::Parse(r.entity_id()));
    EXPECT_NEAR(r.similarity(), Cosine(q, row.vector), 1e-5);
    if (i > 0) {
      EXPECT_LE(r.similarity(), approximate.results(i - 1).similarity());
    }
  }

  // No model: every index of the tenant.
  v1::RebuildIndexRequest whole_tenant;
  whole_tenant.set_tenant_id(tenant.ToString());
  v1::RebuildIndexResponse both;
  ASSERT_TRUE(Rebuild(whole_tenant, &both).ok());
  EXPECT_EQ(both.rebuilt_size(), 2);
  ended = testing::AwaitRebuilds(*world().stub, both);
  ASSERT_EQ(ended.size(), 2u);
  for (const auto& [model, info] : ended) {
    SCOPED_TRACE(model);
    EXPECT_EQ(info.rebuild().state(), v1::REBUILD_STATE_DONE);
    // No kind asked: the size policy's (HNSW from 5,000 rows), and the HNSW pin is cleared.
    EXPECT_EQ(info.rebuild().requested_kind(), v1::INDEX_KIND_UNSPECIFIED);
    EXPECT_EQ(info.kind(), v1::INDEX_KIND_FLAT);
  }
}

TEST_F(ServiceAdminTest, RebuildIndexErrors) {
  v1::RebuildIndexResponse response;
  v1::RebuildIndexRequest unknown;
  unknown.set_tenant_id(world().RandomUuid().ToString());
  grpc::Status status = Rebuild(unknown, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(status.error_message().find("no index matches tenant_id"), std::string::npos);

  v1::RebuildIndexRequest wrong_model;
  wrong_model.set_tenant_id(world().tenant_a.ToString());
  wrong_model.set_model("text-embedding-3-large");
  status = Rebuild(wrong_model, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(status.error_message().find("text-embedding-3-large"), std::string::npos);

  v1::RebuildIndexRequest malformed;
  malformed.set_tenant_id("tenant-1");
  status = Rebuild(malformed, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("tenant_id"), std::string::npos);

  v1::RebuildIndexRequest missing;
  status = Rebuild(missing, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("tenant_id is required"), std::string::npos);

  v1::RebuildIndexRequest bad_kind;
  bad_kind.set_tenant_id(world().tenant_a.ToString());
  bad_kind.set_kind(static_cast<v1::IndexKind>(9));
  status = Rebuild(bad_kind, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("kind is 9"), std::string::npos);
}

cli::ServingStatus Health(const std::shared_ptr<grpc::Channel>& channel,
                          const std::string& service, grpc::Status* status) {
  cli::ServingStatus serving = cli::ServingStatus::kUnknown;
  *status = cli::CheckHealth(channel, service, seconds(10), &serving);
  return serving;
}

TEST(ServiceServerTest, HealthIsNotServingUntilSetServing) {
  Registry registry;
  ModelCatalog models;
  MirrorStatusBoard board;
  SearchService service(registry, models, board);
  GrpcServer server(GrpcServerOptions{.listen = "127.0.0.1:0", .max_message_bytes = 1 << 20});
  ASSERT_TRUE(server.Start({&service}).ok());
  ASSERT_GT(server.bound_port(), 0);
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(server.bound_port()),
                                     grpc::InsecureChannelCredentials());

  grpc::Status status;
  for (const std::string name : {"", "vecmirror.v1.VectorSearch"}) {
    SCOPED_TRACE("service \"" + name + "\"");
    EXPECT_EQ(Health(channel, name, &status), cli::ServingStatus::kNotServing);
    EXPECT_TRUE(status.ok()) << status.error_message();
  }
  server.SetServing(true);
  for (const std::string name : {"", "vecmirror.v1.VectorSearch"}) {
    SCOPED_TRACE("service \"" + name + "\"");
    EXPECT_EQ(Health(channel, name, &status), cli::ServingStatus::kServing);
    EXPECT_TRUE(status.ok()) << status.error_message();
  }
  Health(channel, "no.such.Service", &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);

  server.SetServing(false);
  EXPECT_EQ(Health(channel, "", &status), cli::ServingStatus::kNotServing);

  // After Shutdown nothing answers.
  server.Shutdown(std::chrono::system_clock::now() + seconds(1));
  Health(channel, "", &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
}

// A listening socket without SO_REUSEPORT: gRPC (which sets it) can't share its port.
class PortHolder {
 public:
  PortHolder() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 || ::listen(fd_, 1) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      ADD_FAILURE() << "cannot hold a port";
    }
    port_ = ntohs(addr.sin_port);
  }
  ~PortHolder() { ::close(fd_); }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

TEST(ServiceServerTest, StartFailsOnAnAddressItCannotBind) {
  Registry registry;
  ModelCatalog models;
  MirrorStatusBoard board;
  SearchService service(registry, models, board);
  PortHolder holder;
  const std::string in_use = "127.0.0.1:" + std::to_string(holder.port());
  for (const std::string& listen : {in_use, std::string("127.0.0.1:not-a-port")}) {
    SCOPED_TRACE(listen);
    GrpcServer server(GrpcServerOptions{.listen = listen, .max_message_bytes = 1 << 20});
    const Status status = server.Start({&service});
    EXPECT_EQ(status.code(), Status::Code::kIOError);
    EXPECT_NE(status.message().find(listen), std::string::npos) << status.message();
    EXPECT_EQ(server.bound_port(), 0);
  }
}

// gRPC sets SO_REUSEPORT unless told not to, and then a second server binds the same port.
TEST(ServiceServerTest, ASecondServerOnTheSamePortFailsToStart) {
  Registry registry;
  ModelCatalog models;
  MirrorStatusBoard board;
  SearchService first_service(registry, models, board);
  SearchService second_service(registry, models, board);
  GrpcServer first(GrpcServerOptions{.listen = "127.0.0.1:0", .max_message_bytes = 1 << 20});
  ASSERT_TRUE(first.Start({&first_service}).ok());
  const std::string listen = "127.0.0.1:" + std::to_string(first.bound_port());
  GrpcServer second(GrpcServerOptions{.listen = listen, .max_message_bytes = 1 << 20});
  const Status status = second.Start({&second_service});
  EXPECT_EQ(status.code(), Status::Code::kIOError);
  EXPECT_NE(status.message().find("could not listen on " + listen), std::string::npos)
      << status.message();
  EXPECT_NE(status.message().find("address in use"), std::string::npos) << status.message();
  EXPECT_EQ(second.bound_port(), 0);
}

TEST(ServiceServerTest, SearchThreadsDefaultToOnePerCore) {
  EXPECT_EQ(ResolveWorkerThreads(7), 7);
  EXPECT_EQ(ResolveWorkerThreads(0),
            std::max(1, static_cast<int>(std::thread::hardware_concurrency())));
  Registry registry;
  ModelCatalog models;
  MirrorStatusBoard board;
  EXPECT_EQ(SearchService(registry, models, board).Counters().worker_threads,
            ResolveWorkerThreads(0));
  SearchServiceOptions three;
  three.search_threads = 3;
  EXPECT_EQ(SearchService(registry, models, board, three).Counters().worker_threads, 3);
}

// Server reflection answers list_services with our service. Called through a generic stub
// with a hand-encoded ServerReflectionRequest{list_services: ""} (field 7), since the
// reflection protos' generated client isn't installed either.
TEST_F(ServiceAdminTest, ReflectionListsTheService) {
  grpc::GenericStub stub(world().channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + seconds(10));
  grpc::CompletionQueue cq;
  auto call =
      stub.PrepareCall(&context, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
                       &cq);
  auto step = [&cq](int expected_tag) {
    void* tag = nullptr;
    bool ok = false;
    if (!cq.Next(&tag, &ok)) return false;
    return ok && tag == reinterpret_cast<void*>(static_cast<intptr_t>(expected_tag));
  };
  auto tag = [](int n) { return reinterpret_cast<void*>(static_cast<intptr_t>(n)); };

  call->StartCall(tag(1));
  ASSERT_TRUE(step(1));
  const std::string request("\x3A\x00", 2);
  grpc::Slice slice(request);
  call->Write(grpc::ByteBuffer(&slice, 1), tag(2));
  ASSERT_TRUE(step(2));
  grpc::ByteBuffer reply;
  call->Read(&reply, tag(3));
  ASSERT_TRUE(step(3));
  call->WritesDone(tag(4));
  ASSERT_TRUE(step(4));
  grpc::Status status;
  call->Finish(&status, tag(5));
  ASSERT_TRUE(step(5));
  EXPECT_TRUE(status.ok()) << status.error_message();

  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(reply.Dump(&slices).ok());
  std::string bytes;
  for (const grpc::Slice& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  EXPECT_NE(bytes.find("vecmirror.v1.VectorSearch"), std::string::npos);
  EXPECT_NE(bytes.find("grpc.health.v1.Health"), std::string::npos);
  cq.Shutdown();
  void* ignored_tag;
  bool ignored_ok;
  while (cq.Next(&ignored_tag, &ignored_ok)) {
  }
}

}  // namespace
}  // namespace vecmirror::service_test
