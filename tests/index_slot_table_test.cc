// SlotTable against a std::unordered_map model: the same inserts, reassignments, erases (present
// and absent ids) and lookups, with the per-slot ids kept the way SlotState keeps them (an id's
// old slot keeps its id after the id moves on or is erased).
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <unordered_map>
#include <vector>

#include "base/uuid.h"
#include "index/slot_table.h"

namespace vecmirror {
namespace {

// Ids that differ only in their last two bytes: UuidHash's low bits barely tell them apart.
Uuid NearbyId(uint32_t n) {
  Uuid id;
  id.bytes.fill(0x5a);
  id.bytes[14] = static_cast<uint8_t>(n >> 8);
  id.bytes[15] = static_cast<uint8_t>(n);
  return id;
}

Uuid RandomId(std::mt19937_64& rng) {
  Uuid id;
  for (size_t i = 0; i < 16; i += 8) {
    const uint64_t word = rng();
    for (size_t b = 0; b < 8; ++b) id.bytes[i + b] = static_cast<uint8_t>(word >> (8 * b));
  }
  return id;
}

// A SlotTable and its model, driven like SlotState drives it.
struct Harness {
  std::vector<Uuid> ids;  // per slot, never shrinks
  SlotTable table;
  std::unordered_map<Uuid, uint32_t, UuidHash> model;

  void Upsert(const Uuid& id) {
    ids.push_back(id);
    const auto slot = static_cast<uint32_t>(ids.size() - 1);
    table.Assign(slot, ids);
    model[id] = slot;
  }

  void Erase(const Uuid& id) {
    EXPECT_EQ(table.Erase(id, ids), model.erase(id) == 1);
  }

  void ExpectFind(const Uuid& id) const {
    auto it = model.find(id);
    EXPECT_EQ(table.Find(id, ids), it == model.end() ? SlotTable::kNoSlot : it->second);
  }

