// Tests of the data generator: the shape of its vectors, the plan of a dataset, and loading it
// into PostgreSQL (with the pg_cluster fixture), checked against SQL and plain loops.
#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "tests/support/pg_env.h"
#include "tools/datagen/loader.h"
#include "tools/datagen/plan.h"
#include "tools/datagen/vector_space.h"

namespace vecmirror::datagen {
namespace {

using testing::QueryRows;
using testing::QueryValue;
using testing::Row;
using testing::ScratchDatabase;

double Dot(const std::vector<float>& a, const std::vector<float>& b) {
  double sum = 0;
  for (size_t i = 0; i < a.size(); ++i) sum += static_cast<double>(a[i]) * b[i];
  return sum;
}

double Norm(const std::vector<float>& a) { return std::sqrt(Dot(a, a)); }

double Cosine(const std::vector<float>& a, const std::vector<float>& b) {
  return Dot(a, b) / (Norm(a) * Norm(b));
}

double MeanPairwiseCosine(const std::vector<std::vector<float>>& vs) {
  double sum = 0;
  size_t pairs = 0;
  for (size_t i = 0; i < vs.size(); ++i) {
    for (size_t j = i + 1; j < vs.size(); ++j, ++pairs) sum += Cosine(vs[i], vs[j]);
  }
  return sum / pairs;
}

TEST(ClusteredVectorsTest, VectorsAndQueriesHaveUnitNorm) {
  for (uint32_t dim : {3u, 384u, 1536u}) {
    const ClusteredVectors space(dim, 8, 11);
    for (uint64_t key = 0; key < 50; ++key) {
      EXPECT_NEAR(Norm(space.Vector(key)), 1.0, 1e-5) << "dim " << dim << " key " << key;
      EXPECT_NEAR(Norm(space.Query(key)), 1.0, 1e-5) << "dim " << dim << " query " << key;
    }
  }
}

TEST(ClusteredVectorsTest, SameSeedAndKeyGiveTheSameVector) {
  const ClusteredVectors a(256, 8, 42), b(256, 8, 42), other_seed(256, 8, 43);
  for (uint64_t key : {0ull, 1ull, 99ull, ~0ull}) {
    EXPECT_EQ(a.Vector(key), b.Vector(key));
    EXPECT_EQ(a.Query(key), b.Query(key));
    EXPECT_EQ(a.ClusterOf(key), b.ClusterOf(key));
    EXPECT_NE(a.Vector(key), other_seed.Vector(key));
    EXPECT_NE(a.Vector(key), a.Query(key));
  }
  EXPECT_NE(a.Vector(1), a.Vector(2));
}

TEST(ClusteredVectorsTest, VectorsOfOneClusterAreCloserThanOthers) {
  const ClusteredVectors space(256, 6, 7);
  std::vector<std::vector<float>> vs;
  std::vector<uint32_t> cluster;
  for (uint64_t key = 0; key < 240; ++key) {
    vs.push_back(space.Vector(key));
    cluster.push_back(space.ClusterOf(key));
  }
  EXPECT_GE(std::set<uint32_t>(cluster.begin(), cluster.end()).size(), 5u);
  double intra = 0, inter = 0;
  size_t n_intra = 0, n_inter = 0;
  for (size_t i = 0; i < vs.size(); ++i) {
    for (size_t j = i + 1; j < vs.size(); ++j) {
      const double c = Cosine(vs[i], vs[j]);
      if (cluster[i] == cluster[j]) {
        intra += c, ++n_intra;
      } else {
        inter += c, ++n_inter;
      }
    }
  }
  intra /= n_intra;
  inter /= n_inter;
  // Default shape: about 0.75 within a cluster, 0.55 across.
  EXPECT_GT(intra - inter, 0.1) << "intra " << intra << " inter " << inter;
  EXPECT_GT(intra, 0.65);
  EXPECT_LT(intra, 0.85);
}

TEST(ClusteredVectorsTest, AllVectorsShareACommonDirection) {
  const ClusteredVectors space(384, 32, 3);
  std::vector<std::vector<float>> vs;
  for (uint64_t key = 0; key < 120; ++key) vs.push_back(space.Vector(key));
  const double mean = MeanPairwiseCosine(vs);
  EXPECT_GT(mean, 0.3);
  EXPECT_LT(mean, 0.9);

  // Without the common direction and clusters, the same check sees noise: the test can fail.
  const ClusteredVectors uniform(384, 32, 3, VectorShape{0.0, 0.0, 1.0});
  std::vector<std::vector<float>> noise;
  for (uint64_t key = 0; key < 120; ++key) noise.push_back(uniform.Vector(key));
  EXPECT_LT(std::abs(MeanPairwiseCosine(noise)), 0.05);
}

// Intra-cluster pairwise cosines of the first n vectors of `space`: their mean and standard
// deviation.
std::pair<double, double> IntraClusterCosines(const ClusteredVectors& space, uint64_t n) {
  std::vector<std::vector<float>> vs;
  for (uint64_t key = 0; key < n; ++key) vs.push_back(space.Vector(key));
  double sum = 0, sum2 = 0;
  size_t count = 0;
  for (uint64_t i = 0; i < n; ++i) {
    for (uint64_t j = i + 1; j < n; ++j) {
      if (space.ClusterOf(i) != space.ClusterOf(j)) continue;
      const double c = Cosine(vs[i], vs[j]);
      sum += c, sum2 += c * c, ++count;
    }
  }
  const double mean = sum / count;
  return {mean, std::sqrt(sum2 / count - mean * mean)};
}

TEST(ClusteredVectorsTest, TopicsSpreadNeighboursWithinACluster) {
  // The same variance inside a cluster, once along 16 topic directions and once as noise over
  // all 384 dimensions. Noise alone puts every pair of a cluster at about the same cosine;
  // topics make some pairs much closer than others, as in real embeddings.
  const VectorShape topical{.common = 1.0, .cluster = 0.64, .noise = 0.0625, .topic = 0.36,
                            .topic_rank = 16};
  const VectorShape isotropic{.common = 1.0, .cluster = 0.64, .noise = 0.0625 + 0.36};
  const auto [topical_mean, topical_spread] = IntraClusterCosines(ClusteredVectors(384, 4, 5, topical), 200);
  const auto [isotropic_mean, isotropic_spread] =
      IntraClusterCosines(ClusteredVectors(384, 4, 5, isotropic), 200);
  EXPECT_NEAR(topical_mean, isotropic_mean, 0.03);
  EXPECT_GT(topical_spread, 2.5 * isotropic_spread)
      << "topical " << topical_spread << " isotropic " << isotropic_spread;
  for (uint64_t key = 0; key < 20; ++key) {
    EXPECT_NEAR(Norm(ClusteredVectors(384, 4, 5, topical).Vector(key)), 1.0, 1e-5);
  }
}

TEST(ClusteredVectorsTest, SkewMakesClusterSizesFollowTheirWeights) {
  constexpr uint32_t kClusters = 8;
  constexpr uint64_t kVectors = 40000;
  const ClusteredVectors skewed(4, kClusters, 13, VectorShape{.cluster_skew = 0.5});
  const ClusteredVectors even(4, kClusters, 13);
  std::vector<uint64_t> skewed_count(kClusters), even_count(kClusters);
  for (uint64_t key = 0; key < kVectors; ++key) {
    ++skewed_count[skewed.ClusterOf(key)];
    ++even_count[even.ClusterOf(key)];
  }
  double total_weight = 0;
  for (uint32_t c = 0; c < kClusters; ++c) total_weight += 1 / std::sqrt(c + 1.0);
  for (uint32_t c = 0; c < kClusters; ++c) {
    // Within 5 standard deviations of a binomial count.
    const double p = 1 / std::sqrt(c + 1.0) / total_weight;
    const double sd = std::sqrt(kVectors * p * (1 - p));
    EXPECT_NEAR(skewed_count[c], kVectors * p, 5 * sd) << "cluster " << c;
    const double q = 1.0 / kClusters;
    EXPECT_NEAR(even_count[c], kVectors * q, 5 * std::sqrt(kVectors * q * (1 - q))) << "cluster " << c;
  }
}

TEST(ClusteredVectorsTest, QueriesLandInTheDataSpace) {
  const ClusteredVectors space(384, 16, ModelSpaceSeed(5, "all-MiniLM-L6-v2"));
  const ClusteredVectors other(384, 16, ModelSpaceSeed(6, "all-MiniLM-L6-v2"));
  double same = 0, foreign = 0;
  for (uint64_t k = 0; k < 40; ++k) {
    same += Cosine(space.Query(k), space.Vector(k + 1000));
    foreign += Cosine(other.Query(k), space.Vector(k + 1000));
  }
  EXPECT_GT(same / 40, 0.3);
  EXPECT_LT(std::abs(foreign / 40), 0.1);
}

TEST(VectorTextTest, RoundTripsEveryFloatExactly) {
  const ClusteredVectors space(64, 4, 9);
  const std::vector<float> v = space.Vector(3);
  std::string text;
  AppendVectorText(v.data(), v.size(), VectorColumn::kFloat4Array, &text);
  ASSERT_EQ(text.front(), '{');
  ASSERT_EQ(text.back(), '}');
  std::vector<float> back;
  for (const char* p = text.c_str() + 1; *p && *p != '}';) {
    char* end = nullptr;
    back.push_back(std::strtof(p, &end));
    p = *end == ',' ? end + 1 : end;
  }
  EXPECT_EQ(back, v);

  const float special[] = {1.5f, std::nanf(""), -INFINITY, 0.0f};
  std::string pgvector;
  AppendVectorText(special, 4, VectorColumn::kPgvector, &pgvector);
  EXPECT_EQ(pgvector, "[1.5,NaN,-Infinity,0]");
}

DatasetSpec SmallSpec() {
  DatasetSpec spec;
  spec.tenants = 2;
  spec.entities_per_tenant = 200;
  spec.models = {{"all-MiniLM-L6-v2", 384}, {"tiny-model", 16}};
  spec.versioned_share = 0.3;
  spec.deleted_share = 0.1;
  spec.pending_share = 0.1;
  spec.failed_share = 0.05;
  spec.bad_share = 0.1;
  spec.clusters = 8;
  spec.seed = 77;
  return spec;
}

TEST(PlanDatasetTest, SharesBecomeExactCountsPerTenant) {
  const DatasetSpec spec = SmallSpec();
  const DatasetPlan plan = PlanDataset(spec);
  ASSERT_EQ(plan.tenant_ids.size(), 2u);
  ASSERT_EQ(plan.entities.size(), 400u);
  // Stable ids: one embedding row per (entity, model).
  ASSERT_EQ(plan.embeddings.size(), 800u);

  for (uint32_t t = 0; t < 2; ++t) {
    std::map<std::string, int> types;
    int versioned = 0, deleted = 0;
    for (const PlannedEntity& e : plan.entities) {
      if (e.tenant != t) continue;
      ++types[e.type];
      versioned += e.versions.size() > 1;
      deleted += e.deleted_at != 0;
      for (const PlannedVersion& v : e.versions) EXPECT_EQ(v.id, e.current_id());
      EXPECT_EQ(e.versions.back().valid_to, 0);
      for (size_t v = 0; v + 1 < e.versions.size(); ++v) {
        EXPECT_EQ(e.versions[v].valid_to, e.versions[v + 1].valid_from);
      }
    }
    // 60/25/10/5 of 200.
    EXPECT_EQ(types["context"], 120);
    EXPECT_EQ(types["template"], 50);
    EXPECT_EQ(types["workflow"], 20);
    EXPECT_EQ(types["library"], 10);
    EXPECT_EQ(versioned, 60);
    EXPECT_EQ(deleted, 20);
  }
  for (uint32_t t = 0; t < 2; ++t) {
    for (uint32_t m = 0; m < 2; ++m) {
      std::map<std::string, int> statuses;
      int bad = 0, pending_with_vector = 0;
      for (const PlannedEmbedding& row : plan.embeddings) {
        if (plan.entities[row.entity].tenant != t || row.model != m) continue;
        ++statuses[row.status];
        bad += row.bad.has_value();
        pending_with_vector += row.status == "pending" && row.has_vector;
      }
      EXPECT_EQ(statuses["pending"], 20);
      EXPECT_EQ(statuses["failed"], 10);
      EXPECT_EQ(statuses["completed"], 170);
      EXPECT_EQ(bad, 20);
      EXPECT_EQ(pending_with_vector, 10);
    }
  }
}

TEST(PlanDatasetTest, IsDeterministicFromTheSeed) {
  DatasetSpec spec = SmallSpec();
  const DatasetPlan a = PlanDataset(spec), b = PlanDataset(spec);
  spec.seed = 78;
  const DatasetPlan c = PlanDataset(spec);
  EXPECT_EQ(a.tenant_ids, b.tenant_ids);
  EXPECT_NE(a.tenant_ids, c.tenant_ids);
  ASSERT_EQ(a.entities.size(), b.entities.size());
  for (size_t i = 0; i < a.entities.size(); ++i) {
    EXPECT_EQ(a.entities[i].current_id(), b.entities[i].current_id());
    EXPECT_EQ(a.entities[i].type, b.entities[i].type);
  }
  EXPECT_NE(a.entities[0].current_id(), c.entities[0].current_id());
}

TEST(PlanDatasetTest, IdPerVersionLinksVersionsAndGivesEachARow) {
  DatasetSpec spec = SmallSpec();
  spec.id_layout = IdLayout::kIdPerVersion;
  const DatasetPlan plan = PlanDataset(spec);
  size_t versions = 0;
  std::set<std::string> ids;
  for (const PlannedEntity& e : plan.entities) {
    versions += e.versions.size();
    EXPECT_TRUE(e.versions[0].previous_version_id.empty());
    for (size_t v = 1; v < e.versions.size(); ++v) {
      EXPECT_EQ(e.versions[v].previous_version_id, e.versions[v - 1].id);
    }
    for (const PlannedVersion& v : e.versions) ids.insert(v.id);
  }
  EXPECT_EQ(ids.size(), versions);
  EXPECT_EQ(plan.embeddings.size(), versions * spec.models.size());
  for (const PlannedEmbedding& row : plan.embeddings) {
    if (row.version + 1 < plan.entities[row.entity].versions.size()) {
      EXPECT_FALSE(row.searchable);
    }
  }
}

TEST(PlanDatasetTest, PgvectorColumnsGetNoNonFiniteRows) {
  const DatasetPlan plan = PlanDataset(SmallSpec(), /*allow_non_finite=*/false);
  int bad = 0;
  for (const PlannedEmbedding& row : plan.embeddings) {
    EXPECT_NE(row.bad, BadRowReason::kNonFinite);
    bad += row.bad.has_value();
  }
  EXPECT_EQ(bad, 80);
}

// FNV-1a over everything a plan decides and every vector it loads, for the pin below.
class Fingerprint {
 public:
  void Add(const void* data, size_t n) {
    const auto* bytes = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < n; ++i) hash_ = (hash_ ^ bytes[i]) * 0x100000001b3ULL;
  }
  template <typename T>
  void Add(const T& value) { Add(&value, sizeof value); }
  void Add(const std::string& text) { Add(text.data(), text.size() + 1); }
  void Add(const std::vector<float>& v) {
    Add(v.size());
    Add(v.data(), v.size() * sizeof(float));
  }
  uint64_t value() const { return hash_; }

