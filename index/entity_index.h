// EntityIndex: the vectors of one (tenant, model, dimension), searchable by cosine similarity
// with an entity_type filter.
//
// Layout. Slots hold (entity_id, type code, unit vector). A slot is written once; an update
// appends a new slot and tombstones the old one in the live bitmap. Slots [0, sealed) sit in
// an immutable "sealed" structure (flat, HNSW or IVF) that searches read without copying;
// slots [sealed, end) are the "tail", appended by writes and always scanned exactly. A
// background Rebuild() builds a new sealed structure from the live slots (promotion to a new
// kind, compaction of tombstones) without blocking searches, then swaps it in under a brief
// exclusive lock, replaying the writes that arrived meanwhile. A long tail on an HNSW index is
// absorbed instead: the tail is added to a copy of the graph (one insert per tail row, not one
// per live row), and the copy is swapped in; its tombstones stay until a compaction.
//
// Search never returns fewer than min(limit, allowed rows) because of the index: a selective
// filter is answered by an exact scan of the allowed slots; otherwise the ANN search runs with
// an IDSelector (live AND type allowed), with its effort raised for selective filters, and
// falls back to an exact scan if it returns short.
//
// Similarity. Stored vectors are unit length (writes that are not are normalized, and unusable
// ones are treated as removes), so the similarity is the dot product, which equals pgvector's
// 1 - cosine distance up to float rounding. The exact kernels (index/kernels.h) score every hit,
// also those the ANN structure found, so exact and approximate answers agree on the value.
//
// Parts. This class holds the locks and runs writes, searches and rebuilds over: the slots and
// their live bitmap (index/slot_state.h); the sealed structure and its builds
// (index/sealed_structure.h); the allow-list, top-k and exact scan (index/exact_scan.h); the
// kind, rebuild and search rules (index/policy.h); rebuild progress and cancellation
// (index/rebuild_progress.h). Its settings are in index/index_options.h.
//
// Thread-safety: Search, VectorOf, Contains, Stats, NeedsRebuild and ForEachLive may run
// concurrently with each other and with one writer. Apply/ApplyLocked calls are serialized by
// the caller (the Registry does that). Rebuild may run concurrently with all of these (it
// serializes itself against other Rebuilds). LockForWrite/ApplyLocked let the Registry make one
// transaction atomic across several indexes. Internally one std::shared_mutex guards the index,
// and a "turnstile" mutex that readers pass through and writers hold while they wait for the
// exclusive lock keeps a stream of searches from starving the writer (glibc's rwlock prefers
// readers).
//
// OpenMP. One query runs on one thread; parallelism comes from concurrent queries. HNSW
// searches walk the FAISS graph with the engine's own search (index/hnsw_search.h), which uses
// no OpenMP; an IVF search sets the calling thread's OpenMP thread count to 1 while it calls
// FAISS (omp_set_num_threads is per-thread state, and gRPC threads are not OpenMP threads).
// Rebuild lets FAISS build with the calling thread's OpenMP team (OMP_NUM_THREADS, or every
// core by default). A rebuild holds a second copy of the index's vectors while it runs.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/uuid.h"
#include "index/entity_types.h"
#include "index/index_image.h"
#include "index/index_key.h"
#include "index/index_options.h"
#include "index/search_query.h"

namespace vecmirror {

// One write to an index. Upserts carry a unit-norm vector of the index's dimension.
struct IndexWrite {
  enum class Op : uint8_t { kUpsert, kRemove };
  Op op = Op::kUpsert;
  Uuid entity_id;
  EntityTypeCode type = 0;
  std::vector<float> vector;  // kUpsert only
  // kUpsert only, in place of `vector`: floats that the writer keeps alive until the write is
  // applied. A bulk load hands over its rows this way, from a few large blocks, instead of
  // one allocation per row (see src/load_floats.h).
  std::span<const float> borrowed;

  std::span<const float> floats() const { return borrowed.empty() ? std::span(vector) : borrowed; }
};

struct IndexStats {
  IndexKind kind = IndexKind::kFlat;
  size_t live = 0;
  size_t dead = 0;
  size_t tail = 0;          // slots appended since the last rebuild, scanned exactly
  size_t memory_bytes = 0;  // estimate: vectors, graph or lists, slot tables, id map
  uint64_t covered_lsn = 0;  // LSN of the last transaction applied to this index
  bool rebuilding = false;  // a rebuild, or the addition of the tail to the graph, is running
  VectorStorage storage = VectorStorage::kFp32;  // of the sealed rows (HNSW may be compact)
};

class EntityIndex {
 public:
  EntityIndex(IndexKey key, IndexOptions options);
  ~EntityIndex();
  EntityIndex(const EntityIndex&) = delete;
  EntityIndex& operator=(const EntityIndex&) = delete;

