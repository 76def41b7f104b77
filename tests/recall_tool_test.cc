// vecmirror-recall (tools/recall): what the tool reports is checked against numbers computed
// here, independently of it.
// - A flat index reports recall 1.0 exactly, with filters whose shares are the test's counts.
// - A deliberately weak HNSW (M 4, ef_construction 8, tiny efSearch) reports recall below 1,
//   equal to the recall computed here against an Eigen brute force (tests/support/brute_force.h)
//   for the same queries, filters, efforts and k.
// - Over gRPC (a real server on 127.0.0.1:0 over a filled Registry) the tool reports what the
//   in-process source reports for the same indexes; its files are well formed.
// - On a snapshot directory (--snapshot: WriteSnapshot of Registry::Capture(), read back with
//   no service), the flat index reports 1.0 exactly and the weak HNSW below 1, each point equal
//   to the Eigen brute force's recall; a flipped byte or a truncated file is a clear error with
//   exit code 1.
// - --verify-sql against the real server on a scratch database finds exactly the divergence
//   planted in a second database (one entity's type changed), and none against the first.
// - The pure parts: query files, type filter choice, answer comparison, recall and percentiles.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "index/entity_index.h"
#include "index/registry.h"
#include "index/snapshot.h"
#include "tests/support/brute_force.h"
#include "tests/support/live_mirror.h"
#include "tests/support/service_test_fixture.h"
#include "tests/support/vector_stream.h"
#include "tools/recall/in_process_source.h"
#include "tools/recall/measure.h"
#include "tools/recall/query_file.h"
#include "tools/recall/recall_cli.h"
#include "tools/recall/report_output.h"
#include "tools/recall/sql_check.h"
#include "tools/recall/type_filters.h"

