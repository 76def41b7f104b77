// The asynchronous RebuildIndex, CancelRebuild and `vecmirror-cli rebuild`, against the real
// server over loopback: the call returns while a large HNSW build runs, ListIndexes shows its
// progress, searches stay exact meanwhile, a second call joins or is ALREADY_EXISTS, and a
// cancelled rebuild leaves the index as it was.
#include <sstream>
#include <tuple>
#include <thread>

#include "tests/support/build_gate.h"
#include "tests/support/rebuild_wait.h"
#include "tests/support/service_test_fixture.h"
#include "tools/cli/cli.h"

namespace vecmirror::service_test {
namespace {

using std::chrono::seconds;
using testing::BuildGate;

// Several chunks (at most 10,000 rows or about 2 s each), the granularity of progress and
// cancellation, so that a build can be held after its first chunk and cancelled with chunks
// still to go; small enough to fill quickly.
constexpr size_t kLargeRows = 50000;

// Open until a test arms it for one model.
BuildGate& Gate() {
  static BuildGate gate(/*open=*/true);
  return gate;
}

class ServiceRebuildTest : public SharedWorldTest {
 protected:
  static void SetUpTestSuite() {
    IndexOptions index_options;
    index_options.on_rebuild_progress = [](const IndexKey& key, const RebuildProgress& p) {
      Gate().OnProgress(key, p);
    };
    StartWorld({}, std::move(index_options));
  }
  // Whatever a test asserted, a held build goes on, so the world can be stopped.
  void TearDown() override { Gate().Open(); }

  static grpc::Status Rebuild(const Uuid& tenant, const std::string& model, v1::IndexKind kind,
                              v1::RebuildIndexResponse* response) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + seconds(20));
    v1::RebuildIndexRequest request;
    request.set_tenant_id(tenant.ToString());
    request.set_model(model);
    request.set_kind(kind);
    return world().stub->RebuildIndex(&context, request, response);
  }
  static grpc::Status Cancel(const std::string& tenant, const std::string& model,
                             v1::CancelRebuildResponse* response) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + seconds(20));
    v1::CancelRebuildRequest request;
    request.set_tenant_id(tenant);
    request.set_model(model);
    return world().stub->CancelRebuild(&context, request, response);
  }
  static v1::IndexInfo Listed(const Uuid& tenant, const std::string& model) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + seconds(20));
    v1::ListIndexesRequest request;
    request.set_tenant_id(tenant.ToString());
    request.set_model(model);
    v1::ListIndexesResponse response;
    EXPECT_TRUE(world().stub->ListIndexes(&context, request, &response).ok());
    EXPECT_EQ(response.indexes_size(), 1);
    return response.indexes_size() == 1 ? response.indexes(0) : v1::IndexInfo();
  }
  // Exact and default searches near a few rows both equal the brute force (the index is flat).
  static void ExpectSearchesExact(const Uuid& tenant) {
    const Rows& rows = world().RowsOf(tenant, kMiniLm);
    for (int i = 0; i < 3; ++i) {
      const std::vector<float> q = world().QueryNear(world().AnyRow(tenant, kMiniLm));
      const std::vector<Expected> expected = BruteForce(rows, {q, {}, 10, {}, {}});
      for (bool exact : {true, false}) {
        v1::SearchResponse response;
        ASSERT_TRUE(world().Search(VectorRequest(tenant, kMiniLm, q, 10, exact), &response).ok());
        ExpectSameResults(response, expected);
      }
    }
  }
  static Uuid LargeTenant() {
    const Uuid tenant = world().RandomUuid();
    std::vector<Row> rows;
    rows.reserve(kLargeRows);
    for (size_t i = 0; i < kLargeRows; ++i) {
      rows.push_back({world().RandomUuid(), i % 3 ? "context" : "template",
                      Normalized(world().RandomVector(kMiniLmDim))});
    }
    world().Upsert(tenant, kMiniLm, rows, world().NextLsn());
    std::vector<Row> small;
    for (int i = 0; i < 50; ++i) {
      small.push_back({world().RandomUuid(), "context", Normalized(world().RandomVector(kSmallDim))});
    }
    world().Upsert(tenant, kSmall, small, world().NextLsn());
    return tenant;
  }
};

