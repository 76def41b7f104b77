// MetricRegistry: the process's metrics, rendered as one Prometheus text exposition.
//
// Two kinds of content:
//  - families of live metrics (Family<Counter|Gauge|Histogram>), one series per combination of
//    label values, updated where things happen (a call finished, a rebuild ended);
//  - collectors, functions that write families whose values already live elsewhere (the
//    mirror's status board, the indexes' stats, /proc) at scrape time, so nothing is copied
//    or kept twice.
//
//   MetricRegistry registry;
//   auto& calls = registry.AddCounter("vecmirror_x_total", "Calls.", {"method"});
//   calls.With({"Search"}).Increment();
//   registry.AddCollector([](TextWriter& w) { w.Family(...); w.Sample(...); });
//   std::string text = registry.Render();
//
// Thread-safety: every method is safe for concurrent use. References returned by Add* and
// With stay valid for the registry's lifetime. Collectors run in the rendering thread and must
// be safe to call from it.
#pragma once

#include <cassert>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "src/metrics/metric.h"
#include "src/metrics/text_format.h"

namespace vecmirror::metrics {

// The series of one metric name, by label values.
template <typename Metric>
class Family {
 public:
  Family(std::string name, std::string help, std::vector<std::string> label_names,
         std::function<std::unique_ptr<Metric>()> make)
      : name_(std::move(name)),
        help_(std::move(help)),
        label_names_(std::move(label_names)),
        make_(std::move(make)) {}

  // The series with these label values, one per label name and in the same order; created
  // (at zero) on first use.
  Metric& With(const std::vector<std::string>& label_values) {
    assert(label_values.size() == label_names_.size());
    std::lock_guard lock(mu_);
    auto [it, inserted] = series_.try_emplace(label_values);
    if (inserted) it->second = make_();
    return *it->second;
  }

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }

  // Calls fn(labels, metric) for every series, in label-value order.
  template <typename Fn>
  void ForEach(Fn fn) const {
    std::lock_guard lock(mu_);
    for (const auto& [values, metric] : series_) {
      Labels labels;
      for (size_t i = 0; i < label_names_.size(); ++i) {
        labels.emplace_back(label_names_[i], values[i]);
      }
      fn(labels, *metric);
    }
  }

 private:
  const std::string name_;
  const std::string help_;
  const std::vector<std::string> label_names_;
  const std::function<std::unique_ptr<Metric>()> make_;
  mutable std::mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<Metric>> series_;
};

class MetricRegistry {
 public:
  // Names follow Prometheus' conventions: a unit suffix (_seconds, _bytes), _total for counters.
  Family<Counter>& AddCounter(std::string name, std::string help,
                              std::vector<std::string> label_names = {});
  Family<Gauge>& AddGauge(std::string name, std::string help,
                          std::vector<std::string> label_names = {});
  // `bounds`: ascending upper bounds, +Inf implied.
  Family<Histogram>& AddHistogram(std::string name, std::string help,
                                  std::vector<std::string> label_names, std::vector<double> bounds);

  // Writes families read at scrape time. Each collector opens its own families (TextWriter::
  // Family) and must not repeat a name another one writes.
  void AddCollector(std::function<void(TextWriter&)> collect);

  // The counter, gauge and histogram families (each kind in the order added), then every
  // collector's output, in the order added.
  std::string Render() const;

 private:
  mutable std::mutex mu_;  // guards the lists, not the families
  std::vector<std::unique_ptr<Family<Counter>>> counters_;
  std::vector<std::unique_ptr<Family<Gauge>>> gauges_;
  std::vector<std::unique_ptr<Family<Histogram>>> histograms_;
  std::vector<std::function<void(TextWriter&)>> collectors_;
};

}  // namespace vecmirror::metrics
