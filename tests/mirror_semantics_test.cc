// The mirror's semantics end to end: SQL committed on a real PostgreSQL, decoded from a real
// pgoutput stream by the real vecmirror-server, seen through its gRPC API. One server follows
// one scratch database for the whole suite; each test works in a tenant of its own, asserts
// what its case is about, and ends with the exact comparison of every index against SQL
// (tests/support/mirror_check.h).
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/live_mirror.h"
#include "tests/support/mirror_check.h"

namespace vecmirror::testing {
namespace {

constexpr char kMiniLm[] = "all-MiniLM-L6-v2";       // 384-d
constexpr char kSmall[] = "text-embedding-3-small";  // 1536-d
constexpr char kLarge[] = "text-embedding-3-large";  // 3072-d
constexpr uint32_t kMiniLmDim = 384;
constexpr uint32_t kSmallDim = 1536;
constexpr uint32_t kLargeDim = 3072;
constexpr char kCustomModel[] = "custom-model-64";
constexpr uint32_t kCustomDim = 64;
constexpr char kNewModel[] = "custom-model-32";
constexpr uint32_t kNewModelDim = 32;
constexpr char kBulkModel[] = "bulk-model-8";
constexpr uint32_t kBulkDim = 8;

#define RUN_SQL(sql_text)                                      \
  do {                                                         \
    const ::vecmirror::Status run_sql_status = Sql().Exec(sql_text); \
    ASSERT_TRUE(run_sql_status.ok()) << run_sql_status.ToString(); \
  } while (0)

struct Hit {
  std::string type;
  double similarity = 0;
};

class MirrorSemanticsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    mirror_ = new LiveMirror;
    Status s = mirror_->Create("semantics");
    // Models first seen in the data are learned: kNewModel arrives mid-stream.
    if (s.ok()) s = mirror_->StartServer({"--learn-models", "--learn-model-dims", "8,32,64"});
    if (!s.ok()) setup_error_ = new std::string(s.ToString());
  }
  static void TearDownTestSuite() {
    delete mirror_;
    mirror_ = nullptr;
    delete setup_error_;
    setup_error_ = nullptr;
  }

  void SetUp() override {
    ASSERT_EQ(setup_error_, nullptr) << *setup_error_;
    sql_ = std::make_unique<SqlSession>(mirror_->conninfo());
    ASSERT_TRUE(sql_->connected());
    Status s;
    tenant_ = sql_->Value("INSERT INTO tenant (name) VALUES ('semantics') RETURNING id::text", &s);
    ASSERT_TRUE(s.ok()) << s.ToString();
    rng_.seed(std::hash<std::string>()(::testing::UnitTest::GetInstance()->current_test_info()->name()));
  }

  void TearDown() override {
    if (HasFailure() && mirror_) std::cerr << "server log (tail):\n" << mirror_->LogTail() << "\n";
  }

  SqlSession& Sql() { return *sql_; }
  v1::VectorSearch::Stub& Stub() { return mirror_->stub(); }

  std::string NewId() { return sql_->Value("SELECT gen_random_uuid()::text"); }
  std::vector<float> Vec(uint32_t dim) { return RandomVector(rng_, dim); }

  std::string EntitySql(const std::string& id, const std::string& type, int version = 1,
                        const std::string& previous_id = "") const {
    return "INSERT INTO entity (id, tenant_id, entity_type, version, previous_version_id) VALUES (" +
           Quote(id) + ", " + Quote(tenant_) + ", " + Quote(type) + ", " + std::to_string(version) +
           ", " + (previous_id.empty() ? "NULL" : Quote(previous_id)) + ");";
  }
  static std::string EmbeddingSql(const std::string& entity_id, const std::string& model,
                                  const std::vector<float>* vector, const std::string& status) {
    return "INSERT INTO embedding (entity_id, model, vector, status) VALUES (" + Quote(entity_id) +
           ", " + Quote(model) + ", " + (vector ? VectorSql(*vector) : "NULL") + ", " +
           Quote(status) + ");";
  }
  static std::string CloseSql(const std::string& id) {
    return "UPDATE entity SET valid_to = clock_timestamp() WHERE id = " + Quote(id) +
           " AND valid_to IS NULL;";
  }

  // A new entity of this tenant with one completed embedding; returns its id.
  std::string AddEntity(const std::string& type, const std::string& model,
                        const std::vector<float>& vector) {
    const std::string id = NewId();
    const Status s = sql_->Exec("BEGIN;" + EntitySql(id, type) + EmbeddingSql(id, model, &vector, "completed") +
                                "COMMIT;");
    EXPECT_TRUE(s.ok()) << s.ToString();
    return id;
  }

