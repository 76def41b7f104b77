// The pgvector `vector` column end to end, without pgvector: the real vecmirror-server over a
// scratch database whose embedding.vector is a `vector`, compared with the SQL ground truth.
//
// pgvector is not packaged for Debian 12, so the type comes from tests/pgvector_shim, a TEST
// STAND-IN with pgvector's storage layout, text format ([1,2.5,-3]), binary format (int16 dim,
// int16 0, dim float4, big-endian) and STORAGE external; it is not pgvector. The bytes the
// mirror decodes are what PostgreSQL itself sends for such a column: binary COPY in the initial
// load, pgoutput in binary mode while streaming, and TOASTed values sent as "unchanged".
//
// The suite:
//   - the shim's formats, checked against values computed here (so a bug in the stand-in can't
//     hide a bug in the mirror);
//   - generated data (384-d and 1536-d, with NULL, all-zero and wrong-dimension rows; no NaN or
//     Inf, which a `vector` rejects) loaded by the server, its answers equal to SQL's;
//   - live changes of 1536-d (TOASTed) vectors: a pending insert, a status-only update whose
//     vector arrives as "unchanged" (proven with a test_decoding slot), a replaced vector and
//     deletes, each searched with min_lsn after its commit; then the exact mirror check.
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/live_mirror.h"
#include "tests/support/mirror_check.h"
#include "tests/support/pg_env.h"
#include "tests/support/server_process.h"
#include "tests/support/sql_ground_truth.h"
#include "tools/datagen/loader.h"
#include "tools/datagen/plan.h"
#include "tools/datagen/vector_space.h"
#include "vecmirror/v1/vecmirror.grpc.pb.h"

#ifndef VECMIRROR_VECTOR_SHIM_MODULE
#error "VECMIRROR_VECTOR_SHIM_MODULE (the built shim's path) comes from tests/pgvector.cmake"
#endif

