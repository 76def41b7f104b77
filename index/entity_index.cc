#include "index/entity_index.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "index/exact_scan.h"
#include "index/freed_memory.h"
#include "index/hnsw_search.h"
#include "index/kernels.h"
#include "index/policy.h"
#include "index/rebuild_progress.h"
#include "index/row_store.h"
#include "index/slot_state.h"

namespace vecmirror {

namespace {

// Sets the calling thread's OpenMP team size for a scope and restores it afterwards. The
// setting is per thread, so this never affects other threads' searches or builds.
class OmpThreadsScope {
 public:
  explicit OmpThreadsScope(int threads) : previous_(omp_get_max_threads()) {
    omp_set_num_threads(threads);
  }
  ~OmpThreadsScope() { omp_set_num_threads(previous_); }
  OmpThreadsScope(const OmpThreadsScope&) = delete;
  OmpThreadsScope& operator=(const OmpThreadsScope&) = delete;

 private:
  const int previous_;
};

// A stored vector must be within this of unit length (in squared norm); others are normalized.
constexpr float kUnitNormTolerance = 1e-4f;

// The vector to store for an upsert: `v` itself if unit length, else a normalized copy in
// `scratch`; nullptr if it can't be searched (wrong dimension, zero, NaN or Inf).
const float* UsableVector(std::span<const float> v, size_t dim, std::vector<float>& scratch) {
  if (v.size() != dim) return nullptr;
  const float norm2 = DotProduct(v.data(), v.data(), dim);
  if (std::isfinite(norm2) && std::fabs(norm2 - 1.0f) <= kUnitNormTolerance) return v.data();
  scratch.assign(v.begin(), v.end());
  return NormalizeInPlace(scratch) ? scratch.data() : nullptr;
}

}  // namespace

struct EntityIndex::Impl {
  Impl(size_t dim, IndexOptions options)
      : dim(dim), options(std::move(options)), state(std::make_unique<SlotState>(dim)) {}

  const size_t dim;
  const IndexOptions options;

  mutable std::mutex turnstile;
  mutable std::shared_mutex mu;
  std::mutex rebuild_mu;  // one Rebuild at a time
  // Maintenance rebuilds of this index wait until then (guarded by rebuild_mu).
  std::chrono::steady_clock::time_point next_maintenance_rebuild{};

  // Guarded by mu.
  std::unique_ptr<SlotState> state;
  uint64_t covered_lsn = 0;
  std::optional<IndexKind> pinned_kind;
  std::vector<IndexWrite> write_log;    // writes applied while a rebuild copies and builds
  std::atomic<bool> rebuilding{false};  // written under mu; read by Stats without it
  std::atomic<bool> absorbing{false};   // a tail is being added to the graph
  std::vector<float> scratch;           // normalization buffer for writes

  std::shared_lock<std::shared_mutex> ReadLock() const {
    std::lock_guard<std::mutex> pass(turnstile);
    return std::shared_lock<std::shared_mutex>(mu);
  }

  // The read lock if it can be had without waiting (no writer holds it or waits for it);
  // otherwise a lock that owns nothing.
  std::shared_lock<std::shared_mutex> TryReadLock() const {
    std::unique_lock<std::mutex> pass(turnstile, std::try_to_lock);
    if (!pass.owns_lock()) return {};
    return std::shared_lock<std::shared_mutex>(mu, std::try_to_lock);
  }

  std::unique_lock<std::shared_mutex> WriteLock() {
    std::lock_guard<std::mutex> pass(turnstile);
    return std::unique_lock<std::shared_mutex>(mu);
  }

  // Requires the write lock.
  void ApplyOne(const IndexWrite& write) {
    if (rebuilding.load(std::memory_order_relaxed)) LogForReplay(write);
    if (write.op == IndexWrite::Op::kRemove) {
      state->Remove(write.entity_id);
      return;
    }
    const float* vector = UsableVector(write.floats(), dim, scratch);
    if (vector == nullptr) {
      state->Remove(write.entity_id);
      return;
    }
    state->Upsert(write.entity_id, write.type, vector);
  }

  // The log outlives the write: borrowed floats are copied into it.
  void LogForReplay(const IndexWrite& write) {
    write_log.push_back(write);
    IndexWrite& logged = write_log.back();
    if (!logged.borrowed.empty()) {
      logged.vector.assign(logged.borrowed.begin(), logged.borrowed.end());
      logged.borrowed = {};
    }
  }

