// The searchable core, end to end: generated PromptCraft data in a throwaway PostgreSQL, the
// real vecmirror-server binary mirroring it, and every answer it gives over gRPC compared with
// the SQL ground truth (vm_search_similar_entities, DESIGN.md "The contract").
//
// The data: three tenants with 384-d and 1536-d embeddings (stable entity ids), and one tenant
// with 3072-d embeddings whose versions each have their own id (previous_version_id). Both
// carry closed versions, soft deletes, pending rows (half with a vector already), failed rows
// and bad completed rows (NULL, NaN, Inf, all-zero, wrong dimension).
//
// The server runs three times over the same database: with the default size policy (every
// index stays flat, so answers must be exact), then with HNSW and with IVF indexes (a low
// --ann-min-rows, and low exact-scan thresholds so that filtered searches go through the ANN
// structure too), where recall@k must average at least 0.95 and every answer must still hold
// min(limit, rows) results.
//
// Queries are random but replayable: the seed is printed, and VECMIRROR_TEST_SEED=N replays it.
// The SQL answers are computed once and shared by the three runs.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tests/support/pg_env.h"
#include "tests/support/server_process.h"
#include "tests/support/sql_ground_truth.h"
#include "tools/cli/health_check.h"
#include "tools/datagen/loader.h"
#include "tools/datagen/plan.h"
#include "tools/datagen/vector_space.h"
#include "vecmirror/v1/vecmirror.grpc.pb.h"

namespace vecmirror {
namespace {

using Clock = std::chrono::steady_clock;
using testing::ScratchDatabase;
using testing::ServerProcess;
using testing::SqlGroundTruth;
using testing::SqlHit;
using testing::kSimilarityTolerance;
using testing::kTieTolerance;

constexpr uint64_t kDefaultSeed = 20250611;
constexpr int kVectorQueries = 200;
constexpr int kLikeQueries = 25;
constexpr int kNotFoundQueries = 12;
// SQL rows fetched beyond `limit`, to judge ties and near misses at the cut.
constexpr int kExtraTruthRows = 10;
constexpr double kMinMeanRecall = 0.95;
// Index sizes at which the ANN runs promote: every index of the data set is above it.
constexpr int kAnnMinRows = 200;

const std::vector<std::string> kTypes = {"context", "template", "workflow", "library"};

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

uint64_t SeedFromEnvironment() {
  if (const char* text = std::getenv("VECMIRROR_TEST_SEED")) return std::strtoull(text, nullptr, 10);
  return kDefaultSeed;
}

// ---- The data -----------------------------------------------------------------------------

// Three tenants sharing two models, stable ids (the PromptCraft layout).
datagen::DatasetSpec SharedTenantsSpec(uint64_t seed) {
  datagen::DatasetSpec spec;
  spec.tenants = 3;
  spec.entities_per_tenant = 1000;
  spec.models = {{"all-MiniLM-L6-v2", 384}, {"text-embedding-3-small", 1536}};
  spec.bad_share = 0.03;  // 30 rows per (tenant, model): every bad kind several times
  spec.seed = seed;
  return spec;
}

// One tenant on the 3072-d model, each version with its own id.
datagen::DatasetSpec LargeModelSpec(uint64_t seed) {
  datagen::DatasetSpec spec;
  spec.tenants = 1;
  spec.entities_per_tenant = 360;
  spec.models = {{"text-embedding-3-large", 3072}};
  spec.bad_share = 0.05;
  spec.id_layout = datagen::IdLayout::kIdPerVersion;
  spec.seed = seed + 1;
  return spec;
}

using TenantModel = std::pair<std::string, std::string>;
using EntityModel = std::pair<std::string, std::string>;

struct IndexTarget {
  std::string tenant;
  const datagen::DatasetSpec* spec = nullptr;
  ModelDimension model;
};

// One search and PostgreSQL's answer to it.
struct SearchCase {
  int number = 0;
  std::string tenant;
  std::string model;
  std::vector<float> vector;     // empty when querying by entity
  std::string query_entity_id;   // "more like this"
  std::vector<std::string> types;
  int limit = 10;
  std::vector<SqlHit> truth;  // limit + kExtraTruthRows rows at most

