// Registry: every EntityIndex of the process, keyed by (tenant, model, dim), and the applied
// LSN watermark that searches report.
//
// Consistency: ApplyTransaction locks every index it touches (in key order), applies the
// writes, advances applied_lsn, then releases. A search holds its index's shared lock while it
// reads applied_lsn, so it sees exactly the transactions up to the LSN it reports: never half
// of one.
//
// Rebuilds: a background maintenance thread (StartMaintenance) rebuilds indexes the policy
// wants rebuilt; an operator's rebuilds (StartRebuild) run one at a time on a thread of their
// own (index/rebuild_queue.h), with their progress and outcome in List(). The two never build
// the same index at once: maintenance leaves an index alone while an operator's rebuild of it
// is queued or running, and EntityIndex runs one rebuild of an index at a time.
//
// Thread-safety: all methods are safe for concurrent use. ApplyTransaction calls are
// serialized internally.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <thread>
#include <vector>

#include "base/status.h"
#include "index/entity_index.h"
#include "index/entity_types.h"
#include "index/index_key.h"
#include "index/lsn_waiters.h"
#include "index/rebuild_queue.h"

namespace vecmirror {

struct KeyedWrite {
  IndexKey key;
  IndexWrite write;
};

// What a snapshot (index/snapshot.h, SnapshotCut) needs of the registry: one consistent cut.
struct RegistryImage {
  std::vector<std::string> type_names;  // the type dictionary, in code order
  uint64_t lsn = 0;                     // applied_lsn: every index holds exactly the
                                        // transactions up to it
  std::vector<IndexImage> indexes;      // every index, in key order
};

struct IndexInfo {
  IndexKey key;
  IndexStats stats;
  std::optional<RebuildJob> rebuild;  // the operator's last rebuild of it (StartRebuild)
};

class Registry {
 public:
  explicit Registry(IndexOptions options = {});
  ~Registry();

  const IndexOptions& options() const { return options_; }
  EntityTypeDictionary& types() { return types_; }
  const EntityTypeDictionary& types() const { return types_; }

  // Applies one committed transaction atomically with respect to searches, creating indexes
  // on first use, and sets applied_lsn = commit_lsn. An empty `writes` only advances the LSN.
  void ApplyTransaction(std::span<const KeyedWrite> writes, uint64_t commit_lsn);

  // Advances applied_lsn without writes (keepalive past an idle stretch). Never moves back.
  void AdvanceLsn(uint64_t lsn);
  uint64_t applied_lsn() const { return applied_lsn_.load(std::memory_order_acquire); }

  // The watermark to pass to EntityIndex::Search, so that its result reports the applied LSN
  // read while the search held the index.
  const std::atomic<uint64_t>& applied_lsn_watermark() const { return applied_lsn_; }

  // Waits until applied_lsn >= lsn or the deadline passes. Returns true if reached. Holds the
  // calling thread; a server parks its calls in lsn_waiters() instead.
  bool WaitForLsn(uint64_t lsn, std::chrono::steady_clock::time_point deadline) const;

  // Callbacks parked until applied_lsn reaches a value. Every advance of applied_lsn (and a
  // Reset) is passed on to it in order, from the applying thread, after the transaction is
  // visible to searches.
  LsnWaiters& lsn_waiters() const { return lsn_waiters_; }

  // nullptr when the tenant has no rows for that model and dimension yet.
  std::shared_ptr<EntityIndex> Find(const IndexKey& key) const;
  std::vector<IndexInfo> List() const;

  // Find(key)->Search(query, &applied_lsn_watermark()). A key without an index yet gives no
  // hits (as the SQL returns no rows) with the current applied_lsn.
  SearchResult Search(const IndexKey& key, const SearchQuery& query) const;

  // Drops every index and resets applied_lsn to `lsn` (a fresh initial load follows).
  void Reset(uint64_t lsn = 0);

  // Images of every index, the type names and applied_lsn as one cut: taken while no
  // transaction applies (it holds the applier's mutex), so every image holds exactly the
  // transactions up to `lsn`. Cheap (EntityIndex::Capture); searches go on meanwhile. For the
  // cut to also match state kept outside the registry (the mirror's), call it from the applying
  // thread between transactions.
  RegistryImage Capture() const;

