// Table: rows of text printed as aligned columns, for vecmirror-cli's output.
//
// Thread-safety: a plain value; no internal synchronization.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace vecmirror::cli {

class Table {
 public:
  struct Column {
    std::string header;
    bool align_right = false;  // numbers read best right-aligned
  };

  explicit Table(std::vector<Column> columns) : columns_(std::move(columns)) {}

  // A row with fewer cells than columns is padded with empty cells; extra cells are dropped.
  void AddRow(std::vector<std::string> cells);
  size_t rows() const { return rows_.size(); }

  // Header, a dashed rule, then the rows; columns separated by two spaces, no trailing blanks.
  void Print(std::ostream& out) const;

 private:
  std::vector<Column> columns_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace vecmirror::cli
