// The mirror's and the indexes' state as Prometheus families, written at scrape time from what
// GetMirrorStatus and ListIndexes read (the MirrorStatusBoard and the Registry's index stats),
// so the two views never disagree.
//
// Mirror (vecmirror_mirror_*): loaded, state{state}, applied/confirmed/server LSN (a WAL position
// in bytes), lag in bytes and seconds, the time of the last applied commit, transactions,
// changes, reconnects and initial loads applied (counters), bad rows by reason (counter).
// Indexes: per index (labels tenant, model, dimension) live/dead/tail rows, memory, covered LSN,
// rebuilding and kind; and the same summed by kind (vecmirror_indexes_*), which stays small
// however many tenants there are.
//
// Thread-safety: pure functions of their arguments.
#pragma once

#include <chrono>
#include <span>

#include "index/registry.h"
#include "src/metrics/text_format.h"
#include "src/mirror_status.h"

namespace vecmirror::metrics {

// The mirror's families, as of `now` (the lag grows while the mirror is behind).
void WriteMirrorMetrics(const MirrorState& state, std::chrono::system_clock::time_point now,
                        TextWriter& out);

// The index families. `per_index` false leaves out the per-index series (one set of series per
// tenant and model) and keeps the sums by kind.
void WriteIndexMetrics(std::span<const IndexInfo> indexes, bool per_index, TextWriter& out);

}  // namespace vecmirror::metrics
