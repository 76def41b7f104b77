// PostgreSQL array literals for query parameters: real[] that reads back to exactly the given
// floats, and text[] with its elements quoted. Used wherever a vector or a list of entity types
// goes into SQL as a parameter (the recall tool's SQL check, the tests' ground truth).
//
// Thread-safety: pure functions.
#pragma once

#include <charconv>
#include <span>
#include <string>
#include <vector>

namespace vecmirror::pg {

// {1.5,-0.25,...}: the shortest text of each float, so the array reads back bit for bit.
inline std::string RealArrayLiteral(std::span<const float> values) {
  std::string out = "{";
  char buffer[32];
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out.push_back(',');
    out.append(buffer, std::to_chars(buffer, buffer + sizeof buffer, values[i]).ptr);
  }
  out.push_back('}');
  return out;
}

// {"a","b"}: every element double-quoted, with " and \ escaped.
inline std::string TextArrayLiteral(const std::vector<std::string>& values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out.push_back(',');
    out.push_back('"');
    for (char c : values[i]) {
      if (c == '"' || c == '\\') out.push_back('\\');
      out.push_back(c);
    }
    out.push_back('"');
  }
  out.push_back('}');
  return out;
}

}  // namespace vecmirror::pg
