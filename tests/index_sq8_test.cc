// SQ8 vector storage (IndexOptions::storage = kSq8): the codec against its definition (round
// trip within half a quantization step, clamping past the trained range, constant dimensions),
// the float x uint8 kernels against a double loop on every dispatch path this CPU has, the
// prepared query against dot(query, decoded row), and an HNSW index over SQ8 codes: exact answers
// equal to an Eigen brute force over the decoded rows (decoded here, from ranges computed here),
// ANN recall@10 against the fp32 Eigen brute force above the floor measured for this data,
// vectors read back decoded, a tail absorbed in the base's ranges, a quarter of the rows' fp32
// memory, and the snapshot round trip (bit-identical answers, an older version still loading, a
// damaged range block refused).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>

#include "index/checksummed_file.h"
#include "index/entity_index.h"
#include "index/index_file.h"
#include "index/kernels.h"
#include "index/sq8_codec.h"
#include "index/sq8_flat.h"
#include "index/sq8_int8_query.h"
#include "tests/support/index_test_util.h"
#include "tests/support/stored_index.h"
#include "tests/support/scratch_files.h"

namespace vecmirror {
namespace {

using testing::Dataset;
using testing::Model;
using testing::OracleQuery;
using testing::TestId;
using testing::VectorStream;

constexpr size_t kDim = testing::kStoredDim;
constexpr size_t kRows = testing::kStoredRows;

IndexKey Key() { return testing::StoredKey(); }

IndexOptions Sq8Options() { return testing::HnswStoring(VectorStorage::kSq8); }

std::vector<float> RandomVector(size_t n, std::mt19937& rng, float lo = -1, float hi = 1) {
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng);
  return v;
}

double Dot(const float* a, const float* b, size_t dim) {
  double s = 0;
  for (size_t i = 0; i < dim; ++i) s += double(a[i]) * b[i];
  return s;
}

// Per-dimension min and max of rows, computed here (not with TrainSq8Ranges), and the codec's
// definition (index/sq8_codec.h) applied to them in double: the oracle's view of the storage.
struct OracleRanges {
  std::vector<double> lo, hi;
};

OracleRanges RangesOf(const std::vector<std::vector<float>>& rows) {
  OracleRanges r;
  r.lo.assign(rows[0].begin(), rows[0].end());
  r.hi = r.lo;
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) {
      r.lo[i] = std::min(r.lo[i], double(row[i]));
      r.hi[i] = std::max(r.hi[i], double(row[i]));
    }
  }
  return r;
}

// The code is computed in float, as the definition (FAISS's Codec8bit) does: a component whose
// 255 * t falls within float rounding of an integer gets the code float arithmetic gives it.
// The decode is in double (the storage's float decode differs by an ulp or so).
std::vector<float> DecodedByDefinition(const OracleRanges& r, const std::vector<float>& x) {
  std::vector<float> out(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const float lo = float(r.lo[i]);
    const float diff = float(r.hi[i]) - lo;
    const float t = diff > 0 ? std::clamp((x[i] - lo) / diff, 0.0f, 1.0f) : 0.0f;
    const double code = std::floor(255.0f * t);
    out[i] = float(double(lo) + (code + 0.5) / 255.0 * double(diff));
  }
  return out;
}

// --- codec ----------------------------------------------------------------------------------

TEST(Sq8CodecTest, RoundTripIsWithinHalfAStepPerDimension) {
  std::mt19937 rng(1);
  const size_t dim = 97, n = 500;
  std::vector<float> rows = RandomVector(n * dim, rng);
  // Dimensions of very different spreads, as embeddings have.
  for (size_t r = 0; r < n; ++r) {
    for (size_t i = 0; i < dim; ++i) rows[r * dim + i] *= 0.01f + float(i) / float(dim);
  }
  const Sq8Ranges ranges = TrainSq8Ranges(rows.data(), n, dim);
  ASSERT_TRUE(Sq8RangesProblem(ranges, dim).empty());
  std::vector<uint8_t> codes(n * dim);
  EncodeSq8(ranges, rows.data(), n, dim, codes.data());
  std::vector<float> decoded(n * dim);
  DecodeSq8(ranges, codes.data(), n, dim, decoded.data());
  bool saw_0 = false, saw_255 = false;
  for (size_t r = 0; r < n; ++r) {
    for (size_t i = 0; i < dim; ++i) {
      const size_t at = r * dim + i;
      const double half_step = double(ranges.vdiff[i]) / 510.0;
      // Half a step, plus the float rounding of the decode (a few ulps of the range's ends).
      const double slack = 4e-7 * (std::fabs(ranges.vmin[i]) + ranges.vdiff[i]);
      EXPECT_LE(std::fabs(double(decoded[at]) - rows[at]), half_step + slack)
          << "row " << r << " dim " << i << " code " << int(codes[at]);
      saw_0 |= codes[at] == 0;
      saw_255 |= codes[at] == 255;
    }
  }
  // The range's ends are the training rows' min and max: both extreme codes occur.
  EXPECT_TRUE(saw_0);
  EXPECT_TRUE(saw_255);
}

