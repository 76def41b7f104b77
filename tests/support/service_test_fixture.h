// Shared by the service suites: a Registry filled directly with generated unit vectors (two
// tenants, two models of different dimensions, four entity types, some exact duplicates so
// that similarity ties occur, then updates and removes), a SearchService on a real GrpcServer
// at 127.0.0.1:0, a channel to it, and an independent answer to compare with: plain loops in
// double over the rows the test itself inserted, sorted by similarity descending, then
// entity_id ascending (the SQL's ORDER BY).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "base/uuid.h"
#include "index/index_options.h"
#include "index/model_catalog.h"
#include "index/registry.h"
#include "src/grpc_server.h"
#include "src/mirror_status.h"
#include "src/search_service.h"
#include "vecmirror/v1/vecmirror.grpc.pb.h"

namespace vecmirror::service_test {

inline constexpr char kMiniLm[] = "all-MiniLM-L6-v2";         // 384-d
inline constexpr char kSmall[] = "text-embedding-3-small";    // 1536-d
inline constexpr uint32_t kMiniLmDim = 384;
inline constexpr uint32_t kSmallDim = 1536;
inline constexpr size_t kRowsPerIndex = 240;
inline constexpr size_t kRemovedPerIndex = 10;
inline constexpr size_t kUpdatedPerIndex = 10;

// One mirrored row, as the test inserted it.
struct Row {
  Uuid id;
  std::string type;
  std::vector<float> vector;  // unit length
};

// What the SQL would return for one result row.
struct Expected {
  std::string entity_id;
  std::string entity_type;
  double similarity = 0;
};

using Rows = std::map<Uuid, Row>;  // the current rows of one (tenant, model)

inline std::vector<float> Normalized(std::vector<float> v) {
  double norm2 = 0;
  for (float x : v) norm2 += static_cast<double>(x) * x;
  const double inv = 1.0 / std::sqrt(norm2);
  for (float& x : v) x = static_cast<float>(x * inv);
  return v;
}

// Cosine similarity in double, computed from scratch (no kernels, no FAISS).
inline double Cosine(const std::vector<float>& a, const std::vector<float>& b) {
  double dot = 0, na = 0, nb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    dot += static_cast<double>(a[i]) * b[i];
    na += static_cast<double>(a[i]) * a[i];
    nb += static_cast<double>(b[i]) * b[i];
  }
  return dot / (std::sqrt(na) * std::sqrt(nb));
}

struct BruteForceQuery {
  std::vector<float> vector;            // any length-matching, non-zero vector
  std::set<std::string> types;          // empty = all
  size_t limit = 10;
  std::optional<double> min_similarity;
  std::optional<Uuid> exclude;
};

inline std::vector<Expected> BruteForce(const Rows& rows, const BruteForceQuery& q) {
  std::vector<std::pair<double, const Row*>> scored;
  for (const auto& [id, row] : rows) {
    if (!q.types.empty() && q.types.count(row.type) == 0) continue;
    if (q.exclude && *q.exclude == id) continue;
    const double sim = Cosine(q.vector, row.vector);
    if (q.min_similarity && sim < *q.min_similarity) continue;
    scored.emplace_back(sim, &row);
  }
  std::sort(scored.begin(), scored.end(), [](const auto& a, const auto& b) {
    if (a.first != b.first) return a.first > b.first;
    return a.second->id < b.second->id;
  });
  std::vector<Expected> out;
  for (size_t i = 0; i < scored.size() && i < q.limit; ++i) {
    out.push_back({scored[i].second->id.ToString(), scored[i].second->type, scored[i].first});
  }
  return out;
}

// Float similarities from the engine agree with the double ones to about 1e-6.
inline void ExpectSameResults(const v1::SearchResponse& response,
                              const std::vector<Expected>& expected) {
  ASSERT_EQ(static_cast<size_t>(response.results_size()), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    const v1::SearchResult& got = response.results(static_cast<int>(i));
    EXPECT_EQ(got.entity_id(), expected[i].entity_id) << "rank " << i;
    EXPECT_EQ(got.entity_type(), expected[i].entity_type) << "rank " << i;
    EXPECT_NEAR(got.similarity(), expected[i].similarity, 1e-5) << "rank " << i;
  }
}

inline v1::SearchRequest VectorRequest(const Uuid& tenant, const std::string& model,
                                       const std::vector<float>& query, uint32_t limit,
                                       bool exact = true) {
  v1::SearchRequest request;
  request.set_tenant_id(tenant.ToString());
  request.set_model(model);
  request.mutable_vector()->mutable_values()->Add(query.begin(), query.end());
  if (limit != 0) request.set_limit(limit);  // 0 here: leave it unset (the default)
  request.mutable_effort()->set_exact(exact);
  return request;
}

// The registry (with `index_options`), the service and a running server, filled and marked
// loaded.
class TestWorld {
 public:
  explicit TestWorld(SearchServiceOptions options = {}, IndexOptions index_options = {})
      : models_list_{{kMiniLm, kMiniLmDim}, {kSmall, kSmallDim}},
        registry(std::move(index_options)),
        models(models_list_) {
    tenant_a = RandomUuid();
    tenant_b = RandomUuid();
    for (const Uuid& tenant : {tenant_a, tenant_b}) {
      Fill(tenant, kMiniLm, kMiniLmDim);
      Fill(tenant, kSmall, kSmallDim);
    }
    board.Update([&](MirrorState& s) {
      s.state = "streaming";
      s.applied_lsn = registry.applied_lsn();
      s.loaded = true;
    });
    service = std::make_unique<SearchService>(registry, models, board, options);
    server = std::make_unique<GrpcServer>(
        GrpcServerOptions{.listen = "127.0.0.1:0", .max_message_bytes = 64 << 20});
    const Status started = server->Start({service.get()});
    if (!started.ok()) ADD_FAILURE() << started.ToString();
    server->SetServing(true);
    channel = grpc::CreateChannel(address(), grpc::InsecureChannelCredentials());
    stub = v1::VectorSearch::NewStub(channel);
  }