namespace vecmirror::recall {
namespace {

using testing::BruteForceTopK;
using testing::Dataset;
using testing::OracleHit;
using testing::OracleQuery;

// ---- an index built by the test, with its own record of what it holds --------------------------

struct TestIndex {
  std::shared_ptr<EntityIndex> index;
  EntityTypeDictionary types;
  std::map<Uuid, std::pair<EntityTypeCode, std::vector<float>>> rows;  // the test's record
  Dataset dataset;  // the same rows for the Eigen brute force
};

Uuid RandomUuid(std::mt19937_64& rng) {
  Uuid u;
  for (auto& b : u.bytes) b = static_cast<uint8_t>(rng());
  return u;
}

// `type_counts` rows of each type, clustered unit vectors of `dim`, in one index.
std::unique_ptr<TestIndex> BuildIndex(const IndexOptions& options, size_t dim,
                                      const std::vector<std::pair<std::string, size_t>>& type_counts,
                                      uint64_t seed) {
  auto t = std::make_unique<TestIndex>();
  t->index = std::make_shared<EntityIndex>(IndexKey{Uuid{}, "test-model", uint32_t(dim)}, options);
  testing::VectorStream vectors(dim, 20, seed);
  std::mt19937_64 rng(seed);
  std::vector<IndexWrite> writes;
  for (const auto& [type, count] : type_counts) {
    const EntityTypeCode code = *t->types.Intern(type);
    for (size_t i = 0; i < count; ++i) {
      std::vector<float> v(dim);
      vectors.Next(v.data());
      IndexWrite w;
      w.op = IndexWrite::Op::kUpsert;
      w.entity_id = RandomUuid(rng);
      w.type = code;
      w.vector = v;
      t->rows[w.entity_id] = {code, v};
      writes.push_back(std::move(w));
    }
  }
  t->index->Apply(writes, 0x100);
  if (options.forced_kind) {
    EXPECT_TRUE(t->index->Rebuild(*options.forced_kind).ok());
  }
  Dataset& data = t->dataset;
  data.vectors.resize(Eigen::Index(t->rows.size()), Eigen::Index(dim));
  Eigen::Index r = 0;
  for (const auto& [id, row] : t->rows) {
    data.vectors.row(r++) = Eigen::Map<const Eigen::RowVectorXf>(row.second.data(), Eigen::Index(dim));
    data.ids.push_back(id);
    data.types.push_back(row.first);
  }
  return t;
}

RecallReport Measure(IndexSource& source, const RecallOptions& options,
                     std::vector<IndexPlan>* plan) {
  RecallReport report;
  Status s = PlanRecall(source, options, nullptr, plan);
  EXPECT_TRUE(s.ok()) << s.ToString();
  s = MeasureRecall(source, *plan, options, nullptr, &report);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return report;
}

// The recall of one point, computed here: the engine's approximate answer for each planned
// query against the Eigen brute force's exact one.
double IndependentRecall(const TestIndex& t, const IndexPlan& plan, const QueryVectors* file,
                         const TypeFilter& filter, const SearchEffort& effort, size_t k) {
  std::optional<std::vector<uint8_t>> codes;
  TypeMask mask = TypeMask::All();
  if (!filter.types.empty()) {
    codes.emplace();
    mask = TypeMask::None();
    for (const std::string& name : filter.types) {
      codes->push_back(*t.types.Find(name));
      mask.Add(*t.types.Find(name));
    }
  }
  double sum = 0;
  for (const PlannedQuery& q : plan.queries) {
    // "More like this" searches with the stored vector, as the tool's query does.
    std::vector<float> vector = q.entity_id
        ? *t.index->VectorOf(*q.entity_id)
        : std::vector<float>(file->row(q.file_row), file->row(q.file_row) + file->dim);
    SearchQuery query;
    query.vector = vector;
    query.types = mask;
    query.limit = k;
    query.exclude = q.entity_id;
    query.effort = effort;
    const SearchResult found = t.index->Search(query);
    const std::vector<OracleHit> truth =
        BruteForceTopK(t.dataset, vector.data(), OracleQuery{codes, k, std::nullopt, q.entity_id});
    if (truth.empty()) {
      sum += 1.0;
      continue;
    }
    size_t hit = 0;
    for (const OracleHit& h : truth) {
      for (const Hit& f : found.hits) hit += f.entity_id == h.id ? 1 : 0;
    }
    sum += double(hit) / double(truth.size());
  }
  return sum / double(plan.queries.size());
}

const std::vector<std::pair<std::string, size_t>> kTypeCounts = {
    {"context", 600}, {"template", 250}, {"workflow", 100}, {"library", 45}, {"prompt", 5}};

// ---- the measurement against indexes held in this process ---------------------------------------

TEST(RecallToolTest, FlatIndexReportsRecallExactlyOne) {
  IndexOptions options;
  options.forced_kind = IndexKind::kFlat;
  auto t = BuildIndex(options, 64, kTypeCounts, 11);
  InProcessSource source;
  source.Add(t->index, &t->types);

  RecallOptions recall;
  recall.queries = 120;
  std::vector<IndexPlan> plan;
  const RecallReport report = Measure(source, recall, &plan);

  ASSERT_EQ(report.indexes.size(), 1u);
  const IndexResult& index = report.indexes[0];
  EXPECT_TRUE(index.census_complete);
  EXPECT_EQ(index.census_entities, 1000u);
  EXPECT_EQ(index.queries, 120u);
  // 50%: context alone (60%) is nearest; 5%: library + prompt (50 rows) exactly; 0.5%: prompt.
  ASSERT_EQ(index.filters.size(), 4u);
  EXPECT_EQ(index.filters[0].Label(), "all");
  EXPECT_EQ(index.filters[1].types, std::vector<std::string>{"context"});
  EXPECT_DOUBLE_EQ(index.filters[1].share, 0.6);
  EXPECT_EQ(index.filters[2].types, (std::vector<std::string>{"library", "prompt"}));
  EXPECT_DOUBLE_EQ(index.filters[2].share, 0.05);
  EXPECT_EQ(index.filters[3].types, std::vector<std::string>{"prompt"});
  EXPECT_DOUBLE_EQ(index.filters[3].share, 0.005);
  EXPECT_TRUE(index.notes.empty());

  // One effort (flat) x 3 k x 4 filters, every one exactly 1.0.
  ASSERT_EQ(report.points.size(), 12u);
  for (const PointResult& p : report.points) {
    EXPECT_EQ(p.recall, 1.0) << index.filters[p.filter].Label() << " k=" << p.k;
    EXPECT_EQ(p.effort_label, "flat");
    EXPECT_EQ(p.queries, 120u);
    EXPECT_EQ(p.errors, 0u);
    EXPECT_GT(p.qps, 0);
    EXPECT_LE(p.p50_ms, p.p99_ms);
  }
}

TEST(RecallToolTest, WeakHnswRecallMatchesAnEigenBruteForce) {
  IndexOptions options;
  options.forced_kind = IndexKind::kHnsw;
  options.hnsw_m = 4;
  options.hnsw_ef_construction = 8;
  // ANN for every filter but the rarest (5 rows), which the engine scans exactly.
  options.exact_max_allowed_rows = 20;
  options.exact_max_allowed_share = 0.01;
  auto t = BuildIndex(options, 64, kTypeCounts, 12);
  ASSERT_EQ(t->index->Stats().kind, IndexKind::kHnsw);
  InProcessSource source;
  source.Add(t->index, &t->types);

  RecallOptions recall;
  recall.queries = 80;
  recall.ks = {1, 10};
  recall.ef_search = {1, 4, 16};
  recall.seed = 5;

  // Leave-one-out queries, then a query file's vectors.
  testing::VectorStream other(64, 20, 12);  // the same space, vectors not in the index
  QueryVectors file;
  file.dim = 64;
  file.values.resize(40 * 64);
  for (size_t i = 0; i < 40; ++i) other.Next(file.values.data() + i * 64);

  for (const QueryVectors* queries : std::vector<const QueryVectors*>{nullptr, &file}) {
    SCOPED_TRACE(queries ? "file queries" : "leave-one-out");
    recall.query_vectors = queries;
    std::vector<IndexPlan> plan;
    const RecallReport report = Measure(source, recall, &plan);
    ASSERT_EQ(plan.size(), 1u);
    ASSERT_EQ(plan[0].queries.size(), queries ? 40u : 80u);
    const IndexResult& index = report.indexes[0];
    ASSERT_EQ(report.points.size(), index.filters.size() * 3 * 2);
    double lowest = 1;
    for (const PointResult& p : report.points) {
      const double expected = IndependentRecall(*t, plan[0], queries, index.filters[p.filter],
                                                p.effort, p.k);
      EXPECT_NEAR(p.recall, expected, 1e-12)
          << index.filters[p.filter].Label() << " " << p.effort_label << " k=" << p.k;
      lowest = std::min(lowest, p.recall);
    }
    EXPECT_LT(lowest, 1.0) << "a weak HNSW at ef 1 should miss neighbours";
    // The rarest type is scanned exactly: recall 1 and every answer exact.
    for (const PointResult& p : report.points) {
      if (index.filters[p.filter].types == std::vector<std::string>{"prompt"}) {
        EXPECT_EQ(p.recall, 1.0);
        EXPECT_EQ(p.exact_share, 1.0);
      }
    }
  }
}

// ---- over gRPC -----------------------------------------------------------------------------------

// A minimal well-formedness check: every tag closes in order, attributes are quoted.
bool WellFormedXml(const std::string& xml, std::string* why) {
  std::vector<std::string> open;
  size_t pos = 0;
  while ((pos = xml.find('<', pos)) != std::string::npos) {
    const size_t end = xml.find('>', pos);
    if (end == std::string::npos) return *why = "unterminated tag", false;
    std::string tag = xml.substr(pos + 1, end - pos - 1);
    pos = end + 1;
    if (tag.empty()) return *why = "empty tag", false;
    if (tag[0] == '?' || tag[0] == '!') continue;
    if (std::count(tag.begin(), tag.end(), '"') % 2 != 0) return *why = "odd quotes in " + tag, false;
    if (tag[0] == '/') {
      const std::string name = tag.substr(1);
      if (open.empty() || open.back() != name) return *why = "unexpected </" + name + ">", false;
      open.pop_back();
      continue;
    }
    const bool self_closing = tag.back() == '/';
    const std::string name = tag.substr(0, tag.find_first_of(" /\n"));
    if (!self_closing) open.push_back(name);
  }
  if (!open.empty()) return *why = "unclosed <" + open.back() + ">", false;
  return true;
}

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) ++n;
  return n;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

struct CliRun {
  int code = -1;
  std::string out, err;
};

CliRun RunTool(const std::vector<std::string>& args) {
  std::vector<const char*> argv = {"vecmirror-recall"};
  for (const std::string& a : args) argv.push_back(a.c_str());
  std::ostringstream out, err;
  CliRun run;
  run.code = RunRecall(int(argv.size()), argv.data(), out, err);
  run.out = out.str();
  run.err = err.str();
  return run;
}

std::string ScratchDir(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("vecmirror-recall-test-" + std::to_string(getpid()) + "-" + name);
  std::filesystem::remove_all(dir);
  return dir.string();
}

TEST(RecallToolTest, GrpcSourceAgreesWithTheInProcessSource) {
  service_test::TestWorld world;
  // Tenant A's two indexes become HNSW (M 32 over 230 rows): flat and HNSW curves both.
  for (const char* model : {service_test::kMiniLm, service_test::kSmall}) {
    const uint32_t dim = model == std::string(service_test::kMiniLm) ? service_test::kMiniLmDim
                                                                      : service_test::kSmallDim;
    auto index = world.registry.Find(IndexKey{world.tenant_a, model, dim});
    ASSERT_NE(index, nullptr);
    ASSERT_TRUE(index->Rebuild(IndexKind::kHnsw).ok());
  }
  const std::string dir = ScratchDir("grpc");
  const CliRun run = RunTool({"--server", world.address(), "--out-dir", dir, "--progress", "lines",
                              "--queries", "40", "--ef-search", "1,8,64", "--seed", "7",
                              "--selectivity", "50%,5%", "--runs", "2"});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_NE(run.out.find("recall@100"), std::string::npos) << run.out;
  EXPECT_NE(run.err.find("measuring"), std::string::npos) << "progress lines: " << run.err;

  // The same measurement in-process.
  RecallOptions options;
  options.queries = 40;
  options.ef_search = {1, 8, 64};
  options.seed = 7;
  options.selectivities = {0.5, 0.05};
  auto source = InProcessSource::FromRegistry(world.registry);
  std::vector<IndexPlan> plan;
  const RecallReport local = Measure(*source, options, &plan);

  const nlohmann::json remote = nlohmann::json::parse(ReadFile(dir + "/recall.json"));
  ASSERT_EQ(remote["indexes"].size(), local.indexes.size());
  ASSERT_EQ(local.indexes.size(), 4u);
  for (size_t i = 0; i < local.indexes.size(); ++i) {
    const auto& r = remote["indexes"][i];
    const IndexResult& l = local.indexes[i];
    EXPECT_EQ(r["tenant_id"], l.index.key.tenant_id.ToString());
    EXPECT_EQ(r["model"], l.index.key.model);
    EXPECT_EQ(r["kind"], IndexKindName(l.index.kind));
    EXPECT_EQ(r["census"]["entities"], l.census_entities);
    EXPECT_TRUE(r["census"]["complete"].get<bool>()) << "230 rows: one search lists them all";
    ASSERT_EQ(r["filters"].size(), l.filters.size());
    for (size_t f = 0; f < l.filters.size(); ++f) {
      EXPECT_EQ(r["filters"][f]["label"], l.filters[f].Label());
      EXPECT_DOUBLE_EQ(r["filters"][f]["share"].get<double>(), l.filters[f].share);
    }
  }
  ASSERT_EQ(remote["points"].size(), local.points.size());
  size_t hnsw_points = 0;
  for (size_t i = 0; i < local.points.size(); ++i) {
    const auto& r = remote["points"][i];
    const PointResult& l = local.points[i];
    EXPECT_EQ(r["index"], l.index);
    EXPECT_EQ(r["filter"], l.filter);
    EXPECT_EQ(r["effort"], l.effort_label);
    EXPECT_EQ(r["k"], l.k);
    EXPECT_DOUBLE_EQ(r["recall"].get<double>(), l.recall) << "point " << i;
    EXPECT_DOUBLE_EQ(r["exact_share"].get<double>(), l.exact_share) << "point " << i;
    EXPECT_EQ(r["runs"], 2);
    hnsw_points += l.effort.ef_search > 0 ? 1 : 0;
  }
  EXPECT_GT(hnsw_points, 0u);

  // The files: one CSV row per point, and an SVG with one polyline per kind (flat, hnsw).
  const std::string csv = ReadFile(dir + "/recall.csv");
  EXPECT_EQ(Count(csv, "\n"), local.points.size() + 1);
  const std::string svg = ReadFile(dir + "/recall.svg");
  EXPECT_NE(svg.find("<svg"), std::string::npos);
  EXPECT_EQ(Count(svg, "<polyline"), 2u);
  EXPECT_EQ(Count(svg, "<path"), 0u);
  EXPECT_NE(svg.find("hnsw (2 indexes)"), std::string::npos);
  EXPECT_NE(svg.find("flat (2 indexes)"), std::string::npos);
  EXPECT_NE(svg.find("Recall@10"), std::string::npos);
  std::string why;
  EXPECT_TRUE(WellFormedXml(svg, &why)) << why;
  std::filesystem::remove_all(dir);
}

TEST(RecallToolTest, FlagLimitsAreCheckedOnePastEach) {
  service_test::TestWorld world;
  const std::string dir = ScratchDir("limits");
  const std::vector<std::string> base = {"--server", world.address(), "--out-dir", dir,
                                         "--queries", "2", "--warmup", "0",
                                         "--model", service_test::kMiniLm};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = base;
    args.insert(args.end(), extra.begin(), extra.end());
    for (const char* flag : {"--selectivity", "--progress"}) {
      if (std::find(extra.begin(), extra.end(), flag) != extra.end()) continue;
      args.insert(args.end(), {flag, "none"});
    }
    return RunTool(args);
  };
  CliRun run = with({"--k", "1000"});
  EXPECT_EQ(run.code, 0) << run.err;
  // On a terminal (forced here): one line redrawn in place, with the count and the time left.
  run = with({"--progress", "bar"});
  EXPECT_EQ(run.code, 0) << run.err;
  EXPECT_NE(run.err.find("\r["), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("searches"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("ETA"), std::string::npos) << run.err;
  run = with({"--k", "1001"});
  EXPECT_EQ(run.code, kExitLocalError);
  EXPECT_NE(run.err.find("--k 1001: expected 1 to 1000"), std::string::npos) << run.err;
  run = with({"--k", "0"});
  EXPECT_EQ(run.code, kExitLocalError);
  run = with({"--ef-search", "4096"});
  EXPECT_EQ(run.code, 0) << run.err;
  run = with({"--ef-search", "4097"});
  EXPECT_EQ(run.code, kExitLocalError);
  EXPECT_NE(run.err.find("--ef-search 4097"), std::string::npos) << run.err;
  run = with({"--nprobe", "65537"});
  EXPECT_EQ(run.code, kExitLocalError);
  run = with({"--selectivity", "100%"});
  EXPECT_EQ(run.code, kExitLocalError);
  EXPECT_NE(run.err.find("--selectivity 100%"), std::string::npos) << run.err;
  run = with({"--tenant", "not-a-uuid"});
  EXPECT_EQ(run.code, kExitLocalError);
  // A tenant without indexes: nothing to measure.
  run = with({"--tenant", "00000000-0000-0000-0000-000000000001"});
  EXPECT_EQ(run.code, kExitSourceError);
  EXPECT_NE(run.err.find("holds no index matching"), std::string::npos) << run.err;
  // No server there.
  run = RunTool({"--server", "127.0.0.1:1", "--timeout-ms", "2000", "--progress", "none",
                 "--out-dir", dir});
  EXPECT_EQ(run.code, kExitSourceError);
  EXPECT_NE(run.err.find("UNAVAILABLE"), std::string::npos) << run.err;
  std::filesystem::remove_all(dir);
}

// ---- offline, on a snapshot directory (--snapshot) ------------------------------------------

// A Registry holding a flat index (tenant 1: 300 rows) and a deliberately weak HNSW (tenant 2:
// 6,000 rows, M 4, ef_construction 8; above the default policy's 5,000-row exact-scan bound, so
// its unfiltered searches are approximate), and the test's own record of every row. The
// snapshot is WriteSnapshot of Registry::Capture(), as the service's snapshotter writes it.
struct SnapshotWorld {
  static constexpr size_t kDim = 32;
  Uuid flat_tenant, hnsw_tenant;
  std::map<Uuid, std::map<Uuid, std::pair<std::string, std::vector<float>>>> rows;  // by tenant

