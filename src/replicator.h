// Replicator: keeps the Mirror in step with PostgreSQL. It owns the mirror thread, which
//
//   1. checks the server (wal_level, REPLICATION, the publication) and reads the tables' keys
//      and the vector column's type (MirroredTables),
//   2. on first start with snapshots on (src/snapshotter.h): resumes from the newest snapshot
//      that verifies and was taken from this cluster, database, slot and publication, if the
//      slot still holds the WAL after it; otherwise, or when the slot is gone:
//      drops and recreates the slot with an exported snapshot, and hands it to the initial load
//      (src/initial_load.h), which applies the snapshot as one step at the slot's consistent
//      point,
//   3. streams pgoutput from the applied LSN, handing each change to the Mirror with the decoder
//      of its table (MirroredTables) and applying each transaction at its Commit. Without
//      snapshots it confirms each applied transaction at once (a start always reloads, so
//      nothing before the applied LSN is needed again); with snapshots it confirms only up to
//      the newest durable snapshot, takes snapshots on their schedule at transaction
//      boundaries, and reports how much WAL the slot retains,
//   4. on any failure, keeps serving what is applied, and reconnects with capped exponential
//      backoff; a lost slot, or a vector column whose type changed, triggers a fresh load.
//
// Thread-safety: Start/Stop from one thread; everything else runs on the mirror thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include "base/status.h"
#include "index/registry.h"
#include "src/mirror.h"
#include "src/mirror_status.h"
#include "src/mirrored_tables.h"
#include "src/snapshotter.h"
#include "src/pg/catalog.h"
#include "src/pg/pgoutput.h"
#include "src/pg/replication_stream.h"
#include "src/table_rows.h"

namespace vecmirror {

struct ReplicatorOptions {
  std::string conninfo;                  // URI or key=value; "" = libpq defaults (PG* variables)
  std::string slot_name = "vecmirror";   // Default: "vecmirror". One slot per process.
  std::string publication = "vecmirror";  // Default: "vecmirror"; created if missing.
  pg::TableName entity_table{"public", "entity"};
  pg::TableName embedding_table{"public", "embedding"};
  EntityColumns entity_columns;
  EmbeddingColumns embedding_columns;
  // Standby status updates at least this often. Default: 5 s (wal_sender_timeout is 60 s).
  std::chrono::milliseconds status_interval{5000};
  // Server LSN poll for lag reporting. Default: 1 s.
  std::chrono::milliseconds lag_poll_interval{1000};
  // Reconnect backoff: doubles from min to max. Defaults: 100 ms to 10 s.
  std::chrono::milliseconds min_backoff{100};
  std::chrono::milliseconds max_backoff{10000};
  // A warning is logged when the slot holds back more WAL than this. Default: 1 GiB.
  uint64_t max_retained_wal_bytes = uint64_t{1} << 30;
};

class Replicator {
 public:
  // `snapshotter` may be null or disabled: no snapshots.
  Replicator(ReplicatorOptions options, Mirror& mirror, Registry& registry,
             MirrorStatusBoard& board, Snapshotter* snapshotter = nullptr);
  ~Replicator();

  // Checks the server once, synchronously. FailedPrecondition is an operator error (wal_level,
  // privileges, tables): the caller should exit with the message. Unavailable means the server
  // could not be reached; the mirror thread will keep trying.
  Status Preflight();

  void Start();
  void Stop();

  // After Stop: writes a last snapshot of what is applied, if snapshots are on, something was
  // applied since the newest one, and the mirror stopped between transactions.
  void WriteFinalSnapshot();

 private:
  void Run();
  Status LoadAndStream();
  Status Stream(std::unique_ptr<pg::ReplicationStream> stream, pg::Lsn start);
  Status PrepareCatalog();
  // Restores the newest usable snapshot and returns OK, or says why none can be used.
  Status ResumeFromSnapshot();
  // A consistent cut of what is applied; call between transactions on the mirror thread.
  SnapshotCut TakeCut();
  void MaybeSnapshot();
  Status HandleMessage(std::string_view payload);
  Status HandleRelation(const pg::Relation& relation);
  const RowDecoder* DecoderFor(uint32_t relation_oid) const;  // null: not a mirrored table
  Status SendStatus(pg::ReplicationStream& stream, bool reply_requested);
  // The server's LSN, for lag, and the WAL the slot retains.
  void PollServerLsn();
  bool SleepFor(std::chrono::milliseconds duration);  // false if stopping
  void SetState(const std::string& state, const std::string& error = "");

  const ReplicatorOptions options_;
  Mirror& mirror_;
  Registry& registry_;
  MirrorStatusBoard& board_;
  Snapshotter* const snapshotter_;  // null: snapshots off
  SnapshotSource source_;           // this cluster, database, slot and publication
  bool tried_resume_ = false;       // a start resumes from a snapshot at most once
  bool warned_retained_wal_ = false;

  std::unique_ptr<pqxx::connection> control_;  // catalog checks, lag polling
  MirroredTables tables_;                      // read again at every (re)connect

  // The stream's relations that are mirrored tables, by OID, from their latest Relation message.
  std::unordered_map<uint32_t, RowDecoder> decoders_;
  bool in_transaction_ = false;
  pg::Lsn received_ = 0;
  pg::Lsn confirmed_ = 0;
  std::chrono::steady_clock::time_point last_status_{};
  std::chrono::steady_clock::time_point last_lag_poll_{};
  bool need_load_ = true;

  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> finished_{false};  // Run has returned
  std::mutex sleep_mu_;
  std::condition_variable sleep_cv_;

  // Stop() cancels the statement that may block the thread for long (the initial load's COPY,
  // a slot creation waiting for open transactions) while a CancelOnStop scope registers it.
  class CancelOnStop;
  std::mutex cancel_mu_;
  const pg::QueryCanceller* cancellable_ = nullptr;  // guarded by cancel_mu_
};

}  // namespace vecmirror
