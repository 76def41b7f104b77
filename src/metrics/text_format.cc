#include "src/metrics/text_format.h"

#include <charconv>
#include <cmath>

namespace vecmirror::metrics {

std::string EscapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out.push_back(c);
  }
  return out;
}

std::string EscapeHelp(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out.push_back(c);
  }
  return out;
}

std::string FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char text[64];
  // Plain decimals where they read well (bucket bounds such as 0.0001, LSNs, byte counts), as
  // Go's client prints them; the shortest form, exponent included, elsewhere.
  const double magnitude = std::fabs(value);
  const bool plain = magnitude == 0 || (magnitude >= 1e-4 && magnitude < 1e16);
  char* const end = text + sizeof(text);
  const auto result = plain ? std::to_chars(text, end, value, std::chars_format::fixed)
                            : std::to_chars(text, end, value);
  return std::string(text, result.ptr);
}

const char* MetricTypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter: return "counter";
    case MetricType::kGauge: return "gauge";
    case MetricType::kHistogram: return "histogram";
    case MetricType::kUntyped: return "untyped";
  }
  return "untyped";
}

void TextWriter::Family(std::string_view name, MetricType type, std::string_view help) {
  text_ += "# HELP ";
  text_ += name;
  text_ += ' ';
  text_ += EscapeHelp(help);
  text_ += "\n# TYPE ";
  text_ += name;
  text_ += ' ';
  text_ += MetricTypeName(type);
  text_ += '\n';
}

void TextWriter::AppendLabels(const Labels& labels) {
  if (labels.empty()) return;
  text_ += '{';
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i > 0) text_ += ',';
    text_ += labels[i].first;
    text_ += "=\"";
    text_ += EscapeLabelValue(labels[i].second);
    text_ += '"';
  }
  text_ += '}';
}

void TextWriter::Sample(std::string_view name, const Labels& labels, double value) {
  text_ += name;
  AppendLabels(labels);
  text_ += ' ';
  text_ += FormatValue(value);
  text_ += '\n';
}

void TextWriter::Histogram(std::string_view name, const Labels& labels,
                           std::span<const double> bounds, std::span<const uint64_t> counts,
                           double sum) {
  const std::string bucket = std::string(name) + "_bucket";
  Labels with_le = labels;
  with_le.emplace_back("le", "");
  uint64_t cumulative = 0;
  for (size_t i = 0; i < bounds.size(); ++i) {
    cumulative += i < counts.size() ? counts[i] : 0;
    with_le.back().second = FormatValue(bounds[i]);
    Sample(bucket, with_le, static_cast<double>(cumulative));
  }
  if (counts.size() > bounds.size()) cumulative += counts[bounds.size()];
  with_le.back().second = "+Inf";
  Sample(bucket, with_le, static_cast<double>(cumulative));
  Sample(std::string(name) + "_sum", labels, sum);
  Sample(std::string(name) + "_count", labels, static_cast<double>(cumulative));
}

}  // namespace vecmirror::metrics
