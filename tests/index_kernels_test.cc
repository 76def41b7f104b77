#include <faiss/impl/DistanceComputer.h>
#include <gtest/gtest.h>

#include <immintrin.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "index/fast_flat.h"
#include "index/half_flat.h"
#include "index/kernels.h"
#include "index/row_store.h"

namespace vecmirror {
namespace {

std::vector<float> RandomVector(size_t dim, std::mt19937& rng) {
  std::normal_distribution<float> gauss(0.0f, 1.0f);
  std::vector<float> v(dim);
  for (float& x : v) x = gauss(rng);
  return v;
}

double DotDouble(const float* a, const float* b, size_t dim) {
  double sum = 0;
  for (size_t i = 0; i < dim; ++i) sum += double(a[i]) * double(b[i]);
  return sum;
}

// Float accumulation error grows with the sum of |a_i b_i|; bound the error relative to it.
double Tolerance(const float* a, const float* b, size_t dim) {
  double magnitude = 0;
  for (size_t i = 0; i < dim; ++i) magnitude += std::fabs(double(a[i]) * double(b[i]));
  return 1e-5 * magnitude + 1e-6;
}

// Dimensions that exercise every loop of every variant: the unrolled body, the single-register
// loop, and the tails (masked or scalar), including sizes below one register.
const size_t kDims[] = {1, 3, 7, 8, 15, 16, 17, 31, 33, 63, 64, 65, 100, 127, 384, 1536, 3072};

TEST(KernelsTest, ScalarVariantIsAlwaysAvailableAndLast) {
  const auto variants = AvailableKernelVariants();
  ASSERT_FALSE(variants.empty());
  EXPECT_STREQ(variants.back().name, "scalar");
  EXPECT_STREQ(KernelVariantName(), variants.front().name);
}

TEST(KernelsTest, EveryVariantMatchesADoubleLoop) {
  std::mt19937 rng(7);
  for (const KernelVariant& variant : AvailableKernelVariants()) {
    for (size_t dim : kDims) {
      const auto a = RandomVector(dim, rng);
      const auto b = RandomVector(dim, rng);
      const double expected = DotDouble(a.data(), b.data(), dim);
      EXPECT_NEAR(variant.dot(a.data(), b.data(), dim), expected,
                  Tolerance(a.data(), b.data(), dim))
          << variant.name << " dim " << dim;
    }
  }
}

TEST(KernelsTest, EveryVariantDotManyMatchesRowByRow) {
  std::mt19937 rng(11);
  for (const KernelVariant& variant : AvailableKernelVariants()) {
    for (size_t dim : {5u, 16u, 100u, 1536u}) {
      const size_t n = 37;
      const auto query = RandomVector(dim, rng);
      const auto base = RandomVector(n * dim, rng);
      std::vector<float> out(n, std::numeric_limits<float>::quiet_NaN());
      variant.dot_many(query.data(), base.data(), n, dim, out.data());
      for (size_t i = 0; i < n; ++i) {
        const float* row = base.data() + i * dim;
        EXPECT_NEAR(out[i], DotDouble(query.data(), row, dim), Tolerance(query.data(), row, dim))
            << variant.name << " dim " << dim << " row " << i;
      }
    }
  }
}

TEST(KernelsTest, DispatchedFunctionsMatchADoubleLoop) {
  std::mt19937 rng(3);
  const size_t dim = 1536, n = 9;
  const auto query = RandomVector(dim, rng);
  const auto base = RandomVector(n * dim, rng);
  std::vector<float> out(n);
  DotProductMany(query.data(), base.data(), n, dim, out.data());
  for (size_t i = 0; i < n; ++i) {
    const float* row = base.data() + i * dim;
    const double expected = DotDouble(query.data(), row, dim);
    EXPECT_NEAR(out[i], expected, Tolerance(query.data(), row, dim));
    EXPECT_NEAR(DotProduct(query.data(), row, dim), expected, Tolerance(query.data(), row, dim));
  }
}

TEST(KernelsTest, NormalizeGivesUnitLengthAndKeepsDirection) {
  std::mt19937 rng(5);
  auto v = RandomVector(3072, rng);
  for (float& x : v) x *= 1000.0f;
  const auto original = v;
  ASSERT_TRUE(NormalizeInPlace(v));
  EXPECT_NEAR(DotDouble(v.data(), v.data(), v.size()), 1.0, 1e-6);
  const double cosine = DotDouble(v.data(), original.data(), v.size()) /
                        std::sqrt(DotDouble(original.data(), original.data(), v.size()));
  EXPECT_NEAR(cosine, 1.0, 1e-6);
}

// The largest and smallest floats: their squares fit a double, so both normalize without the
// sum overflowing or vanishing. 13 components: one past the vectorized loop's lanes, and more.
TEST(KernelsTest, NormalizeKeepsTheLargestAndSmallestFloats) {
  for (const float magnitude : {std::numeric_limits<float>::max(),
                                std::numeric_limits<float>::denorm_min()}) {
    std::vector<float> v(13, 0.0f);
    v[2] = magnitude;
    v[12] = -magnitude;  // in the tail the eight lanes leave
    ASSERT_TRUE(NormalizeInPlace(v)) << magnitude;
    EXPECT_FLOAT_EQ(v[2], static_cast<float>(1 / std::sqrt(2.0))) << magnitude;
    EXPECT_FLOAT_EQ(v[12], static_cast<float>(-1 / std::sqrt(2.0))) << magnitude;
    EXPECT_NEAR(DotDouble(v.data(), v.data(), v.size()), 1.0, 1e-6) << magnitude;
  }
}

TEST(KernelsTest, NormalizeRejectsZeroNanAndInfAndLeavesThemUnchanged) {
  std::vector<float> zero(8, 0.0f);
  EXPECT_FALSE(NormalizeInPlace(zero));
  EXPECT_EQ(zero, std::vector<float>(8, 0.0f));

  std::vector<float> with_nan = {1.0f, std::numeric_limits<float>::quiet_NaN(), 2.0f};
  EXPECT_FALSE(NormalizeInPlace(with_nan));
  EXPECT_EQ(with_nan[0], 1.0f);
  EXPECT_EQ(with_nan[2], 2.0f);

  std::vector<float> with_inf = {1.0f, std::numeric_limits<float>::infinity()};
  EXPECT_FALSE(NormalizeInPlace(with_inf));
  EXPECT_EQ(with_inf[0], 1.0f);

  // In the eight-wide loop's lanes as well as in its tail.
  for (size_t at : {0u, 7u, 8u, 9u}) {
    std::vector<float> v(10, 0.5f);
    v[at] = -std::numeric_limits<float>::infinity();
    EXPECT_FALSE(NormalizeInPlace(v)) << at;
    EXPECT_EQ(v[at == 0 ? 1 : 0], 0.5f) << at;
    v[at] = std::numeric_limits<float>::quiet_NaN();
    EXPECT_FALSE(NormalizeInPlace(v)) << at;
  }
}

TEST(FastFlatIPTest, DistanceComputerGivesInnerProducts) {
  std::mt19937 rng(13);
  const size_t dim = 1536, n = 20;
  const auto base = RandomVector(n * dim, rng);
  const auto query = RandomVector(dim, rng);
  FastFlatIP storage(dim);
  storage.add(n, base.data());
  std::unique_ptr<faiss::DistanceComputer> dis(storage.get_distance_computer());
  dis->set_query(query.data());
  for (size_t i = 0; i < n; ++i) {
    const float* row = base.data() + i * dim;
    EXPECT_NEAR((*dis)(i), DotDouble(query.data(), row, dim), Tolerance(query.data(), row, dim));
    const float* other = base.data() + ((i + 7) % n) * dim;
    EXPECT_NEAR(dis->symmetric_dis(i, (i + 7) % n), DotDouble(row, other, dim),
                Tolerance(row, other, dim));
  }
}

TEST(RowStoreTest, RowsKeepTheirValuesAndAddressesAcrossChunks) {
  const size_t dim = 3, n = 20000;  // past the geometric chunks (8,176 rows) into fixed ones
  RowStore store(dim);
  std::vector<const float*> addresses;
  for (size_t i = 0; i < n; ++i) {
    const float row[3] = {float(i), float(i) + 0.5f, -float(i)};
    store.Append(row);
    addresses.push_back(store.Row(i));
  }
  ASSERT_EQ(store.size(), n);
  for (size_t i = 0; i < n; ++i) {
    ASSERT_EQ(store.Row(i), addresses[i]) << i;
    ASSERT_EQ(store.Row(i)[0], float(i));
    ASSERT_EQ(store.Row(i)[2], -float(i));
  }
  EXPECT_GE(store.AllocatedBytes(), n * dim * sizeof(float));
}

TEST(RowStoreTest, ContiguousRunsCoverARangeExactlyOnce) {
  const size_t dim = 2;
  RowStore store(dim);
  for (size_t i = 0; i < 9000; ++i) {
    const float row[2] = {float(i), 0};
    store.Append(row);
  }
  for (auto [begin, end] : {std::pair<size_t, size_t>{0, 9000},
                            {5, 17},
                            {15, 16},
                            {4079, 8177},
                            {8176, 9000},
                            {100, 100}}) {
    size_t next = begin;
    store.ForEachContiguousRun(begin, end, [&](size_t first, size_t count, const float* rows) {
      ASSERT_EQ(first, next);
      ASSERT_GT(count, 0u);
      for (size_t j = 0; j < count; ++j) ASSERT_EQ(rows[j * dim], float(first + j));
      next += count;
    });
    EXPECT_EQ(next, end) << begin << ".." << end;
  }
}

// --- fp16 -------------------------------------------------------------------------------

float BitsToFloat(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

std::vector<uint16_t> Halves(const std::vector<float>& v) {
  std::vector<uint16_t> h(v.size());
  FloatsToHalves(v.data(), v.size(), h.data());
  return h;
}

TEST(HalfTest, EveryHalfWidensExactlyAndRoundTrips) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = HalfToFloat(uint16_t(h));
    const uint32_t exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
    if (exponent == 31 && mantissa != 0) {
      EXPECT_TRUE(std::isnan(f)) << h;
      EXPECT_TRUE(std::isnan(HalfToFloat(FloatToHalf(f)))) << h;
      continue;
    }
    // The value from the definition of binary16, in double.
    const double magnitude = exponent == 0    ? std::ldexp(double(mantissa), -24)
                             : exponent == 31 ? std::numeric_limits<double>::infinity()
                                              : std::ldexp(1024.0 + mantissa, int(exponent) - 25);
    const double expected = (h & 0x8000) ? -magnitude : magnitude;
    EXPECT_EQ(double(f), expected) << h;
    EXPECT_EQ(std::signbit(f), (h & 0x8000) != 0) << h;
    EXPECT_EQ(FloatToHalf(f), h) << h;
  }
}

// FloatToHalf against the definition: the nearest half (by value, in double), ties to the even
// mantissa; beyond the largest finite half by at least half an ulp, infinity.
TEST(HalfTest, FloatToHalfRoundsToNearestEven) {
  std::mt19937 rng(11);
  std::uniform_int_distribution<uint32_t> bits(0, 0xffffffffu);
  std::vector<float> samples = {0.0f, -0.0f, 65504.0f, 65519.99f, 65520.0f, 1e-8f, 2.98e-8f,
                                5.96e-8f, 6.1035156e-05f, 6.097555e-05f, 1.0f + 1.0f / 2048,
                                1.0f + 3.0f / 2048, -3.0f / 65536};
  for (int i = 0; i < 200000; ++i) {
    const float f = BitsToFloat(bits(rng));
    if (std::isfinite(f)) samples.push_back(f);
  }
  // The range half covers, densely: exponents 2^-26 .. 2^17.
  std::uniform_real_distribution<double> exponent(-26, 17);
  for (int i = 0; i < 200000; ++i) samples.push_back(float(std::exp2(exponent(rng))));
  for (const float f : samples) {
    const uint16_t h = FloatToHalf(f);
    const double got = HalfToFloat(h);
    if (std::fabs(double(f)) >= 65520.0) {
      EXPECT_TRUE(std::isinf(got) && std::signbit(got) == std::signbit(f)) << f;
      continue;
    }
    ASSERT_TRUE(std::isfinite(got)) << f;
    EXPECT_EQ(std::signbit(got), std::signbit(f)) << f;
    // The halves either side of h (same sign) are no nearer, and a tie goes to the even one.
    const double error = std::fabs(got - double(f));
    for (const int step : {-1, 1}) {
      const int magnitude = int(h & 0x7fff) + step;
      if (magnitude < 0 || magnitude > 0x7bff) continue;
      const double other = HalfToFloat(uint16_t((h & 0x8000) | magnitude));
      const double other_error = std::fabs(other - double(f));
      EXPECT_LE(error, other_error) << f;
      if (error == other_error) {
        EXPECT_EQ(h & 1, 0) << f;
      }
    }
  }
}

__attribute__((target("f16c"))) uint16_t HardwareHalf(float f) {
  return uint16_t(_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT));
}

