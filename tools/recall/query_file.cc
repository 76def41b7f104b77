#include "tools/recall/query_file.h"

#include <bit>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>

namespace vecmirror::recall {
namespace {

constexpr std::string_view kNpyMagic = "\x93NUMPY";

// The value of `key` in the header dict: the text after "'key':" up to the next top-level
// comma or closing brace (a tuple's commas are inside parentheses).
std::string_view DictValue(std::string_view header, std::string_view key) {
  const std::string quoted = "'" + std::string(key) + "'";
  size_t pos = header.find(quoted);
  if (pos == std::string_view::npos) return {};
  pos = header.find(':', pos + quoted.size());
  if (pos == std::string_view::npos) return {};
  ++pos;
  while (pos < header.size() && header[pos] == ' ') ++pos;
  size_t end = pos;
  int depth = 0;
  for (; end < header.size(); ++end) {
    const char c = header[end];
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if (depth == 0 && (c == ',' || c == '}')) break;
  }
  return header.substr(pos, end - pos);
}

// "(3, 384)" -> {3, 384}.
bool ParseShape(std::string_view text, std::vector<size_t>* shape) {
  shape->clear();
  if (text.size() < 2 || text.front() != '(' || text.back() != ')') return false;
  text = text.substr(1, text.size() - 2);
  while (!text.empty()) {
    while (!text.empty() && (text.front() == ' ' || text.front() == ',')) text.remove_prefix(1);
    if (text.empty()) break;
    size_t value = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc()) return false;
    shape->push_back(value);
    text.remove_prefix(static_cast<size_t>(ptr - text.data()));
  }
  return true;
}

Status CheckFinite(const QueryVectors& q, const std::string& name) {
  for (size_t i = 0; i < q.values.size(); ++i) {
    if (!std::isfinite(q.values[i])) {
      return Status::InvalidArgument(name + ": query " + std::to_string(i / q.dim + 1) +
                                     " has a NaN or infinite value");
    }
  }
  return Status::Ok();
}

}  // namespace

Status ParseNpy(std::string_view bytes, const std::string& name, QueryVectors* out) {
  auto bad = [&](const std::string& why) { return Status::InvalidArgument(name + ": " + why); };
  if (bytes.size() < 10 || bytes.substr(0, kNpyMagic.size()) != kNpyMagic) {
    return bad("not a .npy file (no \\x93NUMPY magic)");
  }
  const auto major = static_cast<uint8_t>(bytes[6]);
  size_t header_len = 0, offset = 0;
  if (major == 1) {
    header_len = uint8_t(bytes[8]) | size_t(uint8_t(bytes[9])) << 8;
    offset = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) return bad("truncated .npy header");
    header_len = uint8_t(bytes[8]) | size_t(uint8_t(bytes[9])) << 8 |
                 size_t(uint8_t(bytes[10])) << 16 | size_t(uint8_t(bytes[11])) << 24;
    offset = 12;
  } else {
    return bad(".npy format version " + std::to_string(major) + " (expected 1, 2 or 3)");
  }
  if (bytes.size() < offset + header_len) return bad("truncated .npy header");
  const std::string_view header = bytes.substr(offset, header_len);
  const std::string_view descr = DictValue(header, "descr");
  if (descr != "'<f4'" && descr != "'float32'") {
    return bad("dtype " + std::string(descr) + "; expected float32 ('<f4')");
  }
  const bool fortran = DictValue(header, "fortran_order") == "True";
  std::vector<size_t> shape;
  if (!ParseShape(DictValue(header, "shape"), &shape) || shape.size() != 2) {
    return bad("shape " + std::string(DictValue(header, "shape")) +
               "; expected a 2-D array (queries, dimensions)");
  }
  const size_t rows = shape[0], dim = shape[1];
  if (rows == 0 || dim == 0) return bad("the array is empty");
  const std::string_view data = bytes.substr(offset + header_len);
  if (dim > data.size() / 4 / rows || data.size() != rows * dim * 4) {
    return bad("holds " + std::to_string(data.size()) + " bytes of data; a " +
               std::to_string(rows) + " x " + std::to_string(dim) + " float32 array needs " +
               std::to_string(rows * dim * 4));
  }
  static_assert(std::endian::native == std::endian::little, "the .npy reader assumes '<f4'");
  out->dim = dim;
  out->values.resize(rows * dim);
  if (!fortran) {
    std::memcpy(out->values.data(), data.data(), data.size());
  } else {
    std::vector<float> column_major(rows * dim);
    std::memcpy(column_major.data(), data.data(), data.size());
    for (size_t c = 0; c < dim; ++c) {
      for (size_t r = 0; r < rows; ++r) out->values[r * dim + c] = column_major[c * rows + r];
    }
  }
  return CheckFinite(*out, name);
}

Status ParseQueryText(std::string_view text, const std::string& name, QueryVectors* out) {
  out->dim = 0;
  out->values.clear();
  size_t line_number = 0;
  while (!text.empty()) {
    const size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text.remove_prefix(eol == std::string_view::npos ? text.size() : eol + 1);
    ++line_number;
    size_t first = line.find_first_not_of(" \t\r");
    if (first == std::string_view::npos || line[first] == '#') continue;

    std::vector<float> row;
    size_t pos = 0;
    while (pos < line.size()) {
      const char c = line[pos];
      if (c == ' ' || c == '\t' || c == '\r' || c == ',' || c == '[' || c == ']' || c == '{' ||
          c == '}') {
        ++pos;
        continue;
      }
      float value = 0;
      const auto [ptr, ec] = std::from_chars(line.data() + pos, line.data() + line.size(), value);
      if (ec != std::errc()) {
        return Status::InvalidArgument(name + " line " + std::to_string(line_number) +
                                       ": not a number at \"" +
                                       std::string(line.substr(pos, 16)) + "\"");
      }
      row.push_back(value);
      pos = static_cast<size_t>(ptr - line.data());
    }
    if (row.empty()) continue;
    if (out->dim == 0) out->dim = row.size();
    if (row.size() != out->dim) {
      return Status::InvalidArgument(name + " line " + std::to_string(line_number) + " has " +
                                     std::to_string(row.size()) + " values; the first vector has " +
                                     std::to_string(out->dim));
    }
    out->values.insert(out->values.end(), row.begin(), row.end());
  }
  if (out->dim == 0) return Status::InvalidArgument(name + " holds no vectors");
  return CheckFinite(*out, name);
}

Status ReadQueryFile(const std::string& path, QueryVectors* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IOError("cannot open query file " + path);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return Status::IOError("cannot read query file " + path);
  if (std::string_view(bytes).substr(0, kNpyMagic.size()) == kNpyMagic) {
    return ParseNpy(bytes, path, out);
  }
  return ParseQueryText(bytes, path, out);
}

}  // namespace vecmirror::recall
