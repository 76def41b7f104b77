// Filtered recall needs entity_type filters of chosen selectivity: a filter that accepts about
// 50%, 5% or 0.5% of an index's live rows. Only the types' own shares are available, so
// ChooseTypeFilters picks, for each target share, the set of types whose combined share is
// nearest to it (by ratio: 0.4% is nearer to 0.5% than 1% is), and reports the share it got.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace vecmirror::recall {

struct TypeFilter {
  double target_share = 1.0;       // what was asked for
  std::vector<std::string> types;  // sorted; empty = every type (no filter)
  uint64_t rows = 0;               // live rows the filter accepts (in the census)
  double share = 1.0;              // rows / all rows of the census
  // A label for tables: "all", or the types joined by '+'.
  std::string Label() const;
};

// For each target share in (0, 1), the type set nearest to it; targets whose nearest set is
// the whole index (or a set chosen for an earlier target) are dropped, each with a line in
// `notes` (if given) that says why. `type_rows` maps each type to its rows. With up to 16 types
// every subset is considered; above that, unions of the rarest types first.
std::vector<TypeFilter> ChooseTypeFilters(const std::map<std::string, uint64_t>& type_rows,
                                          const std::vector<double>& target_shares,
                                          std::vector<std::string>* notes = nullptr);

// "50%", "5%", "0.5%", "0.05%": a share as a short percentage.
std::string PercentText(double share);

}  // namespace vecmirror::recall
