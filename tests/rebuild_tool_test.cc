// vecmirror-rebuild (tools/rebuild) against a scratch database of the pg_cluster fixture and the
// real vecmirror-server started on what it wrote:
//  - the tool's snapshot, served by the service, equals SQL with no initial load; changes
//    committed after the tool ran stream in on top and still equal SQL;
//  - --tenant builds only that tenant; the others are written as loaded (unbuilt), and the
//    service still serves every row;
//  - --from-snapshot --kind ivf rewrites a snapshot with IVF indexes that the service serves;
//  - --dry-run writes nothing and leaves the slot alone.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "index/snapshot.h"
#include "tests/support/live_mirror.h"
#include "tests/support/mirror_check.h"
#include "tests/support/steady_writer.h"
#include "tests/support/generated_data.h"

namespace vecmirror::testing {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

class RebuildToolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(mirror_.Create("rebuild").ok());
    datagen::DatasetSpec spec;
    spec.tenants = 2;
    spec.entities_per_tenant = 300;
    spec.models = {{"all-MiniLM-L6-v2", 384}};
    spec.seed = 31;
    GeneratedData data;
    const Status s = LoadGeneratedData(mirror_.conninfo(), spec, &data);
    ASSERT_TRUE(s.ok()) << s.ToString();
    entities_ = data.entities;
    tenants_.insert(data.tenants.begin(), data.tenants.end());
    dir_ = BinaryDir() + "/tests/rebuild-" + std::to_string(getpid()) + "-" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(dir_);
  }
  void TearDown() override {
    if (HasFailure()) std::cerr << "tool output:\n" << output_ << "\nserver log (tail):\n" << mirror_.LogTail(60) << "\n";
    mirror_.StopServer(SIGKILL);
    fs::remove_all(dir_);
  }

  // Runs the tool with the service's names; returns its exit code, its output in output_.
  int Tool(std::vector<std::string> args, bool with_database = true) {
    std::string command = BinaryDir() + "/tools/vecmirror-rebuild";
    if (with_database) {
      args.insert(args.begin(), {"--database-url", mirror_.conninfo(), "--slot", mirror_.slot(),
                                 "--publication", "vecmirror"});
    }
    for (const std::string& a : args) command += " '" + a + "'";
    command += " 2>&1";
    output_.clear();
    FILE* pipe = popen(command.c_str(), "r");
    if (pipe == nullptr) return -1;
    char buffer[4096];
    size_t n;
    while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) output_.append(buffer, n);
    const int status = pclose(pipe);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  void StartOnSnapshots() {
    const Status s = mirror_.StartServer({"--snapshot-dir", dir_, "--ann-min-rows", "200",
                                          "--snapshot-interval-seconds", "3600",
                                          "--snapshot-every-changes", "0"});
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  void ExpectResumedFromTheTool() {
    const v1::MirrorStatus status = mirror_.server().Status();
    EXPECT_EQ(status.initial_loads(), 0u) << status.snapshots().started_from();
    EXPECT_EQ(status.snapshots().started_from().rfind("resumed from ", 0), 0u)
        << status.snapshots().started_from();
  }

  void Write(int n, uint64_t seed) {
    SteadyWriter writer(mirror_.conninfo(), entities_, seed);
    writer.Start();
    const auto deadline = Clock::now() + seconds(60);
    while (writer.committed() < n && Clock::now() < deadline) std::this_thread::sleep_for(milliseconds(10));
    writer.Stop();
    ASSERT_GE(writer.committed(), n) << writer.last_error();
  }

  std::vector<v1::IndexInfo> Indexes() {
    v1::ListIndexesResponse response;
    grpc::ClientContext context;
    EXPECT_TRUE(mirror_.stub().ListIndexes(&context, v1::ListIndexesRequest(), &response).ok());
    return {response.indexes().begin(), response.indexes().end()};
  }

  // The newest snapshot under dir_, loaded as the tool wrote it.
  LoadedSnapshot Newest() {
    LoadedSnapshot loaded;
    const Status s = LoadNewestSnapshotOfAnySource(dir_, IndexOptions(), &loaded, nullptr);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return loaded;
  }

  static bool InSnapshot(const LoadedSnapshot& snapshot, const v1::IndexInfo& info) {
    for (const auto& index : snapshot.indexes) {
      if (index->key().tenant_id.ToString() == info.tenant_id() &&
          index->key().model == info.model()) {
        return true;
      }
    }
    return false;
  }

  LiveMirror mirror_;
  std::vector<std::pair<std::string, std::string>> entities_;
  std::set<std::string> tenants_;
  std::string dir_;
  std::string output_;
};

