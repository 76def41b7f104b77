#include "index/sealed_file.h"

#include <cstring>
#include <limits>
#include <sstream>
#include <string>
#include <utility>

#include "index/fast_flat.h"
#include "index/half_flat.h"
#include "index/sq8_flat.h"

namespace vecmirror {

namespace {

static_assert(sizeof(size_t) == sizeof(uint64_t), "HNSW offsets are written as 64-bit values");
static_assert(sizeof(faiss::HNSW::storage_idx_t) == sizeof(int32_t));

// Bounds on the parts of a graph that are not per row (a real graph has about 10 levels).
constexpr uint64_t kMaxHnswLevels = 64;
constexpr uint64_t kMaxRngStateBytes = 1 << 16;

Status Corrupt(const std::string& what) { return Status::Corruption(what); }

void WriteHnsw(const faiss::IndexHNSW& index, VectorStorage storage_kind, size_t rows, size_t dim,
               ChecksummedFileWriter& out) {
  const faiss::HNSW& g = index.hnsw;
  out.Put<int32_t>(g.entry_point);
  out.Put<int32_t>(g.max_level);
  out.Put<int32_t>(g.efConstruction);
  out.Put<int32_t>(g.efSearch);
  out.Put<uint8_t>(g.check_relative_distance);
  out.Put<int32_t>(g.upper_beam);
  out.Put<uint8_t>(g.search_bounded_queue);
  std::ostringstream rng;
  rng << g.rng.mt;  // the level generator, so that later additions draw the levels they would have
  out.PutString(rng.str());
  out.PutArray(g.assign_probas);
  out.PutArray(g.cum_nneighbor_per_level);
  out.PutArray(g.levels);
  out.PutArray(g.offsets);
  out.PutArray(g.neighbors);
  const auto& storage = static_cast<const faiss::IndexFlatCodes&>(*index.storage);
  if (storage_kind == VectorStorage::kSq8) {
    const Sq8Ranges& ranges = static_cast<const Sq8FlatIP&>(storage).ranges;
    out.PutArray(ranges.vmin);
    out.PutArray(ranges.vdiff);
  }
  out.PutArray(storage.codes);  // rows x dim floats, halves or codes, as the storage holds them
}

bool ReadHnsw(ChecksummedFileReader& in, size_t rows, size_t dim, SealedStructure& sealed) {
  auto index = std::make_unique<faiss::IndexHNSW>(NewHnswStorage(sealed.storage, dim));
  index->own_fields = true;
  faiss::HNSW& g = index->hnsw;
  uint8_t check_relative = 0, bounded_queue = 0;
  std::string rng;
  in.Get(&g.entry_point);
  in.Get(&g.max_level);
  in.Get(&g.efConstruction);
  in.Get(&g.efSearch);
  in.Get(&check_relative);
  in.Get(&g.upper_beam);
  in.Get(&bounded_queue);
  in.GetString(&rng, kMaxRngStateBytes);
  g.check_relative_distance = check_relative != 0;
  g.search_bounded_queue = bounded_queue != 0;
  in.GetArray(&g.assign_probas, kMaxHnswLevels);
  in.GetArray(&g.cum_nneighbor_per_level, kMaxHnswLevels + 1);
  in.GetArray(&g.levels, rows);
  in.GetArray(&g.offsets, rows + 1);
  in.GetArray(&g.neighbors, std::numeric_limits<uint64_t>::max());
  auto& storage = static_cast<faiss::IndexFlatCodes&>(*index->storage);
  if (sealed.storage == VectorStorage::kSq8) {
    // Read as they are; CheckSealedGraph checks them once the checksum matched.
    Sq8Ranges& ranges = static_cast<Sq8FlatIP&>(storage).ranges;
    if (!in.GetArray(&ranges.vmin, dim) || !in.GetArray(&ranges.vdiff, dim)) return false;
    if (ranges.vmin.size() != dim || ranges.vdiff.size() != dim) {
      return in.Fail("SQ8 ranges of the wrong size");
    }
  }
  // Exactly rows x dim floats, halves or codes, read straight into the storage the searches use.
  uint64_t bytes = 0;
  if (!in.Get(&bytes) || bytes != rows * storage.code_size || bytes > in.remaining()) {
    return in.Fail("HNSW storage of the wrong size");
  }
  storage.codes.resize(bytes);
  if (!in.GetRaw(storage.codes.data(), bytes)) return false;
  if (in.failed()) return false;
  std::istringstream rng_in(rng);
  rng_in >> g.rng.mt;
  if (rng_in.fail()) return in.Fail("unreadable HNSW level generator state");
  storage.ntotal = static_cast<faiss::Index::idx_t>(rows);
  index->ntotal = static_cast<faiss::Index::idx_t>(rows);
  index->is_trained = true;
  sealed.hnsw = std::move(index);
  PointAtHnswRows(sealed);
  return true;
}

void WriteIvf(const SealedStructure& sealed, ChecksummedFileWriter& out) {
  out.Put<uint64_t>(sealed.ivf_nlist);
  out.Put<uint64_t>(sealed.ivf_default_nprobe);
  out.PutArray(sealed.ivf_quantizer->codes);
  out.PutArray(sealed.ivf_list_begin);
  out.PutArray(sealed.flat);  // the rows by slot, which is list by list
}

// Version 2 and older: each list's ids (slots) and codes (the rows), then every row again by
// slot. The lists' rows become `flat`, list by list, and `order` says which old slot each new
// one is; the old flat copy is only checked against the lists, a row at a time.
bool ReadIvfLists(ChecksummedFileReader& in, size_t rows, size_t dim, SealedStructure& sealed,
                  std::vector<uint32_t>* order) {
  const size_t nlist = sealed.ivf_nlist;
  const uint64_t row_bytes = dim * sizeof(float);
  // The lists hold every row: the file has room for them before anything is allocated.
  if (rows > in.remaining() / row_bytes) return in.Fail("IVF lists larger than the file");
  sealed.flat.resize(rows * dim);
  sealed.ivf_list_begin.reserve(nlist + 1);
  sealed.ivf_list_begin.assign(1, 0);
  order->clear();
  order->reserve(rows);
  std::vector<faiss::Index::idx_t> ids;
  for (size_t list = 0; list < nlist; ++list) {
    const uint64_t total = order->size();
    if (!in.GetArray(&ids, rows - total)) return false;
    for (const faiss::Index::idx_t id : ids) {
      if (id < 0 || size_t(id) >= rows) return in.Fail("IVF list id out of range");
      order->push_back(static_cast<uint32_t>(id));
    }
    if (!in.GetArrayInto(reinterpret_cast<uint8_t*>(sealed.flat.data() + total * dim),
                         ids.size() * row_bytes)) {
      return false;
    }
    sealed.ivf_list_begin.push_back(order->size());
  }
  if (order->size() != rows) return in.Fail("IVF lists do not hold every sealed row");
  // Each old slot in exactly one list, at the row that now holds it.
  std::vector<uint32_t> now_at(rows, UINT32_MAX);
  for (size_t slot = 0; slot < rows; ++slot) {
    uint32_t& at = now_at[(*order)[slot]];
    if (at != UINT32_MAX) return in.Fail("IVF lists hold a row twice");
    at = static_cast<uint32_t>(slot);
  }
  uint64_t floats = 0;
  if (!in.Get(&floats) || floats != rows * dim) return in.Fail("IVF flat rows");
  std::vector<float> row(dim);
  for (size_t old_slot = 0; old_slot < rows; ++old_slot) {
    if (!in.GetRaw(row.data(), row_bytes)) return false;
    if (std::memcmp(row.data(), sealed.flat.data() + size_t(now_at[old_slot]) * dim, row_bytes) !=
        0) {
      return in.Fail("IVF flat rows differ from the lists'");
    }
  }
  return true;
}

bool ReadIvf(ChecksummedFileReader& in, uint32_t version, size_t rows, size_t dim,
             SealedStructure& sealed, std::vector<uint32_t>* order) {
  const auto d = static_cast<faiss::Index::idx_t>(dim);
  uint64_t nlist = 0, nprobe = 0;
  if (!in.Get(&nlist) || !in.Get(&nprobe)) return false;
  if (nlist == 0 || nlist > rows || nprobe == 0 || nprobe > nlist) {
    return in.Fail("IVF list or probe count out of range");
  }
  auto quantizer = std::make_unique<faiss::IndexFlatIP>(d);
  if (!in.GetArray(&quantizer->codes, nlist * dim * sizeof(float))) return false;
  if (quantizer->codes.size() != nlist * dim * sizeof(float)) return in.Fail("IVF centroids");
  quantizer->ntotal = static_cast<faiss::Index::idx_t>(nlist);
  sealed.ivf_nlist = nlist;
  sealed.ivf_default_nprobe = nprobe;
  if (version >= kIvfListsInPlaceVersion) {
    if (!in.GetArray(&sealed.ivf_list_begin, nlist + 1)) return false;
    if (sealed.ivf_list_begin.size() != nlist + 1) return in.Fail("IVF list offsets");
    if (!in.GetArray(&sealed.flat, rows * dim)) return false;
    if (sealed.flat.size() != rows * dim) return in.Fail("IVF rows");
  } else if (!ReadIvfLists(in, rows, dim, sealed, order)) {
    return false;
  }
  sealed.vectors = sealed.flat.data();
  sealed.ivf_quantizer = std::move(quantizer);
  return true;
}

}  // namespace

int HnswLinksPerNode(const faiss::HNSW& graph) {
  if (graph.cum_nneighbor_per_level.size() >= 3) return graph.nb_neighbors(1);
  if (graph.cum_nneighbor_per_level.size() == 2) return graph.nb_neighbors(0) / 2;
  return 0;
}

void WriteSealed(const SealedStructure& sealed, size_t dim, ChecksummedFileWriter& out) {
  out.Put<uint64_t>(sealed.rows);
  if (sealed.rows == 0) return;
  switch (sealed.kind) {
    case IndexKind::kFlat:
      out.PutArray(sealed.flat);
      break;
    case IndexKind::kHnsw:
      WriteHnsw(*sealed.hnsw, sealed.storage, sealed.rows, dim, out);
      break;
    case IndexKind::kIvf:
      WriteIvf(sealed, out);
      break;
  }
}

bool ReadSealed(ChecksummedFileReader& in, uint32_t version, IndexKind kind,
                VectorStorage storage, size_t rows, size_t dim,
                std::unique_ptr<SealedStructure>* out, std::vector<uint32_t>* order) {
  order->clear();
  auto sealed = std::make_unique<SealedStructure>();
  sealed->kind = kind;
  sealed->storage = storage;
  uint64_t stored_rows = 0;
  if (!in.Get(&stored_rows)) return false;
  if (stored_rows != rows) return in.Fail("sealed row count differs from the header's");
  sealed->rows = rows;
  if (rows > 0) {
    bool ok = false;
    switch (kind) {
      case IndexKind::kFlat:
        ok = in.GetArray(&sealed->flat, rows * dim) ||
             in.Fail("flat rows");
        if (ok && sealed->flat.size() != rows * dim) ok = in.Fail("flat rows of the wrong size");
        sealed->vectors = sealed->flat.data();
        break;
      case IndexKind::kHnsw:
        ok = ReadHnsw(in, rows, dim, *sealed);
        break;
      case IndexKind::kIvf:
        ok = ReadIvf(in, version, rows, dim, *sealed, order);
        break;
    }
    if (!ok) return false;
  }
  *out = std::move(sealed);
  return !in.failed();
}

Status CheckSealedGraph(const SealedStructure& sealed, size_t dim) {
  const size_t rows = sealed.rows;
  if (rows == 0 || sealed.kind == IndexKind::kFlat) return Status::Ok();
  if (sealed.kind == IndexKind::kIvf) {
    // The lists are runs of slots that cover [0, rows) in order.
    const std::vector<uint64_t>& begin = sealed.ivf_list_begin;
    if (begin.size() != sealed.ivf_nlist + 1 || begin.front() != 0 || begin.back() != rows) {
      return Corrupt("IVF list offsets do not cover the sealed rows");
    }
    for (size_t list = 0; list < sealed.ivf_nlist; ++list) {
      if (begin[list + 1] < begin[list]) return Corrupt("IVF list offsets out of order");
    }
    return Status::Ok();
  }
  const faiss::HNSW& g = sealed.hnsw->hnsw;
  const size_t levels = g.assign_probas.size();
  if (levels == 0 || g.cum_nneighbor_per_level.size() != levels + 1 ||
      g.cum_nneighbor_per_level[0] != 0) {
    return Corrupt("HNSW level sizes");
  }
  for (size_t l = 0; l < levels; ++l) {
    if (g.cum_nneighbor_per_level[l + 1] < g.cum_nneighbor_per_level[l]) {
      return Corrupt("HNSW level sizes");
    }
  }
  if (g.levels.size() != rows || g.offsets.size() != rows + 1 || g.offsets[0] != 0) {
    return Corrupt("HNSW level or offset table size");
  }
  int top = 0;
  for (size_t i = 0; i < rows; ++i) {
    const int level = g.levels[i];  // FAISS stores a node's top level + 1
    if (level < 1 || size_t(level) > levels) return Corrupt("HNSW node level out of range");
    top = std::max(top, level - 1);
    const size_t links = size_t(g.cum_nneighbor_per_level[level]);
    if (g.offsets[i + 1] < g.offsets[i] || g.offsets[i + 1] - g.offsets[i] != links) {
      return Corrupt("HNSW offsets do not match the node levels");
    }
  }
  if (g.offsets[rows] != g.neighbors.size()) return Corrupt("HNSW neighbor table size");
  for (const int n : g.neighbors) {
    if (n < -1 || n >= static_cast<int64_t>(rows)) return Corrupt("HNSW neighbor out of range");
  }
  if (g.max_level != top || g.entry_point < 0 || size_t(g.entry_point) >= rows ||
      g.levels[size_t(g.entry_point)] - 1 != g.max_level) {
    return Corrupt("HNSW entry point or top level");
  }
  if (g.efSearch < 1 || g.efConstruction < 1) return Corrupt("HNSW search parameters");
  if (sealed.sq8_ranges != nullptr) {
    if (std::string problem = Sq8RangesProblem(*sealed.sq8_ranges, dim); !problem.empty()) {
      return Corrupt(problem);
    }
  }
  return Status::Ok();
}

}  // namespace vecmirror
