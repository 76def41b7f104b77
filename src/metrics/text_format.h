// The Prometheus text exposition format (version 0.0.4): the escaping of label values and help
// text, the spelling of sample values, and a writer that puts families and samples together.
// https://prometheus.io/docs/instrumenting/exposition_formats/
//
// Thread-safety: the functions are pure; a TextWriter is a plain value used by one thread.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vecmirror::metrics {

// Label names and values, in the order they are printed.
using Labels = std::vector<std::pair<std::string, std::string>>;

// A label value inside double quotes: backslash, double quote and line feed become \\, \" and
// \n, so no value can end its sample or forge another line.
std::string EscapeLabelValue(std::string_view value);

// HELP text: backslash and line feed become \\ and \n.
std::string EscapeHelp(std::string_view text);

// A sample value: the shortest text that reads back as the same double ("0.25", "12", "1e+20"),
// or "+Inf", "-Inf", "NaN".
std::string FormatValue(double value);

// The metric types of the format.
enum class MetricType { kCounter, kGauge, kHistogram, kUntyped };
const char* MetricTypeName(MetricType type);

class TextWriter {
 public:
  // Opens a metric family: its # HELP and # TYPE lines. Its samples follow. A family is opened
  // once per exposition.
  void Family(std::string_view name, MetricType type, std::string_view help);

  // One sample line: name{labels} value.
  void Sample(std::string_view name, const Labels& labels, double value);
  void Sample(std::string_view name, double value) { Sample(name, {}, value); }

  // The series of one histogram: name_bucket{...,le="b"} for each upper bound, cumulative, then
  // le="+Inf", name_sum and name_count. `counts` holds the observations per bucket (not
  // cumulative), one per bound plus the last for values above every bound.
  void Histogram(std::string_view name, const Labels& labels, std::span<const double> bounds,
                 std::span<const uint64_t> counts, double sum);

  const std::string& text() const { return text_; }

 private:
  void AppendLabels(const Labels& labels);

  std::string text_;
};

}  // namespace vecmirror::metrics
