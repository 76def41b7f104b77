// Restarts of the real vecmirror-server from its durable snapshots (--snapshot-dir), against a
// scratch database of the pg_cluster fixture, with a steady stream of writes:
//  - a graceful stop writes a snapshot; the next start resumes from it with no initial load,
//    the HNSW graphs are loaded (not rebuilt), the changes committed while it was down arrive,
//    and the result equals SQL exactly;
//  - a SIGKILL resumes from the last scheduled snapshot; transactions after it are applied once;
//  - the slot is confirmed only up to the newest snapshot, and the WAL it retains is reported;
//  - a server with --vector-storage fp16 (every model) or sq8 (one model) serves as SQL answers
//    (to fp16 rounding, or to the SQ8 quantization step), reports each index's storage and a
//    half or a quarter of the rows' bytes in ListIndexes, and resumes its fp16 or SQ8 graphs
//    from a snapshot;
//  - a flipped byte, a truncated file, a dropped slot, another database's snapshot and a slot
//    confirmed past the snapshot each fall back to a fresh load, with the reason in the log.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

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

class SnapshotResumeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(mirror_.Create("snapshot").ok());
    datagen::DatasetSpec spec;
    spec.tenants = 2;
    spec.entities_per_tenant = 300;
    spec.models = {{"all-MiniLM-L6-v2", 384}, {"text-embedding-3-small", 1536}};
    spec.seed = 23;
    GeneratedData data;
    const Status s = LoadGeneratedData(mirror_.conninfo(), spec, &data);
    ASSERT_TRUE(s.ok()) << s.ToString();
    entities_ = data.entities;
    dir_ = BinaryDir() + "/tests/snapshots-" + std::to_string(getpid()) + "-" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(dir_);
  }
  void TearDown() override {
    if (HasFailure()) std::cerr << "server log (tail):\n" << mirror_.LogTail(60) << "\n";
    mirror_.StopServer(SIGKILL);
    fs::remove_all(dir_);
  }

  // HNSW from 200 rows, so the graphs that a restart must load rather than rebuild exist.
  // Snapshots only at the load, at a stop and every `every_changes` changes.
  std::vector<std::string> Flags(int every_changes = 0) const {
    return {"--snapshot-dir", dir_, "--ann-min-rows", "200", "--snapshot-interval-seconds",
            "3600", "--snapshot-every-changes", std::to_string(every_changes)};
  }

  void ExpectStorageServesAsSqlAndResumes(const std::string& storage, const std::string& only_model,
                                          double tolerance, double bytes_per_component);

  void Start(int every_changes = 0) {
    const Status s = mirror_.StartServer(Flags(every_changes));
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  // Waits until the server reports `n` snapshots written since it started.
  bool WaitSnapshots(uint64_t n, seconds timeout = seconds(60)) {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      if (mirror_.server().Status().snapshots().written() >= n) return true;
      std::this_thread::sleep_for(milliseconds(50));
    }
    return false;
  }

  std::vector<std::string> SnapshotDirs() const {
    std::vector<std::string> dirs;
    for (const auto& e : fs::directory_iterator(dir_)) {
      const std::string name = e.path().filename();
      if (e.is_directory() && name.rfind("snapshot-", 0) == 0) dirs.push_back(e.path());
    }
    std::sort(dirs.begin(), dirs.end());
    return dirs;
  }

  // Commits `n` transactions of the steady writer's kinds and stops it.
  void Write(int n, uint64_t seed) {
    SteadyWriter writer(mirror_.conninfo(), entities_, seed);
    writer.Start();
    const auto deadline = Clock::now() + seconds(60);
    while (writer.committed() < n && Clock::now() < deadline) std::this_thread::sleep_for(milliseconds(10));
    writer.Stop();
    ASSERT_GE(writer.committed(), n) << writer.last_error();
  }

  std::string SlotConfirmed() {
    std::string value;
    EXPECT_TRUE(QueryValue(mirror_.admin_conninfo(),
                           "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE "
                           "slot_name = " + Quote(mirror_.slot()),
                           &value)
                    .ok());
    return value;
  }

  void ExpectResumed() {
    const v1::MirrorStatus status = mirror_.server().Status();
    EXPECT_EQ(status.initial_loads(), 0u) << status.snapshots().started_from();
    EXPECT_EQ(status.snapshots().started_from().rfind("resumed from ", 0), 0u)
        << status.snapshots().started_from();
  }

  // Restarts expecting a fresh load, and the reason in the log.
  void ExpectFreshLoadBecause(const std::string& reason) {
    Start();
    const v1::MirrorStatus status = mirror_.server().Status();
    EXPECT_EQ(status.initial_loads(), 1u);
    EXPECT_EQ(status.snapshots().started_from(), "initial load");
    const std::string log = mirror_.server().Log();
    EXPECT_NE(log.find(reason), std::string::npos) << "no \"" << reason << "\" in the log";
    ExpectMirrorEqualsDatabase(mirror_.conninfo(), mirror_.stub(), 0);
  }

  LiveMirror mirror_;
  std::vector<std::pair<std::string, std::string>> entities_;
  std::string dir_;
};