 private:
  uint64_t hash_ = 0xcbf29ce484222325ULL;
};

uint64_t PlanFingerprint(const DatasetSpec& spec, bool allow_non_finite) {
  const DatasetPlan plan = PlanDataset(spec, allow_non_finite);
  Fingerprint f;
  for (const std::string& id : plan.tenant_ids) f.Add(id);
  for (const PlannedEntity& e : plan.entities) {
    f.Add(e.tenant), f.Add(e.type), f.Add(e.deleted_at);
    for (const PlannedVersion& v : e.versions) {
      f.Add(v.id), f.Add(v.version), f.Add(v.previous_version_id), f.Add(v.valid_from),
          f.Add(v.valid_to);
    }
  }
  std::vector<ClusteredVectors> spaces;
  for (const ModelDimension& m : spec.models) {
    spaces.emplace_back(m.dim, spec.clusters, ModelSpaceSeed(spec.seed, m.name), spec.shape);
  }
  for (const PlannedEmbedding& row : plan.embeddings) {
    f.Add(row.entity), f.Add(row.version), f.Add(row.model), f.Add(row.status);
    f.Add(row.has_vector), f.Add(row.bad.has_value() ? static_cast<int>(*row.bad) : -1);
    f.Add(row.bad_is_infinity), f.Add(row.vector_key), f.Add(row.searchable);
    f.Add(PlannedVector(plan, spaces[row.model], row));
  }
  return f.value();
}

// The rows and vectors of a seed are part of the generator's contract: demo data, benchmark
// figures and the integration tests' expectations are made from them. A change here changes
// every dataset; if it is meant, update the numbers and say so. The values hold for libstdc++,
// whose std::normal_distribution, std::shuffle and uniform_int_distribution the plan and the
// vectors draw through.
TEST(PlanDatasetTest, RowsAndVectorsOfASeedArePinned) {
#ifndef __GLIBCXX__
  GTEST_SKIP() << "pinned for libstdc++'s random distributions";
#endif
  DatasetSpec spec = SmallSpec();
  EXPECT_EQ(PlanFingerprint(spec, true), 0xf16cdff44c0315b9ULL);
  EXPECT_EQ(PlanFingerprint(spec, false), 0xb71fcc181d929861ULL);
  spec.id_layout = IdLayout::kIdPerVersion;
  EXPECT_EQ(PlanFingerprint(spec, true), 0x19ac8565a974c79aULL);
  Fingerprint f;
  const ClusteredVectors topical(
      64, 6, 3, VectorShape{.topic = 0.3, .topic_rank = 4, .cluster_skew = 0.5});
  for (uint64_t key = 0; key < 20; ++key) f.Add(topical.Vector(key)), f.Add(topical.Query(key));
  EXPECT_EQ(f.value(), 0xdee8aa0e455af3f1ULL);
}

// --- Loading into PostgreSQL -----------------------------------------------------------------

class LoadDatasetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    Status s = ScratchDatabase::CreateWithSchema(name, &db_);
    ASSERT_TRUE(s.ok()) << s.ToString();
    conn_.reset(PQconnectdb(db_->conninfo().c_str()));
    ASSERT_EQ(PQstatus(conn_.get()), CONNECTION_OK) << PQerrorMessage(conn_.get());
  }

  int64_t Count(const std::string& sql) {
    std::string value;
    Status s = QueryValue(db_->conninfo(), sql, &value);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return s.ok() ? std::stoll(value) : -1;
  }

  // Searchable rows per (tenant, model), by the contract's join and a validity check of the
  // vector written here, independent of the generator.
  std::map<std::pair<std::string, std::string>, uint64_t> SearchableBySql(
      const std::map<std::string, int>& dims) {
    std::vector<Row> rows;
    Status s = QueryRows(db_->conninfo(),
                         "SELECT e.tenant_id::text, emb.model, cardinality(emb.vector), "
                         "  bool_and(abs(x) < 'Infinity'::real), bool_or(x <> 0) "
                         "FROM embedding emb JOIN entity e ON e.id = emb.entity_id "
                         "  AND e.valid_to IS NULL AND e.deleted_at IS NULL "
                         "CROSS JOIN LATERAL unnest(emb.vector) AS x "
                         "WHERE emb.status = 'completed' "
                         "GROUP BY emb.id, 1, 2, 3",
                         &rows);
    EXPECT_TRUE(s.ok()) << s.ToString();
    std::map<std::pair<std::string, std::string>, uint64_t> counts;
    for (const Row& r : rows) {
      // PostgreSQL sorts NaN above Infinity, so abs(x) < Infinity rules out both.
      const bool finite = *r[3] == "t";
      const bool nonzero = *r[4] == "t";
      if (finite && nonzero && std::stoi(*r[2]) == dims.at(*r[1])) ++counts[{*r[0], *r[1]}];
    }
    return counts;
  }

  std::unique_ptr<ScratchDatabase> db_;
  std::unique_ptr<PGconn, decltype(&PQfinish)> conn_{nullptr, &PQfinish};
};

