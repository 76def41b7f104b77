// Independent random streams of one seed: every value the data generator draws comes from
// Mix(seed, stream, ...), so the vector space and the dataset plan never share a stream and a
// change to one leaves the other's values as they were.
//
// The stream numbers are part of the output: changing one changes every dataset generated with
// it. Add new streams at the end.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>

namespace vecmirror::datagen {

enum Stream : uint64_t {
  // The vector space (vector_space.cc).
  kCommonStream = 1,
  kCentreStream,
  kDataStream,
  kQueryStream,
  kClusterStream,
  // The dataset plan (plan.cc).
  kTenantIdStream,
  kEntityStream,
  kEntityIdStream,
  kStatusStream,
  kVectorKeyStream,
  // A model's space within a dataset (vector_space.cc).
  kModelSpaceStream,
  // The topic directions of each cluster, and each vector's weights on them (vector_space.cc).
  kTopicDirectionStream,
  kTopicWeightStream,
};

// SplitMix64's finalizer: a bijection of 64-bit values that spreads every input bit.
inline uint64_t SplitMix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

inline uint64_t Mix(uint64_t a, uint64_t b) { return SplitMix64(a ^ SplitMix64(b)); }
inline uint64_t Mix(uint64_t a, uint64_t b, uint64_t c) { return Mix(Mix(a, b), c); }

}  // namespace vecmirror::datagen