TEST_F(SnapshotResumeTest, GracefulStopThenResumeWithChangesMadeWhileDown) {
  Start();
  ASSERT_TRUE(WaitSnapshots(1));  // the one right after the initial load
  Write(40, 1);
  ExpectMirrorEqualsDatabase(mirror_.conninfo(), mirror_.stub(), 0);
  mirror_.StopServer(SIGTERM);  // writes a snapshot of what is applied
  ASSERT_EQ(SnapshotDirs().size(), 2u);

  Write(60, 2);  // nobody follows these: they must come from the slot's WAL
  Start();
  ExpectResumed();
  ExpectMirrorEqualsDatabase(mirror_.conninfo(), mirror_.stub(), 0);
  v1::ListIndexesResponse indexes;
  grpc::ClientContext context;
  ASSERT_TRUE(mirror_.stub().ListIndexes(&context, v1::ListIndexesRequest(), &indexes).ok());
  size_t hnsw = 0;
  for (const auto& index : indexes.indexes()) hnsw += index.kind() == v1::INDEX_KIND_HNSW;
  EXPECT_GT(hnsw, 0u) << "the restored indexes include HNSW graphs";
  EXPECT_NE(mirror_.server().Log().find("resumed from snapshot"), std::string::npos);
}

TEST_F(SnapshotResumeTest, KillResumesFromTheLastScheduledSnapshotAndAppliesTheRestOnce) {
  Start(25);
  ASSERT_TRUE(WaitSnapshots(1));
  Write(80, 3);
  ASSERT_TRUE(WaitSnapshots(2)) << "a snapshot every 25 changes";
  Write(30, 4);
  mirror_.StopServer(SIGKILL);
  Write(30, 5);
  Start(25);
  ExpectResumed();
  ExpectMirrorEqualsDatabase(mirror_.conninfo(), mirror_.stub(), 0);
}

TEST_F(SnapshotResumeTest, SlotConfirmedOnlyUpToTheNewestSnapshot) {
  Start();
  ASSERT_TRUE(WaitSnapshots(1));
  const uint64_t durable = mirror_.server().Status().snapshots().durable_lsn();
  ASSERT_GT(durable, 0u);
  Write(40, 6);
  const uint64_t applied = WaitApplied(mirror_.stub(), CurrentWalLsn(mirror_.conninfo()), seconds(30));
  ASSERT_GT(applied, durable);
  std::this_thread::sleep_for(seconds(2));  // a few status updates
  EXPECT_EQ(ParseLsn(SlotConfirmed()).value_or(0), durable)
      << "the server may not forget the WAL after the snapshot";
  const v1::MirrorStatus status = mirror_.server().Status();
  EXPECT_EQ(status.confirmed_lsn(), durable);
  EXPECT_GT(status.retained_wal_bytes(), 0u);
}