TEST_F(RebuildToolTest, SnapshotServedByTheServiceEqualsSqlThenChangesStreamOnTop) {
  ASSERT_EQ(Tool({"--snapshot-dir", dir_, "--ann-min-rows", "200", "--jobs", "2"}), 0) << output_;
  EXPECT_NE(output_.find("wrote "), std::string::npos);
  const LoadedSnapshot snapshot = Newest();
  ASSERT_EQ(snapshot.indexes.size(), 2u);
  for (const auto& index : snapshot.indexes) {
    const IndexStats stats = index->Stats();
    EXPECT_EQ(stats.kind, IndexKind::kHnsw) << index->key().ToString();
    EXPECT_EQ(stats.tail, 0u) << "built, not loaded: " << index->key().ToString();
  }
  EXPECT_EQ(snapshot.source.slot, mirror_.slot());

  Write(40, 1);  // after the tool: these must stream from the slot it created
  StartOnSnapshots();
  ExpectResumedFromTheTool();
  ExpectMirrorEqualsDatabase(mirror_.conninfo(), mirror_.stub(), 0);
  // The tool's indexes are served as it built them (the writer may add small new ones).
  size_t served = 0;
  for (const v1::IndexInfo& info : Indexes()) {
    if (!InSnapshot(snapshot, info)) continue;
    ++served;
    EXPECT_EQ(info.kind(), v1::INDEX_KIND_HNSW);
  }
  EXPECT_EQ(served, snapshot.indexes.size());
  Write(40, 2);  // and while it runs
  ExpectMirrorEqualsDatabase(mirror_.conninfo(), mirror_.stub(), 0);
}

TEST_F(RebuildToolTest, TenantFilterBuildsOnlyThatTenantAndKeepsEveryRow) {
  ASSERT_EQ(tenants_.size(), 2u);
  const std::string chosen = *tenants_.begin();
  ASSERT_EQ(Tool({"--snapshot-dir", dir_, "--ann-min-rows", "200", "--tenant", chosen}), 0)
      << output_;
  const LoadedSnapshot snapshot = Newest();
  ASSERT_EQ(snapshot.indexes.size(), 2u);
  for (const auto& index : snapshot.indexes) {
    const IndexStats stats = index->Stats();
    if (index->key().tenant_id.ToString() == chosen) {
      EXPECT_EQ(stats.kind, IndexKind::kHnsw);
      EXPECT_EQ(stats.tail, 0u);
    } else {
      EXPECT_EQ(stats.kind, IndexKind::kFlat) << "not built";
      EXPECT_EQ(stats.tail, stats.live) << "as loaded: every row in the tail";
      EXPECT_GT(stats.live, 0u) << "but every row kept";
    }
  }
  StartOnSnapshots();
  ExpectResumedFromTheTool();
  ExpectMirrorEqualsDatabase(mirror_.conninfo(), mirror_.stub(), 0);
}

TEST_F(RebuildToolTest, FromSnapshotWithIvfIsServedAndEqualsSql) {
  ASSERT_EQ(Tool({"--snapshot-dir", dir_, "--ann-min-rows", "200"}), 0) << output_;
  const LoadedSnapshot before = Newest();
  ASSERT_EQ(Tool({"--from-snapshot", dir_, "--kind", "ivf", "--ivf-nlist", "16"}, false), 0)
      << output_;
  const LoadedSnapshot after = Newest();
  EXPECT_NE(after.path, before.path);
  EXPECT_EQ(after.lsn, before.lsn);
  EXPECT_EQ(after.source, before.source);
  EXPECT_EQ(after.mirror_state, before.mirror_state);
  for (const auto& index : after.indexes) EXPECT_EQ(index->Stats().kind, IndexKind::kIvf);

  Write(30, 3);
  StartOnSnapshots();
  ExpectResumedFromTheTool();
  size_t served = 0;
  for (const v1::IndexInfo& info : Indexes()) {
    if (!InSnapshot(after, info)) continue;
    ++served;
    EXPECT_EQ(info.kind(), v1::INDEX_KIND_IVF);
  }
  EXPECT_EQ(served, after.indexes.size());
  ExpectMirrorEqualsDatabase(mirror_.conninfo(), mirror_.stub(), 0);
}

TEST_F(RebuildToolTest, DryRunWritesNothingAndLeavesTheSlotAlone) {
  ASSERT_EQ(Tool({"--snapshot-dir", dir_, "--ann-min-rows", "200", "--dry-run"}), 0) << output_;
  EXPECT_NE(output_.find("dry run: nothing built, nothing written"), std::string::npos);
  EXPECT_NE(output_.find("hnsw"), std::string::npos) << "the plan names the kind";
  EXPECT_NE(output_.find("peak with"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir_));
  std::string slots;
  ASSERT_TRUE(QueryValue(mirror_.admin_conninfo(),
                         "SELECT count(*)::text FROM pg_replication_slots WHERE slot_name = " +
                             Quote(mirror_.slot()),
                         &slots)
                  .ok());
  EXPECT_EQ(slots, "0");
  // A bound below what the loaded indexes take: refused before anything is built or written.
  ASSERT_EQ(Tool({"--snapshot-dir", dir_, "--ann-min-rows", "200", "--max-memory-bytes", "1"}), 1)
      << output_;
  EXPECT_NE(output_.find("--max-memory-bytes"), std::string::npos);
  EXPECT_TRUE(!fs::exists(dir_) || ListSnapshots(dir_).empty());
}

}  // namespace
}  // namespace vecmirror::testing
