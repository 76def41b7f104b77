// The known embedding models: DESIGN.md's defaults, and the "name:dim,name:dim" list an operator
// (or the data generator) adds to them.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace vecmirror {

struct ModelDimension {
  std::string name;
  uint32_t dim = 0;
  bool operator==(const ModelDimension&) const = default;
};

// text-embedding-ada-002 and text-embedding-3-small at 1536, text-embedding-3-large at 3072,
// all-MiniLM-L6-v2 at 384.
const std::vector<ModelDimension>& DefaultModels();

// Largest dimension a model may declare: pgvector's limit for a `vector` column is 16,000.
constexpr uint32_t kMaxModelDimension = 16000;

// Parses "name:dim,name:dim" into *out, in order; empty items are skipped. A name alone takes
// its dimension from DefaultModels(). A name given twice keeps the last dimension, in the
// place of its first mention. The error names the item and what was expected.
Status ParseModelList(std::string_view text, std::vector<ModelDimension>* out);

}  // namespace vecmirror