TEST_F(SnapshotResumeTest, FlippedByteFallsBackToAFreshLoad) {
  Start();
  ASSERT_TRUE(WaitSnapshots(1));
  mirror_.StopServer(SIGKILL);
  const std::vector<std::string> dirs = SnapshotDirs();
  ASSERT_EQ(dirs.size(), 1u);
  std::string victim;
  for (const auto& e : fs::directory_iterator(dirs[0])) {
    if (e.path().extension() == ".vmi") victim = e.path();
  }
  ASSERT_FALSE(victim.empty());
  {
    std::fstream f(victim, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(fs::file_size(victim) / 2));
    char c = 0;
    f.read(&c, 1);
    f.seekp(static_cast<std::streamoff>(fs::file_size(victim) / 2));
    c = static_cast<char>(c ^ 0x10);
    f.write(&c, 1);
  }
  Write(10, 7);
  ExpectFreshLoadBecause("checksum mismatch");
}

TEST_F(SnapshotResumeTest, TruncatedFileFallsBackToAFreshLoad) {
  Start();
  ASSERT_TRUE(WaitSnapshots(1));
  mirror_.StopServer(SIGKILL);
  const std::string state = SnapshotDirs().at(0) + "/mirror.state";
  fs::resize_file(state, fs::file_size(state) / 2);
  ExpectFreshLoadBecause("truncated file mirror.state");
}

TEST_F(SnapshotResumeTest, DroppedSlotFallsBackToAFreshLoad) {
  Start();
  ASSERT_TRUE(WaitSnapshots(1));
  mirror_.StopServer(SIGTERM);
  ASSERT_TRUE(ExecSql(mirror_.admin_conninfo(),
                      "SELECT pg_drop_replication_slot(" + Quote(mirror_.slot()) + ")").ok());
  Write(10, 8);
  ExpectFreshLoadBecause("does not exist");
}

TEST_F(SnapshotResumeTest, SnapshotOfAnotherDatabaseIsNotLoaded) {
  Start();
  ASSERT_TRUE(WaitSnapshots(1));
  mirror_.StopServer(SIGTERM);
  // The same directory, slot name and publication, but another database.
  LiveMirror other;
  ASSERT_TRUE(other.Create("snapshot_other").ok());
  ServerProcess server(other.conninfo(), {"--slot", mirror_.slot(), "--publication", "vecmirror",
                                          "--snapshot-dir", dir_});
  server.Start();
  ASSERT_TRUE(server.WaitLoaded());
  EXPECT_EQ(server.Status().initial_loads(), 1u);
  EXPECT_NE(server.Log().find("other database"), std::string::npos) << server.Log();
  server.Kill(SIGKILL);
}

TEST_F(SnapshotResumeTest, SlotConfirmedPastTheSnapshotFallsBackToAFreshLoad) {
  Start();
  ASSERT_TRUE(WaitSnapshots(1));
  mirror_.StopServer(SIGTERM);
  const std::string old_copy = dir_ + "-old";
  fs::remove_all(old_copy);
  fs::copy(dir_, old_copy, fs::copy_options::recursive);
  Start(10);  // resumes; a newer snapshot then moves the slot past the copy's
  const uint64_t old_lsn = mirror_.server().Status().snapshots().durable_lsn();
  Write(30, 9);
  ASSERT_TRUE(WaitSnapshots(1));
  const auto deadline = Clock::now() + seconds(30);
  while (ParseLsn(SlotConfirmed()).value_or(0) <= old_lsn && Clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(100));
  }
  ASSERT_GT(ParseLsn(SlotConfirmed()).value_or(0), old_lsn);
  mirror_.StopServer(SIGTERM);
  fs::remove_all(dir_);
  fs::rename(old_copy, dir_);
  ExpectFreshLoadBecause("the WAL in between is gone");
}