  // Everything this tenant has searchable for `model` once what is committed now is applied:
  // entity id -> (type, similarity to `probe`).
  std::map<std::string, Hit> Hits(const std::string& model, const std::vector<float>& probe,
                                   const std::vector<std::string>& types = {}) {
    std::map<std::string, Hit> hits;
    v1::SearchResponse response;
    const grpc::Status s = ExactSearch(Stub(), tenant_, model, probe, 1000, sql_->CurrentLsn(),
                                       std::chrono::seconds(30), &response, types);
    EXPECT_TRUE(s.ok()) << GrpcText(s);
    for (const auto& r : response.results()) {
      EXPECT_TRUE(hits.emplace(r.entity_id(), Hit{r.entity_type(), r.similarity()}).second)
          << r.entity_id() << " returned twice";
    }
    return hits;
  }
  std::map<std::string, Hit> Hits(const std::string& model, uint32_t dim,
                                  const std::vector<std::string>& types = {}) {
    return Hits(model, Vec(dim), types);
  }

  void ExpectEqualsDatabase() {
    MirrorCheckOptions options;
    options.extra_models = {{kCustomModel, kCustomDim}, {kNewModel, kNewModelDim}, {kBulkModel, kBulkDim}};
    options.learn_models = true;
    ExpectMirrorEqualsDatabase(mirror_->conninfo(), Stub(), sql_->CurrentLsn(), options);
  }

  v1::MirrorStatus MirrorStatus() { return mirror_->server().Status(); }

  // transactions_applied once the status board shows everything up to `lsn`: the board is
  // updated just after the indexes, so a search can see a commit a moment before it does.
  uint64_t TransactionsAppliedThrough(uint64_t lsn) {
    v1::MirrorStatus status = MirrorStatus();
    for (int i = 0; i < 250 && status.applied_lsn() < lsn; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      status = MirrorStatus();
    }
    EXPECT_GE(status.applied_lsn(), lsn);
    return status.transactions_applied();
  }

  static LiveMirror* mirror_;
  static std::string* setup_error_;
  std::unique_ptr<SqlSession> sql_;
  std::string tenant_;
  std::mt19937_64 rng_;
};

LiveMirror* MirrorSemanticsTest::mirror_ = nullptr;
std::string* MirrorSemanticsTest::setup_error_ = nullptr;

TEST_F(MirrorSemanticsTest, NewVersionInOneTransactionKeepsTheEntityOnce) {
  const auto v1 = Vec(kMiniLmDim);
  const std::string id = AddEntity("context", kMiniLm, v1);
  const std::string other = AddEntity("template", kMiniLm, Vec(kMiniLmDim));
  ASSERT_EQ(Hits(kMiniLm, kMiniLmDim).size(), 2u);

  RUN_SQL("BEGIN;" + CloseSql(id) + EntitySql(id, "context", 2) + "COMMIT;");
  EXPECT_EQ(Sql().Value("SELECT count(*) FROM entity WHERE id = " + Quote(id)), "2");
  const auto hits = Hits(kMiniLm, v1);
  ASSERT_EQ(hits.size(), 2u);
  ASSERT_TRUE(hits.count(id));
  EXPECT_EQ(hits.at(id).type, "context");
  EXPECT_NEAR(hits.at(id).similarity, 1.0, 1e-5);  // the embedding stayed with the entity id
  EXPECT_TRUE(hits.count(other));
  ExpectEqualsDatabase();
}

TEST_F(MirrorSemanticsTest, VersionClosedAndReopened) {
  const std::string id = AddEntity("context", kMiniLm, Vec(kMiniLmDim));
  RUN_SQL("BEGIN;" + CloseSql(id) + EntitySql(id, "workflow", 2) + "COMMIT;");
  EXPECT_EQ(Hits(kMiniLm, kMiniLmDim).at(id).type, "workflow");

  // Undo the new version: delete it and reopen the old one, in one transaction.
  RUN_SQL("BEGIN; DELETE FROM entity WHERE id = " + Quote(id) + " AND version = 2;"
          "UPDATE entity SET valid_to = NULL WHERE id = " + Quote(id) + " AND version = 1; COMMIT;");
  auto hits = Hits(kMiniLm, kMiniLmDim);
  ASSERT_TRUE(hits.count(id));
  EXPECT_EQ(hits.at(id).type, "context");

  // Closed with no successor: gone.
  RUN_SQL(CloseSql(id));
  EXPECT_TRUE(Hits(kMiniLm, kMiniLmDim).empty());
  ExpectEqualsDatabase();
}

