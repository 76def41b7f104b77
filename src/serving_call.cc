#include "src/serving_call.h"

#include <exception>
#include <string>
#include <utility>

#include <spdlog/spdlog.h>

#include "base/lsn.h"

namespace vecmirror {
namespace {

grpc::Status Exhausted(const Status& status) {
  return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, status.message());
}

grpc::Status CancelledBeforeRun() {
  return grpc::Status(grpc::StatusCode::CANCELLED, "the call was cancelled before it ran");
}

}  // namespace

grpc::Status LoggedInternalError(const char* method, const std::exception& e) {
  spdlog::error("{}: internal error: {}", method, e.what());
  return grpc::Status(grpc::StatusCode::INTERNAL, std::string(method) + ": " + e.what());
}

grpc::ServerUnaryReactor* FinishNow(grpc::CallbackServerContext* context,
                                    const grpc::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(status);
  return reactor;
}

grpc::ServerUnaryReactor* ServingCall::Start(grpc::CallbackServerContext* context,
                                             const ServingPath& path, ServingPlan plan) {
  if (Status s = path.admission->ReserveRequestBytes(plan.request_bytes); !s.ok()) {
    return FinishNow(context, Exhausted(s));
  }
  if (plan.wait_lsn == 0 && plan.run_in_handler && path.pool->TryClaimSlot()) {
    std::optional<grpc::Status> status = RunInHandler(plan, *path.admission);
    path.pool->ReleaseSlot();
    if (status) {
      path.admission->ReleaseRequestBytes(plan.request_bytes);
      return FinishNow(context, *status);
    }
  }
  // gRPC calls OnDone only after the handler has returned this reactor, so `call` stays valid
  // through the rest of Start even when another thread finishes it meanwhile.
  auto* call = new ServingCall(path, std::move(plan));
  call->bytes_held_ = true;
  if (call->plan_.wait_lsn > 0) {
    call->Park();
  } else {
    call->Enqueue(/*bounded=*/true);
  }
  return call;
}

void ServingCall::Park() {
  if (Status s = path_.admission->ReserveWaiter(); !s.ok()) {
    FinishOnce(Exhausted(s));
    return;
  }
  parked_at_ = std::chrono::steady_clock::now();
  std::optional<LsnWaiters::Ticket> ticket = path_.waiters->Park(
      plan_.wait_lsn, plan_.wait_deadline, [this](LsnWaiters::Outcome outcome) { Wake(outcome); });
  if (!ticket) {  // applied between the handler's look and the park
    path_.admission->ReleaseWaiter();
    Enqueue(/*bounded=*/true);
    return;
  }
  bool cancel_now = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ticket_ = ticket;
    cancel_now = cancelled_;  // OnCancel came before the ticket existed
  }
  if (cancel_now) path_.waiters->Cancel(*ticket);
}

void ServingCall::Enqueue(bool bounded) {
  auto task = [this] { Execute(); };
  if (!bounded) {
    path_.pool->Submit(std::move(task));
    return;
  }
  if (!path_.pool->TrySubmit(std::move(task))) FinishOnce(Exhausted(path_.queue_full()));
}

void ServingCall::Wake(LsnWaiters::Outcome outcome) {
  path_.admission->ReleaseWaiter();
  const std::chrono::duration<double> waited = std::chrono::steady_clock::now() - parked_at_;
  if (waited.count() > 1.0) {
    spdlog::warn("a call waited {:.1f} s for LSN {} to be applied: {}", waited.count(),
                 FormatLsn(plan_.wait_lsn),
                 outcome == LsnWaiters::Outcome::kReached    ? "applied"
                 : outcome == LsnWaiters::Outcome::kDeadline ? "deadline reached"
                                                             : "cancelled");
  }
  switch (outcome) {
    case LsnWaiters::Outcome::kReached:
      Enqueue(/*bounded=*/false);
      return;
    case LsnWaiters::Outcome::kDeadline:
      if (plan_.on_wait_deadline) {
        FinishOnce(plan_.on_wait_deadline());
      } else {
        Enqueue(/*bounded=*/false);
      }
      return;
    case LsnWaiters::Outcome::kCancelled:
      path_.admission->CountCancelledBeforeRun();
      FinishOnce(CancelledBeforeRun());
      return;
  }
}

void ServingCall::Execute() {
  bool cancelled = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    cancelled = cancelled_;
  }
  if (cancelled) {
    path_.admission->CountCancelledBeforeRun();
    FinishOnce(CancelledBeforeRun());
    return;
  }
  FinishOnce(Guarded(plan_.method, plan_.run));
}

std::optional<grpc::Status> ServingCall::RunInHandler(const ServingPlan& plan,
                                                      Admission& admission) {
  const std::optional<grpc::Status> status = Guarded(plan.method, plan.run_in_handler);
  if (status) {
    admission.CountRunInHandler();
  } else {
    admission.CountHandlerFoundIndexLocked();
  }
  return status;
}

void ServingCall::OnCancel() {
  std::optional<LsnWaiters::Ticket> ticket;
  {
    std::lock_guard<std::mutex> lock(mu_);
    cancelled_ = true;
    ticket = ticket_;
  }
  // Still parked: finished now, through the waiter's callback. Already woken: no-op.
  if (ticket) path_.waiters->Cancel(*ticket);
}

void ServingCall::OnDone() { delete this; }

// The last thing any path does with `this`: gRPC may call OnDone (which deletes it) as soon as
// Finish is called. The request bytes are released before the client can see the answer, so
// a client that sends its next request on the answer finds them free.
void ServingCall::FinishOnce(const grpc::Status& status) {
  if (finished_.exchange(true)) return;
  if (bytes_held_) path_.admission->ReleaseRequestBytes(plan_.request_bytes);
  Finish(status);
}

}  // namespace vecmirror
