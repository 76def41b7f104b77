// Admission: the serving bounds a call must fit in before the server keeps it, and the count of
// what each bound refused. A call holds its serialized request size against the in-flight
// request budget from admission until it is answered, and a slot among the parked searches
// while it waits for its min_lsn. (The third bound, the queue of searches waiting for a worker,
// is the WorkerPool's; Admission only words and counts its refusals.)
//
// Each refusal is RESOURCE_EXHAUSTED with a message that names the bound, its value and the
// flag that sets it: the server was busy, the request was not wrong, and a retry later may pass.
//
// Thread-safety: every method is safe for concurrent use (atomic counters).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "base/status.h"

namespace vecmirror {

struct AdmissionLimits {
  // Calls that may wait for a worker (--max-queued-searches). Only worded here.
  size_t max_queued = 1024;
  // Calls parked until their min_lsn is applied (--max-waiting-searches).
  size_t max_waiting = 4096;
  // Serialized request bytes held by admitted calls (--max-inflight-request-bytes).
  size_t max_inflight_request_bytes = size_t{256} << 20;
};

// What the serving path has refused or dropped since start, and the bytes and waiters held now.
struct AdmissionCounters {
  uint64_t inflight_request_bytes = 0;
  uint64_t waiting = 0;
  uint64_t refused_queue_full = 0;
  uint64_t refused_waiting_full = 0;
  uint64_t refused_request_bytes = 0;
  uint64_t cancelled_before_run = 0;
  uint64_t run_in_handler = 0;        // searches run in the gRPC thread that received them
  uint64_t handler_found_locked = 0;  // ... that found their index held by a writer: queued
};

class Admission {
 public:
  explicit Admission(AdmissionLimits limits) : limits_(limits) {}

  const AdmissionLimits& limits() const { return limits_; }

  // Holds `bytes` of the in-flight request budget, or refuses: a request larger than the whole
  // budget never fits; otherwise the budget is full until calls in flight are answered.
  Status ReserveRequestBytes(size_t bytes);
  void ReleaseRequestBytes(size_t bytes);

  // Holds one of the max_waiting slots for a parked call, or refuses.
  Status ReserveWaiter();
  void ReleaseWaiter();

  // The refusal for a call that found the worker queue at its bound (counted).
  Status QueueFull();

  void CountCancelledBeforeRun() { cancelled_before_run_.fetch_add(1, std::memory_order_relaxed); }
  void CountRunInHandler() { run_in_handler_.fetch_add(1, std::memory_order_relaxed); }
  void CountHandlerFoundIndexLocked() {
    handler_found_locked_.fetch_add(1, std::memory_order_relaxed);
  }

  // True while the request budget has room; with the queue's own room, whether new work is
  // accepted (health).
  bool HasRequestBytesRoom() const {
    return inflight_bytes_.load(std::memory_order_relaxed) < limits_.max_inflight_request_bytes;
  }

  AdmissionCounters Counters() const;

 private:
  const AdmissionLimits limits_;
  std::atomic<size_t> inflight_bytes_{0};
  std::atomic<size_t> waiting_{0};
  std::atomic<uint64_t> refused_queue_full_{0};
  std::atomic<uint64_t> refused_waiting_full_{0};
  std::atomic<uint64_t> refused_request_bytes_{0};
  std::atomic<uint64_t> cancelled_before_run_{0};
  std::atomic<uint64_t> run_in_handler_{0};
  std::atomic<uint64_t> handler_found_locked_{0};
};

}  // namespace vecmirror