  std::string Describe() const {
    std::string text = "case " + std::to_string(number) + ": tenant " + tenant + ", " + model +
                       (query_entity_id.empty() ? ", vector query" : ", like " + query_entity_id) +
                       ", limit " + std::to_string(limit) + ", types [";
    for (size_t i = 0; i < types.size(); ++i) text += (i ? "," : "") + types[i];
    return text + "]";
  }
  size_t expected_count() const { return std::min<size_t>(limit, truth.size()); }
};

// Everything the tests share: the database, what the generator put in it, and the cases.
struct Corpus {
  uint64_t seed = 0;
  std::unique_ptr<ScratchDatabase> db;
  std::vector<datagen::DatasetSpec> specs;
  std::map<BadRowReason, uint64_t> bad_rows;  // as the generator inserted them
  std::vector<IndexTarget> targets;
  // (tenant, model) -> entity_id -> entity_type: every row the SQL contract returns.
  std::map<TenantModel, std::map<std::string, std::string>> searchable;
  // (entity_id, model) of every embedding row the generator planned as not searchable: bad,
  // pending, failed, soft-deleted or closed versions.
  std::set<EntityModel> unsearchable;
  std::vector<SearchCase> vector_cases;
  std::vector<SearchCase> like_cases;
  std::vector<EntityModel> not_found_cases;  // (entity_id, model), with the tenant below
  std::map<EntityModel, std::string> tenant_of;
  std::string error;  // set when the setup failed
};

Corpus* g_corpus = nullptr;

Status LoadData(Corpus* c) {
  PGconn* conn = PQconnectdb(c->db->conninfo().c_str());
  std::unique_ptr<PGconn, decltype(&PQfinish)> guard(conn, &PQfinish);
  if (PQstatus(conn) != CONNECTION_OK) return Status::Unavailable(PQerrorMessage(conn));
  for (const datagen::DatasetSpec& spec : c->specs) {
    datagen::LoadStats stats;
    if (Status s = datagen::LoadDataset(conn, spec, {}, &stats); !s.ok()) return s;
    for (const auto& [kind, n] : stats.bad_rows) c->bad_rows[kind] += n;

    const datagen::DatasetPlan plan = datagen::PlanDataset(spec, /*allow_non_finite=*/true);
    for (const datagen::PlannedEmbedding& row : plan.embeddings) {
      if (row.searchable) continue;
      const auto& entity = plan.entities[row.entity];
      const EntityModel key{entity.versions[row.version].id, spec.models[row.model].name};
      c->unsearchable.insert(key);
      c->tenant_of[key] = plan.tenant_ids[entity.tenant];
    }
    for (const std::string& tenant : plan.tenant_ids) {
      for (const ModelDimension& model : spec.models) c->targets.push_back({tenant, &spec, model});
    }
  }
  return Status::Ok();
}

// The searchable rows of each index, from SQL: the function with any valid query and no limit.
Status LoadSearchable(Corpus* c, SqlGroundTruth& truth) {
  for (const IndexTarget& target : c->targets) {
    std::vector<float> ones(target.model.dim, 1.0f);
    std::vector<SqlHit> hits;
    if (Status s = truth.Search(target.tenant, target.model.name, ones, {}, 1000000, &hits); !s.ok()) {
      return s;
    }
    auto& rows = c->searchable[{target.tenant, target.model.name}];
    for (const SqlHit& hit : hits) rows[hit.entity_id] = hit.entity_type;
  }
  return Status::Ok();
}

std::vector<std::string> RandomTypes(std::mt19937_64& rng) {
  std::uniform_real_distribution<double> unit(0, 1);
  const double roll = unit(rng);
  if (roll < 0.35) return {};                       // all types
  if (roll < 0.38) return {"no-such-type"};         // a type nobody has: no rows
  std::vector<std::string> types;
  while (types.empty()) {
    for (const std::string& type : kTypes) {
      if (unit(rng) < 0.4) types.push_back(type);
    }
  }
  if (unit(rng) < 0.1) types.push_back("no-such-type");
  return types;
}

int RandomLimit(std::mt19937_64& rng) {
  static const int kLimits[] = {1, 3, 10, 10, 10, 20, 50, 100};
  if (std::uniform_real_distribution<double>(0, 1)(rng) < 0.04) return 1000;  // the maximum
  return kLimits[std::uniform_int_distribution<size_t>(0, std::size(kLimits) - 1)(rng)];
}

// Cheap 384-d indexes are asked twice as often as the others: the SQL scans cost dim x rows.
const IndexTarget& RandomTarget(const Corpus& c, std::mt19937_64& rng) {
  std::vector<double> weights;
  for (const IndexTarget& t : c.targets) weights.push_back(t.model.dim <= 384 ? 2.0 : 1.0);
  std::discrete_distribution<size_t> pick(weights.begin(), weights.end());
  return c.targets[pick(rng)];
}

Status MakeCases(Corpus* c, SqlGroundTruth& truth) {
  std::mt19937_64 rng(c->seed);
  std::map<std::string, std::unique_ptr<datagen::ClusteredVectors>> spaces;
  for (int i = 0; i < kVectorQueries; ++i) {
    const IndexTarget& target = RandomTarget(*c, rng);
    auto& space = spaces[target.model.name];
    if (!space) {
      space = std::make_unique<datagen::ClusteredVectors>(
          target.model.dim, target.spec->clusters,
          datagen::ModelSpaceSeed(target.spec->seed, target.model.name), target.spec->shape);
    }
    SearchCase q;
    q.number = i;
    q.tenant = target.tenant;
    q.model = target.model.name;
    q.vector = space->Query(rng());
    q.types = RandomTypes(rng);
    q.limit = RandomLimit(rng);
    if (Status s = truth.Search(q.tenant, q.model, q.vector, q.types, q.limit + kExtraTruthRows, &q.truth);
        !s.ok()) {
      return s;
    }
    c->vector_cases.push_back(std::move(q));
  }
  for (int i = 0; i < kLikeQueries; ++i) {
    const IndexTarget& target = RandomTarget(*c, rng);
    const auto& rows = c->searchable[{target.tenant, target.model.name}];
    if (rows.empty()) return Status::Internal("no searchable rows for " + target.tenant);
    auto it = rows.begin();
    std::advance(it, std::uniform_int_distribution<size_t>(0, rows.size() - 1)(rng));
    SearchCase q;
    q.number = kVectorQueries + i;
    q.tenant = target.tenant;
    q.model = target.model.name;
    q.query_entity_id = it->first;
    q.types = RandomTypes(rng);
    q.limit = RandomLimit(rng);
    if (Status s = truth.SearchLike(q.tenant, q.model, q.query_entity_id, q.types,
                                    q.limit + kExtraTruthRows, &q.truth);
        !s.ok()) {
      return s;
    }
    c->like_cases.push_back(std::move(q));
  }
  std::vector<EntityModel> unsearchable(c->unsearchable.begin(), c->unsearchable.end());
  std::shuffle(unsearchable.begin(), unsearchable.end(), rng);
  unsearchable.resize(std::min<size_t>(unsearchable.size(), kNotFoundQueries));
  c->not_found_cases = unsearchable;
  return Status::Ok();
}

Status BuildCorpus(Corpus* c) {
  auto start = Clock::now();
  if (Status s = ScratchDatabase::CreateWithSchema("integ_search", &c->db, "real[]"); !s.ok()) return s;
  c->specs = {SharedTenantsSpec(c->seed), LargeModelSpec(c->seed)};
  if (Status s = LoadData(c); !s.ok()) return s;
  std::cout << "[ corpus ] data generated and loaded in " << Seconds(start) << " s\n";

  start = Clock::now();
  std::unique_ptr<SqlGroundTruth> truth;
  if (Status s = SqlGroundTruth::Connect(c->db->conninfo(), &truth); !s.ok()) return s;
  if (Status s = LoadSearchable(c, *truth); !s.ok()) return s;
  if (Status s = MakeCases(c, *truth); !s.ok()) return s;
  std::cout << "[ corpus ] SQL ground truth of " << c->vector_cases.size() << " + "
            << c->like_cases.size() << " searches in " << Seconds(start) << " s\n";
  return Status::Ok();
}

// ---- Comparing an answer with the SQL -----------------------------------------------------

std::map<std::string, const SqlHit*> TruthById(const SearchCase& q) {
  std::map<std::string, const SqlHit*> by_id;
  for (const SqlHit& hit : q.truth) by_id[hit.entity_id] = &hit;
  return by_id;
}

// What every answer must satisfy, exact or not: the count, no duplicates, the order, and only
// rows the contract allows, with their SQL similarity.
::testing::AssertionResult WellFormed(const SearchCase& q, const v1::SearchResponse& r) {
  if (static_cast<size_t>(r.results_size()) != q.expected_count()) {
    return ::testing::AssertionFailure() << r.results_size() << " results; SQL has "
                                         << q.expected_count();
  }
  const auto& allowed = g_corpus->searchable.at({q.tenant, q.model});
  const auto by_id = TruthById(q);
  const bool truth_is_cut = static_cast<int>(q.truth.size()) == q.limit + kExtraTruthRows;
  std::set<std::string> seen;
  for (int i = 0; i < r.results_size(); ++i) {
    const v1::SearchResult& hit = r.results(i);
    if (!seen.insert(hit.entity_id()).second) {
      return ::testing::AssertionFailure() << "rank " << i << ": " << hit.entity_id() << " twice";
    }
    if (hit.entity_id() == q.query_entity_id) {
      return ::testing::AssertionFailure() << "rank " << i << ": the query entity itself";
    }
    auto row = allowed.find(hit.entity_id());
    if (row == allowed.end()) {
      return ::testing::AssertionFailure() << "rank " << i << ": " << hit.entity_id()
                                           << " is not searchable in SQL";
    }
    if (hit.entity_type() != row->second) {
      return ::testing::AssertionFailure() << "rank " << i << ": type " << hit.entity_type()
                                           << ", SQL has " << row->second;
    }
    if (!q.types.empty() && std::find(q.types.begin(), q.types.end(), hit.entity_type()) == q.types.end()) {
      return ::testing::AssertionFailure() << "rank " << i << ": type " << hit.entity_type()
                                           << " is not in the filter";
    }
    if (i > 0 && hit.similarity() > r.results(i - 1).similarity()) {
      return ::testing::AssertionFailure() << "rank " << i << ": similarity " << hit.similarity()
                                           << " above the previous one's";
    }
    auto truth = by_id.find(hit.entity_id());
    if (truth != by_id.end()) {
      if (std::abs(hit.similarity() - truth->second->similarity) > kSimilarityTolerance) {
        return ::testing::AssertionFailure() << "rank " << i << ": similarity " << hit.similarity()
                                             << ", SQL has " << truth->second->similarity;
      }
    } else if (!truth_is_cut) {
      return ::testing::AssertionFailure() << "rank " << i << ": " << hit.entity_id()
                                           << " is not in the SQL answer";
    } else if (hit.similarity() > q.truth.back().similarity + kSimilarityTolerance) {
      return ::testing::AssertionFailure()
             << "rank " << i << ": " << hit.entity_id() << " has similarity " << hit.similarity()
             << ", above SQL's rank " << q.truth.size() - 1 << " (" << q.truth.back().similarity
             << ") yet not in the SQL answer";
    }
  }
  return ::testing::AssertionSuccess();
}

// Flat indexes: the same ids in the same order; two may trade places only where PostgreSQL's
// similarities are within kTieTolerance.
::testing::AssertionResult MatchesExactly(const SearchCase& q, const v1::SearchResponse& r) {
  if (auto ok = WellFormed(q, r); !ok) return ok;
  const auto by_id = TruthById(q);
  for (int i = 0; i < r.results_size(); ++i) {
    const std::string& got = r.results(i).entity_id();
    const SqlHit& expected = q.truth[i];
    if (got == expected.entity_id) continue;
    auto truth = by_id.find(got);
    if (truth == by_id.end() ||
        std::abs(truth->second->similarity - expected.similarity) > kTieTolerance) {
      return ::testing::AssertionFailure()
             << "rank " << i << ": " << got << " (" << r.results(i).similarity() << "); SQL has "
             << expected.entity_id << " (" << expected.similarity << ")";
    }
  }
  return ::testing::AssertionSuccess();
}

// recall@k: the share of SQL's top min(limit, rows) that the answer holds; a row tied with the
// SQL's last one (within kTieTolerance) counts as found. 1 when SQL has no rows.
double Recall(const SearchCase& q, const v1::SearchResponse& r) {
  const size_t k = q.expected_count();
  if (k == 0) return 1.0;
  const auto by_id = TruthById(q);
  const double cut = q.truth[k - 1].similarity - kTieTolerance;
  size_t found = 0;
  for (const auto& hit : r.results()) {
    auto truth = by_id.find(hit.entity_id());
    if (truth != by_id.end() && truth->second->similarity >= cut) ++found;
  }
  return static_cast<double>(std::min(found, k)) / static_cast<double>(k);
}

// ---- Talking to the server ----------------------------------------------------------------

v1::SearchRequest RequestFor(const SearchCase& q) {
  v1::SearchRequest request;
  request.set_tenant_id(q.tenant);
  request.set_model(q.model);
  if (q.query_entity_id.empty()) {
    auto* values = request.mutable_vector()->mutable_values();
    values->Add(q.vector.begin(), q.vector.end());
  } else {
    request.set_query_entity_id(q.query_entity_id);
  }
  for (const std::string& type : q.types) request.add_entity_types(type);
  request.set_limit(static_cast<uint32_t>(q.limit));
  return request;
}

grpc::Status Search(ServerProcess& server, const v1::SearchRequest& request,
                    v1::SearchResponse* response) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  return server.stub().SearchSimilarEntities(&context, request, response);
}

bool ListIndexes(ServerProcess& server, v1::ListIndexesResponse* response) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  return server.stub().ListIndexes(&context, v1::ListIndexesRequest(), response).ok();
}