// A compact storage option end to end, for every model or (`only_model`) for one: HNSW graphs
// over `storage` rows answer exact searches as SQL does, with similarities within `tolerance`
// instead of 1e-5; ListIndexes reports each index's storage and, for the compact ones, about
// `bytes_per_component` bytes per component per vector; a graceful stop's snapshot holds the
// graphs in that storage and the next start resumes from it and still answers as SQL.
void SnapshotResumeTest::ExpectStorageServesAsSqlAndResumes(const std::string& storage,
                                                            const std::string& only_model,
                                                            double tolerance,
                                                            double bytes_per_component) {
  std::vector<std::string> flags = Flags();
  flags.insert(flags.end(), {"--vector-storage",
                             only_model.empty() ? storage : "fp32," + only_model + "=" + storage});
  ASSERT_TRUE(mirror_.StartServer(flags).ok());
  ASSERT_TRUE(WaitSnapshots(1));
  MirrorCheckOptions compact;
  compact.similarity_tolerance = tolerance;
  ExpectMirrorEqualsDatabase(mirror_.conninfo(), mirror_.stub(), 0, compact);
  // Once every index of 200 rows or more has been promoted to HNSW, with no tail yet: the rows
  // take bytes_per_component a component; the graph, ids and id map add a few hundred bytes.
  const auto deadline = Clock::now() + seconds(60);
  v1::ListIndexesResponse indexes;
  for (bool promoted = false; !promoted && Clock::now() < deadline;) {
    grpc::ClientContext context;
    ASSERT_TRUE(mirror_.stub().ListIndexes(&context, v1::ListIndexesRequest(), &indexes).ok());
    size_t hnsw = 0;
    promoted = true;
    for (const auto& index : indexes.indexes()) {
      hnsw += index.kind() == v1::INDEX_KIND_HNSW;
      if (index.live_count() >= 200) {
        promoted = promoted && index.kind() == v1::INDEX_KIND_HNSW && !index.rebuilding();
      }
    }
    promoted = promoted && hnsw > 0;
    if (!promoted) std::this_thread::sleep_for(milliseconds(50));
  }
  size_t compact_graphs = 0;
  for (const auto& index : indexes.indexes()) {
    if (index.kind() != v1::INDEX_KIND_HNSW) {
      EXPECT_EQ(index.vector_storage(), "fp32") << index.model();
      continue;
    }
    const bool compact_model = only_model.empty() || index.model() == only_model;
    compact_graphs += compact_model;
    EXPECT_EQ(index.vector_storage(), compact_model ? storage : "fp32") << index.model();
    const double row_bytes = (compact_model ? bytes_per_component : 4.0) * index.dimension();
    EXPECT_GE(index.bytes_per_vector(), row_bytes) << index.model();
    EXPECT_LT(index.bytes_per_vector(), row_bytes + 1200) << index.model();
  }
  ASSERT_GT(compact_graphs, 0u) << "HNSW graphs from 200 rows";
  Write(40, 6);
  ExpectMirrorEqualsDatabase(mirror_.conninfo(), mirror_.stub(), 0, compact);
  mirror_.StopServer(SIGTERM);

  Write(30, 7);
  ASSERT_TRUE(mirror_.StartServer(flags).ok());
  ExpectResumed();
  ExpectMirrorEqualsDatabase(mirror_.conninfo(), mirror_.stub(), 0, compact);
}

// fp16 rounding moves a unit vector's components by at most 2^-11 relative: 1e-3 covers it.
TEST_F(SnapshotResumeTest, Fp16StorageServesAsSqlAndResumesFromItsSnapshot) {
  ExpectStorageServesAsSqlAndResumes("fp16", "", 1e-3, 2.0);
}

// SQ8 moves each component by at most half a quantization step, vdiff_i / 510, so a similarity
// moves by at most |q . e| <= |e| <= sqrt(sum_i (vdiff_i / 510)^2) (Cauchy-Schwarz, q a unit
// vector). The generated unit vectors' components stay within about +-4 / sqrt(dim) (4 sigma of
// a normal per component, normalized), so vdiff_i <= 8 / sqrt(dim) and the bound is 8 / 510,
// whatever the dimension: 0.016.
// Chosen for one model only (the storage per model), the others stay fp32.
TEST_F(SnapshotResumeTest, Sq8StorageForOneModelServesAsSqlAndResumesFromItsSnapshot) {
  ExpectStorageServesAsSqlAndResumes("sq8", "text-embedding-3-small", 8.0 / 510.0, 1.0);
}

}  // namespace
}  // namespace vecmirror::testing
