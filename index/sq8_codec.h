// 8-bit scalar quantization (SQ8) of vectors, as FAISS's ScalarQuantizer QT_8bit with its
// default min-max range statistic: each dimension i has a range [vmin_i, vmin_i + vdiff_i]
// trained from the rows (the smallest and largest value seen), and a component is stored as
// one byte
//   code_i = floor(255 * clamp((x_i - vmin_i) / vdiff_i, 0, 1))
// and read back as
//   decode(code)_i = vmin_i + (code_i + 0.5) * vdiff_i / 255,
// so a component inside its range comes back within half a quantization step (vdiff_i / 510)
// of its value, and one outside is clamped to the range first. A dimension with vdiff_i = 0
// (constant in the training rows) stores code 0 and reads back vmin_i + 0.
//
// Scoring is asymmetric: a float query against a code, without decoding the row. Since
//   dot(q, decode(c)) = sum_i q_i * vmin_i + sum_i (q_i * vdiff_i / 255) * (c_i + 0.5),
// Sq8Query scales the query once (w_i = q_i * vdiff_i / 255) and folds the constant terms into
// one bias, so each row costs one float x uint8 dot product (DotProductU8, index/kernels.h).
//
// Two codes are scored against each other (the graph build's neighbour pruning) without
// decoding either. With s_i = vdiff_i / 255, mu_i = vmin_i + 128.5 * s_i and e_i = code_i - 128,
// decode(code)_i = mu_i + s_i * e_i, so
//   dot(decode(a), decode(b)) = sum_i mu_i^2 + T(a) + T(b) + sum_i s_i^2 * e_i * f_i,
//   T(code) = sum_i mu_i * s_i * e_i,
// where f_i = b_i - 128: a constant, one term per row (computed once per row), and one pass
// over the two codes (WeightedCodeProduct, index/kernels.h). Centring the codes keeps the four
// parts small where the ranges are centred on zero, as embeddings' are, so little cancels.
//
// Thread-safety: Sq8Ranges is a plain value; the functions are pure. An Sq8Query belongs to one
// thread while it is (re)prepared; once prepared, its const methods may run concurrently, as
// may an Sq8CodeProduct's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace vecmirror {

struct Sq8Ranges {
  std::vector<float> vmin;   // per dimension: the smallest value in the training rows
  std::vector<float> vdiff;  // per dimension: largest minus smallest (0 if constant)
};

// The ranges of `n` rows of `dim` floats (row-major). n = 0 gives vmin = vdiff = 0.
Sq8Ranges TrainSq8Ranges(const float* rows, size_t n, size_t dim);

// `prior` widened, per dimension, to hold the `n` rows' values too: a dimension the rows stay
// within keeps its range exactly. Rows decoded from codes in `prior` re-encode to the same codes
// in ranges that did not widen (each decoded value sits mid-step), so a rebuild from decoded rows
// does not move them; training on decoded rows instead would shift every value by half a step
// per rebuild (the decoded values span [vmin + step/2, vmax + step/2]).
Sq8Ranges WidenSq8Ranges(const Sq8Ranges& prior, const float* rows, size_t n, size_t dim);

// Empty if `ranges` can encode and decode `dim`-component rows: both arrays hold `dim` finite
// values, no vdiff is negative and vmin + vdiff is finite. Otherwise what is wrong.
std::string Sq8RangesProblem(const Sq8Ranges& ranges, size_t dim);

// `n` rows of `dim` floats to n * dim codes, and back. A NaN component encodes as code 0.
void EncodeSq8(const Sq8Ranges& ranges, const float* rows, size_t n, size_t dim, uint8_t* codes);
void DecodeSq8(const Sq8Ranges& ranges, const uint8_t* codes, size_t n, size_t dim, float* rows);

// A float query prepared against one set of ranges: Score(code) = dot(query, decode(code)),
// up to float rounding (the sums are regrouped).
class Sq8Query {
 public:
  Sq8Query() = default;
  Sq8Query(const Sq8Ranges& ranges, const float* query, size_t dim) {
    Prepare(ranges, query, dim);
  }

  // (Re)prepares for `query`, reusing the buffer.
  void Prepare(const Sq8Ranges& ranges, const float* query, size_t dim);

  float Score(const uint8_t* code) const;
  // out[i] = Score(codes + i * dim) for i in [0, n).
  void ScoreMany(const uint8_t* codes, size_t n, float* out) const;

  // Score(code) = bias() + sum_i weights()[i] * code[i].
  const std::vector<float>& weights() const { return weights_; }
  float bias() const { return bias_; }

 private:
  std::vector<float> weights_;  // q_i * vdiff_i / 255
  float bias_ = 0;              // sum_i q_i * vmin_i + 0.5 * sum_i weights_i
  size_t dim_ = 0;
};

// Products of two codes in one set of ranges: Product(a, RowTerm(a), b, RowTerm(b)) =
// dot(decode(a), decode(b)), up to float rounding (the sums are regrouped).
class Sq8CodeProduct {
 public:
  Sq8CodeProduct(const Sq8Ranges& ranges, size_t dim);

  // T(code) of the header comment: a row's own part of every product it takes part in.
  float RowTerm(const uint8_t* code) const;
  float Product(const uint8_t* a, float a_term, const uint8_t* b, float b_term) const;

 private:
  std::vector<float> pair_weights_;  // s_i^2
  std::vector<float> row_weights_;   // mu_i * s_i
  float row_bias_ = 0;               // -128 * sum_i row_weights_i, so RowTerm is one dot product
  float constant_ = 0;               // sum_i mu_i^2
  size_t dim_ = 0;
};

}  // namespace vecmirror
