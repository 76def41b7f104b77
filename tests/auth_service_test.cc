// The service behind TLS and tokens, over real gRPC on 127.0.0.1: a SearchService over the
// shared test registry (tests/support/service_test_fixture.h) with an Authorizer, served by
// one GrpcServer with TLS and one with mutual TLS, certificates made at test time
// (tests/support/make-test-certs.sh). Every refusal is checked for its status code, every
// allowed search against the independent brute force, and the captured log for token text.
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <grpcpp/security/credentials.h>

#include "src/auth/authorizer.h"
#include "src/auth/tls_credentials.h"
#include "src/auth/token_hash.h"
#include "src/auth/token_store.h"
#include "tests/support/service_test_fixture.h"
#include "tests/support/test_pki.h"
#include "tools/cli/cli.h"
#include "tools/cli/health_check.h"

namespace vecmirror::service_test {
namespace {

using auth::Authorizer;
using auth::DigestHex;
using auth::Fingerprint;
using auth::HashToken;
using auth::TokenStore;
using ::vecmirror::testing::TestPki;

// Tokens of the file below, and one that is in no file.
constexpr char kSearchA[] = "search-a-0123456789abcdef0123";      // search, tenant A
constexpr char kAdminA[] = "admin-a-0123456789abcdef01234";       // admin, tenant A
constexpr char kOps[] = "ops-all-0123456789abcdef012345";         // admin, every tenant
constexpr char kSearchAll[] = "search-all-0123456789abcdef012";   // search, every tenant
constexpr char kWrong[] = "wrong-token-0123456789abcdef01";
constexpr char kReplacement[] = "replacement-0123456789abcdef0";  // only in the reloaded file

std::string Hashed(const std::string& token) { return "sha256:" + DigestHex(HashToken(token)); }

std::shared_ptr<const TokenStore> ParseStore(const std::string& text) {
  auto store = std::make_shared<TokenStore>();
  const Status s = TokenStore::Parse(text, "tokens", store.get());
  if (!s.ok()) ADD_FAILURE() << s.ToString();
  return store;
}

// The suite's world: one registry, one authorizer, a TLS server and an mTLS server.
struct AuthWorld {
  AuthWorld() {
    // The authorizer's log, captured to be searched for tokens.
    previous_logger = spdlog::default_logger();
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(log);
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("capture", sink));

    const std::string a = world.tenant_a.ToString();
    tokens_text = std::string(kSearchA) + " search " + a + " search-a\n" +
                  Hashed(kAdminA) + " admin " + a + " admin-a\n" +
                  Hashed(kOps) + " admin * ops\n" +
                  kSearchAll + " search *\n";
    authorizer.Replace(ParseStore(tokens_text));
    service = std::make_unique<SearchService>(world.registry, world.models, world.board,
                                              SearchServiceOptions{}, authorizer);
    tls = Serve({pki.Path("server.pem"), pki.Path("server.key"), ""});
    mtls = Serve({pki.Path("server.pem"), pki.Path("server.key"), pki.Path("ca.pem")});
  }
  ~AuthWorld() {
    for (auto* server : {tls.get(), mtls.get()}) {
      if (server) server->Shutdown(std::chrono::system_clock::now());
    }
    spdlog::set_default_logger(previous_logger);
  }

  std::unique_ptr<GrpcServer> Serve(const auth::TlsFiles& files) {
    std::shared_ptr<grpc::ServerCredentials> credentials;
    std::vector<std::string> warnings;
    const Status built = auth::BuildServerCredentials(files, &credentials, &warnings);
    if (!built.ok()) ADD_FAILURE() << built.ToString();
    auto server = std::make_unique<GrpcServer>(GrpcServerOptions{.listen = "127.0.0.1:0", .max_message_bytes = 64 << 20});
    const Status started = server->Start({service.get()}, {}, credentials);
    if (!started.ok()) ADD_FAILURE() << started.ToString();
    server->SetServing(true);
    return server;
  }

  std::string Log() const { return log.str(); }

