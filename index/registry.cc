#include "index/registry.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>

#include "base/echo.h"

namespace vecmirror {

Registry::Registry(IndexOptions options)
    : options_(WithQueueReports(std::move(options))),
      rebuild_queue_([this](const IndexKey& key, std::optional<IndexKind> kind,
                            const std::atomic<bool>& cancel) {
        std::shared_ptr<EntityIndex> index = Find(key);
        if (!index) return Status::NotFound("index " + key.ToString() + " was dropped");
        return index->Rebuild(kind, &cancel);
      }) {}

Registry::~Registry() {
  rebuild_queue_.Stop();
  StopMaintenance();
}

IndexOptions Registry::WithQueueReports(IndexOptions options) {
  // The queue is constructed after options_, but no index (so no rebuild) exists before the
  // constructor returns.
  auto user = std::move(options.on_rebuild_progress);
  options.on_rebuild_progress = [this, user](const IndexKey& key, const RebuildProgress& p) {
    if (user) user(key, p);
    rebuild_queue_.Report(key, p);
  };
  return options;
}

void Registry::ApplyTransaction(std::span<const KeyedWrite> writes, uint64_t commit_lsn) {
  std::lock_guard<std::mutex> apply(apply_mu_);

  // Group by key, keeping each key's writes in commit order. std::map orders the keys, and
  // taking the write locks in that order means two appliers could never deadlock (there is only
  // one, but Rebuild takes the same locks one at a time).
  struct Group {
    std::vector<const IndexWrite*> writes;
    bool has_upsert = false;
    std::shared_ptr<EntityIndex> index;
  };
  std::map<IndexKey, Group> groups;
  for (const KeyedWrite& kw : writes) {
    Group& group = groups[kw.key];
    group.writes.push_back(&kw.write);
    group.has_upsert |= kw.write.op == IndexWrite::Op::kUpsert;
  }

  {
    std::unique_lock<std::shared_mutex> map_lock(map_mu_);
    for (auto& [key, group] : groups) {
      auto it = indexes_.find(key);
      if (it != indexes_.end()) {
        group.index = it->second;
      } else if (group.has_upsert) {
        group.index = std::make_shared<EntityIndex>(key, options_);
        indexes_.emplace(key, group.index);
      }
      // Else: only removes for an index that doesn't exist: nothing to do.
    }
  }

  std::vector<std::unique_lock<std::shared_mutex>> locks;
  locks.reserve(groups.size());
  for (auto& [key, group] : groups) {
    if (group.index) locks.push_back(group.index->LockForWrite());
  }
  for (auto& [key, group] : groups) {
    if (group.index) group.index->ApplyLocked(group.writes, commit_lsn);
  }
  {
    // Advanced while the indexes are still locked: a search that sees this transaction's
    // writes also sees its LSN, and one that reports an older LSN saw none of them.
    std::lock_guard<std::mutex> lsn_lock(lsn_mu_);
    if (commit_lsn > applied_lsn_.load(std::memory_order_relaxed)) {
      applied_lsn_.store(commit_lsn, std::memory_order_release);
    }
  }
  locks.clear();
  lsn_cv_.notify_all();
  lsn_waiters_.SetApplied(applied_lsn_.load(std::memory_order_acquire));
}

void Registry::AdvanceLsn(uint64_t lsn) {
  std::lock_guard<std::mutex> apply(apply_mu_);
  {
    std::lock_guard<std::mutex> lsn_lock(lsn_mu_);
    if (lsn <= applied_lsn_.load(std::memory_order_relaxed)) return;
    applied_lsn_.store(lsn, std::memory_order_release);
  }
  lsn_cv_.notify_all();
  lsn_waiters_.SetApplied(lsn);
}

bool Registry::WaitForLsn(uint64_t lsn, std::chrono::steady_clock::time_point deadline) const {
  std::unique_lock<std::mutex> lock(lsn_mu_);
  return lsn_cv_.wait_until(lock, deadline,
                            [&] { return applied_lsn_.load(std::memory_order_acquire) >= lsn; });
}

std::shared_ptr<EntityIndex> Registry::Find(const IndexKey& key) const {
  std::shared_lock<std::shared_mutex> lock(map_mu_);
  auto it = indexes_.find(key);
  return it == indexes_.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<EntityIndex>> Registry::AllIndexes() const {
  std::shared_lock<std::shared_mutex> lock(map_mu_);
  std::vector<std::shared_ptr<EntityIndex>> out;
  out.reserve(indexes_.size());
  for (const auto& [key, index] : indexes_) out.push_back(index);
  return out;
}

IndexInfo Registry::InfoOf(const EntityIndex& index) const {
  return IndexInfo{index.key(), index.Stats(), rebuild_queue_.Find(index.key())};
}

std::vector<IndexInfo> Registry::List() const {
  std::vector<IndexInfo> infos;
  for (const auto& index : AllIndexes()) infos.push_back(InfoOf(*index));
  return infos;
}

SearchResult Registry::Search(const IndexKey& key, const SearchQuery& query) const {
  if (auto index = Find(key)) return index->Search(query, &applied_lsn_);
  SearchResult empty;
  empty.exact = true;
  empty.applied_lsn = applied_lsn();
  return empty;
}

void Registry::Reset(uint64_t lsn) {
  std::lock_guard<std::mutex> apply(apply_mu_);
  std::map<IndexKey, std::shared_ptr<EntityIndex>> dropped;
  {
    std::unique_lock<std::shared_mutex> map_lock(map_mu_);
    dropped.swap(indexes_);
  }
  {
    std::lock_guard<std::mutex> lsn_lock(lsn_mu_);
    applied_lsn_.store(lsn, std::memory_order_release);
  }
  lsn_cv_.notify_all();
  lsn_waiters_.SetApplied(lsn);
  // `dropped` is freed here; searches still holding one of its indexes keep it alive.
}

RegistryImage Registry::Capture() const {
  std::lock_guard<std::mutex> apply(apply_mu_);
  RegistryImage image;
  image.lsn = applied_lsn();
  image.type_names = types_.Names();
  for (const auto& index : AllIndexes()) image.indexes.push_back(index->Capture());
  return image;
}

Status Registry::Restore(std::vector<std::unique_ptr<EntityIndex>> indexes,
                         const std::vector<std::string>& type_names, uint64_t lsn) {
  std::map<IndexKey, std::shared_ptr<EntityIndex>> restored;
  for (auto& index : indexes) {
    const IndexKey key = index->key();
    if (!restored.emplace(key, std::move(index)).second) {
      return Status::InvalidArgument("two indexes for " + key.ToString());
    }
  }
  std::lock_guard<std::mutex> apply(apply_mu_);
  if (!types_.Restore(type_names)) {
    return Status::InvalidArgument("entity type names repeat or are too many");
  }
  {
    std::unique_lock<std::shared_mutex> map_lock(map_mu_);
    restored.swap(indexes_);
  }
  {
    std::lock_guard<std::mutex> lsn_lock(lsn_mu_);
    applied_lsn_.store(lsn, std::memory_order_release);
  }
  lsn_cv_.notify_all();
  lsn_waiters_.SetApplied(lsn);
  // `restored` now holds the indexes replaced; they are freed here.
  return Status::Ok();
}

std::vector<IndexInfo> Registry::Rebuild(const Uuid& tenant, const std::string& model,
                                         std::optional<IndexKind> kind) {
  std::vector<IndexInfo> rebuilt;
  for (const auto& index : AllIndexes()) {
    const IndexKey& key = index->key();
    if (key.tenant_id != tenant || (!model.empty() && key.model != model)) continue;
    (void)index->Rebuild(kind);  // on failure the index keeps serving its old structure
    rebuilt.push_back(IndexInfo{key, index->Stats(), std::nullopt});
  }
  return rebuilt;
}

std::vector<IndexKey> Registry::Matching(const Uuid& tenant, const std::string& model) const {
  std::vector<IndexKey> keys;
  for (const auto& index : AllIndexes()) {
    const IndexKey& key = index->key();
    if (key.tenant_id == tenant && (model.empty() || key.model == model)) keys.push_back(key);
  }
  return keys;
}

Status Registry::StartRebuild(const Uuid& tenant, const std::string& model,
                              std::optional<IndexKind> kind, std::vector<IndexInfo>* started,
                              size_t* joined) {
  started->clear();
  *joined = 0;
  const std::vector<IndexKey> keys = Matching(tenant, model);
  if (keys.empty()) {
    return Status::NotFound("no index matches tenant_id " + tenant.ToString() +
                            (model.empty() ? std::string() : " and model " + QuoteForEcho(model)));
  }
  std::vector<RebuildJob> jobs;
  if (Status s = rebuild_queue_.Start(keys, kind, &jobs, joined); !s.ok()) return s;
  for (size_t i = 0; i < keys.size(); ++i) {
    IndexInfo info{keys[i], {}, jobs[i]};
    if (auto index = Find(keys[i])) info.stats = index->Stats();
    started->push_back(std::move(info));
  }
  return Status::Ok();
}

std::vector<IndexInfo> Registry::CancelRebuild(const Uuid& tenant, const std::string& model) {
  std::vector<IndexInfo> cancelled;
  for (auto& [key, job] : rebuild_queue_.Cancel(Matching(tenant, model))) {
    IndexInfo info{key, {}, job};
    if (auto index = Find(key)) info.stats = index->Stats();
    cancelled.push_back(std::move(info));
  }
  return cancelled;
}

bool Registry::WaitForRebuilds(std::chrono::steady_clock::time_point deadline) const {
  return rebuild_queue_.WaitIdle(deadline);
}

void Registry::StartMaintenance(std::chrono::milliseconds period) {
  std::lock_guard<std::mutex> lock(maintenance_mu_);
  if (maintenance_thread_.joinable()) return;
  stop_maintenance_ = false;
  cancel_builds_ = false;
  maintenance_thread_ = std::thread([this, period] { MaintenanceLoop(period); });
}

void Registry::StopMaintenance() {
  std::thread thread;
  {
    std::lock_guard<std::mutex> lock(maintenance_mu_);
    stop_maintenance_ = true;
    cancel_builds_ = true;
    thread.swap(maintenance_thread_);
  }
  maintenance_cv_.notify_all();
  if (thread.joinable()) thread.join();
}

void Registry::MaintenanceLoop(std::chrono::milliseconds period) {
  // Background rebuilds yield the cores to applying changes and to searches: this thread, and
  // the OpenMP workers its builds start (a Linux thread inherits its creator's nice value), run
  // at a lower priority. Best effort: if it fails they keep the default one.
  constexpr int kMaintenanceNice = 10;
  setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), kMaintenanceNice);
  std::unique_lock<std::mutex> lock(maintenance_mu_);
  while (!maintenance_cv_.wait_for(lock, period, [this] { return stop_maintenance_; })) {
    lock.unlock();
    // The map is only read for the list; builds run with no registry lock held.
    for (const auto& index : AllIndexes()) {
      {
        std::lock_guard<std::mutex> check(maintenance_mu_);
        if (stop_maintenance_) break;
      }
      // An operator's rebuild of this index is queued or running: it will do.
      if (rebuild_queue_.IsActive(index->key())) continue;
      index->RebuildIfNeeded(&cancel_builds_);
    }
    lock.lock();
  }
}

}  // namespace vecmirror