  IndexKind TargetKind() const {
    return pinned_kind ? *pinned_kind : PolicyKind(state->live_count, options);
  }

  RebuildReason WhyRebuildNow() const {
    IndexShape shape;
    shape.kind = state->sealed->kind;
    shape.target = TargetKind();
    shape.live = state->live_count;
    shape.dead = state->dead();
    shape.tail = state->tail_rows();
    return WhyRebuild(shape, options);
  }

  std::optional<std::vector<Hit>> SearchAnn(const AllowList& allow, const float* query,
                                            const SearchPlan& plan, const SearchQuery& q,
                                            size_t allowed) const;
  std::vector<Hit> SearchExact(const AllowList& allow, const float* query,
                               const SearchQuery& q) const {
    TopK top(*state, q.limit, q.min_similarity);
    ScanExact(*state, allow, query, 0, state->slots(), top);
    return top.TakeSorted();
  }

  // `cancel`, if given and set, stops the build between chunks; the index stays as it was.
  Status RebuildLocked(const IndexKey& key, std::optional<IndexKind> new_pin,
                       const std::atomic<bool>* cancel = nullptr);
  // Requires rebuild_mu and an HNSW sealed structure.
  Status AbsorbTailLocked(const IndexKey& key, const std::atomic<bool>* cancel);
  // Requires rebuild_mu. Keeps background rebuilds to options.rebuild_duty_cycle.
  void ScheduleNextMaintenance(std::chrono::steady_clock::time_point build_started);
};

// ANN over the sealed part plus an exact scan of the tail. nullopt when the ANN structure came
// back short (fewer hits than it has allowed rows, up to k) or failed: the caller then scans
// exactly, which keeps the promise of min(limit, allowed) hits. The excluded entity is part of
// the allow-list the ANN search filters with, so asking for `limit` hits is enough.
std::optional<std::vector<Hit>> EntityIndex::Impl::SearchAnn(const AllowList& allow,
                                                             const float* query,
                                                             const SearchPlan& plan,
                                                             const SearchQuery& q,
                                                             size_t allowed) const {
  const SealedStructure& sealed = *state->sealed;
  TopK top(*state, q.limit, q.min_similarity);
  size_t found = 0;
  auto offer = [&](size_t slot, float similarity) {
    if (slot >= sealed.rows || !allow.Allows(slot)) return;
    ++found;
    top.Offer(static_cast<uint32_t>(slot), similarity);
  };
  if (sealed.hnsw) {
    // The graph search scores with the exact kernel already.
    const std::vector<GraphHit> hits =
        sealed.codes != nullptr
            ? SearchHnswGraph(sealed.hnsw->hnsw, sealed.codes, *sealed.sq8_ranges, dim, query,
                              plan.k, plan.ef_search, allow)
        : sealed.halves != nullptr
            ? SearchHnswGraph(sealed.hnsw->hnsw, sealed.halves, dim, query, plan.k,
                              plan.ef_search, allow)
            : SearchHnswGraph(sealed.hnsw->hnsw, sealed.vectors, dim, query, plan.k,
                              plan.ef_search, allow);
    for (const GraphHit& hit : hits) offer(hit.row, hit.similarity);
  } else {
    // The lists IndexIVF::search would probe (the nprobe nearest centroids); each list is a run
    // of slots, scanned with the exact kernel, so IVF and exact answers report the same
    // similarity. Every allowed row of the probed lists is offered, as FAISS ranks them.
    const size_t nprobe = std::min(plan.nprobe, sealed.ivf_nlist);
    std::vector<float> centroid_scores(nprobe);
    std::vector<faiss::Index::idx_t> lists(nprobe, -1);
    try {
      OmpThreadsScope one_thread(1);
      if (nprobe > 0) {
        sealed.ivf_quantizer->search(1, query, static_cast<faiss::Index::idx_t>(nprobe),
                                     centroid_scores.data(), lists.data());
      }
    } catch (const std::exception&) {
      return std::nullopt;
    }
    for (faiss::Index::idx_t list : lists) {
      if (list < 0 || size_t(list) >= sealed.ivf_nlist) continue;
      found += ScanExact(*state, allow, query, sealed.ivf_list_begin[size_t(list)],
                         sealed.ivf_list_begin[size_t(list) + 1], top);
    }
  }
  const size_t tail_allowed = ScanExact(*state, allow, query, sealed.rows, state->slots(), top);
  const size_t sealed_allowed = allowed - tail_allowed;
  if (found < std::min(plan.k, sealed_allowed)) return std::nullopt;
  return top.TakeSorted();
}

Status EntityIndex::Impl::RebuildLocked(const IndexKey& key, std::optional<IndexKind> new_pin,
                                        const std::atomic<bool>* cancel) {
  // What others freed and the allocator still holds (the initial load's writes, say) goes back
  // before the build copies the rows, so it does not add to the build's peak.
  ReturnFreedMemory();
  LiveRows rows;
  IndexKind kind;
  {
    auto lock = ReadLock();
    kind = new_pin ? *new_pin : PolicyKind(state->live_count, options);
    rows = CopyLiveRows(*state);
    // Writers hold the exclusive lock, so every write after this copy sees the flag and is
    // logged for replay onto the new state. (write_log is empty: the last rebuild took it.)
    rebuilding.store(true);
  }

  const size_t total = rows.ids.size();
  RebuildProgress shape;
  shape.kind = kind;
  shape.rows_total = total;
  ProgressReporter progress(options, key, shape, cancel);
  progress.Start();
  std::unique_ptr<SlotState> fresh;
  Status status;
  bool cancelled = false;
  try {
    progress.Step(0);  // a rebuild cancelled while it waited for rebuild_mu builds nothing
    fresh = BuildState(std::move(rows), kind, dim, options, [&](size_t done) { progress.Step(done); });
  } catch (const BuildCancelled&) {
    cancelled = true;
    status = Status::Unavailable("rebuild cancelled");
  } catch (const std::exception& e) {
    status = Status::Internal(std::string("building a ") + IndexKindName(kind) +
                              " index failed: " + e.what());
  }

  std::vector<IndexWrite> replayed;
  {
    auto lock = WriteLock();
    rebuilding.store(false);
    if (status.ok()) {
      state.swap(fresh);
      pinned_kind = new_pin;
      for (const IndexWrite& write : write_log) ApplyOne(write);
    }
    replayed.swap(write_log);
  }
  progress.Finish(status, cancelled);
  ScheduleNextMaintenance(progress.started());
  // `fresh` now holds the old state (or nothing); it and the log are freed here, unlocked, and
  // so is what the build copied: the allocator hands it all back to the system.
  fresh.reset();
  std::vector<IndexWrite>().swap(replayed);
  ReturnFreedMemory();
  return status;
}

Status EntityIndex::Impl::AbsorbTailLocked(const IndexKey& key, const std::atomic<bool>* cancel) {
  // Only a rebuild replaces the SlotState or its sealed structure, and the caller holds rebuild_mu,
  // so the sealed graph can be read here without the index lock. The tail can't: appends may
  // move its chunk table.
  const SealedStructure& base = *state->sealed;
  std::vector<float> rows;
  size_t absorbed = 0;
  {
    auto lock = ReadLock();
    absorbed = state->tail_rows();
    rows.resize(absorbed * dim);
    state->tail.ForEachContiguousRun(0, absorbed, [&](size_t first, size_t n, const float* run) {
      std::memcpy(rows.data() + first * dim, run, n * dim * sizeof(float));
    });
  }

  RebuildProgress shape;
  shape.kind = IndexKind::kHnsw;
  shape.rows_total = absorbed;
  shape.extends_graph = true;
  shape.graph_rows = base.rows;
  ProgressReporter progress(options, key, shape, cancel);
  absorbing.store(true);
  progress.Start();
  std::shared_ptr<const SealedStructure> extended;
  Status status;
  bool cancelled = false;
  try {
    extended = ExtendHnsw(base, rows.data(), absorbed, dim, [&](size_t done) { progress.Step(done); });
  } catch (const BuildCancelled&) {
    cancelled = true;
    status = Status::Unavailable("adding the tail to the graph cancelled");
  } catch (const std::exception& e) {
    status = Status::Internal(std::string("adding the tail to the HNSW graph failed: ") + e.what());
  }

  if (status.ok()) {
    // Tombstones and types live in the SlotState, which stays; only the slots the graph now holds
    // leave the tail. Rows appended since the copy above stay in it.
    RowStore rest(dim);
    auto lock = WriteLock();
    for (size_t i = absorbed; i < state->tail.size(); ++i) rest.Append(state->tail.Row(i));
    state->tail = std::move(rest);
    state->sealed.swap(extended);
  }
  absorbing.store(false);
  progress.Finish(status, cancelled);
  // `extended` now holds the old sealed structure (or nothing); it and the copy of the tail are
  // freed here, unlocked, and the allocator hands them back to the system.
  extended.reset();
  std::vector<float>().swap(rows);
  ReturnFreedMemory();
  return status;
}

void EntityIndex::Impl::ScheduleNextMaintenance(std::chrono::steady_clock::time_point started) {
  // Under a steady stream of writes the tail and the tombstones refill while a rebuild runs;
  // back-to-back rebuilds would take every core. Keep background rebuilds to a duty cycle.
  const auto ended = std::chrono::steady_clock::now();
  const double duty = std::clamp(options.rebuild_duty_cycle, 0.01, 1.0);
  next_maintenance_rebuild =
      ended + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                  (ended - started) * (1.0 / duty - 1.0));
}