TEST_F(LoadDatasetTest, RowCountsPerTableAndStatusFollowTheSpec) {
  const DatasetSpec spec = SmallSpec();
  LoadStats stats;
  Status s = LoadDataset(conn_.get(), spec, LoadOptions{}, &stats);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(stats.column, VectorColumn::kFloat4Array);

  EXPECT_EQ(Count("SELECT count(*) FROM tenant"), 2);
  EXPECT_EQ(Count("SELECT count(*) FROM entity WHERE valid_to IS NULL"), 400);
  EXPECT_EQ(Count("SELECT count(DISTINCT id) FROM entity"), 400);
  EXPECT_EQ(Count("SELECT count(*) FROM entity WHERE valid_to IS NULL AND deleted_at IS NOT NULL"), 40);
  EXPECT_EQ(Count("SELECT count(*) FROM entity WHERE deleted_at IS NOT NULL AND valid_to IS NOT NULL"), 0);
  // 30% of 200 per tenant have 2 to 4 versions.
  EXPECT_EQ(Count("SELECT count(*) FROM (SELECT id FROM entity GROUP BY id HAVING count(*) > 1) v"), 120);
  const int64_t entity_rows = Count("SELECT count(*) FROM entity");
  EXPECT_GE(entity_rows, 400 + 120);
  EXPECT_LE(entity_rows, 400 + 120 * 3);
  EXPECT_EQ(static_cast<uint64_t>(entity_rows), stats.entity_rows);
  EXPECT_EQ(Count("SELECT count(*) FROM entity WHERE entity_type = 'library' AND valid_to IS NULL"), 20);

  EXPECT_EQ(Count("SELECT count(*) FROM embedding"), 800);
  // Per (tenant, model) of 200 rows: 10% pending, 5% failed; 4 groups.
  EXPECT_EQ(Count("SELECT count(*) FROM embedding WHERE status = 'pending'"), 80);
  EXPECT_EQ(Count("SELECT count(*) FROM embedding WHERE status = 'failed'"), 40);
  EXPECT_EQ(Count("SELECT count(*) FROM embedding WHERE status = 'completed'"), 680);
  EXPECT_EQ(Count("SELECT count(*) FROM embedding WHERE status = 'failed' AND vector IS NULL AND error IS NOT NULL"), 40);
  EXPECT_EQ(Count("SELECT count(*) FROM embedding WHERE status = 'pending' AND vector IS NOT NULL"), 40);
  EXPECT_EQ(stats.embeddings_by_status["completed"], 680u);

  // 10% bad of 200 = 20 per group, the five kinds in turn: 4 of each per group, 16 in all.
  EXPECT_EQ(Count("SELECT count(*) FROM embedding WHERE status = 'completed' AND vector IS NULL"), 16);
  EXPECT_EQ(Count("SELECT count(*) FROM embedding WHERE status = 'completed' AND 'NaN' = ANY (vector)"), 16);
  EXPECT_EQ(Count("SELECT count(*) FROM embedding WHERE 'Infinity' = ANY (vector)"), 16);
  EXPECT_EQ(Count("SELECT count(*) FROM embedding WHERE vector IS NOT NULL AND 0 = ALL (vector)"), 16);
  EXPECT_EQ(Count("SELECT count(*) FROM embedding WHERE (model = 'tiny-model' AND cardinality(vector) <> 16) "
                  "OR (model = 'all-MiniLM-L6-v2' AND cardinality(vector) <> 384)"),
            16);
}

