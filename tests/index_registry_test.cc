// Registry: transactions applied atomically across indexes as concurrent searchers see them,
// the LSN watermark and WaitForLsn, index creation, Reset, online rebuilds and maintenance.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "index/registry.h"
#include "tests/support/index_test_util.h"

namespace vecmirror {
namespace {

using namespace std::chrono_literals;
using testing::VectorStream;
using testing::TestId;

constexpr uint32_t kDim = 32;

Uuid Tenant(uint8_t n) {
  Uuid t;
  t.bytes[0] = n;
  return t;
}

IndexKey Key(uint8_t tenant, const std::string& model) {
  return IndexKey{Tenant(tenant), model, kDim};
}

KeyedWrite Put(const IndexKey& key, const Uuid& id, std::span<const float> v,
               EntityTypeCode type = 0) {
  return KeyedWrite{key, testing::Upsert(id, type, v)};
}

KeyedWrite Del(const IndexKey& key, const Uuid& id) { return KeyedWrite{key, testing::Remove(id)}; }

SearchQuery QueryOf(const std::vector<float>& v, size_t limit = 5) {
  SearchQuery q;
  q.vector = v;
  q.limit = limit;
  return q;
}

TEST(RegistryTest, CreatesIndexesOnFirstUpsertOnly) {
  Registry registry;
  VectorStream gen(kDim, 5, 1);
  const auto v = gen.Generate(1);
  // A remove for an index that doesn't exist creates nothing, but the LSN advances.
  registry.ApplyTransaction(std::vector<KeyedWrite>{Del(Key(1, "a"), TestId(1))}, 10);
  EXPECT_EQ(registry.Find(Key(1, "a")), nullptr);
  EXPECT_TRUE(registry.List().empty());
  EXPECT_EQ(registry.applied_lsn(), 10u);

  registry.ApplyTransaction(
      std::vector<KeyedWrite>{Put(Key(1, "a"), TestId(1), v), Put(Key(2, "a"), TestId(2), v)}, 20);
  ASSERT_NE(registry.Find(Key(1, "a")), nullptr);
  ASSERT_NE(registry.Find(Key(2, "a")), nullptr);
  EXPECT_EQ(registry.List().size(), 2u);
  EXPECT_EQ(registry.Find(Key(1, "a"))->Stats().covered_lsn, 20u);

  // A search of a key with no index: no hits, the current LSN.
  SearchResult r = registry.Search(Key(3, "a"), QueryOf(v));
  EXPECT_TRUE(r.hits.empty());
  EXPECT_EQ(r.applied_lsn, 20u);
  r = registry.Search(Key(1, "a"), QueryOf(v));
  ASSERT_EQ(r.hits.size(), 1u);
  EXPECT_EQ(r.hits[0].entity_id, TestId(1));
  EXPECT_EQ(r.applied_lsn, 20u);

  // An empty transaction only advances the LSN; the LSN never moves back.
  registry.ApplyTransaction({}, 30);
  EXPECT_EQ(registry.applied_lsn(), 30u);
  registry.AdvanceLsn(25);
  EXPECT_EQ(registry.applied_lsn(), 30u);
  registry.AdvanceLsn(35);
  EXPECT_EQ(registry.applied_lsn(), 35u);

  registry.Reset(7);
  EXPECT_TRUE(registry.List().empty());
  EXPECT_EQ(registry.applied_lsn(), 7u);
}

// One transaction per LSN moves entity E between indexes A and B. A searcher of either index
// must see E exactly where the LSN it reports puts it: never in neither (or both).
TEST(RegistryTest, TransactionsAreAtomicAcrossIndexes) {
  Registry registry;
  VectorStream gen(kDim, 5, 2);
  const IndexKey a = Key(1, "model-a");
  const IndexKey b = Key(1, "model-b");
  const Uuid e = TestId(0);
  const std::vector<float> ev = gen.Generate(1);
  {
    std::vector<KeyedWrite> initial = {Put(a, e, ev)};
    std::vector<float> v(kDim);
    for (size_t i = 1; i < 200; ++i) {
      gen.Next(v.data());
      initial.push_back(Put(i % 2 ? a : b, TestId(i), v));
    }
    registry.ApplyTransaction(initial, 100);
  }
  // E is in A after LSN 100 + 2k, in B after LSN 100 + 2k + 1.
  auto e_in_a_at = [](uint64_t lsn) { return (lsn - 100) % 2 == 0; };

  std::atomic<bool> stop{false};
  std::atomic<size_t> violations{0};
  std::atomic<size_t> searches{0};
  auto reader = [&](const IndexKey& key, bool is_a) {
    const std::vector<float> query = ev;
    while (!stop.load()) {
      const SearchResult r = registry.Search(key, QueryOf(query));
      ++searches;
      const bool found =
          std::any_of(r.hits.begin(), r.hits.end(), [&](const Hit& h) { return h.entity_id == e; });
      if (found != (e_in_a_at(r.applied_lsn) == is_a)) ++violations;
    }
  };
  std::thread ra(reader, a, true), rb(reader, b, false);

  // 1.5 s of moves, and on a loaded machine longer (bounded), until there were enough moves and
  // searches to mean anything.
  const auto start = std::chrono::steady_clock::now();
  auto enough = [&](uint64_t lsn) {
    const auto ran = std::chrono::steady_clock::now() - start;
    if (ran > 60s) return true;
    return ran >= 1500ms && lsn - 100 > 50 && searches.load() > 100;
  };
  uint64_t lsn = 100;
  while (!enough(lsn)) {
    ++lsn;
    const bool to_b = !e_in_a_at(lsn);
    // The remove and the upsert in one transaction, in either order within it.
    const std::vector<KeyedWrite> move = {Del(to_b ? a : b, e), Put(to_b ? b : a, e, ev)};
    registry.ApplyTransaction(move, lsn);
  }
  stop = true;
  ra.join();
  rb.join();
  EXPECT_EQ(violations.load(), 0u) << "of " << searches.load() << " searches";
  EXPECT_GT(lsn - 100, 50u) << "too few transactions to mean anything";
  EXPECT_GT(searches.load(), 100u);
  EXPECT_EQ(registry.Find(a)->Contains(e), e_in_a_at(lsn));
  EXPECT_EQ(registry.Find(b)->Contains(e), !e_in_a_at(lsn));
}

TEST(RegistryTest, WaitForLsnTimesOutOrSucceeds) {
  Registry registry;
  registry.AdvanceLsn(10);
  EXPECT_TRUE(registry.WaitForLsn(10, std::chrono::steady_clock::now()));

  auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(registry.WaitForLsn(11, start + 100ms));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 100ms);

