#include "index/sq8_codec.h"

#include <algorithm>
#include <cmath>

#include "index/kernels.h"

namespace vecmirror {

Sq8Ranges TrainSq8Ranges(const float* rows, size_t n, size_t dim) {
  Sq8Ranges ranges;
  ranges.vmin.assign(dim, 0.0f);
  ranges.vdiff.assign(dim, 0.0f);
  if (n == 0) return ranges;
  std::vector<float> vmax(rows, rows + dim);
  std::copy(rows, rows + dim, ranges.vmin.begin());
  for (size_t r = 1; r < n; ++r) {
    const float* row = rows + r * dim;
    for (size_t i = 0; i < dim; ++i) {
      ranges.vmin[i] = std::min(ranges.vmin[i], row[i]);
      vmax[i] = std::max(vmax[i], row[i]);
    }
  }
  for (size_t i = 0; i < dim; ++i) ranges.vdiff[i] = vmax[i] - ranges.vmin[i];
  return ranges;
}

Sq8Ranges WidenSq8Ranges(const Sq8Ranges& prior, const float* rows, size_t n, size_t dim) {
  Sq8Ranges ranges = prior;
  if (n == 0) return ranges;
  const Sq8Ranges seen = TrainSq8Ranges(rows, n, dim);
  for (size_t i = 0; i < dim; ++i) {
    const float lo = prior.vmin[i], hi = prior.vmin[i] + prior.vdiff[i];
    const float seen_hi = seen.vmin[i] + seen.vdiff[i];
    if (seen.vmin[i] >= lo && seen_hi <= hi) continue;
    ranges.vmin[i] = std::min(lo, seen.vmin[i]);
    ranges.vdiff[i] = std::max(hi, seen_hi) - ranges.vmin[i];
  }
  return ranges;
}

std::string Sq8RangesProblem(const Sq8Ranges& ranges, size_t dim) {
  if (ranges.vmin.size() != dim || ranges.vdiff.size() != dim) {
    return "SQ8 ranges of " + std::to_string(ranges.vmin.size()) + " and " +
           std::to_string(ranges.vdiff.size()) + " dimensions for " + std::to_string(dim);
  }
  for (size_t i = 0; i < dim; ++i) {
    const float lo = ranges.vmin[i], diff = ranges.vdiff[i];
    if (!std::isfinite(lo) || !std::isfinite(diff) || diff < 0 || !std::isfinite(lo + diff)) {
      return "SQ8 range of dimension " + std::to_string(i) + " is not a finite interval";
    }
  }
  return {};
}

void EncodeSq8(const Sq8Ranges& ranges, const float* rows, size_t n, size_t dim,
               uint8_t* codes) {
  const float* vmin = ranges.vmin.data();
  const float* vdiff = ranges.vdiff.data();
  for (size_t r = 0; r < n; ++r) {
    const float* x = rows + r * dim;
    uint8_t* code = codes + r * dim;
    for (size_t i = 0; i < dim; ++i) {
      float t = vdiff[i] > 0 ? (x[i] - vmin[i]) / vdiff[i] : 0.0f;
      if (!(t > 0)) t = 0;  // also NaN
      if (t > 1) t = 1;
      code[i] = static_cast<uint8_t>(static_cast<int>(255.0f * t));  // FAISS's Codec8bit
    }
  }
}

void DecodeSq8(const Sq8Ranges& ranges, const uint8_t* codes, size_t n, size_t dim,
               float* rows) {
  const float* vmin = ranges.vmin.data();
  const float* vdiff = ranges.vdiff.data();
  for (size_t r = 0; r < n; ++r) {
    const uint8_t* code = codes + r * dim;
    float* x = rows + r * dim;
    for (size_t i = 0; i < dim; ++i) {
      x[i] = vmin[i] + (float(code[i]) + 0.5f) / 255.0f * vdiff[i];
    }
  }
}

void Sq8Query::Prepare(const Sq8Ranges& ranges, const float* query, size_t dim) {
  dim_ = dim;
  weights_.resize(dim);
  // The bias is one number added to every score: accumulated in double, so the 3072-term sum
  // loses nothing that would shift scores relative to the rows' own rounding.
  double bias = 0;
  for (size_t i = 0; i < dim; ++i) {
    weights_[i] = query[i] * (ranges.vdiff[i] / 255.0f);
    bias += double(query[i]) * ranges.vmin[i] + 0.5 * double(weights_[i]);
  }
  bias_ = static_cast<float>(bias);
}

float Sq8Query::Score(const uint8_t* code) const {
  return bias_ + DotProductU8(weights_.data(), code, dim_);
}

void Sq8Query::ScoreMany(const uint8_t* codes, size_t n, float* out) const {
  DotProductManyU8(weights_.data(), codes, n, dim_, out);
  for (size_t i = 0; i < n; ++i) out[i] += bias_;
}

Sq8CodeProduct::Sq8CodeProduct(const Sq8Ranges& ranges, size_t dim)
    : pair_weights_(dim), row_weights_(dim), dim_(dim) {
  // The constant and the bias are one number each, added to every product: accumulated in
  // double, as Sq8Query's bias.
  double constant = 0, row_weight_sum = 0;
  for (size_t i = 0; i < dim; ++i) {
    const double step = double(ranges.vdiff[i]) / 255.0;
    const double mid = double(ranges.vmin[i]) + 128.5 * step;
    pair_weights_[i] = float(step * step);
    row_weights_[i] = float(mid * step);
    constant += mid * mid;
    row_weight_sum += double(row_weights_[i]);
  }
  constant_ = float(constant);
  row_bias_ = float(-128.0 * row_weight_sum);
}

float Sq8CodeProduct::RowTerm(const uint8_t* code) const {
  return row_bias_ + DotProductU8(row_weights_.data(), code, dim_);
}

float Sq8CodeProduct::Product(const uint8_t* a, float a_term, const uint8_t* b,
                              float b_term) const {
  return constant_ + a_term + b_term + WeightedCodeProduct(pair_weights_.data(), a, b, dim_);
}

}  // namespace vecmirror