TEST(Sq8CodecTest, ValuesPastTheRangeAreClampedAndConstantDimensionsReadBackExactly) {
  const size_t dim = 3;
  const std::vector<float> rows = {-1.0f, 0.5f, 2.0f,  //
                                   1.0f,  0.5f, 4.0f};
  const Sq8Ranges ranges = TrainSq8Ranges(rows.data(), 2, dim);
  EXPECT_EQ(ranges.vmin, (std::vector<float>{-1.0f, 0.5f, 2.0f}));
  EXPECT_EQ(ranges.vdiff, (std::vector<float>{2.0f, 0.0f, 2.0f}));
  // Far below, far above, and NaN: codes 0, 255 and 0; the constant dimension always code 0.
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> outside = {-7.0f, 100.0f, 9.0f,  //
                                      3.0f,  -2.0f,  nan};
  uint8_t codes[6];
  EncodeSq8(ranges, outside.data(), 2, dim, codes);
  EXPECT_EQ(codes[0], 0);
  EXPECT_EQ(codes[1], 0);
  EXPECT_EQ(codes[2], 255);
  EXPECT_EQ(codes[3], 255);
  EXPECT_EQ(codes[4], 0);
  EXPECT_EQ(codes[5], 0);
  float decoded[6];
  DecodeSq8(ranges, codes, 2, dim, decoded);
  // Clamped to the range's ends, then within half a step (2 / 510) of them.
  EXPECT_NEAR(decoded[0], -1.0f, 2.0 / 510 + 1e-6);
  EXPECT_NEAR(decoded[2], 4.0f, 2.0 / 510 + 1e-6);
  EXPECT_NEAR(decoded[3], 1.0f, 2.0 / 510 + 1e-6);
  EXPECT_EQ(decoded[1], 0.5f);
  EXPECT_EQ(decoded[4], 0.5f);
}

TEST(Sq8CodecTest, RangesThatAreNotFiniteIntervalsAreNamed) {
  Sq8Ranges r{{0.0f, 1.0f}, {1.0f, 2.0f}};
  EXPECT_TRUE(Sq8RangesProblem(r, 2).empty());
  EXPECT_FALSE(Sq8RangesProblem(r, 3).empty());
  r.vdiff[1] = -0.5f;
  EXPECT_NE(Sq8RangesProblem(r, 2).find("dimension 1"), std::string::npos);
  r.vdiff[1] = 1.0f;
  r.vmin[0] = std::numeric_limits<float>::infinity();
  EXPECT_NE(Sq8RangesProblem(r, 2).find("dimension 0"), std::string::npos);
  r.vmin[0] = std::numeric_limits<float>::max();
  r.vdiff[0] = std::numeric_limits<float>::max();  // the sum overflows
  EXPECT_FALSE(Sq8RangesProblem(r, 2).empty());
}

// --- kernels --------------------------------------------------------------------------------

constexpr size_t kKernelDims[] = {1, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 384, 1536, 3072};

std::vector<uint8_t> RandomCodes(size_t n, std::mt19937& rng) {
  std::uniform_int_distribution<int> u(0, 255);
  std::vector<uint8_t> c(n);
  for (uint8_t& x : c) x = uint8_t(u(rng));
  return c;
}

TEST(Sq8KernelTest, EveryVariantMatchesADoubleLoop) {
  std::mt19937 rng(2);
  const auto variants = AvailableKernelVariants();
  std::printf("  variants:");
  for (const KernelVariant& v : variants) std::printf(" %s", v.name);
  std::printf("\n");
  for (const KernelVariant& variant : variants) {
    for (size_t dim : kKernelDims) {
      const auto w = RandomVector(dim, rng);
      const auto c = RandomCodes(dim, rng);
      double expected = 0, magnitude = 0;
      for (size_t i = 0; i < dim; ++i) {
        expected += double(w[i]) * c[i];
        magnitude += std::fabs(double(w[i]) * c[i]);
      }
      EXPECT_NEAR(variant.dot_u8(w.data(), c.data(), dim), expected, 1e-6 * magnitude + 1e-6)
          << variant.name << " dim " << dim;
    }
  }
}

TEST(Sq8KernelTest, EveryVariantDotManyMatchesRowByRow) {
  std::mt19937 rng(3);
  for (const KernelVariant& variant : AvailableKernelVariants()) {
    for (size_t dim : {size_t{1}, size_t{17}, size_t{33}, size_t{100}, size_t{1536}}) {
      const size_t n = 7;
      const auto w = RandomVector(dim, rng);
      const auto base = RandomCodes(n * dim, rng);
      std::vector<float> out(n);
      variant.dot_many_u8(w.data(), base.data(), n, dim, out.data());
      for (size_t i = 0; i < n; ++i) {
        EXPECT_EQ(out[i], variant.dot_u8(w.data(), base.data() + i * dim, dim))
            << variant.name << " dim " << dim << " row " << i;
      }
    }
  }
  // The dispatched functions are the first variant's.
  const size_t dim = 65;
  const auto w = RandomVector(dim, rng);
  const auto c = RandomCodes(dim, rng);
  EXPECT_EQ(DotProductU8(w.data(), c.data(), dim),
            AvailableKernelVariants().front().dot_u8(w.data(), c.data(), dim));
}

// The prepared query scores a code as dot(query, decoded row), up to float rounding.
TEST(Sq8KernelTest, APreparedQueryScoresTheDecodedRow) {
  std::mt19937 rng(4);
  for (size_t dim : {size_t{5}, size_t{384}, size_t{1536}, size_t{3072}}) {
    const size_t n = 20;
    std::vector<float> rows = RandomVector(n * dim, rng, -0.1f, 0.1f);
    const Sq8Ranges ranges = TrainSq8Ranges(rows.data(), n, dim);
    std::vector<uint8_t> codes(n * dim);
    EncodeSq8(ranges, rows.data(), n, dim, codes.data());
    std::vector<float> decoded(n * dim);
    DecodeSq8(ranges, codes.data(), n, dim, decoded.data());
    const auto q = RandomVector(dim, rng, -0.1f, 0.1f);
    const Sq8Query prepared(ranges, q.data(), dim);
    std::vector<float> many(n);
    prepared.ScoreMany(codes.data(), n, many.data());
    for (size_t r = 0; r < n; ++r) {
      const double expected = Dot(q.data(), decoded.data() + r * dim, dim);
      EXPECT_NEAR(prepared.Score(codes.data() + r * dim), expected, 2e-6) << dim << " " << r;
      EXPECT_EQ(many[r], prepared.Score(codes.data() + r * dim));
    }
  }
}

