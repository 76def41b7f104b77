// The encoding of a SealedStructure (index/sealed_structure.h) in an index file
// (index/index_file.h): its rows and ANN structure as they are in memory, so that loading one is
// reading arrays into place, never building. Flat: the rows. HNSW: the faiss::HNSW graph's
// public arrays and parameters (levels, offsets, neighbors, assign_probas,
// cum_nneighbor_per_level, entry point, max level, efConstruction, efSearch, the level
// generator's state) and the rows of its FastFlatIP (fp32), HalfFlatIP (fp16) or Sq8FlatIP
// (SQ8) storage as stored, so the restored graph is the same graph and builds on with the
// engine's kernels; an SQ8 storage's per-dimension ranges (vmin, then vdiff: dim floats each,
// as arrays) come just before its codes. The storage kind is in the index file's header
// (index/index_file.h), not here. IVF: the centroids, the lists' slot offsets and the rows by
// slot (so list by list). Files older than kIvfListsInPlaceVersion hold each list's ids and
// rows, then every row again by slot; ReadSealed turns them into the same layout, numbering the
// slots list by list, and says how.
//
// ReadSealed only reads into buffers (the reader bounds every allocation by the file's size);
// CheckSealedGraph then validates what the structure's searches index with (neighbor ids,
// offsets, levels, list offsets), and is called only once the file's checksum matched.
//
// Thread-safety: pure functions over values the caller owns.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "base/status.h"
#include "index/checksummed_file.h"
#include "index/index_options.h"
#include "index/sealed_structure.h"

namespace vecmirror {

// The index file version (index/index_file.h) from which IVF is stored as in memory: rows once,
// list by list, with the lists' offsets.
constexpr uint32_t kIvfListsInPlaceVersion = 3;

void WriteSealed(const SealedStructure& sealed, size_t dim, ChecksummedFileWriter& out);

// Reads a structure of `kind` over `rows` rows of `dim` components, stored as `storage` says
// (fp16 and SQ8 only for HNSW), from an index file of format `version`. Returns false once `in`
// failed. `order` is left empty unless the structure numbers its slots differently from the
// file's per-slot tables (IVF from a file older than kIvfListsInPlaceVersion): then slot i of the
// structure is the file's slot (*order)[i], and `order` is a permutation of [0, rows).
bool ReadSealed(ChecksummedFileReader& in, uint32_t version, IndexKind kind,
                VectorStorage storage, size_t rows, size_t dim,
                std::unique_ptr<SealedStructure>* sealed, std::vector<uint32_t>* order);

// Checks the graph or lists of a structure read by ReadSealed: every neighbor, offset, level,
// entry point and list offset within bounds, and SQ8 ranges finite intervals. Corruption naming
// what is not.
Status CheckSealedGraph(const SealedStructure& sealed, size_t dim);

// The HNSW graph's links per node on the upper levels (M), from its level sizes.
int HnswLinksPerNode(const faiss::HNSW& graph);

}  // namespace vecmirror