TEST_F(LoadDatasetTest, SearchableRowsMatchTheContractsQuery) {
  for (IdLayout layout : {IdLayout::kStableId, IdLayout::kIdPerVersion}) {
    DatasetSpec spec = SmallSpec();
    spec.id_layout = layout;
    LoadOptions options;
    options.truncate = true;
    LoadStats stats;
    Status s = LoadDataset(conn_.get(), spec, options, &stats);
    ASSERT_TRUE(s.ok()) << s.ToString();
    const auto by_sql = SearchableBySql({{"all-MiniLM-L6-v2", 384}, {"tiny-model", 16}});
    EXPECT_EQ(stats.searchable, by_sql);
    ASSERT_EQ(by_sql.size(), 4u);
    for (const auto& [key, count] : by_sql) {
      // 200 entities, 20 deleted, 50 not completed or bad: at most 150 and at least 130 searchable.
      EXPECT_GE(count, 130u) << key.first << " " << key.second;
      EXPECT_LE(count, 150u) << key.first << " " << key.second;
    }
    DatabaseSummary summary;
    ASSERT_TRUE(SummarizeDatabase(conn_.get(), spec.models, &summary).ok());
    EXPECT_EQ(summary.searchable, by_sql);
    EXPECT_EQ(summary.rows_per_table["embedding"], stats.embedding_rows);
  }
}

