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
  for (float w : weights) largest = std::max(largest, std::fabs(w));
  step_ = largest / 127.0f;
  int8_weights_.resize(dim);
  // Every weight is within 127 steps, so the rounded value is within [-127, 127]; a NaN
  // weight (a NaN query, which the engine refuses earlier) would round to 0.
  const float inverse = step_ > 0 ? 1.0f / step_ : 0.0f;
  for (size_t i = 0; i < dim; ++i) {
    const float t = std::nearbyint(weights[i] * inverse);
    int8_weights_[i] = int8_t(std::isnan(t) ? 0.0f : std::fmax(-127.0f, std::fmin(127.0f, t)));
  }
}

float Sq8Int8Query::Estimate(const uint8_t* code) const {
  return exact_.bias() + step_ * float(DotProductU8I8(code, int8_weights_.data(), dim_));
}

}  // namespace vecmirror
