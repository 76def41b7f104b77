// ParallelBuild: rebuilds several indexes at once, up to `jobs` at a time and within a memory
// bound. A build starts only when the loaded indexes plus the estimated bytes of the builds
// running, its own included, stay within max_bytes; the largest builds go first. Each build
// runs on a thread of its own with cores / jobs OpenMP threads, so all cores are busy whether
// there is one large index or many small ones.
//
// Thread-safety: RunBuilds blocks its caller; `on_event` is called from the build threads,
// one call at a time.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "index/entity_index.h"
#include "tools/rebuild/build_plan.h"

namespace vecmirror::rebuild {

struct BuildLimits {
  size_t jobs = 1;         // builds at once; at least 1
  uint64_t max_bytes = 0;  // bound on loaded + building bytes; 0 = none
};

struct BuildOutcome {
  Status status;
  double seconds = 0;
  bool started = false;
  bool finished = false;
};

// InvalidArgument (building nothing) when one build alone would pass limits.max_bytes.
Status CheckFits(const std::vector<PlannedBuild>& plan, const BuildLimits& limits);

// Builds each selected plan[i] into indexes[i] (EntityIndex::Rebuild with `pin`: the plan's
// kind when --kind was given, else the size policy). `outcomes` gets one entry per plan entry.
// `on_event(i)` is called when build i starts and when it ends. The first failure is returned;
// the other builds still run.
Status RunBuilds(const std::vector<PlannedBuild>& plan, const std::vector<EntityIndex*>& indexes,
                 std::optional<IndexKind> pin, const BuildLimits& limits,
                 std::vector<BuildOutcome>* outcomes,
                 const std::function<void(size_t, const BuildOutcome&)>& on_event);

}  // namespace vecmirror::rebuild