  ~TestWorld() { server->Shutdown(std::chrono::system_clock::now()); }

  std::string address() const { return "127.0.0.1:" + std::to_string(server->bound_port()); }

  const Rows& RowsOf(const Uuid& tenant, const std::string& model) const {
    return rows_.at({tenant, model});
  }

  // Every call in these tests is local and small; the deadline only keeps a hang from
  // stalling the suite.
  grpc::Status Search(const v1::SearchRequest& request, v1::SearchResponse* response,
                      std::chrono::milliseconds timeout = std::chrono::seconds(20)) const {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + timeout);
    return stub->SearchSimilarEntities(&context, request, response);
  }

  uint64_t NextLsn() { return next_lsn_ += 0x100; }

  Uuid RandomUuid() {
    Uuid u;
    for (auto& b : u.bytes) b = static_cast<uint8_t>(rng_());
    return u;
  }

  std::vector<float> RandomVector(uint32_t dim) {
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> v(dim);
    for (float& x : v) x = normal(rng_);
    return v;
  }

  // A query near a stored row, not normalized, so the top results are meaningful.
  std::vector<float> QueryNear(const Row& row, float noise = 0.6f) {
    std::vector<float> q = RandomVector(static_cast<uint32_t>(row.vector.size()));
    const float scale = noise / std::sqrt(static_cast<float>(row.vector.size()));
    for (size_t i = 0; i < q.size(); ++i) q[i] = 3.5f * (row.vector[i] + scale * q[i]);
    return q;
  }

  const Row& AnyRow(const Uuid& tenant, const std::string& model) {
    const Rows& rows = RowsOf(tenant, model);
    auto it = rows.begin();
    std::advance(it, rng_() % rows.size());
    return it->second;
  }

  // Applies one transaction of upserts to (tenant, model) and records the rows.
  void Upsert(const Uuid& tenant, const std::string& model, const std::vector<Row>& rows,
              uint64_t lsn) {
    std::vector<KeyedWrite> writes;
    const IndexKey key{tenant, model, *models.DimensionOf(model)};
    for (const Row& row : rows) {
      writes.push_back({key, UpsertWrite(row)});
      rows_[{tenant, model}][row.id] = row;
    }
    registry.ApplyTransaction(writes, lsn);
  }

  IndexWrite UpsertWrite(const Row& row) {
    IndexWrite w;
    w.op = IndexWrite::Op::kUpsert;
    w.entity_id = row.id;
    w.type = *registry.types().Intern(row.type);
    w.vector = row.vector;
    return w;
  }

  std::vector<Uuid> removed;  // entities removed in the second transaction (any index)
  Uuid tenant_a, tenant_b;

 private:
  // Two transactions per (tenant, model): the inserts, then updates and removes.
  void Fill(const Uuid& tenant, const std::string& model, uint32_t dim) {
    static const char* const kCommonTypes[] = {"context", "template", "workflow"};
    std::vector<Row> inserted;
    for (size_t i = 0; i < kRowsPerIndex; ++i) {
      Row row;
      row.id = RandomUuid();
      row.type = i % 16 == 0 ? "library" : kCommonTypes[i % 3];  // "library" is rare
      // Every 30th row repeats its predecessor's vector: equal similarity, ordered by id.
      row.vector = i % 30 == 29 ? inserted.back().vector : Normalized(RandomVector(dim));
      inserted.push_back(std::move(row));
    }
    Upsert(tenant, model, inserted, NextLsn());

    std::vector<KeyedWrite> writes;
    const IndexKey key{tenant, model, dim};
    Rows& current = rows_[{tenant, model}];
    for (size_t i = 0; i < kRemovedPerIndex; ++i) {
      const Uuid id = inserted[1 + 7 * i].id;
      IndexWrite w;
      w.op = IndexWrite::Op::kRemove;
      w.entity_id = id;
      writes.push_back({key, w});
      current.erase(id);
      removed.push_back(id);
    }
    for (size_t i = 0; i < kUpdatedPerIndex; ++i) {
      Row row = inserted[2 + 7 * i];
      row.type = kCommonTypes[(i + 1) % 3];
      row.vector = Normalized(RandomVector(dim));
      writes.push_back({key, UpsertWrite(row)});
      current[row.id] = row;
    }
    registry.ApplyTransaction(writes, NextLsn());
  }

  std::mt19937_64 rng_{20240607};
  uint64_t next_lsn_ = 0x16B3A800;
  std::map<std::pair<Uuid, std::string>, Rows> rows_;
  std::vector<ModelDimension> models_list_;

 public:
  Registry registry;
  ModelCatalog models;
  MirrorStatusBoard board;
  std::unique_ptr<SearchService> service;
  std::unique_ptr<GrpcServer> server;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::VectorSearch::Stub> stub;
};

// A suite whose tests share one TestWorld, started before its first test and stopped after its
// last: building the world (rows, server, channel) costs more than most tests. A suite that
// needs other options hides SetUpTestSuite with one that calls StartWorld.
class SharedWorldTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { StartWorld(); }
  static void StartWorld(SearchServiceOptions options = {}, IndexOptions index_options = {}) {
    world_ = new TestWorld(std::move(options), std::move(index_options));
  }
  static void TearDownTestSuite() {
    delete world_;
    world_ = nullptr;
  }
  static TestWorld& world() { return *world_; }

 private:
  static inline TestWorld* world_ = nullptr;
};

}  // namespace vecmirror::service_test
