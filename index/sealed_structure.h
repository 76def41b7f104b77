// The sealed structure of an EntityIndex: the immutable flat, HNSW or IVF structure over its
// slots [0, rows), with the builds that make one (BuildSealed, which for IVF also orders the
// slots by list) and the extension of an HNSW one by a tail of rows (ExtendHnsw). As FAISS's IndexHNSW wraps impl/HNSW, EntityIndex wraps
// this: it owns the slots, tombstones and locks, and this holds only rows and their ANN
// structure. Searches walk it in EntityIndex (index/hnsw_search.h for the graph).
//
// Thread-safety: a SealedStructure is immutable once built, so any number of threads may read it
// concurrently. BuildSealed and ExtendHnsw write only the structure they return; ExtendHnsw
// copies `base` and leaves it intact, so searches may read `base` while it runs. Builds use the
// calling thread's OpenMP team.
#pragma once

#include <faiss/IndexFlat.h>
#include <faiss/IndexFlatCodes.h>
#include <faiss/IndexHNSW.h>

#include <algorithm>
#include <cstddef>
#include <functional>
#include <memory>
#include <vector>

#include "index/index_options.h"
#include "index/kernels.h"
#include "index/sq8_codec.h"

namespace vecmirror {

// The immutable structure over slots [0, rows): built by Rebuild, then only read. Each row is
// stored once: HNSW's flat storage serves the exact scans too, and IVF's slots are numbered list
// by list, so that its inverted lists are runs of slots in one array, `flat` (list l holds slots
// [ivf_list_begin[l], ivf_list_begin[l + 1])): one copy that the probes and the exact scans
// both read by slot, and no per-row ids. The IVF search (EntityIndex) picks the lists with the
// centroids (`ivf_quantizer`) and scans them with the exact kernels.
// An HNSW structure stores its rows as fp32 (a FastFlatIP, `vectors`), fp16 (a HalfFlatIP,
// `halves`) or SQ8 codes (an Sq8FlatIP, `codes` with its `sq8_ranges`), per `storage`; readers
// score and copy rows through Score, ScoreMany and CopyRow, which work for any of them. Loops
// that score many rows against one query prepare an Sq8Query once instead (exact_scan.cc,
// hnsw_search.cc).
struct SealedStructure {
  IndexKind kind = IndexKind::kFlat;
  VectorStorage storage = VectorStorage::kFp32;
  size_t rows = 0;
  std::vector<float> flat;                            // kFlat and kIvf: the rows, contiguous
  std::unique_ptr<faiss::IndexHNSW> hnsw;             // over a FastFlatIP or HalfFlatIP storage
  std::unique_ptr<faiss::IndexFlatIP> ivf_quantizer;  // kIvf: the ivf_nlist centroids
  std::vector<uint64_t> ivf_list_begin;               // kIvf: ivf_nlist + 1 slot offsets
  size_t ivf_nlist = 0;
  size_t ivf_default_nprobe = 0;
  const float* vectors = nullptr;    // fp32 storage: row i at vectors + i * dim
  const uint16_t* halves = nullptr;  // fp16 storage: row i at halves + i * dim
  const uint8_t* codes = nullptr;    // SQ8 storage: row i's codes at codes + i * dim
  const Sq8Ranges* sq8_ranges = nullptr;  // SQ8 storage: the ranges the codes are in

  bool HasAnn() const { return rows > 0 && (hnsw || ivf_quantizer); }

  // dot(query, row), the row as stored (an fp16 row widened exactly, an SQ8 row decoded; the
  // latter prepares the query, O(dim), on every call).
  float Score(const float* query, size_t row, size_t dim) const {
    if (codes != nullptr) return Sq8Query(*sq8_ranges, query, dim).Score(codes + row * dim);
    return halves != nullptr ? DotProductF16(query, halves + row * dim, dim)
                             : DotProduct(query, vectors + row * dim, dim);
  }
  // out[i] = dot(query, row first + i) for i in [0, n).
  void ScoreMany(const float* query, size_t first, size_t n, size_t dim, float* out) const {
    if (codes != nullptr) {
      Sq8Query(*sq8_ranges, query, dim).ScoreMany(codes + first * dim, n, out);
    } else if (halves != nullptr) {
      DotProductManyF16(query, halves + first * dim, n, dim, out);
    } else {
      DotProductMany(query, vectors + first * dim, n, dim, out);
    }
  }
  // The row as floats (an fp16 row widened, an SQ8 row decoded).
  void CopyRow(size_t row, size_t dim, float* out) const {
    if (codes != nullptr) {
      DecodeSq8(*sq8_ranges, codes + row * dim, 1, dim, out);
    } else if (halves != nullptr) {
      HalvesToFloats(halves + row * dim, dim, out);
    } else {
      std::copy(vectors + row * dim, vectors + (row + 1) * dim, out);
    }
  }
  // Whether the row as stored equals `vector` stored the same way (fp16: its rounding; SQ8:
  // its codes in this structure's ranges).
  bool RowEquals(size_t row, size_t dim, const float* vector) const;