// WeightedCodeProduct, every variant, against sum_i w_i (a_i - 128) (b_i - 128) in double, at
// lengths on both sides of each SIMD width (tails) and with the extreme codes 0 and 255.
TEST(Sq8KernelTest, EveryCodeProductVariantMatchesADoubleLoop) {
  std::mt19937 rng(12);
  const auto variants = AvailableCodeProductVariants();
  ASSERT_STREQ(variants.back().name, "scalar");
  for (const CodeProductVariant& variant : variants) {
    for (size_t dim : kKernelDims) {
      const auto w = RandomVector(dim, rng, 0, 1);
      auto a = RandomCodes(dim, rng);
      auto b = RandomCodes(dim, rng);
      a[0] = 0;
      b[0] = 0;  // (-128)^2, the largest product
      if (dim > 1) {
        a[dim - 1] = 255;
        b[dim - 1] = 0;  // 127 * -128, the most negative one, in the tail
      }
      double expected = 0, magnitude = 0;
      for (size_t i = 0; i < dim; ++i) {
        const double term = double(w[i]) * (int(a[i]) - 128) * (int(b[i]) - 128);
        expected += term;
        magnitude += std::fabs(term);
      }
      EXPECT_NEAR(variant.product(w.data(), a.data(), b.data(), dim), expected,
                  1e-6 * magnitude + 1e-6)
          << variant.name << " dim " << dim;
    }
  }
  const size_t dim = 65;
  const auto w = RandomVector(dim, rng, 0, 1);
  const auto a = RandomCodes(dim, rng), b = RandomCodes(dim, rng);
  EXPECT_EQ(WeightedCodeProduct(w.data(), a.data(), b.data(), dim),
            variants.front().product(w.data(), a.data(), b.data(), dim));
}

// DotProductU8I8, every variant, against a 64-bit loop: equal, since the sums are integers. At
// lengths on both sides of each SIMD width (tails), with random bytes over the whole ranges of
// both operands, and with the extremes in every lane (255 x -128 and 255 x 127): a variant that
// saturated (vpmaddubsw's 16-bit pair sums, or a signed reading of the codes) would differ.
TEST(Sq8KernelTest, EveryIntegerDotVariantMatchesA64BitLoop) {
  std::mt19937 rng(21);
  const auto variants = AvailableIntegerDotVariants();
  ASSERT_STREQ(variants.back().name, "scalar");
  std::printf("  integer dot variants:");
  for (const IntegerDotVariant& v : variants) std::printf(" %s", v.name);
  std::printf("\n");
  std::uniform_int_distribution<int> signed_byte(-128, 127);
  auto reference = [](const std::vector<uint8_t>& c, const std::vector<int8_t>& q) {
    int64_t sum = 0;
    for (size_t i = 0; i < c.size(); ++i) sum += int64_t(c[i]) * q[i];
    return sum;
  };
  std::vector<size_t> dims(std::begin(kKernelDims), std::end(kKernelDims));
  for (size_t dim : {127, 128, 129, 255, 256, 257, 3079}) dims.push_back(dim);
  for (const IntegerDotVariant& variant : variants) {
    for (size_t dim : dims) {
      const auto c = RandomCodes(dim, rng);
      std::vector<int8_t> q(dim);
      for (int8_t& x : q) x = int8_t(signed_byte(rng));
      EXPECT_EQ(variant.dot(c.data(), q.data(), dim), reference(c, q))
          << variant.name << " dim " << dim;
      for (int8_t extreme : {int8_t(-128), int8_t(127)}) {
        const std::vector<uint8_t> top(dim, 255);
        const std::vector<int8_t> same(dim, extreme);
        EXPECT_EQ(variant.dot(top.data(), same.data(), dim), reference(top, same))
            << variant.name << " dim " << dim << " all 255 x " << int(extreme);
      }
    }
  }
  // Rows at every offset from a 64-byte boundary (the VNNI variant loads up to the codes' next
  // boundary first), long and short ones.
  alignas(64) static uint8_t buffer[64 + 1600];
  for (size_t i = 0; i < sizeof(buffer); ++i) buffer[i] = uint8_t(rng());
  for (const IntegerDotVariant& variant : variants) {
    for (size_t dim : {size_t{5}, size_t{70}, size_t{1536}}) {
      std::vector<int8_t> q(dim);
      for (int8_t& x : q) x = int8_t(signed_byte(rng));
      for (size_t offset = 0; offset < 64; ++offset) {
        const std::vector<uint8_t> c(buffer + offset, buffer + offset + dim);
        EXPECT_EQ(variant.dot(buffer + offset, q.data(), dim), reference(c, q))
            << variant.name << " dim " << dim << " offset " << offset;
      }
    }
  }
  const size_t dim = 1536;
  const auto c = RandomCodes(dim, rng);
  std::vector<int8_t> q(dim);
  for (int8_t& x : q) x = int8_t(signed_byte(rng));
  EXPECT_EQ(DotProductU8I8(c.data(), q.data(), dim), reference(c, q));
}