  TestPki pki;
  TestWorld world;
  std::ostringstream log;
  std::shared_ptr<spdlog::logger> previous_logger;
  std::string tokens_text;
  Authorizer authorizer;
  std::unique_ptr<SearchService> service;
  std::unique_ptr<GrpcServer> tls, mtls;
};

class AuthServiceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { world_ = new AuthWorld(); }
  static void TearDownTestSuite() {
    delete world_;
    world_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(world_->pki.ok()); }

  static std::string Address(const GrpcServer& server) {
    return "127.0.0.1:" + std::to_string(server.bound_port());
  }
  static grpc::SslCredentialsOptions Trusting(const std::string& ca_file) {
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = world_->pki.Read(ca_file);
    return options;
  }
  // A TLS channel to the TLS server that trusts the test CA.
  static std::unique_ptr<v1::VectorSearch::Stub> TlsStub() {
    return v1::VectorSearch::NewStub(
        grpc::CreateChannel(Address(*world_->tls), grpc::SslCredentials(Trusting("ca.pem"))));
  }

  // A call context with a deadline and, unless empty, "authorization: <value>".
  static std::unique_ptr<grpc::ClientContext> Context(const std::string& authorization) {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    if (!authorization.empty()) context->AddMetadata("authorization", authorization);
    return context;
  }
  static std::string Bearer(const std::string& token) { return "Bearer " + token; }

  v1::SearchRequest RequestFor(const Uuid& tenant, std::vector<Expected>* expected) {
    const Row& row = world_->world.AnyRow(tenant, kMiniLm);
    const std::vector<float> query = world_->world.QueryNear(row);
    BruteForceQuery truth;
    truth.vector = query;
    truth.limit = 7;
    *expected = BruteForce(world_->world.RowsOf(tenant, kMiniLm), truth);
    return VectorRequest(tenant, kMiniLm, query, 7);
  }

  grpc::Status SearchWith(const std::string& authorization, const Uuid& tenant,
                          v1::SearchResponse* response) {
    std::vector<Expected> expected;
    const v1::SearchRequest request = RequestFor(tenant, &expected);
    return TlsStub()->SearchSimilarEntities(Context(authorization).get(), request, response);
  }

  grpc::Status Rebuild(const std::string& token, const Uuid& tenant,
                       v1::RebuildIndexResponse* response) {
    v1::RebuildIndexRequest request;
    request.set_tenant_id(tenant.ToString());
    request.set_model(kMiniLm);
    return TlsStub()->RebuildIndex(Context(Bearer(token)).get(), request, response);
  }

  grpc::Status MirrorStatus(const std::string& token, v1::MirrorStatus* response) {
    return TlsStub()->GetMirrorStatus(Context(Bearer(token)).get(), v1::GetMirrorStatusRequest(),
                                      response);
  }

  // (tenant, model) of every index a ListIndexes call returns.
  grpc::Status List(const std::string& token, const std::string& tenant_filter,
                    std::set<std::pair<std::string, std::string>>* listed) {
    v1::ListIndexesRequest request;
    request.set_tenant_id(tenant_filter);
    v1::ListIndexesResponse response;
    const grpc::Status status =
        TlsStub()->ListIndexes(Context(Bearer(token)).get(), request, &response);
    listed->clear();
    for (const v1::IndexInfo& info : response.indexes()) {
      listed->emplace(info.tenant_id(), info.model());
    }
    return status;
  }

  static AuthWorld* world_;
  const Uuid& tenant_a_ = world_->world.tenant_a;
  const Uuid& tenant_b_ = world_->world.tenant_b;
};

AuthWorld* AuthServiceTest::world_ = nullptr;

// ---- TLS ---------------------------------------------------------------------------------------