  Status Write(const std::string& root) {
    IndexOptions options;
    options.hnsw_m = 4;
    options.hnsw_ef_construction = 8;
    Registry registry(options);
    flat_tenant.bytes[15] = 1;
    hnsw_tenant.bytes[15] = 2;
    testing::VectorStream vectors(kDim, 20, 21);
    std::mt19937_64 rng(21);
    uint64_t lsn = 0x200;
    for (const auto& [tenant, count] : {std::pair{flat_tenant, 300}, std::pair{hnsw_tenant, 6000}}) {
      std::vector<KeyedWrite> writes;
      for (int i = 0; i < count; ++i) {
        const std::string type = i % 4 == 0 ? "template" : "context";
        std::vector<float> v(kDim);
        vectors.Next(v.data());
        IndexWrite w;
        w.entity_id = RandomUuid(rng);
        w.type = *registry.types().Intern(type);
        w.vector = v;
        rows[tenant][w.entity_id] = {type, v};
        writes.push_back(KeyedWrite{IndexKey{tenant, "test-model", uint32_t(kDim)}, std::move(w)});
      }
      registry.ApplyTransaction(writes, lsn += 0x10);
    }
    registry.Rebuild(flat_tenant, "", IndexKind::kFlat);
    const std::vector<IndexInfo> hnsw = registry.Rebuild(hnsw_tenant, "", IndexKind::kHnsw);
    if (hnsw.size() != 1 || hnsw[0].stats.kind != IndexKind::kHnsw) {
      return Status::Internal("the weak HNSW was not built");
    }
    RegistryImage image = registry.Capture();
    SnapshotCut cut;
    cut.source = SnapshotSource{"7311111111111111111", "recall_db", "recall_slot", "recall_pub"};
    cut.lsn = image.lsn;
    cut.type_names = image.type_names;
    cut.indexes = std::move(image.indexes);
    cut.mirror_state = "opaque";
    std::string path;
    return WriteSnapshot(root, cut, SnapshotWriteOptions{}, &path);
  }
};

TEST(RecallToolTest, SnapshotDirectoryMatchesAnEigenBruteForce) {
  const std::string root = ScratchDir("snapshot");
  const std::string out_dir = ScratchDir("snapshot-out");
  SnapshotWorld world;
  ASSERT_TRUE(world.Write(root).ok());

  const CliRun run = RunTool({"--snapshot", root, "--out-dir", out_dir, "--queries", "60",
                              "--k", "1,10", "--ef-search", "1,4,16", "--selectivity", "none",
                              "--warmup", "0", "--seed", "9", "--progress", "none"});
  ASSERT_EQ(run.code, 0) << run.err;
  const nlohmann::json report = nlohmann::json::parse(ReadFile(out_dir + "/recall.json"));
  EXPECT_EQ(report["source"].get<std::string>().rfind("snapshot " + root + "/snapshot-", 0), 0u)
      << report["source"];
  ASSERT_EQ(report["indexes"].size(), 2u);

  // The same snapshot, loaded here; the same plan (same census, seed and count of queries).
  LoadedSnapshot loaded;
  ASSERT_TRUE(LoadNewestSnapshotOfAnySource(root, IndexOptions{}, &loaded, nullptr).ok());
  ASSERT_EQ(loaded.indexes.size(), 2u);
  std::map<Uuid, std::unique_ptr<TestIndex>> tested;  // by tenant
  InProcessSource source;
  for (std::unique_ptr<EntityIndex>& index : loaded.indexes) {
    auto t = std::make_unique<TestIndex>();
    const Uuid tenant = index->key().tenant_id;
    t->index = std::move(index);
    ASSERT_TRUE(t->types.Restore(loaded.type_names));
    const auto& record = world.rows[tenant];
    t->dataset.vectors.resize(Eigen::Index(record.size()), Eigen::Index(SnapshotWorld::kDim));
    Eigen::Index r = 0;
    for (const auto& [id, row] : record) {
      t->rows[id] = {*t->types.Find(row.first), row.second};
      t->dataset.vectors.row(r++) =
          Eigen::Map<const Eigen::RowVectorXf>(row.second.data(), Eigen::Index(row.second.size()));
      t->dataset.ids.push_back(id);
      t->dataset.types.push_back(*t->types.Find(row.first));
    }
    source.Add(t->index, &t->types);
    tested[tenant] = std::move(t);
  }
  RecallOptions options;
  options.queries = 60;
  options.ks = {1, 10};
  options.ef_search = {1, 4, 16};
  options.selectivities = {};
  options.seed = 9;
  std::vector<IndexPlan> plan;
  ASSERT_TRUE(PlanRecall(source, options, nullptr, &plan).ok());
  ASSERT_EQ(plan.size(), 2u);

  std::map<std::string, size_t> points_of_kind;
  double lowest_hnsw = 1;
  for (const nlohmann::json& point : report["points"]) {
    const size_t i = point["index"].get<size_t>();
    const nlohmann::json& index = report["indexes"][i];
    const Uuid tenant = *Uuid::Parse(index["tenant_id"].get<std::string>());
    ASSERT_EQ(plan[i].result.index.key.tenant_id, tenant);
    const std::string kind = index["kind"];
    SearchEffort effort;
    effort.ef_search = point["ef_search"].get<int>();
    const size_t k = point["k"].get<size_t>();
    const double recall = point["recall"].get<double>();
    const double expected =
        IndependentRecall(*tested[tenant], plan[i], nullptr, TypeFilter{}, effort, k);
    EXPECT_NEAR(recall, expected, 1e-12) << kind << " " << point["effort"] << " k=" << k;
    EXPECT_EQ(point["queries"].get<size_t>(), 60u);
    ++points_of_kind[kind];
    if (tenant == world.flat_tenant) {
      EXPECT_EQ(kind, "flat");
      EXPECT_EQ(recall, 1.0) << "k=" << k;  // exactly
    } else {
      EXPECT_EQ(kind, "hnsw");
      lowest_hnsw = std::min(lowest_hnsw, recall);
    }
  }
  EXPECT_EQ(points_of_kind["flat"], 2u);      // one effort x 2 k
  EXPECT_EQ(points_of_kind["hnsw"], 3u * 2);  // 3 efSearch x 2 k
  EXPECT_LT(lowest_hnsw, 1.0) << "a weak HNSW at ef 1 should miss neighbours";
  std::filesystem::remove_all(root);
  std::filesystem::remove_all(out_dir);
}

TEST(RecallToolTest, UnusableSnapshotIsAClearError) {
  const std::string root = ScratchDir("bad-snapshot");
  const std::string out_dir = ScratchDir("bad-snapshot-out");
  const std::vector<std::string> args = {"--snapshot", root, "--out-dir", out_dir,
                                         "--queries", "5", "--warmup", "0",
                                         "--selectivity", "none", "--progress", "none"};
  // Nothing there yet.
  CliRun run = RunTool(args);
  EXPECT_EQ(run.code, kExitSourceError);
  EXPECT_NE(run.err.find("error: no snapshot under " + root), std::string::npos) << run.err;

  SnapshotWorld world;
  ASSERT_TRUE(world.Write(root).ok());
  const std::vector<std::string> snapshots = ListSnapshots(root);
  ASSERT_EQ(snapshots.size(), 1u);
  const std::string file = snapshots[0] + "/index-00001.vmi";
  const auto size = std::filesystem::file_size(file);
  {
    // One flipped byte in the middle of the HNSW's file.
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(std::streamoff(size / 2));
    char c = 0;
    f.read(&c, 1);
    c = char(c ^ 0x40);
    f.seekp(std::streamoff(size / 2));
    f.write(&c, 1);
  }
  run = RunTool(args);
  EXPECT_EQ(run.code, kExitSourceError);
  EXPECT_NE(run.err.find("no usable snapshot under " + root + " (1 rejected)"), std::string::npos)
      << run.err;
  EXPECT_NE(run.err.find("rejected " + snapshots[0] + ": checksum mismatch in file index-00001.vmi"),
            std::string::npos)
      << run.err;
  EXPECT_FALSE(std::filesystem::exists(out_dir + "/recall.json"));

  // Truncated instead.
  std::filesystem::resize_file(file, size / 2);
  run = RunTool(args);
  EXPECT_EQ(run.code, kExitSourceError);
  EXPECT_NE(run.err.find("truncated file index-00001.vmi"), std::string::npos) << run.err;

  // --snapshot and --server together: one source or the other.
  run = RunTool({"--snapshot", root, "--server", "127.0.0.1:1"});
  EXPECT_NE(run.code, 0);
  EXPECT_NE(run.err.find("excludes"), std::string::npos) << run.err;
  std::filesystem::remove_all(root);
  std::filesystem::remove_all(out_dir);
}

// ---- --verify-sql against PostgreSQL ----------------------------------------------------------

constexpr char kModel[] = "all-MiniLM-L6-v2";
constexpr uint32_t kDim = 384;

struct SqlRow {
  Uuid id;
  std::string type;
  std::vector<float> vector;  // as written (not normalized)
};

// One tenant's entities and their completed embeddings, in one transaction.
Status WriteRows(testing::SqlSession& sql, const Uuid& tenant, const std::vector<SqlRow>& rows) {
  std::string statement = "BEGIN; INSERT INTO tenant (id, name) VALUES (" +
                          testing::Quote(tenant.ToString()) + ", 'recall');";
  statement += "INSERT INTO entity (id, tenant_id, entity_type) VALUES ";
  for (size_t i = 0; i < rows.size(); ++i) {
    statement += (i ? "," : "") + std::string("(") + testing::Quote(rows[i].id.ToString()) + ", " +
                 testing::Quote(tenant.ToString()) + ", " + testing::Quote(rows[i].type) + ")";
  }
  statement += "; INSERT INTO embedding (entity_id, model, vector, status) VALUES ";
  for (size_t i = 0; i < rows.size(); ++i) {
    statement += (i ? "," : "") + std::string("(") + testing::Quote(rows[i].id.ToString()) +
                 ", " + testing::Quote(kModel) + ", " + testing::VectorSql(rows[i].vector) +
                 ", 'completed')";
  }
  statement += "; COMMIT;";
  return sql.Exec(statement);
}

double Cosine(const std::vector<float>& a, const std::vector<float>& b) {
  double dot = 0, na = 0, nb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    dot += double(a[i]) * b[i];
    na += double(a[i]) * a[i];
    nb += double(b[i]) * b[i];
  }
  return dot / std::sqrt(na * nb);
}

