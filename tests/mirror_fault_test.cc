// The live mirror under faults, with a steady stream of writes: the walsender terminated,
// PostgreSQL stopped and started, the service killed and restarted. The mirror must keep
// serving what it has applied, come back by itself, and end exactly equal to SQL.
//
// Stopping PostgreSQL stops the cluster every integration test shares: ctest runs this binary
// alone (RUN_SERIAL), and the test starts the cluster again whatever happens.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/live_mirror.h"
#include "tests/support/mirror_check.h"
#include "tests/support/steady_writer.h"
#include "tests/support/generated_data.h"

namespace vecmirror::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

constexpr char kMiniLm[] = "all-MiniLM-L6-v2";
constexpr char kSmall[] = "text-embedding-3-small";

// Searches until stopped; records the first failed search and any applied_lsn going back.
class ServedSearches {
 public:
  ServedSearches(v1::VectorSearch::Stub& stub, std::vector<std::string> tenants) {
    thread_ = std::thread([this, &stub, tenants] {
      std::mt19937_64 rng(7);
      uint64_t last = 0;
      while (!stop_) {
        v1::SearchResponse response;
        const grpc::Status s = ExactSearch(stub, tenants[rng() % tenants.size()], kMiniLm,
                                           RandomVector(rng, 384), 10, 0, seconds(5), &response);
        std::string problem;
        if (!s.ok()) problem = "search failed: " + GrpcText(s);
        else if (response.applied_lsn() < last) problem = "applied_lsn went back";
        last = std::max(last, response.applied_lsn());
        if (!problem.empty()) {
          std::lock_guard lock(mu_);
          if (error_.empty()) error_ = problem;
        }
        ++count_;
        std::this_thread::sleep_for(milliseconds(10));
      }
    });
  }
  ~ServedSearches() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int count() const { return count_; }
  std::string error() const {
    std::lock_guard lock(mu_);
    return error_;
  }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<int> count_{0};
  mutable std::mutex mu_;
  std::string error_;
  std::thread thread_;
};

// Stops and starts the shared cluster with scripts/pg-cluster.sh; starts it again on
// destruction if a test left it stopped.
class ClusterControl {
 public:
  ClusterControl() {
    const char* dir = std::getenv("VECMIRROR_TEST_PGDIR");
    dir_ = dir && *dir ? dir : "";
    script_ = SourcePath("scripts/pg-cluster.sh");
  }
  ~ClusterControl() {
    if (stopped_) Start();
  }
  bool available() const { return !dir_.empty(); }
  bool Stop() {
    stopped_ = true;
    return Run("stop");
  }
  bool Start() {
    const bool ok = Run("start");
    if (ok) stopped_ = false;
    return ok;
  }

 private:
  bool Run(const std::string& command) {
    const std::string line = "bash '" + script_ + "' " + command + " '" + dir_ + "' >/dev/null 2>&1";
    return std::system(line.c_str()) == 0;
  }
  std::string dir_, script_;
  bool stopped_ = false;
};