TEST_F(ServiceRebuildTest, ReturnsBeforeTheBuildEndsJoinsRefusesAndCancels) {
  const Uuid tenant = LargeTenant();
  ASSERT_EQ(Listed(tenant, kMiniLm).kind(), v1::INDEX_KIND_FLAT);
  Gate().Arm(kMiniLm);

  // Both indexes of the tenant: the large one runs first (keys in order), the small one waits.
  v1::RebuildIndexResponse started;
  grpc::Status status = Rebuild(tenant, "", v1::INDEX_KIND_HNSW, &started);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(started.rebuilt_size(), 2);
  EXPECT_EQ(started.joined(), 0u);
  ASSERT_EQ(started.rebuilt(0).model(), kMiniLm);
  const uint64_t large_job = started.rebuilt(0).rebuild().job_id();
  const uint64_t small_job = started.rebuilt(1).rebuild().job_id();
  EXPECT_NE(large_job, small_job);
  EXPECT_EQ(started.rebuilt(1).rebuild().state(), v1::REBUILD_STATE_QUEUED);
  EXPECT_EQ(started.rebuilt(0).kind(), v1::INDEX_KIND_FLAT) << "nothing is rebuilt yet";

  // ListIndexes shows the build running, part done (held after its first chunk until the
  // cancels below).
  ASSERT_TRUE(Gate().WaitHeld(seconds(60))) << "the build of " << kLargeRows << " rows never got past its first chunk";
  const v1::IndexInfo running = Listed(tenant, kMiniLm);
  EXPECT_EQ(running.rebuild().job_id(), large_job);
  ASSERT_EQ(running.rebuild().state(), v1::REBUILD_STATE_RUNNING);
  EXPECT_TRUE(running.rebuilding());
  EXPECT_EQ(running.rebuild().target_kind(), v1::INDEX_KIND_HNSW);
  EXPECT_EQ(running.rebuild().rows_total(), kLargeRows);
  EXPECT_LT(running.rebuild().rows_done(), running.rebuild().rows_total());
  EXPECT_GT(running.rebuild().started_at_unix_ms(), 0u);
  EXPECT_EQ(running.kind(), v1::INDEX_KIND_FLAT);

  // Searches meanwhile are served by the old structure, exactly.
  ExpectSearchesExact(tenant);

  // Another kind for an index being rebuilt: ALREADY_EXISTS, and nothing starts.
  v1::RebuildIndexResponse again;
  status = Rebuild(tenant, kMiniLm, v1::INDEX_KIND_IVF, &again);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_NE(status.error_message().find("is being rebuilt already"), std::string::npos)
      << status.error_message();
  status = Rebuild(tenant, "", v1::INDEX_KIND_UNSPECIFIED, &again);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  // The same kind joins the jobs under way.
  status = Rebuild(tenant, "", v1::INDEX_KIND_HNSW, &again);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(again.rebuilt_size(), 2);
  EXPECT_EQ(again.joined(), 2u);
  EXPECT_EQ(again.rebuilt(0).rebuild().job_id(), large_job);
  EXPECT_EQ(again.rebuilt(1).rebuild().job_id(), small_job);

  // Cancel the queued one: it ends at once.
  v1::CancelRebuildResponse cancelled;
  ASSERT_TRUE(Cancel(tenant.ToString(), kSmall, &cancelled).ok());
  ASSERT_EQ(cancelled.cancelled_size(), 1);
  EXPECT_EQ(cancelled.cancelled(0).model(), kSmall);
  EXPECT_EQ(cancelled.cancelled(0).rebuild().state(), v1::REBUILD_STATE_CANCELLED);
  // Then the running one (the whole tenant: only it is still active).
  ASSERT_TRUE(Cancel(tenant.ToString(), "", &cancelled).ok());
  ASSERT_EQ(cancelled.cancelled_size(), 1);
  EXPECT_EQ(cancelled.cancelled(0).model(), kMiniLm);
  EXPECT_EQ(cancelled.cancelled(0).rebuild().state(), v1::REBUILD_STATE_CANCELLING);
  Gate().Open();  // the build goes on to its next chunk's end, where it sees the cancel

  std::map<std::string, v1::IndexInfo> ended = testing::AwaitRebuilds(*world().stub, started);
  ASSERT_EQ(ended.size(), 2u);
  for (const auto& [model, info] : ended) {
    SCOPED_TRACE(model);
    EXPECT_EQ(info.rebuild().state(), v1::REBUILD_STATE_CANCELLED);
    EXPECT_EQ(info.kind(), v1::INDEX_KIND_FLAT) << "a cancelled rebuild swaps nothing in";
    EXPECT_FALSE(info.rebuilding());
  }
  EXPECT_EQ(ended[kMiniLm].live_count(), kLargeRows);
  EXPECT_EQ(ended[kMiniLm].dead_count(), 0u);
  ExpectSearchesExact(tenant);

  // Nothing left to cancel.
  status = Cancel(tenant.ToString(), "", &cancelled);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(status.error_message().find("no rebuild is queued or running"), std::string::npos);
}

