#include <faiss/impl/DistanceComputer.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "index/fast_flat.h"
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

}  // namespace
}  // namespace vecmirror
