#include "src/worker_pool.h"

#include <pthread.h>

#include <algorithm>
#include <utility>

namespace vecmirror {

int ResolveWorkerThreads(int threads) {
  if (threads > 0) return threads;
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

WorkerPool::WorkerPool(int threads, size_t max_queued, std::string name, int max_claimed)
    : max_queued_(max_queued) {
  const int n = ResolveWorkerThreads(threads);
  slots_ = static_cast<size_t>(n);
  max_claimed_ = max_claimed < 0 ? slots_ : static_cast<size_t>(std::min(max_claimed, n));
  threads_.reserve(n);
  for (int i = 0; i < n; ++i) {
    threads_.emplace_back([this] { Loop(); });
    pthread_setname_np(threads_.back().native_handle(), name.substr(0, 15).c_str());
  }
}

WorkerPool::~WorkerPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (std::thread& t : threads_) t.join();
}

bool WorkerPool::TrySubmit(Task task) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (queue_.size() >= max_queued_) return false;
    queue_.push_back(std::move(task));
  }
  cv_.notify_one();
  return true;
}

void WorkerPool::Submit(Task task) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(std::move(task));
  }
  cv_.notify_one();
}

bool WorkerPool::TryClaimSlot() {
  std::lock_guard<std::mutex> lock(mu_);
  if (claimed_ >= max_claimed_ || running_ >= slots_ || !queue_.empty()) return false;
  ++claimed_;
  ++running_;
  return true;
}

void WorkerPool::ReleaseSlot() {
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    --claimed_;
    --running_;
    wake = !queue_.empty();  // a task queued while every slot was taken can run now
  }
  if (wake) cv_.notify_one();
}

size_t WorkerPool::queued() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size();
}

size_t WorkerPool::running() const {
  std::lock_guard<std::mutex> lock(mu_);
  return running_;
}

size_t WorkerPool::claimed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return claimed_;
}

void WorkerPool::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    // A queued task runs once a slot is free: a caller's claimed slot counts like a thread's.
    cv_.wait(lock, [this] {
      return queue_.empty() ? stopping_ : running_ < slots_;
    });
    if (queue_.empty()) return;  // stopping, and nothing left to run
    Task task = std::move(queue_.front());
    queue_.pop_front();
    ++running_;
    lock.unlock();
    task();
    task = nullptr;  // whatever it captured is released outside the lock
    lock.lock();
    --running_;
  }
}

}  // namespace vecmirror
