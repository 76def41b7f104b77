#include "src/metrics/metric.h"

#include <algorithm>

namespace vecmirror::metrics {

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)),
      counts_(std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1)) {}

void Histogram::Observe(double value) {
  // The first bound >= value; past the end is the +Inf bucket.
  const size_t bucket =
      std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
  counts_[bucket].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

Histogram::Counts Histogram::Read() const {
  Counts counts;
  counts.per_bucket.resize(bounds_.size() + 1);
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    counts.per_bucket[i] = counts_[i].load(std::memory_order_relaxed);
  }
  counts.sum = sum_.load(std::memory_order_relaxed);
  return counts;
}

uint64_t Histogram::Counts::count() const {
  uint64_t total = 0;
  for (uint64_t n : per_bucket) total += n;
  return total;
}

std::vector<double> LatencyBuckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
          0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,     10,    30};
}

std::vector<double> RebuildBuckets() {
  return {0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 120, 300, 600, 1800};
}

}  // namespace vecmirror::metrics