namespace {
// The options as this index uses them: the storage resolved for its model.
IndexOptions ForModel(IndexOptions options, const std::string& model) {
  options.storage = StorageOf(options, model);
  return options;
}
}  // namespace

EntityIndex::EntityIndex(IndexKey key, IndexOptions options)
    : key_(std::move(key)),
      impl_(std::make_unique<Impl>(key_.dim, ForModel(std::move(options), key_.model))) {}

EntityIndex::~EntityIndex() = default;

void EntityIndex::Apply(std::span<const IndexWrite> writes, uint64_t lsn) {
  auto lock = LockForWrite();
  ApplyLocked(writes, lsn);
}

std::unique_lock<std::shared_mutex> EntityIndex::LockForWrite() { return impl_->WriteLock(); }

void EntityIndex::ApplyLocked(std::span<const IndexWrite> writes, uint64_t lsn) {
  for (const IndexWrite& write : writes) impl_->ApplyOne(write);
  impl_->covered_lsn = std::max(impl_->covered_lsn, lsn);
}

void EntityIndex::ApplyLocked(std::span<const IndexWrite* const> writes, uint64_t lsn) {
  for (const IndexWrite* write : writes) impl_->ApplyOne(*write);
  impl_->covered_lsn = std::max(impl_->covered_lsn, lsn);
}