namespace vecmirror::testing {
namespace {

constexpr char kMiniLm[] = "all-MiniLM-L6-v2";
constexpr uint32_t kMiniLmDim = 384;
constexpr char kSmall[] = "text-embedding-3-small";
constexpr uint32_t kSmallDim = 1536;

constexpr uint64_t kSeed = 20250704;
constexpr int kVectorQueries = 40;
constexpr int kLikeQueries = 8;
// SQL rows fetched beyond `limit`, to judge ties at the cut.
constexpr int kExtraTruthRows = 5;
constexpr auto kSearchTimeout = std::chrono::seconds(30);

const std::vector<std::string> kTypes = {"context", "template", "workflow", "library"};

// ---- Installing the shim and the schema -------------------------------------------------------

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

bool ServerCanRead(const std::string& conninfo, const std::string& path) {
  std::string ignored;
  return QueryValue(conninfo, "SELECT length(pg_read_binary_file(" + Quote(path) + ", 0, 1))", &ignored).ok();
}

// The path the server should load the shim from. The server runs as another OS user when the
// tests run as root (postgres), and may not reach the build tree: pg_read_binary_file, which runs
// as that user, tells. If it can't, the module is copied next to the cluster's data directory,
// which that user owns; written under a temporary name and renamed, because a backend of an
// earlier test may have the old file mapped.
Status ServerReadableModule(const std::string& conninfo, std::string* path) {
  const std::string built = VECMIRROR_VECTOR_SHIM_MODULE;
  if (ServerCanRead(conninfo, built)) {
    *path = built;
    return Status::Ok();
  }
  std::string data_directory;
  if (Status s = QueryValue(conninfo, "SHOW data_directory", &data_directory); !s.ok()) return s;
  namespace fs = std::filesystem;
  const fs::path target = fs::path(data_directory).parent_path() / "vecmirror_vector_shim.so";
  const fs::path temp = target.string() + ".tmp" + std::to_string(getpid());
  std::error_code error;
  fs::copy_file(built, temp, fs::copy_options::overwrite_existing, error);
  if (!error) {
    fs::permissions(temp, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                              fs::perms::others_read, error);
  }
  if (!error) fs::rename(temp, target, error);
  if (error) return Status::IOError("copying " + built + " to " + target.string() + ": " + error.message());
  if (!ServerCanRead(conninfo, target.string())) {
    return Status::FailedPrecondition("the PostgreSQL server can read neither " + built + " nor " +
                                      target.string());
  }
  *path = target.string();
  return Status::Ok();
}

// Runs tests/pgvector_shim/vector_shim.sql with MODULE_PATHNAME replaced by the module's path.
Status InstallVectorShim(const std::string& conninfo, std::string* module) {
  if (Status s = ServerReadableModule(conninfo, module); !s.ok()) return s;
  const std::string installer = SourcePath("tests/pgvector_shim/vector_shim.sql");
  std::string sql = ReadFile(installer);
  if (sql.find("MODULE_PATHNAME") == std::string::npos) {
    return Status::IOError("cannot read " + installer + " (or it names no MODULE_PATHNAME)");
  }
  std::string escaped;  // inside '...': double the quotes
  for (char c : *module) escaped += c == '\'' ? std::string("''") : std::string(1, c);
  for (size_t pos = 0; (pos = sql.find("MODULE_PATHNAME", pos)) != std::string::npos;) {
    sql.replace(pos, std::strlen("MODULE_PATHNAME"), escaped);
    pos += escaped.size();
  }
  return ExecSql(conninfo, "SET client_min_messages = warning;\n" + sql);
}

// sql/schema.sql as written, with the column typed `vector` (the shim's type, installed first).
// The ground-truth function reads the column through the cast to real[].
Status LoadVectorSchema(const std::string& conninfo) { return LoadSchema(conninfo, "vector"); }

// ---- Comparing answers with SQL ---------------------------------------------------------------

// `truth` holds SQL's first limit + kExtraTruthRows rows. The answer must have min(limit, rows)
// results, no id twice, rank by rank SQL's id (two may trade places only where SQL's
// similarities tie within kTieTolerance), and SQL's type and similarity for each.
::testing::AssertionResult SameAsSql(const std::vector<SqlHit>& truth, int limit,
                                     const v1::SearchResponse& response) {
  const size_t expected = std::min<size_t>(static_cast<size_t>(limit), truth.size());
  if (static_cast<size_t>(response.results_size()) != expected) {
    return ::testing::AssertionFailure() << response.results_size() << " results; SQL has " << expected;
  }
  std::map<std::string, const SqlHit*> by_id;
  for (const SqlHit& hit : truth) by_id[hit.entity_id] = &hit;
  std::set<std::string> seen;
  for (int i = 0; i < response.results_size(); ++i) {
    const v1::SearchResult& got = response.results(i);
    if (!seen.insert(got.entity_id()).second) {
      return ::testing::AssertionFailure() << "rank " << i << ": " << got.entity_id() << " twice";
    }
    auto it = by_id.find(got.entity_id());
    if (it == by_id.end()) {
      return ::testing::AssertionFailure() << "rank " << i << ": " << got.entity_id()
                                           << " is not in SQL's first " << truth.size();
    }
    const SqlHit& sql = *it->second;
    if (got.entity_type() != sql.entity_type) {
      return ::testing::AssertionFailure() << "rank " << i << ": type " << got.entity_type()
                                           << ", SQL has " << sql.entity_type;
    }
    if (std::abs(got.similarity() - sql.similarity) > kSimilarityTolerance) {
      return ::testing::AssertionFailure() << "rank " << i << ": similarity " << got.similarity()
                                           << ", SQL has " << sql.similarity;
    }
    const SqlHit& at_rank = truth[static_cast<size_t>(i)];
    if (got.entity_id() != at_rank.entity_id &&
        std::abs(sql.similarity - at_rank.similarity) > kTieTolerance) {
      return ::testing::AssertionFailure() << "rank " << i << ": " << got.entity_id() << " ("
                                           << sql.similarity << "); SQL has " << at_rank.entity_id
                                           << " (" << at_rank.similarity << ")";
    }
  }
  return ::testing::AssertionSuccess();
}

// A search as the API's handlers send it: default effort, so the size policy chooses the index.
v1::SearchRequest RequestFor(const std::string& tenant, const std::string& model,
                             const std::vector<std::string>& types, int limit, uint64_t min_lsn) {
  v1::SearchRequest request;
  request.set_tenant_id(tenant);
  request.set_model(model);
  for (const std::string& type : types) request.add_entity_types(type);
  request.set_limit(static_cast<uint32_t>(limit));
  request.set_min_lsn(min_lsn);
  return request;
}

grpc::Status Search(v1::VectorSearch::Stub& stub, const v1::SearchRequest& request,
                    v1::SearchResponse* response) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + kSearchTimeout);
  return stub.SearchSimilarEntities(&context, request, response);
}

