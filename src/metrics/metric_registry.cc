#include "src/metrics/metric_registry.h"

namespace vecmirror::metrics {

Family<Counter>& MetricRegistry::AddCounter(std::string name, std::string help,
                                            std::vector<std::string> label_names) {
  std::lock_guard lock(mu_);
  counters_.push_back(std::make_unique<Family<Counter>>(
      std::move(name), std::move(help), std::move(label_names),
      [] { return std::make_unique<Counter>(); }));
  return *counters_.back();
}

Family<Gauge>& MetricRegistry::AddGauge(std::string name, std::string help,
                                        std::vector<std::string> label_names) {
  std::lock_guard lock(mu_);
  gauges_.push_back(std::make_unique<Family<Gauge>>(std::move(name), std::move(help),
                                                    std::move(label_names),
                                                    [] { return std::make_unique<Gauge>(); }));
  return *gauges_.back();
}

Family<Histogram>& MetricRegistry::AddHistogram(std::string name, std::string help,
                                                std::vector<std::string> label_names,
                                                std::vector<double> bounds) {
  std::lock_guard lock(mu_);
  histograms_.push_back(std::make_unique<Family<Histogram>>(
      std::move(name), std::move(help), std::move(label_names),
      [bounds = std::move(bounds)] { return std::make_unique<Histogram>(bounds); }));
  return *histograms_.back();
}

void MetricRegistry::AddCollector(std::function<void(TextWriter&)> collect) {
  std::lock_guard lock(mu_);
  collectors_.push_back(std::move(collect));
}

std::string MetricRegistry::Render() const {
  std::lock_guard lock(mu_);
  TextWriter writer;
  for (const auto& family : counters_) {
    writer.Family(family->name(), MetricType::kCounter, family->help());
    family->ForEach([&](const Labels& labels, const Counter& counter) {
      writer.Sample(family->name(), labels, counter.value());
    });
  }
  for (const auto& family : gauges_) {
    writer.Family(family->name(), MetricType::kGauge, family->help());
    family->ForEach([&](const Labels& labels, const Gauge& gauge) {
      writer.Sample(family->name(), labels, gauge.value());
    });
  }
  for (const auto& family : histograms_) {
    writer.Family(family->name(), MetricType::kHistogram, family->help());
    family->ForEach([&](const Labels& labels, const Histogram& histogram) {
      const Histogram::Counts counts = histogram.Read();
      writer.Histogram(family->name(), labels, histogram.bounds(), counts.per_bucket, counts.sum);
    });
  }
  for (const auto& collect : collectors_) collect(writer);
  return writer.text();
}

}  // namespace vecmirror::metrics
