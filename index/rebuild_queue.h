// RebuildQueue: the rebuilds an operator asked for (the RebuildIndex RPC), run one at a time on
// a thread of their own, each with its progress and outcome readable while it runs and after.
//
// A job belongs to one index. It is queued, then running (from its build's first progress
// report: a job whose index is busy with a maintenance build waits for it, still queued), then
// done, failed or cancelled. The queue keeps the last job of every index, so a finished job's
// outcome stays readable until the next rebuild of that index is asked for. A job is started at
// most once per index at a time: asking again for the same kind joins the job that is queued or
// running, asking for another kind is refused.
//
// Thread-safety: all methods are safe for concurrent use. The runner is called on the queue's
// thread, one job at a time; Report is called from there (through the index's progress
// callback) while the runner runs.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/status.h"
#include "index/index_key.h"
#include "index/index_options.h"

namespace vecmirror {

enum class RebuildState : uint8_t {
  kQueued,      // waiting for the queue's thread, or for the index's maintenance build to end
  kRunning,     // building
  kCancelling,  // cancelled while running: stops within one chunk (10,000 rows or about 2 s)
  kDone,        // the new structure is swapped in
  kFailed,      // the build failed (error says why); the index is as it was
  kCancelled,   // cancelled; the index is as it was
};
const char* RebuildStateName(RebuildState state);
// Queued, running or cancelling: not ended yet.
inline bool IsActive(RebuildState state) { return state <= RebuildState::kCancelling; }

// One operator rebuild of one index, as seen at one moment.
struct RebuildJob {
  uint64_t id = 0;  // 1, 2, ... in the order jobs were queued in this process
  RebuildState state = RebuildState::kQueued;
  std::optional<IndexKind> requested_kind;  // nullopt: the size policy picks
  std::optional<IndexKind> building;        // the kind being built, from the first report on
  size_t rows_done = 0;                     // as of the last report (each tenth of a long build)
  size_t rows_total = 0;
  std::chrono::system_clock::time_point queued_at;
  std::chrono::system_clock::time_point started_at;  // zero until it runs
  double seconds = 0;  // running: so far; ended: how long it ran
  std::string error;   // kFailed: why
};

class RebuildQueue {
 public:
  // Rebuilds one index as `kind` asks (nullopt: the size policy), stopping early once `cancel`
  // is set, and returns the outcome. It reports progress through Report.
  using Runner = std::function<Status(const IndexKey& key, std::optional<IndexKind> kind,
                                      const std::atomic<bool>& cancel)>;

  explicit RebuildQueue(Runner runner);
  ~RebuildQueue();  // Stop()
  RebuildQueue(const RebuildQueue&) = delete;
  RebuildQueue& operator=(const RebuildQueue&) = delete;

  // Queues a rebuild of every key, all or nothing, and returns their jobs in `jobs` (same
  // order). A key whose job is active with the same requested kind is joined: that job is
  // returned and counted in `*joined`. A key whose active job asks for another kind makes the
  // whole call AlreadyExists, and nothing is queued. After Stop: Unavailable.
  Status Start(const std::vector<IndexKey>& keys, std::optional<IndexKind> kind,
               std::vector<RebuildJob>* jobs, size_t* joined);

  // Cancels the active jobs of these keys: a queued one ends now (cancelled), a running one is
  // cancelling until its build stops. Returns the keys and jobs it cancelled, as they now are.
  std::vector<std::pair<IndexKey, RebuildJob>> Cancel(const std::vector<IndexKey>& keys);

  // The last job of `key` (active or ended); nullopt if none was ever asked for.
  std::optional<RebuildJob> Find(const IndexKey& key) const;
  bool IsActive(const IndexKey& key) const;

  // Waits until no job is active or the deadline passes; true if none is.
  bool WaitIdle(std::chrono::steady_clock::time_point deadline) const;

  // Progress of the job the runner is running, from the runner's own progress reports. Reports
  // from any other thread (maintenance builds) are ignored.
  void Report(const IndexKey& key, const RebuildProgress& progress);

  // Cancels every job, waits for the running one to stop and ends the thread. Idempotent.
  void Stop();

 private:
  void Loop();
  // The job's state at this moment (seconds of a running job grow). Requires mu_.
  RebuildJob Snapshot(const RebuildJob& job) const;

  const Runner runner_;

  mutable std::mutex mu_;
  std::condition_variable work_cv_;          // a job was queued, or Stop
  mutable std::condition_variable idle_cv_;  // a job ended
  std::map<IndexKey, RebuildJob> jobs_;      // the last job of each index
  std::deque<IndexKey> queue_;               // keys whose job is queued, in order
  std::optional<IndexKey> running_;          // the key the runner works on
  std::chrono::steady_clock::time_point running_since_;
  std::atomic<bool> cancel_running_{false};
  uint64_t next_id_ = 1;
  bool stopped_ = false;
  std::thread thread_;  // started by the first Start
  std::thread::id thread_id_;
};

}  // namespace vecmirror