// Big-endian bytes of pgvector's binary format, as lower-case hex: what vector_send must give.
std::string PgvectorBinaryHex(const std::vector<float>& v) {
  std::string hex;
  char byte[3];
  auto put16 = [&](uint16_t x) {
    for (int shift : {8, 0}) {
      std::snprintf(byte, sizeof byte, "%02x", (x >> shift) & 0xff);
      hex += byte;
    }
  };
  put16(static_cast<uint16_t>(v.size()));
  put16(0);
  for (float x : v) {
    const uint32_t bits = std::bit_cast<uint32_t>(x);
    for (int shift : {24, 16, 8, 0}) {
      std::snprintf(byte, sizeof byte, "%02x", (bits >> shift) & 0xff);
      hex += byte;
    }
  }
  return hex;
}

std::string Tail(const std::string& text, size_t bytes = 4000) {
  return text.size() <= bytes ? text : "..." + text.substr(text.size() - bytes);
}

size_t Occurrences(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1)) ++n;
  return n;
}

// ---- The suite --------------------------------------------------------------------------------

class PgvectorIntegrationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    suite_ = new Suite;
    if (Status s = suite_->SetUp(); !s.ok()) suite_->error = s.ToString();
  }
  static void TearDownTestSuite() {
    delete suite_;
    suite_ = nullptr;
  }

  void SetUp() override { ASSERT_EQ(suite_->error, "") << "setting up the suite failed"; }
  void TearDown() override {
    if (HasFailure() && suite_->server) {
      std::cerr << "server log (tail):\n" << Tail(suite_->server->Log()) << "\n";
    }
  }

  struct Suite {
    std::unique_ptr<ScratchDatabase> db;
    std::string module;
    datagen::DatasetSpec spec;
    datagen::DatasetPlan plan;
    datagen::LoadStats stats;
    std::unique_ptr<ServerProcess> server;
    std::string error;

    Status SetUp() {
      const auto start = std::chrono::steady_clock::now();
      if (Status s = ScratchDatabase::Create("pgvector", &db); !s.ok()) return s;
      if (Status s = InstallVectorShim(db->conninfo(), &module); !s.ok()) return s;
      if (Status s = LoadVectorSchema(db->conninfo()); !s.ok()) return s;
      std::cout << "[ shim   ] " << module << "\n";

      spec.tenants = 2;
      spec.entities_per_tenant = 500;
      spec.models = {{kMiniLm, kMiniLmDim}, {kSmall, kSmallDim}};
      spec.bad_share = 0.04;  // 20 rows per (tenant, model): every kind a `vector` can hold
      spec.seed = kSeed;
      PGconn* conn = PQconnectdb(db->conninfo().c_str());
      std::unique_ptr<PGconn, decltype(&PQfinish)> guard(conn, &PQfinish);
      if (PQstatus(conn) != CONNECTION_OK) return Status::Unavailable(PQerrorMessage(conn));
      if (Status s = datagen::LoadDataset(conn, spec, {}, &stats); !s.ok()) return s;
      plan = datagen::PlanDataset(spec, /*allow_non_finite=*/false);

      // The slot is cluster-wide: named after the database. ~ScratchDatabase drops it.
      std::string slot = "vmtest_" + db->name();
      slot.resize(std::min<size_t>(slot.size(), 63));
      server = std::make_unique<ServerProcess>(
          db->conninfo(),
          std::vector<std::string>{"--slot", slot, "--publication", "vecmirror"});
      server->Start();
      if (!server->WaitLoaded(std::chrono::seconds(120))) {
        return Status::Unavailable("the server did not load; its log:\n" + Tail(server->Log()));
      }
      std::cout << "[ setup  ] data generated, loaded and mirrored in "
                << std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()
                << " s\n";
      return Status::Ok();
    }

    ~Suite() {
      if (server) server->Kill(SIGTERM);
      server.reset();
      if (db) {
        if (Status s = db->DropReplicationSlots(); !s.ok()) {
          std::cerr << "dropping the slots of " << db->name() << ": " << s.ToString() << "\n";
        }
      }
    }
  };

  static const std::string& conninfo() { return suite_->db->conninfo(); }
  static v1::VectorSearch::Stub& stub() { return suite_->server->stub(); }

  static Suite* suite_;
};

PgvectorIntegrationTest::Suite* PgvectorIntegrationTest::suite_ = nullptr;