// Sq8Int8Query: its int8 weights are the float weights rounded in steps of the largest / 127
// (computed here in double from Sq8Query's weights), its Score is Sq8Query's, and its Estimate
// is within the error those roundings allow: sum_i |w_i - t_i * step| * c_i, plus float slack.
TEST(Sq8KernelTest, AnInt8QueryRoundsTheWeightsAndEstimatesWithinTheirError) {
  std::mt19937 rng(22);
  for (size_t dim : {size_t{5}, size_t{65}, size_t{384}, size_t{1536}, size_t{3072}}) {
    const size_t n = 20;
    std::vector<float> rows = RandomVector(n * dim, rng, -0.1f, 0.1f);
    const Sq8Ranges ranges = TrainSq8Ranges(rows.data(), n, dim);
    std::vector<uint8_t> codes(n * dim);
    EncodeSq8(ranges, rows.data(), n, dim, codes.data());
    const auto q = RandomVector(dim, rng, -0.1f, 0.1f);
    const Sq8Query exact(ranges, q.data(), dim);
    Sq8Int8Query prepared;
    prepared.Prepare(ranges, q.data(), dim);

    double largest = 0;
    for (float w : exact.weights()) largest = std::max(largest, std::fabs(double(w)));
    const double step = largest / 127;
    EXPECT_NEAR(prepared.int8_step(), step, 1e-6 * step);
    int most = 0;
    double bound = 0;
    for (size_t i = 0; i < dim; ++i) {
      const int t = prepared.int8_weights()[i];
      most = std::max(most, std::abs(t));
      EXPECT_LE(std::fabs(exact.weights()[i] / step - t), 0.5 + 1e-4) << dim << " " << i;
    }
    EXPECT_EQ(most, 127) << dim;
    for (size_t r = 0; r < n; ++r) {
      const uint8_t* code = codes.data() + r * dim;
      bound = 0;
      double magnitude = 0;
      for (size_t i = 0; i < dim; ++i) {
        bound += std::fabs(exact.weights()[i] - prepared.int8_weights()[i] * step) * code[i];
        magnitude += std::fabs(double(exact.weights()[i])) * code[i];
      }
      EXPECT_EQ(prepared.Score(code), exact.Score(code));
      EXPECT_NEAR(prepared.Estimate(code), exact.Score(code), bound + 1e-6 * magnitude + 1e-6)
          << dim << " " << r;
    }
  }
  // A zero query: every weight 0, every estimate the bias.
  const size_t dim = 64;
  std::vector<float> rows = RandomVector(4 * dim, rng);
  const Sq8Ranges ranges = TrainSq8Ranges(rows.data(), 4, dim);
  std::vector<uint8_t> codes(dim, 200);
  const std::vector<float> zero(dim, 0.0f);
  Sq8Int8Query prepared;
  prepared.Prepare(ranges, zero.data(), dim);
  EXPECT_EQ(prepared.int8_step(), 0.0f);
  EXPECT_EQ(prepared.Estimate(codes.data()), prepared.Score(codes.data()));
  // A NaN component (refused by the engine before a search): no int8 weight is made from it.
  std::vector<float> nan_query(dim, 0.5f);
  nan_query[3] = std::numeric_limits<float>::quiet_NaN();
  prepared.Prepare(ranges, nan_query.data(), dim);
  EXPECT_EQ(prepared.int8_step(), 0.0f);
  for (int8_t t : prepared.int8_weights()) EXPECT_EQ(t, 0);
}

// Sq8CodeProduct against the dot product of the two rows decoded by the definition in double
// (vmin + (code + 0.5) * vdiff / 255, from the ranges), for ranges centred on zero as
// embeddings' are, ranges far from zero (where the parts cancel most), and constant dimensions,
// at odd lengths that leave SIMD tails.
TEST(Sq8CodecTest, CodeProductsEqualProductsOfTheDecodedRows) {
  std::mt19937 rng(13);
  struct Case {
    float lo, hi;  // of the rows' components
    double tolerance;
  };
  const Case cases[] = {{-0.1f, 0.1f, 2e-7}, {-1.0f, 1.0f, 1e-5}, {0.5f, 2.0f, 1e-4}};
  for (const Case& c : cases) {
    double worst = 0;  // of |error| / allowed
    for (size_t dim : {size_t{1}, size_t{7}, size_t{17}, size_t{33}, size_t{65}, size_t{100},
                       size_t{384}, size_t{1536}, size_t{3077}}) {
      const size_t n = 12;
      std::vector<float> rows = RandomVector(n * dim, rng, c.lo, c.hi);
      if (dim > 3) {
        for (size_t r = 0; r < n; ++r) rows[r * dim + 3] = c.hi;  // a constant dimension
      }
      const Sq8Ranges ranges = TrainSq8Ranges(rows.data(), n, dim);
      std::vector<uint8_t> codes(n * dim);
      EncodeSq8(ranges, rows.data(), n, dim, codes.data());
      std::vector<double> decoded(n * dim);
      for (size_t k = 0; k < n * dim; ++k) {
        const size_t i = k % dim;
        decoded[k] = double(ranges.vmin[i]) + (codes[k] + 0.5) / 255.0 * double(ranges.vdiff[i]);
      }
      const Sq8CodeProduct pairs(ranges, dim);
      for (size_t x = 0; x < n; ++x) {
        for (size_t y = x; y < n; ++y) {
          double expected = 0;
          for (size_t i = 0; i < dim; ++i) expected += decoded[x * dim + i] * decoded[y * dim + i];
          const uint8_t* a = codes.data() + x * dim;
          const uint8_t* b = codes.data() + y * dim;
          const float got = pairs.Product(a, pairs.RowTerm(a), b, pairs.RowTerm(b));
          // Float rounding of sums of `dim` terms: relative to the products' size.
          const double allowed = c.tolerance * std::max(1.0, double(dim) / 100.0);
          EXPECT_NEAR(got, expected, allowed)
              << c.lo << ".." << c.hi << " dim " << dim << " rows " << x << " " << y;
          worst = std::max(worst, std::fabs(got - expected) / allowed);
        }
      }
    }
    std::printf("  rows in [%g, %g]: largest error %.3f of the tolerance\n", c.lo, c.hi, worst);
  }
}

