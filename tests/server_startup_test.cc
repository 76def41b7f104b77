// Operator errors at start-up: the server says what is wrong in one message that names what to
// change, and exits, instead of retrying forever (DESIGN.md "Without logical replication",
// issue: "Say so in one clear error"). Real PostgreSQL, real server binary.
#include <gtest/gtest.h>
#include <unistd.h>

#include <memory>
#include <string>

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

}  // namespace
}  // namespace vecmirror::testing
