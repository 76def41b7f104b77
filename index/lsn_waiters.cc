#include "index/lsn_waiters.h"

namespace vecmirror {

LsnWaiters::~LsnWaiters() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  timer_cv_.notify_all();
  if (timer_.joinable()) timer_.join();
  Fired fired;
  {
    std::lock_guard<std::mutex> lock(mu_);
    while (!waiters_.empty()) TakeLocked(waiters_.begin(), Outcome::kCancelled, &fired);
  }
  Run(fired);
}

std::optional<LsnWaiters::Ticket> LsnWaiters::Park(uint64_t lsn, Clock::time_point deadline,
                                                   Callback done) {
  std::lock_guard<std::mutex> lock(mu_);
  if (lsn <= applied_) return std::nullopt;
  const Ticket ticket = next_ticket_++;
  waiters_.emplace(ticket, Waiter{lsn, deadline, std::move(done)});
  by_lsn_.emplace(lsn, ticket);
  const bool earliest = by_deadline_.empty() || deadline < by_deadline_.begin()->first;
  by_deadline_.emplace(deadline, ticket);
  if (!timer_.joinable() && !stopping_) timer_ = std::thread([this] { TimerLoop(); });
  if (earliest) timer_cv_.notify_one();
  return ticket;
}

void LsnWaiters::Cancel(Ticket ticket) {
  Fired fired;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = waiters_.find(ticket);
    if (it == waiters_.end()) return;
    TakeLocked(it, Outcome::kCancelled, &fired);
  }
  Run(fired);
}

void LsnWaiters::SetApplied(uint64_t lsn) {
  Fired fired;
  {
    std::lock_guard<std::mutex> lock(mu_);
    applied_ = lsn;
    while (!by_lsn_.empty() && by_lsn_.begin()->first <= lsn) {
      TakeLocked(waiters_.find(by_lsn_.begin()->second), Outcome::kReached, &fired);
    }
  }
  Run(fired);
}

size_t LsnWaiters::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return waiters_.size();
}

void LsnWaiters::TakeLocked(std::map<Ticket, Waiter>::iterator it, Outcome outcome,
                            Fired* fired) {
  Waiter& waiter = it->second;
  by_lsn_.erase({waiter.lsn, it->first});
  by_deadline_.erase({waiter.deadline, it->first});
  fired->emplace_back(std::move(waiter.done), outcome);
  waiters_.erase(it);
}

void LsnWaiters::TimerLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    if (by_deadline_.empty()) {
      timer_cv_.wait(lock);
      continue;
    }
    const Clock::time_point next = by_deadline_.begin()->first;
    if (Clock::now() < next) {
      timer_cv_.wait_until(lock, next);
      continue;
    }
    Fired fired;
    const Clock::time_point now = Clock::now();
    while (!by_deadline_.empty() && by_deadline_.begin()->first <= now) {
      TakeLocked(waiters_.find(by_deadline_.begin()->second), Outcome::kDeadline, &fired);
    }
    lock.unlock();
    Run(fired);
    lock.lock();
  }
}

void LsnWaiters::Run(Fired& fired) {
  for (auto& [done, outcome] : fired) done(outcome);
}

}  // namespace vecmirror
