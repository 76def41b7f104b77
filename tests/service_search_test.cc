// SearchSimilarEntities and BatchSearchSimilarEntities through a real gRPC channel: results
// against an independent brute force, every error row of DESIGN.md's table, the min_lsn wait,
// and the not-loaded state.
#include <atomic>
#include <cmath>
#include <functional>
#include <limits>
#include <thread>

#include "tests/support/service_test_fixture.h"

namespace vecmirror::service_test {
namespace {

using std::chrono::milliseconds;

class ServiceSearchTest : public SharedWorldTest {};

TEST_F(ServiceSearchTest, ExactSearchEqualsBruteForceForEveryIndex) {
  for (const Uuid& tenant : {world().tenant_a, world().tenant_b}) {
    for (const char* model : {kMiniLm, kSmall}) {
      for (int trial = 0; trial < 3; ++trial) {
        const std::vector<float> q = world().QueryNear(world().AnyRow(tenant, model));
        v1::SearchResponse response;
        const grpc::Status status =
            world().Search(VectorRequest(tenant, model, q, 25, /*exact=*/true), &response);
        ASSERT_TRUE(status.ok()) << status.error_message();
        SCOPED_TRACE(std::string(model) + " trial " + std::to_string(trial));
        ExpectSameResults(response,
                          BruteForce(world().RowsOf(tenant, model), {q, {}, 25, {}, {}}));
        EXPECT_TRUE(response.exact());
        EXPECT_EQ(response.applied_lsn(), world().registry.applied_lsn());
      }
    }
  }
}

TEST_F(ServiceSearchTest, UnsetLimitMeansTenAndSmallIndexIsFlatAndExact) {
  const Uuid tenant = world().tenant_a;
  const std::vector<float> q = world().QueryNear(world().AnyRow(tenant, kSmall));
  v1::SearchResponse response;
  ASSERT_TRUE(world().Search(VectorRequest(tenant, kSmall, q, 0, /*exact=*/false), &response).ok());
  ExpectSameResults(response, BruteForce(world().RowsOf(tenant, kSmall), {q, {}, 10, {}, {}}));
  EXPECT_EQ(response.index_kind(), v1::INDEX_KIND_FLAT);
  EXPECT_TRUE(response.exact());
}

TEST_F(ServiceSearchTest, TiesAreBrokenByEntityIdAscending) {
  const Uuid tenant = world().tenant_b;
  const Rows& rows = world().RowsOf(tenant, kMiniLm);
  std::map<std::vector<float>, std::vector<Uuid>> by_vector;
  for (const auto& [id, row] : rows) by_vector[row.vector].push_back(id);
  int pairs_checked = 0;
  for (const auto& [vector, ids] : by_vector) {
    if (ids.size() < 2) continue;
    v1::SearchResponse response;
    ASSERT_TRUE(world().Search(VectorRequest(tenant, kMiniLm, vector, 5), &response).ok());
    ASSERT_GE(response.results_size(), 2);
    // std::map iterates ids in ascending order, as the SQL's ORDER BY does.
    EXPECT_EQ(response.results(0).entity_id(), ids[0].ToString());
    EXPECT_EQ(response.results(1).entity_id(), ids[1].ToString());
    EXPECT_EQ(response.results(0).similarity(), response.results(1).similarity());
    EXPECT_NEAR(response.results(0).similarity(), 1.0, 1e-5);
    ExpectSameResults(response, BruteForce(rows, {vector, {}, 5, {}, {}}));
    ++pairs_checked;
  }
  EXPECT_GE(pairs_checked, 3) << "the fixture should have left several duplicate pairs";
}

TEST_F(ServiceSearchTest, EntityTypesFilterKeepsOnlyThoseTypes) {
  const Uuid tenant = world().tenant_a;
  const Rows& rows = world().RowsOf(tenant, kMiniLm);
  const std::vector<float> q = world().QueryNear(world().AnyRow(tenant, kMiniLm));

  for (const std::set<std::string>& types :
       {std::set<std::string>{"template"}, std::set<std::string>{"library"},
        std::set<std::string>{"template", "library"}}) {
    v1::SearchRequest request = VectorRequest(tenant, kMiniLm, q, 20);
    for (const std::string& t : types) request.add_entity_types(t);
    v1::SearchResponse response;
    ASSERT_TRUE(world().Search(request, &response).ok());
    ExpectSameResults(response, BruteForce(rows, {q, types, 20, {}, {}}));
    for (const v1::SearchResult& r : response.results()) {
      EXPECT_TRUE(types.count(r.entity_type())) << r.entity_type();
    }
  }
}

TEST_F(ServiceSearchTest, UnknownEntityTypesMatchNothingAndAreNotAnError) {
  const Uuid tenant = world().tenant_a;
  const Rows& rows = world().RowsOf(tenant, kMiniLm);
  const std::vector<float> q = world().QueryNear(world().AnyRow(tenant, kMiniLm));

  v1::SearchRequest mixed = VectorRequest(tenant, kMiniLm, q, 15);
  mixed.add_entity_types("workflow");
  mixed.add_entity_types("no-such-type");
  v1::SearchResponse response;
  ASSERT_TRUE(world().Search(mixed, &response).ok());
  ExpectSameResults(response, BruteForce(rows, {q, {"workflow"}, 15, {}, {}}));

  v1::SearchRequest unknown_only = VectorRequest(tenant, kMiniLm, q, 15);
  unknown_only.add_entity_types("no-such-type");
  v1::SearchResponse empty;
  ASSERT_TRUE(world().Search(unknown_only, &empty).ok());
  EXPECT_EQ(empty.results_size(), 0);
  EXPECT_EQ(empty.applied_lsn(), world().registry.applied_lsn());
}

TEST_F(ServiceSearchTest, MinSimilarityDropsResultsBelowIt) {
  const Uuid tenant = world().tenant_b;
  const Rows& rows = world().RowsOf(tenant, kSmall);
  const std::vector<float> q = world().QueryNear(world().AnyRow(tenant, kSmall), 3.0f);
  const std::vector<Expected> top = BruteForce(rows, {q, {}, 10, {}, {}});
  ASSERT_EQ(top.size(), 10u);
  // Halfway between the 4th and 5th similarity: exactly four results pass.
  const double threshold = (top[3].similarity + top[4].similarity) / 2;
  ASSERT_GT(top[3].similarity - top[4].similarity, 1e-5) << "pick another query";

  v1::SearchRequest request = VectorRequest(tenant, kSmall, q, 10);
  request.set_min_similarity(threshold);
  v1::SearchResponse response;
  ASSERT_TRUE(world().Search(request, &response).ok());
  ExpectSameResults(response, BruteForce(rows, {q, {}, 10, threshold, {}}));
  EXPECT_EQ(response.results_size(), 4);
}

TEST_F(ServiceSearchTest, QueryByEntityUsesItsVectorAndLeavesItOut) {
  const Uuid tenant = world().tenant_a;
  const Rows& rows = world().RowsOf(tenant, kSmall);
  const Row& seed = world().AnyRow(tenant, kSmall);

  v1::SearchRequest request;
  request.set_tenant_id(tenant.ToString());
  request.set_model(kSmall);
  request.set_query_entity_id(seed.id.ToString());
  request.set_limit(15);
  request.mutable_effort()->set_exact(true);
  v1::SearchResponse response;
  ASSERT_TRUE(world().Search(request, &response).ok());
  ExpectSameResults(response, BruteForce(rows, {seed.vector, {}, 15, {}, seed.id}));
  for (const v1::SearchResult& r : response.results()) EXPECT_NE(r.entity_id(), seed.id.ToString());
}

TEST_F(ServiceSearchTest, UnknownTenantIsOkWithNoResults) {
  const Uuid stranger = world().RandomUuid();
  v1::SearchResponse response;
  const grpc::Status status = world().Search(
      VectorRequest(stranger, kMiniLm, world().RandomVector(kMiniLmDim), 10), &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.results_size(), 0);
  EXPECT_EQ(response.applied_lsn(), world().registry.applied_lsn());
  EXPECT_EQ(response.index_kind(), v1::INDEX_KIND_UNSPECIFIED);
}

// One row of DESIGN.md's error table: a change to a valid request, the code it must get, and
// the words the message must contain (the field, and the value expected).
struct ErrorCase {
  const char* name;
  std::function<void(v1::SearchRequest*)> mutate;
  grpc::StatusCode code;
  std::vector<std::string> message_contains;
};

TEST_F(ServiceSearchTest, EveryErrorRowGetsItsCodeAndNamesTheField) {
  const Uuid tenant = world().tenant_a;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  const std::string removed = world().removed.front().ToString();
  const std::vector<ErrorCase> cases = {
      {"malformed tenant_id", [](auto* r) { r->set_tenant_id("not-a-uuid"); },
       grpc::StatusCode::INVALID_ARGUMENT, {"tenant_id", "not-a-uuid", "8-4-4-4-12"}},
      {"missing tenant_id", [](auto* r) { r->clear_tenant_id(); },
       grpc::StatusCode::INVALID_ARGUMENT, {"tenant_id is required"}},
      {"no query", [](auto* r) { r->clear_query(); }, grpc::StatusCode::INVALID_ARGUMENT,
       {"query is required", "query.vector", "query_entity_id"}},
      {"empty vector", [](auto* r) { r->mutable_vector()->clear_values(); },
       grpc::StatusCode::INVALID_ARGUMENT, {"query.vector is empty"}},
      {"NaN component", [nan](auto* r) { r->mutable_vector()->set_values(7, nan); },
       grpc::StatusCode::INVALID_ARGUMENT, {"query.vector[7]", "NaN"}},
      {"Inf component", [inf](auto* r) { r->mutable_vector()->set_values(300, -inf); },
       grpc::StatusCode::INVALID_ARGUMENT, {"query.vector[300]", "Inf"}},
      {"zero vector",
       [](auto* r) {
         for (int i = 0; i < r->vector().values_size(); ++i) r->mutable_vector()->set_values(i, 0);
       },
       grpc::StatusCode::INVALID_ARGUMENT, {"query.vector is all zeros"}},
      {"dimension mismatch", [](auto* r) { r->set_model(kSmall); },
       grpc::StatusCode::INVALID_ARGUMENT,
       {"query.vector has 384 dimensions", "model text-embedding-3-small has 1536"}},
      {"limit over the maximum", [](auto* r) { r->set_limit(1001); },
       grpc::StatusCode::INVALID_ARGUMENT, {"limit is 1001", "expected 1 to 1000"}},
      {"limit zero", [](auto* r) { r->set_limit(0); },
       grpc::StatusCode::INVALID_ARGUMENT, {"limit is 0", "expected 1 to 1000"}},
      {"unknown model", [](auto* r) { r->set_model("text-embedding-9-huge"); },
       grpc::StatusCode::INVALID_ARGUMENT,
       {"model \"text-embedding-9-huge\" is not known", "all-MiniLM-L6-v2 (384)",
        "text-embedding-3-small (1536)"}},
      {"missing model", [](auto* r) { r->clear_model(); }, grpc::StatusCode::INVALID_ARGUMENT,
       {"model is required", "known models"}},
      {"min_similarity above 1", [](auto* r) { r->set_min_similarity(1.5); },
       grpc::StatusCode::INVALID_ARGUMENT, {"min_similarity is 1.5", "[-1, 1]"}},
      {"min_similarity NaN",
       [](auto* r) { r->set_min_similarity(std::numeric_limits<double>::quiet_NaN()); },
       grpc::StatusCode::INVALID_ARGUMENT, {"min_similarity", "[-1, 1]"}},
      {"ef_search too high", [](auto* r) { r->mutable_effort()->set_ef_search(5000); },
       grpc::StatusCode::INVALID_ARGUMENT, {"effort.ef_search is 5000", "at most 4096"}},
      {"nprobe too high", [](auto* r) { r->mutable_effort()->set_nprobe(70000); },
       grpc::StatusCode::INVALID_ARGUMENT, {"effort.nprobe is 70000", "at most 65536"}},
      {"malformed query_entity_id", [](auto* r) { r->set_query_entity_id("1234"); },
       grpc::StatusCode::INVALID_ARGUMENT, {"query_entity_id", "\"1234\"", "not a UUID"}},
      {"query entity not mirrored (removed)", [removed](auto* r) { r->set_query_entity_id(removed); },
       grpc::StatusCode::NOT_FOUND, {"query_entity_id " + removed, "not mirrored"}},
  };

  const std::vector<float> q = world().QueryNear(world().AnyRow(tenant, kMiniLm));
  for (const ErrorCase& c : cases) {
    SCOPED_TRACE(c.name);
    v1::SearchRequest request = VectorRequest(tenant, kMiniLm, q, 10);
    c.mutate(&request);
    v1::SearchResponse response;
    const grpc::Status status = world().Search(request, &response);
    EXPECT_EQ(status.error_code(), c.code) << status.error_message();
    for (const std::string& words : c.message_contains) {
      EXPECT_NE(status.error_message().find(words), std::string::npos)
          << "message \"" << status.error_message() << "\" lacks \"" << words << "\"";
    }
  }
}

TEST_F(ServiceSearchTest, UnavailableUntilTheInitialLoadCompletes) {
  const Uuid tenant = world().tenant_a;
  const v1::SearchRequest request =
      VectorRequest(tenant, kMiniLm, world().QueryNear(world().AnyRow(tenant, kMiniLm)), 10);
  world().board.Update([](MirrorState& s) { s.loaded = false; });
  v1::SearchResponse response;
  const grpc::Status before = world().Search(request, &response);
  world().board.Update([](MirrorState& s) { s.loaded = true; });
  EXPECT_EQ(before.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_NE(before.error_message().find("initial load in progress"), std::string::npos);

  // A malformed request is still told what is wrong with it: retrying would not help.
  v1::SearchRequest malformed = request;
  malformed.set_tenant_id("x");
  world().board.Update([](MirrorState& s) { s.loaded = false; });
  const grpc::Status invalid = world().Search(malformed, &response);
  world().board.Update([](MirrorState& s) { s.loaded = true; });
  EXPECT_EQ(invalid.error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  EXPECT_TRUE(world().Search(request, &response).ok());
}

TEST_F(ServiceSearchTest, MinLsnWaitsForTheCommitThatCarriesIt) {
  // A tenant of its own, so the other tests' expectations don't move.
  const Uuid tenant = world().RandomUuid();
  Row row{world().RandomUuid(), "context", Normalized(world().RandomVector(kMiniLmDim))};
  world().Upsert(tenant, kMiniLm, {row}, world().NextLsn());
  Row written{world().RandomUuid(), "template", Normalized(world().RandomVector(kMiniLmDim))};
  const uint64_t commit_lsn = world().NextLsn();

  std::thread writer([&] {
    std::this_thread::sleep_for(milliseconds(300));
    world().Upsert(tenant, kMiniLm, {written}, commit_lsn);
  });
  v1::SearchRequest request = VectorRequest(tenant, kMiniLm, written.vector, 5);
  request.set_min_lsn(commit_lsn);
  v1::SearchResponse response;
  const grpc::Status status = world().Search(request, &response, std::chrono::seconds(20));
  writer.join();

  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_GE(response.applied_lsn(), commit_lsn);
  // Read-your-writes: the row committed at min_lsn is in the answer.
  ExpectSameResults(response, BruteForce(world().RowsOf(tenant, kMiniLm),
                                         {written.vector, {}, 5, {}, {}}));
  ASSERT_GE(response.results_size(), 1);
  EXPECT_EQ(response.results(0).entity_id(), written.id.ToString());
}

TEST_F(ServiceSearchTest, MinLsnNeverAppliedIsDeadlineExceeded) {
  const Uuid tenant = world().tenant_a;
  const uint64_t future = world().registry.applied_lsn() + (uint64_t{5} << 32);
  v1::SearchRequest request =
      VectorRequest(tenant, kMiniLm, world().QueryNear(world().AnyRow(tenant, kMiniLm)), 10);
  request.set_min_lsn(future);

  v1::SearchResponse response;
  const auto start = std::chrono::steady_clock::now();
  const grpc::Status status = world().Search(request, &response, milliseconds(400));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << status.error_message();
  EXPECT_GE(std::chrono::steady_clock::now() - start, milliseconds(300));

  // The explanation, from the handler itself (over the wire the client's own timer may win).
  const Status direct = world().service->Search(
      request, std::chrono::steady_clock::now() + milliseconds(100), &response);
  EXPECT_EQ(direct.code(), Status::Code::kDeadlineExceeded);
  EXPECT_NE(direct.message().find("min_lsn " + FormatLsn(future) + " not applied; applied is " +
                                  FormatLsn(world().registry.applied_lsn())),
            std::string::npos)
      << direct.message();
}

TEST_F(ServiceSearchTest, BatchAnswersEachItemIndependently) {
  const Uuid a = world().tenant_a;
  const Uuid b = world().tenant_b;
  const std::vector<float> qa = world().QueryNear(world().AnyRow(a, kMiniLm));
  const std::vector<float> qb = world().QueryNear(world().AnyRow(b, kSmall));

  v1::BatchSearchRequest batch;
  *batch.add_requests() = VectorRequest(a, kMiniLm, qa, 12);
  *batch.add_requests() = VectorRequest(a, kMiniLm, qa, 12);
  batch.mutable_requests(1)->set_tenant_id("bogus");
  *batch.add_requests() = VectorRequest(a, kSmall, qa, 12);  // 384 floats for a 1536-d model
  *batch.add_requests() = VectorRequest(a, kMiniLm, qa, 12);
  batch.mutable_requests(3)->set_query_entity_id(world().removed.front().ToString());
  *batch.add_requests() = VectorRequest(b, kSmall, qb, 7);
  batch.mutable_requests(4)->add_entity_types("context");

  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  v1::BatchSearchResponse response;
  const grpc::Status status = world().stub->BatchSearchSimilarEntities(&context, batch, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(response.items_size(), 5);

  EXPECT_EQ(response.items(0).code(), grpc::StatusCode::OK);
  ExpectSameResults(response.items(0).response(),
                    BruteForce(world().RowsOf(a, kMiniLm), {qa, {}, 12, {}, {}}));
  EXPECT_EQ(response.items(1).code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(response.items(1).message().find("tenant_id"), std::string::npos);
  EXPECT_EQ(response.items(1).response().results_size(), 0);
  EXPECT_EQ(response.items(2).code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(response.items(2).message().find("384 dimensions"), std::string::npos);
  EXPECT_EQ(response.items(3).code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(response.items(3).message().find("query_entity_id"), std::string::npos);
  EXPECT_EQ(response.items(4).code(), grpc::StatusCode::OK);
  ExpectSameResults(response.items(4).response(),
                    BruteForce(world().RowsOf(b, kSmall), {qb, {"context"}, 7, {}, {}}));
}

TEST_F(ServiceSearchTest, BatchOverTheMaximumIsRejectedWhole) {
  v1::BatchSearchRequest batch;
  for (int i = 0; i < 1001; ++i) batch.add_requests()->set_tenant_id("x");
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  v1::BatchSearchResponse response;
  const grpc::Status status = world().stub->BatchSearchSimilarEntities(&context, batch, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("requests has 1001 items; expected at most 1000"),
            std::string::npos)
      << status.error_message();
  EXPECT_EQ(response.items_size(), 0);
}

// Searches in several client threads while a writer commits to the same index: every answer
// is OK and, within one client thread, the applied LSN never goes backwards.
TEST_F(ServiceSearchTest, ConcurrentSearchesDuringWritesStayConsistent) {
  const Uuid tenant = world().RandomUuid();
  std::vector<Row> initial;
  for (int i = 0; i < 50; ++i) {
    initial.push_back({world().RandomUuid(), "context", Normalized(world().RandomVector(kMiniLmDim))});
  }
  world().Upsert(tenant, kMiniLm, initial, world().NextLsn());
  std::vector<std::vector<float>> queries;
  for (int i = 0; i < 4; ++i) queries.push_back(world().RandomVector(kMiniLmDim));
  std::vector<std::pair<Row, uint64_t>> commits;
  for (int i = 0; i < 20; ++i) {
    commits.push_back({{world().RandomUuid(), "template", Normalized(world().RandomVector(kMiniLmDim))},
                       world().NextLsn()});
  }

  std::atomic<bool> done{false};
  std::atomic<int> failures{0}, backwards{0}, calls{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&, t] {
      uint64_t last = 0;
      while (!done.load()) {
        v1::SearchResponse response;
        const grpc::Status s =
            world().Search(VectorRequest(tenant, kMiniLm, queries[t], 10, false), &response);
        if (!s.ok()) ++failures;
        if (response.applied_lsn() < last) ++backwards;
        last = response.applied_lsn();
        ++calls;
      }
    });
  }
  // The writes start once the clients are searching: a loaded machine may start their threads
  // late, and searches after the last write would test nothing concurrent.
  const auto searching_by = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (calls.load() < 4 && std::chrono::steady_clock::now() < searching_by) {
    std::this_thread::sleep_for(milliseconds(1));
  }
  for (const auto& [row, lsn] : commits) {
    world().Upsert(tenant, kMiniLm, {row}, lsn);
    std::this_thread::sleep_for(milliseconds(5));
  }
  done = true;
  for (std::thread& c : clients) c.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(backwards.load(), 0);
  EXPECT_GT(calls.load(), 4);

  v1::SearchResponse final_answer;
  ASSERT_TRUE(world().Search(VectorRequest(tenant, kMiniLm, queries[0], 30), &final_answer).ok());
  ExpectSameResults(final_answer,
                    BruteForce(world().RowsOf(tenant, kMiniLm), {queries[0], {}, 30, {}, {}}));
}

}  // namespace
}  // namespace vecmirror::service_test