TEST_F(ServiceRebuildTest, CancelAndRebuildErrors) {
  v1::CancelRebuildResponse cancelled;
  grpc::Status status = Cancel(world().RandomUuid().ToString(), "", &cancelled);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  status = Cancel("tenant-1", "", &cancelled);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("tenant_id"), std::string::npos);
  status = Cancel("", "", &cancelled);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  // An unknown tenant has no index to rebuild: NOT_FOUND, as documented.
  v1::RebuildIndexResponse started;
  status = Rebuild(world().RandomUuid(), "", v1::INDEX_KIND_HNSW, &started);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(started.rebuilt_size(), 0);
}

// `vecmirror-cli rebuild`, its output not a terminal: it waits, printing plain progress lines.
TEST_F(ServiceRebuildTest, CliWaitsWithProgressLinesAndCancels) {
  const auto cli = [](std::vector<std::string> args) {
    args.insert(args.begin(), {"vecmirror-cli", "--server", world().address()});
    std::vector<const char*> argv;
    for (const std::string& a : args) argv.push_back(a.c_str());
    std::ostringstream out, err;
    const int code = cli::RunCli(static_cast<int>(argv.size()), argv.data(), out, err);
    return std::tuple<int, std::string, std::string>{code, out.str(), err.str()};
  };
  const Uuid tenant = world().RandomUuid();
  std::vector<Row> rows;
  for (int i = 0; i < 400; ++i) {
    rows.push_back({world().RandomUuid(), "context", Normalized(world().RandomVector(kMiniLmDim))});
  }
  world().Upsert(tenant, kMiniLm, rows, world().NextLsn());

  auto [code, out, err] =
      cli({"rebuild", "--tenant", tenant.ToString(), "--model", kMiniLm, "--kind", "hnsw"});
  ASSERT_EQ(code, 0) << err;
  const std::string prefix = tenant.ToString() + "/" + kMiniLm + ": ";
  EXPECT_NE(out.find(prefix + "done as hnsw, 400 rows in "), std::string::npos) << out;
  EXPECT_EQ(out.find('\r'), std::string::npos) << "no progress bar when not a terminal";
  EXPECT_NE(out.find("1 indexes rebuilt"), std::string::npos) << out;
  // It returned after the rebuild: the index is HNSW now.
  EXPECT_EQ(Listed(tenant, kMiniLm).kind(), v1::INDEX_KIND_HNSW);
  EXPECT_EQ(world().registry.Find(IndexKey{tenant, kMiniLm, kMiniLmDim})->Stats().kind,
            IndexKind::kHnsw);

  // --no-wait: returns with the job queued or running (or, on a fast machine, done).
  std::tie(code, out, err) = cli({"rebuild", "--tenant", tenant.ToString(), "--kind", "flat",
                                  "--no-wait"});
  ASSERT_EQ(code, 0) << err;
  EXPECT_NE(out.find("1 rebuilds started"), std::string::npos) << out;
  ASSERT_TRUE(world().registry.WaitForRebuilds(std::chrono::steady_clock::now() + seconds(60)));
  EXPECT_EQ(Listed(tenant, kMiniLm).kind(), v1::INDEX_KIND_FLAT);

  // --cancel with nothing running: NOT_FOUND, exit 1.
  std::tie(code, out, err) = cli({"rebuild", "--tenant", tenant.ToString(), "--cancel"});
  EXPECT_EQ(code, 1);
  EXPECT_EQ(err.rfind("NOT_FOUND:", 0), 0u) << err;
}

}  // namespace
}  // namespace vecmirror::service_test
