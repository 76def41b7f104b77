// Sq8Int8Query: a float query against SQ8 codes (index/sq8_codec.h), prepared twice: as the
// exact Sq8Query (float weights, one float x uint8 product per row) and as an estimate with the
// weights quantized to int8 (one uint8 x int8 integer product per row, DotProductU8I8 in
// index/kernels.h: one AVX-512 VNNI instruction per 64 components instead of three per 16).
//
// With Sq8Query's weights w_i = q_i * vdiff_i / 255 and bias b, Score(code) = b + sum_i w_i c_i.
// The estimate rounds the weights once per query to t_i = round(w_i * 127 / max_j |w_j|), so
//   Estimate(code) = b + (max_j |w_j| / 127) * sum_i t_i c_i,
// whose error is at most sum_i |w_i - t_i max|w| / 127| * c_i <= dim * 255 * max|w| / 254: half a
// quantization step of the largest weight per component, at worst. In practice the rounding
// errors are independent and cancel, and an HNSW walk on the estimates loses little recall
// (bench/RESULTS.md, "An int8 walk"), but the estimates are not what a search returns: the
// walk's result list is scored again with Score, which is.
//
// Thread-safety: Prepare belongs to one thread; once prepared, the const methods may run
// concurrently.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "index/sq8_codec.h"

namespace vecmirror {

class Sq8Int8Query {
 public:
  // (Re)prepares for `query` (`dim` floats) against `ranges`, reusing the buffers.
  void Prepare(const Sq8Ranges& ranges, const float* query, size_t dim);

  // dot(query, decode(code)) from the int8 weights (the header's error bound).
  float Estimate(const uint8_t* code) const;
  // dot(query, decode(code)) as Sq8Query::Score computes it.
  float Score(const uint8_t* code) const { return exact_.Score(code); }

  // The int8 weights and the factor that turns their product with a code into the float one:
  // for tests.
  const std::vector<int8_t>& int8_weights() const { return int8_weights_; }
  float int8_step() const { return step_; }

 private:
  Sq8Query exact_;
  std::vector<int8_t> int8_weights_;  // round(exact_.weights()_i / step_), in [-127, 127]
  float step_ = 0;                    // max_i |exact_.weights()_i| / 127 (0: all 0, or not finite)
  size_t dim_ = 0;
};

}  // namespace vecmirror
