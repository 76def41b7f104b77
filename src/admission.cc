#include "src/admission.h"

#include <string>

namespace vecmirror {

Status Admission::ReserveRequestBytes(size_t bytes) {
  const size_t max = limits_.max_inflight_request_bytes;
  if (bytes > max) {
    refused_request_bytes_.fetch_add(1, std::memory_order_relaxed);
    return Status::ResourceExhausted(
        "request is " + std::to_string(bytes) + " bytes, more than the server's in-flight "
        "request budget of " + std::to_string(max) + " bytes (--max-inflight-request-bytes)");
  }
  size_t held = inflight_bytes_.load(std::memory_order_relaxed);
  do {
    if (held + bytes > max) {
      refused_request_bytes_.fetch_add(1, std::memory_order_relaxed);
      return Status::ResourceExhausted(
          "in-flight requests hold " + std::to_string(held) + " of the server's " +
          std::to_string(max) + "-byte request budget (--max-inflight-request-bytes); this "
          "request of " + std::to_string(bytes) + " bytes does not fit; retry later");
    }
  } while (!inflight_bytes_.compare_exchange_weak(held, held + bytes, std::memory_order_relaxed));
  return Status::Ok();
}

void Admission::ReleaseRequestBytes(size_t bytes) {
  inflight_bytes_.fetch_sub(bytes, std::memory_order_relaxed);
}

Status Admission::ReserveWaiter() {
  size_t waiting = waiting_.load(std::memory_order_relaxed);
  do {
    if (waiting >= limits_.max_waiting) {
      refused_waiting_full_.fetch_add(1, std::memory_order_relaxed);
      return Status::ResourceExhausted(
          std::to_string(waiting) + " searches already wait for their min_lsn, the server's "
          "bound (--max-waiting-searches " + std::to_string(limits_.max_waiting) +
          "); retry later");
    }
  } while (!waiting_.compare_exchange_weak(waiting, waiting + 1, std::memory_order_relaxed));
  return Status::Ok();
}

void Admission::ReleaseWaiter() { waiting_.fetch_sub(1, std::memory_order_relaxed); }

Status Admission::QueueFull() {
  refused_queue_full_.fetch_add(1, std::memory_order_relaxed);
  return Status::ResourceExhausted(
      "search queue is full: " + std::to_string(limits_.max_queued) +
      " searches already wait for a worker, the server's bound (--max-queued-searches " +
      std::to_string(limits_.max_queued) + "); retry later");
}

AdmissionCounters Admission::Counters() const {
  AdmissionCounters c;
  c.inflight_request_bytes = inflight_bytes_.load(std::memory_order_relaxed);
  c.waiting = waiting_.load(std::memory_order_relaxed);
  c.refused_queue_full = refused_queue_full_.load(std::memory_order_relaxed);
  c.refused_waiting_full = refused_waiting_full_.load(std::memory_order_relaxed);
  c.refused_request_bytes = refused_request_bytes_.load(std::memory_order_relaxed);
  c.cancelled_before_run = cancelled_before_run_.load(std::memory_order_relaxed);
  c.run_in_handler = run_in_handler_.load(std::memory_order_relaxed);
  c.handler_found_locked = handler_found_locked_.load(std::memory_order_relaxed);
  return c;
}

}  // namespace vecmirror
