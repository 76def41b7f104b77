// Operator errors at start-up: the server says what is wrong in one message that names what to
// change, and exits, instead of retrying forever (DESIGN.md "Without logical replication",
// issue: "Say so in one clear error"). Real PostgreSQL, real server binary.
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "tests/support/pg_env.h"
#include "tests/support/server_process.h"

namespace vecmirror::testing {
namespace {

class ServerStartupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(ScratchDatabase::CreateWithSchema("startup", &db_).ok());
    role_ = "vmtest_role_" + std::to_string(getpid());
  }
  void TearDown() override {
    const std::string admin = db_->admin_conninfo();
    EXPECT_TRUE(db_->Drop().ok());
    EXPECT_TRUE(ExecSql(admin, "DROP ROLE IF EXISTS " + role_).ok());
  }

  // Runs the server as role_ and returns its exit code and log.
  std::pair<std::optional<int>, std::string> RunAsRole() {
    ServerProcess server(db_->conninfo() + " user=" + role_, {"--slot", role_});
    server.Start();
    const std::optional<int> code = server.WaitExit(std::chrono::seconds(30));
    return {code, server.Log()};
  }

  std::unique_ptr<ScratchDatabase> db_;
  std::string role_;
};

TEST_F(ServerStartupTest, ARoleWithoutReplicationIsToldHowToGrantIt) {
  ASSERT_TRUE(ExecSql(db_->conninfo(), "CREATE ROLE " + role_ + " LOGIN; GRANT SELECT ON entity, embedding TO " + role_).ok());
  const auto [code, log] = RunAsRole();
  ASSERT_TRUE(code.has_value()) << "the server kept running; its log:\n" << log;
  EXPECT_EQ(*code, 2);
  EXPECT_NE(log.find("lacks the REPLICATION attribute"), std::string::npos) << log;
  EXPECT_NE(log.find("ALTER ROLE " + role_ + " WITH REPLICATION"), std::string::npos) << log;
}

TEST_F(ServerStartupTest, AMissingPublicationThatTheRoleMayNotCreateIsNamed) {
  ASSERT_TRUE(ExecSql(db_->conninfo(), "DROP PUBLICATION vecmirror; CREATE ROLE " + role_ +
                                           " LOGIN REPLICATION; GRANT SELECT ON entity, embedding TO " + role_)
                  .ok());
  const auto [code, log] = RunAsRole();
  ASSERT_TRUE(code.has_value()) << "the server kept running; its log:\n" << log;
  EXPECT_EQ(*code, 2);
  EXPECT_NE(log.find("needs ownership of the tables"), std::string::npos) << log;
  EXPECT_NE(log.find("CREATE PUBLICATION \"vecmirror\" FOR TABLE"), std::string::npos) << log;
}

// Creating a logical slot waits for every transaction that holds an xid to end; one left open
// on the primary would hold the server there, and a SIGTERM with it, for as long as it stays
// open. The server cancels the waiting statement instead.
TEST_F(ServerStartupTest, ASigtermWhileTheSlotWaitsForAnOpenTransactionStopsTheServer) {
  PGconn* open_tx = PQconnectdb(db_->conninfo().c_str());
  ASSERT_EQ(PQstatus(open_tx), CONNECTION_OK) << PQerrorMessage(open_tx);
  PGresult* r = PQexec(open_tx, "BEGIN; SELECT txid_current()");
  ASSERT_EQ(PQresultStatus(r), PGRES_TUPLES_OK) << PQerrorMessage(open_tx);
  PQclear(r);

  ServerProcess server(db_->conninfo(), {"--slot", role_});
  server.Start();
  // Wait (bounded) until the server's walsender is in CREATE_REPLICATION_SLOT.
  const std::string waiting_sql =
      "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'walsender' AND "
      "state = 'active' AND query LIKE 'CREATE_REPLICATION_SLOT%" + role_ + "%'";
  std::string waiting = "0";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (waiting == "0" && std::chrono::steady_clock::now() < deadline) {
    ASSERT_TRUE(QueryValue(db_->admin_conninfo(), waiting_sql, &waiting).ok());
    if (waiting == "0") std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(waiting, "1") << "the server never waited in slot creation; its log:\n" << server.Log();

  server.Signal(SIGTERM);
  const std::optional<int> code = server.WaitExit(std::chrono::seconds(30));
  PQfinish(open_tx);  // only now does the transaction end
  ASSERT_TRUE(code.has_value()) << "the server waited for the open transaction; its log:\n" << server.Log();
  EXPECT_EQ(*code, 0) << server.Log();
}

// gRPC's default SO_REUSEPORT let a second vecmirror-server bind the port of a running one and
// take a share of its clients with a state of its own (issue 9). The second one now exits at
// start with a message that names the address, before it touches the replication slot, and
// the first keeps serving.
TEST_F(ServerStartupTest, ASecondServerOnAPortInUseExitsWithTheAddressNamed) {
  ServerProcess first(db_->conninfo(), {"--slot", role_});
  first.Start();
  ASSERT_TRUE(first.WaitLoaded()) << first.Log();

  ServerProcess second(db_->conninfo(), {"--slot", role_});
  second.UsePort(std::stoi(first.address().substr(first.address().rfind(':') + 1)));
  second.Start();
  const std::optional<int> code = second.WaitExit(std::chrono::seconds(30));
  ASSERT_TRUE(code.has_value()) << "the second server kept running; its log:\n" << second.Log();
  EXPECT_EQ(*code, 1);
  const std::string log = second.Log();
  EXPECT_NE(log.find("cannot start the gRPC server: gRPC server could not listen on " +
                     first.address()),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("address in use"), std::string::npos) << log;

  // The first one still answers, with its slot and state.
  const v1::MirrorStatus status = first.Status();
  EXPECT_TRUE(status.loaded());
  EXPECT_EQ(status.slot_name(), role_);
  EXPECT_EQ(status.state(), "streaming");
  first.Kill(SIGTERM);
}

}  // namespace
}  // namespace vecmirror::testing
