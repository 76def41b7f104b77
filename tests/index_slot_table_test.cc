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
  const size_t threshold = first_capacity / 4 * 3;
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
  EXPECT_GE(h.table.capacity() / 4 * 3, 5000u);
  h.ExpectSame(universe);
}

// Bounded random sequences: upserts (new ids and ids already in), erases (present and absent),
// lookups, with a full comparison every so often, over tables that grow through several
// doublings and shrink back by erases (erase shifts entries back across the wrap-around too).
void RunRandomSequence(bool nearby_ids, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<Uuid> universe;
  for (uint32_t n = 0; n < 3000; ++n) universe.push_back(nearby_ids ? NearbyId(n) : RandomId(rng));
  Harness h;
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

}  // namespace
}  // namespace vecmirror
