// ClusteredEmbeddings: synthetic vectors shaped like text embeddings, for tests and benchmarks
// of the engine. Real embedding models put every vector in a narrow cone (a shared common
// direction, so unrelated texts still have cosine ~0.5-0.7) with topical clusters inside it;
// uniform noise has neither, and makes ANN search look easier or harder than it is.
//
// Each vector is normalize(common + cluster_weight * center[c] + topic_weight * B[c] z +
// noise_weight * g): `common` and the centers are random unit directions; B[c] spans a random
// kTopicRank-dimensional subspace of cluster c and z is Gaussian, so the variation inside a
// cluster has low intrinsic dimension, as in real embeddings (isotropic noise alone makes all
// neighbours within a cluster about equally far, which no real corpus does); g is a small
// isotropic Gaussian of expected unit length. Cluster sizes are skewed (cluster c is drawn with
// weight 1 / sqrt(c + 1)), as topics are in real corpora. Deterministic for a seed.
//
// Thread-safety: a generator is not safe for concurrent use.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "base/uuid.h"

namespace vecmirror::testing {

class ClusteredEmbeddings {
 public:
  static constexpr size_t kTopicRank = 16;

  ClusteredEmbeddings(size_t dim, size_t clusters = 50, uint64_t seed = 42,
                      float cluster_weight = 0.8f, float topic_weight = 0.6f,
                      float noise_weight = 0.25f)
      : dim_(dim),
        cluster_weight_(cluster_weight),
        topic_weight_(topic_weight),
        noise_weight_(noise_weight),
        rng_(seed) {
    common_ = RandomUnit();
    std::vector<double> weights;
    for (size_t c = 0; c < clusters; ++c) {
      centers_.push_back(RandomUnit());
      std::vector<float> basis;
      for (size_t r = 0; r < kTopicRank; ++r) {
        const std::vector<float> direction = RandomUnit();
        basis.insert(basis.end(), direction.begin(), direction.end());
      }
      topics_.push_back(std::move(basis));
      weights.push_back(1.0 / std::sqrt(double(c + 1)));
    }
    pick_cluster_ = std::discrete_distribution<size_t>(weights.begin(), weights.end());
  }

  size_t dim() const { return dim_; }

  // Writes one unit vector to out[0, dim).
  void Next(float* out) {
    const size_t cluster = pick_cluster_(rng_);
    const std::vector<float>& center = centers_[cluster];
    const std::vector<float>& basis = topics_[cluster];
    float z[kTopicRank];
    for (float& zr : z) zr = topic_weight_ * gauss_(rng_) / std::sqrt(float(kTopicRank));
    const float noise_scale = noise_weight_ / std::sqrt(float(dim_));
    double norm2 = 0;
    for (size_t i = 0; i < dim_; ++i) {
      float v = common_[i] + cluster_weight_ * center[i] + noise_scale * gauss_(rng_);
      for (size_t r = 0; r < kTopicRank; ++r) v += z[r] * basis[r * dim_ + i];
      out[i] = v;
      norm2 += double(v) * v;
    }
    const auto inv = float(1.0 / std::sqrt(norm2));
    for (size_t i = 0; i < dim_; ++i) out[i] *= inv;
  }

  // n vectors, row-major.
  std::vector<float> Generate(size_t n) {
    std::vector<float> rows(n * dim_);
    for (size_t r = 0; r < n; ++r) Next(rows.data() + r * dim_);
    return rows;
  }

 private:
  std::vector<float> RandomUnit() {
    std::vector<float> v(dim_);
    double norm2 = 0;
    for (float& x : v) {
      x = gauss_(rng_);
      norm2 += double(x) * x;
    }
    const auto inv = float(1.0 / std::sqrt(norm2));
    for (float& x : v) x *= inv;
    return v;
  }

  size_t dim_;
  float cluster_weight_;
  float topic_weight_;
  float noise_weight_;
  std::mt19937_64 rng_;
  std::normal_distribution<float> gauss_{0.0f, 1.0f};
  std::discrete_distribution<size_t> pick_cluster_;
  std::vector<float> common_;
  std::vector<std::vector<float>> centers_;
  std::vector<std::vector<float>> topics_;  // per cluster: kTopicRank x dim, row-major
};

// A deterministic, well-spread id for row i (so slot order and id order differ).
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