TEST(Sq8FlatIPTest, StoresCodesAndItsDistanceComputerScoresThem) {
  const size_t dim = 37, n = 6;
  std::mt19937 rng(5);
  const auto rows = RandomVector(n * dim, rng);
  Sq8FlatIP storage(dim);
  EXPECT_EQ(storage.code_size, dim);
  storage.train(n, rows.data());
  storage.add(n, rows.data());
  ASSERT_EQ(storage.codes.size(), n * dim);
  std::vector<float> decoded(n * dim);
  storage.sa_decode(n, storage.row_codes(), decoded.data());
  std::unique_ptr<faiss::FlatCodesDistanceComputer> dc(storage.get_FlatCodesDistanceComputer());
  const auto q = RandomVector(dim, rng);
  dc->set_query(q.data());
  // A query against a row is the int8 estimate (the build ranks candidates on it): within its
  // bound, half an int8 step per component times the largest code, of the decoded row's product.
  Sq8Int8Query int8;
  int8.Prepare(storage.ranges, q.data(), dim);
  const double bound = 0.5 * int8.int8_step() * 255.0 * double(dim) + 1e-5;
  double largest_error = 0;
  for (size_t i = 0; i < n; ++i) {
    const float estimate = (*dc)(faiss::Index::idx_t(i));
    EXPECT_EQ(estimate, int8.Estimate(storage.row_codes() + i * dim)) << i;
    const double error = std::fabs(estimate - Dot(q.data(), &decoded[i * dim], dim));
    EXPECT_LE(error, bound) << i;
    largest_error = std::max(largest_error, error);
    for (size_t j = 0; j < n; ++j) {
      EXPECT_NEAR(dc->symmetric_dis(faiss::Index::idx_t(i), faiss::Index::idx_t(j)),
                  Dot(&decoded[i * dim], &decoded[j * dim], dim), 1e-5)
          << i << " " << j;
    }
  }
  // add() computed every row's term; without them (dropped after a build) the computer
  // computes them itself, to the same products.
  EXPECT_EQ(storage.row_terms.size(), n);
  std::vector<float> with_terms;
  for (size_t i = 0; i < n; ++i) with_terms.push_back(dc->symmetric_dis(faiss::Index::idx_t(i), 0));
  storage.DropRowTerms();
  EXPECT_TRUE(storage.row_terms.empty());
  std::unique_ptr<faiss::FlatCodesDistanceComputer> bare(storage.get_FlatCodesDistanceComputer());
  for (size_t i = 0; i < n; ++i) {
    EXPECT_EQ(bare->symmetric_dis(faiss::Index::idx_t(i), 0), with_terms[i]) << i;
  }
  // Not the exact product: an estimate that equalled it would mean the build ranks on Score.
  EXPECT_GT(largest_error, 1e-6);
  float distance = 0;
  faiss::Index::idx_t label = 0;
  EXPECT_THROW(storage.search(1, q.data(), 1, &distance, &label), std::exception);
}

// --- the index ------------------------------------------------------------------------------

// The index, and the rows as its SQ8 storage holds them, decoded by definition.
struct Built : testing::StoredIndex {
  Dataset decoded;
  OracleRanges ranges;  // of the rows sealed by the first build
};

Dataset DecodedDataset(const Model& model, const OracleRanges& ranges) {
  Model decoded;
  for (const auto& [id, row] : model) decoded[id] = {row.type, DecodedByDefinition(ranges, row.vector)};
  return testing::ToDataset(decoded, kDim);
}

Built Build(const IndexOptions& options, size_t rows = kRows) {
  Built b{testing::BuildStoredIndex(options, rows), {}, {}};
  std::vector<std::vector<float>> all;
  for (const auto& [id, row] : b.model) all.push_back(row.vector);
  b.ranges = RangesOf(all);
  b.decoded = DecodedDataset(b.model, b.ranges);
  return b;
}

std::vector<std::vector<float>> Queries(size_t n) { return testing::StoredQueries(n); }

const Built& Sq8() {
  static const Built built = Build(Sq8Options());
  return built;
}

TEST(Sq8IndexTest, ExactSearchesEqualABruteForceOverTheDecodedRows) {
  const Built& b = Sq8();
  ASSERT_EQ(b.index->Stats().kind, IndexKind::kHnsw);
  ASSERT_EQ(b.index->Stats().tail, 0u);
  for (const auto& qv : Queries(30)) {
    SearchQuery q;
    q.vector = qv;
    q.limit = 10;
    q.effort.exact = true;
    const SearchResult r = b.index->Search(q);
    EXPECT_TRUE(r.exact);
    OracleQuery oq;
    oq.limit = 10;
    testing::ExpectSameAsOracle(r.hits, b.decoded, qv.data(), oq);
  }
  // Filtered exact scans too (a type filter, one excluded entity).
  for (const auto& qv : Queries(5)) {
    SearchQuery q;
    q.vector = qv;
    q.limit = 15;
    q.effort.exact = true;
    q.types = testing::MaskOf({2});
    q.exclude = TestId(5);
    OracleQuery oq;
    oq.limit = 15;
    oq.types = std::vector<uint8_t>{2};
    oq.exclude = TestId(5);
    testing::ExpectSameAsOracle(b.index->Search(q).hits, b.decoded, qv.data(), oq);
  }
}

// Measured on this data (8,000 x 384, clustered, M 32, ef_construction 80 and 128): recall@10
// against the fp32 brute force is 0.991 at the default ef 64 and at 256 alike (the codes'
// rounding, not the walk, loses the rest), with the walk on int8 estimates as on float ones. The floor sits a little below, so that a change that loses recall
// fails.
TEST(Sq8IndexTest, AnnRecallAgainstTheFp32BruteForceIsAboveItsMeasuredFloor) {
  const Built& b = Sq8();
  const auto queries = Queries(100);
  for (const auto& [ef, floor] : {std::pair{0, 0.98}, std::pair{256, 0.98}}) {
    double sum = 0;
    for (const auto& qv : queries) {
      SearchQuery q;
      q.vector = qv;
      q.limit = 10;
      q.effort.ef_search = ef;
      const SearchResult r = b.index->Search(q);
      EXPECT_FALSE(r.exact);
      OracleQuery oq;
      oq.limit = 10;
      sum += testing::Recall(r.hits, testing::BruteForceTopK(b.data, qv.data(), oq));
      // A hit's similarity is its decoded row's.
      for (const Hit& h : r.hits) {
        const auto row = DecodedByDefinition(b.ranges, b.model.at(h.entity_id).vector);
        EXPECT_NEAR(h.similarity, Dot(row.data(), qv.data(), kDim), 1e-5);
      }
    }
    const double recall = sum / double(queries.size());
    std::printf("  sq8 recall@10 at ef %d (0 = default) = %.4f\n", ef, recall);
    EXPECT_GE(recall, floor) << "ef " << ef;
  }
}