  const IndexKey& key() const { return key_; }

  // Applies writes in order; `lsn` is the commit that carries them. Takes the write lock.
  // An upsert replaces the entity's previous vector and type. An upsert whose vector has the
  // wrong dimension, a NaN or Inf, or is all zero makes the entity unsearchable (like a remove);
  // callers are expected to have rejected such rows already. Removing an absent entity is a
  // no-op.
  void Apply(std::span<const IndexWrite> writes, uint64_t lsn);

  // For multi-index atomic commits: hold the returned lock, call ApplyLocked, release.
  std::unique_lock<std::shared_mutex> LockForWrite();
  void ApplyLocked(std::span<const IndexWrite> writes, uint64_t lsn);
  // The same, for writes gathered from a larger batch without copying their vectors.
  void ApplyLocked(std::span<const IndexWrite* const> writes, uint64_t lsn);

  // `watermark`, if given, is read while the search holds the index and returned in
  // SearchResult::applied_lsn: the search saw exactly the commits up to it.
  // Returns no hits for a limit of 0, an empty type mask, or a query vector of the wrong
  // dimension or with a NaN/Inf/zero norm (callers validate these first). A query vector that
  // is not unit length is normalized.
  SearchResult Search(const SearchQuery& query,
                      const std::atomic<uint64_t>* watermark = nullptr) const;
  // Search, unless a writer holds the index or waits for it: then nullopt at once, without
  // waiting. For a caller that must not block on a writer (a gRPC thread).
  std::optional<SearchResult> TrySearch(const SearchQuery& query,
                                        const std::atomic<uint64_t>* watermark = nullptr) const;

  // The stored unit vector of a live entity. With fp16 storage (IndexOptions::storage) a sealed
  // row is the half-rounded vector, widened to float, not the one upserted (within about 5e-4
  // per component of a unit vector); a row still in the tail is the one upserted.
  std::optional<std::vector<float>> VectorOf(const Uuid& entity_id) const;
  bool Contains(const Uuid& entity_id) const;
  IndexStats Stats() const;

  // Calls fn for each live entry, under a shared lock (fn must not call back into this index).
  // The vector is as VectorOf returns it, and valid only during the call.
  void ForEachLive(
      const std::function<void(const Uuid&, EntityTypeCode, std::span<const float>)>& fn) const;

  // True when the size policy (or a pinned kind) wants another kind, the tail is long, or
  // tombstones pile up (index/policy.h, WhyRebuild).
  bool NeedsRebuild() const;
  // Builds a new sealed structure from the live slots and swaps it in. Searches continue
  // meanwhile; writes that arrive during the build are replayed onto the new structure.
  // `kind` given: build that kind and pin it, so the size policy no longer changes this index's
  // kind (an operator's choice sticks). nullopt: clear any pin and use the size policy.
  // Fails (leaving the index as it was) only if FAISS fails, e.g. out of memory, or when
  // `cancel` is set before the build starts or between its chunks of 10,000 HNSW rows
  // (Unavailable, "rebuild cancelled"): the index is then exactly as it was, pin included.
  Status Rebuild(std::optional<IndexKind> kind = std::nullopt,
                 const std::atomic<bool>* cancel = nullptr);
  // Rebuilds, keeping any pinned kind, if NeedsRebuild(). Returns whether it rebuilt. A set
  // `cancel` stops an HNSW build between chunks (at most 10,000 rows or about 2 s each) and
  // leaves the index as it was.
  bool RebuildIfNeeded(const std::atomic<bool>* cancel = nullptr);

  // A consistent view of this index as of the last write applied (index/index_image.h), taken
  // under the shared lock: the sealed structure is shared, the slot tables and the tail copied.
  // Searches and writes go on while the image is written out.
  IndexImage Capture() const;
  // An index with `options` that holds exactly what `image` holds: the same slots, tombstones,
  // tail, kind, pinned kind and covered LSN, over the image's sealed structure (shared, not
  // rebuilt), so it answers every search as the captured index did. Corruption when the image
  // is not coherent (index/index_image.h, StateFromImage).
  static Status FromImage(IndexImage image, IndexOptions options,
                          std::unique_ptr<EntityIndex>* index);

 private:
  // Search's work; the caller holds the read lock.
  SearchResult SearchHeld(const SearchQuery& query, const std::atomic<uint64_t>* watermark) const;
  struct Impl;
  const IndexKey key_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vecmirror
