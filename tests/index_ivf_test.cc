// The IVF structure, which keeps each row once: its slots are numbered list by list, so the
// inverted lists are runs of one array. Checked against the Eigen oracle and against an
// independent IVF (the probed lists computed here from the centroids, the rows scanned with
// Eigen); its memory (rows once, plus centroids and list offsets); and the loading of a version 2
// index file (lists with ids, then a flat copy by slot), written here by hand as that version did.
#include <faiss/IndexFlat.h>
#include <faiss/IndexIVFFlat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <Eigen/Dense>
#include <cstring>
#include <filesystem>
#include <functional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "index/checksummed_file.h"
#include "index/entity_index.h"
#include "index/index_file.h"
#include "tests/support/index_test_util.h"

namespace vecmirror {
namespace {

namespace fs = std::filesystem;
using testing::Dataset;
using testing::ExpectSameAsOracle;
using testing::MaskOf;
using testing::Model;
using testing::ModelRow;
using testing::OracleQuery;
using testing::TestId;
using testing::VectorStream;

constexpr size_t kDim = 64;

IndexKey Key() { return IndexKey{TestId(77), "ivf-model", uint32_t(kDim)}; }

EntityTypeCode TypeOf(size_t i) { return EntityTypeCode(i % 7 == 0 ? 1 : i % 7 == 1 ? 2 : 0); }

SearchQuery QueryOf(const std::vector<float>& v, size_t limit = 10) {
  SearchQuery q;
  q.vector = v;
  q.limit = limit;
  return q;
}

std::vector<std::vector<float>> Queries(VectorStream& gen, size_t n) {
  std::vector<std::vector<float>> out(n, std::vector<float>(gen.dim()));
  for (auto& q : out) gen.Next(q.data());
  return out;
}

// An IVF index of `rows` rows (ids TestId(0..rows-1), types TypeOf), then tombstones (every
// 11th row removed, every 13th updated to a fresh vector: both leave dead sealed slots) and a
// tail of 150 new rows; `model` gets what it should hold.
std::unique_ptr<EntityIndex> BuildIvf(size_t rows, Model& model, VectorStream& gen) {
  IndexOptions options;
  options.forced_kind = IndexKind::kIvf;
  auto index = std::make_unique<EntityIndex>(Key(), options);
  std::vector<IndexWrite> writes;
  std::vector<float> v(kDim);
  for (size_t i = 0; i < rows; ++i) {
    gen.Next(v.data());
    writes.push_back(testing::Upsert(TestId(i), TypeOf(i), v));
    model[TestId(i)] = {TypeOf(i), v};
  }
  index->Apply(writes, 1);
  EXPECT_TRUE(index->Rebuild(IndexKind::kIvf).ok());
  writes.clear();
  for (size_t i = 0; i < rows; i += 11) {
    writes.push_back(testing::Remove(TestId(i)));
    model.erase(TestId(i));
  }
  for (size_t i = 5; i < rows; i += 13) {
    if (!model.contains(TestId(i))) continue;
    gen.Next(v.data());
    writes.push_back(testing::Upsert(TestId(i), TypeOf(i), v));
    model[TestId(i)] = {TypeOf(i), v};
  }
  for (size_t i = rows; i < rows + 150; ++i) {
    gen.Next(v.data());
    writes.push_back(testing::Upsert(TestId(i), TypeOf(i), v));
    model[TestId(i)] = {TypeOf(i), v};
  }
  index->Apply(writes, 2);
  return index;
}

// The allowed rows of the lists that an IVF over `image`'s centroids probes for `query`
// (the `nprobe` highest-scoring centroids, computed with Eigen), plus the tail: a Dataset to
// run the oracle on. False if the nprobe-th and the next centroid score within `kTie` (either
// list could be probed then).
bool ProbedRows(const IndexImage& image, const Model& model, const float* query, size_t nprobe,
                Dataset* probed) {
  constexpr double kTie = 1e-5;
  const SealedStructure& sealed = *image.sealed;
  const size_t nlist = sealed.ivf_nlist;
  const Eigen::Map<const Eigen::MatrixXf> centroids(
      reinterpret_cast<const float*>(sealed.ivf_quantizer->codes.data()), kDim,
      Eigen::Index(nlist));
  const Eigen::VectorXd scores = centroids.cast<double>().transpose() *
                                 Eigen::Map<const Eigen::VectorXf>(query, kDim).cast<double>();
  std::vector<size_t> lists(nlist);
  for (size_t l = 0; l < nlist; ++l) lists[l] = l;
  std::sort(lists.begin(), lists.end(), [&](size_t a, size_t b) { return scores[a] > scores[b]; });
  if (nprobe < nlist && scores[lists[nprobe - 1]] - scores[lists[nprobe]] < kTie) return false;
  std::vector<Uuid> ids;
  for (size_t p = 0; p < nprobe; ++p) {
    for (uint64_t slot = sealed.ivf_list_begin[lists[p]];
         slot < sealed.ivf_list_begin[lists[p] + 1]; ++slot) {
      if (image.live[slot]) ids.push_back(image.ids[slot]);
    }
  }
  for (size_t slot = sealed.rows; slot < image.slots(); ++slot) {
    if (image.live[slot]) ids.push_back(image.ids[slot]);
  }
  Model subset;
  for (const Uuid& id : ids) subset[id] = model.at(id);
  *probed = testing::ToDataset(subset, kDim);
  return true;
}

TEST(IvfTest, EachRowIsInTheListOfItsNearestCentroid) {
  VectorStream gen(kDim, 30, 3);
  Model model;
  const auto index = BuildIvf(4000, model, gen);
  const IndexImage image = index->Capture();
  const SealedStructure& sealed = *image.sealed;
  ASSERT_EQ(sealed.kind, IndexKind::kIvf);
  ASSERT_EQ(sealed.rows, 4000u);
  ASSERT_EQ(sealed.ivf_list_begin.size(), sealed.ivf_nlist + 1);
  EXPECT_EQ(sealed.ivf_list_begin.front(), 0u);
  EXPECT_EQ(sealed.ivf_list_begin.back(), sealed.rows);
  const Eigen::Map<const Eigen::MatrixXf> centroids(
      reinterpret_cast<const float*>(sealed.ivf_quantizer->codes.data()), kDim,
      Eigen::Index(sealed.ivf_nlist));
  size_t checked = 0;
  for (size_t list = 0; list < sealed.ivf_nlist; ++list) {
    ASSERT_LE(sealed.ivf_list_begin[list], sealed.ivf_list_begin[list + 1]);
    for (uint64_t slot = sealed.ivf_list_begin[list]; slot < sealed.ivf_list_begin[list + 1];
         ++slot) {
      // The slot's row is the vector its entity was written with (live slots: the model's).
      const float* row = sealed.vectors + slot * kDim;
      if (image.live[slot]) {
        const ModelRow& expected = model.at(image.ids[slot]);
        ASSERT_EQ(std::memcmp(row, expected.vector.data(), kDim * sizeof(float)), 0) << slot;
        EXPECT_EQ(image.types[slot], expected.type);
      }
      const Eigen::VectorXf scores =
          centroids.transpose() * Eigen::Map<const Eigen::VectorXf>(row, kDim);
      Eigen::Index best = 0;
      scores.maxCoeff(&best);
      EXPECT_NEAR(scores[Eigen::Index(list)], scores[best], 1e-5) << "slot " << slot;
      ++checked;
    }
  }
  EXPECT_EQ(checked, sealed.rows);
  // The rebuild renumbered the slots: every id still finds its own vector.
  for (const auto& [id, row] : model) {
    const auto v = index->VectorOf(id);
    ASSERT_TRUE(v.has_value());
    EXPECT_EQ(*v, row.vector);
  }
}

TEST(IvfTest, AnswersAreTheProbedListsTopKAndEveryListIsExact) {
  VectorStream gen(kDim, 30, 3);
  Model model;
  const auto index = BuildIvf(6000, model, gen);
  const IndexImage image = index->Capture();
  const size_t nlist = image.sealed->ivf_nlist;
  const Dataset all = testing::ToDataset(model, kDim);
  size_t compared = 0;
  for (const auto& qv : Queries(gen, 30)) {
    for (const size_t nprobe : {size_t{2}, size_t{8}, nlist}) {
      SearchQuery q = QueryOf(qv);
      q.effort.nprobe = int(nprobe);
      const SearchResult r = index->Search(q);
      if (r.exact) {
        // The probed lists held fewer than k allowed rows: the exact scan answered instead.
        EXPECT_LT(nprobe, nlist);
        ExpectSameAsOracle(r.hits, all, qv.data(), OracleQuery{});
        continue;
      }
      Dataset probed;
      if (!ProbedRows(image, model, qv.data(), nprobe, &probed)) continue;
      ExpectSameAsOracle(r.hits, probed, qv.data(), OracleQuery{});
      ++compared;
    }
    // Every list probed, filtered by type and with an entity left out: the exact answer.
    SearchQuery q = QueryOf(qv, 20);
    q.effort.nprobe = int(nlist);
    q.types = MaskOf({0, 2});
    q.exclude = TestId(3);
    OracleQuery oq;
    oq.limit = 20;
    oq.types = std::vector<uint8_t>{0, 2};
    oq.exclude = TestId(3);
    ExpectSameAsOracle(index->Search(q).hits, all, qv.data(), oq);
    // A rare type, and the exact scan asked for: exact too.
    q = QueryOf(qv, 10);
    q.types = MaskOf({2});
    oq = OracleQuery{};
    oq.types = std::vector<uint8_t>{2};
    ExpectSameAsOracle(index->Search(q).hits, all, qv.data(), oq);
    q = QueryOf(qv, 10);
    q.effort.exact = true;
    const SearchResult exact = index->Search(q);
    EXPECT_TRUE(exact.exact);
    ExpectSameAsOracle(exact.hits, all, qv.data(), OracleQuery{});
  }
  EXPECT_GE(compared, 60u) << "too many centroid ties or exact fallbacks to compare";
}

TEST(IvfTest, MemoryIsTheRowsOncePlusCentroidsAndListOffsets) {
  // The same rows as a flat and as an IVF index: the IVF index adds only its centroids and list
  // offsets (it added a second copy of every row and an 8-byte id before).
  constexpr size_t kRows = 5000;
  constexpr size_t kWideDim = 256;
  VectorStream gen(kWideDim, 30, 9);
  std::vector<IndexWrite> writes;
  std::vector<float> v(kWideDim);
  for (size_t i = 0; i < kRows; ++i) {
    gen.Next(v.data());
    writes.push_back(testing::Upsert(TestId(i), 0, v));
  }
  IndexKey key = Key();
  key.dim = kWideDim;
  EntityIndex flat(key, IndexOptions{});
  EntityIndex ivf(key, IndexOptions{});
  flat.Apply(writes, 1);
  ivf.Apply(writes, 1);
  ASSERT_TRUE(flat.Rebuild(IndexKind::kFlat).ok());
  ASSERT_TRUE(ivf.Rebuild(IndexKind::kIvf).ok());
  ASSERT_EQ(ivf.Stats().kind, IndexKind::kIvf);
  const size_t nlist = ivf.Capture().sealed->ivf_nlist;
  ASSERT_GT(nlist, 1u);
  const size_t raw = kRows * kWideDim * sizeof(float);
  const size_t flat_bytes = flat.Stats().memory_bytes;
  const size_t ivf_bytes = ivf.Stats().memory_bytes;
  const size_t centroids = nlist * kWideDim * sizeof(float);
  const size_t offsets = (nlist + 1) * sizeof(uint64_t);
  EXPECT_GE(flat_bytes, raw);
  ASSERT_GE(ivf_bytes, flat_bytes + centroids + offsets);
  EXPECT_LE(ivf_bytes - flat_bytes, centroids + offsets + 1024) << "more than one copy per row";
  // Per row: the raw vector, the slot tables (id, type, live flag, the id's map entry) and the
  // row's share of the centroids and offsets. A second copy would add kWideDim * 4 + 8 bytes.
  const double per_row = double(ivf_bytes) / double(kRows);
  const double raw_row = double(kWideDim * sizeof(float));
  const double centroid_share = double(centroids + offsets) / double(kRows);
  std::printf("  IVF: %.0f B per row, raw %.0f, centroids and offsets %.0f per row\n", per_row,
              raw_row, centroid_share);
  EXPECT_LT(per_row, raw_row + centroid_share + 128);
}

// ---- Version 2 index files ---------------------------------------------------------------------

// A fresh directory for one test, removed afterwards.
class TempDir {
 public:
  TempDir() {
    path_ = fs::path(::testing::TempDir()) / ("vecmirror-ivf-" + std::to_string(getpid()));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string File(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

// What a version 2 IVF index file holds: the slots, a FAISS IndexIVFFlat over the sealed ones
// (list ids = slots), the flat copy of the sealed rows by slot, and the tail.
struct Version2Ivf {
  std::vector<Uuid> ids;
  std::vector<EntityTypeCode> types;
  std::vector<uint8_t> live;
  size_t live_count = 0;
  size_t sealed_rows = 0;
  std::vector<float> flat;  // sealed_rows x kDim
  std::vector<float> tail;  // (slots - sealed_rows) x kDim
  std::unique_ptr<faiss::IndexFlatIP> quantizer;
  std::unique_ptr<faiss::IndexIVFFlat> ivf;
  size_t nprobe = 0;
};

// The file as version 2's WriteIndexFile and WriteIvf wrote it. `corrupt_list_id`: the first
// id of the first non-empty list is written as `*corrupt_list_id`. `corrupt_flat`: the flat copy's
// first float is changed.
FileDigest WriteVersion2(const Version2Ivf& f, const std::string& path,
                         std::optional<int64_t> corrupt_list_id = std::nullopt,
                         bool corrupt_flat = false) {
  const char magic[8] = {'V', 'M', 'I', 'N', 'D', 'E', 'X', '\n'};
  const IndexKey key = Key();
  ChecksummedFileWriter out;
  EXPECT_TRUE(out.Create(path).ok());
  out.PutRaw(magic, sizeof(magic));
  out.Put<uint32_t>(2);
  out.PutRaw(key.tenant_id.bytes.data(), key.tenant_id.bytes.size());
  out.PutString(key.model);
  out.Put<uint32_t>(key.dim);
  out.Put<uint8_t>(2);    // IVF
  out.Put<uint8_t>(0);    // fp32
  out.Put<uint8_t>(2);    // pinned to IVF
  out.Put<uint64_t>(42);  // covered LSN
  out.Put<uint64_t>(f.ids.size());
  out.Put<uint64_t>(f.sealed_rows);
  out.Put<uint64_t>(f.live_count);
  out.PutArray(f.ids);
  out.PutArray(f.types);
  out.PutArray(f.live);
  // The sealed structure.
  out.Put<uint64_t>(f.sealed_rows);
  out.Put<uint64_t>(size_t(f.ivf->nlist));
  out.Put<uint64_t>(f.nprobe);
  out.PutArray(f.quantizer->codes);
  bool corrupted = false;
  for (size_t list = 0; list < f.ivf->nlist; ++list) {
    const size_t n = f.ivf->invlists->list_size(list);
    std::vector<faiss::Index::idx_t> ids(f.ivf->invlists->get_ids(list),
                                         f.ivf->invlists->get_ids(list) + n);
    if (corrupt_list_id && n > 0 && !corrupted) {
      ids[0] = *corrupt_list_id;
      corrupted = true;
    }
    out.PutArray(ids);
    out.PutArray(std::span<const uint8_t>(f.ivf->invlists->get_codes(list),
                                          n * f.ivf->code_size));
  }
  std::vector<float> flat = f.flat;
  if (corrupt_flat) flat[0] += 0.5f;
  out.PutArray(flat);
  out.PutArray(f.tail);
  out.PutRaw(magic, sizeof(magic));
  FileDigest digest;
  EXPECT_TRUE(out.Finish(&digest).ok());
  return digest;
}

// 3000 sealed slots (every 9th dead; slot 4's entity lives on in the tail), 40 lists, and a
// tail of 100 slots; `model` gets the live rows.
Version2Ivf MakeVersion2(Model& model) {
  VectorStream gen(kDim, 30, 5);
  Version2Ivf f;
  f.sealed_rows = 3000;
  const size_t slots = f.sealed_rows + 100;
  f.flat = gen.Generate(f.sealed_rows);
  f.tail = gen.Generate(slots - f.sealed_rows);
  for (size_t slot = 0; slot < slots; ++slot) {
    const Uuid id = slot == f.sealed_rows + 7 ? TestId(4) : TestId(slot);
    f.ids.push_back(id);
    f.types.push_back(TypeOf(slot));
    const bool live = slot >= f.sealed_rows || (slot % 9 != 0 && slot != 4);
    f.live.push_back(live ? 1 : 0);
    if (!live) continue;
    ++f.live_count;
    const float* row = slot < f.sealed_rows ? f.flat.data() + slot * kDim
                                            : f.tail.data() + (slot - f.sealed_rows) * kDim;
    model[id] = {TypeOf(slot), std::vector<float>(row, row + kDim)};
  }
  f.quantizer = std::make_unique<faiss::IndexFlatIP>(kDim);
  f.ivf = std::make_unique<faiss::IndexIVFFlat>(f.quantizer.get(), kDim, 40,
                                                faiss::METRIC_INNER_PRODUCT);
  f.ivf->cp.spherical = true;
  f.ivf->cp.niter = 10;
  f.ivf->train(faiss::Index::idx_t(f.sealed_rows), f.flat.data());
  f.ivf->add(faiss::Index::idx_t(f.sealed_rows), f.flat.data());
  f.nprobe = 8;
  return f;
}

TEST(IvfTest, Version2FileLoadsIntoTheOneCopyLayout) {
  TempDir dir;
  Model model;
  const Version2Ivf v2 = MakeVersion2(model);
  const std::string path = dir.File("v2.index");
  const FileDigest digest = WriteVersion2(v2, path);

  IndexImage image;
  ASSERT_TRUE(ReadIndexFile(path, digest, 3, &image).ok());
  ASSERT_EQ(image.kind, IndexKind::kIvf);
  ASSERT_EQ(image.sealed->rows, v2.sealed_rows);
  ASSERT_EQ(image.sealed->ivf_nlist, 40u);
  EXPECT_EQ(image.sealed->ivf_default_nprobe, v2.nprobe);
  // The sealed slots now follow the lists: list l's rows are slots [begin[l], begin[l + 1]).
  for (size_t list = 0; list < 40; ++list) {
    const uint64_t begin = image.sealed->ivf_list_begin[list];
    ASSERT_EQ(image.sealed->ivf_list_begin[list + 1] - begin, v2.ivf->invlists->list_size(list));
    const faiss::Index::idx_t* old_slots = v2.ivf->invlists->get_ids(list);
    for (size_t i = 0; i < v2.ivf->invlists->list_size(list); ++i) {
      const size_t old_slot = size_t(old_slots[i]);
      EXPECT_EQ(image.ids[begin + i], v2.ids[old_slot]);
      EXPECT_EQ(image.types[begin + i], v2.types[old_slot]);
      EXPECT_EQ(image.live[begin + i], v2.live[old_slot]);
      EXPECT_EQ(std::memcmp(image.sealed->vectors + (begin + i) * kDim,
                            v2.flat.data() + old_slot * kDim, kDim * sizeof(float)),
                0);
    }
  }
  // The tail keeps its slots.
  for (size_t slot = v2.sealed_rows; slot < v2.ids.size(); ++slot) {
    EXPECT_EQ(image.ids[slot], v2.ids[slot]);
  }

  // An index this small is scanned exactly by default; these options make it probe its lists.
  IndexOptions probing;
  probing.exact_max_allowed_rows = 100;
  probing.exact_max_allowed_share = 0.01;
  std::unique_ptr<EntityIndex> index;
  ASSERT_TRUE(EntityIndex::FromImage(std::move(image), probing, &index).ok());
  const IndexStats stats = index->Stats();
  EXPECT_EQ(stats.kind, IndexKind::kIvf);
  EXPECT_EQ(stats.live, model.size());
  EXPECT_EQ(stats.tail, 100u);
  EXPECT_EQ(stats.covered_lsn, 42u);
  // One copy of the rows: raw rows + slot tables + 40 centroids, not twice the rows.
  EXPECT_LT(stats.memory_bytes, v2.ids.size() * (kDim * sizeof(float) + 128) +
                                    40 * (kDim * sizeof(float) + 8) + 4096);
  for (const auto& [id, row] : model) {
    const auto v = index->VectorOf(id);
    ASSERT_TRUE(v.has_value());
    EXPECT_EQ(*v, row.vector);
  }
  EXPECT_FALSE(index->Contains(TestId(9)));  // dead slot 9

  const Dataset all = testing::ToDataset(model, kDim);
  VectorStream qgen(kDim, 30, 5);
  qgen.Skip(5000);
  const auto queries = Queries(qgen, 20);
  for (const auto& qv : queries) {
    SearchQuery q = QueryOf(qv);
    q.effort.nprobe = 40;
    const SearchResult r = index->Search(q);
    EXPECT_FALSE(r.exact);
    ExpectSameAsOracle(r.hits, all, qv.data(), OracleQuery{});
    q.types = MaskOf({1});
    OracleQuery oq;
    oq.types = std::vector<uint8_t>{1};
    const SearchResult filtered = index->Search(q);
    EXPECT_FALSE(filtered.exact);
    ExpectSameAsOracle(filtered.hits, all, qv.data(), oq);
  }

  // Written back, it is a current version file that reads into the same index.
  const std::string again = dir.File("v3.index");
  FileDigest again_digest;
  ASSERT_TRUE(WriteIndexFile(index->Capture(), again, &again_digest).ok());
  IndexImage reread;
  ASSERT_TRUE(ReadIndexFile(again, again_digest, 3, &reread).ok());
  std::unique_ptr<EntityIndex> restored;
  ASSERT_TRUE(EntityIndex::FromImage(std::move(reread), probing, &restored).ok());
  for (const auto& qv : queries) {
    const SearchResult a = index->Search(QueryOf(qv));
    const SearchResult b = restored->Search(QueryOf(qv));
    EXPECT_FALSE(a.exact);
    EXPECT_FALSE(b.exact);
    ASSERT_EQ(a.hits.size(), b.hits.size());
    for (size_t i = 0; i < a.hits.size(); ++i) {
      EXPECT_EQ(a.hits[i].entity_id, b.hits[i].entity_id);
      EXPECT_EQ(a.hits[i].similarity, b.hits[i].similarity);
    }
  }
}

TEST(IvfTest, Version2FileWhoseListsAndFlatCopyDisagreeIsCorrupt) {
  TempDir dir;
  Model model;
  const Version2Ivf v2 = MakeVersion2(model);
  struct Case {
    std::string name;
    std::optional<int64_t> list_id;
    bool flat;
    std::string message;
  };
  // The first id of the first non-empty list becomes the first id of the next one: a slot in
  // two lists.
  std::vector<int64_t> firsts;
  for (size_t list = 0; list < v2.ivf->nlist && firsts.size() < 2; ++list) {
    if (v2.ivf->invlists->list_size(list) > 0) firsts.push_back(v2.ivf->invlists->get_ids(list)[0]);
  }
  ASSERT_EQ(firsts.size(), 2u);
  const std::vector<Case> cases = {
      {"dup", firsts[1], false, "IVF lists hold a row twice"},
      {"past", int64_t(v2.sealed_rows), false, "IVF list id out of range"},  // one past the end
      {"negative", -1, false, "IVF list id out of range"},
      {"flat", std::nullopt, true, "IVF flat rows differ from the lists'"},
  };
  for (const Case& c : cases) {
    const std::string path = dir.File(c.name + ".index");
    const FileDigest digest = WriteVersion2(v2, path, c.list_id, c.flat);
    IndexImage image;
    const Status s = ReadIndexFile(path, digest, 3, &image);
    EXPECT_FALSE(s.ok()) << c.name;
    EXPECT_NE(s.message().find(c.message), std::string::npos) << c.name << ": " << s.message();
  }
  // The same file uncorrupted reads.
  const std::string path = dir.File("good.index");
  IndexImage image;
  EXPECT_TRUE(ReadIndexFile(path, WriteVersion2(v2, path), 3, &image).ok());
}

// A current file whose checksum matches but whose list offsets leave a slot out or run past the
// rows (a bug, not a disk error) is refused before anything searches it.
TEST(IvfTest, ListOffsetsOutOfBoundsAreRefusedEvenWithAGoodChecksum) {
  VectorStream gen(kDim, 5, 3);
  const size_t rows = 600;
  std::vector<uint32_t> order;
  auto sealed =
      BuildSealed(IndexKind::kIvf, gen.Generate(rows), rows, kDim, IndexOptions{}, {}, &order);
  ASSERT_EQ(order.size(), rows);
  ASSERT_GE(sealed->ivf_nlist, 3u);
  IndexImage image;
  image.key = Key();
  image.kind = IndexKind::kIvf;
  for (size_t i = 0; i < rows; ++i) {
    image.ids.push_back(TestId(order[i]));
    image.types.push_back(0);
    image.live.push_back(1);
  }
  image.live_count = rows;
  const std::vector<uint64_t> good = sealed->ivf_list_begin;
  image.sealed = std::move(sealed);
  auto& begin = const_cast<SealedStructure&>(*image.sealed).ivf_list_begin;
  TempDir dir;
  const std::vector<std::pair<std::string, std::function<void()>>> breaks = {
      {"last offset one past the rows", [&] { begin.back() = rows + 1; }},
      {"last offset one short of the rows", [&] { begin.back() = rows - 1; }},
      {"first offset not 0", [&] { begin.front() = 1; }},
      {"offsets out of order", [&] { begin[1] = begin[2] + 1; }},
  };
  int n = 0;
  for (const auto& [name, broken] : breaks) {
    begin = good;
    broken();
    const std::string path = dir.File("broken-" + std::to_string(n++) + ".index");
    FileDigest digest;
    ASSERT_TRUE(WriteIndexFile(image, path, &digest).ok()) << name;
    IndexImage read;
    const Status s = ReadIndexFile(path, digest, 1, &read);
    EXPECT_EQ(s.code(), Status::Code::kCorruption) << name;
    EXPECT_NE(s.message().find("IVF list offsets"), std::string::npos) << name << ": " << s.message();
  }
  begin = good;
  const std::string path = dir.File("good.index");
  FileDigest digest;
  ASSERT_TRUE(WriteIndexFile(image, path, &digest).ok());
  IndexImage read;
  ASSERT_TRUE(ReadIndexFile(path, digest, 1, &read).ok());
  std::unique_ptr<EntityIndex> index;
  ASSERT_TRUE(EntityIndex::FromImage(std::move(read), IndexOptions{}, &index).ok());
  EXPECT_EQ(index->Stats().live, rows);
}

}  // namespace
}  // namespace vecmirror
