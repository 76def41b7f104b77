// What the compact-storage suites (index_fp16_test, index_sq8_test) share: an HNSW index of
// clustered 384-d rows built in one rebuild with a given storage, the rows as written for the
// oracle, queries from the same clusters, rows appended to grow a tail, and the checks that do
// not depend on how the storage rounds.
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "index/entity_index.h"
#include "tests/support/index_test_util.h"

namespace vecmirror::testing {

constexpr size_t kStoredDim = 384;
constexpr size_t kStoredRows = 8000;

inline IndexKey StoredKey(const std::string& model = "test-model") {
  return IndexKey{Uuid{}, model, uint32_t(kStoredDim)};
}

inline IndexOptions HnswStoring(VectorStorage storage) {
  IndexOptions options;
  options.forced_kind = IndexKind::kHnsw;
  options.storage = storage;
  return options;
}

struct StoredIndex {
  std::unique_ptr<EntityIndex> index;
  Model model;   // what was written (fp32)
  Dataset data;  // `model` for the Eigen oracle
};

// Rows 0..rows-1 (type i % 3), written and sealed by one rebuild.
inline StoredIndex BuildStoredIndex(const IndexOptions& options, size_t rows = kStoredRows,
                                    const std::string& model = "test-model") {
  StoredIndex b;
  b.index = std::make_unique<EntityIndex>(StoredKey(model), options);
  VectorStream gen(kStoredDim, 50, 7);
  std::vector<IndexWrite> writes;
  std::vector<float> v(kStoredDim);
  for (size_t i = 0; i < rows; ++i) {
    gen.Next(v.data());
    writes.push_back(Upsert(TestId(i), EntityTypeCode(i % 3), v));
    b.model[TestId(i)] = {EntityTypeCode(i % 3), v};
  }
  b.index->Apply(writes, 1);
  EXPECT_TRUE(b.index->Rebuild().ok());
  b.data = ToDataset(b.model, kStoredDim);
  return b;
}

// Queries from the rows' clusters, none of them a row.
inline std::vector<std::vector<float>> StoredQueries(size_t n) {
  VectorStream gen(kStoredDim, 50, 7);
  gen.Skip(kStoredRows);
  std::vector<std::vector<float>> out(n, std::vector<float>(kStoredDim));
  for (auto& q : out) gen.Next(q.data());
  return out;
}

// `count` new rows of type 0 from the same clusters, ids first..first+count-1, added to the
// model (`data` is left for the caller to refresh); `last` may rewrite the last one first.
inline std::vector<IndexWrite> NewStoredRows(
    StoredIndex& b, size_t first, size_t count,
    const std::function<void(std::vector<float>&)>& last = {}) {
  VectorStream gen(kStoredDim, 50, 7);
  gen.Skip(20000);
  std::vector<IndexWrite> writes;
  std::vector<float> v(kStoredDim);
  for (size_t i = 0; i < count; ++i) {
    gen.Next(v.data());
    if (last && i + 1 == count) last(v);
    writes.push_back(Upsert(TestId(first + i), 0, v));
    b.model[TestId(first + i)] = {0, v};
  }
  return writes;
}

// A replayed write (the same vector again) matches the row it was sealed as, however the
// storage rounded it: no tombstone, no tail. A different vector is an update: the sealed slot
// is tombstoned and the row goes to the tail.
inline void ExpectAReplayedWriteKeepsItsSealedSlot(VectorStorage storage) {
  StoredIndex b = BuildStoredIndex(HnswStoring(storage), 6000);
  const std::vector<float>& sealed = b.model.at(TestId(7)).vector;
  b.index->Apply(std::vector{Upsert(TestId(7), EntityTypeCode(7 % 3), sealed)}, 2);
  EXPECT_EQ(b.index->Stats().dead, 0u);
  EXPECT_EQ(b.index->Stats().tail, 0u);
  VectorStream gen(kStoredDim, 50, 98);
  b.index->Apply(std::vector{Upsert(TestId(7), EntityTypeCode(7 % 3), gen.Generate(1))}, 3);
  EXPECT_EQ(b.index->Stats().dead, 1u);
  EXPECT_EQ(b.index->Stats().tail, 1u);
}

// The storage's memory against fp32's for the same 3,000 rows: fp32 bytes - storage bytes is
// `saved` within 2% (the graphs and slot tables are the same size, within their slack).
inline void ExpectRowsShrinkBy(VectorStorage storage, double saved) {
  IndexOptions fp32 = HnswStoring(VectorStorage::kFp32);
  const size_t full = BuildStoredIndex(fp32, 3000).index->Stats().memory_bytes;
  const size_t compact =
      BuildStoredIndex(HnswStoring(storage), 3000).index->Stats().memory_bytes;
  std::printf("  fp32 %zu bytes, %s %zu bytes\n", full, VectorStorageName(storage), compact);
  EXPECT_NEAR(double(full - compact), saved, 0.02 * saved);
}

}  // namespace vecmirror::testing
