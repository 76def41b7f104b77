#include "index/index_image.h"

#include <string>
#include <utility>

#include "index/slot_state.h"
#include "index/sq8_flat.h"

namespace vecmirror {

namespace {

Status Incoherent(const std::string& what) {
  return Status::Corruption("index image: " + what);
}

// The sealed structure holds `rows` rows of `dim` floats, where its kind keeps them.
Status CheckSealed(const SealedStructure& sealed, IndexKind kind, size_t dim) {
  if (sealed.kind != kind) return Incoherent("kind differs from the sealed structure's");
  const size_t rows = sealed.rows;
  const size_t floats = rows * dim;
  if (rows == 0) return Status::Ok();
  if (int(sealed.vectors != nullptr) + int(sealed.halves != nullptr) +
          int(sealed.codes != nullptr) != 1) {
    return Incoherent("sealed rows without vectors, or in two storages");
  }
  if (sealed.halves != nullptr &&
      (sealed.storage != VectorStorage::kFp16 || kind != IndexKind::kHnsw)) {
    return Incoherent("fp16 rows outside an fp16 HNSW structure");
  }
  if ((sealed.codes != nullptr) != (sealed.sq8_ranges != nullptr)) {
    return Incoherent("SQ8 codes without their ranges, or ranges without codes");
  }
  if (sealed.codes != nullptr) {
    if (sealed.storage != VectorStorage::kSq8 || kind != IndexKind::kHnsw) {
      return Incoherent("SQ8 codes outside an SQ8 HNSW structure");
    }
    if (std::string problem = Sq8RangesProblem(*sealed.sq8_ranges, dim); !problem.empty()) {
      return Incoherent(problem);
    }
  }
  switch (kind) {
    case IndexKind::kFlat:
      if (sealed.flat.size() != floats || sealed.vectors != sealed.flat.data()) {
        return Incoherent("flat rows do not match the sealed row count");
      }
      break;
    case IndexKind::kHnsw: {
      if (!sealed.hnsw || sealed.hnsw->storage == nullptr) return Incoherent("HNSW without a graph");
      const auto& storage = static_cast<const faiss::IndexFlatCodes&>(*sealed.hnsw->storage);
      const void* rows_at = sealed.codes != nullptr    ? static_cast<const void*>(sealed.codes)
                            : sealed.halves != nullptr ? static_cast<const void*>(sealed.halves)
                                                       : static_cast<const void*>(sealed.vectors);
      if (size_t(sealed.hnsw->d) != dim || size_t(storage.d) != dim ||
          size_t(sealed.hnsw->ntotal) != rows || size_t(storage.ntotal) != rows ||
          storage.code_size != dim * BytesPerComponent(sealed.storage) ||
          storage.codes.size() != rows * storage.code_size ||
          sealed.hnsw->hnsw.levels.size() != rows || rows_at != storage.codes.data()) {
        return Incoherent("HNSW graph or storage does not match the sealed rows");
      }
      if (sealed.codes != nullptr) {
        const auto* sq8 = dynamic_cast<const Sq8FlatIP*>(&storage);
        if (sq8 == nullptr || &sq8->ranges != sealed.sq8_ranges) {
          return Incoherent("SQ8 ranges are not those of the HNSW storage");
        }
      }
      break;
    }
    case IndexKind::kIvf:
      // The rows are `flat`, list by list; CheckSealedGraph checked the offsets' order.
      if (!sealed.ivf_quantizer || size_t(sealed.ivf_quantizer->d) != dim ||
          size_t(sealed.ivf_quantizer->ntotal) != sealed.ivf_nlist ||
          sealed.ivf_quantizer->codes.size() != sealed.ivf_nlist * dim * sizeof(float) ||
          sealed.ivf_list_begin.size() != sealed.ivf_nlist + 1 ||
          sealed.ivf_list_begin.front() != 0 || sealed.ivf_list_begin.back() != rows ||
          sealed.flat.size() != floats || sealed.vectors != sealed.flat.data()) {
        return Incoherent("IVF lists or rows do not match the sealed rows");
      }
      break;
    default:
      return Incoherent("unknown kind");
  }
  return Status::Ok();
}

}  // namespace

IndexImage ImageOfState(const SlotState& state) {
  IndexImage image;
  image.kind = state.sealed->kind;
  image.ids = state.ids;
  image.types = state.types;
  image.live = state.live;
  image.live_count = state.live_count;
  image.sealed = state.sealed;
  image.tail.resize(state.tail_rows() * state.dim);
  state.tail.ForEachContiguousRun(0, state.tail_rows(), [&](size_t first, size_t n, const float* run) {
    std::memcpy(image.tail.data() + first * state.dim, run, n * state.dim * sizeof(float));
  });
  return image;
}

Status StateFromImage(IndexImage image, std::unique_ptr<SlotState>* out) {
  const size_t dim = image.key.dim;
  const size_t slots = image.ids.size();
  if (dim == 0) return Incoherent("dimension 0");
  if (!image.sealed) return Incoherent("no sealed structure");
  if (image.types.size() != slots || image.live.size() != slots) {
    return Incoherent("per-slot tables of different lengths");
  }
  if (slots > UINT32_MAX) return Incoherent("more slots than 32-bit slot numbers");
  if (image.sealed->rows > slots) return Incoherent("more sealed rows than slots");
  if (Status s = CheckSealed(*image.sealed, image.kind, dim); !s.ok()) return s;
  const size_t tail_rows = slots - image.sealed->rows;
  if (image.tail.size() != tail_rows * dim) return Incoherent("tail size does not match the slots");

  auto state = std::make_unique<SlotState>(dim);
  state->slot_of.Reserve(image.live_count, image.ids);
  for (size_t slot = 0; slot < slots; ++slot) {
    if (image.live[slot] > 1) return Incoherent("live flag neither 0 nor 1");
    if (image.live[slot] == 0) continue;
    if (!state->slot_of.Insert(static_cast<uint32_t>(slot), image.ids)) {
      return Incoherent("an entity is live in two slots");
    }
    state->CountLive(image.types[slot]);
  }
  if (state->slot_of.size() != image.live_count) return Incoherent("live count does not match");
  // Every type code a slot has gets a (possibly zero) live count, as SlotState promises.
  for (EntityTypeCode type : image.types) {
    if (type >= state->live_by_type.size()) state->live_by_type.resize(size_t{type} + 1);
  }
  state->live_count = image.live_count;
  state->ids = std::move(image.ids);
  state->types = std::move(image.types);
  state->live = std::move(image.live);
  state->sealed = std::move(image.sealed);
  for (size_t row = 0; row < tail_rows; ++row) state->tail.Append(image.tail.data() + row * dim);
  *out = std::move(state);
  return Status::Ok();
}

}  // namespace vecmirror