  void ExpectSame(const std::vector<Uuid>& universe) const {
    ASSERT_EQ(table.size(), model.size());
    for (const Uuid& id : universe) ExpectFind(id);
    // Room to spare: at most 3/4 of the cells full.
    if (table.capacity() != 0) {
      EXPECT_LE(table.size() * 4, table.capacity() * 3);
    }
  }
};

TEST(SlotTable, EmptyTableFindsAndErasesNothing) {
  Harness h;
  h.ids.push_back(NearbyId(1));  // a slot whose id was never put in the table
  EXPECT_EQ(h.table.Find(NearbyId(1), h.ids), SlotTable::kNoSlot);
  EXPECT_FALSE(h.table.Erase(NearbyId(1), h.ids));
  EXPECT_EQ(h.table.size(), 0u);
}

TEST(SlotTable, GrowsOneEntryPastTheThreshold) {
  Harness h;
  std::vector<Uuid> universe;
  h.Upsert(NearbyId(0));
  universe.push_back(NearbyId(0));
  const size_t first_capacity = h.table.capacity();
  ASSERT_GT(first_capacity, 0u);
  const size_t threshold = SlotTable::MaxEntries(first_capacity);
  for (uint32_t n = 1; n < threshold; ++n) {
    h.Upsert(NearbyId(n));
    universe.push_back(NearbyId(n));
  }
  EXPECT_EQ(h.table.capacity(), first_capacity) << "full to the threshold, not past it";
  h.ExpectSame(universe);
  h.Upsert(NearbyId(static_cast<uint32_t>(threshold)));  // one more than the threshold
  universe.push_back(NearbyId(static_cast<uint32_t>(threshold)));
  EXPECT_EQ(h.table.capacity(), 2 * first_capacity);
  h.ExpectSame(universe);
}

TEST(SlotTable, InsertRefusesAnIdThatHasASlot) {
  Harness h;
  h.Upsert(NearbyId(7));
  h.ids.push_back(NearbyId(7));  // slot 1 holds the same id
  EXPECT_FALSE(h.table.Insert(1, h.ids));
  EXPECT_EQ(h.table.Find(NearbyId(7), h.ids), 0u);
  EXPECT_EQ(h.table.size(), 1u);
}

TEST(SlotTable, ReserveKeepsEveryEntry) {
  Harness h;
  std::vector<Uuid> universe;
  for (uint32_t n = 0; n < 100; ++n) {
    h.Upsert(NearbyId(n));
    universe.push_back(NearbyId(n));
  }
  h.table.Reserve(5000, h.ids);
  EXPECT_EQ(h.table.capacity(), 6667u) << "ceil(4 x 5000 / 3): sized to the count, not a power of two";
  EXPECT_GE(SlotTable::MaxEntries(h.table.capacity()), 5000u);
  h.ExpectSame(universe);
}

TEST(SlotTable, CellsForIsTheFewestThatHoldN) {
  EXPECT_EQ(SlotTable::CellsFor(0), SlotTable::kMinCells);
  EXPECT_EQ(SlotTable::CellsFor(12), SlotTable::kMinCells);  // 16 x 3/4 = 12
  EXPECT_EQ(SlotTable::CellsFor(13), 18u);
  for (size_t n = 1; n <= 100000; n += (n < 1000 ? 1 : 997)) {
    const size_t cells = SlotTable::CellsFor(n);
    ASSERT_GE(SlotTable::MaxEntries(cells), n) << n;
    if (cells > SlotTable::kMinCells) {
      ASSERT_LT(SlotTable::MaxEntries(cells - 1), n) << n;
    }
  }
  EXPECT_EQ(SlotTable::CellsFor(100000), 133334u);
}

// A table reserved for exactly n (as a build or a restore reserves it): n - 1, n entries keep its
// cells; entry n + 1 doubles them. Every entry found at each step, across the wrap-around of a
// table whose size is not a power of two.
TEST(SlotTable, ReservedForNHoldsNThenGrowsOnePast) {
  for (const size_t n : {size_t{13}, size_t{1000}, size_t{4099}}) {
    Harness h;
    std::vector<Uuid> universe;
    std::mt19937_64 rng(n);
    for (size_t i = 0; i < n + 1; ++i) universe.push_back(i % 2 ? RandomId(rng) : NearbyId(static_cast<uint32_t>(i)));
    h.table.Reserve(n, h.ids);
    const size_t reserved = h.table.capacity();
    ASSERT_EQ(reserved, SlotTable::CellsFor(n));
    ASSERT_NE(reserved & (reserved - 1), 0u) << "not a power of two: " << reserved;
    std::vector<Uuid> added;
    for (size_t i = 0; i < n; ++i) {
      h.Upsert(universe[i]);
      added.push_back(universe[i]);
      if (i + 2 == n) {  // n - 1 entries
        EXPECT_EQ(h.table.capacity(), reserved);
        h.ExpectSame(universe);
      }
    }
    EXPECT_EQ(h.table.capacity(), reserved) << "n entries fit the cells reserved for n";
    h.ExpectSame(universe);
    // Erase and re-add every other one: backward shifts across the end of the table.
    for (size_t i = 0; i < n; i += 2) h.Erase(universe[i]);
    h.ExpectSame(universe);
    for (size_t i = 0; i < n; i += 2) h.Upsert(universe[i]);
    EXPECT_EQ(h.table.capacity(), reserved);
    h.ExpectSame(universe);
    h.Upsert(universe[n]);  // one past
    EXPECT_EQ(h.table.capacity(), 2 * reserved);
    h.ExpectSame(universe);
  }
}

// Bounded random sequences: upserts (new ids and ids already in), erases (present and absent),
// lookups, with a full comparison every so often, over tables that grow through several
// doublings and shrink back by erases (erase shifts entries back across the wrap-around too).
// `reserve`: entries reserved first (0: none), so that the table starts at a size that is not a
// power of two and doubles from there.
void RunRandomSequence(bool nearby_ids, uint64_t seed, size_t reserve = 0) {
  std::mt19937_64 rng(seed);
  std::vector<Uuid> universe;
  for (uint32_t n = 0; n < 3000; ++n) universe.push_back(nearby_ids ? NearbyId(n) : RandomId(rng));
  Harness h;
  if (reserve != 0) h.table.Reserve(reserve, h.ids);
  constexpr int kSteps = 60000;
  for (int step = 0; step < kSteps; ++step) {
    // First a phase that mostly adds, then one that mostly erases, then an even mix.
    const int phase = step * 3 / kSteps;
    const int add_percent = phase == 0 ? 70 : phase == 1 ? 20 : 45;
    const Uuid& id = universe[rng() % universe.size()];
    const int op = static_cast<int>(rng() % 100);
    if (op < add_percent) {
      h.Upsert(id);
    } else if (op < 90) {
      h.Erase(id);
    } else {
      h.ExpectFind(id);
    }
    if (step % 5000 == 0 || step == kSteps - 1) {
      h.ExpectSame(universe);
      if (testing::Test::HasFailure()) return;
    }
  }
}

TEST(SlotTable, MatchesAMapUnderRandomOperationsOnNearbyIds) { RunRandomSequence(true, 1); }
TEST(SlotTable, MatchesAMapUnderRandomOperationsOnRandomIds) { RunRandomSequence(false, 2); }
TEST(SlotTable, MatchesAMapUnderRandomOperationsFromAnOddSize) {
  RunRandomSequence(true, 3, 101);   // 135 cells, then 270, 540, ...
  RunRandomSequence(false, 4, 101);
}

}  // namespace
}  // namespace vecmirror
