// Query vectors from a file, for measuring recall on queries of one's own instead of the
// index's own vectors.
//
// Two formats, told apart by the file's first bytes:
// - NumPy .npy (versions 1 to 3): a 2-D array of little-endian float32 ('<f4'), C or Fortran
//   order; one row per query.
// - Text: one vector per line, numbers separated by commas and/or blanks, optionally inside
//   [...] (pgvector's text form) or {...} (real[]). Blank lines and lines starting with # are
//   skipped.
// Every vector must have the same dimension and be finite.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace vecmirror::recall {

struct QueryVectors {
  size_t dim = 0;
  std::vector<float> values;  // rows x dim, row-major
  size_t rows() const { return dim == 0 ? 0 : values.size() / dim; }
  const float* row(size_t i) const { return values.data() + i * dim; }
};

Status ReadQueryFile(const std::string& path, QueryVectors* out);

// The same, from the file's bytes; `name` is used in messages.
Status ParseNpy(std::string_view bytes, const std::string& name, QueryVectors* out);
Status ParseQueryText(std::string_view text, const std::string& name, QueryVectors* out);

}  // namespace vecmirror::recall
