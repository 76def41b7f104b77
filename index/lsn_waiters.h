// LsnWaiters: callbacks parked until the applied LSN reaches a value, with no thread held per
// waiter. It is how a search with `min_lsn` waits for read-your-writes: the call is parked
// here, and resumed when the LSN is applied, when its deadline passes, or when it is cancelled.
//
// Each parked callback runs exactly once, with the first of:
//   kReached    SetApplied reached its LSN (run in SetApplied's caller: the apply thread),
//   kDeadline   its deadline passed first (run in this class's one timer thread),
//   kCancelled  Cancel was called first (run in Cancel's caller), or the LsnWaiters is destroyed.
// Callbacks never run under the class's lock, so they may call Park, Cancel or size; they must
// be short (hand real work to a pool), since they run on the thread that applies replication.
//
// Thread-safety: every method is safe for concurrent use.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <utility>
#include <vector>

namespace vecmirror {

class LsnWaiters {
 public:
  enum class Outcome { kReached, kDeadline, kCancelled };
  using Callback = std::function<void(Outcome)>;
  using Ticket = uint64_t;
  using Clock = std::chrono::steady_clock;

  LsnWaiters() = default;
  // Stops the timer thread, then calls every waiter still parked with kCancelled.
  ~LsnWaiters();
  LsnWaiters(const LsnWaiters&) = delete;
  LsnWaiters& operator=(const LsnWaiters&) = delete;

  // Parks `done` until the applied LSN is at least `lsn` or `deadline` passes. Returns the
  // ticket that Cancel takes, or nullopt when `lsn` is applied already: then `done` is never
  // called and the caller goes on at once.
  std::optional<Ticket> Park(uint64_t lsn, Clock::time_point deadline, Callback done);

  // Calls the waiter's callback with kCancelled if it is still parked; a ticket whose callback
  // has run (or is running) is ignored.
  void Cancel(Ticket ticket);

  // Records the applied LSN and calls every waiter at or below it with kReached. The LSN may
  // move back (a fresh initial load restarts the watermark); waiters above it stay parked.
  void SetApplied(uint64_t lsn);

  // Waiters parked now.
  size_t size() const;

 private:
  struct Waiter {
    uint64_t lsn = 0;
    Clock::time_point deadline;
    Callback done;
  };
  using Fired = std::vector<std::pair<Callback, Outcome>>;

  // Removes the waiter from every index and moves its callback to `fired`. Needs mu_.
  void TakeLocked(std::map<Ticket, Waiter>::iterator it, Outcome outcome, Fired* fired);
  void TimerLoop();
  static void Run(Fired& fired);

  mutable std::mutex mu_;
  std::condition_variable timer_cv_;
  uint64_t applied_ = 0;
  Ticket next_ticket_ = 1;
  std::map<Ticket, Waiter> waiters_;
  std::set<std::pair<uint64_t, Ticket>> by_lsn_;
  std::set<std::pair<Clock::time_point, Ticket>> by_deadline_;
  bool stopping_ = false;
  std::thread timer_;  // started by the first Park
};

}  // namespace vecmirror