TEST_F(AuthServiceTest, TlsWithTheTrustedCaAnswersAsTheBruteForce) {
  std::vector<Expected> expected;
  const v1::SearchRequest request = RequestFor(tenant_a_, &expected);
  v1::SearchResponse response;
  const grpc::Status status =
      TlsStub()->SearchSimilarEntities(Context(Bearer(kSearchA)).get(), request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ExpectSameResults(response, expected);

  // The usual client path: the token as call credentials composed with the channel's TLS.
  auto channel = grpc::CreateChannel(
      Address(*world_->tls),
      grpc::CompositeChannelCredentials(grpc::SslCredentials(Trusting("ca.pem")),
                                        grpc::AccessTokenCredentials(kSearchA)));
  v1::SearchResponse composed;
  ASSERT_TRUE(v1::VectorSearch::NewStub(channel)
                  ->SearchSimilarEntities(Context("").get(), request, &composed)
                  .ok());
  ExpectSameResults(composed, expected);
}

TEST_F(AuthServiceTest, TlsWithAnotherCaOrWithoutTlsFails) {
  std::vector<Expected> expected;
  const v1::SearchRequest request = RequestFor(tenant_a_, &expected);
  ASSERT_FALSE(expected.empty());

  v1::SearchResponse response;
  auto untrusting = v1::VectorSearch::NewStub(grpc::CreateChannel(
      Address(*world_->tls), grpc::SslCredentials(Trusting("other-ca.pem"))));
  const grpc::Status wrong_ca =
      untrusting->SearchSimilarEntities(Context(Bearer(kSearchA)).get(), request, &response);
  EXPECT_EQ(wrong_ca.error_code(), grpc::StatusCode::UNAVAILABLE) << wrong_ca.error_message();
  EXPECT_EQ(response.results_size(), 0);

  auto plaintext = v1::VectorSearch::NewStub(
      grpc::CreateChannel(Address(*world_->tls), grpc::InsecureChannelCredentials()));
  const grpc::Status no_tls =
      plaintext->SearchSimilarEntities(Context(Bearer(kSearchA)).get(), request, &response);
  EXPECT_EQ(no_tls.error_code(), grpc::StatusCode::UNAVAILABLE) << no_tls.error_message();
  EXPECT_EQ(response.results_size(), 0);
}

TEST_F(AuthServiceTest, MutualTlsAdmitsOnlyClientsWithACertificateFromItsCa) {
  std::vector<Expected> expected;
  const v1::SearchRequest request = RequestFor(tenant_a_, &expected);
  auto call = [&](const std::string& key, const std::string& cert, v1::SearchResponse* response) {
    grpc::SslCredentialsOptions options = Trusting("ca.pem");
    if (!key.empty()) {
      options.pem_private_key = world_->pki.Read(key);
      options.pem_cert_chain = world_->pki.Read(cert);
    }
    auto stub = v1::VectorSearch::NewStub(
        grpc::CreateChannel(Address(*world_->mtls), grpc::SslCredentials(options)));
    return stub->SearchSimilarEntities(Context(Bearer(kSearchA)).get(), request, response);
  };

  v1::SearchResponse response;
  const grpc::Status no_cert = call("", "", &response);
  EXPECT_EQ(no_cert.error_code(), grpc::StatusCode::UNAVAILABLE) << no_cert.error_message();
  const grpc::Status other_ca = call("other-client.key", "other-client.pem", &response);
  EXPECT_EQ(other_ca.error_code(), grpc::StatusCode::UNAVAILABLE) << other_ca.error_message();
  EXPECT_EQ(response.results_size(), 0);

  const grpc::Status admitted = call("client.key", "client.pem", &response);
  ASSERT_TRUE(admitted.ok()) << admitted.error_message();
  ExpectSameResults(response, expected);
}

// Load balancers probe health without a token: it says only SERVING or not.
TEST_F(AuthServiceTest, HealthNeedsNoToken) {
  auto channel =
      grpc::CreateChannel(Address(*world_->tls), grpc::SslCredentials(Trusting("ca.pem")));
  cli::ServingStatus serving = cli::ServingStatus::kUnknown;
  const grpc::Status status =
      cli::CheckHealth(channel, "vecmirror.v1.VectorSearch", std::chrono::seconds(10), &serving);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(serving, cli::ServingStatus::kServing);
}

// ---- tokens ------------------------------------------------------------------------------------

TEST_F(AuthServiceTest, NoTokenOrAnUnknownOneIsUnauthenticated) {
  const std::vector<std::string> refused = {
      "",                                      // no authorization metadata
      Bearer(kWrong),                          // a token in no file
      Bearer(Hashed(kSearchA)),                // the file's digest is not the token
      Bearer(DigestHex(HashToken(kSearchA))),  //   ... with or without its prefix
      "Basic " + std::string(kSearchA),        // another scheme
      "Bearer",                                // no token
      "Bearer   ",                             // blanks only
      std::string("Bearer") + kSearchA,        // no blank after the scheme
      kSearchA,                                // no scheme
  };
  for (const std::string& authorization : refused) {
    v1::SearchResponse response;
    const grpc::Status status = SearchWith(authorization, tenant_a_, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED)
        << "authorization \"" << authorization << "\": " << status.error_message();
    EXPECT_EQ(response.results_size(), 0);
  }
  // The scheme in any case, and blanks around the token, are accepted (RFC 6750).
  v1::SearchResponse response;
  EXPECT_TRUE(SearchWith("bearer " + std::string(kSearchA), tenant_a_, &response).ok());
  EXPECT_TRUE(SearchWith("BEARER  " + std::string(kSearchA) + " ", tenant_a_, &response).ok());
  EXPECT_GT(response.results_size(), 0);

  // Two values, even a valid one among them, are refused.
  std::vector<Expected> expected;
  const v1::SearchRequest request = RequestFor(tenant_a_, &expected);
  auto twice = Context(Bearer(kSearchA));
  twice->AddMetadata("authorization", Bearer(kWrong));
  EXPECT_EQ(TlsStub()->SearchSimilarEntities(twice.get(), request, &response).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

// A stranger learns nothing about a request, not even that it is malformed; and every RPC
// of the service asks for a token.
TEST_F(AuthServiceTest, AuthenticationComesBeforeValidationOnEveryRpc) {
  v1::SearchRequest malformed;
  malformed.set_tenant_id("not-a-uuid");
  v1::SearchResponse search;
  auto stub = TlsStub();
  EXPECT_EQ(stub->SearchSimilarEntities(Context("").get(), malformed, &search).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  v1::BatchSearchRequest batch;
  *batch.add_requests() = malformed;
  v1::BatchSearchResponse batch_response;
  EXPECT_EQ(
      stub->BatchSearchSimilarEntities(Context("").get(), batch, &batch_response).error_code(),
      grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(batch_response.items_size(), 0);
  v1::ListIndexesResponse list;
  EXPECT_EQ(stub->ListIndexes(Context("").get(), v1::ListIndexesRequest(), &list).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(list.indexes_size(), 0);
  v1::MirrorStatus mirror;
  EXPECT_EQ(stub->GetMirrorStatus(Context("").get(), v1::GetMirrorStatusRequest(), &mirror)
                .error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  v1::RebuildIndexRequest rebuild;
  rebuild.set_tenant_id(tenant_a_.ToString());
  v1::RebuildIndexResponse rebuilt;
  EXPECT_EQ(stub->RebuildIndex(Context(Bearer(kWrong)).get(), rebuild, &rebuilt).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(rebuilt.rebuilt_size(), 0);
}

TEST_F(AuthServiceTest, ATokenForAnotherTenantIsPermissionDenied) {
  v1::SearchResponse response;
  const grpc::Status other = SearchWith(Bearer(kSearchA), tenant_b_, &response);
  EXPECT_EQ(other.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(other.error_message(),
            "token search-a does not cover tenant_id " + tenant_b_.ToString());
  EXPECT_EQ(response.results_size(), 0);

  // The same search with a token for every tenant answers as the brute force.
  std::vector<Expected> expected;
  const v1::SearchRequest request = RequestFor(tenant_b_, &expected);
  ASSERT_TRUE(TlsStub()->SearchSimilarEntities(Context(Bearer(kSearchAll)).get(), request,
                                               &response).ok());
  ExpectSameResults(response, expected);

  // A tenant_id that is not a UUID: only a token for every tenant gets as far as validation.
  v1::SearchRequest malformed = request;
  malformed.set_tenant_id("not-a-uuid");
  EXPECT_EQ(TlsStub()->SearchSimilarEntities(Context(Bearer(kSearchA)).get(), malformed,
                                             &response).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(TlsStub()->SearchSimilarEntities(Context(Bearer(kSearchAll)).get(), malformed,
                                             &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(AuthServiceTest, RebuildNeedsAnAdminTokenForTheTenant) {
  v1::RebuildIndexResponse response;
  const grpc::Status search = Rebuild(kSearchA, tenant_a_, &response);
  EXPECT_EQ(search.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(search.error_message(), "token search-a has the search role; this call needs admin");
  EXPECT_EQ(Rebuild(kSearchAll, tenant_a_, &response).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Rebuild(kAdminA, tenant_b_, &response).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(response.rebuilt_size(), 0);

  const grpc::Status admin = Rebuild(kAdminA, tenant_a_, &response);
  ASSERT_TRUE(admin.ok()) << admin.error_message();
  ASSERT_EQ(response.rebuilt_size(), 1);
  EXPECT_EQ(response.rebuilt(0).tenant_id(), tenant_a_.ToString());
  EXPECT_EQ(response.rebuilt(0).model(), kMiniLm);
  response.Clear();
  ASSERT_TRUE(Rebuild(kOps, tenant_b_, &response).ok());
  ASSERT_EQ(response.rebuilt_size(), 1);
  EXPECT_EQ(response.rebuilt(0).tenant_id(), tenant_b_.ToString());
}

TEST_F(AuthServiceTest, MirrorStatusNeedsAnAdminTokenForEveryTenant) {
  v1::MirrorStatus status;
  EXPECT_EQ(MirrorStatus(kSearchAll, &status).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  const grpc::Status tenant_admin = MirrorStatus(kAdminA, &status);
  EXPECT_EQ(tenant_admin.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_NE(tenant_admin.error_message().find("token admin-a covers only some tenants"),
            std::string::npos) << tenant_admin.error_message();
  EXPECT_FALSE(status.loaded());
  ASSERT_TRUE(MirrorStatus(kOps, &status).ok());
  EXPECT_TRUE(status.loaded());
  EXPECT_EQ(status.state(), "streaming");
}

TEST_F(AuthServiceTest, ABatchIsRefusedWholeWhenOneItemIsForAnotherTenant) {
  std::vector<std::vector<Expected>> expected(3);
  v1::BatchSearchRequest batch;
  *batch.add_requests() = RequestFor(tenant_a_, &expected[0]);
  *batch.add_requests() = RequestFor(tenant_b_, &expected[1]);
  *batch.add_requests() = RequestFor(tenant_a_, &expected[2]);
  v1::BatchSearchResponse response;
  const grpc::Status mixed =
      TlsStub()->BatchSearchSimilarEntities(Context(Bearer(kSearchA)).get(), batch, &response);
  EXPECT_EQ(mixed.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(mixed.error_message(),
            "token search-a does not cover requests[1].tenant_id " + tenant_b_.ToString());
  EXPECT_EQ(response.items_size(), 0);

  batch.mutable_requests()->DeleteSubrange(1, 1);
  expected.erase(expected.begin() + 1);
  const grpc::Status own =
      TlsStub()->BatchSearchSimilarEntities(Context(Bearer(kSearchA)).get(), batch, &response);
  ASSERT_TRUE(own.ok()) << own.error_message();
  ASSERT_EQ(response.items_size(), 2);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(response.items(i).code(), 0) << response.items(i).message();
    ExpectSameResults(response.items(i).response(), expected[i]);
  }
}

TEST_F(AuthServiceTest, ListIndexesShowsOnlyTheCallersTenants) {
  const std::string a = tenant_a_.ToString(), b = tenant_b_.ToString();
  const std::set<std::pair<std::string, std::string>> of_a = {{a, kMiniLm}, {a, kSmall}};
  const std::set<std::pair<std::string, std::string>> all = {
      {a, kMiniLm}, {a, kSmall}, {b, kMiniLm}, {b, kSmall}};
  std::set<std::pair<std::string, std::string>> listed;

  ASSERT_TRUE(List(kSearchA, "", &listed).ok());
  EXPECT_EQ(listed, of_a);
  ASSERT_TRUE(List(kAdminA, a, &listed).ok());
  EXPECT_EQ(listed, of_a);
  ASSERT_TRUE(List(kOps, "", &listed).ok());
  EXPECT_EQ(listed, all);
  ASSERT_TRUE(List(kSearchAll, "", &listed).ok());
  EXPECT_EQ(listed, all);
  ASSERT_TRUE(List(kSearchAll, b, &listed).ok());
  EXPECT_EQ(listed, (std::set<std::pair<std::string, std::string>>{{b, kMiniLm}, {b, kSmall}}));

  const grpc::Status other = List(kSearchA, b, &listed);
  EXPECT_EQ(other.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(listed.empty());
}

// What SIGHUP does: a new store, put in force through a copy of the authorizer, is what the
// running server checks from the next call on.
TEST_F(AuthServiceTest, ReplacingTheTokensTakesEffectOnTheNextCall) {
  Authorizer copy = world_->authorizer;
  copy.Replace(ParseStore(std::string(kReplacement) + " search * replacement\n"));
  v1::SearchResponse response;
  const grpc::Status old_token = SearchWith(Bearer(kSearchA), tenant_a_, &response);
  const grpc::Status new_token = SearchWith(Bearer(kReplacement), tenant_b_, &response);
  copy.Replace(ParseStore(world_->tokens_text));  // as the other tests expect it
  EXPECT_EQ(old_token.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(new_token.ok()) << new_token.error_message();
  EXPECT_TRUE(SearchWith(Bearer(kSearchA), tenant_a_, &response).ok());
}

// Every kind of refusal is logged, by token name or fingerprint, and no token, valid or not,
// appears in the log or in a message to the client.
TEST_F(AuthServiceTest, RefusalsAreLoggedWithoutTheToken) {
  std::vector<grpc::Status> statuses;
  v1::SearchResponse response;
  statuses.push_back(SearchWith(Bearer(kWrong), tenant_a_, &response));
  statuses.push_back(SearchWith("", tenant_a_, &response));
  statuses.push_back(SearchWith(Bearer(kSearchA), tenant_b_, &response));
  statuses.push_back(SearchWith(Bearer(kSearchA), tenant_a_, &response));  // allowed
  v1::RebuildIndexResponse rebuilt;
  statuses.push_back(Rebuild(kAdminA, tenant_b_, &rebuilt));
  v1::MirrorStatus mirror;
  statuses.push_back(MirrorStatus(kSearchAll, &mirror));
  std::set<std::pair<std::string, std::string>> listed;
  statuses.push_back(List(kSearchA, tenant_b_.ToString(), &listed));

  const std::string log = world_->Log();
  EXPECT_NE(log.find("unknown token " + Fingerprint(HashToken(kWrong))), std::string::npos)
      << log;
  EXPECT_NE(log.find("no token"), std::string::npos) << log;
  EXPECT_NE(log.find("token search-a does not cover tenant_id " + tenant_b_.ToString()),
            std::string::npos) << log;
  EXPECT_NE(log.find("token admin-a does not cover"), std::string::npos) << log;
  // A token without a name is called by its fingerprint.
  EXPECT_NE(log.find("token " + Fingerprint(HashToken(kSearchAll)) + " has the search role"),
            std::string::npos) << log;
  EXPECT_NE(log.find("127.0.0.1"), std::string::npos) << log;  // who called

  for (const char* token : {kSearchA, kAdminA, kOps, kSearchAll, kWrong, kReplacement}) {
    EXPECT_EQ(log.find(token), std::string::npos) << "token " << token << " in the log";
    // Nor a long piece of one (a clipped echo would still leak most of it).
    EXPECT_EQ(log.find(std::string(token).substr(0, 12)), std::string::npos) << token;
    for (const grpc::Status& status : statuses) {
      EXPECT_EQ(status.error_message().find(token), std::string::npos) << status.error_message();
    }
  }
}

// ---- vecmirror-cli -------------------------------------------------------------------------

// The client tool over TLS, with the token from a file or from $VECMIRROR_TOKEN.
class AuthCliTest : public AuthServiceTest {
 protected:
  int Cli(std::vector<std::string> args) {
    out_.str("");
    err_.str("");
    args.insert(args.begin(), "vecmirror-cli");
    std::vector<const char*> argv;
    for (const std::string& arg : args) argv.push_back(arg.c_str());
    return cli::RunCli(static_cast<int>(argv.size()), argv.data(), out_, err_);
  }
  std::string WriteFile(const std::string& name, const std::string& text) {
    const std::string path = world_->pki.Path(name);
    std::ofstream(path, std::ios::trunc) << text;
    return path;
  }
  void TearDown() override { unsetenv("VECMIRROR_TOKEN"); }

  std::ostringstream out_, err_;
};

TEST_F(AuthCliTest, SearchesOverTlsWithTheTokenFromAFileOrTheEnvironment) {
  std::vector<Expected> expected;
  const v1::SearchRequest request = RequestFor(tenant_a_, &expected);
  ASSERT_FALSE(expected.empty());
  std::string vector_text;
  for (float v : request.vector().values()) vector_text += std::to_string(v) + " ";
  const std::string vector_file = WriteFile("query.txt", vector_text);
  const std::vector<std::string> search = {"search", "--tenant", tenant_a_.ToString(), "--model",
                                           kMiniLm, "--vector-file", vector_file, "--limit", "7",
                                           "--exact"};
  std::vector<std::string> args = {"--server", Address(*world_->tls), "--tls-ca",
                                   world_->pki.Path("ca.pem")};

  // No token: the server's refusal, exit code 1.
  std::vector<std::string> no_token = args;
  no_token.insert(no_token.end(), search.begin(), search.end());
  EXPECT_EQ(Cli(no_token), 1);
  EXPECT_NE(err_.str().find("UNAUTHENTICATED"), std::string::npos) << err_.str();

  std::vector<std::string> with_file = args;
  with_file.push_back("--token-file");
  with_file.push_back(WriteFile("token", std::string(kSearchA) + "\n"));
  with_file.insert(with_file.end(), search.begin(), search.end());
  ASSERT_EQ(Cli(with_file), 0) << err_.str();
  EXPECT_NE(out_.str().find(expected[0].entity_id), std::string::npos) << out_.str();
  EXPECT_NE(out_.str().find(std::to_string(expected.size()) + " results"), std::string::npos);

  setenv("VECMIRROR_TOKEN", kOps, 1);
  std::vector<std::string> status = args;
  status.push_back("status");
  ASSERT_EQ(Cli(status), 0) << err_.str();
  EXPECT_NE(out_.str().find("streaming"), std::string::npos) << out_.str();
  setenv("VECMIRROR_TOKEN", kSearchA, 1);
  EXPECT_EQ(Cli(status), 1);
  EXPECT_NE(err_.str().find("PERMISSION_DENIED"), std::string::npos) << err_.str();
  std::vector<std::string> indexes = args;
  indexes.push_back("indexes");
  ASSERT_EQ(Cli(indexes), 0) << err_.str();
  EXPECT_NE(out_.str().find(tenant_a_.ToString()), std::string::npos) << out_.str();
  EXPECT_EQ(out_.str().find(tenant_b_.ToString()), std::string::npos) << out_.str();
}

TEST_F(AuthCliTest, PresentsAClientCertificateToAServerThatRequiresOne) {
  setenv("VECMIRROR_TOKEN", kSearchA, 1);
  const std::vector<std::string> args = {"--server", Address(*world_->mtls), "--tls-ca",
                                         world_->pki.Path("ca.pem"), "indexes"};
  EXPECT_EQ(Cli(args), 1);
  EXPECT_NE(err_.str().find("UNAVAILABLE"), std::string::npos) << err_.str();
  std::vector<std::string> with_cert = args;
  with_cert.insert(with_cert.end(), {"--tls-cert", world_->pki.Path("client.pem"), "--tls-key",
                                     world_->pki.Path("client.key")});
  ASSERT_EQ(Cli(with_cert), 0) << err_.str();
  EXPECT_NE(out_.str().find("2 indexes"), std::string::npos) << out_.str();
  // Half the pair, or a certificate without TLS, is a local error.
  EXPECT_EQ(Cli({"--server", Address(*world_->mtls), "--tls-ca", world_->pki.Path("ca.pem"),
                 "--tls-cert", world_->pki.Path("client.pem"), "indexes"}),
            2);
  EXPECT_EQ(Cli({"--server", Address(*world_->mtls), "--tls-cert",
                 world_->pki.Path("client.pem"), "--tls-key", world_->pki.Path("client.key"),
                 "indexes"}),
            2);
}

}  // namespace
}  // namespace vecmirror::service_test
