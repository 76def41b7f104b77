// EntityIndex against the Eigen oracle: each kind's recall, writes and tombstones, rebuilds,
// filters, and the query options. Data are clustered, embedding-like vectors.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <functional>
#include <limits>
#include <mutex>
#include <optional>
#include <span>
#include <thread>

#include "index/entity_index.h"
#include "tests/support/build_gate.h"
#include "tests/support/index_test_util.h"

namespace vecmirror {
namespace {

using testing::BuildGate;
using testing::VectorStream;
using testing::Dataset;
using testing::ExpectSameAsOracle;
using testing::ExpectWellOrdered;
using testing::MaskOf;
using testing::Model;
using testing::OracleQuery;
using testing::Recall;
using testing::TestId;

const IndexKey kKey{Uuid{}, "test-model", 0};

IndexKey KeyOfDim(uint32_t dim) {
  IndexKey key = kKey;
  key.dim = dim;
  return key;
}

// Rows 0..n-1 with ids TestId(i) and types from `type_of`, upserted in one Apply.
Model Fill(
    EntityIndex& index, VectorStream& gen, size_t n,
    const std::function<EntityTypeCode(size_t)>& type_of = [](size_t) { return 0; }) {
  Model model;
  std::vector<IndexWrite> writes;
  std::vector<float> v(gen.dim());
  for (size_t i = 0; i < n; ++i) {
    gen.Next(v.data());
    writes.push_back(testing::Upsert(TestId(i), type_of(i), v));
    model[TestId(i)] = {type_of(i), v};
  }
  index.Apply(writes, 1);
  return model;
}

// HNSW options whose builds `gate` holds after their first chunk.
IndexOptions HnswHeldBy(BuildGate& gate) {
  IndexOptions options;
  options.forced_kind = IndexKind::kHnsw;
  options.on_rebuild_progress = gate.Reporter();
  return options;
}

// Runs index.Rebuild() on a thread, returned once `gate` holds its build after the first chunk
// (or after 60 s: the caller checks Stats().rebuilding). Open the gate before joining.
std::thread StartRebuild(EntityIndex& index, BuildGate& gate) {
  std::thread rebuild([&index] { EXPECT_TRUE(index.Rebuild().ok()); });
  EXPECT_TRUE(gate.WaitHeld(std::chrono::seconds(60))) << "the build reported no chunk in 60 s";
  return rebuild;
}

SearchQuery QueryOf(const std::vector<float>& v, size_t limit = 10) {
  SearchQuery q;
  q.vector = v;
  q.limit = limit;
  return q;
}

// Mean recall@limit of `queries` against the oracle; also checks each answer's shape.
double MeanRecall(const EntityIndex& index, const Dataset& data,
                  const std::vector<std::vector<float>>& queries, const SearchQuery& base,
                  const OracleQuery& oq) {
  double sum = 0;
  for (const auto& qv : queries) {
    SearchQuery q = base;
    q.vector = qv;
    const SearchResult r = index.Search(q);
    const auto truth = testing::BruteForceTopK(data, qv.data(), oq);
    EXPECT_EQ(r.hits.size(), truth.size());
    ExpectWellOrdered(r.hits);
    sum += Recall(r.hits, truth);
  }
  const double mean = sum / double(queries.size());
  std::printf("  recall@%zu = %.4f\n", base.limit, mean);
  return mean;
}

std::vector<std::vector<float>> Queries(VectorStream& gen, size_t n) {
  std::vector<std::vector<float>> out(n, std::vector<float>(gen.dim()));
  for (auto& q : out) gen.Next(q.data());
  return out;
}

TEST(EntityIndexTest, EmptyIndexReturnsNothing) {
  EntityIndex index(KeyOfDim(8), IndexOptions{});
  const std::vector<float> q = {1, 0, 0, 0, 0, 0, 0, 0};
  const SearchResult r = index.Search(QueryOf(q));
  EXPECT_TRUE(r.hits.empty());
  EXPECT_EQ(r.kind, IndexKind::kFlat);
  const IndexStats s = index.Stats();
  EXPECT_EQ(s.live, 0u);
  EXPECT_EQ(s.dead, 0u);
  EXPECT_FALSE(index.NeedsRebuild());
  EXPECT_FALSE(index.Contains(TestId(0)));
  EXPECT_FALSE(index.VectorOf(TestId(0)).has_value());
}

TEST(EntityIndexTest, FlatIsExact) {
  const size_t dim = 96;
  VectorStream gen(dim, 50, 1);
  EntityIndex index(KeyOfDim(dim), IndexOptions{});
  const Model model = Fill(index, gen, 4000, [](size_t i) { return EntityTypeCode(i % 3); });
  const Dataset data = testing::ToDataset(model, dim);
  for (const auto& qv : Queries(gen, 40)) {
    const SearchResult r = index.Search(QueryOf(qv));
    EXPECT_TRUE(r.exact);
    EXPECT_EQ(r.kind, IndexKind::kFlat);
    OracleQuery oq;
    ExpectSameAsOracle(r.hits, data, qv.data(), oq);
    // Filtered too.
    SearchQuery q = QueryOf(qv, 25);
    q.types = MaskOf({2});
    oq.types = std::vector<uint8_t>{2};
    oq.limit = 25;
    ExpectSameAsOracle(index.Search(q).hits, data, qv.data(), oq);
  }
}

// TrySearch answers as Search does (the brute force) while the index is free, and returns at
// once, without an answer, while a writer holds it or waits for it.
TEST(EntityIndexTest, TrySearchNeverWaitsForAWriter) {
  const size_t dim = 32;
  VectorStream gen(dim, 10, 3);
  EntityIndex index(KeyOfDim(dim), IndexOptions{});
  const Model model = Fill(index, gen, 500);
  const Dataset data = testing::ToDataset(model, dim);
  const std::vector<std::vector<float>> queries = Queries(gen, 5);
  for (const auto& qv : queries) {
    const std::optional<SearchResult> r = index.TrySearch(QueryOf(qv));
    ASSERT_TRUE(r.has_value());
    ExpectSameAsOracle(r->hits, data, qv.data(), OracleQuery{});
  }
  {
    auto held = index.LockForWrite();
    EXPECT_FALSE(index.TrySearch(QueryOf(queries[0])).has_value());
  }
  // A writer waiting for the lock (it holds the turnstile) turns TrySearch away too.
  std::atomic<bool> writer_done{false};
  std::thread writer;
  {
    // A reader that holds the read lock (ForEachLive, slowed down) makes the writer wait.
    std::atomic<bool> inside{false}, release{false};
    std::thread slow_reader([&] {
      index.ForEachLive([&](const Uuid&, EntityTypeCode, std::span<const float>) {
        inside = true;
        while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      });
    });
    while (!inside) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    writer = std::thread([&] {
      auto w = index.LockForWrite();  // waits for slow_reader, holding the turnstile
      writer_done = true;
    });
    // Until the writer thread has run as far as the turnstile, TrySearch rightly shares the
    // read lock with slow_reader: wait (bounded) for the first refusal rather than for a fixed
    // time, which a loaded machine may spend before it schedules the new thread at all.
    bool turned_away = false;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!turned_away && std::chrono::steady_clock::now() < deadline) {
      turned_away = !index.TrySearch(QueryOf(queries[0])).has_value();
      if (!turned_away) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    EXPECT_TRUE(turned_away) << "TrySearch still searched 10 s after a writer started waiting";
    // The writer waits as long as the reader holds the index, and TrySearch keeps turning away.
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_FALSE(writer_done.load());
    EXPECT_FALSE(index.TrySearch(QueryOf(queries[0])).has_value());
    release = true;
    slow_reader.join();
  }
  writer.join();
  EXPECT_TRUE(writer_done.load());
  const std::optional<SearchResult> after = index.TrySearch(QueryOf(queries[1]));
  ASSERT_TRUE(after.has_value());
  ExpectSameAsOracle(after->hits, data, queries[1].data(), OracleQuery{});
}

// One ANN index per kind, built once: 20,000 x 128-d clustered vectors in four types with
// 50%, 5%, 0.1% and 44.9% of the rows.
EntityTypeCode SkewedType(size_t i) {
  const size_t r = i % 1000;
  if (r < 500) return 0;  // 50%
  if (r < 550) return 1;  // 5%
  if (r < 551) return 2;  // 0.1%
  return 3;
}

class AnnIndexTest : public ::testing::TestWithParam<IndexKind> {
 protected:
  static constexpr size_t kDim = 128;
  static constexpr size_t kRows = 20000;

