// WorkerPool: a fixed set of threads running tasks from one FIFO queue, with a bound on how
// many tasks may wait. The server runs every search on one (sized to the cores, so searches use
// the CPU without oversubscribing it) and refuses new work when the queue is at its bound,
// instead of starting more threads.
//
// Thread-safety: every method is safe for concurrent use. Tasks run on the pool's threads;
// a task may submit further tasks.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace vecmirror {

// `threads` when positive, else one per hardware thread (at least 1).
int ResolveWorkerThreads(int threads);

class WorkerPool {
 public:
  using Task = std::function<void()>;

  // Starts ResolveWorkerThreads(threads) threads named `name` (at most 15 characters show).
  WorkerPool(int threads, size_t max_queued, std::string name);
  // Runs every task still queued, then joins the threads.
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Queues `task` unless max_queued tasks already wait. False (and `task` dropped unrun) when
  // the queue is full.
  bool TrySubmit(Task task);
  // Queues `task` past the bound: for work admitted earlier that must not be refused now (a
  // call parked for its LSN that has become ready).
  void Submit(Task task);

  size_t queued() const;   // tasks waiting for a thread
  size_t running() const;  // tasks being run
  int threads() const { return static_cast<int>(threads_.size()); }
  size_t max_queued() const { return max_queued_; }

 private:
  void Loop();

  const size_t max_queued_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Task> queue_;
  size_t running_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace vecmirror