// A filtered walk over SQ8 codes (exact scans turned off, so a type filter allowing a third
// of the rows takes the graph): the walk steers by int8 estimates, and what it returns is
// only allowed rows, each with its decoded row's exact similarity, in order, and with recall
// against the filtered fp32 brute force above the floor measured for this data (0.99 at the
// default ef 64; the floor leaves room for the build's nondeterminism).
TEST(Sq8IndexTest, FilteredWalksReturnOnlyAllowedRowsWithExactSimilarities) {
  IndexOptions options = Sq8Options();
  options.exact_max_allowed_rows = 0;
  options.exact_max_allowed_share = 0;
  const Built b = Build(options);
  const auto queries = Queries(60);
  double sum = 0;
  for (const auto& qv : queries) {
    SearchQuery q;
    q.vector = qv;
    q.limit = 10;
    q.types = testing::MaskOf({1});
    const SearchResult r = b.index->Search(q);
    EXPECT_FALSE(r.exact);
    ASSERT_EQ(r.hits.size(), 10u);
    testing::ExpectWellOrdered(r.hits);
    for (const Hit& h : r.hits) {
      const auto& row = b.model.at(h.entity_id);
      EXPECT_EQ(row.type, EntityTypeCode(1));
      EXPECT_NEAR(h.similarity, Dot(DecodedByDefinition(b.ranges, row.vector).data(), qv.data(), kDim),
                  1e-5);
    }
    OracleQuery oq;
    oq.limit = 10;
    oq.types = std::vector<uint8_t>{1};
    sum += testing::Recall(r.hits, testing::BruteForceTopK(b.data, qv.data(), oq));
  }
  const double recall = sum / double(queries.size());
  std::printf("  sq8 filtered (a third of the rows) recall@10 at the default ef = %.4f\n", recall);
  EXPECT_GE(recall, 0.97);
}

// IndexOptions::hnsw_build_storage: a graph built on fp16 rows, the rows then stored as SQ8 in
// ranges trained from all of them, exactly as a direct SQ8 build stores them.
TEST(Sq8IndexTest, AGraphBuiltOnFp16RowsStoresTheSameCodes) {
  IndexOptions options = Sq8Options();
  options.hnsw_build_storage = VectorStorage::kFp16;
  const Built b = Build(options, 6000);
  ASSERT_EQ(b.index->Stats().kind, IndexKind::kHnsw);
  EXPECT_EQ(b.index->Stats().storage, VectorStorage::kSq8);
  for (size_t i : {size_t{0}, size_t{2500}, size_t{5999}}) {
    const auto expected = DecodedByDefinition(b.ranges, b.model.at(TestId(i)).vector);
    const auto got = b.index->VectorOf(TestId(i));
    ASSERT_TRUE(got.has_value());
    for (size_t d = 0; d < kDim; ++d) EXPECT_NEAR((*got)[d], expected[d], 1e-6) << i << " " << d;
  }
  double sum = 0;
  const auto queries = Queries(50);
  for (const auto& qv : queries) {
    SearchQuery q;
    q.vector = qv;
    q.limit = 10;
    q.effort.exact = true;
    OracleQuery oq;
    oq.limit = 10;
    testing::ExpectSameAsOracle(b.index->Search(q).hits, b.decoded, qv.data(), oq);
    q.effort.exact = false;
    sum += testing::Recall(b.index->Search(q).hits, testing::BruteForceTopK(b.data, qv.data(), oq));
  }
  EXPECT_GE(sum / double(queries.size()), 0.98);
}

TEST(Sq8IndexTest, VectorsReadBackAreTheDecodedOnesOnceSealed) {
  const Built& b = Sq8();
  for (size_t i : {size_t{0}, size_t{1}, size_t{4321}, size_t{7999}}) {
    const auto got = b.index->VectorOf(TestId(i));
    ASSERT_TRUE(got.has_value());
    const auto expected = DecodedByDefinition(b.ranges, b.model.at(TestId(i)).vector);
    for (size_t d = 0; d < kDim; ++d) {
      EXPECT_NEAR((*got)[d], expected[d], 1e-6) << i << " " << d;
      const double half_step = (b.ranges.hi[d] - b.ranges.lo[d]) / 510.0;
      EXPECT_LE(std::fabs((*got)[d] - b.model.at(TestId(i)).vector[d]), half_step + 1e-6);
    }
  }
  size_t seen = 0;
  b.index->ForEachLive([&](const Uuid& id, EntityTypeCode, std::span<const float> vector) {
    if (id == TestId(4321)) {
      EXPECT_EQ(std::vector<float>(vector.begin(), vector.end()), *b.index->VectorOf(id));
    }
    ++seen;
  });
  EXPECT_EQ(seen, kRows);
}

TEST(Sq8IndexTest, AReplayedWriteKeepsItsSealedSlot) {
  testing::ExpectAReplayedWriteKeepsItsSealedSlot(VectorStorage::kSq8);
}