TEST_F(LoadDatasetTest, StoredVectorsAreTheGeneratorsAndGroundTruthSearchAgrees) {
  const DatasetSpec spec = SmallSpec();
  LoadStats stats;
  ASSERT_TRUE(LoadDataset(conn_.get(), spec, LoadOptions{}, &stats).ok());
  const DatasetPlan plan = PlanDataset(spec);
  const ClusteredVectors space(384, spec.clusters, ModelSpaceSeed(spec.seed, "all-MiniLM-L6-v2"), spec.shape);

  // Exact top 10 for tenant 0, types {template, library}, by plain loops over the plan.
  const std::vector<float> query = space.Query(3);
  struct Hit {
    double similarity;
    std::string id;
  };
  std::vector<Hit> expected;
  for (const PlannedEmbedding& row : plan.embeddings) {
    const PlannedEntity& e = plan.entities[row.entity];
    if (row.model != 0 || e.tenant != 0 || !row.searchable) continue;
    if (e.type != "template" && e.type != "library") continue;
    expected.push_back({Cosine(PlannedVector(plan, space, row), query), e.current_id()});
  }
  ASSERT_GE(expected.size(), 10u);
  std::sort(expected.begin(), expected.end(), [](const Hit& a, const Hit& b) {
    return a.similarity > b.similarity || (a.similarity == b.similarity && a.id < b.id);
  });

  std::string query_text;
  AppendVectorText(query.data(), query.size(), VectorColumn::kFloat4Array, &query_text);
  std::vector<Row> rows;
  Status s = QueryRows(db_->conninfo(),
                       "SELECT entity_id::text, entity_type, similarity FROM vm_search_similar_entities('" +
                           plan.tenant_ids[0] + "', 'all-MiniLM-L6-v2', '" + query_text +
                           "'::real[], ARRAY['template', 'library'], 10)",
                       &rows);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(rows.size(), 10u);
  for (size_t i = 0; i < 10; ++i) {
    EXPECT_EQ(*rows[i][0], expected[i].id) << "rank " << i;
    EXPECT_TRUE(*rows[i][1] == "template" || *rows[i][1] == "library");
    EXPECT_NEAR(std::stod(*rows[i][2]), expected[i].similarity, 1e-9) << "rank " << i;
  }

  // One stored vector, read back as text, is the generator's vector exactly.
  const PlannedEmbedding* first = nullptr;
  for (const PlannedEmbedding& row : plan.embeddings) {
    if (row.model == 0 && row.searchable) {
      first = &row;
      break;
    }
  }
  ASSERT_NE(first, nullptr);
  std::string stored;
  ASSERT_TRUE(QueryValue(db_->conninfo(),
                         "SELECT vector::text FROM embedding WHERE model = 'all-MiniLM-L6-v2' AND entity_id = '" +
                             plan.entities[first->entity].current_id() + "'",
                         &stored)
                  .ok());
  std::vector<float> back;
  for (const char* p = stored.c_str() + 1; *p && *p != '}';) {
    char* end = nullptr;
    back.push_back(std::strtof(p, &end));
    p = *end == ',' ? end + 1 : end;
  }
  EXPECT_EQ(back, PlannedVector(plan, space, *first));
}

