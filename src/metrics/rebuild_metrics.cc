#include "src/metrics/rebuild_metrics.h"

namespace vecmirror::metrics {

RebuildMetrics::RebuildMetrics(MetricRegistry& registry)
    : rebuilds_(registry.AddCounter(
          "vecmirror_index_rebuilds_total",
          "Index rebuilds (promotions, compactions, graph extensions, RebuildIndex calls) that "
          "ended, by the kind built and outcome (completed or cancelled).",
          {"kind", "outcome"})),
      durations_(registry.AddHistogram("vecmirror_index_rebuild_duration_seconds",
                                       "Duration of completed index rebuilds, by kind.",
                                       {"kind"}, RebuildBuckets())) {}

void RebuildMetrics::Record(const RebuildProgress& progress) {
  if (!progress.finished) return;
  const char* kind = IndexKindName(progress.kind);
  rebuilds_.With({kind, progress.cancelled ? "cancelled" : "completed"}).Increment();
  if (!progress.cancelled) durations_.With({kind}).Observe(progress.seconds);
}

}  // namespace vecmirror::metrics