TEST_F(MirrorSemanticsTest, SoftDeleteAndRestore) {
  const std::string id = AddEntity("context", kMiniLm, Vec(kMiniLmDim));
  const std::string kept = AddEntity("context", kMiniLm, Vec(kMiniLmDim));
  RUN_SQL("UPDATE entity SET deleted_at = now() WHERE id = " + Quote(id) + " AND valid_to IS NULL");
  auto hits = Hits(kMiniLm, kMiniLmDim);
  EXPECT_FALSE(hits.count(id));
  EXPECT_TRUE(hits.count(kept));
  ExpectEqualsDatabase();

  RUN_SQL("UPDATE entity SET deleted_at = NULL WHERE id = " + Quote(id) + " AND valid_to IS NULL");
  hits = Hits(kMiniLm, kMiniLmDim);
  EXPECT_TRUE(hits.count(id));
  EXPECT_TRUE(hits.count(kept));
  ExpectEqualsDatabase();
}

TEST_F(MirrorSemanticsTest, EntityTypeChangeInNewVersion) {
  const std::string id = AddEntity("context", kMiniLm, Vec(kMiniLmDim));
  EXPECT_EQ(Hits(kMiniLm, kMiniLmDim, {"context"}).count(id), 1u);
  RUN_SQL("BEGIN;" + CloseSql(id) + EntitySql(id, "template", 2) + "COMMIT;");
  EXPECT_EQ(Hits(kMiniLm, kMiniLmDim, {"context"}).count(id), 0u);
  const auto templates = Hits(kMiniLm, kMiniLmDim, {"template"});
  ASSERT_EQ(templates.count(id), 1u);
  EXPECT_EQ(templates.at(id).type, "template");
  EXPECT_EQ(Hits(kMiniLm, kMiniLmDim).size(), 1u);
  ExpectEqualsDatabase();
}

// pending -> completed by an UPDATE of the status alone: the vector is TOASTed (1536 and 3072
// floats of real[] are stored out of line), so pgoutput sends it as "unchanged".
TEST_F(MirrorSemanticsTest, PendingToCompletedWithUnchangedToastedVector) {
  const std::string toast_table =
      Sql().Value("SELECT reltoastrelid::regclass::text FROM pg_class WHERE oid = 'embedding'::regclass");
  ASSERT_FALSE(toast_table.empty());
  const auto chunks = [&] { return std::stoll(Sql().Value("SELECT count(*) FROM " + toast_table)); };

  const std::string a = NewId(), b = NewId();
  const auto va = Vec(kSmallDim), vb = Vec(kLargeDim);
  const long long chunks_before = chunks();
  RUN_SQL("BEGIN;" + EntitySql(a, "context") + EntitySql(b, "template") +
          EmbeddingSql(a, kSmall, &va, "pending") + EmbeddingSql(b, kLarge, &vb, "pending") + "COMMIT;");
  ASSERT_GT(chunks(), chunks_before) << "the vectors are not stored out of line, so this test "
                                        "would not exercise the unchanged-TOAST case";
  EXPECT_TRUE(Hits(kSmall, kSmallDim).empty());
  EXPECT_TRUE(Hits(kLarge, kLargeDim).empty());

  RUN_SQL("UPDATE embedding SET status = 'completed', updated_at = now() WHERE entity_id IN (" +
          Quote(a) + ", " + Quote(b) + ")");
  auto small = Hits(kSmall, va);
  ASSERT_EQ(small.count(a), 1u);
  EXPECT_NEAR(small.at(a).similarity, 1.0, 1e-5);
  auto large = Hits(kLarge, vb);
  ASSERT_EQ(large.count(b), 1u);
  EXPECT_NEAR(large.at(b).similarity, 1.0, 1e-5);
  ExpectEqualsDatabase();
}

// The same within one transaction: the insert carries the vector, the status update carries
// "unchanged", and the mirror must take the vector from earlier in the same transaction.
TEST_F(MirrorSemanticsTest, InsertPendingThenCompleteInOneTransaction) {
  const std::string a = NewId();
  const auto va = Vec(kSmallDim);
  RUN_SQL("BEGIN;" + EntitySql(a, "context") + EmbeddingSql(a, kSmall, &va, "pending") +
          "UPDATE embedding SET status = 'completed' WHERE entity_id = " + Quote(a) + "; COMMIT;");
  const auto hits = Hits(kSmall, va);
  ASSERT_EQ(hits.count(a), 1u);
  EXPECT_NEAR(hits.at(a).similarity, 1.0, 1e-5);
  ExpectEqualsDatabase();
}

TEST_F(MirrorSemanticsTest, CompletedToPendingOrFailedRemoves) {
  const std::string to_pending = AddEntity("context", kSmall, Vec(kSmallDim));
  const std::string to_failed = AddEntity("context", kSmall, Vec(kSmallDim));
  const std::string stays = AddEntity("context", kSmall, Vec(kSmallDim));
  ASSERT_EQ(Hits(kSmall, kSmallDim).size(), 3u);

  RUN_SQL("UPDATE embedding SET status = 'pending' WHERE entity_id = " + Quote(to_pending));
  RUN_SQL("UPDATE embedding SET status = 'failed', vector = NULL, error = 'model timeout' "
          "WHERE entity_id = " + Quote(to_failed));
  auto hits = Hits(kSmall, kSmallDim);
  EXPECT_EQ(hits.size(), 1u);
  EXPECT_TRUE(hits.count(stays));
  ExpectEqualsDatabase();

  // Back to completed without touching the vector: the mirror remembered it while pending.
  RUN_SQL("UPDATE embedding SET status = 'completed' WHERE entity_id = " + Quote(to_pending));
  hits = Hits(kSmall, kSmallDim);
  EXPECT_TRUE(hits.count(to_pending));
  EXPECT_FALSE(hits.count(to_failed));
  ExpectEqualsDatabase();
}

