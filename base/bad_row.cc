#include "base/bad_row.h"

#include <cmath>

namespace vecmirror {

const char* BadRowReasonName(BadRowReason reason) {
  switch (reason) {
    case BadRowReason::kNullVector: return "null_vector";
    case BadRowReason::kNonFinite: return "non_finite";
    case BadRowReason::kZeroVector: return "zero_vector";
    case BadRowReason::kDimensionMismatch: return "dimension_mismatch";
    case BadRowReason::kMalformed: return "malformed";
    case BadRowReason::kUnknownModel: return "unknown_model";
    case BadRowReason::kEntityTypeLimit: return "entity_type_limit";
  }
  return "unknown";
}

const char* BadRowReasonText(BadRowReason reason) {
  switch (reason) {
    case BadRowReason::kNullVector: return "null vector on a completed row";
    case BadRowReason::kNonFinite: return "NaN or Inf component";
    case BadRowReason::kZeroVector: return "all-zero vector";
    case BadRowReason::kDimensionMismatch: return "dimension disagrees with the model";
    case BadRowReason::kMalformed: return "malformed vector";
    case BadRowReason::kUnknownModel: return "model not configured";
    case BadRowReason::kEntityTypeLimit: return "too many distinct entity types";
  }
  return "unknown";
}

std::optional<BadRowReason> ClassifyVector(std::span<const float> vector) {
  bool any_nonzero = false;
  for (float x : vector) {
    if (!std::isfinite(x)) return BadRowReason::kNonFinite;
    any_nonzero |= x != 0.0f;
  }
  if (!any_nonzero) return BadRowReason::kZeroVector;
  return std::nullopt;
}

}  // namespace vecmirror
