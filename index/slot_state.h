// The slots of an EntityIndex and their live bitmap. A slot holds one (entity_id, type code,
// unit vector) and is written once: an upsert appends a slot and tombstones the entity's
// previous one (live bit 0), a remove tombstones it. Beside the slots a SlotState keeps the map
// from each live entity to its slot, the live count per type (which a query's allow-list
// counts from), and where each slot's vector is: slots [0, sealed->rows) in the sealed
// structure (index/sealed_structure.h), the later ones in the tail, a RowStore.
//
// Thread-safety: none of its own. EntityIndex reads a SlotState under its shared lock and writes
// it under its exclusive lock; a rebuild copies the live rows out (CopyLiveRows, under the
// shared lock), builds a fresh SlotState from them without any lock (BuildState), and swaps the
// pointer under the exclusive lock.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "base/uuid.h"
#include "index/entity_types.h"
#include "index/index_options.h"
#include "index/row_store.h"
#include "index/sealed_structure.h"
#include "index/slot_table.h"

namespace vecmirror {

// Everything a search reads: the slots, their live bits and types, where their vectors are.
// Rebuild prepares a fresh SlotState off to the side and swaps the pointer.
struct SlotState {
  explicit SlotState(size_t dim)
      : dim(dim), sealed(std::make_shared<const SealedStructure>()), tail(dim) {}

  const size_t dim;
  std::vector<Uuid> ids;                                 // per slot
  std::vector<EntityTypeCode> types;                     // per slot
  std::vector<uint8_t> live;                             // per slot: 1 = live, 0 = tombstone
  SlotTable slot_of;                  // live entities only, keyed by ids[slot]
  std::vector<size_t> live_by_type;  // per type code; covers every code a slot has had
  size_t live_count = 0;
  // Slots [0, sealed->rows). Shared, so that a captured IndexImage (index/index_image.h) keeps
  // the structure it was taken from after a rebuild swaps in another.
  std::shared_ptr<const SealedStructure> sealed;
  RowStore tail;                   // slots [sealed->rows, slots())

  size_t slots() const { return ids.size(); }
  size_t dead() const { return slots() - live_count; }
  size_t tail_rows() const { return slots() - sealed->rows; }

  // dot(query, the slot's vector as stored): a sealed fp16 row is scored widened.
  float Score(const float* query, size_t slot) const {
    return slot < sealed->rows ? sealed->Score(query, slot, dim)
                               : DotProduct(query, tail.Row(slot - sealed->rows), dim);
  }

  // The slot's vector as stored, as `dim` floats: a sealed fp16 row comes back widened, so it is
  // the half-rounded vector, not the one upserted.
  void CopyVector(size_t slot, float* out) const {
    if (slot < sealed->rows) {
      sealed->CopyRow(slot, dim, out);
    } else {
      const float* row = tail.Row(slot - sealed->rows);
      std::memcpy(out, row, dim * sizeof(float));
    }
  }

  // Whether the slot holds `vector` as it would store it (a sealed fp16 row: its rounding).
  bool HoldsVector(size_t slot, const float* vector) const {
    return slot < sealed->rows
               ? sealed->RowEquals(slot, dim, vector)
               : std::memcmp(tail.Row(slot - sealed->rows), vector, dim * sizeof(float)) == 0;
  }

  void CountLive(EntityTypeCode type) {
    if (type >= live_by_type.size()) live_by_type.resize(size_t{type} + 1);
    ++live_by_type[type];
  }

  void Tombstone(uint32_t slot) {
    live[slot] = 0;
    --live_by_type[types[slot]];
    --live_count;
  }

  void Remove(const Uuid& id) {
    const uint32_t slot = slot_of.Find(id, ids);
    if (slot == SlotTable::kNoSlot) return;
    Tombstone(slot);
    slot_of.Erase(id, ids);
  }

  // `vector` is unit length and of this index's dimension.
  void Upsert(const Uuid& id, EntityTypeCode type, const float* vector) {
    const uint32_t old = slot_of.Find(id, ids);
    if (old != SlotTable::kNoSlot) {
      // Replaying a write already applied (a rebuild's log, a re-sent row) keeps its slot.
      if (types[old] == type && HoldsVector(old, vector)) return;
      Tombstone(old);
    }
    const auto slot = static_cast<uint32_t>(slots());
    ids.push_back(id);
    types.push_back(type);
    live.push_back(1);
    tail.Append(vector);
    CountLive(type);
    ++live_count;
    slot_of.Assign(slot, ids);
  }

  size_t MemoryBytes() const {
    return ids.capacity() * sizeof(Uuid) + types.capacity() * sizeof(EntityTypeCode) +
           live.capacity() + live_by_type.capacity() * sizeof(size_t) +
           slot_of.MemoryBytes() +
           sealed->MemoryBytes(dim) + tail.AllocatedBytes();
  }
};

// The live rows of a SlotState, copied for a rebuild.
struct LiveRows {
  std::vector<Uuid> ids;
  std::vector<EntityTypeCode> types;
  std::vector<float> vectors;  // row-major, ids.size() x dim
  // From an SQ8 sealed structure: its ranges, and how many leading rows of `vectors` were
  // decoded from its codes (the rest came from the tail as written). BuildSealed widens these
  // ranges rather than training new ones (WidenSq8Ranges says why).
  std::optional<Sq8Ranges> sq8_ranges;
  size_t decoded_rows = 0;
};

LiveRows CopyLiveRows(const SlotState& state);

// A new SlotState whose slots are `rows`, all live, sealed as `kind`: in order, except that IVF
// numbers them list by list (BuildSealed). May throw, and calls
// `progress`, as BuildSealed does.
std::unique_ptr<SlotState> BuildState(LiveRows rows, IndexKind kind, size_t dim,
                                      const IndexOptions& options,
                                      const std::function<void(size_t)>& progress);

}  // namespace vecmirror
