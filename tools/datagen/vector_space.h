// ClusteredVectors: embedding-like unit vectors for the demo, the tests and the benchmarks.
//
// Real embedding sets are far from uniform on the sphere. They share one common direction
// (random pairs of text-embedding-ada-002 vectors have a cosine of about 0.7 to 0.8), and they
// gather in topical clusters, of uneven sizes, inside which vectors vary along a few topic
// directions more than along the rest. Uniform noise would make every neighbour about equally
// far and recall numbers meaningless.
//
// Every vector is a function of (seed, key): the same seed and key give the same vector on any
// machine with the same standard library (std::normal_distribution's algorithm is the
// library's choice).
//
// Thread-safety: a ClusteredVectors is immutable after construction, so its const methods may
// be called concurrently.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace vecmirror::datagen {

// How a generated vector splits its variance, before normalization, between the direction all
// vectors share, the centre of its cluster, its cluster's topic directions, and noise of its
// own. The shares are relative. With the defaults (no topics), vectors of different clusters
// have a cosine of about common / total = 0.55, and vectors of one cluster about
// (common + cluster) / total = 0.75.
struct VectorShape {
  double common = 0.55;
  double cluster = 0.20;
  double noise = 0.25;
  // Variation inside a cluster along `topic_rank` random directions of that cluster: the
  // spread inside a cluster then has a low intrinsic dimension, as in real embeddings, where
  // noise alone makes all neighbours within a cluster about equally far. 0: none.
  double topic = 0.0;
  uint32_t topic_rank = 16;
  // Cluster c holds a share of the vectors proportional to 1 / (c + 1)^cluster_skew, as topics
  // do in real corpora. 0: clusters of equal size.
  double cluster_skew = 0.0;
};

// A space of embedding-like unit vectors of one dimension: a common direction, `clusters`
// cluster centres (each with its topic directions), and per-vector noise, all drawn from `seed`.
class ClusteredVectors {
 public:
  ClusteredVectors(uint32_t dim, uint32_t clusters, uint64_t seed, VectorShape shape = {});

  uint32_t dim() const { return dim_; }
  uint32_t clusters() const { return clusters_; }

  // The cluster of the vector with `key`.
  uint32_t ClusterOf(uint64_t key) const;
  // The unit vector with `key`: any 64-bit value; the same key always gives the same vector.
  std::vector<float> Vector(uint64_t key) const;
  void Vector(uint64_t key, float* out) const;
  // The n-th query vector: drawn like Vector(), from keys of its own (a query is never equal to
  // a data vector).
  std::vector<float> Query(uint64_t n) const;

 private:
  // The cluster of the vector with `key` in `stream` (data or queries).
  uint32_t DrawCluster(uint64_t stream, uint64_t key) const;
  void Draw(uint64_t stream, uint64_t key, float* out) const;

  uint32_t dim_;
  uint32_t clusters_;
  uint64_t seed_;
  VectorShape shape_;
  std::vector<float> common_;   // dim_ components, unit norm
  std::vector<float> centres_;  // clusters_ x dim_, each unit norm
  // With topics: clusters_ x topic_rank x dim_, each direction unit norm; else empty.
  std::vector<float> topics_;
  // With skew: the running sum of the clusters' weights; else empty (equal sizes).
  std::vector<double> cumulative_weight_;
};

// The seed of one model's vector space in a dataset. Tenants share it, as real tenants share a
// model's embedding space, and a query made with the dataset's seed lands in the same space.
uint64_t ModelSpaceSeed(uint64_t dataset_seed, std::string_view model);

}  // namespace vecmirror::datagen