TEST_F(MirrorSemanticsTest, VectorReplaced) {
  const auto old_vector = Vec(kSmallDim), new_vector = Vec(kSmallDim);
  const std::string id = AddEntity("context", kSmall, old_vector);
  EXPECT_NEAR(Hits(kSmall, old_vector).at(id).similarity, 1.0, 1e-5);

  RUN_SQL("UPDATE embedding SET vector = " + VectorSql(new_vector) + ", updated_at = now() WHERE entity_id = " +
          Quote(id));
  EXPECT_NEAR(Hits(kSmall, new_vector).at(id).similarity, 1.0, 1e-5);
  EXPECT_NEAR(Hits(kSmall, old_vector).at(id).similarity, CosineSimilarity(old_vector, new_vector), 1e-5);

  // A later status-only update sends the vector as unchanged: the new one must stay.
  RUN_SQL("UPDATE embedding SET updated_at = now() + interval '1 s' WHERE entity_id = " + Quote(id));
  EXPECT_NEAR(Hits(kSmall, new_vector).at(id).similarity, 1.0, 1e-5);
  ExpectEqualsDatabase();
}

TEST_F(MirrorSemanticsTest, EmbeddingDeleted) {
  const std::string id = AddEntity("context", kMiniLm, Vec(kMiniLmDim));
  const std::string kept = AddEntity("library", kMiniLm, Vec(kMiniLmDim));
  RUN_SQL("DELETE FROM embedding WHERE entity_id = " + Quote(id));
  const auto hits = Hits(kMiniLm, kMiniLmDim);
  EXPECT_FALSE(hits.count(id));
  EXPECT_TRUE(hits.count(kept));
  ExpectEqualsDatabase();
}

TEST_F(MirrorSemanticsTest, EmbeddingCommittedBeforeItsEntity) {
  const std::string id = NewId();
  const auto v = Vec(kMiniLmDim);
  RUN_SQL(EmbeddingSql(id, kMiniLm, &v, "completed"));
  EXPECT_TRUE(Hits(kMiniLm, kMiniLmDim).empty());
  ExpectEqualsDatabase();

  RUN_SQL(EntitySql(id, "template"));
  const auto hits = Hits(kMiniLm, v);
  ASSERT_EQ(hits.count(id), 1u);
  EXPECT_EQ(hits.at(id).type, "template");
  EXPECT_NEAR(hits.at(id).similarity, 1.0, 1e-5);
  ExpectEqualsDatabase();
}

TEST_F(MirrorSemanticsTest, ModelFirstSeenMidStreamCreatesAnIndex) {
  {
    v1::SearchResponse response;
    const grpc::Status s = ExactSearch(Stub(), tenant_, kCustomModel, Vec(kCustomDim), 10,
                                       Sql().CurrentLsn(), std::chrono::seconds(30), &response);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << "a model never seen is unknown; got " << GrpcText(s);
  }
  const std::string a = AddEntity("context", kCustomModel, Vec(kCustomDim));
  const std::string b = AddEntity("template", kCustomModel, Vec(kCustomDim));
  // Wait through a known model: see MinLsnCoversTheFirstRowsOfANewModel for why.
  ASSERT_GT(WaitApplied(Stub(), Sql().CurrentLsn()), 0u);
  const auto hits = Hits(kCustomModel, kCustomDim);
  EXPECT_EQ(hits.size(), 2u);
  EXPECT_TRUE(hits.count(a) && hits.count(b));

  v1::ListIndexesRequest request;
  request.set_tenant_id(tenant_);
  request.set_model(kCustomModel);
  v1::ListIndexesResponse listed;
  grpc::ClientContext context;
  ASSERT_TRUE(Stub().ListIndexes(&context, request, &listed).ok());
  ASSERT_EQ(listed.indexes_size(), 1);
  EXPECT_EQ(listed.indexes(0).dimension(), kCustomDim);
  EXPECT_EQ(listed.indexes(0).live_count(), 2u);
  ExpectEqualsDatabase();
}