std::string Value(const std::string& conninfo, const std::string& sql) {
  std::string value;
  const Status s = QueryValue(conninfo, sql, &value);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return value;
}

// The stand-in's formats, against values computed here: the column, text in and out, the cast,
// what it rejects, and byte for byte the binary format of DESIGN.md.
TEST_F(PgvectorIntegrationTest, TheShimHasPgvectorsFormats) {
  EXPECT_EQ(Value(conninfo(),
                  "SELECT format_type(atttypid, atttypmod) || ' ' || attstorage::text FROM pg_attribute "
                  "WHERE attrelid = 'embedding'::regclass AND attname = 'vector'"),
            "vector e");
  EXPECT_EQ(Value(conninfo(), "SELECT ' [ 1, 2.5 ,-3 ] '::vector::text"), "[1,2.5,-3]");
  EXPECT_EQ(Value(conninfo(), "SELECT '[1,2.5,-3]'::vector::real[]::text"), "{1,2.5,-3}");
  EXPECT_EQ(Value(conninfo(), "SELECT vector_send('[1,2.5,-3]')::text"),
            "\\x000300003f80000040200000c0400000");
  for (const char* rejected : {"[1,NaN]", "[Infinity,1]", "[]", "[1,]", "[1 2]", "1,2", "[1e39]"}) {
    std::string ignored;
    EXPECT_FALSE(QueryValue(conninfo(), std::string("SELECT '") + rejected + "'::vector", &ignored).ok())
        << rejected << " must be rejected";
  }

  // Floats of every magnitude, subnormal included: text out reads back to the same bits, and
  // the binary form is the big-endian one computed here.
  std::mt19937_64 rng(kSeed);
  std::vector<float> v;
  for (int i = 0; i < 300; ++i) {
    const uint32_t bits = static_cast<uint32_t>(rng());
    const float x = std::bit_cast<float>(bits);
    if (std::isfinite(x)) v.push_back(x);
  }
  v.push_back(0.0f);
  v.push_back(-0.0f);
  v.push_back(1e-45f);
  const std::string literal = Quote(VectorLiteral(v, /*pgvector=*/true)) + "::vector";
  std::vector<float> back;
  ASSERT_TRUE(ParseVectorText(Value(conninfo(), "SELECT " + literal + "::text"), &back));
  ASSERT_EQ(back.size(), v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    EXPECT_EQ(std::bit_cast<uint32_t>(back[i]), std::bit_cast<uint32_t>(v[i])) << "element " << i;
  }
  EXPECT_EQ(Value(conninfo(), "SELECT vector_send(" + literal + ")::text"), "\\x" + PgvectorBinaryHex(v));
}