class MirrorFaultTest : public ::testing::Test {
 protected:
  // A database with a little generated data and a server following it.
  void SetUp() override {
    ASSERT_TRUE(mirror_.Create("fault").ok());
    datagen::DatasetSpec spec;
    spec.tenants = 2;
    spec.entities_per_tenant = 300;
    spec.models = {{kMiniLm, 384}, {kSmall, 1536}};
    spec.seed = 11;
    GeneratedData data;
    const Status loaded = LoadGeneratedData(mirror_.conninfo(), spec, &data);
    ASSERT_TRUE(loaded.ok()) << loaded.ToString();
    entities_ = data.entities;
    tenants_ = data.tenants;
    const Status s = mirror_.StartServer();
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  void TearDown() override {
    if (HasFailure()) std::cerr << "server log (tail):\n" << mirror_.LogTail(60) << "\n";
  }

  // Ends the walsender that holds the server's slot, once the server holds it. A walsender
  // ended before is passed over: until it has exited it may still show as the slot's holder,
  // and ending it again would not make the server reconnect.
  bool TerminateWalsender() {
    const auto deadline = Clock::now() + seconds(20);
    while (Clock::now() < deadline) {
      std::string pid;
      const Status s = QueryValue(mirror_.admin_conninfo(),
                                  "SELECT coalesce(max(active_pid) FILTER (WHERE pg_terminate_backend(active_pid)), 0)::text "
                                  "FROM pg_replication_slots WHERE slot_name = " + Quote(mirror_.slot()) +
                                  " AND active_pid IS NOT NULL AND active_pid <> " + terminated_pid_,
                                  &pid);
      if (s.ok() && pid != "0" && !pid.empty()) {
        terminated_pid_ = pid;
        return true;
      }
      std::this_thread::sleep_for(milliseconds(50));
    }
    return false;
  }

  // Waits until the writer has committed `n` more transactions than `from`.
  bool WaitCommitted(const SteadyWriter& writer, int from, int n, seconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (writer.committed() < from + n && Clock::now() < deadline) std::this_thread::sleep_for(milliseconds(10));
    return writer.committed() >= from + n;
  }

  std::string WaitState(const std::string& wanted, seconds timeout) {
    const auto deadline = Clock::now() + timeout;
    std::string state;
    while (Clock::now() < deadline) {
      state = mirror_.server().Status().state();
      if (state == wanted) break;
      std::this_thread::sleep_for(milliseconds(50));
    }
    return state;
  }

  LiveMirror mirror_;
  std::vector<std::pair<std::string, std::string>> entities_;
  std::vector<std::string> tenants_;
  std::string terminated_pid_ = "0";  // the walsender TerminateWalsender ended last
};

// (a) The walsender is terminated twice in the middle of the writes.
TEST_F(MirrorFaultTest, TerminatedWalsenderReconnects) {
  SteadyWriter writer(mirror_.conninfo(), entities_, 1);
  ServedSearches searches(mirror_.stub(), tenants_);
  writer.Start();
  ASSERT_TRUE(WaitCommitted(writer, 0, 50, seconds(30)));
  ASSERT_TRUE(TerminateWalsender());
  ASSERT_TRUE(WaitCommitted(writer, writer.committed(), 50, seconds(30)));
  ASSERT_TRUE(TerminateWalsender()) << "the server did not take its slot again";
  ASSERT_TRUE(WaitCommitted(writer, writer.committed(), 50, seconds(30)));
  writer.Stop();
  searches.Stop();
  std::cout << "[ walsender ] " << writer.committed() << " transactions, " << searches.count() << " searches\n";

  ExpectMirrorEqualsDatabase(mirror_.conninfo(), mirror_.stub(), 0);
  EXPECT_TRUE(searches.error().empty()) << searches.error();
  const v1::MirrorStatus status = mirror_.server().Status();
  EXPECT_GE(status.reconnects(), 2u);
  EXPECT_EQ(status.initial_loads(), 1u) << "the slot survived: a reconnect needs no new load";
  EXPECT_EQ(status.state(), "streaming");
}

// (b) PostgreSQL stopped and started: the writes before, during (failing, retried) and after
// all arrive; during the outage the service answers with what it had applied.
TEST_F(MirrorFaultTest, PostgresStoppedAndStarted) {
  ClusterControl cluster;
  if (!cluster.available()) GTEST_SKIP() << "VECMIRROR_TEST_PGDIR is not set (run through ctest)";
  SteadyWriter writer(mirror_.conninfo(), entities_, 2);
  writer.Start();
  ASSERT_TRUE(WaitCommitted(writer, 0, 50, seconds(30)));  // before

  // What the service must keep answering while PostgreSQL is down.
  writer.Pause();
  ExpectMirrorEqualsDatabase(mirror_.conninfo(), mirror_.stub(), 0);
  SearchableSet before;
  ASSERT_TRUE(ReadSearchableSet(mirror_.conninfo(), {}, &before).ok());
  const uint64_t applied_before = mirror_.server().Status().applied_lsn();

  const auto stop_started = Clock::now();
  ASSERT_TRUE(cluster.Stop());
  std::cout << "[ restart ] PostgreSQL stopped in "
            << std::chrono::duration<double>(Clock::now() - stop_started).count() << " s\n";
  const int committed_at_stop = writer.committed();
  writer.Resume();  // during: every attempt fails until the server is back

  EXPECT_EQ(WaitState("reconnecting", seconds(15)), "reconnecting");
  // The shutdown checkpoint's WAL may have been passed on in a last keepalive: applied_lsn can
  // move past it (no change of data), but not during the outage.
  const uint64_t applied_at_outage = mirror_.server().Status().applied_lsn();
  EXPECT_GE(applied_at_outage, applied_before);
  ExpectMirrorEqualsSet(before, mirror_.stub(), 0);
  std::this_thread::sleep_for(seconds(2));
  ExpectMirrorEqualsSet(before, mirror_.stub(), 0);
  const v1::MirrorStatus down = mirror_.server().Status();
  EXPECT_EQ(down.applied_lsn(), applied_at_outage);
  EXPECT_TRUE(down.loaded());
  EXPECT_FALSE(down.last_error().empty());
  EXPECT_EQ(writer.committed(), committed_at_stop);
  EXPECT_GT(writer.failed_attempts(), 0);

  ASSERT_TRUE(cluster.Start());
  ASSERT_TRUE(WaitCommitted(writer, committed_at_stop, 80, seconds(60)))  // after
      << "the writer did not get through after the restart: " << writer.last_error();
  writer.Stop();
  std::cout << "[ restart ] " << writer.committed() << " transactions, " << writer.failed_attempts()
            << " failed attempts while PostgreSQL was down\n";

  ExpectMirrorEqualsDatabase(mirror_.conninfo(), mirror_.stub(), 0);
  const v1::MirrorStatus status = mirror_.server().Status();
  EXPECT_GE(status.reconnects(), 1u);
  EXPECT_EQ(status.initial_loads(), 1u) << "the slot survived the restart: no new load needed";
  EXPECT_EQ(status.state(), "streaming");
}

// (c) The service is killed (SIGKILL) during the writes; a new process takes a fresh load
// from the same slot name while the writes go on.
TEST_F(MirrorFaultTest, ServiceKilledAndRestarted) {
  SteadyWriter writer(mirror_.conninfo(), entities_, 3);
  writer.Start();
  ASSERT_TRUE(WaitCommitted(writer, 0, 50, seconds(30)));
  mirror_.StopServer(SIGKILL);
  ASSERT_TRUE(WaitCommitted(writer, writer.committed(), 50, seconds(30)));  // nobody follows these
  const Status s = mirror_.StartServer();
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_TRUE(WaitCommitted(writer, writer.committed(), 50, seconds(30)));
  writer.Stop();
  std::cout << "[ kill ] " << writer.committed() << " transactions\n";

  ExpectMirrorEqualsDatabase(mirror_.conninfo(), mirror_.stub(), 0);
  const v1::MirrorStatus status = mirror_.server().Status();
  EXPECT_EQ(status.initial_loads(), 1u);
  EXPECT_EQ(status.state(), "streaming");
}

}  // namespace
}  // namespace vecmirror::testing