  std::thread later([&] {
    std::this_thread::sleep_for(50ms);
    registry.ApplyTransaction({}, 20);
  });
  start = std::chrono::steady_clock::now();
  EXPECT_TRUE(registry.WaitForLsn(15, start + 10s));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_GE(registry.applied_lsn(), 15u);
  later.join();

  // Reset wakes waiters with the new LSN too.
  std::thread reset([&] {
    std::this_thread::sleep_for(50ms);
    registry.Reset(500);
  });
  EXPECT_TRUE(registry.WaitForLsn(400, std::chrono::steady_clock::now() + 10s));
  reset.join();
}

TEST(RegistryTest, OnlineRebuildOfMatchingIndexes) {
  Registry registry;
  VectorStream gen(kDim, 5, 3);
  std::vector<KeyedWrite> writes;
  std::vector<float> v(kDim);
  for (const IndexKey& key : {Key(1, "a"), Key(1, "b"), Key(2, "a")}) {
    for (size_t i = 0; i < 300; ++i) {
      gen.Next(v.data());
      writes.push_back(Put(key, TestId(i), v));
    }
  }
  registry.ApplyTransaction(writes, 1);

  auto rebuilt = registry.Rebuild(Tenant(1), "a", IndexKind::kHnsw);
  ASSERT_EQ(rebuilt.size(), 1u);
  EXPECT_EQ(rebuilt[0].key, Key(1, "a"));
  EXPECT_EQ(rebuilt[0].stats.kind, IndexKind::kHnsw);
  EXPECT_EQ(registry.Find(Key(1, "b"))->Stats().kind, IndexKind::kFlat);
  EXPECT_EQ(registry.Find(Key(2, "a"))->Stats().kind, IndexKind::kFlat);

  rebuilt = registry.Rebuild(Tenant(1), "", IndexKind::kIvf);  // every model of the tenant
  ASSERT_EQ(rebuilt.size(), 2u);
  for (const IndexInfo& info : rebuilt) EXPECT_EQ(info.stats.kind, IndexKind::kIvf);
  EXPECT_EQ(registry.Find(Key(2, "a"))->Stats().kind, IndexKind::kFlat);
  EXPECT_TRUE(registry.Rebuild(Tenant(9), "", std::nullopt).empty());
}

TEST(RegistryTest, QueuedRebuildsRunInTheBackgroundAndReportTheirOutcome) {
  std::atomic<int> reports{0};
  IndexOptions options;
  options.on_rebuild_progress = [&](const IndexKey&, const RebuildProgress&) { ++reports; };
  Registry registry(options);
  VectorStream gen(kDim, 5, 4);
  std::vector<KeyedWrite> writes;
  std::vector<float> v(kDim);
  for (const IndexKey& key : {Key(1, "a"), Key(1, "b"), Key(2, "a")}) {
    for (size_t i = 0; i < 300; ++i) {
      gen.Next(v.data());
      writes.push_back(Put(key, TestId(i), v));
    }
  }
  registry.ApplyTransaction(writes, 1);

  std::vector<IndexInfo> started;
  size_t joined = 7;
  ASSERT_TRUE(registry.StartRebuild(Tenant(1), "", IndexKind::kHnsw, &started, &joined).ok());
  ASSERT_EQ(started.size(), 2u);
  EXPECT_EQ(joined, 0u);
  ASSERT_TRUE(started[0].rebuild.has_value());
  EXPECT_EQ(started[0].rebuild->requested_kind, IndexKind::kHnsw);
  EXPECT_LT(started[0].rebuild->id, started[1].rebuild->id);
  ASSERT_TRUE(registry.WaitForRebuilds(std::chrono::steady_clock::now() + 60s));

  for (const IndexInfo& info : registry.List()) {
    SCOPED_TRACE(info.key.ToString());
    if (info.key.tenant_id != Tenant(1)) {
      EXPECT_FALSE(info.rebuild.has_value());
      EXPECT_EQ(info.stats.kind, IndexKind::kFlat);
      continue;
    }
    ASSERT_TRUE(info.rebuild.has_value());
    EXPECT_EQ(info.rebuild->state, RebuildState::kDone);
    EXPECT_EQ(info.rebuild->building, IndexKind::kHnsw);
    EXPECT_EQ(info.rebuild->rows_done, 300u);
    EXPECT_EQ(info.rebuild->rows_total, 300u);
    EXPECT_GT(info.rebuild->seconds, 0.0);
    EXPECT_EQ(info.stats.kind, IndexKind::kHnsw);
  }
  EXPECT_GE(reports.load(), 4) << "the caller's progress callback still sees every rebuild";

  // Nothing is active any more: nothing to cancel, and an unknown tenant has nothing to rebuild.
  EXPECT_TRUE(registry.CancelRebuild(Tenant(1), "").empty());
  EXPECT_EQ(registry.StartRebuild(Tenant(9), "", std::nullopt, &started, &joined).code(),
            Status::Code::kNotFound);
}

TEST(RegistryTest, MaintenancePromotesAndCompacts) {
  IndexOptions options;
  options.ann_min_rows = 500;
  Registry registry(options);
  registry.StartMaintenance(20ms);
  VectorStream gen(kDim, 5, 4);
  const IndexKey key = Key(1, "a");
  std::vector<KeyedWrite> writes;
  std::vector<float> v(kDim);
  for (size_t i = 0; i < 600; ++i) {
    gen.Next(v.data());
    writes.push_back(Put(key, TestId(i), v));
  }
  registry.ApplyTransaction(writes, 1);

  auto wait_for = [&](auto done) {
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (!done() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(10ms);
    return done();
  };
  EXPECT_TRUE(wait_for([&] { return registry.Find(key)->Stats().kind == IndexKind::kHnsw; }));

  writes.clear();
  for (size_t i = 0; i < 300; ++i) writes.push_back(Del(key, TestId(i)));
  registry.ApplyTransaction(writes, 2);
  // 300 dead of 600 slots: compacted; 300 live is below ann_min_rows: back to flat.
  EXPECT_TRUE(wait_for([&] {
    const IndexStats s = registry.Find(key)->Stats();
    return s.dead == 0 && s.kind == IndexKind::kFlat;
  }));
  EXPECT_EQ(registry.Find(key)->Stats().live, 300u);
  registry.StopMaintenance();
  registry.StopMaintenance();  // idempotent
}

TEST(RegistryTest, StopMaintenanceCancelsABuildInProgress) {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<RebuildProgress> events;
  IndexOptions options;
  options.ann_min_rows = 1000;
  options.on_rebuild_progress = [&](const IndexKey&, const RebuildProgress& p) {
    std::lock_guard lock(mu);
    events.push_back(p);
    cv.notify_all();
  };
  Registry registry(options);
  VectorStream gen(kDim, 5, 8);
  const IndexKey key = Key(1, "a");
  std::vector<KeyedWrite> writes;
  std::vector<float> v(kDim);
  for (size_t i = 0; i < 60000; ++i) {  // six chunks of 10,000 rows
    gen.Next(v.data());
    writes.push_back(Put(key, TestId(i), v));
  }
  registry.ApplyTransaction(writes, 1);
  registry.StartMaintenance(10ms);
  {
    // The first report after a chunk: the build is under way.
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, 60s, [&] { return !events.empty() && events.back().rows_done > 0; }));
  }
  registry.StopMaintenance();

  std::lock_guard lock(mu);
  ASSERT_TRUE(events.back().finished);
  EXPECT_TRUE(events.back().cancelled) << "the build ran to its end";
  const IndexStats s = registry.Find(key)->Stats();
  EXPECT_EQ(s.kind, IndexKind::kFlat) << "a cancelled build swaps nothing in";
  EXPECT_EQ(s.live, 60000u);
  EXPECT_FALSE(s.rebuilding);
}

}  // namespace
}  // namespace vecmirror
