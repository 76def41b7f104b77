// BadRowReason: why a 'completed' embedding row is not searchable (DESIGN.md, "Bad rows"). One
// list for the mirror's counters, the API's status, and the data generator that plants them.
//
// Thread-safety: pure functions and plain values.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace vecmirror {

enum class BadRowReason : uint8_t {
  kNullVector,         // vector IS NULL
  kNonFinite,          // a NaN or Inf component
  kZeroVector,         // every component zero: the cosine is undefined
  kDimensionMismatch,  // the vector's length disagrees with its model's dimension
  kMalformed,          // the column's bytes do not decode as a vector
  kUnknownModel,       // a model that is not configured (nor learned)
  kEntityTypeLimit,    // its entity's type is past the limit on distinct entity types
};
inline constexpr size_t kBadRowReasonCount = 7;

// Snake-case name, as the counter is called: "null_vector", "non_finite", ...
const char* BadRowReasonName(BadRowReason reason);
// A short phrase for logs: "null vector on a completed row", ...
const char* BadRowReasonText(BadRowReason reason);

// kNonFinite or kZeroVector when `vector` has such a value, nullopt when it is usable.
std::optional<BadRowReason> ClassifyVector(std::span<const float> vector);

// Bad rows counted per reason.
struct BadRowCounts {
  std::array<uint64_t, kBadRowReasonCount> by_reason{};

  uint64_t& operator[](BadRowReason reason) { return by_reason[static_cast<size_t>(reason)]; }
  uint64_t operator[](BadRowReason reason) const {
    return by_reason[static_cast<size_t>(reason)];
  }
  uint64_t total() const {
    uint64_t sum = 0;
    for (uint64_t n : by_reason) sum += n;
    return sum;
  }
};

}  // namespace vecmirror
