// RebuildMetrics: index rebuilds as they end, fed from IndexOptions::on_rebuild_progress:
//
//   vecmirror_index_rebuilds_total{kind,outcome}          outcome: completed or cancelled
//   vecmirror_index_rebuild_duration_seconds{kind}        histogram of completed rebuilds
//
// (A rebuild in progress shows as vecmirror_index_rebuilding in state_metrics.h.)
//
// Thread-safety: Record may be called from any thread.
#pragma once

#include "index/entity_index.h"
#include "src/metrics/metric_registry.h"

namespace vecmirror::metrics {

class RebuildMetrics {
 public:
  // Adds the families to `registry`, which must outlive this object.
  explicit RebuildMetrics(MetricRegistry& registry);

  // Counts `progress` if it is a rebuild's last report (finished); ignores the others.
  void Record(const RebuildProgress& progress);

 private:
  Family<Counter>& rebuilds_;
  Family<Histogram>& durations_;
};

}  // namespace vecmirror::metrics
