// The real vecmirror-server binary with TLS and a tokens file, against a scratch database of
// the pg_cluster fixture: searches over TLS with a token answer as the SQL ground truth, the
// wrong token, tenant or role is refused, SIGHUP puts a rewritten tokens file in force (and
// keeps the old one when the new one is broken), and neither a token nor the database
// password reaches the log. Also what start-up refuses: plaintext beyond loopback, a broken
// tokens file, half the TLS flags. Certificates are made at test time.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "src/auth/token_hash.h"
#include "tests/support/pg_env.h"
#include "tests/support/server_process.h"
#include "tests/support/sql_ground_truth.h"
#include "tests/support/test_pki.h"

namespace vecmirror::testing {
namespace {

constexpr char kModel[] = "all-MiniLM-L6-v2";
constexpr int kDim = 384;
constexpr int kEntitiesPerTenant = 40;

constexpr char kAdmin[] = "server-admin-0123456789abcdef";
constexpr char kSearchA[] = "server-search-a-0123456789abc";
constexpr char kReloaded[] = "server-reloaded-0123456789ab";
constexpr char kDbPassword[] = "unused-db-secret-4711";  // trust auth: never checked

std::string Hashed(const std::string& token) {
  return "sha256:" + auth::DigestHex(auth::HashToken(token));
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::trunc) << text;
  chmod(path.c_str(), 0600);
}

// Runs the server binary with `args` and no PostgreSQL behind it; its exit code and output.
// Bounded by timeout(1): a server that started instead of refusing is killed after 30 s.
std::pair<int, std::string> RunServer(const std::string& args) {
  const std::string command = "timeout 30 '" + BinaryDir() + "/src/vecmirror-server' " +
                              "--database-url 'host=127.0.0.1 port=1 connect_timeout=1' " + args +
                              " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  std::string output;
  char buffer[4096];
  while (pipe && fgets(buffer, sizeof buffer, pipe)) output += buffer;
  const int status = pipe ? pclose(pipe) : -1;
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

class AuthServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(pki_.ok());
    ASSERT_TRUE(ScratchDatabase::CreateWithSchema("auth", &db_).ok());
    for (std::string* tenant : {&tenant_a_, &tenant_b_}) {
      ASSERT_TRUE(QueryValue(db_->conninfo(),
                             "INSERT INTO tenant (name) VALUES ('auth') RETURNING id::text", tenant)
                      .ok());
      const std::string sql =
          "WITH e AS (INSERT INTO entity (tenant_id, entity_type, name) "
          "  SELECT '" + *tenant + "', CASE WHEN i % 3 = 0 THEN 'template' ELSE 'context' END, "
          "         i::text FROM generate_series(1, " + std::to_string(kEntitiesPerTenant) +
          ") AS i "
          "  RETURNING id, name) "
          "INSERT INTO embedding (entity_id, model, status, vector) "
          "SELECT id, '" + kModel + "', 'completed', "
          "  (SELECT array_agg(sin(n * k * 0.37 + k + " + std::to_string(tenant == &tenant_b_) +
          ")::real ORDER BY k) FROM generate_series(1, " + std::to_string(kDim) + ") AS k) "
          "FROM (SELECT id, name::int AS n FROM e) AS rows";
      ASSERT_TRUE(ExecSql(db_->conninfo(), sql).ok());
    }
    tokens_path_ = pki_.Path("tokens");
    WriteFile(tokens_path_, "# the test's tokens\n" + Hashed(kAdmin) + " admin * ops\n" +
                                kSearchA + " search " + tenant_a_ + " search-a\n");
  }

  // A TLS stub that trusts the test CA.
  std::unique_ptr<v1::VectorSearch::Stub> TlsStub(const ServerProcess& server) {
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = pki_.Read("ca.pem");
    return v1::VectorSearch::NewStub(
        grpc::CreateChannel(server.address(), grpc::SslCredentials(options)));
  }