SearchResult EntityIndex::Search(const SearchQuery& query,
                                 const std::atomic<uint64_t>* watermark) const {
  auto lock = impl_->ReadLock();
  return SearchHeld(query, watermark);
}

std::optional<SearchResult> EntityIndex::TrySearch(const SearchQuery& query,
                                                   const std::atomic<uint64_t>* watermark) const {
  auto lock = impl_->TryReadLock();
  if (!lock.owns_lock()) return std::nullopt;
  return SearchHeld(query, watermark);
}

SearchResult EntityIndex::SearchHeld(const SearchQuery& query,
                                     const std::atomic<uint64_t>* watermark) const {
  const SlotState& state = *impl_->state;
  SearchResult result;
  result.kind = state.sealed->kind;
  if (watermark != nullptr) result.applied_lsn = watermark->load(std::memory_order_acquire);
  if (query.limit == 0 || query.vector.size() != impl_->dim || query.types.IsNone()) return result;

  const float* q = query.vector.data();
  std::vector<float> normalized;
  const float norm2 = DotProduct(q, q, impl_->dim);
  if (!std::isfinite(norm2) || std::fabs(norm2 - 1.0f) > kUnitNormTolerance) {
    normalized.assign(query.vector.begin(), query.vector.end());
    if (!NormalizeInPlace(normalized)) return result;
    q = normalized.data();
  }

  const AllowList allow(state, query.types, query.exclude);
  SearchPlanInput in;
  in.kind = state.sealed->kind;
  in.sealed_rows = state.sealed->HasAnn() ? state.sealed->rows : 0;
  in.live = state.live_count;
  in.allowed = allow.CountAllowed();
  in.limit = query.limit;
  in.effort = query.effort;
  in.ivf_nlist = state.sealed->ivf_nlist;
  in.ivf_default_nprobe = state.sealed->ivf_default_nprobe;
  if (in.allowed == 0) {
    result.exact = true;
    return result;
  }
  const SearchPlan plan = PlanSearch(in, impl_->options);
  if (!plan.exact) {
    if (auto hits = impl_->SearchAnn(allow, q, plan, query, in.allowed)) {
      result.hits = std::move(*hits);
      return result;
    }
  }
  result.exact = true;
  result.hits = impl_->SearchExact(allow, q, query);
  return result;
}