TEST(HalfTest, FloatToHalfMatchesF16cWhereTheCpuHasIt) {
  if (!__builtin_cpu_supports("f16c")) GTEST_SKIP() << "no F16C on this CPU";
  std::mt19937 rng(12);
  std::uniform_int_distribution<uint32_t> bits(0, 0xffffffffu);
  for (int i = 0; i < 1000000; ++i) {
    const float f = BitsToFloat(bits(rng));
    if (std::isnan(f)) continue;
    ASSERT_EQ(FloatToHalf(f), HardwareHalf(f)) << f;
  }
}

// The array conversions (F16C where the CPU has it) agree with the scalar ones, at every length.
TEST(HalfTest, ArrayConversionsMatchTheScalarOnes) {
  std::mt19937 rng(16);
  std::uniform_int_distribution<uint32_t> bits(0, 0xffffffffu);
  for (size_t n : {size_t{0}, size_t{1}, size_t{7}, size_t{8}, size_t{9}, size_t{31}, size_t{1536}}) {
    std::vector<float> in(n);
    for (float& f : in) {
      do {
        f = BitsToFloat(bits(rng));
      } while (std::isnan(f));
      // Half of them moved into half's range (2^-26 .. 2^14), where the rounding matters.
      if (std::isnormal(f) && bits(rng) % 2) {
        f = std::ldexp(f, -std::ilogb(f) + int(bits(rng) % 40) - 26);
      }
    }
    std::vector<uint16_t> halves(n);
    FloatsToHalves(in.data(), n, halves.data());
    std::vector<float> widened(n);
    HalvesToFloats(halves.data(), n, widened.data());
    for (size_t i = 0; i < n; ++i) {
      EXPECT_EQ(halves[i], FloatToHalf(in[i])) << in[i];
      const float expected = HalfToFloat(halves[i]);
      EXPECT_EQ(std::memcmp(&widened[i], &expected, sizeof(float)), 0) << halves[i];
    }
  }
}