// Read-your-writes (DESIGN.md, Consistency) for the first rows of a model: a search whose
// min_lsn covers the commit that introduced the model must wait for it, not reject the model
// as unknown because that commit is not applied yet. The model arrives in a transaction of
// 20,000 rows, so the search reliably comes before the mirror has applied it.
TEST_F(MirrorSemanticsTest, MinLsnCoversTheFirstRowsOfANewModel) {
  RUN_SQL(
      "WITH e AS (INSERT INTO entity (tenant_id, entity_type, name) "
      "  SELECT " + Quote(tenant_) + ", 'context', i::text FROM generate_series(1, 20000) AS i "
      "  RETURNING id, name) "
      "INSERT INTO embedding (entity_id, model, status, vector) "
      "SELECT id, " + Quote(kNewModel) + ", 'completed', "
      "  (SELECT array_agg(sin(n * k + k)::real ORDER BY k) FROM generate_series(1, " +
      std::to_string(kNewModelDim) + ") AS k) "
      "FROM (SELECT id, name::int AS n FROM e) AS rows");
  const uint64_t lsn = Sql().CurrentLsn();
  v1::SearchResponse response;
  const grpc::Status s =
      ExactSearch(Stub(), tenant_, kNewModel, Vec(kNewModelDim), 10, lsn, std::chrono::seconds(60), &response);
  EXPECT_TRUE(s.ok()) << GrpcText(s);
  EXPECT_EQ(response.results_size(), 10);
  ASSERT_GT(WaitApplied(Stub(), lsn), 0u);
  ExpectEqualsDatabase();
  RUN_SQL("DELETE FROM embedding WHERE model = " + Quote(kNewModel));
}

TEST_F(MirrorSemanticsTest, BadRowsAreCountedAndNeverIndexed) {
  const v1::BadRowCounters before = MirrorStatus().bad_rows();
  const std::string good = AddEntity("context", kMiniLm, Vec(kMiniLmDim));
  std::vector<float> nan_vector = Vec(kMiniLmDim), zero_vector(kMiniLmDim, 0.0f),
                     short_vector = Vec(kMiniLmDim / 2);
  nan_vector[7] = std::nanf("");
  const std::string nan_id = AddEntity("context", kMiniLm, nan_vector);
  const std::string zero_id = AddEntity("context", kMiniLm, zero_vector);
  const std::string short_id = AddEntity("context", kMiniLm, short_vector);
  const std::string null_id = NewId();
  RUN_SQL("BEGIN;" + EntitySql(null_id, "context") + EmbeddingSql(null_id, kMiniLm, nullptr, "completed") +
          "COMMIT;");

  const auto hits = Hits(kMiniLm, kMiniLmDim);
  EXPECT_EQ(hits.size(), 1u);
  EXPECT_TRUE(hits.count(good));
  const v1::BadRowCounters after = MirrorStatus().bad_rows();
  EXPECT_GE(after.non_finite(), before.non_finite() + 1);
  EXPECT_GE(after.zero_vector(), before.zero_vector() + 1);
  EXPECT_GE(after.dimension_mismatch(), before.dimension_mismatch() + 1);
  EXPECT_GE(after.null_vector(), before.null_vector() + 1);

  // A bad row fixed later becomes searchable.
  const auto fixed = Vec(kMiniLmDim);
  RUN_SQL("UPDATE embedding SET vector = " + VectorSql(fixed) + " WHERE entity_id = " + Quote(zero_id));
  EXPECT_TRUE(Hits(kMiniLm, kMiniLmDim).count(zero_id));
  ExpectEqualsDatabase();
}

TEST_F(MirrorSemanticsTest, TruncateThenReinsert) {
  const auto v = Vec(kMiniLmDim);
  const std::string id = AddEntity("context", kMiniLm, v);
  const std::string id2 = AddEntity("template", kSmall, Vec(kSmallDim));
  ASSERT_EQ(Hits(kMiniLm, kMiniLmDim).size(), 1u);

  RUN_SQL("TRUNCATE embedding");
  EXPECT_TRUE(Hits(kMiniLm, kMiniLmDim).empty());
  EXPECT_TRUE(Hits(kSmall, kSmallDim).empty());
  ExpectEqualsDatabase();  // also: no index has live rows anywhere

  RUN_SQL(EmbeddingSql(id, kMiniLm, &v, "completed"));
  EXPECT_NEAR(Hits(kMiniLm, v).at(id).similarity, 1.0, 1e-5);
  ExpectEqualsDatabase();

  // Entities truncated: the embeddings stay in the table but nothing is searchable; the same
  // entity ids coming back make their embeddings searchable again.
  RUN_SQL("TRUNCATE entity");
  EXPECT_TRUE(Hits(kMiniLm, kMiniLmDim).empty());
  ExpectEqualsDatabase();
  RUN_SQL("BEGIN;" + EntitySql(id, "workflow") + EntitySql(id2, "template") + "COMMIT;");
  const auto hits = Hits(kMiniLm, v);
  ASSERT_EQ(hits.count(id), 1u);
  EXPECT_EQ(hits.at(id).type, "workflow");
  ExpectEqualsDatabase();
}

