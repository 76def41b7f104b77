// The engine's settings as plain values: IndexKind (flat, HNSW, IVF), IndexOptions (the size,
// search and rebuild policies of every index, each field with its default), RebuildProgress
// (what a rebuild reports as it goes) and SearchEffort (one query's effort). EntityIndex,
// the Registry and the policies (index/policy.h) read them; nothing here depends on them.
//
// Thread-safety: plain values. IndexOptions::on_rebuild_progress is called from rebuilding
// threads, so the function it holds must be thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "index/index_key.h"

namespace vecmirror {

enum class IndexKind : uint8_t { kFlat = 0, kHnsw = 1, kIvf = 2 };
const char* IndexKindName(IndexKind kind);
// The kind IndexKindName calls `text`; InvalidArgument naming the three otherwise.
Status ParseIndexKind(std::string_view text, IndexKind* kind);

// How an HNSW structure stores its sealed rows. fp32: 4 bytes per component, the vectors as
// given. fp16: IEEE half, 2 bytes per component, rounded to nearest even when a row is sealed;
// the graph is built and walked on the half rows, exact scans score them against the float
// query, and a vector read back (EntityIndex::VectorOf, ForEachLive) is the half-rounded one,
// widened. sq8: 8-bit scalar quantization, 1 byte per component (index/sq8_codec.h), in
// per-dimension ranges (min and max) trained from the rows when the structure is built; a tail
// absorbed later is encoded in the same ranges, clamped. The graph is built and walked on the
// codes and exact scans score them (asymmetric: float query against codes); a vector read back
// is the decoded one, within half a quantization step (range / 510) of the stored value per
// component. There is no second, higher-precision copy to re-rank from. Rows in the tail stay
// fp32 until they are sealed. Flat and IVF structures keep fp32.
enum class VectorStorage : uint8_t { kFp32 = 0, kFp16 = 1, kSq8 = 2 };
const char* VectorStorageName(VectorStorage storage);
// The storage VectorStorageName calls `text`; InvalidArgument naming the three otherwise.
Status ParseVectorStorage(std::string_view text, VectorStorage* storage);
// Bytes per stored component: 4, 2 or 1.
size_t BytesPerComponent(VectorStorage storage);

struct IndexOptions {
  // Live rows at which a flat index is promoted to an ANN kind. Default: 5,000. At 1536-d a
  // flat search costs 1.3 to 1.7 ms of CPU at 5,000 rows and 2.8 to 5.5 ms at 10,000, HNSW 0.14
  // and 0.18 ms with recall@10 1.0 at those sizes; the build (1.2 s of CPU at 5,000 rows, 2.2 s
  // at 10,000) pays for itself within about 1,000 queries. Not lower: up to
  // exact_max_allowed_rows live rows every query is an exact scan anyway. (bench/RESULTS.md,
  // "Index engine")
  size_t ann_min_rows = 5000;
  // The ANN kind used above ann_min_rows. Default: HNSW. IVF builds faster and uses less memory.
  IndexKind ann_kind = IndexKind::kHnsw;
  // Force one kind regardless of size. Default: unset (size policy).
  std::optional<IndexKind> forced_kind;

