// An HNSW index with fp16 vector storage (IndexOptions::storage) against the fp32 Eigen oracle:
// exact searches return the oracle's ids except for ties within fp16 rounding, with
// similarities within 1e-3 of the fp32 ones; ANN recall@10 at default effort; half the rows'
// memory; vectors read back are the fp16-rounded ones; the tail and its absorption; replayed
// writes; and the snapshot round trip of an fp16 HNSW (plus a version 1 fp32 file still loading).
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "index/checksummed_file.h"
#include "index/entity_index.h"
#include "index/index_file.h"
#include "index/kernels.h"
#include "tests/support/index_test_util.h"
#include "tests/support/stored_index.h"
#include "tests/support/scratch_files.h"

namespace vecmirror {
namespace {

using testing::OracleQuery;
using testing::TestId;
using testing::VectorStream;

constexpr size_t kDim = testing::kStoredDim;
constexpr size_t kRows = testing::kStoredRows;
// An fp16 component of a unit vector is within 2^-12 of the float one (relative), so a dot
// product of unit vectors moves by far less than this.
constexpr float kFp16Tolerance = 1e-3f;

using Built = testing::StoredIndex;

IndexKey Key() { return testing::StoredKey(); }

IndexOptions Fp16Options() { return testing::HnswStoring(VectorStorage::kFp16); }

Built Build(const IndexOptions& options, size_t rows = kRows,
            const std::string& model = "test-model") {
  return testing::BuildStoredIndex(options, rows, model);
}

std::vector<std::vector<float>> Queries(size_t n) { return testing::StoredQueries(n); }

std::vector<float> Rounded(const std::vector<float>& v) {
  std::vector<uint16_t> h(v.size());
  std::vector<float> out(v.size());
  FloatsToHalves(v.data(), v.size(), h.data());
  HalvesToFloats(h.data(), h.size(), out.data());
  return out;
}

double Dot(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += double(a[i]) * b[i];
  return s;
}

// The fp32 oracle's top `limit`, position by position: each hit's fp32 similarity within
// kFp16Tolerance of the oracle's at that position (so a different id is a tie within fp16
// rounding), its reported similarity within kFp16Tolerance of its fp32 one, and no hit outside
// the oracle's best limit + 20.
void ExpectSameAsFp32Oracle(const std::vector<Hit>& hits, const Built& b,
                            const std::vector<float>& query, size_t limit, size_t* same_ids) {
  OracleQuery oq;
  oq.limit = limit;
  const auto truth = testing::BruteForceTopK(b.data, query.data(), oq);
  ASSERT_EQ(hits.size(), truth.size());
  oq.limit = limit + 20;
  const auto wider = testing::BruteForceTopK(b.data, query.data(), oq);
  for (size_t i = 0; i < hits.size(); ++i) {
    const double fp32 = Dot(b.model.at(hits[i].entity_id).vector, query);
    EXPECT_NEAR(hits[i].similarity, fp32, kFp16Tolerance) << "position " << i;
    EXPECT_NEAR(fp32, truth[i].similarity, kFp16Tolerance) << "position " << i << ": not a tie";
    const bool among = std::any_of(wider.begin(), wider.end(), [&](const testing::OracleHit& o) {
      return o.id == hits[i].entity_id;
    });
    EXPECT_TRUE(among) << "position " << i;
    if (hits[i].entity_id == truth[i].id) ++*same_ids;
  }
  testing::ExpectWellOrdered(hits);
}

const Built& Fp16() {
  static const Built built = Build(Fp16Options());
  return built;
}

TEST(Fp16IndexTest, ExactSearchesMatchTheFp32OracleUpToFp16Ties) {
  const Built& b = Fp16();
  ASSERT_EQ(b.index->Stats().kind, IndexKind::kHnsw);
  ASSERT_EQ(b.index->Stats().tail, 0u);
  size_t same = 0, total = 0;
  for (const auto& qv : Queries(30)) {
    SearchQuery q;
    q.vector = qv;
    q.limit = 10;
    q.effort.exact = true;
    const SearchResult r = b.index->Search(q);
    EXPECT_TRUE(r.exact);
    ExpectSameAsFp32Oracle(r.hits, b, qv, 10, &same);
    total += r.hits.size();
  }
  // Ties within fp16 rounding are rare: nearly every position holds the oracle's id.
  EXPECT_GE(double(same) / double(total), 0.95) << same << " of " << total;
}

TEST(Fp16IndexTest, AnnRecallAtDefaultEffortIsAtLeast098) {
  const Built& b = Fp16();
  double sum = 0;
  const auto queries = Queries(100);
  for (const auto& qv : queries) {
    SearchQuery q;
    q.vector = qv;
    q.limit = 10;
    const SearchResult r = b.index->Search(q);
    EXPECT_FALSE(r.exact);
    OracleQuery oq;
    oq.limit = 10;
    sum += testing::Recall(r.hits, testing::BruteForceTopK(b.data, qv.data(), oq));
    for (const Hit& h : r.hits) {
      EXPECT_NEAR(h.similarity, Dot(b.model.at(h.entity_id).vector, qv), kFp16Tolerance);
    }
  }
  const double recall = sum / double(queries.size());
  std::printf("  fp16 recall@10 = %.4f\n", recall);
  EXPECT_GE(recall, 0.98);
}

TEST(Fp16IndexTest, FiltersAndExclusionsStayExactUpToFp16Ties) {
  const Built& b = Fp16();
  for (const auto& qv : Queries(10)) {
    SearchQuery q;
    q.vector = qv;
    q.limit = 10;
    q.types = testing::MaskOf({1});
    const SearchResult r = b.index->Search(q);
    ASSERT_EQ(r.hits.size(), 10u);
    for (const Hit& h : r.hits) {
      EXPECT_EQ(h.type, 1);
      EXPECT_NEAR(h.similarity, Dot(b.model.at(h.entity_id).vector, qv), kFp16Tolerance);
    }
  }
}

// The rows shrink by exactly half.
TEST(Fp16IndexTest, HalvesTheRowsMemoryOfFp32) {
  testing::ExpectRowsShrinkBy(VectorStorage::kFp16,
                              3000.0 * kDim * (sizeof(float) - sizeof(uint16_t)));
}

// One set of options serves every model: an index takes its model's override, else the default.
TEST(Fp16IndexTest, EachModelGetsItsOwnStorage) {
  IndexOptions options = Fp16Options();
  options.storage = VectorStorage::kFp32;
  options.storage_by_model["compact-model"] = VectorStorage::kFp16;
  const Built exact = Build(options, 3000, "test-model");
  const Built compact = Build(options, 3000, "compact-model");
  EXPECT_EQ(exact.index->Stats().storage, VectorStorage::kFp32);
  EXPECT_EQ(compact.index->Stats().storage, VectorStorage::kFp16);
  const std::vector<float>& v = compact.model.at(TestId(17)).vector;
  EXPECT_EQ(*exact.index->VectorOf(TestId(17)), exact.model.at(TestId(17)).vector);
  EXPECT_EQ(*compact.index->VectorOf(TestId(17)), Rounded(v));
  EXPECT_LT(compact.index->Stats().memory_bytes, exact.index->Stats().memory_bytes * 0.6);
}

TEST(Fp16IndexTest, VectorsReadBackAreTheFp16RoundedOnesOnceSealed) {
  Built b = Build(Fp16Options(), 6000);
  for (size_t i : {size_t{0}, size_t{1}, size_t{4321}, size_t{5999}}) {
    const auto got = b.index->VectorOf(TestId(i));
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(*got, Rounded(b.model.at(TestId(i)).vector)) << i;
  }
  // A row in the tail is the one written, until a rebuild seals it.
  VectorStream gen(kDim, 50, 99);
  const std::vector<float> v = gen.Generate(1);
  b.index->Apply(std::vector{testing::Upsert(TestId(100000), 0, v)}, 2);
  ASSERT_EQ(b.index->Stats().tail, 1u);
  EXPECT_EQ(*b.index->VectorOf(TestId(100000)), v);
  ASSERT_TRUE(b.index->Rebuild().ok());
  EXPECT_EQ(b.index->Stats().tail, 0u);
  EXPECT_EQ(*b.index->VectorOf(TestId(100000)), Rounded(v));
  // ForEachLive reads the same as VectorOf.
  size_t seen = 0;
  b.index->ForEachLive([&](const Uuid& id, EntityTypeCode, std::span<const float> vector) {
    if (id == TestId(4321)) {
      EXPECT_EQ(std::vector<float>(vector.begin(), vector.end()),
                Rounded(b.model.at(id).vector));
    }
    ++seen;
  });
  EXPECT_EQ(seen, 6001u);
}

TEST(Fp16IndexTest, AReplayedWriteKeepsItsSealedSlot) {
  testing::ExpectAReplayedWriteKeepsItsSealedSlot(VectorStorage::kFp16);
}

TEST(Fp16IndexTest, AnAbsorbedTailIsStoredAsFp16AndSearchable) {
  IndexOptions options = Fp16Options();
  options.tail_absorb_rows = 500;
  Built b = Build(options, 6000);
  const size_t before = b.index->Stats().memory_bytes;
  b.index->Apply(testing::NewStoredRows(b, 6000, 1000), 2);
  ASSERT_TRUE(b.index->NeedsRebuild());
  ASSERT_TRUE(b.index->Rebuild().ok());
  ASSERT_EQ(b.index->Stats().tail, 0u);
  b.data = testing::ToDataset(b.model, kDim);
  // 1000 more rows at 2 bytes per component, not 4 (plus their graph links and slot entries).
  const size_t grown = b.index->Stats().memory_bytes - before;
  EXPECT_LT(grown, 1000 * kDim * sizeof(float));
  EXPECT_EQ(*b.index->VectorOf(TestId(6500)), Rounded(b.model.at(TestId(6500)).vector));
  size_t same = 0;
  for (size_t i : {size_t{6000}, size_t{6999}}) {
    const std::vector<float>& own = b.model.at(TestId(i)).vector;
    SearchQuery q;
    q.vector = own;
    q.limit = 10;
    q.effort.exact = true;
    ExpectSameAsFp32Oracle(b.index->Search(q).hits, b, own, 10, &same);
    q.effort.exact = false;
    const SearchResult r = b.index->Search(q);
    ASSERT_FALSE(r.hits.empty());
    EXPECT_EQ(r.hits[0].entity_id, TestId(i));  // a row finds itself through the graph
  }
}

// IndexOptions::hnsw_build_storage: the graph is built on compact rows (`build_on`), the rows
// are stored and searched as fp32. What is read back and what exact scans return is the fp32
// data exactly, and ANN hits carry their fp32 similarities; the graph's recall is that of a
// graph built on the compact rows.
void ExpectAGraphBuiltOnStoresAndSearchesTheFp32Rows(VectorStorage build_on) {
  IndexOptions options = Fp16Options();
  options.storage = VectorStorage::kFp32;
  options.hnsw_build_storage = build_on;
  const Built b = Build(options);
  ASSERT_EQ(b.index->Stats().kind, IndexKind::kHnsw);
  EXPECT_EQ(b.index->Stats().storage, VectorStorage::kFp32);
  for (size_t i : {size_t{0}, size_t{4321}, kRows - 1}) {
    EXPECT_EQ(*b.index->VectorOf(TestId(i)), b.model.at(TestId(i)).vector) << i;
  }
  double recall = 0;
  const auto queries = Queries(100);
  for (const auto& qv : queries) {
    OracleQuery oq;
    oq.limit = 10;
    const auto truth = testing::BruteForceTopK(b.data, qv.data(), oq);
    SearchQuery q;
    q.vector = qv;
    q.limit = 10;
    q.effort.exact = true;
    const SearchResult exact = b.index->Search(q);
    ASSERT_EQ(exact.hits.size(), truth.size());
    for (size_t i = 0; i < truth.size(); ++i) {
      EXPECT_EQ(exact.hits[i].entity_id, truth[i].id) << "position " << i;
      EXPECT_NEAR(exact.hits[i].similarity, truth[i].similarity, 1e-5) << "position " << i;
    }
    q.effort.exact = false;
    const SearchResult ann = b.index->Search(q);
    EXPECT_FALSE(ann.exact);
    recall += testing::Recall(ann.hits, truth);
    for (const Hit& h : ann.hits) {
      EXPECT_NEAR(h.similarity, Dot(b.model.at(h.entity_id).vector, qv), 1e-5);
    }
  }
  recall /= double(queries.size());
  std::printf("  recall@10 of a graph built on %s rows = %.4f\n", VectorStorageName(build_on),
              recall);
  EXPECT_GE(recall, 0.98);
  // The same memory as an fp32 build: the compact rows were dropped once the graph was built.
  options.hnsw_build_storage.reset();
  const Built plain = Build(options, kRows);
  EXPECT_NEAR(double(b.index->Stats().memory_bytes), double(plain.index->Stats().memory_bytes),
              0.02 * double(plain.index->Stats().memory_bytes));
}

TEST(Fp16IndexTest, AGraphBuiltOnFp16RowsStoresAndSearchesTheFp32Rows) {
  ExpectAGraphBuiltOnStoresAndSearchesTheFp32Rows(VectorStorage::kFp16);
}

// The same on SQ8 codes (ranges trained from the rows, code-to-code products in the pruning).
TEST(Fp16IndexTest, AGraphBuiltOnSq8CodesStoresAndSearchesTheFp32Rows) {
  ExpectAGraphBuiltOnStoresAndSearchesTheFp32Rows(VectorStorage::kSq8);
}

// An fp16 index whose graph is built on SQ8 codes stores the fp16-rounded rows, as a plain
// fp16 build does, and its exact and ANN answers are the fp16 rows' (within fp16 ties).
TEST(Fp16IndexTest, AGraphBuiltOnSq8CodesStoresAndSearchesTheFp16Rows) {
  IndexOptions options = Fp16Options();
  options.hnsw_build_storage = VectorStorage::kSq8;
  const Built b = Build(options);
  ASSERT_EQ(b.index->Stats().kind, IndexKind::kHnsw);
  EXPECT_EQ(b.index->Stats().storage, VectorStorage::kFp16);
  for (size_t i : {size_t{0}, size_t{4321}, kRows - 1}) {
    EXPECT_EQ(*b.index->VectorOf(TestId(i)), Rounded(b.model.at(TestId(i)).vector)) << i;
  }
  double recall = 0;
  size_t same = 0;
  const auto queries = Queries(100);
  for (const auto& qv : queries) {
    SearchQuery q;
    q.vector = qv;
    q.limit = 10;
    q.effort.exact = true;
    ExpectSameAsFp32Oracle(b.index->Search(q).hits, b, qv, 10, &same);
    q.effort.exact = false;
    const SearchResult ann = b.index->Search(q);
    OracleQuery oq;
    oq.limit = 10;
    recall += testing::Recall(ann.hits, testing::BruteForceTopK(b.data, qv.data(), oq));
    for (const Hit& h : ann.hits) {
      EXPECT_NEAR(h.similarity, Dot(Rounded(b.model.at(h.entity_id).vector), qv), 1e-5);
    }
  }
  recall /= double(queries.size());
  std::printf("  recall@10 of an fp16 index built on sq8 codes = %.4f\n", recall);
  EXPECT_GE(recall, 0.98);
  EXPECT_GE(same, queries.size() * 10 * 95 / 100);  // ids differ only at fp16 ties
}

TEST(Fp16IndexTest, AnFp16HnswRoundTripsThroughAnIndexFile) {
  const Built& b = Fp16();
  testing::TempDir dir("vecmirror-fp16");
  const std::string path = dir.path + "/index.vmi";
  FileDigest digest;
  ASSERT_TRUE(WriteIndexFile(b.index->Capture(), path, &digest).ok());
  // The rows are stored as halves: the file is about half an fp32 one's size.
  EXPECT_LT(digest.bytes, kRows * kDim * sizeof(float) * 7 / 10);
  EXPECT_GT(digest.bytes, kRows * kDim * sizeof(uint16_t));
  IndexImage image;
  ASSERT_TRUE(ReadIndexFile(path, digest, 3, &image).ok());
  EXPECT_EQ(image.sealed->storage, VectorStorage::kFp16);
  std::unique_ptr<EntityIndex> restored;
  ASSERT_TRUE(EntityIndex::FromImage(std::move(image), Fp16Options(), &restored).ok());
  EXPECT_EQ(restored->Stats().memory_bytes, b.index->Stats().memory_bytes);
  EXPECT_EQ(*restored->VectorOf(TestId(5)), *b.index->VectorOf(TestId(5)));
  testing::ExpectSameAnswers(*b.index, *restored, Queries(20));

  // A flipped byte among the stored halves is caught by the checksum.
  std::string bytes = testing::ReadAll(path);
  bytes[bytes.size() / 2] ^= 0x40;
  testing::WriteAll(path, bytes);
  IndexImage damaged;
  EXPECT_FALSE(ReadIndexFile(path, digest, 3, &damaged).ok());
}

// A file of format version 1 (no storage byte: fp32 rows) still loads as fp32.
TEST(Fp16IndexTest, AVersionOneFp32FileStillLoads) {
  IndexOptions options = Fp16Options();
  options.storage = VectorStorage::kFp32;
  const Built b = Build(options, 5500);
  testing::TempDir dir("vecmirror-fp16");
  const std::string path = dir.path + "/index.vmi";
  FileDigest digest;
  ASSERT_TRUE(WriteIndexFile(b.index->Capture(), path, &digest).ok());
  std::string bytes = testing::ReadAll(path);
  // magic (8), version (4), tenant (16), model (8 + size), dim (4), kind (1), then the storage.
  const size_t kind_at = 8 + 4 + 16 + 8 + Key().model.size() + 4;
  ASSERT_EQ(bytes[kind_at], char(IndexKind::kHnsw));
  ASSERT_EQ(bytes[kind_at + 1], char(VectorStorage::kFp32));
  bytes.erase(kind_at + 1, 1);
  const uint32_t version = 1;
  std::memcpy(bytes.data() + 8, &version, sizeof(version));
  testing::WriteAll(path, bytes);
  const FileDigest v1{bytes.size(), Crc32(bytes)};
  IndexImage image;
  const Status s = ReadIndexFile(path, v1, 3, &image);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(image.sealed->storage, VectorStorage::kFp32);
  std::unique_ptr<EntityIndex> restored;
  ASSERT_TRUE(EntityIndex::FromImage(std::move(image), options, &restored).ok());
  testing::ExpectSameAnswers(*b.index, *restored, Queries(20));
  EXPECT_EQ(*restored->VectorOf(TestId(9)), b.model.at(TestId(9)).vector);

  // An fp16 storage byte on a flat or IVF kind is out of range.
  bytes = testing::ReadAll(path);
  bytes.insert(kind_at + 1, 1, char(VectorStorage::kFp16));
  const uint32_t v2 = 2;
  std::memcpy(bytes.data() + 8, &v2, sizeof(v2));
  bytes[kind_at] = char(IndexKind::kFlat);
  testing::WriteAll(path, bytes);
  const Status bad = ReadIndexFile(path, FileDigest{bytes.size(), Crc32(bytes)}, 3, &image);
  EXPECT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("header out of range"), std::string::npos) << bad.ToString();
}

}  // namespace
}  // namespace vecmirror
