// SlotTable: the live slot of each entity id, as an open-addressing table of slots keyed by the
// ids they hold. It stores 4-byte slot numbers only; the id of a slot is ids[slot], in the
// per-slot ids of the SlotState it belongs to, which every call passes in. Linear probing over a
// power-of-two number of cells, at most 3/4 of them full (it doubles past that); an erase
// shifts the following entries back, so there are no tombstones. About 5 to 11 bytes per live
// entity, against some 60 for a std::unordered_map's node and bucket.
//
// The table must only hold slots whose id is live: ids[slot] of a tombstoned slot stays in
// `ids`, and a lookup compares ids[slot] == id.
//
// Thread-safety: none of its own. It is guarded by its SlotState's owner: Find may run in any
// number of threads at once, Insert/Assign/Erase/Reserve need the table to themselves.
#pragma once

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
  // Cells allocated: 0, or a power of two at least 4/3 of size().
  size_t capacity() const { return cells_.size(); }
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
    const size_t mask = cells_.size() - 1;
    // Backward shift: an entry after the hole moves into it unless its home lies in
    // (hole, its cell], where moving it would put it before its home.
    for (size_t cell = (hole + 1) & mask; cells_[cell] != kNoSlot; cell = (cell + 1) & mask) {
      const size_t home = Home(ids[cells_[cell]]);
      if (((cell - home) & mask) >= ((cell - hole) & mask)) {
        cells_[hole] = cells_[cell];
        hole = cell;
      }
    }
    cells_[hole] = kNoSlot;
    --size_;
    return true;
  }

  // Room for `n` entities without growing.
  void Reserve(size_t n, const std::vector<Uuid>& ids) {
    size_t capacity = cells_.empty() ? kMinCells : cells_.size();
    while (n > MaxEntries(capacity)) capacity *= 2;
    if (capacity != cells_.size()) Rehash(capacity, ids);
  }

 private:
  static constexpr size_t kMinCells = 16;

  static size_t MaxEntries(size_t capacity) { return capacity / 4 * 3; }

  size_t Home(const Uuid& id) const {
    // UuidHash's low bits need not vary (it leaves ids that differ in their last bytes apart
    // only in its high bits): mix them all in before masking (MurmurHash3's finalizer).
    uint64_t h = UuidHash()(id);
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return static_cast<size_t>(h) & (cells_.size() - 1);
  }

  // The cell holding `id`'s slot, or the empty cell where it would go. The table is not empty.
  size_t Locate(const Uuid& id, const std::vector<Uuid>& ids) const {
    const size_t mask = cells_.size() - 1;
    size_t cell = Home(id);
    while (cells_[cell] != kNoSlot && !(ids[cells_[cell]] == id)) cell = (cell + 1) & mask;
    return cell;
  }

  void ReserveForOneMore(const std::vector<Uuid>& ids) {
    if (cells_.empty() || size_ + 1 > MaxEntries(cells_.size())) Reserve(size_ + 1, ids);
  }

  void Rehash(size_t capacity, const std::vector<Uuid>& ids) {
    std::vector<uint32_t> old = std::exchange(cells_, std::vector<uint32_t>(capacity, kNoSlot));
    for (uint32_t slot : old) {
      if (slot == kNoSlot) continue;
      const size_t mask = cells_.size() - 1;
      size_t cell = Home(ids[slot]);
      while (cells_[cell] != kNoSlot) cell = (cell + 1) & mask;
      cells_[cell] = slot;
    }
  }

  std::vector<uint32_t> cells_;  // slot numbers; kNoSlot marks an empty cell
  size_t size_ = 0;
};

}  // namespace vecmirror
