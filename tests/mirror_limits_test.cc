// No hidden size limits, against the real server and PostgreSQL: many entity types, and rows of
// models that are not configured (DESIGN.md, "Index key" and "No hidden size limits").
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/support/live_mirror.h"
#include "tests/support/mirror_check.h"

namespace vecmirror::testing {
namespace {

constexpr char kModel[] = "all-MiniLM-L6-v2";
constexpr uint32_t kDim = 384;

class MirrorLimitsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(mirror_.Create("limits").ok());
    sql_ = std::make_unique<SqlSession>(mirror_.conninfo());
    ASSERT_TRUE(sql_->connected());
    Status s;
    tenant_ = sql_->Value("INSERT INTO tenant (name) VALUES ('limits') RETURNING id::text", &s);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  void TearDown() override {
    if (HasFailure()) std::cerr << "server log (tail):\n" << mirror_.LogTail() << "\n";
  }

  // SQL that adds an entity of `type` with one completed embedding of `model`.
  std::string AddEntitySql(const std::string& type, const std::string& model, uint32_t dim) {
    const std::vector<float> v = RandomVector(rng_, dim);
    return "WITH e AS (INSERT INTO entity (tenant_id, entity_type) VALUES (" + Quote(tenant_) +
           ", " + Quote(type) + ") RETURNING id) INSERT INTO embedding (entity_id, model, vector, "
           "status) SELECT id, " + Quote(model) + ", " + VectorSql(v) + ", 'completed' FROM e;";
  }

  grpc::Status Search(const std::string& model, uint32_t dim, const std::vector<std::string>& types,
                      v1::SearchResponse* response) {
    return ExactSearch(mirror_.stub(), tenant_, model, RandomVector(rng_, dim), 1000,
                       sql_->CurrentLsn(), std::chrono::seconds(30), response, types);
  }

  size_t CountLogLines(const std::string& needle) {
    const std::string log = mirror_.server().Log();
    size_t count = 0;
    for (size_t pos = log.find(needle); pos != std::string::npos; pos = log.find(needle, pos + 1)) {
      ++count;
    }
    return count;
  }

  LiveMirror mirror_;
  std::unique_ptr<SqlSession> sql_;
  std::mt19937_64 rng_{7};
  std::string tenant_;
};

// 300 distinct entity types, more than one byte of type codes holds: every entity is searchable
// under its own type, and one moved to a type first seen after the others moves with it.
TEST_F(MirrorLimitsTest, ThreeHundredEntityTypesAllSearchAsSql) {
  ASSERT_TRUE(mirror_.StartServer().ok()) << mirror_.LogTail();
  std::string sql = "BEGIN;";
  for (int t = 0; t < 300; ++t) sql += AddEntitySql("type-" + std::to_string(t), kModel, kDim);
  ASSERT_TRUE(sql_->Exec(sql + "COMMIT;").ok());
  ExpectMirrorEqualsDatabase(mirror_.conninfo(), mirror_.stub(), sql_->CurrentLsn());

  // The 301st type: an entity of type-0 moves there, and must leave type-0's filter.
  const std::string moved = sql_->Value(
      "SELECT id::text FROM entity WHERE entity_type = 'type-0' AND tenant_id = " + Quote(tenant_));
  ASSERT_FALSE(moved.empty());
  ASSERT_TRUE(sql_->Exec("UPDATE entity SET entity_type = 'type-300' WHERE id = " + Quote(moved)).ok());
  v1::SearchResponse old_type, new_type;
  ASSERT_TRUE(Search(kModel, kDim, {"type-0"}, &old_type).ok());
  EXPECT_EQ(old_type.results_size(), 0) << "still found under its old type";
  ASSERT_TRUE(Search(kModel, kDim, {"type-300"}, &new_type).ok());
  ASSERT_EQ(new_type.results_size(), 1);
  EXPECT_EQ(new_type.results(0).entity_id(), moved);
  EXPECT_EQ(new_type.results(0).entity_type(), "type-300");
  ExpectMirrorEqualsDatabase(mirror_.conninfo(), mirror_.stub(), sql_->CurrentLsn());
  EXPECT_EQ(mirror_.server().Status().bad_rows().entity_type_limit(), 0u);
}

// A row of a model that is not configured is counted, logged once per model, and indexed
// nowhere: no index appears for it, and a search names it unknown.
TEST_F(MirrorLimitsTest, RowsOfAnUnconfiguredModelAreCountedNotIndexed) {
  ASSERT_TRUE(mirror_.StartServer().ok()) << mirror_.LogTail();
  std::string sql = "BEGIN;";
  for (int i = 0; i < 3; ++i) sql += AddEntitySql("context", "rogue-model", 8);
  sql += AddEntitySql("context", "huge-model", 100000);
  sql += AddEntitySql("context", kModel, kDim);
  ASSERT_TRUE(sql_->Exec(sql + "COMMIT;").ok());
  ExpectMirrorEqualsDatabase(mirror_.conninfo(), mirror_.stub(), sql_->CurrentLsn());

  EXPECT_EQ(mirror_.server().Status().bad_rows().unknown_model(), 4u);
  v1::SearchResponse response;
  const grpc::Status rogue = Search("rogue-model", 8, {}, &response);
  EXPECT_EQ(rogue.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(rogue.error_message().find("\"rogue-model\" is not known"), std::string::npos)
      << rogue.error_message();
  EXPECT_EQ(rogue.error_message().find("huge-model"), std::string::npos)
      << "an unconfigured model appears in the list of known ones: " << rogue.error_message();
  EXPECT_EQ(CountLogLines("embeddings of model \"rogue-model\" are not indexed"), 1u)
      << "logged once per model";
  EXPECT_EQ(CountLogLines("embeddings of model \"huge-model\" are not indexed"), 1u);
}

// --learn-models takes new models only at allowed dimensions, and only so many.
TEST_F(MirrorLimitsTest, LearningTakesAllowedDimensionsUpToTheCap) {
  ASSERT_TRUE(mirror_.StartServer({"--learn-models", "--learn-model-dims", "8,16",
                                   "--max-learned-models", "1"})
                  .ok())
      << mirror_.LogTail();
  std::string sql = "BEGIN;";
  sql += AddEntitySql("context", "learned-8", 8);
  ASSERT_TRUE(sql_->Exec(sql + "COMMIT;").ok());
  ASSERT_TRUE(sql_->Exec("BEGIN;" + AddEntitySql("context", "one-too-many-16", 16) +
                         AddEntitySql("context", "too-wide-64", 64) + "COMMIT;")
                  .ok());
  v1::SearchResponse learned, too_many;
  ASSERT_TRUE(Search("learned-8", 8, {}, &learned).ok());
  EXPECT_EQ(learned.results_size(), 1);
  EXPECT_EQ(Search("one-too-many-16", 16, {}, &too_many).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(mirror_.server().Status().bad_rows().unknown_model(), 2u);
  MirrorCheckOptions options;
  options.extra_models = {{"learned-8", 8}};
  ExpectMirrorEqualsDatabase(mirror_.conninfo(), mirror_.stub(), sql_->CurrentLsn(), options);
}

}  // namespace
}  // namespace vecmirror::testing
