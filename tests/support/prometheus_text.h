// A reader of the Prometheus text exposition format, written apart from src/metrics so tests
// check the writer against the format rather than against itself: it parses every sample line
// (unescaping label values) and checks that each family's # TYPE comes once, before its
// samples.
//
//   Exposition e;
//   ASSERT_TRUE(ParseExposition(text, &e, &error)) << error;
//   e.Value("vecmirror_grpc_server_handled_total", {{"grpc_code", "OK"}});
//
// Thread-safety: plain values and pure functions.
#pragma once

#include <cmath>
#include <cstdlib>
#include <limits>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace vecmirror::testing {

struct PromSample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

struct Exposition {
  std::vector<PromSample> samples;
  std::map<std::string, std::string> types;  // family name -> counter, gauge, histogram, ...
  std::map<std::string, std::string> help;   // family name -> unescaped help text

  // The samples named `name` whose labels include every pair of `labels`.
  std::vector<PromSample> Find(const std::string& name,
                               const std::map<std::string, std::string>& labels = {}) const {
    std::vector<PromSample> out;
    for (const PromSample& s : samples) {
      if (s.name != name) continue;
      bool match = true;
      for (const auto& [k, v] : labels) {
        auto it = s.labels.find(k);
        if (it == s.labels.end() || it->second != v) match = false;
      }
      if (match) out.push_back(s);
    }
    return out;
  }

  // The sum of the matching samples' values; nullopt when none matches.
  std::optional<double> Value(const std::string& name,
                              const std::map<std::string, std::string>& labels = {}) const {
    const std::vector<PromSample> found = Find(name, labels);
    if (found.empty()) return std::nullopt;
    double sum = 0;
    for (const PromSample& s : found) sum += s.value;
    return sum;
  }
};

namespace prometheus_text_detail {

inline bool IsNameChar(char c, bool first) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
         (!first && c >= '0' && c <= '9');
}

inline bool ParseValue(const std::string& text, double* out) {
  if (text == "+Inf") { *out = HUGE_VAL; return true; }
  if (text == "-Inf") { *out = -HUGE_VAL; return true; }
  if (text == "NaN") { *out = std::numeric_limits<double>::quiet_NaN(); return true; }
  char* end = nullptr;
  *out = std::strtod(text.c_str(), &end);
  return !text.empty() && end == text.c_str() + text.size();
}

// The family a sample belongs to: a histogram's _bucket/_sum/_count fold into its name.
inline std::string FamilyOf(const std::string& name,
                            const std::map<std::string, std::string>& types) {
  for (const char* suffix : {"_bucket", "_sum", "_count"}) {
    const std::string s = suffix;
    if (name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0) {
      const std::string base = name.substr(0, name.size() - s.size());
      auto it = types.find(base);
      if (it != types.end() && (it->second == "histogram" || it->second == "summary")) return base;
    }
  }
  return name;
}

}  // namespace prometheus_text_detail

// Parses `text`; false with *error naming the line on the first malformed one.
inline bool ParseExposition(const std::string& text, Exposition* out, std::string* error) {
  using namespace prometheus_text_detail;
  *out = Exposition();
  std::istringstream in(text);
  std::string line;
  int number = 0;
  std::map<std::string, bool> seen_samples;
  const auto fail = [&](const std::string& why) {
    *error = "line " + std::to_string(number) + ": " + why + ": " + line;
    return false;
  };
  while (std::getline(in, line)) {
    ++number;
    if (line.empty()) continue;
    if (line[0] == '#') {
      std::istringstream words(line.substr(1));
      std::string keyword, name;
      words >> keyword >> name;
      std::string rest;
      std::getline(words, rest);
      if (!rest.empty() && rest[0] == ' ') rest.erase(0, 1);
      if (keyword == "TYPE") {
        if (out->types.count(name)) return fail("second TYPE for " + name);
        if (seen_samples.count(name)) return fail("TYPE after samples of " + name);
        out->types[name] = rest;
      } else if (keyword == "HELP") {
        std::string help;
        for (size_t i = 0; i < rest.size(); ++i) {
          if (rest[i] == '\\' && i + 1 < rest.size()) {
            ++i;
            help.push_back(rest[i] == 'n' ? '\n' : rest[i]);
          } else {
            help.push_back(rest[i]);
          }
        }
        out->help[name] = help;
      }
      continue;
    }
    PromSample sample;
    size_t i = 0;
    while (i < line.size() && IsNameChar(line[i], i == 0)) ++i;
    if (i == 0) return fail("no metric name");
    sample.name = line.substr(0, i);
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (i < line.size() && line[i] != '}') {
        const size_t start = i;
        while (i < line.size() && IsNameChar(line[i], i == start)) ++i;
        const std::string label = line.substr(start, i - start);
        if (label.empty() || i + 1 >= line.size() || line[i] != '=' || line[i + 1] != '"') {
          return fail("malformed label");
        }
        i += 2;
        std::string value;
        for (; i < line.size() && line[i] != '"'; ++i) {
          if (line[i] == '\\') {
            if (++i >= line.size()) return fail("dangling escape");
            if (line[i] == 'n') value.push_back('\n');
            else if (line[i] == '\\' || line[i] == '"') value.push_back(line[i]);
            else return fail("unknown escape");
          } else {
            value.push_back(line[i]);
          }
        }
        if (i >= line.size()) return fail("unterminated label value");
        ++i;  // closing quote
        if (sample.labels.count(label)) return fail("label " + label + " twice");
        sample.labels[label] = value;
        if (i < line.size() && line[i] == ',') ++i;
      }
      if (i >= line.size()) return fail("unterminated labels");
      ++i;  // }
    }
    if (i >= line.size() || line[i] != ' ') return fail("no space before the value");
    const std::string value = line.substr(i + 1);
    if (!ParseValue(value, &sample.value)) return fail("bad value \"" + value + "\"");
    seen_samples[FamilyOf(sample.name, out->types)] = true;
    out->samples.push_back(std::move(sample));
  }
  return true;
}

}  // namespace vecmirror::testing