// The initial load through binary COPY: the bad-row counters, and random searches (vectors and
// "more like this", with type filters) equal to SQL's answers; then every row compared.
TEST_F(PgvectorIntegrationTest, InitialLoadAnswersAsSql) {
  ASSERT_EQ(suite_->stats.column, datagen::VectorColumn::kPgvector) << "the generator wrote real[]";
  auto inserted = [](BadRowReason kind) {
    const auto& bad = suite_->stats.bad_rows;
    return bad.count(kind) ? bad.at(kind) : uint64_t{0};
  };
  ASSERT_GT(inserted(BadRowReason::kNullVector), 0u);
  ASSERT_GT(inserted(BadRowReason::kZeroVector), 0u);
  ASSERT_GT(inserted(BadRowReason::kDimensionMismatch), 0u);
  const v1::MirrorStatus status = suite_->server->Status();
  EXPECT_EQ(status.bad_rows().null_vector(), inserted(BadRowReason::kNullVector));
  EXPECT_EQ(status.bad_rows().zero_vector(), inserted(BadRowReason::kZeroVector));
  EXPECT_EQ(status.bad_rows().dimension_mismatch(), inserted(BadRowReason::kDimensionMismatch));
  EXPECT_EQ(status.bad_rows().non_finite(), 0u);
  EXPECT_EQ(status.bad_rows().malformed(), 0u) << "the mirror could not decode some vector bytes";

  std::unique_ptr<SqlGroundTruth> truth;
  ASSERT_TRUE(SqlGroundTruth::Connect(conninfo(), &truth).ok());
  std::mt19937_64 rng(kSeed);
  std::uniform_real_distribution<double> unit(0, 1);
  const int limits[] = {1, 5, 10, 10, 50, 200};
  auto random_types = [&] {
    std::vector<std::string> types;
    if (unit(rng) < 0.4) return types;
    for (const std::string& type : kTypes) {
      if (unit(rng) < 0.5) types.push_back(type);
    }
    return types;
  };
  int compared = 0;
  for (int i = 0; i < kVectorQueries + kLikeQueries; ++i) {
    const std::string& tenant = suite_->plan.tenant_ids[rng() % suite_->plan.tenant_ids.size()];
    const ModelDimension& model = suite_->spec.models[rng() % suite_->spec.models.size()];
    const std::vector<std::string> types = random_types();
    const int limit = limits[rng() % std::size(limits)];
    std::vector<SqlHit> expected;
    v1::SearchResponse response;
    grpc::Status s;
    std::string query;
    if (i < kVectorQueries) {
      const datagen::ClusteredVectors space(model.dim, suite_->spec.clusters,
                                            datagen::ModelSpaceSeed(kSeed, model.name));
      const std::vector<float> vector = space.Query(rng());
      ASSERT_TRUE(truth->Search(tenant, model.name, vector, types, limit + kExtraTruthRows, &expected).ok());
      v1::SearchRequest request = RequestFor(tenant, model.name, types, limit, 0);
      request.mutable_vector()->mutable_values()->Add(vector.begin(), vector.end());
      s = Search(stub(), request, &response);
      query = "vector query";
    } else {
      // Like a searchable row of this index, picked through SQL.
      std::vector<SqlHit> rows;
      ASSERT_TRUE(truth->Search(tenant, model.name, std::vector<float>(model.dim, 1.0f), {}, 100000, &rows).ok());
      ASSERT_FALSE(rows.empty());
      query = rows[rng() % rows.size()].entity_id;
      ASSERT_TRUE(truth->SearchLike(tenant, model.name, query, types, limit + kExtraTruthRows, &expected).ok());
      v1::SearchRequest request = RequestFor(tenant, model.name, types, limit, 0);
      request.set_query_entity_id(query);
      s = Search(stub(), request, &response);
      query = "like " + query;
    }
    ASSERT_TRUE(s.ok()) << GrpcText(s);
    // Every index of this data set is below the size at which the policy leaves flat indexes.
    EXPECT_TRUE(response.exact()) << "query " << i;
    EXPECT_EQ(response.index_kind(), v1::INDEX_KIND_FLAT) << "query " << i;
    EXPECT_TRUE(SameAsSql(expected, limit, response))
        << "query " << i << " (" << query << ", tenant " << tenant << ", " << model.name
        << ", limit " << limit << ", " << types.size() << " types)";
    ++compared;
  }
  EXPECT_EQ(compared, kVectorQueries + kLikeQueries);
  ExpectMirrorEqualsDatabase(conninfo(), stub(), 0);
}