// Every variant against a double loop over the exactly widened halves.
TEST(KernelsTest, EveryF16VariantMatchesADoubleLoop) {
  std::mt19937 rng(13);
  for (const KernelVariant& variant : AvailableKernelVariants()) {
    for (size_t dim : kDims) {
      const auto q = RandomVector(dim, rng);
      const auto h = Halves(RandomVector(dim, rng));
      std::vector<float> widened(dim);
      HalvesToFloats(h.data(), dim, widened.data());
      const double expected = DotDouble(q.data(), widened.data(), dim);
      EXPECT_NEAR(variant.dot_f16(q.data(), h.data(), dim), expected,
                  Tolerance(q.data(), widened.data(), dim))
          << variant.name << " dim " << dim;
    }
  }
}

TEST(KernelsTest, EveryF16VariantDotManyMatchesRowByRow) {
  std::mt19937 rng(14);
  for (const KernelVariant& variant : AvailableKernelVariants()) {
    for (size_t dim : {size_t{1}, size_t{17}, size_t{33}, size_t{100}, size_t{1536}}) {
      const size_t n = 7;
      const auto q = RandomVector(dim, rng);
      const auto base = Halves(RandomVector(n * dim, rng));
      std::vector<float> out(n);
      variant.dot_many_f16(q.data(), base.data(), n, dim, out.data());
      for (size_t i = 0; i < n; ++i) {
        EXPECT_EQ(out[i], variant.dot_f16(q.data(), base.data() + i * dim, dim))
            << variant.name << " dim " << dim << " row " << i;
      }
    }
  }
  // The dispatched functions are the first variant's.
  const size_t dim = 65;
  const auto q = RandomVector(dim, rng);
  const auto h = Halves(RandomVector(dim, rng));
  EXPECT_EQ(DotProductF16(q.data(), h.data(), dim),
            AvailableKernelVariants().front().dot_f16(q.data(), h.data(), dim));
}