// Waits until every index with at least `min_rows` live rows has `kind` and is not rebuilding
// (promotion runs in the background after the load).
bool WaitForKind(ServerProcess& server, v1::IndexKind kind, uint64_t min_rows,
                 std::chrono::seconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    v1::ListIndexesResponse list;
    if (ListIndexes(server, &list)) {
      bool done = list.indexes_size() > 0;
      for (const auto& index : list.indexes()) {
        if (index.live_count() >= min_rows && (index.kind() != kind || index.rebuilding())) done = false;
      }
      if (done) return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return false;
}

std::string Tail(const std::string& text, size_t bytes = 4000) {
  return text.size() <= bytes ? text : "..." + text.substr(text.size() - bytes);
}

// ---- The test -----------------------------------------------------------------------------

struct RunSpec {
  const char* name;
  std::vector<std::string> flags;
  v1::IndexKind kind;  // what every index must be once promoted
  bool exact;          // answers must equal SQL's; otherwise recall is measured
};

class IntegrationSearchTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    g_corpus = new Corpus;
    g_corpus->seed = SeedFromEnvironment();
    std::cout << "[ seed   ] " << g_corpus->seed << " (replay with VECMIRROR_TEST_SEED="
              << g_corpus->seed << ")\n";
    if (Status s = BuildCorpus(g_corpus); !s.ok()) g_corpus->error = s.ToString();
  }
  static void TearDownTestSuite() {
    delete g_corpus;
    g_corpus = nullptr;
  }
  void SetUp() override { ASSERT_EQ(g_corpus->error, "") << "setting up the corpus failed"; }

  void CheckRun(const RunSpec& run);
};