// Live changes of 1536-d vectors, stored out of line (TOAST), in one tenant.
TEST_F(PgvectorIntegrationTest, LiveChangesOfToastedVectors) {
  SqlSession sql(conninfo());
  ASSERT_TRUE(sql.connected());
  std::unique_ptr<SqlGroundTruth> truth;
  ASSERT_TRUE(SqlGroundTruth::Connect(conninfo(), &truth).ok());
  const std::string tenant = suite_->plan.tenant_ids[0];
  std::mt19937_64 rng(kSeed + 1);
  const datagen::ClusteredVectors space(kSmallDim, suite_->spec.clusters,
                                        datagen::ModelSpaceSeed(kSeed, kSmall));

  // Searches `vector` once everything committed so far is applied; the answer must be SQL's.
  auto search = [&](const std::vector<float>& vector, const std::string& step) {
    v1::SearchResponse response;
    const uint64_t lsn = sql.CurrentLsn();
    EXPECT_NE(lsn, 0u);
    const grpc::Status s = ExactSearch(stub(), tenant, kSmall, vector, 20, lsn, kSearchTimeout, &response);
    EXPECT_TRUE(s.ok()) << step << ": " << GrpcText(s);
    EXPECT_GE(response.applied_lsn(), lsn) << step;
    std::vector<SqlHit> expected;
    const Status t = truth->Search(tenant, kSmall, vector, {}, 20 + kExtraTruthRows, &expected);
    EXPECT_TRUE(t.ok()) << t.ToString();
    EXPECT_TRUE(SameAsSql(expected, 20, response)) << step;
    return response;
  };
  auto rank_of = [](const v1::SearchResponse& response, const std::string& id) {
    for (int i = 0; i < response.results_size(); ++i) {
      if (response.results(i).entity_id() == id) return i;
    }
    return -1;
  };
  auto exec = [&](const std::string& text) {
    const Status s = sql.Exec(text);
    EXPECT_TRUE(s.ok()) << s.ToString();
  };
  const std::string toast_table = sql.Value(
      "SELECT reltoastrelid::regclass::text FROM pg_class WHERE oid = 'embedding'::regclass");
  ASSERT_FALSE(toast_table.empty());
  auto toasted_values = [&] {
    return std::stoll(sql.Value("SELECT count(DISTINCT chunk_id) FROM " + toast_table));
  };

  // 1. A new entity with a pending embedding: stored out of line, not searchable.
  const std::string id = sql.Value("SELECT gen_random_uuid()::text");
  const std::vector<float> v1 = space.Query(rng());
  const long long toasted_before = toasted_values();
  exec("BEGIN; INSERT INTO entity (id, tenant_id, entity_type) VALUES (" + Quote(id) + ", " +
       Quote(tenant) + ", 'template'); INSERT INTO embedding (entity_id, model, vector, status) "
       "VALUES (" + Quote(id) + ", " + Quote(kSmall) + ", " + Quote(VectorLiteral(v1, true)) +
       ", 'pending'); COMMIT;");
  EXPECT_EQ(toasted_values(), toasted_before + 1) << "the 1536-d vector should be stored out of line";
  std::cout << "[ live   ] pg_column_size of the new 1536-d vector: "
            << sql.Value("SELECT pg_column_size(vector) FROM embedding WHERE entity_id = " + Quote(id))
            << " bytes, " << toast_table << " holds " << toasted_values() << " values\n";
  EXPECT_EQ(rank_of(search(v1, "pending insert"), id), -1) << "a pending row is not searchable";

  // 2. Status-only updates: the new row, and a pending row of the initial load that already had
  // its vector. A test_decoding slot shows that PostgreSQL sends both vectors as unchanged TOAST.
  const std::string loaded_pending = sql.Value(
      "SELECT emb.entity_id::text FROM embedding emb JOIN entity e ON e.id = emb.entity_id "
      " AND e.valid_to IS NULL AND e.deleted_at IS NULL "
      "WHERE e.tenant_id = " + Quote(tenant) + " AND emb.model = " + Quote(kSmall) +
      " AND emb.status = 'pending' AND emb.vector IS NOT NULL"
      " AND emb.entity_id <> " + Quote(id) +  // the row inserted above is pending too
      " ORDER BY emb.entity_id LIMIT 1");
  ASSERT_FALSE(loaded_pending.empty()) << "the generator makes pending rows with a vector";
  std::vector<float> loaded_vector;
  ASSERT_TRUE(ParseVectorText(sql.Value("SELECT vector::text FROM embedding WHERE entity_id = " +
                                        Quote(loaded_pending) + " AND model = " + Quote(kSmall)),
                              &loaded_vector));
  ASSERT_EQ(loaded_vector.size(), kSmallDim);
  const std::string peek_slot = "vmtest_td_" + std::to_string(getpid());
  exec("SELECT pg_create_logical_replication_slot(" + Quote(peek_slot) + ", 'test_decoding')");
  exec("UPDATE embedding SET status = 'completed', updated_at = now() WHERE model = " + Quote(kSmall) +
       " AND entity_id IN (" + Quote(id) + ", " + Quote(loaded_pending) + ")");
  const std::string decoded = sql.Value("SELECT string_agg(data, E'\\n') FROM pg_logical_slot_get_changes(" +
                                        Quote(peek_slot) + ", NULL, NULL)");
  exec("SELECT pg_drop_replication_slot(" + Quote(peek_slot) + ")");
  EXPECT_EQ(Occurrences(decoded, "vector[vector]:unchanged-toast-datum"), 2u) << decoded.substr(0, 2000);
  EXPECT_EQ(Occurrences(decoded, "status[text]:'completed'"), 2u) << decoded.substr(0, 2000);

  v1::SearchResponse response = search(v1, "status update of the new row");
  ASSERT_EQ(rank_of(response, id), 0) << "the row completed by a status-only update";
  EXPECT_NEAR(response.results(0).similarity(), 1.0, kSimilarityTolerance);
  response = search(loaded_vector, "status update of a loaded pending row");
  ASSERT_EQ(rank_of(response, loaded_pending), 0) << "the loaded pending row completed later";
  EXPECT_NEAR(response.results(0).similarity(), 1.0, kSimilarityTolerance);
  {
    std::vector<SqlHit> expected;
    ASSERT_TRUE(truth->SearchLike(tenant, kSmall, id, {}, 10 + kExtraTruthRows, &expected).ok());
    v1::SearchResponse like;
    v1::SearchRequest request = RequestFor(tenant, kSmall, {}, 10, sql.CurrentLsn());
    request.set_query_entity_id(id);
    const grpc::Status s = Search(stub(), request, &like);
    ASSERT_TRUE(s.ok()) << "more like the completed row: " << GrpcText(s);
    EXPECT_TRUE(SameAsSql(expected, 10, like)) << "more like the completed row";
  }

  // 3. A new vector for the same row.
  const std::vector<float> v2 = space.Query(rng());
  exec("UPDATE embedding SET vector = " + Quote(VectorLiteral(v2, true)) + ", updated_at = now() "
       "WHERE entity_id = " + Quote(id) + " AND model = " + Quote(kSmall));
  response = search(v2, "replaced vector");
  ASSERT_EQ(rank_of(response, id), 0);
  EXPECT_NEAR(response.results(0).similarity(), 1.0, kSimilarityTolerance);
  response = search(v1, "the old vector after the replacement");
  if (const int rank = rank_of(response, id); rank >= 0) {
    EXPECT_NEAR(response.results(rank).similarity(), CosineSimilarity(v1, v2), kSimilarityTolerance)
        << "the row must be searched with its new vector";
  }

  // 4. Deletes: the new row, and a row of the initial load.
  response = search(v2, "before the deletes");
  ASSERT_GE(response.results_size(), 2);
  const std::string loaded = response.results(1).entity_id();
  exec("DELETE FROM embedding WHERE model = " + Quote(kSmall) + " AND entity_id IN (" + Quote(id) +
       ", " + Quote(loaded) + ")");
  response = search(v2, "after the deletes");
  EXPECT_EQ(rank_of(response, id), -1);
  EXPECT_EQ(rank_of(response, loaded), -1);

  ExpectMirrorEqualsDatabase(conninfo(), stub(), sql.CurrentLsn());
}