  // Waits (bounded) until the server reports its first load complete to the admin token.
  // Each try has a channel of its own: one made before the server listened can sit out
  // gRPC's connect timeout (20 s) before it tries again.
  bool WaitLoaded(ServerProcess& server, grpc::Status* last) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (server.running() && std::chrono::steady_clock::now() < deadline) {
      auto context = Context(kAdmin);
      context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
      v1::MirrorStatus status;
      *last = TlsStub(server)->GetMirrorStatus(context.get(), {}, &status);
      if (last->ok() && status.loaded()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

  static std::unique_ptr<grpc::ClientContext> Context(const std::string& token) {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    if (!token.empty()) context->AddMetadata("authorization", "Bearer " + token);
    return context;
  }

  static std::vector<float> Query() {
    std::vector<float> query(kDim);
    for (int k = 0; k < kDim; ++k) query[k] = static_cast<float>(std::cos(0.11 * k) + 0.3);
    return query;
  }

  grpc::Status Search(v1::VectorSearch::Stub& stub, const std::string& token,
                      const std::string& tenant, v1::SearchResponse* response) {
    v1::SearchRequest request;
    request.set_tenant_id(tenant);
    request.set_model(kModel);
    request.set_limit(5);
    const std::vector<float> query = Query();
    request.mutable_vector()->mutable_values()->Add(query.begin(), query.end());
    return stub.SearchSimilarEntities(Context(token).get(), request, response);
  }

  TestPki pki_;
  std::unique_ptr<ScratchDatabase> db_;
  std::string tenant_a_, tenant_b_, tokens_path_;
};

TEST_F(AuthServerTest, TlsAndTokensOnTheRealServerWithAReloadOnSighup) {
  ServerProcess server(db_->conninfo() + " password=" + kDbPassword,
                       {"--slot", db_->name(), "--tls-cert", pki_.Path("server.pem"), "--tls-key",
                        pki_.Path("server.key"), "--tokens-file", tokens_path_});
  server.Start();
  grpc::Status last;
  ASSERT_TRUE(WaitLoaded(server, &last)) << last.error_message() << "\n" << server.Log();
  auto stub = TlsStub(server);

  // The search token's tenant, answered as the SQL function answers.
  v1::SearchResponse response;
  const grpc::Status allowed = Search(*stub, kSearchA, tenant_a_, &response);
  ASSERT_TRUE(allowed.ok()) << allowed.error_message();
  std::unique_ptr<SqlGroundTruth> truth;
  ASSERT_TRUE(SqlGroundTruth::Connect(db_->conninfo(), &truth).ok());
  std::vector<SqlHit> expected;
  ASSERT_TRUE(truth->Search(tenant_a_, kModel, Query(), {}, 5, &expected).ok());
  ASSERT_EQ(response.results_size(), static_cast<int>(expected.size()));
  for (int i = 0; i < response.results_size(); ++i) {
    EXPECT_EQ(response.results(i).entity_id(), expected[i].entity_id) << "rank " << i;
    EXPECT_NEAR(response.results(i).similarity(), expected[i].similarity, kSimilarityTolerance);
  }

  EXPECT_EQ(Search(*stub, "", tenant_a_, &response).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Search(*stub, kReloaded, tenant_a_, &response).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Search(*stub, kSearchA, tenant_b_, &response).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  v1::RebuildIndexRequest rebuild;
  rebuild.set_tenant_id(tenant_a_);
  v1::RebuildIndexResponse rebuilt;
  EXPECT_EQ(stub->RebuildIndex(Context(kSearchA).get(), rebuild, &rebuilt).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  v1::ListIndexesResponse listed;
  ASSERT_TRUE(stub->ListIndexes(Context(kSearchA).get(), {}, &listed).ok());
  ASSERT_EQ(listed.indexes_size(), 1);
  EXPECT_EQ(listed.indexes(0).tenant_id(), tenant_a_);
  ASSERT_TRUE(stub->ListIndexes(Context(kAdmin).get(), {}, &listed).ok());
  EXPECT_EQ(listed.indexes_size(), 2);

  // SIGHUP: the rewritten file is in force; the search token is gone.
  WriteFile(tokens_path_, Hashed(kAdmin) + " admin * ops\n" + Hashed(kReloaded) + " search " +
                              tenant_b_ + " reloaded\n");
  server.Signal(SIGHUP);
  bool reloaded = false;
  for (auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
       !reloaded && std::chrono::steady_clock::now() < deadline;) {
    reloaded = Search(*stub, kReloaded, tenant_b_, &response).ok();
    if (!reloaded) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(reloaded) << server.Log();
  EXPECT_EQ(Search(*stub, kSearchA, tenant_a_, &response).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);

  // A broken file on SIGHUP: said in the log, and the tokens in force stay.
  WriteFile(tokens_path_, std::string(kSearchA) + " reader *\n");
  server.Signal(SIGHUP);
  bool logged = false;
  for (auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
       !logged && std::chrono::steady_clock::now() < deadline;) {
    logged = server.Log().find("the tokens in force stay") != std::string::npos;
    if (!logged) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(logged) << server.Log();
  EXPECT_TRUE(Search(*stub, kReloaded, tenant_b_, &response).ok());
  EXPECT_EQ(Search(*stub, kSearchA, tenant_a_, &response).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);

  stub.reset();  // an open channel would hold the server's shutdown for its grace period
  server.Signal(SIGTERM);
  EXPECT_EQ(server.WaitExit(std::chrono::seconds(30)), std::optional<int>(0));
  const std::string log = server.Log();
  EXPECT_NE(log.find("security: TLS, 2 tokens from " + tokens_path_), std::string::npos) << log;
  EXPECT_NE(log.find("--database-url holds a password"), std::string::npos) << log;
  EXPECT_NE(log.find("token search-a does not cover"), std::string::npos) << log;
  EXPECT_NE(log.find("tokens:1: role"), std::string::npos) << log;
  for (const char* secret : {kAdmin, kSearchA, kReloaded, kDbPassword}) {
    EXPECT_EQ(log.find(secret), std::string::npos) << secret << " in the log:\n" << log;
  }
}

// Start-up refusals happen before PostgreSQL is reached, with exit code 2 and a message that
// says what to change. 192.0.2.1 (TEST-NET-1) is never bound: the refusal comes first.
TEST_F(AuthServerTest, StartupRefusesPlaintextBeyondLoopbackAndBrokenSecurityFlags) {
  const std::string port = std::to_string(FreeLoopbackPort());
  const auto [open_code, open_output] = RunServer("--listen 192.0.2.1:" + port);
  EXPECT_EQ(open_code, 2) << open_output;
  EXPECT_NE(open_output.find("--listen 192.0.2.1:" + port + " is reachable beyond this machine"),
            std::string::npos) << open_output;
  EXPECT_NE(open_output.find("--allow-insecure"), std::string::npos);

  WriteFile(tokens_path_, std::string(kSearchA) + " reader *\n");
  const auto [tokens_code, tokens_output] =
      RunServer("--listen 127.0.0.1:" + port + " --tokens-file '" + tokens_path_ + "'");
  EXPECT_EQ(tokens_code, 2) << tokens_output;
  EXPECT_NE(tokens_output.find(tokens_path_ + ":1: role: expected search or admin"),
            std::string::npos) << tokens_output;
  EXPECT_EQ(tokens_output.find(kSearchA), std::string::npos) << tokens_output;

  const auto [tls_code, tls_output] =
      RunServer("--listen 127.0.0.1:" + port + " --tls-key '" + pki_.Path("server.key") + "'");
  EXPECT_EQ(tls_code, 2) << tls_output;
  EXPECT_NE(tls_output.find("--tls-key needs --tls-cert"), std::string::npos) << tls_output;
}

}  // namespace
}  // namespace vecmirror::testing
