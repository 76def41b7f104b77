// TestId: a deterministic, well-spread entity id for row i of an engine test or benchmark, so
// that slot order and id order differ.
//
// Thread-safety: a pure function.
#pragma once

#include <cstdint>
#include <cstring>

#include "base/uuid.h"

namespace vecmirror::testing {

inline Uuid TestId(uint64_t i) {
  uint64_t a = (i + 1) * 0x9E3779B97F4A7C15ULL;
  a ^= a >> 29;
  uint64_t b = i;
  Uuid id;
  std::memcpy(id.bytes.data(), &a, 8);
  std::memcpy(id.bytes.data() + 8, &b, 8);
  return id;
}

}  // namespace vecmirror::testing
