#include "index/sq8_int8_query.h"

#include <algorithm>
#include <cmath>

#include "index/kernels.h"

namespace vecmirror {

void Sq8Int8Query::Prepare(const Sq8Ranges& ranges, const float* query, size_t dim) {
  exact_.Prepare(ranges, query, dim);
  dim_ = dim;
  const std::vector<float>& weights = exact_.weights();
  float largest = 0;
  bool finite = true;
  for (float w : weights) {
    largest = std::max(largest, std::fabs(w));
    finite &= std::isfinite(w);
  }
  step_ = finite ? largest / 127.0f : 0.0f;
  int8_weights_.assign(dim, 0);
  // A query with a NaN or Inf component (which the engine refuses before it gets here) leaves
  // every int8 weight 0: estimates are then the bias, and Score is what it is.
  if (!(step_ > 0) || !std::isfinite(step_)) {
    step_ = 0;
    return;
  }
  // Rounded half away from zero by truncation, not with nearbyint: on the baseline x86-64 that
  // is a library call per component (no SSE4.1 round), 8 us a 1536-d query, and this loop
  // vectorizes. Every weight is within 127 steps; the clamp only absorbs rounding at the ends.
  const float inverse = 1.0f / step_;
  for (size_t i = 0; i < dim; ++i) {
    float t = weights[i] * inverse;
    t = t < -127.0f ? -127.0f : (t > 127.0f ? 127.0f : t);
    int8_weights_[i] = int8_t(int(t + (t < 0 ? -0.5f : 0.5f)));
  }
}

float Sq8Int8Query::Estimate(const uint8_t* code) const {
  return exact_.bias() + step_ * float(DotProductU8I8(code, int8_weights_.data(), dim_));
}

}  // namespace vecmirror