  size_t MemoryBytes(size_t dim) const {
    size_t bytes = flat.capacity() * sizeof(float);
    if (hnsw) {
      const auto& storage = static_cast<const faiss::IndexFlatCodes&>(*hnsw->storage);
      const faiss::HNSW& graph = hnsw->hnsw;
      bytes += storage.codes.capacity();
      if (sq8_ranges != nullptr) {
        bytes += (sq8_ranges->vmin.capacity() + sq8_ranges->vdiff.capacity()) * sizeof(float);
      }
      bytes += graph.neighbors.capacity() * sizeof(graph.neighbors[0]);
      bytes += graph.offsets.capacity() * sizeof(graph.offsets[0]);
      bytes += graph.levels.capacity() * sizeof(graph.levels[0]);
    }
    if (ivf_quantizer) {
      // The rows are `flat`'s; beside them only the centroids and the list offsets.
      bytes += ivf_quantizer->codes.capacity();
      bytes += ivf_list_begin.capacity() * sizeof(ivf_list_begin[0]);
    }
    (void)dim;
    return bytes;
  }
};

// An empty row storage for an HNSW graph: a FastFlatIP (fp32), a HalfFlatIP (fp16) or an
// Sq8FlatIP (SQ8, its ranges still to be trained or read).
faiss::IndexFlatCodes* NewHnswStorage(VectorStorage storage, size_t dim);

// Points sealed.vectors, sealed.halves or sealed.codes and sealed.sq8_ranges at the rows of its
// HNSW storage, per sealed.storage, and backs them with huge pages (BackWithHugePages). Called
// once the structure is complete: by the builds and by the snapshot reader.
void PointAtHnswRows(SealedStructure& sealed);

// Asks for 2 MiB pages under an HNSW structure's rows and neighbour lists (AdviseHugePages,
// index/huge_pages.h), the two arrays a search reads at random. Advice only: contents and
// results do not change. Nothing for other kinds.
void BackWithHugePages(const SealedStructure& sealed);

// Where an SQ8 build's ranges come from when some rows were decoded from an earlier SQ8
// structure: its `ranges`, widened by rows [decoded_rows, rows) (WidenSq8Ranges). Default
// (ranges null): trained from all the rows.
struct SealedSq8Prior {
  const Sq8Ranges* ranges = nullptr;
  size_t decoded_rows = 0;
};

// A sealed structure of `kind` over the `rows` rows of `vectors` (row-major, `dim` floats each),
// which it takes over; an HNSW one stores them as options.storage says (SQ8: in ranges trained
// from these rows, or `prior`'s widened). May throw (FAISS reports errors as exceptions,
// allocation may fail). `progress(rows_done)` is called after each chunk of a long HNSW build.
// Flat and HNSW keep the rows' order and leave `order` empty; IVF groups them by list, and
// `order` gets where each row went: slot i of the structure holds row (*order)[i] of `vectors`.
std::unique_ptr<SealedStructure> BuildSealed(IndexKind kind, std::vector<float> vectors,
                                             size_t rows, size_t dim, const IndexOptions& options,
                                             const std::function<void(size_t)>& progress,
                                             std::vector<uint32_t>* order,
                                             SealedSq8Prior prior = {});

// Numbers rows list by list (a stable counting sort of `list_of`, each row's list in [0, nlist)):
// `order` gets the rows in their new order, `list_begin` the nlist + 1 offsets of the lists, and
// the `dim`-float rows of `vectors` are moved in place to their new positions.
void GroupRowsByList(const std::vector<faiss::Index::idx_t>& list_of, size_t nlist, size_t dim,
                     float* vectors, std::vector<uint32_t>* order,
                     std::vector<uint64_t>* list_begin);

// A copy of the sealed HNSW structure `base` with `n` more rows added: rows base.rows.. of the
// result are `rows`. The graph and its storage are copied, then extended, so `base` stays
// intact for the searches that read it meanwhile. SQ8 rows are encoded in base's ranges. May throw like BuildSealed.
std::unique_ptr<SealedStructure> ExtendHnsw(const SealedStructure& base, const float* rows,
                                            size_t n, size_t dim,
                                            const std::function<void(size_t)>& progress);

}  // namespace vecmirror