TEST(RecallToolTest, VerifySqlFindsExactlyThePlantedDivergence) {
  std::mt19937_64 rng(2024);
  const Uuid tenant = RandomUuid(rng);
  std::vector<SqlRow> rows;
  const char* const types[] = {"context", "template", "workflow"};
  for (size_t i = 0; i < 300; ++i) {
    rows.push_back({RandomUuid(rng), types[i % 3], testing::RandomVector(rng, kDim)});
  }

  // Database A, followed by the real server; database B, the same rows with one entity's
  // type changed: the service holds A's answer, B's SQL another.
  testing::LiveMirror mirror;
  ASSERT_TRUE(mirror.Create("recall_a").ok());
  {
    testing::SqlSession sql(mirror.conninfo());
    ASSERT_TRUE(WriteRows(sql, tenant, rows).ok());
  }
  const Status started = mirror.StartServer();
  ASSERT_TRUE(started.ok()) << started.ToString();
  std::unique_ptr<testing::ScratchDatabase> b;
  ASSERT_TRUE(testing::ScratchDatabase::CreateWithSchema("recall_b", &b).ok());
  const SqlRow& planted = rows[0];  // a "context"
  ASSERT_EQ(planted.type, "context");
  {
    testing::SqlSession sql(b->conninfo());
    ASSERT_TRUE(WriteRows(sql, tenant, rows).ok());
    ASSERT_TRUE(sql.Exec("UPDATE entity SET entity_type = 'workflow' WHERE id = " +
                         testing::Quote(planted.id.ToString()))
                    .ok());
  }
  const std::string server = mirror.server().address();

  // Against A itself: leave-one-out queries, every exact answer equals SQL's.
  const std::string dir = ScratchDir("verify");
  CliRun run = RunTool({"--server", server, "--out-dir", dir, "--progress", "none", "--queries",
                        "30", "--k", "1,10", "--ef-search", "16", "--verify-sql",
                        mirror.conninfo(), "--verify-queries", "30"});
  ASSERT_EQ(run.code, 0) << run.out << run.err;
  nlohmann::json report = nlohmann::json::parse(ReadFile(dir + "/recall.json"));
  EXPECT_EQ(report["verification"]["queries"], 30);
  EXPECT_EQ(report["verification"]["divergences"].size(), 0u);
  EXPECT_NE(run.out.find("0 divergences"), std::string::npos) << run.out;

  // Against B: queries from a file (the planted entity's own vector first, then others'), and
  // the divergences expected from the test's own cosine ranking of the rows.
  const size_t k = 10;
  std::vector<size_t> query_rows = {0, 5, 17, 42, 99, 150, 201, 299};
  const std::string query_file = dir + "-queries.txt";
  {
    std::ofstream out(query_file);
    for (size_t r : query_rows) out << testing::VectorLiteral(rows[r].vector) << '\n';
  }
  std::set<std::string> expected;
  for (size_t q = 0; q < query_rows.size(); ++q) {
    std::vector<std::pair<double, Uuid>> ranked;
    for (const SqlRow& row : rows) ranked.emplace_back(-Cosine(rows[query_rows[q]].vector, row.vector), row.id);
    std::sort(ranked.begin(), ranked.end());
    for (size_t i = 0; i < k; ++i) {
      if (ranked[i].second == planted.id) {
        expected.insert("query " + std::to_string(q + 1) + " type " + planted.id.ToString() +
                        " rank " + std::to_string(i + 1) + " context workflow");
      }
    }
  }
  ASSERT_GE(expected.size(), 1u);  // query 1 is the planted entity's own vector

  run = RunTool({"--server", server, "--out-dir", dir, "--progress", "none", "--query-file",
                 query_file, "--k", "1,10", "--ef-search", "16", "--verify-sql", b->conninfo(),
                 "--verify-queries", "100"});
  EXPECT_EQ(run.code, kExitDivergence) << run.out << run.err;
  report = nlohmann::json::parse(ReadFile(dir + "/recall.json"));
  EXPECT_EQ(report["verification"]["queries"], query_rows.size());
  std::set<std::string> reported;
  for (const auto& d : report["verification"]["divergences"]) {
    EXPECT_EQ(d["tenant_id"], tenant.ToString());
    EXPECT_EQ(d["model"], kModel);
    reported.insert(d["query"].get<std::string>() + " " + d["what"].get<std::string>() + " " +
                    d["entity_id"].get<std::string>() + " rank " +
                    std::to_string(d["rank"].get<size_t>()) + " " +
                    d["service"].get<std::string>() + " " + d["sql"].get<std::string>());
  }
  EXPECT_EQ(reported, expected);
  EXPECT_NE(run.out.find(std::to_string(expected.size()) +
                         (expected.size() == 1 ? " divergence" : " divergences")),
            std::string::npos)
      << run.out;
  EXPECT_NE(run.out.find(planted.id.ToString()), std::string::npos) << run.out;
  std::filesystem::remove_all(dir);
  std::filesystem::remove(query_file);
}