TEST_F(MirrorSemanticsTest, RolledBackTransactionLeavesNoTrace) {
  const auto v = Vec(kMiniLmDim);
  const std::string id = AddEntity("context", kMiniLm, v);
  const std::string ghost = NewId();
  const auto other = Vec(kMiniLmDim);
  const uint64_t lsn_before = WaitApplied(Stub(), Sql().CurrentLsn());
  ASSERT_GT(lsn_before, 0u);
  const uint64_t transactions_before = TransactionsAppliedThrough(lsn_before);
  RUN_SQL("BEGIN;" + EntitySql(ghost, "context") + EmbeddingSql(ghost, kMiniLm, &other, "completed") +
          "UPDATE embedding SET vector = " + VectorSql(other) + " WHERE entity_id = " + Quote(id) + ";" +
          CloseSql(id) + "ROLLBACK;");
  // A committed transaction after it: once that is applied, the rollback is behind us.
  const std::string marker = AddEntity("template", kMiniLm, Vec(kMiniLmDim));
  const auto hits = Hits(kMiniLm, v);
  EXPECT_EQ(hits.size(), 2u);
  EXPECT_FALSE(hits.count(ghost));
  ASSERT_TRUE(hits.count(id));
  EXPECT_NEAR(hits.at(id).similarity, 1.0, 1e-5);
  EXPECT_TRUE(hits.count(marker));
  // pgoutput never sends an aborted transaction: only the marker's commit was applied.
  const uint64_t transactions_after = TransactionsAppliedThrough(WaitApplied(Stub(), Sql().CurrentLsn()));
  EXPECT_EQ(transactions_after, transactions_before + 1);
  ExpectEqualsDatabase();
}

// 100,000 entities and their embeddings in one transaction (8-d vectors keep it quick), then
// all of their embeddings deleted in one transaction.
TEST_F(MirrorSemanticsTest, BigTransactionOf100kRows) {
  constexpr int kRows = 100000;
  const auto started = std::chrono::steady_clock::now();
  RUN_SQL(
      "WITH e AS (INSERT INTO entity (tenant_id, entity_type, name) "
      "  SELECT " + Quote(tenant_) + ", CASE WHEN i % 4 = 0 THEN 'template' ELSE 'context' END, i::text "
      "  FROM generate_series(1, " + std::to_string(kRows) + ") AS i RETURNING id, name) "
      "INSERT INTO embedding (entity_id, model, status, vector) "
      "SELECT id, " + Quote(kBulkModel) + ", 'completed', "
      "  ARRAY[sin(n * 1.1), cos(n * 0.7), sin(n * 0.37 + 1), cos(n * 0.13 + 2), "
      "        sin(n * 2.9 + 3), cos(n * 1.9 + 4), sin(n * 0.011 + 5), 1.5]::real[] "
      "FROM (SELECT id, name::int AS n FROM e) AS rows");
  const uint64_t lsn = Sql().CurrentLsn();
  const double commit_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const uint64_t applied = WaitApplied(Stub(), lsn, std::chrono::seconds(120));
  ASSERT_GE(applied, lsn);
  std::cout << "[ big txn ] " << kRows << " entities + embeddings committed in " << commit_seconds
            << " s, applied " << std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count()
            << " s after the start\n";

  v1::ListIndexesRequest request;
  request.set_tenant_id(tenant_);
  request.set_model(kBulkModel);
  v1::ListIndexesResponse listed;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(Stub().ListIndexes(&context, request, &listed).ok());
  }
  ASSERT_EQ(listed.indexes_size(), 1);
  EXPECT_EQ(listed.indexes(0).live_count(), static_cast<uint64_t>(kRows));
  // A sample: a few rows found by their own vector, with their type.
  std::vector<Row> sample;
  RUN_SQL("ANALYZE entity; ANALYZE embedding");
  ASSERT_TRUE(Sql().Query("SELECT emb.entity_id::text, e.entity_type, emb.vector::text "
                          "FROM (SELECT entity_id, vector FROM embedding WHERE model = " + Quote(kBulkModel) +
                          "      ORDER BY id LIMIT 5 OFFSET 4321) AS emb "
                          "JOIN entity e ON e.id = emb.entity_id AND e.valid_to IS NULL", &sample).ok());
  ASSERT_EQ(sample.size(), 5u);
  for (const Row& row : sample) {
    std::vector<float> v;
    ASSERT_TRUE(ParseVectorText(*row[2], &v));
    v1::SearchResponse response;
    ASSERT_TRUE(ExactSearch(Stub(), tenant_, kBulkModel, v, 1, lsn, std::chrono::seconds(10), &response).ok());
    ASSERT_EQ(response.results_size(), 1);
    EXPECT_EQ(response.results(0).entity_id(), *row[0]);
    EXPECT_EQ(response.results(0).entity_type(), *row[1]);
    EXPECT_NEAR(response.results(0).similarity(), 1.0, 1e-5);
  }
  ExpectEqualsDatabase();  // the group is larger than a search's limit: its top 1000 per probe

  RUN_SQL("DELETE FROM embedding WHERE model = " + Quote(kBulkModel));
  EXPECT_TRUE(Hits(kBulkModel, kBulkDim).empty());
  ExpectEqualsDatabase();
}