TEST(Sq8IndexTest, ATailIsAbsorbedInTheBaseRangesClampedAndSearchable) {
  IndexOptions options = Sq8Options();
  options.tail_absorb_rows = 500;
  Built b = Build(options, 6000);
  // The last new row is a unit vector (the index would normalize another) past the base's range
  // in its first two dimensions: clamped to the range's ends there.
  b.index->Apply(testing::NewStoredRows(b, 6000, 1000, [](std::vector<float>& v) {
                   std::fill(v.begin(), v.end(), 0.0f);
                   v[0] = 0.8f;
                   v[1] = -0.6f;
                 }),
                 2);
  ASSERT_GT(0.8, b.ranges.hi[0]);
  ASSERT_LT(-0.6, b.ranges.lo[1]);
  ASSERT_TRUE(b.index->NeedsRebuild());
  // The maintenance path: a tail past tail_absorb_rows is added to the graph (ExtendHnsw).
  ASSERT_TRUE(b.index->RebuildIfNeeded());
  ASSERT_EQ(b.index->Stats().tail, 0u);
  ASSERT_EQ(b.index->Stats().dead, 0u);
  b.data = testing::ToDataset(b.model, kDim);
  // Encoded in the base's ranges (the first build's rows), not retrained over the tail.
  b.decoded = DecodedDataset(b.model, b.ranges);
  for (size_t i : {size_t{6000}, size_t{6500}, size_t{6999}}) {
    const auto got = *b.index->VectorOf(TestId(i));
    const auto expected = DecodedByDefinition(b.ranges, b.model.at(TestId(i)).vector);
    for (size_t d = 0; d < kDim; ++d) EXPECT_NEAR(got[d], expected[d], 1e-6) << i << " " << d;
  }
  const auto clamped = *b.index->VectorOf(TestId(6999));
  EXPECT_NEAR(clamped[0], b.ranges.hi[0], (b.ranges.hi[0] - b.ranges.lo[0]) / 510.0 + 1e-6);
  EXPECT_NEAR(clamped[1], b.ranges.lo[1], (b.ranges.hi[1] - b.ranges.lo[1]) / 510.0 + 1e-6);
  for (size_t i : {size_t{6000}, size_t{6998}}) {
    const std::vector<float>& own = b.model.at(TestId(i)).vector;
    SearchQuery q;
    q.vector = own;
    q.limit = 10;
    q.effort.exact = true;
    OracleQuery oq;
    oq.limit = 10;
    testing::ExpectSameAsOracle(b.index->Search(q).hits, b.decoded, own.data(), oq);
    q.effort.exact = false;
    const SearchResult r = b.index->Search(q);
    ASSERT_FALSE(r.hits.empty());
    EXPECT_EQ(r.hits[0].entity_id, TestId(i));  // a row finds itself through the graph
  }
}

// A full rebuild (compaction) has only the decoded rows of sealed slots: it keeps their ranges,
// so every row reads back bit for bit as before, however many rebuilds run; a tail row past the
// ranges widens them, and reads back within half a step of the widened range.
TEST(Sq8IndexTest, FullRebuildsKeepTheDecodedRowsAndWidenTheRangesForTheTail) {
  Built b = Build(Sq8Options(), 6000);
  std::vector<std::vector<float>> before;
  for (size_t i = 0; i < 6000; i += 97) before.push_back(*b.index->VectorOf(TestId(i)));
  for (int round = 0; round < 3; ++round) {
    ASSERT_TRUE(b.index->Rebuild().ok());
    size_t k = 0;
    for (size_t i = 0; i < 6000; i += 97) {
      EXPECT_EQ(*b.index->VectorOf(TestId(i)), before[k++]) << "round " << round << " row " << i;
    }
  }
  std::vector<float> v(kDim, 0.0f);
  v[0] = 0.8f;
  v[1] = -0.6f;
  ASSERT_GT(v[0], b.ranges.hi[0]);
  ASSERT_LT(v[1], b.ranges.lo[1]);
  b.index->Apply(std::vector{testing::Upsert(TestId(9000), 0, v)}, 2);
  ASSERT_TRUE(b.index->Rebuild().ok());
  ASSERT_EQ(b.index->Stats().tail, 0u);
  const auto widened = *b.index->VectorOf(TestId(9000));
  EXPECT_NEAR(widened[0], 0.8f, (0.8 - b.ranges.lo[0]) / 510.0 + 1e-6);
  EXPECT_NEAR(widened[1], -0.6f, (b.ranges.hi[1] + 0.6) / 510.0 + 1e-6);
  // Dimensions the new row stayed within (its 0 inside the range) keep their range: the other
  // rows' components read back as before there.
  const auto row0 = *b.index->VectorOf(TestId(0));
  size_t kept = 0;
  for (size_t d = 2; d < kDim; ++d) {
    if (b.ranges.lo[d] > 0 || b.ranges.hi[d] < 0) continue;
    EXPECT_EQ(row0[d], before[0][d]) << d;
    ++kept;
  }
  EXPECT_GT(kept, kDim / 2);
}

// 3 bytes saved per component; the ranges (2 x dim floats) are added once.
TEST(Sq8IndexTest, StoresTheRowsInAQuarterOfTheirFp32Memory) {
  testing::ExpectRowsShrinkBy(VectorStorage::kSq8,
                              3000.0 * kDim * (sizeof(float) - 1) - 2.0 * kDim * sizeof(float));
}

// --- index files ----------------------------------------------------------------------------

// Offsets from the end of an index file of an HNSW structure with no tail: the end marker (8),
// the empty tail's count (8), the codes (8 + rows * dim), vdiff (8 + dim * 4), vmin (same).
constexpr size_t kCodesFromEnd = 8 + 8 + 8 + kRows * kDim;
constexpr size_t kVdiffFromEnd = kCodesFromEnd + kDim * sizeof(float);
constexpr size_t kVdiffCountFromEnd = kVdiffFromEnd + 8;

// The version field, rewritten, and the file's digest for the rewritten bytes.
FileDigest Rewrite(const std::string& path, std::string bytes, uint32_t version) {
  std::memcpy(bytes.data() + 8, &version, sizeof(version));
  testing::WriteAll(path, bytes);
  return FileDigest{bytes.size(), Crc32(bytes)};
}

