#include "tools/cli/table.h"

#include <algorithm>

namespace vecmirror::cli {
namespace {

void PrintRow(std::ostream& out, const std::vector<Table::Column>& columns,
              const std::vector<size_t>& widths, const std::vector<std::string>& cells) {
  std::string line;
  for (size_t i = 0; i < columns.size(); ++i) {
    if (i > 0) line += "  ";
    const std::string padding(widths[i] - cells[i].size(), ' ');
    line += columns[i].align_right ? padding + cells[i] : cells[i] + padding;
  }
  line.erase(line.find_last_not_of(' ') + 1);
  out << line << '\n';
}

}  // namespace

void Table::AddRow(std::vector<std::string> cells) {
  cells.resize(columns_.size());
  rows_.push_back(std::move(cells));
}

void Table::Print(std::ostream& out) const {
  std::vector<size_t> widths(columns_.size());
  std::vector<std::string> headers, rules;
  for (size_t i = 0; i < columns_.size(); ++i) {
    widths[i] = columns_[i].header.size();
    for (const auto& row : rows_) widths[i] = std::max(widths[i], row[i].size());
    headers.push_back(columns_[i].header);
    rules.emplace_back(widths[i], '-');
  }
  PrintRow(out, columns_, widths, headers);
  PrintRow(out, columns_, widths, rules);
  for (const auto& row : rows_) PrintRow(out, columns_, widths, row);
}

}  // namespace vecmirror::cli