std::optional<std::vector<float>> EntityIndex::VectorOf(const Uuid& entity_id) const {
  auto lock = impl_->ReadLock();
  const SlotState& state = *impl_->state;
  const uint32_t slot = state.slot_of.Find(entity_id, state.ids);
  if (slot == SlotTable::kNoSlot) return std::nullopt;
  std::vector<float> vector(impl_->dim);
  state.CopyVector(slot, vector.data());
  return vector;
}

bool EntityIndex::Contains(const Uuid& entity_id) const {
  auto lock = impl_->ReadLock();
  const SlotState& state = *impl_->state;
  return state.slot_of.Find(entity_id, state.ids) != SlotTable::kNoSlot;
}

IndexStats EntityIndex::Stats() const {
  auto lock = impl_->ReadLock();
  const SlotState& state = *impl_->state;
  IndexStats stats;
  stats.kind = state.sealed->kind;
  stats.storage = state.sealed->storage;
  stats.live = state.live_count;
  stats.dead = state.dead();
  stats.tail = state.tail_rows();
  stats.memory_bytes =
      sizeof(Impl) + state.MemoryBytes() +
      impl_->write_log.capacity() * (sizeof(IndexWrite) + impl_->dim * sizeof(float));
  stats.covered_lsn = impl_->covered_lsn;
  stats.rebuilding = impl_->rebuilding.load() || impl_->absorbing.load();
  return stats;
}

void EntityIndex::ForEachLive(
    const std::function<void(const Uuid&, EntityTypeCode, std::span<const float>)>& fn) const {
  auto lock = impl_->ReadLock();
  const SlotState& state = *impl_->state;
  std::vector<float> vector(impl_->dim);
  for (size_t slot = 0; slot < state.slots(); ++slot) {
    if (!state.live[slot]) continue;
    state.CopyVector(slot, vector.data());
    fn(state.ids[slot], state.types[slot], std::span<const float>(vector));
  }
}

IndexImage EntityIndex::Capture() const {
  auto lock = impl_->ReadLock();
  IndexImage image = ImageOfState(*impl_->state);
  image.key = key_;
  image.pinned_kind = impl_->pinned_kind;
  image.covered_lsn = impl_->covered_lsn;
  return image;
}

Status EntityIndex::FromImage(IndexImage image, IndexOptions options,
                              std::unique_ptr<EntityIndex>* index) {
  const IndexKey key = image.key;
  const std::optional<IndexKind> pinned = image.pinned_kind;
  const uint64_t covered_lsn = image.covered_lsn;
  std::unique_ptr<SlotState> state;
  if (Status s = StateFromImage(std::move(image), &state); !s.ok()) return s;
  auto restored = std::make_unique<EntityIndex>(key, std::move(options));
  restored->impl_->state = std::move(state);
  restored->impl_->pinned_kind = pinned;
  restored->impl_->covered_lsn = covered_lsn;
  *index = std::move(restored);
  return Status::Ok();
}

bool EntityIndex::NeedsRebuild() const {
  auto lock = impl_->ReadLock();
  return impl_->WhyRebuildNow() != RebuildReason::kNone;
}

Status EntityIndex::Rebuild(std::optional<IndexKind> kind, const std::atomic<bool>* cancel) {
  std::lock_guard<std::mutex> one_rebuild(impl_->rebuild_mu);
  return impl_->RebuildLocked(key_, kind, cancel);
}

bool EntityIndex::RebuildIfNeeded(const std::atomic<bool>* cancel) {
  std::lock_guard<std::mutex> one_rebuild(impl_->rebuild_mu);
  std::optional<IndexKind> pin;
  RebuildReason reason;
  bool long_graph_tail = false;
  {
    auto lock = impl_->ReadLock();
    reason = impl_->WhyRebuildNow();
    if (reason == RebuildReason::kNone) return false;
    pin = impl_->pinned_kind;
    long_graph_tail = impl_->state->sealed->hnsw != nullptr &&
                      impl_->state->tail_rows() > impl_->options.tail_absorb_rows;
  }
  // Only full rebuilds keep to the duty cycle. Absorbing a graph's tail costs one insert per
  // row written, and a tail left long makes every search scan it, so it goes on while a due
  // compaction waits its turn.
  const bool resting = std::chrono::steady_clock::now() < impl_->next_maintenance_rebuild;
  if (long_graph_tail && (reason == RebuildReason::kTail || resting)) {
    return impl_->AbsorbTailLocked(key_, cancel).ok();
  }
  if (resting) return false;
  return impl_->RebuildLocked(key_, pin, cancel).ok();
}

}  // namespace vecmirror