TEST(Sq8IndexFileTest, AnSq8HnswRoundTripsWithIdenticalAnswers) {
  const Built& b = Sq8();
  testing::TempDir dir("vecmirror-sq8");
  const std::string path = dir.path + "/index.vmi";
  FileDigest digest;
  ASSERT_TRUE(WriteIndexFile(b.index->Capture(), path, &digest).ok());
  // The rows are stored as one byte a component: with the graph (about 300 bytes a node), the
  // file is below half the fp32 rows alone.
  EXPECT_LT(digest.bytes, kRows * kDim * sizeof(float) / 2);
  EXPECT_GT(digest.bytes, kRows * kDim);
  const std::string bytes = testing::ReadAll(path);
  uint32_t version = 0;
  std::memcpy(&version, bytes.data() + 8, sizeof(version));
  EXPECT_EQ(version, kIndexFileVersion);
  EXPECT_EQ(version, 3u);
  // The ranges sit just before the codes, as the layout says: vdiff's count is dim.
  uint64_t count = 0;
  std::memcpy(&count, bytes.data() + bytes.size() - kVdiffCountFromEnd, sizeof(count));
  EXPECT_EQ(count, kDim);

  IndexImage image;
  ASSERT_TRUE(ReadIndexFile(path, digest, 3, &image).ok());
  EXPECT_EQ(image.sealed->storage, VectorStorage::kSq8);
  std::unique_ptr<EntityIndex> restored;
  ASSERT_TRUE(EntityIndex::FromImage(std::move(image), Sq8Options(), &restored).ok());
  EXPECT_EQ(restored->Stats().memory_bytes, b.index->Stats().memory_bytes);
  EXPECT_EQ(*restored->VectorOf(TestId(5)), *b.index->VectorOf(TestId(5)));
  testing::ExpectSameAnswers(*b.index, *restored, Queries(20));
}

// A damaged range block whose checksum was made to match again is refused after the checksum:
// a negative width, a NaN, or a block of the wrong length.
TEST(Sq8IndexFileTest, ADamagedRangeBlockIsRefused) {
  const Built& b = Sq8();
  testing::TempDir dir("vecmirror-sq8");
  const std::string path = dir.path + "/index.vmi";
  FileDigest digest;
  ASSERT_TRUE(WriteIndexFile(b.index->Capture(), path, &digest).ok());
  const std::string good = testing::ReadAll(path);
  auto refused = [&](std::string bytes, const char* expected) {
    const FileDigest d = Rewrite(path, std::move(bytes), kIndexFileVersion);
    IndexImage image;
    const Status s = ReadIndexFile(path, d, 3, &image);
    EXPECT_FALSE(s.ok()) << expected;
    EXPECT_NE(s.message().find(expected), std::string::npos) << s.ToString();
  };
  const size_t vdiff_at = good.size() - kVdiffFromEnd;
  std::string bytes = good;
  const float negative = -0.25f;
  std::memcpy(bytes.data() + vdiff_at + 3 * sizeof(float), &negative, sizeof(float));
  refused(bytes, "SQ8 range of dimension 3");
  bytes = good;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::memcpy(bytes.data() + vdiff_at + 10 * sizeof(float), &nan, sizeof(float));
  refused(bytes, "SQ8 range of dimension 10");
  // vdiff one float short: the block no longer has dim values.
  bytes = good;
  const uint64_t short_count = kDim - 1;
  std::memcpy(bytes.data() + good.size() - kVdiffCountFromEnd, &short_count, sizeof(short_count));
  bytes.erase(vdiff_at, sizeof(float));
  refused(bytes, "SQ8 ranges of the wrong size");
  // The undamaged file still loads.
  const FileDigest d = Rewrite(path, good, kIndexFileVersion);
  IndexImage image;
  EXPECT_TRUE(ReadIndexFile(path, d, 3, &image).ok());
}

// A version 2 file (fp16 rows: the layout versions 2 and 3 share) still loads; an SQ8 storage
// byte is out of range in a version 2 file, which could not hold one.
TEST(Sq8IndexFileTest, AVersionTwoFileStillLoadsAndCannotClaimSq8) {
  IndexOptions fp16 = Sq8Options();
  fp16.storage = VectorStorage::kFp16;
  const Built b = Build(fp16, 5500);
  testing::TempDir dir("vecmirror-sq8");
  const std::string path = dir.path + "/index.vmi";
  FileDigest digest;
  ASSERT_TRUE(WriteIndexFile(b.index->Capture(), path, &digest).ok());
  const std::string bytes = testing::ReadAll(path);
  const FileDigest v2 = Rewrite(path, bytes, 2);
  IndexImage image;
  const Status s = ReadIndexFile(path, v2, 3, &image);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(image.sealed->storage, VectorStorage::kFp16);
  std::unique_ptr<EntityIndex> restored;
  ASSERT_TRUE(EntityIndex::FromImage(std::move(image), fp16, &restored).ok());
  testing::ExpectSameAnswers(*b.index, *restored, Queries(20));

  // magic (8), version (4), tenant (16), model (8 + size), dim (4), kind (1), then the storage.
  const size_t storage_at = 8 + 4 + 16 + 8 + Key().model.size() + 4 + 1;
  ASSERT_EQ(bytes[storage_at], char(VectorStorage::kFp16));
  std::string claims_sq8 = bytes;
  claims_sq8[storage_at] = char(VectorStorage::kSq8);
  const Status bad = ReadIndexFile(path, Rewrite(path, claims_sq8, 2), 3, &image);
  EXPECT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("header out of range"), std::string::npos) << bad.ToString();
  // A storage byte past the known ones is out of range in the current version too.
  std::string unknown = bytes;
  unknown[storage_at] = char(3);
  const Status bad3 = ReadIndexFile(path, Rewrite(path, unknown, kIndexFileVersion), 3, &image);
  EXPECT_NE(bad3.message().find("header out of range"), std::string::npos) << bad3.ToString();
}

}  // namespace
}  // namespace vecmirror
