#include "tools/datagen/vector_space.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "tools/datagen/random_streams.h"

namespace vecmirror::datagen {
namespace {

// Fills `out` with a random unit vector (a standard normal per component, normalized).
void RandomUnitVector(uint64_t seed, uint32_t dim, float* out) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  double norm2 = 0;
  std::vector<double> v(dim);
  for (auto& x : v) {
    x = normal(rng);
    norm2 += x * x;
  }
  const double inv = 1.0 / std::sqrt(norm2);
  for (uint32_t i = 0; i < dim; ++i) out[i] = static_cast<float>(v[i] * inv);
}

}  // namespace

ClusteredVectors::ClusteredVectors(uint32_t dim, uint32_t clusters, uint64_t seed, VectorShape shape)
    : dim_(dim), clusters_(std::max<uint32_t>(clusters, 1)), seed_(seed), shape_(shape) {
  common_.resize(dim_);
  RandomUnitVector(Mix(seed_, kCommonStream), dim_, common_.data());
  centres_.resize(static_cast<size_t>(clusters_) * dim_);
  for (uint32_t k = 0; k < clusters_; ++k) {
    RandomUnitVector(Mix(seed_, kCentreStream, k), dim_, centres_.data() + static_cast<size_t>(k) * dim_);
  }
  if (shape_.topic > 0 && shape_.topic_rank > 0) {
    const size_t rank = shape_.topic_rank;
    topics_.resize(clusters_ * rank * dim_);
    for (uint32_t k = 0; k < clusters_; ++k) {
      for (uint32_t r = 0; r < rank; ++r) {
        RandomUnitVector(Mix(seed_, kTopicDirectionStream, Mix(k, r)), dim_,
                         topics_.data() + (k * rank + r) * dim_);
      }
    }
  }
  if (shape_.cluster_skew > 0) {
    double sum = 0;
    for (uint32_t k = 0; k < clusters_; ++k) {
      sum += std::pow(k + 1.0, -shape_.cluster_skew);
      cumulative_weight_.push_back(sum);
    }
  }
}

uint32_t ClusteredVectors::ClusterOf(uint64_t key) const { return DrawCluster(kDataStream, key); }

uint32_t ClusteredVectors::DrawCluster(uint64_t stream, uint64_t key) const {
  const uint64_t draw = Mix(seed_, kClusterStream, Mix(stream, key));
  if (cumulative_weight_.empty()) return static_cast<uint32_t>(draw % clusters_);
  // The draw's top 53 bits as a uniform double in [0, 1), scaled to the total weight.
  const double at = static_cast<double>(draw >> 11) * 0x1.0p-53 * cumulative_weight_.back();
  const auto it = std::upper_bound(cumulative_weight_.begin(), cumulative_weight_.end(), at);
  return static_cast<uint32_t>(std::min<size_t>(it - cumulative_weight_.begin(), clusters_ - 1));
}

std::vector<float> ClusteredVectors::Vector(uint64_t key) const {
  std::vector<float> v(dim_);
  Vector(key, v.data());
  return v;
}

void ClusteredVectors::Vector(uint64_t key, float* out) const { Draw(kDataStream, key, out); }

std::vector<float> ClusteredVectors::Query(uint64_t n) const {
  std::vector<float> v(dim_);
  Draw(kQueryStream, n, v.data());
  return v;
}

void ClusteredVectors::Draw(uint64_t stream, uint64_t key, float* out) const {
  const uint32_t cluster = DrawCluster(stream, key);
  const float* centre = centres_.data() + static_cast<size_t>(cluster) * dim_;
  // Noise components are N(0, 1/dim), so the noise vector's norm is about 1 like the others'.
  const double common = std::sqrt(std::max(shape_.common, 0.0));
  const double spread = std::sqrt(std::max(shape_.cluster, 0.0));
  const double noise = std::sqrt(std::max(shape_.noise, 0.0) / std::max<uint32_t>(dim_, 1));
  std::mt19937_64 rng(Mix(seed_, stream, key));
  std::normal_distribution<double> normal(0.0, 1.0);
  std::vector<double> v(dim_);
  for (uint32_t i = 0; i < dim_; ++i) {
    v[i] = common * common_[i] + spread * centre[i] + noise * normal(rng);
  }
  if (!topics_.empty()) {
    // Weights N(0, topic / rank) on unit directions: their sum has a norm of about sqrt(topic).
    // Drawn from a stream of their own, so the noise above does not depend on the topics.
    const uint32_t rank = shape_.topic_rank;
    const double scale = std::sqrt(shape_.topic / rank);
    std::mt19937_64 weight_rng(Mix(seed_, kTopicWeightStream, Mix(stream, key)));
    std::normal_distribution<double> weight(0.0, 1.0);
    const float* directions = topics_.data() + static_cast<size_t>(cluster) * rank * dim_;
    for (uint32_t r = 0; r < rank; ++r) {
      const double w = scale * weight(weight_rng);
      const float* direction = directions + static_cast<size_t>(r) * dim_;
      for (uint32_t i = 0; i < dim_; ++i) v[i] += w * direction[i];
    }
  }
  double norm2 = 0;
  for (uint32_t i = 0; i < dim_; ++i) norm2 += v[i] * v[i];
  if (norm2 == 0) {  // only with an all-zero shape
    v.assign(dim_, 0.0);
    if (dim_ > 0) v[0] = norm2 = 1.0;
  }
  const double inv = 1.0 / std::sqrt(norm2);
  for (uint32_t i = 0; i < dim_; ++i) out[i] = static_cast<float>(v[i] * inv);
}

uint64_t ModelSpaceSeed(uint64_t dataset_seed, std::string_view model) {
  uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a
  for (unsigned char c : model) h = (h ^ c) * 0x100000001b3ULL;
  return Mix(dataset_seed, kModelSpaceStream, h);
}

}  // namespace vecmirror::datagen
