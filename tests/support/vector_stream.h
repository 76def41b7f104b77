// VectorStream: the vectors of one datagen::ClusteredVectors space in key order (0, 1, 2, ...),
// for the engine's tests and benchmarks, which take "the next n vectors" rather than keys.
//
// Its space has kTopicalShape: every vector in a narrow cone (a common direction, so unrelated
// vectors still have a cosine of about 0.5), clusters of skewed sizes, and variation inside a
// cluster along 16 topic directions of its own. ANN search on it is as hard as on real
// embeddings: isotropic noise alone would make it look easier or harder than it is.
//
// Thread-safety: not safe for concurrent use (it keeps a position); space() may be shared.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "tools/datagen/vector_space.h"

namespace vecmirror::testing {

// Relative variances: common direction 1, cluster centre 0.64, topics 0.36, noise 0.0625.
inline constexpr datagen::VectorShape kTopicalShape = {
    .common = 1.0, .cluster = 0.64, .noise = 0.0625, .topic = 0.36, .topic_rank = 16,
    .cluster_skew = 0.5};

class VectorStream {
 public:
  explicit VectorStream(size_t dim, uint32_t clusters = 50, uint64_t seed = 42)
      : space_(static_cast<uint32_t>(dim), clusters, seed, kTopicalShape) {}

  size_t dim() const { return space_.dim(); }
  const datagen::ClusteredVectors& space() const { return space_; }

  // Writes the next unit vector to out[0, dim).
  void Next(float* out) { space_.Vector(next_++, out); }

  // The next n vectors, row-major.
  std::vector<float> Generate(size_t n) {
    std::vector<float> rows(n * dim());
    for (size_t r = 0; r < n; ++r) Next(rows.data() + r * dim());
    return rows;
  }

  // Passes over the next n vectors without computing them.
  void Skip(size_t n) { next_ += n; }

 private:
  datagen::ClusteredVectors space_;
  uint64_t next_ = 0;
};

}  // namespace vecmirror::testing
