// SlotTable: the live slot of each entity id, as an open-addressing table of slots keyed by the
// ids they hold. It stores 4-byte slot numbers only; the id of a slot is ids[slot], in the
// per-slot ids of the SlotState it belongs to, which every call passes in. Linear probing, at
// most 3/4 of the cells full; an erase shifts the following entries back, so there are no
// tombstones. The number of cells need not be a power of two: Reserve(n) makes it just enough
// for n (ceil(4n/3)), as a build or a restore does with the live count, so a table of a known
// size costs about 5.3 bytes per live entity; one entry past 3/4 doubles it. Against some 60
// bytes for a std::unordered_map's node and bucket.
//
// The table must only hold slots whose id is live: ids[slot] of a tombstoned slot stays in
// `ids`, and a lookup compares ids[slot] == id.
//
// Thread-safety: none of its own. It is guarded by its SlotState's owner: Find may run in any
// number of threads at once, Insert/Assign/Erase/Reserve need the table to themselves.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "base/uuid.h"

namespace vecmirror {

class SlotTable {
 public:
  static constexpr uint32_t kNoSlot = UINT32_MAX;

  // Live entities in the table.
  size_t size() const { return size_; }
  // Cells allocated: 0, or at least kMinCells and at least 4/3 of size().
  size_t capacity() const { return cells_.size(); }
  // The most entities `capacity` cells may hold: 3/4 of them, rounded down.
  static size_t MaxEntries(size_t capacity) { return capacity * 3 / 4; }
  // The fewest cells that hold `n` entities: ceil(4n/3), and at least kMinCells.
  static size_t CellsFor(size_t n) { return std::max(kMinCells, (n * 4 + 2) / 3); }
  static constexpr size_t kMinCells = 16;
  size_t MemoryBytes() const { return cells_.capacity() * sizeof(uint32_t); }

  // The slot of `id`, or kNoSlot.
  uint32_t Find(const Uuid& id, const std::vector<Uuid>& ids) const {
    if (cells_.empty()) return kNoSlot;
    return cells_[Locate(id, ids)];
  }

  // Adds `slot` as the slot of ids[slot] unless that id has a slot already. Returns whether it
  // was added.
  bool Insert(uint32_t slot, const std::vector<Uuid>& ids) {
    ReserveForOneMore(ids);
    const size_t cell = Locate(ids[slot], ids);
    if (cells_[cell] != kNoSlot) return false;
    cells_[cell] = slot;
    ++size_;
    return true;
  }

  // Makes `slot` the slot of ids[slot], replacing the one that id had, if any.
  void Assign(uint32_t slot, const std::vector<Uuid>& ids) {
    ReserveForOneMore(ids);
    const size_t cell = Locate(ids[slot], ids);
    if (cells_[cell] == kNoSlot) ++size_;
    cells_[cell] = slot;
  }

  // Removes `id`'s slot. Returns whether it had one.
  bool Erase(const Uuid& id, const std::vector<Uuid>& ids) {
    if (cells_.empty()) return false;
    size_t hole = Locate(id, ids);
    if (cells_[hole] == kNoSlot) return false;
    // Backward shift: an entry after the hole moves into it unless its home lies in
    // (hole, its cell], where moving it would put it before its home.
    for (size_t cell = Next(hole); cells_[cell] != kNoSlot; cell = Next(cell)) {
      const size_t home = Home(ids[cells_[cell]]);
      if (Distance(home, cell) >= Distance(hole, cell)) {
        cells_[hole] = cells_[cell];
        hole = cell;
      }
    }
    cells_[hole] = kNoSlot;
    --size_;
    return true;
  }

  // Room for `n` entities without growing: CellsFor(n) cells, unless it has that many already.
  void Reserve(size_t n, const std::vector<Uuid>& ids) {
    if (!cells_.empty() && n <= MaxEntries(cells_.size())) return;
    Rehash(CellsFor(n), ids);
  }

 private:
  size_t Next(size_t cell) const { return cell + 1 == cells_.size() ? 0 : cell + 1; }
  // Steps from `from` forward to `to`, wrapping around the end.
  size_t Distance(size_t from, size_t to) const {
    return to >= from ? to - from : to + cells_.size() - from;
  }

  size_t Home(const Uuid& id) const {
    // UuidHash's low bits need not vary (it leaves ids that differ in their last bytes apart
    // only in its high bits): mix them all in first (MurmurHash3's finalizer).
    uint64_t h = UuidHash()(id);
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    // Onto [0, cells) by the high half of a 64 x 64-bit product (Lemire's fast range), which
    // needs no power of two.
    return static_cast<size_t>((static_cast<unsigned __int128>(h) * cells_.size()) >> 64);
  }

  // The cell holding `id`'s slot, or the empty cell where it would go. The table is not empty.
  size_t Locate(const Uuid& id, const std::vector<Uuid>& ids) const {
    size_t cell = Home(id);
    while (cells_[cell] != kNoSlot && !(ids[cells_[cell]] == id)) cell = Next(cell);
    return cell;
  }

  // Doubles (at least) when one more entry would pass 3/4, so that growing one by one costs
  // amortized O(1) per entry.
  void ReserveForOneMore(const std::vector<Uuid>& ids) {
    if (!cells_.empty() && size_ + 1 <= MaxEntries(cells_.size())) return;
    Rehash(std::max(CellsFor(size_ + 1), 2 * cells_.size()), ids);
  }

  void Rehash(size_t capacity, const std::vector<Uuid>& ids) {
    std::vector<uint32_t> old = std::exchange(cells_, std::vector<uint32_t>(capacity, kNoSlot));
    for (uint32_t slot : old) {
      if (slot == kNoSlot) continue;
      size_t cell = Home(ids[slot]);
      while (cells_[cell] != kNoSlot) cell = Next(cell);
      cells_[cell] = slot;
    }
  }

  std::vector<uint32_t> cells_;  // slot numbers; kNoSlot marks an empty cell
  size_t size_ = 0;
};

}  // namespace vecmirror