  int hnsw_m = 32;  // Default: 32 links per node. 16 and 24 need more rows per query for the
                    // same recall on 100,000 x 1536 (bench/RESULTS.md, "Defaults from curves").
  // Default: 128. On 100,000 x 1536 SQ8 graphs, recall@10 at the default ef_search 64 was
  // 0.982 and 0.9825 (two graphs) against 0.966 to 0.9805 at 80 (three), for 1.2x the build's
  // CPU. 200 reaches 0.98 at ef_search 32 (0.7x the rows a query scores: 135-140 us for SQ8)
  // for 1.3x the build's CPU (bench/RESULTS.md, "Defaults from curves" and "Item 3's goal
  // point").
  int hnsw_ef_construction = 128;
  // Default: 64; raised for selective filters. At 100,000 x 1536-d, one thread: recall@10
  // 0.995 in 0.58 ms for fp32 rows, 0.98-0.99 in 0.21-0.24 ms for SQ8; 32 takes about 0.65x the
  // time for 0.977-0.993, too thin a margin for SQ8 at ef_construction 128.
  int hnsw_ef_search = 64;
  // The storage of an HNSW structure's rows. Default: fp32. fp16 halves the rows' memory, sq8
  // quarters it; see VectorStorage and bench/RESULTS.md ("fp16 vector storage", "SQ8 vector
  // storage") for their memory, recall and latency.
  VectorStorage storage = VectorStorage::kFp32;
  // Per-model overrides of `storage`, by model name: one server can keep a large model's
  // vectors compact and another's exact. Default: none.
  std::map<std::string, VectorStorage> storage_by_model;
  // The storage an HNSW graph is built on, when it differs from the model's storage: the graph
  // is built over the rows encoded this way (fewer bytes read per distance, so a faster
  // build), then the rows are stored as the model's storage says and searched so. A tail
  // added to the graph later is added on the stored rows. Default: unset, build on the stored
  // rows.
  std::optional<VectorStorage> hnsw_build_storage;
  size_t ivf_nlist = 0;           // Default: 0 = about 4 * sqrt(rows).
  size_t ivf_nprobe = 0;          // Default: 0 = about nlist / 8, at least 8.

  // A query whose allowed rows are at most this many, or at most this share of the live rows,
  // is answered by an exact scan. A filtered HNSW search at the planner's raised ef must collect
  // hnsw_ef_search / share allowed rows, so it walks about hnsw_ef_search / share^2 nodes: it
  // beats the exact scan of the allowed rows only above about 7.5 * live^(2/3) of them at
  // 1536-d (3,800 of 10,000 live rows, 5,800 of 20,000, 10,000 of 50,000, 15,600 of 100,000);
  // below that it is up to 60x slower. Defaults: 5,000 rows and 15% (the crossover at
  // 100,000 live rows; bench/RESULTS.md, "Index engine").
  size_t exact_max_allowed_rows = 5000;
  double exact_max_allowed_share = 0.15;

  // Rebuild (compact) when tombstones exceed this share of the slots. Default: 0.2.
  double compact_dead_share = 0.2;
  // Absorb the tail into the ANN structure when it exceeds this many rows: HNSW adds it to its
  // graph, IVF rebuilds. Default: 5,000.
  size_t tail_absorb_rows = 5000;
  // Full background (maintenance) rebuilds of one index take at most this share of the time:
  // after a build of t seconds the next waits t * (1 / share - 1). Searches stay correct
  // meanwhile (the tail is scanned exactly, tombstones are skipped); only their cost grows.
  // Absorbing an HNSW tail and explicit Rebuild calls are not limited. Default: 0.25.
  double rebuild_duty_cycle = 0.25;

  // Called by the rebuilding thread when a rebuild starts, after each tenth of a build that takes
  // more than one chunk (2,000 rows, then up to 10,000 or about 2 s), and when it ends, so long
  // work shows progress. Must be thread-safe. Default: none.
  std::function<void(const IndexKey&, const struct RebuildProgress&)> on_rebuild_progress;
};

// The storage of `model`'s HNSW rows: its override in options.storage_by_model, else
// options.storage.
VectorStorage StorageOf(const IndexOptions& options, const std::string& model);

struct RebuildProgress {
  IndexKind kind = IndexKind::kFlat;  // what is being built
  size_t rows_done = 0;
  size_t rows_total = 0;
  double seconds = 0;     // since the rebuild started
  bool finished = false;  // the new structure is swapped in (or the build failed)
  bool cancelled = false;  // with finished: the build was cancelled, nothing was swapped in
  // The rows are a tail added to the existing graph of `graph_rows` rows, not a new build.
  bool extends_graph = false;
  size_t graph_rows = 0;
};

struct SearchEffort {
  int ef_search = 0;  // 0 = index default
  int nprobe = 0;     // 0 = index default
  bool exact = false;
};

}  // namespace vecmirror