  // Replaces every index (as Reset does) with `indexes`, restores the type dictionary to
  // `type_names` so that codes mean the names they meant when the indexes were captured, and
  // sets applied_lsn to `lsn`. The indexes should be made with this registry's options()
  // (LoadNewestSnapshot's `options`). InvalidArgument, changing nothing, if two indexes have
  // the same key or the type names repeat.
  Status Restore(std::vector<std::unique_ptr<EntityIndex>> indexes,
                 const std::vector<std::string>& type_names, uint64_t lsn);

  // Rebuilds matching indexes now, in the caller's thread (online: searches continue), for
  // benchmarks and tests; the RebuildIndex RPC queues them instead (StartRebuild). An empty
  // `model` matches every model of the tenant. `kind` pins the kind (EntityIndex::Rebuild).
  // Returns the matching indexes' info after the rebuild (an index whose build failed is left
  // as it was and still listed).
  std::vector<IndexInfo> Rebuild(const Uuid& tenant, const std::string& model,
                                 std::optional<IndexKind> kind);

  // Queues a rebuild of every index of `tenant` (and `model`, unless empty) on the rebuild
  // thread and returns at once, with the matching indexes and their jobs in `started`. `kind`
  // pins the kind (EntityIndex::Rebuild). An index whose rebuild is queued or running already
  // is joined when it asks for the same kind (counted in `*joined`); for another kind the call
  // is AlreadyExists and nothing is queued. No matching index: NotFound.
  Status StartRebuild(const Uuid& tenant, const std::string& model, std::optional<IndexKind> kind,
                      std::vector<IndexInfo>* started, size_t* joined);
  // Cancels the queued or running rebuilds of the matching indexes; a cancelled rebuild leaves
  // its index exactly as it was. Returns the indexes whose rebuild it cancelled (a running one
  // shows kCancelling until its build stops, within one chunk: 10,000 rows or about 2 s).
  std::vector<IndexInfo> CancelRebuild(const Uuid& tenant, const std::string& model);
  // Waits until no operator rebuild is queued or running, or the deadline; true if none is.
  bool WaitForRebuilds(std::chrono::steady_clock::time_point deadline) const;

  // Starts/stops the thread that rebuilds indexes whose NeedsRebuild() is true, one at a time,
  // checking every `period`, at a lower CPU priority than applying and searching. Stop
  // cancels an HNSW build in progress (within one chunk: 10,000 rows or about 2 s) and waits
  // for it.
  void StartMaintenance(std::chrono::milliseconds period = std::chrono::milliseconds(500));
  void StopMaintenance();

 private:
  void MaintenanceLoop(std::chrono::milliseconds period);
  // `options` with on_rebuild_progress also passing the reports on to rebuild_queue_.
  IndexOptions WithQueueReports(IndexOptions options);
  std::vector<IndexKey> Matching(const Uuid& tenant, const std::string& model) const;
  IndexInfo InfoOf(const EntityIndex& index) const;

  const IndexOptions options_;
  EntityTypeDictionary types_;

  // A copy of the list of indexes, taken under map_mu_, so callers may walk it unlocked.
  std::vector<std::shared_ptr<EntityIndex>> AllIndexes() const;

  mutable std::shared_mutex map_mu_;  // guards indexes_
  std::map<IndexKey, std::shared_ptr<EntityIndex>> indexes_;

  mutable std::mutex apply_mu_;  // serializes ApplyTransaction, AdvanceLsn, Reset, Capture, Restore
  std::atomic<uint64_t> applied_lsn_{0};
  mutable std::mutex lsn_mu_;
  mutable std::condition_variable lsn_cv_;
  mutable LsnWaiters lsn_waiters_;

  std::mutex maintenance_mu_;
  std::condition_variable maintenance_cv_;
  bool stop_maintenance_ = false;
  std::atomic<bool> cancel_builds_{false};  // set by StopMaintenance, read by the builds
  std::thread maintenance_thread_;

  RebuildQueue rebuild_queue_;  // the operator's rebuilds; stopped first by ~Registry
};

}  // namespace vecmirror
