// Huge pages under an HNSW structure (index/huge_pages.h, BackWithHugePages): the advice never
// changes an array's contents, ranges too small for a 2 MiB page are left alone, a collapse the
// kernel reports as done shows up as huge pages in /proc/self/smaps, and a built HNSW
// structure's rows are on huge pages wherever this kernel grants them.
#include <gtest/gtest.h>

#include <faiss/IndexHNSW.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "index/huge_pages.h"
#include "index/index_options.h"
#include "index/sealed_structure.h"

namespace vecmirror {
namespace {

constexpr size_t kMiB = size_t{1} << 20;

// KiB of huge pages in the mapping of /proc/self/smaps that holds `address`; -1 if none does.
long AnonHugeKibAt(const void* address) {
  const auto a = reinterpret_cast<uintptr_t>(address);
  std::ifstream smaps("/proc/self/smaps");
  bool inside = false;
  for (std::string line; std::getline(smaps, line);) {
    uintptr_t begin = 0, end = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx ", &begin, &end) == 2 && line.find('-') < 17) {
      inside = begin <= a && a < end;
      continue;
    }
    long kib = 0;
    if (inside && std::sscanf(line.c_str(), "AnonHugePages: %ld kB", &kib) == 1) return kib;
  }
  return -1;
}

std::vector<uint8_t> Pattern(size_t bytes) {
  std::vector<uint8_t> v(bytes);
  std::mt19937 rng(7);
  for (auto& b : v) b = uint8_t(rng());
  return v;
}

TEST(HugePages, AdviceKeepsContentsAndCollapsesWhereGranted) {
  const std::vector<uint8_t> expected = Pattern(16 * kMiB);
  std::vector<uint8_t> array = expected;
  const bool collapsed = AdviseHugePages(array.data(), array.size());
  EXPECT_EQ(array, expected);
  if (collapsed) {
    // The 2 MiB-aligned interior of 16 MiB holds at least 7 huge pages.
    EXPECT_GE(AnonHugeKibAt(array.data() + 8 * kMiB), long(7 * 2048));
  } else {
    std::printf("this kernel did not collapse the range (THP off or MADV_COLLAPSE missing)\n");
  }
}

TEST(HugePages, RangesUnderTwoHugePagesAreLeftAlone) {
  const std::vector<uint8_t> expected = Pattern(4 * kMiB);
  std::vector<uint8_t> array = expected;
  // One byte short of 4 MiB: never advised, whatever the kernel allows.
  EXPECT_FALSE(AdviseHugePages(array.data(), 4 * kMiB - 1));
  EXPECT_FALSE(AdviseHugePages(array.data(), 0));
  EXPECT_EQ(array, expected);
}

TEST(HugePages, HnswRowsAreOnHugePagesWhereGranted) {
  // Probe first: on a kernel that grants no huge pages there is nothing to expect.
  std::vector<uint8_t> probe = Pattern(16 * kMiB);
  if (!AdviseHugePages(probe.data(), probe.size())) {
    GTEST_SKIP() << "this kernel grants no huge pages to madvise(MADV_COLLAPSE)";
  }
  // 8,000 x 384 fp32 rows (11.7 MiB), in a small graph (M 8) that builds in seconds: only the
  // rows are over the 4 MiB that AdviseHugePages needs.
  constexpr size_t kRows = 8000, kDim = 384;
  std::mt19937 rng(11);
  std::normal_distribution<float> normal;
  std::vector<float> rows(kRows * kDim);
  for (float& x : rows) x = normal(rng);
  IndexOptions options;
  options.hnsw_m = 8;
  options.hnsw_ef_construction = 16;
  std::vector<uint32_t> order;
  const auto sealed =
      BuildSealed(IndexKind::kHnsw, rows, kRows, kDim, options, nullptr, &order);
  ASSERT_NE(sealed->vectors, nullptr);
  EXPECT_EQ(std::memcmp(sealed->vectors, rows.data(), rows.size() * sizeof(float)), 0);
  EXPECT_GE(AnonHugeKibAt(sealed->vectors + kRows * kDim / 2), 2048);
}

}  // namespace
}  // namespace vecmirror