// Deployments that give each version its own id, linked by previous_version_id: the new
// version's embedding is a new row for the new id, and the old id drops out.
TEST_F(MirrorSemanticsTest, IdPerVersionLayout) {
  const auto v1 = Vec(kMiniLmDim), v2 = Vec(kMiniLmDim), v3 = Vec(kMiniLmDim);
  const std::string a = AddEntity("context", kMiniLm, v1);
  const std::string b = NewId(), c = NewId();
  RUN_SQL("BEGIN;" + CloseSql(a) + EntitySql(b, "context", 2, a) + EmbeddingSql(b, kMiniLm, &v2, "completed") +
          "COMMIT;");
  auto hits = Hits(kMiniLm, v2);
  EXPECT_EQ(hits.size(), 1u);
  ASSERT_TRUE(hits.count(b));
  EXPECT_NEAR(hits.at(b).similarity, 1.0, 1e-5);
  ExpectEqualsDatabase();

  // A third version with a new type whose embedding is still pending: nothing searchable.
  RUN_SQL("BEGIN;" + CloseSql(b) + EntitySql(c, "template", 3, b) + EmbeddingSql(c, kMiniLm, &v3, "pending") +
          "COMMIT;");
  EXPECT_TRUE(Hits(kMiniLm, kMiniLmDim).empty());
  RUN_SQL("UPDATE embedding SET status = 'completed' WHERE entity_id = " + Quote(c));
  hits = Hits(kMiniLm, v3);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits.at(c).type, "template");
  EXPECT_NEAR(hits.at(c).similarity, 1.0, 1e-5);

  // Soft-delete the newest and restore the previous one (reopen b).
  RUN_SQL("BEGIN; UPDATE entity SET deleted_at = now() WHERE id = " + Quote(c) +
          "; UPDATE entity SET valid_to = NULL WHERE id = " + Quote(b) + "; COMMIT;");
  hits = Hits(kMiniLm, v2);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_TRUE(hits.count(b));
  ExpectEqualsDatabase();
}

// While a writer swaps versions in single transactions, concurrent searches must see each
// entity exactly once: never between the close of one version and the insert of the next.
TEST_F(MirrorSemanticsTest, SwapsAreAtomicForConcurrentSearches) {
  const auto ve = Vec(kMiniLmDim), va = Vec(kMiniLmDim), vb = Vec(kMiniLmDim);
  // e: one id, versions alternating between two types. a/b: two ids (the id-per-version
  // layout), exactly one of which is live at any commit.
  const std::string e = AddEntity("context", kMiniLm, ve);
  const std::string a = AddEntity("context", kMiniLm, va);
  const std::string b = AddEntity("template", kMiniLm, vb);
  RUN_SQL("UPDATE entity SET deleted_at = now() WHERE id = " + Quote(b));
  const uint64_t ready = Sql().CurrentLsn();
  ASSERT_GT(WaitApplied(Stub(), ready), 0u);

  std::atomic<bool> stop{false};
  std::atomic<int> swaps{0};
  std::string writer_error;
  std::thread writer([&] {
    SqlSession writer_sql(mirror_->conninfo());
    int version = 1;
    while (!stop) {
      ++version;
      const std::string type = version % 2 ? "context" : "template";
      const Status s = writer_sql.Exec(
          "BEGIN;" + CloseSql(e) + EntitySql(e, type, version) +
          "UPDATE entity SET deleted_at = CASE WHEN deleted_at IS NULL THEN now() END "
          "WHERE id IN (" + Quote(a) + ", " + Quote(b) + ") AND valid_to IS NULL; COMMIT;");
      if (!s.ok()) {
        writer_error = s.ToString();
        return;
      }
      ++swaps;
    }
  });

  int searches = 0;
  std::set<std::string> e_types_seen, ab_seen;
  std::vector<std::string> violations;
  // Two seconds at least, and until the searches have seen the swaps happen (both types of e,
  // both of a and b) over enough swaps and searches: a loaded machine may commit, stream or
  // search slower than that, so it runs longer, up to a bound.
  const auto started = std::chrono::steady_clock::now();
  auto enough = [&] {
    const auto ran = std::chrono::steady_clock::now() - started;
    if (ran > std::chrono::seconds(60)) return true;
    return ran >= std::chrono::seconds(2) && swaps.load() >= 20 && searches >= 20 &&
           e_types_seen.size() == 2 && ab_seen.size() == 2;
  };
  while (!enough() && violations.size() < 10) {
    v1::SearchResponse response;
    const grpc::Status s = ExactSearch(Stub(), tenant_, kMiniLm, ve, 10, 0, std::chrono::seconds(5), &response);
    if (!s.ok()) {
      violations.push_back(GrpcText(s));
      continue;
    }
    ++searches;
    int e_count = 0, ab_count = 0;
    for (const auto& r : response.results()) {
      if (r.entity_id() == e) {
        ++e_count;
        e_types_seen.insert(r.entity_type());
      }
      if (r.entity_id() == a || r.entity_id() == b) {
        ++ab_count;
        ab_seen.insert(r.entity_id());
      }
    }
    if (e_count != 1 || ab_count != 1) {
      violations.push_back("at applied_lsn " + FormatLsn(response.applied_lsn()) + ": entity e seen " +
                           std::to_string(e_count) + " times, a/b seen " + std::to_string(ab_count) +
                           " times (" + std::to_string(response.results_size()) + " results)");
    }
  }
  stop = true;
  writer.join();
  ASSERT_TRUE(writer_error.empty()) << writer_error;
  EXPECT_TRUE(violations.empty()) << violations.size() << " violations, first: " << violations.front();
  std::cout << "[ atomicity ] " << swaps << " swap transactions, " << searches << " searches\n";
  EXPECT_GE(swaps.load(), 20) << "too few swaps to exercise anything";
  EXPECT_GE(searches, 20);
  // The searches did see the swaps happen, not one frozen state.
  EXPECT_EQ(e_types_seen.size(), 2u);
  EXPECT_EQ(ab_seen.size(), 2u);
  ExpectEqualsDatabase();
}

