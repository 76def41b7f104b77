#include "index/sealed_structure.h"

#include <faiss/IndexIVFFlat.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <utility>

#include "index/fast_flat.h"
#include "index/half_flat.h"
#include "index/huge_pages.h"
#include "index/policy.h"
#include "index/sq8_flat.h"

namespace vecmirror {

namespace {

// Adds `n` rows to an HNSW index in chunks (HNSW add is incremental), so that a build of
// minutes can report as it goes and be cancelled. `progress(rows_added)` is called after each
// chunk but the last; it may throw to stop the build.
//
// A chunk is at most 10,000 rows, and fewer where the last chunk's rate says 10,000 would take
// over kChunkSeconds: a fixed 10,000 took 2 s on a fresh graph of 1536-d rows but 20 s on
// random 384-d rows added to a graph of 10,000, and a cancel waited that long.
void AddToGraph(faiss::IndexHNSW& index, const float* rows, size_t n,
                const std::function<void(size_t)>& progress) {
  constexpr size_t kMaxChunkRows = 10000;
  constexpr size_t kFirstChunkRows = 2000;
  constexpr size_t kMinChunkRows = 200;  // keeps each add's parallel insertion worth starting
  constexpr double kChunkSeconds = 2;
  const size_t d = static_cast<size_t>(index.d);
  size_t chunk = kFirstChunkRows;
  for (size_t done = 0; done < n;) {
    const size_t count = std::min(chunk, n - done);
    const auto start = std::chrono::steady_clock::now();
    index.add(static_cast<faiss::Index::idx_t>(count), rows + done * d);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    done += count;
    const double rows_in_time = seconds > 0 ? double(count) * kChunkSeconds / seconds : 1e12;
    chunk = size_t(std::clamp(rows_in_time, double(kMinChunkRows), double(kMaxChunkRows)));
    if (progress && done < n) progress(done);
  }
}

// FAISS grows the graph's arrays as it adds (std::vector growth, so up to twice their size at
// the end of a build); the structure is immutable from here on, so they are cut to size, and
// an SQ8 storage's row terms, which only adding rows uses, are freed.
void ShrinkAfterBuild(faiss::IndexHNSW& index) {
  faiss::HNSW& graph = index.hnsw;
  graph.neighbors.shrink_to_fit();
  graph.offsets.shrink_to_fit();
  graph.levels.shrink_to_fit();
  if (auto* sq8 = dynamic_cast<Sq8FlatIP*>(index.storage)) sq8->DropRowTerms();
}

// The list of each row, as IndexIVF::add assigns them (the quantizer's nearest centroid, in
// blocks of FAISS's size).
std::vector<faiss::Index::idx_t> AssignLists(const faiss::IndexFlatIP& quantizer,
                                             const float* rows, size_t n, size_t dim) {
  constexpr size_t kBlockRows = 65536;  // IndexIVF::add_with_ids's block
  std::vector<faiss::Index::idx_t> list_of(n);
  for (size_t first = 0; first < n; first += kBlockRows) {
    const size_t count = std::min(kBlockRows, n - first);
    quantizer.assign(static_cast<faiss::Index::idx_t>(count), rows + first * dim,
                     list_of.data() + first);
  }
  for (const faiss::Index::idx_t list : list_of) {
    if (list < 0 || list >= quantizer.ntotal) throw std::runtime_error("a row has no IVF list");
  }
  return list_of;
}

}  // namespace

void GroupRowsByList(const std::vector<faiss::Index::idx_t>& list_of, size_t nlist, size_t dim,
                     float* vectors, std::vector<uint32_t>* order,
                     std::vector<uint64_t>* list_begin) {
  const size_t n = list_of.size();
  list_begin->assign(nlist + 1, 0);
  for (const faiss::Index::idx_t list : list_of) ++(*list_begin)[size_t(list) + 1];
  for (size_t l = 0; l < nlist; ++l) (*list_begin)[l + 1] += (*list_begin)[l];
  // order[new] = old, rows in their list's order of arrival (as IndexIVF::add appends them).
  std::vector<uint64_t> next(list_begin->begin(), list_begin->end() - 1);
  order->assign(n, 0);
  for (size_t row = 0; row < n; ++row) (*order)[next[size_t(list_of[row])]++] = uint32_t(row);
  // Move each row to its slot one cycle of the permutation at a time, with one row aside.
  std::vector<bool> placed(n, false);
  std::vector<float> aside(dim);
  for (size_t start = 0; start < n; ++start) {
    if (placed[start] || (*order)[start] == start) continue;
    std::copy(vectors + start * dim, vectors + (start + 1) * dim, aside.begin());
    size_t slot = start;
    for (;;) {
      placed[slot] = true;
      const size_t from = (*order)[slot];
      if (from == start) {
        std::copy(aside.begin(), aside.end(), vectors + slot * dim);
        break;
      }
      std::copy(vectors + from * dim, vectors + (from + 1) * dim, vectors + slot * dim);
      slot = from;
    }
  }
}

bool SealedStructure::RowEquals(size_t row, size_t dim, const float* vector) const {
  if (codes != nullptr) {
    std::vector<uint8_t> encoded(dim);
    EncodeSq8(*sq8_ranges, vector, 1, dim, encoded.data());
    return std::memcmp(codes + row * dim, encoded.data(), dim) == 0;
  }
  if (halves == nullptr) return std::memcmp(vectors + row * dim, vector, dim * sizeof(float)) == 0;
  const uint16_t* stored = halves + row * dim;
  for (size_t i = 0; i < dim; ++i) {
    if (FloatToHalf(vector[i]) != stored[i]) return false;
  }
  return true;
}

faiss::IndexFlatCodes* NewHnswStorage(VectorStorage storage, size_t dim) {
  const auto d = static_cast<faiss::Index::idx_t>(dim);
  if (storage == VectorStorage::kFp16) return new HalfFlatIP(d);
  if (storage == VectorStorage::kSq8) return new Sq8FlatIP(d);
  return new FastFlatIP(d);
}

void PointAtHnswRows(SealedStructure& sealed) {
  const auto& storage = static_cast<const faiss::IndexFlatCodes&>(*sealed.hnsw->storage);
  sealed.vectors = nullptr;
  sealed.halves = nullptr;
  sealed.codes = nullptr;
  sealed.sq8_ranges = nullptr;
  switch (sealed.storage) {
    case VectorStorage::kFp32:
      sealed.vectors = reinterpret_cast<const float*>(storage.codes.data());
      break;
    case VectorStorage::kFp16:
      sealed.halves = reinterpret_cast<const uint16_t*>(storage.codes.data());
      break;
    case VectorStorage::kSq8:
      sealed.codes = storage.codes.data();
      sealed.sq8_ranges = &static_cast<const Sq8FlatIP&>(storage).ranges;
      break;
  }
  BackWithHugePages(sealed);
}

void BackWithHugePages(const SealedStructure& sealed) {
  if (!sealed.hnsw) return;
  const auto& storage = static_cast<const faiss::IndexFlatCodes&>(*sealed.hnsw->storage);
  const faiss::HNSW& graph = sealed.hnsw->hnsw;
  AdviseHugePages(storage.codes.data(), storage.codes.size());
  AdviseHugePages(graph.neighbors.data(), graph.neighbors.size() * sizeof(graph.neighbors[0]));
}

std::unique_ptr<SealedStructure> ExtendHnsw(const SealedStructure& base, const float* rows,
                                            size_t n, size_t dim,
                                            const std::function<void(size_t)>& progress) {
  auto sealed = std::make_unique<SealedStructure>();
  sealed->kind = IndexKind::kHnsw;
  sealed->storage = base.storage;
  sealed->rows = base.rows + n;
  const auto& base_storage = static_cast<const faiss::IndexFlatCodes&>(*base.hnsw->storage);
  sealed->hnsw = std::make_unique<faiss::IndexHNSW>(NewHnswStorage(base.storage, dim));
  sealed->hnsw->own_fields = true;
  sealed->hnsw->is_trained = true;
  sealed->hnsw->hnsw = base.hnsw->hnsw;  // the graph, its parameters and its level generator
  auto& storage = static_cast<faiss::IndexFlatCodes&>(*sealed->hnsw->storage);
  storage.codes.reserve(sealed->rows * storage.code_size);
  storage.codes.assign(base_storage.codes.begin(), base_storage.codes.end());
  if (base.storage == VectorStorage::kSq8) {
    // The tail is encoded (clamped) in the base's ranges: the base's codes stay valid.
    static_cast<Sq8FlatIP&>(storage).ranges = static_cast<const Sq8FlatIP&>(base_storage).ranges;
  }
  storage.ntotal = base_storage.ntotal;
  sealed->hnsw->ntotal = base.hnsw->ntotal;
  AddToGraph(*sealed->hnsw, rows, n, progress);
  ShrinkAfterBuild(*sealed->hnsw);
  PointAtHnswRows(*sealed);
  return sealed;
}

std::unique_ptr<SealedStructure> BuildSealed(IndexKind kind, std::vector<float> vectors,
                                             size_t rows, size_t dim, const IndexOptions& options,
                                             const std::function<void(size_t)>& progress,
                                             std::vector<uint32_t>* order,
                                             SealedSq8Prior prior) {
  auto sealed = std::make_unique<SealedStructure>();
  sealed->kind = kind;
  sealed->rows = rows;
  order->clear();
  if (rows == 0) return sealed;
  // FAISS builds with the calling thread's OpenMP team: OMP_NUM_THREADS, or every core.
  const auto d = static_cast<faiss::Index::idx_t>(dim);
  const auto n = static_cast<faiss::Index::idx_t>(rows);
  switch (kind) {
    case IndexKind::kFlat:
      sealed->flat = std::move(vectors);
      sealed->vectors = sealed->flat.data();
      break;
    case IndexKind::kHnsw: {
      // IndexHNSWFlat's layout (a flat storage under the graph), with a storage that builds
      // with the engine's kernels, in fp32, fp16 or SQ8 (ranges trained from all the rows).
      const VectorStorage build_on = options.hnsw_build_storage.value_or(options.storage);
      // Room for every row up front (chunked adds would otherwise grow the storage by
      // doubling), and an SQ8 storage's ranges.
      auto prepare = [&](faiss::IndexFlatCodes& storage, VectorStorage kind) {
        storage.codes.reserve(rows * storage.code_size);
        if (kind != VectorStorage::kSq8) return;
        auto& sq8 = static_cast<Sq8FlatIP&>(storage);
        if (prior.ranges != nullptr && prior.ranges->vmin.size() == dim &&
            prior.decoded_rows <= rows) {
          sq8.ranges = WidenSq8Ranges(*prior.ranges, vectors.data() + prior.decoded_rows * dim,
                                      rows - prior.decoded_rows, dim);
        } else {
          sq8.train(n, vectors.data());
        }
      };
      sealed->storage = options.storage;
      sealed->hnsw = std::make_unique<faiss::IndexHNSW>(NewHnswStorage(build_on, dim), options.hnsw_m);
      sealed->hnsw->own_fields = true;
      sealed->hnsw->is_trained = true;
      sealed->hnsw->hnsw.efConstruction = options.hnsw_ef_construction;
      sealed->hnsw->hnsw.efSearch = options.hnsw_ef_search;
      prepare(static_cast<faiss::IndexFlatCodes&>(*sealed->hnsw->storage), build_on);
      AddToGraph(*sealed->hnsw, vectors.data(), rows, progress);
      ShrinkAfterBuild(*sealed->hnsw);
      if (build_on != options.storage) {
        // The graph is built; the rows are stored for searching as the options say. The
        // build's rows go first, so the peak stays below an fp32 build's two copies.
        delete sealed->hnsw->storage;
        sealed->hnsw->storage = NewHnswStorage(options.storage, dim);
        auto& stored = static_cast<faiss::IndexFlatCodes&>(*sealed->hnsw->storage);
        prepare(stored, options.storage);
        stored.add(n, vectors.data());
      }
      // The graph's flat storage now holds the rows; it serves the exact scans too.
      std::vector<float>().swap(vectors);
      PointAtHnswRows(*sealed);
      break;
    }
    case IndexKind::kIvf: {
      sealed->ivf_nlist = IvfListCount(rows, options);
      sealed->ivf_default_nprobe = IvfDefaultProbes(sealed->ivf_nlist, options);
      sealed->ivf_quantizer = std::make_unique<faiss::IndexFlatIP>(d);
      {
        // IndexIVFFlat trains the centroids into the quantizer (which it does not own); the
        // rows then go to their lists here rather than into its inverted lists.
        faiss::IndexIVFFlat trainer(sealed->ivf_quantizer.get(), d, sealed->ivf_nlist,
                                    faiss::METRIC_INNER_PRODUCT);
        // Spherical k-means suits unit vectors under inner product. 64 points per centroid and
        // 10 iterations keep training cheap (IVF is the fast-build option); FAISS samples the
        // rows itself. min_points_per_centroid = 1 accepts small indexes without a warning.
        faiss::ClusteringParameters& cp = trainer.cp;
        cp.spherical = true;
        cp.niter = 10;
        cp.max_points_per_centroid = 64;
        cp.min_points_per_centroid = 1;
        trainer.train(n, vectors.data());
      }
      const std::vector<faiss::Index::idx_t> list_of =
          AssignLists(*sealed->ivf_quantizer, vectors.data(), rows, dim);
      GroupRowsByList(list_of, sealed->ivf_nlist, dim, vectors.data(), order,
                      &sealed->ivf_list_begin);
      sealed->flat = std::move(vectors);
      sealed->vectors = sealed->flat.data();
      break;
    }
  }
  return sealed;
}

}  // namespace vecmirror