  struct Built {
    std::unique_ptr<EntityIndex> index;
    Model model;
    Dataset data;
  };

  static const Built& Get(IndexKind kind) {
    static std::map<IndexKind, Built> built;
    auto it = built.find(kind);
    if (it != built.end()) return it->second;
    Built b;
    IndexOptions options;
    options.forced_kind = kind;
    b.index = std::make_unique<EntityIndex>(KeyOfDim(kDim), options);
    VectorStream gen(kDim, 50, 7);
    b.model = Fill(*b.index, gen, kRows, SkewedType);
    b.data = testing::ToDataset(b.model, kDim);
    EXPECT_TRUE(b.index->NeedsRebuild());
    EXPECT_TRUE(b.index->Rebuild().ok());
    return built.emplace(kind, std::move(b)).first->second;
  }

  static std::vector<std::vector<float>> TestQueries(size_t n = 100) {
    VectorStream gen(kDim, 50, 7);  // the same clusters as the data...
    gen.Skip(kRows);                // ...but the samples after them
    return Queries(gen, n);
  }
};

TEST_P(AnnIndexTest, RecallAtTenIsHighAtDefaults) {
  const Built& b = Get(GetParam());
  const IndexStats s = b.index->Stats();
  EXPECT_EQ(s.kind, GetParam());
  EXPECT_EQ(s.live, kRows);
  EXPECT_EQ(s.tail, 0u);
  EXPECT_FALSE(b.index->NeedsRebuild());
  // An honest estimate holds at least the vectors once, and not absurdly more.
  EXPECT_GE(s.memory_bytes, kRows * kDim * sizeof(float));
  EXPECT_LE(s.memory_bytes, 4 * kRows * kDim * sizeof(float));

  const auto queries = TestQueries();
  SearchQuery q;
  OracleQuery oq;
  const double recall = MeanRecall(*b.index, b.data, queries, q, oq);
  EXPECT_GE(recall, 0.95) << IndexKindName(GetParam());
  EXPECT_LT(recall, 1.0001);
  q.vector = queries[0];
  const SearchResult r = b.index->Search(q);
  EXPECT_FALSE(r.exact) << "an unfiltered search of a large ANN index should use the ANN";
  EXPECT_EQ(r.kind, GetParam());
}

TEST_P(AnnIndexTest, ExplicitEffortIsHonoured) {
  // The least effort (a candidate list of k, one IVF list) must cost recall on this data; if it
  // didn't, the effort would not be reaching FAISS, or the search would not be approximate.
  const Built& b = Get(GetParam());
  const auto queries = TestQueries(50);
  SearchQuery q;
  q.effort.ef_search = 1;
  q.effort.nprobe = 1;
  const double low = MeanRecall(*b.index, b.data, queries, q, OracleQuery{});
  const double defaults = MeanRecall(*b.index, b.data, queries, SearchQuery{}, OracleQuery{});
  EXPECT_LT(low, 0.95);
  EXPECT_GT(defaults, low);
}

TEST_P(AnnIndexTest, AnnHitsCarryExactSimilarities) {
  const Built& b = Get(GetParam());
  for (const auto& qv : TestQueries(10)) {
    for (const Hit& h : b.index->Search(QueryOf(qv)).hits) {
      const auto& v = b.model.at(h.entity_id).vector;
      double dot = 0;
      for (size_t i = 0; i < kDim; ++i) dot += double(v[i]) * qv[i];
      EXPECT_NEAR(h.similarity, dot, 1e-5);
      EXPECT_EQ(h.type, b.model.at(h.entity_id).type);
    }
  }
}

TEST_P(AnnIndexTest, ExactEffortMatchesTheOracle) {
  const Built& b = Get(GetParam());
  for (const auto& qv : TestQueries(10)) {
    SearchQuery q = QueryOf(qv);
    q.effort.exact = true;
    const SearchResult r = b.index->Search(q);
    EXPECT_TRUE(r.exact);
    ExpectSameAsOracle(r.hits, b.data, qv.data(), OracleQuery{});
  }
}

// At 50%, 5% and 0.1% selectivity: never short, and recall >= 0.95. Once with the default
// thresholds (5% and 0.1% are then exact scans), once with the exact thresholds off so that
// the ANN path with raised effort (and its fallback) answers every selectivity.
TEST_P(AnnIndexTest, FiltersAreNeverShortAndKeepRecall) {
  const Built& b = Get(GetParam());
  const auto queries = TestQueries(40);
  struct Case {
    EntityTypeCode type;
    size_t allowed;
  };
  for (const Case& c : {Case{0, kRows / 2}, Case{1, kRows / 20}, Case{2, kRows / 1000}}) {
    for (size_t limit : {10u, 50u}) {
      SearchQuery q;
      q.types = MaskOf({c.type});
      q.limit = limit;
      OracleQuery oq;
      oq.types = std::vector<uint8_t>{static_cast<uint8_t>(c.type)};
      oq.limit = limit;
      const double recall = MeanRecall(*b.index, b.data, queries, q, oq);
      EXPECT_GE(recall, 0.95) << "type " << int(c.type) << " limit " << limit;
      q.vector = queries[0];
      const SearchResult r = b.index->Search(q);
      EXPECT_EQ(r.hits.size(), std::min(limit, c.allowed));
      for (const Hit& h : r.hits) EXPECT_EQ(h.type, c.type);
    }
  }
}

TEST_P(AnnIndexTest, AnnPathWithSelectiveFiltersIsNeverShort) {
  // 8,000 of the same rows (a random subset: the model is ordered by id), with the exact-scan
  // thresholds off, so the ANN path with raised effort answers every selectivity. Each answer
  // must come from the ANN structure, not from the exact fallback.
  const Built& b = Get(GetParam());
  IndexOptions options;
  options.forced_kind = GetParam();
  options.exact_max_allowed_rows = 0;
  options.exact_max_allowed_share = 0;
  EntityIndex index(KeyOfDim(kDim), options);
  Model subset;
  std::vector<IndexWrite> writes;
  for (const auto& [id, row] : b.model) {
    if (subset.size() == 8000) break;
    subset[id] = row;
    writes.push_back(testing::Upsert(id, row.type, row.vector));
  }
  index.Apply(writes, 1);
  ASSERT_TRUE(index.Rebuild().ok());
  const Dataset data = testing::ToDataset(subset, kDim);
  const auto queries = TestQueries(30);
  for (EntityTypeCode type : {0, 1, 2}) {
    SearchQuery q;
    q.types = MaskOf({type});
    q.limit = 30;
    OracleQuery oq;
    oq.types = std::vector<uint8_t>{static_cast<uint8_t>(type)};
    oq.limit = 30;
    EXPECT_GE(MeanRecall(index, data, queries, q, oq), 0.95) << "type " << int(type);
    q.vector = queries[0];
    EXPECT_FALSE(index.Search(q).exact) << "type " << int(type) << " fell back to an exact scan";
  }
}

INSTANTIATE_TEST_SUITE_P(Kinds, AnnIndexTest, ::testing::Values(IndexKind::kHnsw, IndexKind::kIvf),
                         [](const auto& info) { return std::string(IndexKindName(info.param)); });

// Writes: upsert, update, remove, re-add, checked after each step against the oracle, on a
// flat index and on an HNSW index (where new rows land in the tail and old ones are tombstoned
// in the sealed graph).
class WritesTest : public ::testing::TestWithParam<IndexKind> {};

TEST_P(WritesTest, UpsertUpdateRemoveReAdd) {
  const size_t dim = 64;
  IndexOptions options;
  options.forced_kind = GetParam();
  options.exact_max_allowed_rows = 0;  // keep the ANN path in play on this small index
  options.exact_max_allowed_share = 0;
  EntityIndex index(KeyOfDim(dim), options);
  VectorStream gen(dim, 20, 3);
  Model model = Fill(index, gen, 3000, [](size_t i) { return EntityTypeCode(i % 2); });
  ASSERT_TRUE(index.Rebuild().ok());
  ASSERT_EQ(index.Stats().kind, GetParam());

  const auto queries = Queries(gen, 20);
  auto check = [&](const char* step) {
    SCOPED_TRACE(step);
    const Dataset data = testing::ToDataset(model, dim);
    for (const auto& qv : queries) {
      SearchQuery q = QueryOf(qv);
      q.effort.exact = true;
      ExpectSameAsOracle(index.Search(q).hits, data, qv.data(), OracleQuery{});
      // The approximate answer never returns a removed or stale entry.
      for (const Hit& h : index.Search(QueryOf(qv)).hits) {
        ASSERT_TRUE(model.contains(h.entity_id));
        EXPECT_EQ(model.at(h.entity_id).type, h.type);
      }
    }
    const IndexStats s = index.Stats();
    EXPECT_EQ(s.live, model.size());
  };
  check("initial");

  // Update 300 entities: new vectors (and types for some). Each update tombstones a slot.
  std::vector<IndexWrite> writes;
  std::vector<float> v(dim);
  for (size_t i = 0; i < 300; ++i) {
    gen.Next(v.data());
    const EntityTypeCode type = i % 3 == 0 ? 1 : model.at(TestId(i)).type;
    writes.push_back(testing::Upsert(TestId(i), type, v));
    model[TestId(i)] = {type, v};
  }
  index.Apply(writes, 2);
  EXPECT_EQ(index.Stats().dead, 300u);
  EXPECT_EQ(index.Stats().tail, 300u);
  for (size_t i = 0; i < 300; i += 37) {
    EXPECT_EQ(*index.VectorOf(TestId(i)), model.at(TestId(i)).vector);
  }
  check("updated");

  // Re-upserting an identical row keeps its slot: no new tombstone.
  const std::vector<IndexWrite> same = {
      testing::Upsert(TestId(5), model.at(TestId(5)).type, model.at(TestId(5)).vector)};
  index.Apply(same, 3);
  EXPECT_EQ(index.Stats().dead, 300u);

  // Remove 500, including some just updated; removing an absent id is a no-op.
  writes.clear();
  for (size_t i = 200; i < 700; ++i) {
    writes.push_back(testing::Remove(TestId(i)));
    model.erase(TestId(i));
  }
  writes.push_back(testing::Remove(TestId(999999)));
  index.Apply(writes, 4);
  EXPECT_EQ(index.Stats().dead, 800u);
  EXPECT_FALSE(index.Contains(TestId(200)));
  EXPECT_FALSE(index.VectorOf(TestId(650)).has_value());
  check("removed");

  // Re-add 100 of the removed ones with new vectors.
  writes.clear();
  for (size_t i = 600; i < 700; ++i) {
    gen.Next(v.data());
    writes.push_back(testing::Upsert(TestId(i), 0, v));
    model[TestId(i)] = {0, v};
  }
  index.Apply(writes, 5);
  EXPECT_TRUE(index.Contains(TestId(650)));
  check("re-added");
  EXPECT_EQ(index.Stats().covered_lsn, 5u);

  // 800 dead of 3,400 slots is past the 20% threshold: compaction keeps every answer.
  EXPECT_TRUE(index.NeedsRebuild());
  ASSERT_TRUE(index.Rebuild().ok());
  const IndexStats s = index.Stats();
  EXPECT_EQ(s.dead, 0u);
  EXPECT_EQ(s.tail, 0u);
  EXPECT_EQ(s.live, model.size());
  EXPECT_EQ(s.kind, GetParam());
  EXPECT_FALSE(index.NeedsRebuild());
  check("compacted");

  // ForEachLive visits exactly the model.
  Model seen;
  index.ForEachLive([&](const Uuid& id, EntityTypeCode type, std::span<const float> vec) {
    EXPECT_FALSE(seen.contains(id));
    seen[id] = {type, std::vector<float>(vec.begin(), vec.end())};
  });
  EXPECT_EQ(seen.size(), model.size());
  for (const auto& [id, row] : model) {
    ASSERT_TRUE(seen.contains(id));
    EXPECT_EQ(seen.at(id).type, row.type);
    EXPECT_EQ(seen.at(id).vector, row.vector);
  }

  // Remove everything: no hits, then compaction to nothing.
  writes.clear();
  for (const auto& [id, row] : model) writes.push_back(testing::Remove(id));
  index.Apply(writes, 6);
  model.clear();
  EXPECT_TRUE(index.Search(QueryOf(queries[0])).hits.empty());
  EXPECT_TRUE(index.NeedsRebuild());
  ASSERT_TRUE(index.Rebuild().ok());
  EXPECT_EQ(index.Stats().live, 0u);
  EXPECT_EQ(index.Stats().dead, 0u);
  EXPECT_TRUE(index.Search(QueryOf(queries[0])).hits.empty());
}

INSTANTIATE_TEST_SUITE_P(Kinds, WritesTest,
                         ::testing::Values(IndexKind::kFlat, IndexKind::kHnsw, IndexKind::kIvf),
                         [](const auto& info) { return std::string(IndexKindName(info.param)); });

// A borrowed write (IndexWrite::borrowed, how a load hands over its rows) is applied like an
// owned one, and one applied during a rebuild is copied for the replay: its floats may be gone
// once Apply returns.
TEST(EntityIndexTest, BorrowedWritesAreAppliedAndReplayedAfterTheirFloatsAreGone) {
  const size_t dim = 128;
  BuildGate gate;
  EntityIndex index(KeyOfDim(dim), HnswHeldBy(gate));
  VectorStream gen(dim, 50, 17);
  Model model = Fill(index, gen, 12000);

  auto borrowed_upserts = [&](size_t first, size_t count, std::vector<float>& floats) {
    floats.resize(count * dim);
    std::vector<IndexWrite> writes;
    for (size_t i = 0; i < count; ++i) {
      float* row = floats.data() + i * dim;
      gen.Next(row);
      IndexWrite w;
      w.entity_id = TestId(first + i);
      w.type = 3;
      w.borrowed = std::span<const float>(row, dim);
      writes.push_back(w);
      model[TestId(first + i)] = {3, std::vector<float>(row, row + dim)};
    }
    return writes;
  };

  std::vector<float> floats;
  index.Apply(borrowed_upserts(0, 50, floats), 7);  // updates, no rebuild running
  std::fill(floats.begin(), floats.end(), std::nanf(""));

  std::thread rebuild = StartRebuild(index, gate);
  EXPECT_TRUE(index.Stats().rebuilding);
  index.Apply(borrowed_upserts(100, 50, floats), 8);      // updates during the build
  index.Apply(borrowed_upserts(30000, 50, floats), 9);    // additions during the build
  const bool wrote_while_building = index.Stats().rebuilding;
  std::fill(floats.begin(), floats.end(), std::nanf(""));  // the writer's floats are gone
  gate.Open();
  rebuild.join();
  EXPECT_TRUE(wrote_while_building) << "the build finished before the writes: test is void";

  EXPECT_EQ(index.Stats().live, model.size());
  for (size_t i : {0, 49, 100, 149, 30000, 30049}) {
    ASSERT_EQ(*index.VectorOf(TestId(i)), model.at(TestId(i)).vector) << i;
  }
  const Dataset data = testing::ToDataset(model, dim);
  for (const auto& qv : Queries(gen, 5)) {
    SearchQuery q = QueryOf(qv, 20);
    q.effort.exact = true;
    OracleQuery oq;
    oq.limit = 20;
    ExpectSameAsOracle(index.Search(q).hits, data, qv.data(), oq);
  }
}

TEST(EntityIndexTest, WritesDuringARebuildAreNotLost) {
  const size_t dim = 128;
  BuildGate gate;
  EntityIndex index(KeyOfDim(dim), HnswHeldBy(gate));
  VectorStream gen(dim, 50, 9);
  Model model = Fill(index, gen, 12000);

  std::thread rebuild = StartRebuild(index, gate);
  EXPECT_TRUE(index.Stats().rebuilding);

  // While it builds: update, remove and add rows.
  std::vector<float> v(dim);
  for (size_t batch = 0; batch < 5; ++batch) {
    std::vector<IndexWrite> writes;
    for (size_t i = batch * 40; i < batch * 40 + 40; ++i) {
      gen.Next(v.data());
      writes.push_back(testing::Upsert(TestId(i), 1, v));  // update
      model[TestId(i)] = {1, v};
      writes.push_back(testing::Remove(TestId(5000 + i)));  // remove
      model.erase(TestId(5000 + i));
      gen.Next(v.data());
      writes.push_back(testing::Upsert(TestId(20000 + i), 2, v));  // add
      model[TestId(20000 + i)] = {2, v};
    }
    index.Apply(writes, 10 + batch);
  }
  const bool wrote_while_building = index.Stats().rebuilding;
  gate.Open();
  rebuild.join();
  EXPECT_TRUE(wrote_while_building) << "the build finished before the writes: test is void";

  const IndexStats s = index.Stats();
  EXPECT_EQ(s.kind, IndexKind::kHnsw);
  EXPECT_EQ(s.live, model.size());
  EXPECT_FALSE(s.rebuilding);
  EXPECT_EQ(s.covered_lsn, 14u);
  for (size_t i = 0; i < 200; ++i) {
    ASSERT_EQ(*index.VectorOf(TestId(i)), model.at(TestId(i)).vector);
    ASSERT_FALSE(index.Contains(TestId(5000 + i)));
    ASSERT_TRUE(index.Contains(TestId(20000 + i)));
  }
  const Dataset data = testing::ToDataset(model, dim);
  for (const auto& qv : Queries(gen, 10)) {
    SearchQuery q = QueryOf(qv, 20);
    q.effort.exact = true;
    OracleQuery oq;
    oq.limit = 20;
    ExpectSameAsOracle(index.Search(q).hits, data, qv.data(), oq);
    q.types = MaskOf({2});
    oq.types = std::vector<uint8_t>{2};
    ExpectSameAsOracle(index.Search(q).hits, data, qv.data(), oq);
  }
}

TEST(EntityIndexTest, ExcludeMinSimilarityAndLimitBeyondAllowed) {
  const size_t dim = 48;
  VectorStream gen(dim, 10, 4);
  for (IndexKind kind : {IndexKind::kFlat, IndexKind::kHnsw}) {
    SCOPED_TRACE(IndexKindName(kind));
    IndexOptions options;
    options.forced_kind = kind;
    options.exact_max_allowed_rows = 0;
    options.exact_max_allowed_share = 0;
    EntityIndex index(KeyOfDim(dim), options);
    const Model model = Fill(index, gen, 3000, [](size_t i) { return i < 7 ? 1 : 0; });
    ASSERT_TRUE(index.Rebuild().ok());
    const Dataset data = testing::ToDataset(model, dim);

    // "More like this": the query is an entity's own vector; it is left out.
    const Uuid self = TestId(100);
    SearchQuery q = QueryOf(model.at(self).vector);
    q.exclude = self;
    SearchResult r = index.Search(q);
    ASSERT_EQ(r.hits.size(), 10u);
    for (const Hit& h : r.hits) EXPECT_NE(h.entity_id, self);
    OracleQuery oq;
    oq.exclude = self;
    EXPECT_GE(Recall(r.hits, testing::BruteForceTopK(data, q.vector.data(), oq)), 0.9);
    q.exclude.reset();
    EXPECT_EQ(index.Search(q).hits.front().entity_id, self);

    // min_similarity: everything returned clears it, and nothing that clears it is missing.
    const std::vector<float> qv = model.at(TestId(200)).vector;
    q = QueryOf(qv, 1000);
    q.effort.exact = true;
    const std::vector<Hit> all = index.Search(q).hits;
    // A threshold in a clear gap, so float rounding can't move a row across it.
    size_t cut = 40;
    while (all[cut].similarity - all[cut + 1].similarity < 1e-4f) ++cut;
    const float threshold = (all[cut].similarity + all[cut + 1].similarity) / 2;
    q.min_similarity = threshold;
    oq = OracleQuery{};
    oq.limit = 1000;
    oq.min_similarity = threshold;
    r = index.Search(q);
    EXPECT_EQ(r.hits.size(), cut + 1);
    for (const Hit& h : r.hits) EXPECT_GE(h.similarity, threshold);
    ExpectSameAsOracle(r.hits, data, qv.data(), oq);

    // A limit beyond the allowed rows returns all of them (7 of type 1), and the exclusion of
    // an allowed row makes it 6.
    q = QueryOf(qv, 100);
    q.types = MaskOf({1});
    r = index.Search(q);
    EXPECT_EQ(r.hits.size(), 7u);
    q.exclude = TestId(3);
    EXPECT_EQ(index.Search(q).hits.size(), 6u);
    // A mask with no rows, and an empty mask.
    q.types = MaskOf({9});
    EXPECT_TRUE(index.Search(q).hits.empty());
    q.types = TypeMask::None();
    EXPECT_TRUE(index.Search(q).hits.empty());
  }
}

TEST(EntityIndexTest, QueriesAndWritesThatAreNotUnitLength) {
  const size_t dim = 16;
  EntityIndex index(KeyOfDim(dim), IndexOptions{});
  VectorStream gen(dim, 4, 8);
  std::vector<float> v(dim);
  gen.Next(v.data());
  // A write that isn't unit length is stored normalized.
  std::vector<float> scaled = v;
  for (float& x : scaled) x *= 3.0f;
  const std::vector<IndexWrite> writes = {testing::Upsert(TestId(1), 0, scaled)};
  index.Apply(writes, 1);
  const auto stored = *index.VectorOf(TestId(1));
  for (size_t i = 0; i < dim; ++i) EXPECT_NEAR(stored[i], v[i], 1e-6);

  // A query that isn't unit length is normalized: the similarity is a cosine.
  SearchQuery q = QueryOf(scaled);
  SearchResult r = index.Search(q);
  ASSERT_EQ(r.hits.size(), 1u);
  EXPECT_NEAR(r.hits[0].similarity, 1.0f, 1e-5);

  // Unusable queries give no hits.
  std::vector<float> zero(dim, 0.0f);
  EXPECT_TRUE(index.Search(QueryOf(zero)).hits.empty());
  std::vector<float> nan = v;
  nan[3] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_TRUE(index.Search(QueryOf(nan)).hits.empty());
  std::vector<float> short_query(dim - 1, 0.1f);
  EXPECT_TRUE(index.Search(QueryOf(short_query)).hits.empty());
  q = QueryOf(v, 0);
  EXPECT_TRUE(index.Search(q).hits.empty());

  // An unusable write makes the entity unsearchable rather than keeping a stale vector.
  for (const std::vector<float>& bad : {zero, nan, short_query}) {
    index.Apply(std::vector<IndexWrite>{testing::Upsert(TestId(1), 0, v)}, 2);
    ASSERT_TRUE(index.Contains(TestId(1)));
    index.Apply(std::vector<IndexWrite>{testing::Upsert(TestId(1), 0, bad)}, 3);
    EXPECT_FALSE(index.Contains(TestId(1)));
    EXPECT_TRUE(index.Search(QueryOf(v)).hits.empty());
  }
}

TEST(EntityIndexTest, SizePolicyPromotesAndAPinnedKindSticks) {
  const size_t dim = 32;
  IndexOptions options;
  options.ann_min_rows = 1000;
  options.tail_absorb_rows = 200;
  options.rebuild_duty_cycle = 1.0;  // no pause between maintenance rebuilds here
  EntityIndex index(KeyOfDim(dim), options);
  VectorStream gen(dim, 10, 5);
  Model model = Fill(index, gen, 999);
  EXPECT_FALSE(index.NeedsRebuild()) << "below ann_min_rows a flat index stays flat";
  std::vector<float> v(dim);
  gen.Next(v.data());
  index.Apply(std::vector<IndexWrite>{testing::Upsert(TestId(5000), 0, v)}, 2);
  EXPECT_TRUE(index.NeedsRebuild()) << "at ann_min_rows it wants HNSW";
  EXPECT_TRUE(index.RebuildIfNeeded());
  EXPECT_EQ(index.Stats().kind, IndexKind::kHnsw);
  EXPECT_FALSE(index.RebuildIfNeeded());

  // A long tail is absorbed.
  std::vector<IndexWrite> writes;
  for (size_t i = 0; i < 201; ++i) {
    gen.Next(v.data());
    writes.push_back(testing::Upsert(TestId(10000 + i), 0, v));
  }
  index.Apply(writes, 3);
  EXPECT_EQ(index.Stats().tail, 201u);
  EXPECT_TRUE(index.NeedsRebuild());
  EXPECT_TRUE(index.RebuildIfNeeded());
  EXPECT_EQ(index.Stats().tail, 0u);

  // An operator's kind sticks through maintenance rebuilds...
  ASSERT_TRUE(index.Rebuild(IndexKind::kIvf).ok());
  EXPECT_EQ(index.Stats().kind, IndexKind::kIvf);
  EXPECT_FALSE(index.NeedsRebuild());
  index.Apply(writes, 4);  // identical rows: no change
  writes.clear();
  for (size_t i = 0; i < 201; ++i) {
    gen.Next(v.data());
    writes.push_back(testing::Upsert(TestId(20000 + i), 0, v));
  }
  index.Apply(writes, 5);
  EXPECT_TRUE(index.RebuildIfNeeded());
  EXPECT_EQ(index.Stats().kind, IndexKind::kIvf);
  // ...until a rebuild without a kind hands it back to the size policy.
  ASSERT_TRUE(index.Rebuild().ok());
  EXPECT_EQ(index.Stats().kind, IndexKind::kHnsw);
}

TEST(EntityIndexTest, MaintenanceRebuildsKeepToTheirDutyCycle) {
  const size_t dim = 32;
  IndexOptions options;
  options.ann_min_rows = 500;
  options.tail_absorb_rows = 50;
  options.rebuild_duty_cycle = 0.001;  // after a build of t, wait 999 t
  EntityIndex index(KeyOfDim(dim), options);
  VectorStream gen(dim, 10, 5);
  Fill(index, gen, 2000);
  ASSERT_TRUE(index.RebuildIfNeeded());  // the promotion to HNSW
  ASSERT_EQ(index.Stats().kind, IndexKind::kHnsw);

  std::vector<IndexWrite> writes;
  for (size_t i = 0; i < 600; ++i) writes.push_back(testing::Remove(TestId(i)));
  index.Apply(writes, 2);
  EXPECT_TRUE(index.NeedsRebuild()) << "30% of the slots are tombstones";
  EXPECT_FALSE(index.RebuildIfNeeded()) << "but the last build was just now";
  EXPECT_EQ(index.Stats().dead, 600u);

  // A long tail is still added to the graph: that is not a full rebuild.
  writes.clear();
  std::vector<float> v(dim);
  for (size_t i = 0; i < 60; ++i) {
    gen.Next(v.data());
    writes.push_back(testing::Upsert(TestId(50000 + i), 0, v));
  }
  index.Apply(writes, 3);
  EXPECT_TRUE(index.RebuildIfNeeded());
  EXPECT_EQ(index.Stats().tail, 0u);
  EXPECT_EQ(index.Stats().dead, 600u) << "the compaction still waits";
  EXPECT_FALSE(index.RebuildIfNeeded());

  ASSERT_TRUE(index.Rebuild().ok()) << "an explicit rebuild is not limited";
  EXPECT_EQ(index.Stats().dead, 0u);
  EXPECT_EQ(index.Stats().live, 2000u - 600u + 60u);
}

TEST(EntityIndexTest, ALongTailIsAddedToTheGraphAndTombstonesStay) {
  const size_t dim = 64;
  IndexOptions options;
  options.ann_min_rows = 1000;
  options.tail_absorb_rows = 500;
  options.compact_dead_share = 0.9;  // so only the tail asks for a rebuild
  options.rebuild_duty_cycle = 1.0;
  options.exact_max_allowed_rows = 0;  // searches take the ANN path, so they read the graph
  options.exact_max_allowed_share = 0;
  std::vector<RebuildProgress> events;
  std::function<void()> while_absorbing;
  options.on_rebuild_progress = [&](const IndexKey&, const RebuildProgress& p) {
    events.push_back(p);
    if (p.extends_graph && p.rows_done == 0 && !p.finished && while_absorbing) while_absorbing();
  };
  EntityIndex index(KeyOfDim(dim), options);
  VectorStream gen(dim, 20, 11);
  Model model = Fill(index, gen, 3000);
  ASSERT_TRUE(index.RebuildIfNeeded());  // the promotion to HNSW: a full build
  ASSERT_EQ(index.Stats().kind, IndexKind::kHnsw);
  ASSERT_FALSE(events.back().extends_graph);

  // A tail of 700 slots: 300 updates, 400 new rows; and 100 removes.
  std::vector<IndexWrite> writes;
  std::vector<float> v(dim);
  auto upsert = [&](size_t i, EntityTypeCode type) {
    gen.Next(v.data());
    writes.push_back(testing::Upsert(TestId(i), type, v));
    model[TestId(i)] = {type, v};
  };
  for (size_t i = 0; i < 300; ++i) upsert(i, 1);
  for (size_t i = 0; i < 400; ++i) upsert(10000 + i, 2);
  for (size_t i = 300; i < 400; ++i) {
    writes.push_back(testing::Remove(TestId(i)));
    model.erase(TestId(i));
  }
  index.Apply(writes, 2);
  ASSERT_EQ(index.Stats().tail, 700u);

  // Writes that land after the tail was copied: 50 new rows, updates and removes of rows being
  // added to the graph.
  while_absorbing = [&] {
    EXPECT_TRUE(index.Stats().rebuilding);
    writes.clear();
    for (size_t i = 0; i < 50; ++i) upsert(20000 + i, 3);
    for (size_t i = 10000; i < 10020; ++i) upsert(i, 0);
    for (size_t i = 10020; i < 10030; ++i) {
      writes.push_back(testing::Remove(TestId(i)));
      model.erase(TestId(i));
    }
    index.Apply(writes, 3);
  };
  events.clear();
  ASSERT_TRUE(index.RebuildIfNeeded());

  ASSERT_FALSE(events.empty());
  EXPECT_TRUE(events.front().extends_graph);
  EXPECT_EQ(events.front().graph_rows, 3000u);
  EXPECT_EQ(events.front().rows_total, 700u);
  EXPECT_TRUE(events.back().finished);
  EXPECT_EQ(events.back().rows_done, 700u);

  const IndexStats s = index.Stats();
  EXPECT_EQ(s.kind, IndexKind::kHnsw);
  EXPECT_EQ(s.tail, 70u) << "only the writes made during the absorb are left in the tail";
  EXPECT_EQ(s.live, model.size());
  EXPECT_EQ(s.dead, 300u + 100u + 20u + 10u) << "tombstones stay until a compaction";
  EXPECT_EQ(s.covered_lsn, 3u);
  for (const auto& [id, row] : model) ASSERT_EQ(*index.VectorOf(id), row.vector);
  for (size_t i = 300; i < 400; ++i) ASSERT_FALSE(index.Contains(TestId(i)));
  for (size_t i = 10020; i < 10030; ++i) ASSERT_FALSE(index.Contains(TestId(i)));

  // The absorbed rows are found through the graph: each is its own nearest neighbour, on the
  // ANN path.
  for (size_t i = 10030; i < 10400; i += 37) {
    const SearchResult r = index.Search(QueryOf(model.at(TestId(i)).vector, 1));
    ASSERT_FALSE(r.exact);
    ASSERT_EQ(r.hits.size(), 1u);
    EXPECT_EQ(r.hits[0].entity_id, TestId(i));
  }
  const Dataset data = testing::ToDataset(model, dim);
  const auto queries = Queries(gen, 50);
  EXPECT_GE(MeanRecall(index, data, queries, SearchQuery{}, OracleQuery{}), 0.95);
  SearchQuery filtered;
  filtered.types = MaskOf({1, 2});
  OracleQuery oq;
  oq.types = std::vector<uint8_t>{1, 2};
  EXPECT_GE(MeanRecall(index, data, queries, filtered, oq), 0.95);
  for (const auto& qv : queries) {
    SearchQuery q = QueryOf(qv, 20);
    q.effort.exact = true;
    OracleQuery exact;
    exact.limit = 20;
    ExpectSameAsOracle(index.Search(q).hits, data, qv.data(), exact);
  }
}

TEST(EntityIndexTest, ACancelledBuildLeavesTheIndexAsItWas) {
  const size_t dim = 32;
  std::atomic<bool> cancel{false};
  bool cancel_after_a_chunk = true;
  std::vector<RebuildProgress> events;
  IndexOptions options;
  options.rebuild_duty_cycle = 1.0;
  options.on_rebuild_progress = [&](const IndexKey&, const RebuildProgress& p) {
    events.push_back(p);
    if (cancel_after_a_chunk && p.rows_done > 0 && !p.finished) cancel = true;
  };
  EntityIndex index(KeyOfDim(dim), options);
  VectorStream gen(dim, 10, 12);
  const Model model = Fill(index, gen, 30000);

  EXPECT_FALSE(index.RebuildIfNeeded(&cancel));
  ASSERT_FALSE(events.empty());
  EXPECT_TRUE(events.back().finished);
  EXPECT_TRUE(events.back().cancelled);
  IndexStats s = index.Stats();
  EXPECT_EQ(s.kind, IndexKind::kFlat);
  EXPECT_EQ(s.live, 30000u);
  EXPECT_FALSE(s.rebuilding);
  const Dataset data = testing::ToDataset(model, dim);
  const auto qv = Queries(gen, 1)[0];
  ExpectSameAsOracle(index.Search(QueryOf(qv)).hits, data, qv.data(), OracleQuery{});

  cancel = false;
  cancel_after_a_chunk = false;
  EXPECT_TRUE(index.RebuildIfNeeded(&cancel)) << "the next maintenance pass builds it";
  EXPECT_EQ(index.Stats().kind, IndexKind::kHnsw);
  EXPECT_FALSE(events.back().cancelled);
}

TEST(EntityIndexTest, ARebuildReportsItsProgress) {
  const size_t dim = 16;
  std::vector<RebuildProgress> events;
  std::mutex mu;
  IndexOptions options;
  options.on_rebuild_progress = [&](const IndexKey& key, const RebuildProgress& p) {
    EXPECT_EQ(key, KeyOfDim(dim));
    std::lock_guard lock(mu);
    events.push_back(p);
  };
  EntityIndex index(KeyOfDim(dim), options);
  VectorStream gen(dim, 10, 7);
  Fill(index, gen, 25000);
  ASSERT_TRUE(index.Rebuild(IndexKind::kHnsw).ok());

  ASSERT_GE(events.size(), 3u) << "a start, at least one chunk, and the end";
  EXPECT_EQ(events.front().rows_done, 0u);
  EXPECT_FALSE(events.front().finished);
  EXPECT_TRUE(events.back().finished);
  EXPECT_EQ(events.back().rows_done, 25000u);
  for (size_t i = 1; i < events.size(); ++i) {
    EXPECT_EQ(events[i].rows_total, 25000u);
    EXPECT_EQ(events[i].kind, IndexKind::kHnsw);
    EXPECT_GT(events[i].rows_done, events[i - 1].rows_done) << "progress only moves forward";
  }
}

}  // namespace
}  // namespace vecmirror