// The checker itself: with the tables taken out of the publication, changes made in SQL never
// reach the mirror, and the check must say exactly what differs. Then the changes are undone,
// the tables put back, and the check passes again.
TEST_F(MirrorSemanticsTest, CheckerReportsWhatTheMirrorMissed) {
  const auto va = Vec(kMiniLmDim), vb = Vec(kMiniLmDim);
  const std::string a = AddEntity("context", kMiniLm, va);    // will get a new vector
  const std::string b = AddEntity("context", kMiniLm, vb);    // will change type
  const std::string c = AddEntity("context", kMiniLm, Vec(kMiniLmDim));  // will be deleted
  const std::string d = NewId();                               // will appear
  const auto vd = Vec(kMiniLmDim);
  RUN_SQL(EntitySql(d, "library"));
  ExpectEqualsDatabase();

  RUN_SQL("ALTER PUBLICATION vecmirror DROP TABLE entity, embedding");
  RUN_SQL("BEGIN;"
          "UPDATE embedding SET vector = " + VectorSql(Vec(kMiniLmDim)) + " WHERE entity_id = " + Quote(a) + ";"
          "UPDATE entity SET entity_type = 'workflow' WHERE id = " + Quote(b) + ";"
          "UPDATE entity SET deleted_at = now() WHERE id = " + Quote(c) + ";" +
          EmbeddingSql(d, kMiniLm, &vd, "completed") + "COMMIT;");
  ::testing::TestPartResultArray failures;
  {
    ::testing::ScopedFakeTestPartResultReporter reporter(
        ::testing::ScopedFakeTestPartResultReporter::INTERCEPT_ALL_THREADS, &failures);
    ExpectEqualsDatabase();
  }
  std::string report;
  for (int i = 0; i < failures.size(); ++i) report += failures.GetTestPartResult(i).message();
  EXPECT_NE(report.find("entity " + a + ": similarity"), std::string::npos) << report;
  EXPECT_NE(report.find("entity " + b + " has type context; SQL says workflow"), std::string::npos) << report;
  EXPECT_NE(report.find("returned " + c), std::string::npos) << report;
  EXPECT_NE(report.find("missing " + d), std::string::npos) << report;

  // Undo in SQL what the mirror never saw, and follow the tables again.
  RUN_SQL("BEGIN;"
          "UPDATE embedding SET vector = " + VectorSql(va) + " WHERE entity_id = " + Quote(a) + ";"
          "UPDATE entity SET entity_type = 'context' WHERE id = " + Quote(b) + ";"
          "UPDATE entity SET deleted_at = NULL WHERE id = " + Quote(c) + ";"
          "DELETE FROM embedding WHERE entity_id = " + Quote(d) + "; COMMIT;");
  RUN_SQL("ALTER PUBLICATION vecmirror ADD TABLE entity, embedding");
  ExpectEqualsDatabase();
}

}  // namespace
}  // namespace vecmirror::testing
