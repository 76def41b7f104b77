// IndexImage: a consistent, immutable view of one EntityIndex at the moment it was captured
// (EntityIndex::Capture): its key, kind, pinned kind, covered LSN, the per-slot tables, the
// sealed structure it was searching, and a copy of its tail rows. A snapshot writes images to
// files (index/index_file.h), and EntityIndex::FromImage makes an index that searches exactly
// like the one captured.
//
// Capture is cheap: the sealed structure is shared, not copied (it is immutable, and the image's
// reference keeps it alive after a rebuild swaps in another), the per-slot tables are copied
// (22 bytes per slot), and the tail is bounded by IndexOptions::tail_absorb_rows between
// maintenance passes.
//
// Thread-safety: an image is a plain value that nothing changes after Capture; any number of
// threads may read it, while the index it came from goes on searching and applying writes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "base/status.h"
#include "base/uuid.h"
#include "index/entity_types.h"
#include "index/index_key.h"
#include "index/index_options.h"
#include "index/sealed_structure.h"

namespace vecmirror {

struct IndexImage {
  IndexKey key;
  IndexKind kind = IndexKind::kFlat;  // of the sealed structure
  std::optional<IndexKind> pinned_kind;
  uint64_t covered_lsn = 0;

  // Per slot, slots [0, ids.size()): entity id, type code, 1 = live / 0 = tombstone.
  std::vector<Uuid> ids;
  std::vector<EntityTypeCode> types;
  std::vector<uint8_t> live;
  size_t live_count = 0;

  // Slots [0, sealed->rows); never null.
  std::shared_ptr<const SealedStructure> sealed;
  // Slots [sealed->rows, ids.size()): row-major, key.dim floats each.
  std::vector<float> tail;

  size_t slots() const { return ids.size(); }
  size_t sealed_rows() const { return sealed ? sealed->rows : 0; }
  size_t tail_rows() const { return slots() - sealed_rows(); }
  size_t dead() const { return slots() - live_count; }
};

struct SlotState;

// The image of `state` (per-slot tables, shared sealed structure, tail copy), with the key,
// pinned kind and covered LSN left for the caller to fill. The caller holds the index's lock.
IndexImage ImageOfState(const SlotState& state);

// The SlotState an image describes, for EntityIndex::FromImage. Checks that the image is
// coherent first (table sizes, live count, the sealed structure's rows and dimension, the tail's
// size, no entity live in two slots) and returns Corruption naming what is not, so a damaged
// image never becomes an index that searches out of bounds.
Status StateFromImage(IndexImage image, std::unique_ptr<SlotState>* state);

}  // namespace vecmirror