// ---- the pure parts ----------------------------------------------------------------------------

std::string Npy(const std::string& header_dict, const std::vector<float>& data, int version = 1) {
  std::string header = header_dict;
  const size_t prefix = version == 1 ? 10 : 12;
  while ((prefix + header.size() + 1) % 64 != 0) header.push_back(' ');
  header.push_back('\n');
  std::string out = "\x93NUMPY";
  out.push_back(char(version));
  out.push_back(0);
  const size_t n = header.size();
  out.push_back(char(n & 0xff));
  out.push_back(char(n >> 8));
  if (version != 1) {
    out.push_back(char(n >> 16));
    out.push_back(char(n >> 24));
  }
  out += header;
  out.append(reinterpret_cast<const char*>(data.data()), data.size() * sizeof(float));
  return out;
}

TEST(RecallToolTest, QueryFilesNpyAndText) {
  const std::vector<float> data = {1, 2, 3, 4, 5, 6};  // 2 x 3
  QueryVectors q;
  ASSERT_TRUE(ParseNpy(Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", data),
                       "q.npy", &q).ok());
  EXPECT_EQ(q.dim, 3u);
  EXPECT_EQ(q.rows(), 2u);
  EXPECT_EQ(q.values, data);
  ASSERT_TRUE(ParseNpy(Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", data, 2),
                       "q.npy", &q).ok());
  EXPECT_EQ(q.values, data);
  // Fortran order: the same bytes are the columns.
  ASSERT_TRUE(ParseNpy(Npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", data),
                       "q.npy", &q).ok());
  EXPECT_EQ(q.values, (std::vector<float>{1, 3, 5, 2, 4, 6}));

  const std::string bad[] = {
      Npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", data),   // float64
      Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }", data),     // 1-D
      Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2, 3), }", data),  // 3-D
      Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 3), }", data),   // too short
      Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", {1, 2, 3, 4, 5, NAN}),
      std::string("\x93NUMPY\x01\x00\xff\x00", 10),  // header past the end
  };
  for (const std::string& bytes : bad) {
    EXPECT_EQ(ParseNpy(bytes, "q.npy", &q).code(), Status::Code::kInvalidArgument);
  }

  ASSERT_TRUE(ParseQueryText("# two queries\n[1, 2.5, -3]\n\n{4,5,6}\n7 8 9e-1\n", "q.txt", &q).ok());
  EXPECT_EQ(q.dim, 3u);
  EXPECT_EQ(q.values, (std::vector<float>{1, 2.5f, -3, 4, 5, 6, 7, 8, 0.9f}));
  EXPECT_EQ(ParseQueryText("1 2 3\n1 2\n", "q.txt", &q).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(ParseQueryText("1 x 3\n", "q.txt", &q).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(ParseQueryText("1 nan 3\n", "q.txt", &q).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(ParseQueryText("# nothing\n", "q.txt", &q).code(), Status::Code::kInvalidArgument);
}

TEST(RecallToolTest, TypeFiltersApproximateEachSelectivity) {
  const std::map<std::string, uint64_t> counts = {
      {"context", 600}, {"template", 250}, {"workflow", 100}, {"library", 45}, {"prompt", 5}};
  const std::vector<TypeFilter> filters = ChooseTypeFilters(counts, {0.5, 0.05, 0.005, 0.25});
  ASSERT_EQ(filters.size(), 4u);
  EXPECT_EQ(filters[0].types, std::vector<std::string>{"context"});
  EXPECT_EQ(filters[1].types, (std::vector<std::string>{"library", "prompt"}));
  EXPECT_EQ(filters[1].rows, 50u);
  EXPECT_EQ(filters[2].types, std::vector<std::string>{"prompt"});
  EXPECT_DOUBLE_EQ(filters[2].share, 0.005);
  EXPECT_EQ(filters[3].types, std::vector<std::string>{"template"});
  EXPECT_EQ(filters[3].Label(), "template");
  // A set chosen already is not repeated; one type alone allows no filter short of all.
  EXPECT_EQ(ChooseTypeFilters(counts, {0.05, 0.049}).size(), 1u);
  std::vector<std::string> notes;
  EXPECT_TRUE(ChooseTypeFilters({{"context", 10}}, {0.5}, &notes).empty());
  EXPECT_EQ(notes, std::vector<std::string>{
                       "selectivity 50%: not measured: every row has the same entity type"});
  // Two halves: 90% is nearer the whole index than either half, so it is dropped; 0.5% gets a
  // half, as 50% did, and is dropped as a repeat.
  notes.clear();
  const auto halves = ChooseTypeFilters({{"a", 500}, {"b", 500}}, {0.9, 0.5, 0.005}, &notes);
  ASSERT_EQ(halves.size(), 1u);
  EXPECT_EQ(halves[0].types, std::vector<std::string>{"a"});
  EXPECT_EQ(notes, (std::vector<std::string>{
                       "selectivity 90%: not measured: no set of entity types is nearer to it "
                       "than all of them",
                       "selectivity 0.5%: the nearest set of entity types is a (50%), measured "
                       "already for 50%"}));
  // 999 and 1: 0.5% gets the single row (0.1%), still nearer than the whole index.
  const auto skewed = ChooseTypeFilters({{"a", 999}, {"b", 1}}, {0.005});
  ASSERT_EQ(skewed.size(), 1u);
  EXPECT_EQ(skewed[0].types, std::vector<std::string>{"b"});
}

SourceHit H(uint8_t id, const std::string& type, double similarity) {
  Uuid u;
  u.bytes[15] = id;
  return {u, type, similarity};
}

std::vector<std::string> Whats(const std::vector<Divergence>& ds) {
  std::vector<std::string> out;
  for (const Divergence& d : ds) out.push_back(d.what);
  return out;
}

TEST(RecallToolTest, CompareAnswersAllowsNearTiesAndNothingElse) {
  const std::vector<SourceHit> sql = {H(1, "a", 0.9), H(2, "a", 0.8), H(3, "b", 0.7),
                                      H(4, "b", 0.6)};
  // Identical (SQL has one row more than the limit).
  EXPECT_TRUE(CompareAnswers({sql[0], sql[1], sql[2]}, sql, 3).empty());
  // A similarity off by less than 1e-5 is fine; by more is not.
  EXPECT_TRUE(CompareAnswers({H(1, "a", 0.900009), sql[1], sql[2]}, sql, 3).empty());
  EXPECT_EQ(Whats(CompareAnswers({H(1, "a", 0.90002), sql[1], sql[2]}, sql, 3)),
            std::vector<std::string>{"similarity"});
  EXPECT_EQ(Whats(CompareAnswers({sql[0], H(2, "b", 0.8), sql[2]}, sql, 3)),
            std::vector<std::string>{"type"});
  EXPECT_EQ(Whats(CompareAnswers({sql[1], sql[0], sql[2]}, sql, 3)),
            std::vector<std::string>{"order"});
  EXPECT_EQ(Whats(CompareAnswers({sql[0], sql[1], H(9, "a", 0.7)}, sql, 3)),
            (std::vector<std::string>{"extra", "missing"}));
  EXPECT_EQ(Whats(CompareAnswers({sql[0], sql[1]}, sql, 3)),
            (std::vector<std::string>{"missing", "count"}));
  EXPECT_EQ(Whats(CompareAnswers({sql[0], sql[1], sql[3]}, sql, 3)),
            (std::vector<std::string>{"extra", "missing"}));

  // Near ties (within 1e-6) may swap, also across the last rank.
  const std::vector<SourceHit> tied = {H(1, "a", 0.9), H(2, "a", 0.8), H(3, "b", 0.7),
                                       H(4, "b", 0.7000005)};
  EXPECT_TRUE(CompareAnswers({tied[0], tied[1], tied[3]}, tied, 3).empty());
  EXPECT_TRUE(CompareAnswers({tied[0], tied[1], tied[2]}, tied, 3).empty());
  const std::vector<SourceHit> swapped = {H(1, "a", 0.9), H(2, "a", 0.8999995), H(3, "b", 0.5)};
  EXPECT_TRUE(CompareAnswers({swapped[1], swapped[0]}, swapped, 2).empty());
  // Fewer rows than the limit on both sides: fine.
  EXPECT_TRUE(CompareAnswers({sql[0]}, {sql[0]}, 10).empty());
}

TEST(RecallToolTest, RecallAndPercentiles) {
  const std::vector<SourceHit> truth = {H(1, "a", 0.9), H(2, "a", 0.8), H(3, "a", 0.7)};
  EXPECT_EQ(RecallAtK({truth[0], truth[2], H(9, "a", 0.1)}, truth, 3), 2.0 / 3.0);
  EXPECT_EQ(RecallAtK({truth[1]}, truth, 1), 0.0);  // only the first of each counts
  EXPECT_EQ(RecallAtK({truth[0]}, truth, 10), 1.0 / 3.0);  // k past the allowed rows
  EXPECT_EQ(RecallAtK({}, {}, 10), 1.0);                   // nothing allowed: nothing missed
  std::vector<double> values;
  for (int i = 100; i >= 1; --i) values.push_back(i);
  EXPECT_EQ(Percentile(&values, 50), 50);
  EXPECT_EQ(Percentile(&values, 99), 99);
  EXPECT_EQ(Percentile(&values, 100), 100);
  std::vector<double> none;
  EXPECT_EQ(Percentile(&none, 99), 0);
}

}  // namespace
}  // namespace vecmirror::recall
