// Counter, Gauge and Histogram: the three kinds of live metric the process updates as things
// happen (values known only at scrape time are written by collectors instead; see
// metric_registry.h).
//
// Thread-safety: every method is safe for concurrent use; updates are lock-free atomics. A
// histogram read while observations land may miss the newest ones, never tear one.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

namespace vecmirror::metrics {

// A value that only goes up (until the process restarts).
class Counter {
 public:
  // `amount` must not be negative.
  void Increment(double amount = 1) { value_.fetch_add(amount, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// A value that goes up and down.
class Gauge {
 public:
  void Set(double value) { value_.store(value, std::memory_order_relaxed); }
  void Add(double amount) { value_.fetch_add(amount, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Observations counted in buckets by upper bound (inclusive, as Prometheus' `le`), with their
// sum.
class Histogram {
 public:
  // `upper_bounds` ascending; +Inf is implicit and must not be listed.
  explicit Histogram(std::vector<double> upper_bounds);

  void Observe(double value);

  struct Counts {
    std::vector<uint64_t> per_bucket;  // bounds().size() + 1 entries, not cumulative
    double sum = 0;
    uint64_t count() const;
  };
  Counts Read() const;
  const std::vector<double>& bounds() const { return bounds_; }

 private:
  const std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // bounds_.size() + 1
  std::atomic<double> sum_{0};
};

// Bucket bounds for request latencies, in seconds: 100 µs to 30 s (a min_lsn wait may last as
// long as the call's deadline).
std::vector<double> LatencyBuckets();
// Bucket bounds for index rebuilds, in seconds: 10 ms to 30 min.
std::vector<double> RebuildBuckets();

}  // namespace vecmirror::metrics
