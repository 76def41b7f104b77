#include "tools/rebuild/parallel_build.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace vecmirror::rebuild {

Status CheckFits(const std::vector<PlannedBuild>& plan, const BuildLimits& limits) {
  if (limits.max_bytes == 0) return Status::Ok();
  const uint64_t loaded = LoadedBytes(plan);
  for (const PlannedBuild& p : plan) {
    if (p.selected && loaded + p.build_bytes > limits.max_bytes) {
      return Status::InvalidArgument(
          "building " + p.key.ToString() + " needs " + std::to_string(p.build_bytes) +
          " bytes on top of the " + std::to_string(loaded) + " bytes of the loaded indexes, over " +
          "--max-memory-bytes " + std::to_string(limits.max_bytes));
    }
  }
  return Status::Ok();
}

Status RunBuilds(const std::vector<PlannedBuild>& plan, const std::vector<EntityIndex*>& indexes,
                 std::optional<IndexKind> pin, const BuildLimits& limits,
                 std::vector<BuildOutcome>* outcomes,
                 const std::function<void(size_t, const BuildOutcome&)>& on_event) {
  if (Status s = CheckFits(plan, limits); !s.ok()) return s;
  outcomes->assign(plan.size(), BuildOutcome());
  std::vector<size_t> queue;  // largest build first
  for (size_t i = 0; i < plan.size(); ++i) {
    if (plan[i].selected) queue.push_back(i);
  }
  std::stable_sort(queue.begin(), queue.end(),
                   [&](size_t a, size_t b) { return plan[a].build_bytes > plan[b].build_bytes; });
  const uint64_t loaded = LoadedBytes(plan);
  const size_t jobs = std::max<size_t>(1, std::min(limits.jobs, std::max<size_t>(queue.size(), 1)));
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const int threads_per_build = std::max(1, cores / static_cast<int>(jobs));

  std::mutex mu;
  std::condition_variable cv;
  uint64_t running_bytes = 0;  // guarded by mu
  Status first_error;          // guarded by mu
  std::mutex event_mu;         // one on_event at a time
  auto report = [&](size_t i) {
    std::lock_guard lock(event_mu);
    if (on_event) on_event(i, (*outcomes)[i]);
  };

  auto worker = [&] {
    omp_set_num_threads(threads_per_build);
    while (true) {
      size_t task = 0;
      {
        std::unique_lock lock(mu);
        bool found = false;
        cv.wait(lock, [&] {
          if (queue.empty()) return true;
          for (size_t q = 0; q < queue.size(); ++q) {
            const uint64_t bytes = plan[queue[q]].build_bytes;
            if (limits.max_bytes == 0 || loaded + running_bytes + bytes <= limits.max_bytes ||
                running_bytes == 0) {
              task = queue[q];
              queue.erase(queue.begin() + static_cast<std::ptrdiff_t>(q));
              found = true;
              return true;
            }
          }
          return false;
        });
        if (!found) return;
        running_bytes += plan[task].build_bytes;
      }
      BuildOutcome& outcome = (*outcomes)[task];
      outcome.started = true;
      report(task);
      const auto started = std::chrono::steady_clock::now();
      outcome.status = indexes[task]->Rebuild(pin);
      outcome.seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      outcome.finished = true;
      report(task);
      {
        std::lock_guard lock(mu);
        running_bytes -= plan[task].build_bytes;
        if (!outcome.status.ok() && first_error.ok()) {
          first_error = Status::Internal(plan[task].key.ToString() + ": " +
                                         outcome.status.message());
        }
      }
      cv.notify_all();
    }
  };
  std::vector<std::thread> threads;
  for (size_t j = 0; j < jobs; ++j) threads.emplace_back(worker);
  for (std::thread& t : threads) t.join();
  return first_error;
}

}  // namespace vecmirror::rebuild
