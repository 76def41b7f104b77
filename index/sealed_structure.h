// The sealed structure of an EntityIndex: the immutable flat, HNSW or IVF structure over its
// slots [0, rows), with the builds that make one (BuildSealed) and the extension of an HNSW
// one by a tail of rows (ExtendHnsw). As FAISS's IndexHNSW wraps impl/HNSW, EntityIndex wraps
// this: it owns the slots, tombstones and locks, and this holds only rows and their ANN
// structure. Searches walk it in EntityIndex (index/hnsw_search.h for the graph).
//
// Thread-safety: a SealedStructure is immutable once built, so any number of threads may read it
// concurrently. BuildSealed and ExtendHnsw write only the structure they return; ExtendHnsw
// copies `base` and leaves it intact, so searches may read `base` while it runs. Builds use the
// calling thread's OpenMP team.
#pragma once

#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIVFFlat.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <vector>

#include "index/index_options.h"

namespace vecmirror {

// The immutable structure over slots [0, rows): built by Rebuild, then only read. Each row is
// stored once where FAISS allows: HNSW's flat storage serves the exact scans too; IVF keeps a
// flat copy beside its inverted lists, because its lists are ordered by centroid, not by slot.
struct SealedStructure {
  IndexKind kind = IndexKind::kFlat;
  size_t rows = 0;
  std::vector<float> flat;                            // kFlat and kIvf: the rows, contiguous
  std::unique_ptr<faiss::IndexHNSW> hnsw;             // over a FastFlatIP storage
  std::unique_ptr<faiss::IndexFlatIP> ivf_quantizer;  // declared before ivf: destroyed after it
  std::unique_ptr<faiss::IndexIVFFlat> ivf;
  size_t ivf_nlist = 0;
  size_t ivf_default_nprobe = 0;
  const float* vectors = nullptr;  // row i at vectors + i * dim

  bool HasAnn() const { return rows > 0 && (hnsw || ivf); }

  size_t MemoryBytes(size_t dim) const {
    size_t bytes = flat.capacity() * sizeof(float);
    if (hnsw) {
      const auto& storage = static_cast<const faiss::IndexFlat&>(*hnsw->storage);
      const faiss::HNSW& graph = hnsw->hnsw;
      bytes += storage.codes.capacity();
      bytes += graph.neighbors.capacity() * sizeof(graph.neighbors[0]);
      bytes += graph.offsets.capacity() * sizeof(graph.offsets[0]);
      bytes += graph.levels.capacity() * sizeof(graph.levels[0]);
    }
    if (ivf) {
      // The inverted lists hold a second copy of each row plus its 8-byte id.
      bytes += ivf->ntotal * (dim * sizeof(float) + sizeof(faiss::Index::idx_t));
      bytes += ivf_nlist * dim * sizeof(float);  // centroids
    }
    return bytes;
  }
};

// A sealed structure of `kind` over the `rows` rows of `vectors` (row-major, `dim` floats each),
// which it takes over. May throw (FAISS reports errors as exceptions, allocation may fail).
// `progress(rows_done)` is called after each chunk of a long HNSW build.
std::unique_ptr<SealedStructure> BuildSealed(IndexKind kind, std::vector<float> vectors,
                                             size_t rows, size_t dim, const IndexOptions& options,
                                             const std::function<void(size_t)>& progress);

// A copy of the sealed HNSW structure `base` with `n` more rows added: rows base.rows.. of the
// result are `rows`. The graph and its storage are copied, then extended, so `base` stays
// intact for the searches that read it meanwhile. May throw like BuildSealed.
std::unique_ptr<SealedStructure> ExtendHnsw(const SealedStructure& base, const float* rows,
                                            size_t n, size_t dim,
                                            const std::function<void(size_t)>& progress);

}  // namespace vecmirror