// An ALTER TABLE that changes the vector column's type rewrites every row, and pgoutput sends
// nothing of that rewrite: only the next Relation message of embedding names the new type. The
// server must answer it with a fresh initial load. The USING here also reverses each vector, so
// a mirror that only switched decoders would keep the old vectors and disagree with SQL.
// Last in the suite: the column is real[] afterwards.
TEST_F(PgvectorIntegrationTest, VectorColumnTypeChangeTakesAFreshLoad) {
  SqlSession sql(conninfo());
  ASSERT_TRUE(sql.connected());
  auto exec = [&](const std::string& text) {
    const Status s = sql.Exec(text);
    ASSERT_TRUE(s.ok()) << s.ToString();
  };
  const uint64_t loads_before = suite_->server->Status().initial_loads();
  ASSERT_GE(loads_before, 1u);
  exec("CREATE FUNCTION vmtest_reversed(real[]) RETURNS real[] LANGUAGE sql IMMUTABLE AS "
       "$$ SELECT array_agg(x ORDER BY i DESC) FROM unnest($1) WITH ORDINALITY AS t(x, i) $$");
  exec("ALTER TABLE embedding ALTER COLUMN vector TYPE real[] USING vmtest_reversed(vector::real[])");
  ASSERT_EQ(sql.Value("SELECT vmtest_reversed('{1,2,3}')::text"), "{3,2,1}");
  // Any change of embedding after the ALTER brings its Relation message with the new type.
  exec("UPDATE embedding SET updated_at = now() WHERE entity_id = "
       "(SELECT min(entity_id::text)::uuid FROM embedding)");
  const uint64_t lsn = sql.CurrentLsn();
  ASSERT_NE(WaitApplied(stub(), lsn), 0u);

  EXPECT_EQ(suite_->server->Status().initial_loads(), loads_before + 1);
  const std::string log = suite_->server->Log();
  EXPECT_NE(log.find("changed type from vector"), std::string::npos) << Tail(log);
  ExpectMirrorEqualsDatabase(conninfo(), stub(), lsn);
}

}  // namespace
}  // namespace vecmirror::testing
