// ServingCall: one unary call's life on the serving path, as a gRPC callback reactor.
//
//   admitted   its request bytes fit the in-flight budget (else RESOURCE_EXHAUSTED);
//   parked     when it must wait for an LSN: in LsnWaiters, holding no thread, within the
//              bound on parked calls (else RESOURCE_EXHAUSTED);
//   queued     on a WorkerPool, within the queue's bound (else RESOURCE_EXHAUSTED); a call
//              woken from the park is queued past the bound, since it was admitted already;
//   run        on a worker: the plan's `run` fills the response and its status finishes the call.
//
// A call that needs no wait and whose plan allows it (`run_in_handler`) skips the queue when the
// pool has a free slot and nothing queued (WorkerPool::TryClaimSlot): it runs at once in the
// gRPC thread that received it, holding that slot, so it counts against the same bound on
// searches running at once and overtakes nothing. It never waits there: when its index is held
// by a writer it gives the slot back and is queued as above, so a gRPC thread is never parked
// behind a write (with every gRPC thread so parked, the server would read no new call).
// Such a call is finished on gRPC's default reactor, and no ServingCall is made for it: gRPC
// hands the OnDone of a reactor of ours to its executor thread (the reactions may not be
// trivial), one more thread wake-up per call, where it runs the default reactor's inline.
//
// The client's cancellation (or its deadline, which gRPC turns into one) ends the call without
// running it: parked, it is finished as CANCELLED at once; queued, the worker that takes it
// finishes it as CANCELLED without running it. A run in progress is not interrupted (a batch
// looks at cancellation between its items). If the awaited LSN is not applied by the plan's
// wait deadline, the call finishes with `on_wait_deadline`'s status, or runs anyway when that
// is empty (a batch then answers each item on its own).
//
// Thread-safety: gRPC (OnCancel), LsnWaiters (the wake-up) and the pool's threads call in
// concurrently; the reactor guards its state and calls Finish exactly once, releasing its
// request bytes just before. It deletes itself in OnDone, which gRPC calls last.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>

#include <grpcpp/grpcpp.h>

#include "base/status.h"
#include "index/lsn_waiters.h"
#include "src/admission.h"
#include "src/worker_pool.h"

namespace vecmirror {

// What every call on one serving path shares. All of it outlives every call.
struct ServingPath {
  WorkerPool* pool = nullptr;
  LsnWaiters* waiters = nullptr;
  Admission* admission = nullptr;
  // The refusal for a call that finds `pool`'s queue full.
  std::function<Status()> queue_full;
};

struct ServingPlan {
  const char* method = "call";  // the RPC's name, for the errors of `run` and `run_in_handler`
  size_t request_bytes = 0;  // held against the in-flight request budget until answered
  uint64_t wait_lsn = 0;     // park until this LSN is applied first; 0 = queue at once
  std::chrono::steady_clock::time_point wait_deadline;
  // Runs on a worker, at most once; its status finishes the call. An exception it throws
  // finishes the call as INTERNAL.
  std::function<grpc::Status()> run;
  // The status when wait_lsn is not applied by wait_deadline; empty = run anyway.
  std::function<grpc::Status()> on_wait_deadline;
  // `run` for the handler's thread, when a worker slot is free (see above): the same work, but
  // nullopt, with the response untouched, where it would have to wait for a lock; the call is
  // then queued. Empty = always queued. For short runs only: it holds a gRPC thread meanwhile.
  std::function<std::optional<grpc::Status>()> run_in_handler;
};

// Runs a handler body, turning an exception that escaped the engine (FAISS throws, allocation
// fails) into INTERNAL, logged, instead of letting it take the server down.
grpc::Status LoggedInternalError(const char* method, const std::exception& e);
template <typename Fn>
auto Guarded(const char* method, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const std::exception& e) {
    return LoggedInternalError(method, e);
  }
}

// Finishes a call at once, on gRPC's default reactor (whose reactions gRPC runs inline), and
// returns that reactor for the handler to return.
grpc::ServerUnaryReactor* FinishNow(grpc::CallbackServerContext* context,
                                    const grpc::Status& status);

class ServingCall final : public grpc::ServerUnaryReactor {
 public:
  // Admits, parks or queues the call and returns its reactor; a refused call is finished
  // already. Called in the method handler, which returns the reactor to gRPC.
  static grpc::ServerUnaryReactor* Start(grpc::CallbackServerContext* context,
                                         const ServingPath& path, ServingPlan plan);

  void OnCancel() override;
  void OnDone() override;

 private:
  ServingCall(const ServingPath& path, ServingPlan plan) : path_(path), plan_(std::move(plan)) {}

  void Park();
  void Enqueue(bool bounded);
  void Wake(LsnWaiters::Outcome outcome);
  void Execute();
  // Runs plan.run_in_handler; nullopt when it would have waited.
  static std::optional<grpc::Status> RunInHandler(const ServingPlan& plan, Admission& admission);
  void FinishOnce(const grpc::Status& status);

  const ServingPath path_;
  ServingPlan plan_;
  bool bytes_held_ = false;

  std::chrono::steady_clock::time_point parked_at_;  // set before the call can be woken
  std::mutex mu_;
  bool cancelled_ = false;                        // guarded by mu_
  std::optional<LsnWaiters::Ticket> ticket_;      // guarded by mu_
  std::atomic<bool> finished_{false};
};

}  // namespace vecmirror