TEST_F(LoadDatasetTest, AFailedLoadWritesNothingAndTruncateReplaces) {
  const DatasetSpec spec = SmallSpec();
  LoadStats stats;
  ASSERT_TRUE(LoadDataset(conn_.get(), spec, LoadOptions{}, &stats).ok());
  // The same seed again collides on the tenant ids: the whole load rolls back.
  Status again = LoadDataset(conn_.get(), spec, LoadOptions{}, &stats);
  EXPECT_FALSE(again.ok());
  EXPECT_NE(again.message().find("23505"), std::string::npos) << again.ToString();
  EXPECT_EQ(Count("SELECT count(*) FROM embedding"), 800);

  LoadOptions truncate;
  truncate.truncate = true;
  ASSERT_TRUE(LoadDataset(conn_.get(), spec, truncate, &stats).ok());
  EXPECT_EQ(Count("SELECT count(*) FROM tenant"), 2);
  EXPECT_EQ(Count("SELECT count(*) FROM embedding"), 800);
}

TEST_F(LoadDatasetTest, SchemaIsIdempotentAndNeedsToBeThere) {
  EXPECT_TRUE(testing::LoadSchema(db_->conninfo()).ok());
  EXPECT_EQ(Count("SELECT count(*) FROM pg_publication_tables WHERE pubname = 'vecmirror'"), 2);
  ASSERT_TRUE(testing::ExecSql(db_->conninfo(), "DROP TABLE embedding").ok());
  LoadStats stats;
  EXPECT_EQ(LoadDataset(conn_.get(), SmallSpec(), LoadOptions{}, &stats).code(),
            Status::Code::kFailedPrecondition);
}

}  // namespace
}  // namespace vecmirror::datagen
