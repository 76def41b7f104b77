// WorkerPool: a fixed set of threads running tasks from one FIFO queue, with a bound on how
// many tasks may wait. The server runs every search on one (sized to the cores, so searches use
// the CPU without oversubscribing it) and refuses new work when the queue is at its bound,
// instead of starting more threads.
//
// Run slots: at most threads() tasks run at once, counted in running(). A caller may also
// claim a slot to run a task in its own thread (TryClaimSlot) when one is free and nothing is
// queued, which saves two thread hand-offs (to a pool thread and back); while it holds the
// slot, the pool's threads run one task fewer, so the bound on tasks running at once holds,
// and nothing queued is overtaken. At most `max_claimed` slots are held by callers at once.
//
// Thread-safety: every method is safe for concurrent use. Tasks run on the pool's threads (or a
// claiming caller's); a task may submit further tasks.
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
  // `max_claimed`: slots callers may hold at once through TryClaimSlot (at most the thread
  // count); 0 = never, negative = every slot.
  WorkerPool(int threads, size_t max_queued, std::string name, int max_claimed = 0);
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

  // Claims a run slot for the caller to run one task in its own thread: true when fewer than
  // threads() tasks run, no task is queued and fewer than max_claimed slots are claimed. The
  // caller then runs its task and calls ReleaseSlot exactly once.
  bool TryClaimSlot();
  void ReleaseSlot();

  size_t queued() const;   // tasks waiting for a thread
  size_t running() const;  // tasks being run, on the pool's threads or in claimed slots
  size_t claimed() const;  // slots held by callers now (part of running())
  int threads() const { return static_cast<int>(threads_.size()); }
  size_t max_queued() const { return max_queued_; }

 private:
  void Loop();

  const size_t max_queued_;
  size_t slots_ = 0;        // the thread count: tasks that may run at once
  size_t max_claimed_ = 0;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Task> queue_;
  size_t running_ = 0;  // both kinds
  size_t claimed_ = 0;  // slots held by callers
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace vecmirror
