// MirrorStatusBoard: the mirror's published state (what GetMirrorStatus and health report).
// The mirror thread writes it; gRPC handlers read copies.
//
// Thread-safety: all methods are safe for concurrent use.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

#include "base/bad_row.h"
#include "base/lsn.h"

namespace vecmirror {

struct MirrorState {
  std::string state = "connecting";  // connecting, loading, streaming, reconnecting, stopped
  std::string slot_name;
  std::string publication;
  uint64_t applied_lsn = 0;
  uint64_t confirmed_lsn = 0;
  uint64_t server_lsn = 0;
  // The server's wal_segment_size: where WAL pages carry the long header (base/lsn.h).
  uint64_t wal_segment_bytes = kDefaultWalSegmentBytes;
  double lag_seconds = 0;
  // Wall-clock time of the last applied commit; zero before the first.
  std::chrono::system_clock::time_point last_commit_applied_at{};
  uint64_t reconnects = 0;
  uint64_t initial_loads = 0;
  uint64_t transactions_applied = 0;
  uint64_t changes_applied = 0;
  BadRowCounts bad_rows;
  std::string last_error;
  bool loaded = false;  // the first full load is complete
  uint64_t retained_wal_bytes = 0;  // pg_current_wal_lsn() - the slot's restart_lsn

  struct Snapshots {
    bool enabled = false;
    std::string directory;
    uint64_t durable_lsn = 0;
    uint64_t written = 0;
    uint64_t failed = 0;
    double last_write_seconds = 0;
    uint64_t last_bytes = 0;
    std::chrono::system_clock::time_point last_written_at{};
    bool writing = false;
    std::string started_from;
  } snapshots;

  uint64_t lag_bytes() const { return server_lsn > applied_lsn ? server_lsn - applied_lsn : 0; }
};

class MirrorStatusBoard {
 public:
  MirrorState Get() const {
    std::lock_guard lock(mu_);
    return state_;
  }
  // Runs fn on the state under the lock; keep it short.
  void Update(const std::function<void(MirrorState&)>& fn) {
    std::lock_guard lock(mu_);
    fn(state_);
  }
  bool loaded() const {
    std::lock_guard lock(mu_);
    return state_.loaded;
  }
  uint64_t wal_segment_bytes() const {
    std::lock_guard lock(mu_);
    return state_.wal_segment_bytes;
  }

 private:
  mutable std::mutex mu_;
  MirrorState state_;
};

}  // namespace vecmirror
