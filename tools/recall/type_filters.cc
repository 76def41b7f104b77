#include "tools/recall/type_filters.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <utility>

namespace vecmirror::recall {
namespace {

struct Candidate {
  std::vector<std::string> types;
  uint64_t rows = 0;
};

// Every proper, non-empty subset of the types (at most 2^16), or with more types, the unions
// of the k rarest types for each k (a filter's share grows smoothly along them).
std::vector<Candidate> Candidates(const std::map<std::string, uint64_t>& type_rows) {
  std::vector<std::pair<std::string, uint64_t>> types(type_rows.begin(), type_rows.end());
  std::vector<Candidate> out;
  if (types.size() <= 16) {
    const uint32_t all = (1u << types.size()) - 1;
    for (uint32_t mask = 1; mask < all; ++mask) {
      Candidate c;
      for (size_t i = 0; i < types.size(); ++i) {
        if (mask & (1u << i)) {
          c.types.push_back(types[i].first);
          c.rows += types[i].second;
        }
      }
      out.push_back(std::move(c));
    }
    return out;
  }
  std::sort(types.begin(), types.end(),
            [](const auto& a, const auto& b) { return a.second < b.second; });
  Candidate c;
  for (size_t i = 0; i + 1 < types.size(); ++i) {
    c.types.push_back(types[i].first);
    c.rows += types[i].second;
    out.push_back(c);
    std::sort(out.back().types.begin(), out.back().types.end());
  }
  return out;
}

}  // namespace

std::string TypeFilter::Label() const {
  if (types.empty()) return "all";
  std::string label;
  for (const std::string& type : types) {
    if (!label.empty()) label += '+';
    label += type;
  }
  return label;
}

std::string PercentText(double share) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3g%%", share * 100);
  return text;
}

std::vector<TypeFilter> ChooseTypeFilters(const std::map<std::string, uint64_t>& type_rows,
                                          const std::vector<double>& target_shares,
                                          std::vector<std::string>* notes) {
  auto note = [&](double target, const std::string& why) {
    if (notes) notes->push_back("selectivity " + PercentText(target) + ": " + why);
  };
  uint64_t total = 0;
  for (const auto& [type, rows] : type_rows) total += rows;
  std::vector<TypeFilter> chosen;
  const std::vector<Candidate> candidates = Candidates(type_rows);
  for (const double target : target_shares) {
    if (!(target > 0 && target < 1)) continue;
    const Candidate* best = nullptr;
    double best_distance = 0;
    for (const Candidate& c : candidates) {
      if (c.rows == 0) continue;
      const double distance = std::abs(std::log(double(c.rows) / double(total) / target));
      if (best == nullptr || distance < best_distance) {
        best = &c;
        best_distance = distance;
      }
    }
    if (best == nullptr) {
      note(target, "not measured: every row has the same entity type");
      continue;
    }
    TypeFilter filter{target, best->types, best->rows, double(best->rows) / double(total)};
    // The whole index is at distance |log(1 / target)|: a subset farther than that is no
    // better a stand-in for the target than no filter at all.
    if (best_distance >= std::abs(std::log(1.0 / target))) {
      note(target, "not measured: no set of entity types is nearer to it than all of them");
      continue;
    }
    const auto seen = std::find_if(chosen.begin(), chosen.end(),
                                   [&](const TypeFilter& f) { return f.types == best->types; });
    if (seen != chosen.end()) {
      note(target, "the nearest set of entity types is " + filter.Label() + " (" +
                       PercentText(filter.share) + "), measured already for " +
                       PercentText(seen->target_share));
      continue;
    }
    chosen.push_back(std::move(filter));
  }
  return chosen;
}

}  // namespace vecmirror::recall