TEST(HalfFlatIPTest, StoresHalvesAndItsDistanceComputerGivesInnerProducts) {
  const size_t dim = 37, n = 5;
  std::mt19937 rng(15);
  const auto rows = RandomVector(n * dim, rng);
  HalfFlatIP storage(static_cast<faiss::Index::idx_t>(dim));
  storage.add(static_cast<faiss::Index::idx_t>(n), rows.data());
  ASSERT_EQ(storage.codes.size(), n * dim * sizeof(uint16_t));
  const auto halves = Halves(rows);
  EXPECT_EQ(std::memcmp(storage.halves(), halves.data(), halves.size() * 2), 0);
  std::vector<float> widened(n * dim);
  HalvesToFloats(halves.data(), n * dim, widened.data());
  std::vector<float> reconstructed(dim);
  storage.reconstruct(3, reconstructed.data());
  EXPECT_EQ(std::vector<float>(widened.begin() + 3 * dim, widened.begin() + 4 * dim), reconstructed);

  const auto q = RandomVector(dim, rng);
  std::unique_ptr<faiss::FlatCodesDistanceComputer> dis(storage.get_FlatCodesDistanceComputer());
  dis->set_query(q.data());
  for (size_t i = 0; i < n; ++i) {
    const float* row = widened.data() + i * dim;
    EXPECT_NEAR((*dis)(faiss::Index::idx_t(i)), DotDouble(q.data(), row, dim),
                Tolerance(q.data(), row, dim));
    for (size_t j = 0; j < n; ++j) {
      const float* other = widened.data() + j * dim;
      EXPECT_NEAR(dis->symmetric_dis(faiss::Index::idx_t(i), faiss::Index::idx_t(j)),
                  DotDouble(row, other, dim), Tolerance(row, other, dim));
    }
  }
}

}  // namespace
}  // namespace vecmirror
