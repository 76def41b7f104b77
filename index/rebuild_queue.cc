#include "index/rebuild_queue.h"

#include <algorithm>

namespace vecmirror {

const char* RebuildStateName(RebuildState state) {
  switch (state) {
    case RebuildState::kQueued: return "queued";
    case RebuildState::kRunning: return "running";
    case RebuildState::kCancelling: return "cancelling";
    case RebuildState::kDone: return "done";
    case RebuildState::kFailed: return "failed";
    case RebuildState::kCancelled: return "cancelled";
  }
  return "unknown";
}

RebuildQueue::RebuildQueue(Runner runner) : runner_(std::move(runner)) {}

RebuildQueue::~RebuildQueue() { Stop(); }

Status RebuildQueue::Start(const std::vector<IndexKey>& keys, std::optional<IndexKind> kind,
                           std::vector<RebuildJob>* jobs, size_t* joined) {
  jobs->clear();
  *joined = 0;
  std::lock_guard<std::mutex> lock(mu_);
  if (stopped_) return Status::Unavailable("the server is shutting down");
  for (const IndexKey& key : keys) {
    auto it = jobs_.find(key);
    if (it == jobs_.end() || !vecmirror::IsActive(it->second.state)) continue;
    const RebuildJob& active = it->second;
    if (active.requested_kind != kind || active.state == RebuildState::kCancelling) {
      const auto name = [](std::optional<IndexKind> k) {
        return std::string(k ? IndexKindName(*k) : "the size policy's kind");
      };
      return Status::AlreadyExists(
          "index " + key.ToString() + " is being rebuilt already (job " +
          std::to_string(active.id) + ", " + RebuildStateName(active.state) + ", as " +
          name(active.requested_kind) + "); cancel it or wait for it to end before asking for " +
          name(kind));
    }
  }
  const auto now = std::chrono::system_clock::now();
  for (const IndexKey& key : keys) {
    RebuildJob& job = jobs_[key];
    if (vecmirror::IsActive(job.state) && job.id != 0) {
      ++*joined;
    } else {
      job = RebuildJob{};
      job.id = next_id_++;
      job.requested_kind = kind;
      job.queued_at = now;
      queue_.push_back(key);
    }
    jobs->push_back(Snapshot(job));
  }
  if (!thread_.joinable()) {
    thread_ = std::thread([this] { Loop(); });
    thread_id_ = thread_.get_id();
  }
  work_cv_.notify_one();
  return Status::Ok();
}

std::vector<std::pair<IndexKey, RebuildJob>> RebuildQueue::Cancel(
    const std::vector<IndexKey>& keys) {
  std::vector<std::pair<IndexKey, RebuildJob>> cancelled;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const IndexKey& key : keys) {
      auto it = jobs_.find(key);
      if (it == jobs_.end() || !vecmirror::IsActive(it->second.state)) continue;
      RebuildJob& job = it->second;
      if (running_ == key) {
        cancel_running_ = true;
        job.state = RebuildState::kCancelling;
      } else {
        queue_.erase(std::remove(queue_.begin(), queue_.end(), key), queue_.end());
        job.state = RebuildState::kCancelled;
      }
      cancelled.emplace_back(key, Snapshot(job));
    }
  }
  idle_cv_.notify_all();
  return cancelled;
}

std::optional<RebuildJob> RebuildQueue::Find(const IndexKey& key) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = jobs_.find(key);
  if (it == jobs_.end()) return std::nullopt;
  return Snapshot(it->second);
}

bool RebuildQueue::IsActive(const IndexKey& key) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = jobs_.find(key);
  return it != jobs_.end() && vecmirror::IsActive(it->second.state);
}

bool RebuildQueue::WaitIdle(std::chrono::steady_clock::time_point deadline) const {
  std::unique_lock<std::mutex> lock(mu_);
  return idle_cv_.wait_until(lock, deadline, [this] {
    return std::none_of(jobs_.begin(), jobs_.end(),
                        [](const auto& entry) { return vecmirror::IsActive(entry.second.state); });
  });
}

void RebuildQueue::Report(const IndexKey& key, const RebuildProgress& progress) {
  std::lock_guard<std::mutex> lock(mu_);
  if (std::this_thread::get_id() != thread_id_ || running_ != key) return;
  RebuildJob& job = jobs_[key];
  if (job.state == RebuildState::kQueued) {
    job.state = RebuildState::kRunning;
    job.started_at = std::chrono::system_clock::now();
    running_since_ = std::chrono::steady_clock::now();
  }
  job.building = progress.kind;
  job.rows_done = progress.rows_done;
  job.rows_total = progress.rows_total;
}

RebuildJob RebuildQueue::Snapshot(const RebuildJob& job) const {
  RebuildJob copy = job;
  if (job.state == RebuildState::kRunning || job.state == RebuildState::kCancelling) {
    copy.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - running_since_).count();
  }
  return copy;
}

void RebuildQueue::Stop() {
  std::thread thread;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopped_ = true;
    cancel_running_ = true;
    for (const IndexKey& key : queue_) jobs_[key].state = RebuildState::kCancelled;
    queue_.clear();
    thread.swap(thread_);
  }
  work_cv_.notify_all();
  idle_cv_.notify_all();
  if (thread.joinable()) thread.join();
}

void RebuildQueue::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    work_cv_.wait(lock, [this] { return stopped_ || !queue_.empty(); });
    if (stopped_) return;
    const IndexKey key = queue_.front();
    queue_.pop_front();
    const std::optional<IndexKind> kind = jobs_[key].requested_kind;
    running_ = key;
    cancel_running_ = false;
    lock.unlock();

    Status status;
    try {
      status = runner_(key, kind, cancel_running_);
    } catch (const std::exception& e) {
      status = Status::Internal(std::string("rebuild failed: ") + e.what());
    }

    lock.lock();
    RebuildJob& job = jobs_[key];
    const bool started = job.state != RebuildState::kQueued;
    job.seconds = started ? std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                                          running_since_)
                                .count()
                          : 0;
    if (status.ok()) {
      job.state = RebuildState::kDone;
      job.rows_done = job.rows_total;
    } else if (cancel_running_) {
      job.state = RebuildState::kCancelled;
    } else {
      job.state = RebuildState::kFailed;
      job.error = status.message();
    }
    running_.reset();
    idle_cv_.notify_all();
  }
}

}  // namespace vecmirror
