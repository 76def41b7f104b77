// Snapshotter: writes durable snapshots of the indexes and the mirror's state (index/snapshot.h)
// on a schedule, in the background, and says which LSN the newest one covers.
//
// The mirror thread decides when: at a transaction boundary it asks Due(), takes a consistent
// cut (Registry::Capture and Mirror::EncodeState, cheap: a captured index shares its sealed
// structure) and hands it over with WriteInBackground. The write (seconds for a large index)
// runs on this class's thread while searches and the stream go on. Once it is durable,
// durable_lsn() moves to its LSN, and the replicator confirms the slot up to there and no
// further, so PostgreSQL keeps the WAL a restart from that snapshot needs.
//
// Thread-safety: Due, WriteInBackground, WriteNow and set_durable_lsn are called by one thread
// (the mirror thread, or main after it stopped); durable_lsn() may be read from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "base/status.h"
#include "index/snapshot.h"
#include "src/mirror_status.h"

namespace vecmirror {

struct SnapshotOptions {
  // Where snapshots live. Default: "" = no snapshots; every start takes a fresh initial load and
  // the slot is confirmed as soon as a transaction is applied.
  std::string directory;
  // A snapshot is due this long after the last one, if anything was applied since. Default: 300 s.
  std::chrono::seconds interval{300};
  // ...or after this many applied row changes, whichever comes first. Default: 1,000,000; 0 = off.
  uint64_t every_changes = 1000000;
  // Complete snapshots kept; older ones are removed. Default: 2.
  size_t keep = 2;
};

class Snapshotter {
 public:
  Snapshotter(SnapshotOptions options, MirrorStatusBoard& board);
  ~Snapshotter();  // waits for a write in progress
  Snapshotter(const Snapshotter&) = delete;
  Snapshotter& operator=(const Snapshotter&) = delete;

  bool enabled() const { return !options_.directory.empty(); }
  const SnapshotOptions& options() const { return options_; }

  // Whether a snapshot should be taken now: enabled, none being written, and either
  //  - something was applied after durable_lsn(), and the interval passed or `changes_applied`
  //    (the running total) grew by every_changes since the last snapshot, or
  //  - an index finished a (re)build since the last snapshot and kRebuildSnapshotGap passed: a
  //    restart should load the new graph, not build it again.
  bool Due(uint64_t applied_lsn, uint64_t changes_applied) const;
  // Whether the final snapshot at a stop has anything to add to the newest one.
  bool HasNews(uint64_t applied_lsn) const;

  // Called when an index swapped in a new structure (a promotion, compaction, absorbed tail).
  // Any thread.
  void NoteIndexRebuilt() { rebuilds_.fetch_add(1, std::memory_order_relaxed); }

  // The number of NoteIndexRebuilt calls so far: read it before taking a cut and pass it with
  // the cut, so a rebuild that ends while the cut is taken still counts as news.
  uint64_t rebuilds() const { return rebuilds_.load(std::memory_order_relaxed); }

  // Writes `cut` on the background thread. The caller must have checked Due (or know no write
  // is running).
  void WriteInBackground(SnapshotCut cut, uint64_t changes_applied, uint64_t rebuilds_before_cut);
  // Writes `cut` now, on the calling thread, after any background write finished (shutdown).
  Status WriteNow(SnapshotCut cut);

  // The newest snapshot under the directory that verifies and matches `source`; each one passed
  // over is logged with its reason. NotFound if none.
  Status LoadNewest(const SnapshotSource& source, const IndexOptions& index_options,
                    LoadedSnapshot* out) const;

  // LSN up to which the slot may be confirmed: the newest durable snapshot's, or what a start
  // set (a fresh load's consistent point, a resumed snapshot's LSN).
  uint64_t durable_lsn() const { return durable_lsn_.load(std::memory_order_acquire); }
  void set_durable_lsn(uint64_t lsn, uint64_t changes_applied);

 private:
  Status Write(const SnapshotCut& cut);
  void WriterLoop();

  const SnapshotOptions options_;
  MirrorStatusBoard& board_;
  std::atomic<uint64_t> durable_lsn_{0};
  // Of the last snapshot taken (written or being written): the schedule counts from here.
  std::chrono::steady_clock::time_point last_taken_ = std::chrono::steady_clock::now();
  uint64_t changes_at_last_ = 0;
  std::atomic<uint64_t> rebuilds_{0};
  uint64_t rebuilds_at_last_ = 0;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::optional<SnapshotCut> pending_;  // guarded by mu_
  bool writing_ = false;                // guarded by mu_
  bool stopping_ = false;               // guarded by mu_
  std::thread writer_;
};

}  // namespace vecmirror