// Health, status counters and the index list after the load.
void CheckLoadedState(ServerProcess& server, const RunSpec& run) {
  auto channel = grpc::CreateChannel(server.address(), grpc::InsecureChannelCredentials());
  for (const std::string service : {"", "vecmirror.v1.VectorSearch"}) {
    // The server's readiness check turns health on in its next tick (200 ms) after the load;
    // a loaded machine may run that tick late: wait for it, bounded.
    cli::ServingStatus health = cli::ServingStatus::kUnknown;
    const auto deadline = Clock::now() + std::chrono::seconds(30);
    for (bool first = true; health != cli::ServingStatus::kServing && Clock::now() < deadline; first = false) {
      if (!first) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      const grpc::Status s = cli::CheckHealth(channel, service, std::chrono::seconds(2), &health);
      ASSERT_TRUE(s.ok()) << "health of \"" << service << "\": " << s.error_message();
    }
    EXPECT_EQ(health, cli::ServingStatus::kServing) << "health of \"" << service << "\"";
  }

  const v1::MirrorStatus status = server.Status();
  EXPECT_TRUE(status.loaded());
  const auto& bad = status.bad_rows();
  const auto& inserted = g_corpus->bad_rows;
  auto count = [&](BadRowReason kind) {
    auto it = inserted.find(kind);
    return it == inserted.end() ? uint64_t{0} : it->second;
  };
  ASSERT_GT(count(BadRowReason::kNullVector), 0u) << "the data set must have every bad kind";
  ASSERT_GT(count(BadRowReason::kNonFinite), 1u) << "NaN and Inf alternate: two rows at least";
  ASSERT_GT(count(BadRowReason::kZeroVector), 0u);
  ASSERT_GT(count(BadRowReason::kDimensionMismatch), 0u);
  EXPECT_EQ(bad.null_vector(), count(BadRowReason::kNullVector));
  EXPECT_EQ(bad.non_finite(), count(BadRowReason::kNonFinite));
  EXPECT_EQ(bad.zero_vector(), count(BadRowReason::kZeroVector));
  EXPECT_EQ(bad.dimension_mismatch(), count(BadRowReason::kDimensionMismatch));
  EXPECT_EQ(bad.malformed(), 0u);

  // One index per (tenant, model), holding exactly the rows SQL calls searchable.
  v1::ListIndexesResponse list;
  ASSERT_TRUE(ListIndexes(server, &list));
  std::map<TenantModel, const v1::IndexInfo*> indexes;
  for (const auto& index : list.indexes()) {
    if (index.live_count() == 0) continue;
    EXPECT_TRUE(indexes.emplace(TenantModel{index.tenant_id(), index.model()}, &index).second)
        << "two indexes for " << index.tenant_id() << " " << index.model();
  }
  EXPECT_EQ(indexes.size(), g_corpus->searchable.size());
  for (const IndexTarget& target : g_corpus->targets) {
    const TenantModel key{target.tenant, target.model.name};
    auto it = indexes.find(key);
    if (it == indexes.end()) {
      ADD_FAILURE() << "no index for " << key.first << " " << key.second;
      continue;
    }
    EXPECT_EQ(it->second->dimension(), target.model.dim) << key.second;
    EXPECT_EQ(it->second->live_count(), g_corpus->searchable.at(key).size())
        << key.first << " " << key.second;
    EXPECT_EQ(it->second->kind(), run.kind) << key.first << " " << key.second;
  }
}

void IntegrationSearchTest::CheckRun(const RunSpec& run) {
  ServerProcess server(g_corpus->db->conninfo(), run.flags);
  const auto start = Clock::now();
  server.Start();
  ASSERT_TRUE(server.WaitLoaded(std::chrono::seconds(120)))
      << "the server did not load; its log:\n" << Tail(server.Log());
  const double load_seconds = Seconds(start);
  if (run.kind != v1::INDEX_KIND_FLAT) {
    ASSERT_TRUE(WaitForKind(server, run.kind, kAnnMinRows, std::chrono::seconds(120)))
        << "indexes were not promoted; log:\n" << Tail(server.Log());
  }
  std::cout << "[ " << run.name << " ] loaded in " << load_seconds << " s, ready in "
            << Seconds(start) << " s\n";
  CheckLoadedState(server, run);

  // Every row the generator made unsearchable, and every result seen, for the final check.
  std::set<EntityModel> returned;
  auto remember = [&](const SearchCase& q, const v1::SearchResponse& r) {
    for (const auto& hit : r.results()) returned.insert({hit.entity_id(), q.model});
  };

  double recall_sum = 0, recall_min = 1;
  int approximate_answers = 0, failures = 0;
  std::vector<const SearchCase*> cases;
  for (const SearchCase& q : g_corpus->vector_cases) cases.push_back(&q);
  for (const SearchCase& q : g_corpus->like_cases) cases.push_back(&q);
  for (const SearchCase* q : cases) {
    v1::SearchResponse response;
    const grpc::Status s = Search(server, RequestFor(*q), &response);
    if (!s.ok()) {
      ADD_FAILURE() << q->Describe() << ": " << s.error_code() << " " << s.error_message();
      continue;
    }
    remember(*q, response);
    if (!response.exact()) ++approximate_answers;
    EXPECT_EQ(response.index_kind(), run.kind) << q->Describe();
    EXPECT_NE(response.applied_lsn(), 0u) << q->Describe();
    const ::testing::AssertionResult ok = run.exact ? MatchesExactly(*q, response) : WellFormed(*q, response);
    if (!ok) {
      ++failures;
      ADD_FAILURE() << q->Describe() << ": " << ok.message();
    }
    if (run.exact) {
      EXPECT_TRUE(response.exact()) << q->Describe();
    } else {
      const double recall = Recall(*q, response);
      recall_sum += recall;
      recall_min = std::min(recall_min, recall);
    }
    if (failures > 20) FAIL() << "too many wrong answers; stopping";
  }
  if (!run.exact) {
    const double mean = recall_sum / static_cast<double>(cases.size());
    std::cout << "[ " << run.name << " ] recall@k mean " << mean << ", min " << recall_min << ", "
              << approximate_answers << " of " << cases.size() << " answers from the ANN index\n";
    EXPECT_GE(mean, kMinMeanRecall);
    // The run must exercise the ANN structure, filtered searches included, not only exact scans.
    EXPECT_GE(approximate_answers, static_cast<int>(cases.size()) / 2);
  }

  // Query by an entity the service must not have: bad, pending, failed, deleted, closed.
  for (const EntityModel& key : g_corpus->not_found_cases) {
    SearchCase q;
    q.tenant = g_corpus->tenant_of.at(key);
    q.model = key.second;
    q.query_entity_id = key.first;
    v1::SearchResponse response;
    const grpc::Status s = Search(server, RequestFor(q), &response);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND)
        << "query_entity_id " << key.first << " (" << key.second << ") is not searchable: "
        << s.error_message() << ", " << response.results_size() << " results";
  }

  // A tenant nobody has, and a tenant on a model it has no rows for: OK and empty, as the SQL.
  {
    SearchCase q = g_corpus->vector_cases.front();
    q.tenant = "6f1c2b7e-0d4a-4c55-9a3e-5b8f00c0ffee";
    v1::SearchResponse response;
    const grpc::Status s = Search(server, RequestFor(q), &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(response.results_size(), 0);
    EXPECT_EQ(response.index_kind(), v1::INDEX_KIND_UNSPECIFIED) << "no index for that tenant";
  }
  for (const IndexTarget& target : g_corpus->targets) {
    if (target.model.dim != 3072) continue;
    SearchCase q;
    q.tenant = target.tenant;
    q.model = "all-MiniLM-L6-v2";
    q.vector.assign(384, 0.5f);
    v1::SearchResponse response;
    const grpc::Status s = Search(server, RequestFor(q), &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(response.results_size(), 0) << "tenant " << target.tenant << " has no 384-d rows";
  }

  // Nothing the generator made unsearchable ever came back.
  size_t leaked = 0;
  for (const EntityModel& key : returned) {
    if (g_corpus->unsearchable.count(key) && ++leaked <= 5) {
      ADD_FAILURE() << key.first << " (" << key.second << ") is not searchable yet was returned";
    }
  }
  EXPECT_EQ(leaked, 0u);
  EXPECT_GT(returned.size(), 1000u) << "the searches should have seen many rows";

  server.Kill(SIGTERM);
}

TEST_F(IntegrationSearchTest, FlatIndexesAnswerExactlyAsSql) {
  CheckRun({"flat", {}, v1::INDEX_KIND_FLAT, /*exact=*/true});
}

TEST_F(IntegrationSearchTest, HnswIndexesReachRecallAndFullCounts) {
  CheckRun({"hnsw",
            {"--ann-min-rows", std::to_string(kAnnMinRows), "--exact-max-rows", "20",
             "--exact-max-share", "0.01"},
            v1::INDEX_KIND_HNSW,
            /*exact=*/false});
}

TEST_F(IntegrationSearchTest, IvfIndexesReachRecallAndFullCounts) {
  CheckRun({"ivf",
            {"--ann-kind", "ivf", "--ann-min-rows", std::to_string(kAnnMinRows), "--ivf-nlist", "16",
             "--exact-max-rows", "20", "--exact-max-share", "0.01"},
            v1::INDEX_KIND_IVF,
            /*exact=*/false});
}

}  // namespace
}  // namespace vecmirror
