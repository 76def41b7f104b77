// Snapshots of the engine (index/snapshot.h): a registry written and loaded back answers every
// query exactly as the original (same hits, similarities, kinds, counts), and exact searches
// agree with the Eigen oracle; each kind of damage (a flipped byte in every file, truncation,
// a missing file, a foreign source, a newer format) is rejected with its reason while the
// previous snapshot loads; a writer killed at each step leaves the previous snapshot loadable;
// pruning keeps exactly `keep`.
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "index/fast_flat.h"
#include "index/index_file.h"
#include "index/registry.h"
#include "index/snapshot.h"
#include "index/snapshot_manifest.h"
#include "tests/support/index_test_util.h"
#include "tests/support/scratch_files.h"

namespace vecmirror {
namespace {

namespace fs = std::filesystem;
using testing::Dataset;
using testing::ExpectSameAsOracle;
using testing::MaskOf;
using testing::Model;
using testing::OracleQuery;
using testing::TestId;
using testing::VectorStream;

constexpr uint32_t kDim = 32;

Uuid Tenant(uint8_t n) {
  Uuid t;
  t.bytes[0] = n;
  t.bytes[15] = 0x5a;
  return t;
}

const IndexKey kFlatKey{Tenant(1), "small-model", kDim};
const IndexKey kHnswKey{Tenant(2), "text-embedding-3-small", kDim};
const IndexKey kIvfKey{Tenant(3), "text-embedding-3-small", kDim};
const SnapshotSource kSource{"7301234567890123456", "promptcraft", "vecmirror", "vecmirror_pub"};

IndexOptions Options() {
  IndexOptions options;
  options.ann_min_rows = 1000;          // the 2,000-row indexes are ANN, the small one flat
  options.tail_absorb_rows = 1000000;   // keep the tails: they are part of what is restored
  options.compact_dead_share = 0.9;
  return options;
}

// A fresh directory for one test, removed afterwards.
class TempDir {
 public:
  TempDir() {
    path_ = fs::path(::testing::TempDir()) /
            ("vecmirror-snapshot-" + std::to_string(getpid()) + "-" + std::to_string(counter_++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string path() const { return path_.string(); }

 private:
  static inline int counter_ = 0;
  fs::path path_;
};

// A registry with a flat index, a pinned HNSW index and an IVF index, each with tombstones and
// a tail, and the model of what each should hold (kept by the test, not the engine).
struct World {
  Registry registry{Options()};
  std::map<IndexKey, Model> models;
  VectorStream gen{kDim, 20, 7};
  uint64_t lsn = 100;
  uint64_t next_id = 0;

  World() {
    for (const char* name : {"context", "template", "note"}) registry.types().Intern(name);
    Add(kFlatKey, 300);
    Add(kHnswKey, 2000);
    Add(kIvfKey, 2000);
    EXPECT_TRUE(registry.Find(kHnswKey)->Rebuild(IndexKind::kHnsw).ok());  // pinned
    EXPECT_TRUE(registry.Find(kIvfKey)->Rebuild(IndexKind::kIvf).ok());    // pinned
    EXPECT_TRUE(registry.Find(kFlatKey)->Rebuild().ok());                  // policy: flat
    for (const IndexKey& key : {kFlatKey, kHnswKey, kIvfKey}) {
      Add(key, 150);        // the tail
      RemoveSome(key, 7);   // tombstones in the sealed part and the tail
      UpdateSome(key, 11);  // a tombstone and a new tail slot each
    }
  }

  void Apply(const std::vector<KeyedWrite>& writes) { registry.ApplyTransaction(writes, ++lsn); }

  void Add(const IndexKey& key, size_t n) {
    std::vector<KeyedWrite> writes;
    std::vector<float> v(kDim);
    for (size_t i = 0; i < n; ++i) {
      gen.Next(v.data());
      const Uuid id = TestId(next_id++);
      const auto type = static_cast<EntityTypeCode>(id.bytes[3] % 3);
      writes.push_back(KeyedWrite{key, testing::Upsert(id, type, v)});
      models[key][id] = {type, v};
    }
    Apply(writes);
  }

  void RemoveSome(const IndexKey& key, size_t every) {
    std::vector<KeyedWrite> writes;
    size_t i = 0;
    for (auto it = models[key].begin(); it != models[key].end();) {
      if (i++ % every == 0) {
        writes.push_back(KeyedWrite{key, testing::Remove(it->first)});
        it = models[key].erase(it);
      } else {
        ++it;
      }
    }
    Apply(writes);
  }

  void UpdateSome(const IndexKey& key, size_t every) {
    std::vector<KeyedWrite> writes;
    size_t i = 0;
    std::vector<float> v(kDim);
    for (auto& [id, row] : models[key]) {
      if (i++ % every != 0) continue;
      gen.Next(v.data());
      row = {static_cast<EntityTypeCode>((row.type + 1) % 3), v};
      writes.push_back(KeyedWrite{key, testing::Upsert(id, row.type, v)});
    }
    Apply(writes);
  }

  SnapshotCut Cut(std::string mirror_state = "mirror state \x01\x02") const {
    RegistryImage image = registry.Capture();
    SnapshotCut cut;
    cut.source = kSource;
    cut.lsn = image.lsn;
    cut.type_names = std::move(image.type_names);
    cut.indexes = std::move(image.indexes);
    cut.mirror_state = std::move(mirror_state);
    return cut;
  }
};

std::vector<SearchQuery> QuerySet(std::vector<std::vector<float>>& storage, VectorStream& gen) {
  storage.clear();
  for (int i = 0; i < 12; ++i) storage.push_back(gen.Generate(1));
  std::vector<SearchQuery> queries;
  for (const auto& v : storage) {
    for (const TypeMask& mask : {TypeMask::All(), MaskOf({1}), MaskOf({0, 2})}) {
      for (size_t limit : {1, 10, 60}) {
        for (bool exact : {false, true}) {
          SearchQuery q;
          q.vector = v;
          q.types = mask;
          q.limit = limit;
          q.effort.exact = exact;
          queries.push_back(q);
        }
      }
    }
  }
  return queries;
}

// Both registries answer every query identically, bit for bit.
void ExpectSameAnswers(const Registry& a, const Registry& b, const IndexKey& key,
                       const std::vector<SearchQuery>& queries) {
  for (size_t i = 0; i < queries.size(); ++i) {
    const SearchResult ra = a.Search(key, queries[i]);
    const SearchResult rb = b.Search(key, queries[i]);
    ASSERT_EQ(ra.hits.size(), rb.hits.size()) << key.ToString() << " query " << i;
    EXPECT_EQ(ra.kind, rb.kind);
    EXPECT_EQ(ra.exact, rb.exact);
    for (size_t h = 0; h < ra.hits.size(); ++h) {
      EXPECT_EQ(ra.hits[h].entity_id, rb.hits[h].entity_id) << key.ToString() << " query " << i;
      EXPECT_EQ(ra.hits[h].type, rb.hits[h].type);
      EXPECT_EQ(ra.hits[h].similarity, rb.hits[h].similarity);
    }
  }
}

// Exact answers agree with the oracle over the model.
void ExpectExactMatchesOracle(const Registry& registry, const IndexKey& key, const Model& model,
                              const std::vector<SearchQuery>& queries) {
  const Dataset data = testing::ToDataset(model, kDim);
  for (const SearchQuery& q : queries) {
    if (!q.effort.exact) continue;
    OracleQuery oq;
    oq.limit = q.limit;
    if (!q.types.IsAll()) {
      std::vector<uint8_t> types;
      for (uint8_t t = 0; t < 3; ++t) {
        if (q.types.Contains(t)) types.push_back(t);
      }
      oq.types = types;
    }
    ExpectSameAsOracle(registry.Search(key, q).hits, data, q.vector.data(), oq);
  }
}

std::unique_ptr<Registry> Restored(LoadedSnapshot& loaded) {
  auto registry = std::make_unique<Registry>(Options());
  EXPECT_TRUE(
      registry->Restore(std::move(loaded.indexes), loaded.type_names, loaded.lsn).ok());
  return registry;
}

const SealedStructure& SealedOf(const Registry& registry, const IndexKey& key) {
  static thread_local std::vector<IndexImage> keep;  // keeps the structure alive for the caller
  keep.push_back(registry.Find(key)->Capture());
  return *keep.back().sealed;
}

TEST(SnapshotTest, RoundTripAnswersExactlyAsTheOriginal) {
  World world;
  TempDir root;
  const SnapshotCut cut = world.Cut();
  std::string path;
  ASSERT_TRUE(WriteSnapshot(root.path(), cut, {}, &path).ok());
  EXPECT_EQ(fs::path(path).parent_path(), fs::path(root.path()));

  LoadedSnapshot loaded;
  std::vector<std::string> rejected;
  const Status s = LoadNewestSnapshot(root.path(), kSource, Options(), &loaded, &rejected);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_TRUE(rejected.empty());
  EXPECT_EQ(loaded.path, path);
  EXPECT_EQ(loaded.source, kSource);
  EXPECT_EQ(loaded.lsn, world.registry.applied_lsn());
  EXPECT_EQ(loaded.mirror_state, cut.mirror_state);
  EXPECT_EQ(loaded.type_names, (std::vector<std::string>{"context", "template", "note"}));
  auto restored = Restored(loaded);
  EXPECT_EQ(restored->applied_lsn(), world.registry.applied_lsn());
  EXPECT_EQ(restored->types().Find("template"), world.registry.types().Find("template"));
  EXPECT_EQ(restored->types().Name(2), "note");

  // Kinds, pins and counts as they were: the tails and tombstones came back as they were.
  const auto before = world.registry.List();
  const auto after = restored->List();
  ASSERT_EQ(before.size(), 3u);
  ASSERT_EQ(after.size(), before.size());
  for (size_t i = 0; i < before.size(); ++i) {
    EXPECT_EQ(after[i].key, before[i].key);
    EXPECT_EQ(after[i].stats.kind, before[i].stats.kind);
    EXPECT_EQ(after[i].stats.live, before[i].stats.live);
    EXPECT_EQ(after[i].stats.dead, before[i].stats.dead);
    EXPECT_EQ(after[i].stats.tail, before[i].stats.tail);
    EXPECT_EQ(after[i].stats.covered_lsn, before[i].stats.covered_lsn);
    EXPECT_GT(before[i].stats.dead, 0u);
    EXPECT_GT(before[i].stats.tail, 0u);
  }
  EXPECT_EQ(restored->Find(kFlatKey)->Stats().kind, IndexKind::kFlat);
  EXPECT_EQ(restored->Find(kHnswKey)->Stats().kind, IndexKind::kHnsw);
  EXPECT_EQ(restored->Find(kIvfKey)->Stats().kind, IndexKind::kIvf);
  EXPECT_EQ(restored->Find(kHnswKey)->Capture().pinned_kind, IndexKind::kHnsw);
  EXPECT_EQ(restored->Find(kFlatKey)->Capture().pinned_kind, std::nullopt);

  // The HNSW graph is the one written, not a rebuilt one, over a storage with the fast kernels.
  const SealedStructure& original = SealedOf(world.registry, kHnswKey);
  const SealedStructure& loaded_graph = SealedOf(*restored, kHnswKey);
  ASSERT_TRUE(loaded_graph.hnsw);
  EXPECT_EQ(loaded_graph.hnsw->hnsw.neighbors, original.hnsw->hnsw.neighbors);
  EXPECT_EQ(loaded_graph.hnsw->hnsw.offsets, original.hnsw->hnsw.offsets);
  EXPECT_EQ(loaded_graph.hnsw->hnsw.levels, original.hnsw->hnsw.levels);
  EXPECT_EQ(loaded_graph.hnsw->hnsw.entry_point, original.hnsw->hnsw.entry_point);
  EXPECT_EQ(loaded_graph.hnsw->hnsw.efSearch, original.hnsw->hnsw.efSearch);
  EXPECT_NE(dynamic_cast<const FastFlatIP*>(loaded_graph.hnsw->storage), nullptr);
  EXPECT_EQ(SealedOf(*restored, kIvfKey).ivf_nlist, SealedOf(world.registry, kIvfKey).ivf_nlist);

  std::vector<std::vector<float>> storage;
  const auto queries = QuerySet(storage, world.gen);
  for (const IndexKey& key : {kFlatKey, kHnswKey, kIvfKey}) {
    ExpectSameAnswers(world.registry, *restored, key, queries);
    ExpectExactMatchesOracle(*restored, key, world.models[key], queries);
  }
  // "More like this" (an excluded entity) answers alike too.
  SearchQuery more = queries[0];
  more.exclude = world.models[kHnswKey].begin()->first;
  EXPECT_EQ(world.registry.Search(kHnswKey, more).hits.size(),
            restored->Search(kHnswKey, more).hits.size());

  // The restored registry goes on: a transaction applies, a tail joins the graph, and exact
  // answers still match the oracle.
  std::vector<KeyedWrite> writes;
  std::vector<float> v(kDim);
  for (int i = 0; i < 50; ++i) {
    world.gen.Next(v.data());
    const Uuid id = TestId(900000 + i);
    writes.push_back(KeyedWrite{kHnswKey, testing::Upsert(id, 1, v)});
    world.models[kHnswKey][id] = {1, v};
  }
  restored->ApplyTransaction(writes, loaded.lsn + 10);
  EXPECT_EQ(restored->applied_lsn(), loaded.lsn + 10);
  ASSERT_TRUE(restored->Find(kHnswKey)->Rebuild(IndexKind::kHnsw).ok());
  EXPECT_EQ(restored->Find(kHnswKey)->Stats().tail, 0u);
  ExpectExactMatchesOracle(*restored, kHnswKey, world.models[kHnswKey], queries);
}

TEST(SnapshotTest, ACaptureSurvivesARebuildOfItsIndex) {
  World world;
  const SnapshotCut cut = world.Cut();
  const IndexStats captured = world.registry.Find(kHnswKey)->Stats();
  // The index moves on after the capture: compacted, its sealed structure swapped out.
  ASSERT_TRUE(world.registry.Find(kHnswKey)->Rebuild(IndexKind::kIvf).ok());
  ASSERT_EQ(world.registry.Find(kHnswKey)->Stats().kind, IndexKind::kIvf);

  TempDir root;
  std::string path;
  ASSERT_TRUE(WriteSnapshot(root.path(), cut, {}, &path).ok());
  LoadedSnapshot loaded;
  ASSERT_TRUE(LoadNewestSnapshot(root.path(), kSource, Options(), &loaded, nullptr).ok());
  auto restored = Restored(loaded);
  const IndexStats stats = restored->Find(kHnswKey)->Stats();
  EXPECT_EQ(stats.kind, IndexKind::kHnsw);
  EXPECT_EQ(stats.live, captured.live);
  EXPECT_EQ(stats.dead, captured.dead);
  EXPECT_EQ(stats.tail, captured.tail);
  std::vector<std::vector<float>> storage;
  ExpectExactMatchesOracle(*restored, kHnswKey, world.models[kHnswKey],
                           QuerySet(storage, world.gen));
}

TEST(SnapshotTest, EmptyRegistryAndEmptyIndexesRoundTrip) {
  Registry empty(Options());
  empty.AdvanceLsn(42);
  RegistryImage image = empty.Capture();
  EXPECT_TRUE(image.indexes.empty());
  SnapshotCut cut{kSource, image.lsn, image.type_names, {}, ""};
  // An index whose every row was removed: slots, all tombstones, no sealed rows.
  Registry registry(Options());
  std::vector<float> v(kDim, 0.0f);
  v[0] = 1;
  registry.ApplyTransaction(std::vector<KeyedWrite>{{kFlatKey, testing::Upsert(TestId(1), 0, v)}}, 5);
  registry.ApplyTransaction(std::vector<KeyedWrite>{{kFlatKey, testing::Remove(TestId(1))}}, 6);
  cut.indexes.push_back(registry.Find(kFlatKey)->Capture());
  cut.type_names = {"context"};

  TempDir root;
  std::string path;
  ASSERT_TRUE(WriteSnapshot(root.path(), cut, {}, &path).ok());
  LoadedSnapshot loaded;
  const Status s = LoadNewestSnapshot(root.path(), kSource, Options(), &loaded, nullptr);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(loaded.lsn, 42u);
  EXPECT_EQ(loaded.mirror_state, "");
  ASSERT_EQ(loaded.indexes.size(), 1u);
  const IndexStats stats = loaded.indexes[0]->Stats();
  EXPECT_EQ(stats.live, 0u);
  EXPECT_EQ(stats.dead, 1u);
  EXPECT_EQ(stats.covered_lsn, 6u);
}

// ---- Rejections ------------------------------------------------------------------------------

// Two snapshots under one root: `older` (valid) and `newer`, which each test damages.
struct TwoSnapshots {
  World& world;
  TempDir root;
  std::string older;
  std::string newer;
  uint64_t older_lsn = 0;

  explicit TwoSnapshots(World& world, const SnapshotSource& newer_source = kSource)
      : world(world) {
    const SnapshotCut first = world.Cut("first");
    older_lsn = first.lsn;
    EXPECT_TRUE(WriteSnapshot(root.path(), first, {}, &older).ok());
    world.Add(kFlatKey, 10);
    SnapshotCut second = world.Cut("second");
    second.source = newer_source;
    EXPECT_TRUE(WriteSnapshot(root.path(), second, {}, &newer).ok());
    EXPECT_GT(second.lsn, older_lsn);
  }

  // Loads, expects the older snapshot and exactly one rejection that mentions `reason`.
  void ExpectOlderLoadedBecause(const std::string& reason) {
    LoadedSnapshot loaded;
    std::vector<std::string> rejected;
    const Status s = LoadNewestSnapshot(root.path(), kSource, Options(), &loaded, &rejected);
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(loaded.path, older);
    EXPECT_EQ(loaded.lsn, older_lsn);
    EXPECT_EQ(loaded.mirror_state, "first");
    EXPECT_EQ(loaded.indexes.size(), 3u);
    ASSERT_EQ(rejected.size(), 1u);
    EXPECT_EQ(rejected[0].rfind(newer + ": ", 0), 0u) << rejected[0];
    EXPECT_NE(rejected[0].find(reason), std::string::npos) << rejected[0];
  }
};

using testing::ReadAll;
using testing::WriteAll;

void FlipByte(const std::string& path, size_t offset) {
  std::string bytes = ReadAll(path);
  ASSERT_LT(offset, bytes.size());
  bytes[offset] = static_cast<char>(bytes[offset] ^ 0x01);
  WriteAll(path, bytes);
}

TEST(SnapshotTest, FlippedByteInTheManifestIsRejected) {
  World world;
  TwoSnapshots s(world);
  const std::string manifest = s.newer + "/manifest.json";
  const size_t at = ReadAll(manifest).find("\"live\": ") + 8;  // a digit of a live count
  FlipByte(manifest, at);
  s.ExpectOlderLoadedBecause("checksum mismatch in file manifest.json");
}

TEST(SnapshotTest, EveryByteOfTheManifestIsCovered) {
  World world;
  TempDir root;
  std::string path;
  ASSERT_TRUE(WriteSnapshot(root.path(), world.Cut(), {}, &path).ok());
  const std::string manifest = path + "/manifest.json";
  const std::string original = ReadAll(manifest);
  // Each flipped byte: a checksum mismatch or an unparsable manifest, never a load.
  for (size_t i = 0; i < original.size(); ++i) {
    std::string bytes = original;
    bytes[i] = static_cast<char>(bytes[i] ^ 0x01);
    SnapshotManifest decoded;
    const Status s = DecodeManifest(bytes, &decoded);
    ASSERT_FALSE(s.ok()) << "byte " << i << " of the manifest flipped went unnoticed";
    EXPECT_EQ(s.code(), Status::Code::kCorruption);
  }
  SnapshotManifest decoded;
  EXPECT_TRUE(DecodeManifest(original, &decoded).ok());
}

TEST(SnapshotTest, FlippedByteInEachIndexFileIsRejected) {
  World world;
  for (const char* file : {"index-00000.vmi", "index-00001.vmi", "index-00002.vmi"}) {
    const std::string path_of_file = std::string("/") + file;
    // Early (the header), middle (tables, graph, vectors) and the last byte.
    for (double where : {0.0005, 0.3, 0.5, 0.8, 1.0}) {
      TwoSnapshots s(world);
      const std::string path = s.newer + path_of_file;
      const size_t size = fs::file_size(path);
      const size_t at = std::min(size - 1, size_t(double(size) * where));
      FlipByte(path, at);
      SCOPED_TRACE(std::string(file) + " at byte " + std::to_string(at));
      s.ExpectOlderLoadedBecause(std::string("checksum mismatch in file ") + file);
    }
  }
}

TEST(SnapshotTest, FlippedByteInTheMirrorStateIsRejected) {
  World world;
  TwoSnapshots s(world);
  FlipByte(s.newer + "/mirror.state", 3);
  s.ExpectOlderLoadedBecause("checksum mismatch in file mirror.state");
}

TEST(SnapshotTest, TruncatedAndExtendedFilesAreRejected) {
  World world;
  {
    TwoSnapshots s(world);
    const std::string path = s.newer + "/index-00001.vmi";
    const auto size = fs::file_size(path);
    fs::resize_file(path, size - 1);  // one byte short
    s.ExpectOlderLoadedBecause("truncated file index-00001.vmi (" + std::to_string(size - 1) +
                               " of " + std::to_string(size) + " bytes)");
  }
  {
    TwoSnapshots s(world);
    fs::resize_file(s.newer + "/mirror.state", 0);
    s.ExpectOlderLoadedBecause("truncated file mirror.state");
  }
  {
    TwoSnapshots s(world);
    const std::string path = s.newer + "/index-00002.vmi";
    fs::resize_file(path, fs::file_size(path) + 1);  // one byte more
    s.ExpectOlderLoadedBecause("file index-00002.vmi is larger than expected");
  }
  {
    TwoSnapshots s(world);
    const std::string manifest = s.newer + "/manifest.json";
    fs::resize_file(manifest, fs::file_size(manifest) / 2);
    s.ExpectOlderLoadedBecause("unreadable manifest");
  }
}

TEST(SnapshotTest, MissingFilesAreRejected) {
  World world;
  for (const char* file : {"manifest.json", "index-00000.vmi", "mirror.state"}) {
    TwoSnapshots s(world);
    fs::remove(s.newer + "/" + file);
    s.ExpectOlderLoadedBecause(std::string("missing file ") + file);
  }
}

TEST(SnapshotTest, ForeignSourcesAreRejected) {
  World world;
  const std::vector<std::pair<std::string, SnapshotSource>> foreign = {
      {"other system identifier", {"999", kSource.database, kSource.slot, kSource.publication}},
      {"other database", {kSource.system_identifier, "staging", kSource.slot, kSource.publication}},
      {"other slot", {kSource.system_identifier, kSource.database, "vm2", kSource.publication}},
      {"other publication", {kSource.system_identifier, kSource.database, kSource.slot, "pub2"}},
  };
  for (const auto& [reason, source] : foreign) {
    SCOPED_TRACE(reason);
    TwoSnapshots s(world, source);
    s.ExpectOlderLoadedBecause(reason);
  }
}

TEST(SnapshotTest, NewerFormatVersionsAreRejected) {
  World world;
  {
    // A manifest of a newer format (whose checksum this build need not understand).
    TwoSnapshots s(world);
    const std::string manifest = s.newer + "/manifest.json";
    nlohmann::json j = nlohmann::json::parse(ReadAll(manifest));
    j["format_version"] = kSnapshotFormatVersion + 1;
    WriteAll(manifest, j.dump(2));
    s.ExpectOlderLoadedBecause("format version " + std::to_string(kSnapshotFormatVersion + 1) +
                               " is newer than this build's " +
                               std::to_string(kSnapshotFormatVersion));
  }
  {
    // An index file of a newer format, with a manifest that vouches for it.
    TwoSnapshots s(world);
    const std::string path = s.newer + "/index-00000.vmi";
    std::string bytes = ReadAll(path);
    const uint32_t version = kIndexFileVersion + 1;
    std::memcpy(bytes.data() + 8, &version, sizeof(version));
    WriteAll(path, bytes);
    SnapshotManifest m;
    ASSERT_TRUE(DecodeManifest(ReadAll(s.newer + "/manifest.json"), &m).ok());
    m.indexes[0].digest.crc32 = Crc32(bytes);
    WriteAll(s.newer + "/manifest.json", EncodeManifest(m));
    s.ExpectOlderLoadedBecause("format version " + std::to_string(version) +
                               " of file index-00000.vmi is newer than this build's " +
                               std::to_string(kIndexFileVersion));
  }
}

TEST(SnapshotTest, NoUsableSnapshotIsNotFound) {
  TempDir root;
  LoadedSnapshot loaded;
  std::vector<std::string> rejected;
  EXPECT_EQ(LoadNewestSnapshot(root.path() + "/absent", kSource, Options(), &loaded, &rejected)
                .code(),
            Status::Code::kNotFound);
  EXPECT_EQ(LoadNewestSnapshot(root.path(), kSource, Options(), &loaded, &rejected).code(),
            Status::Code::kNotFound);
  EXPECT_TRUE(rejected.empty());
  World world;
  std::string path;
  ASSERT_TRUE(WriteSnapshot(root.path(), world.Cut(), {}, &path).ok());
  SnapshotSource other = kSource;
  other.slot = "another";
  EXPECT_EQ(LoadNewestSnapshot(root.path(), other, Options(), &loaded, &rejected).code(),
            Status::Code::kNotFound);
  ASSERT_EQ(rejected.size(), 1u);
  EXPECT_NE(rejected[0].find("other slot"), std::string::npos);
}

// A file whose checksum matches but whose graph points out of bounds (a bug, not a disk
// error) is still refused before anything searches it.
TEST(SnapshotTest, AGraphPointingOutOfBoundsIsRefusedEvenWithAGoodChecksum) {
  VectorStream gen(kDim, 5, 3);
  const size_t rows = 400;
  IndexOptions options = Options();
  std::vector<uint32_t> order;
  auto sealed = BuildSealed(IndexKind::kHnsw, gen.Generate(rows), rows, kDim, options, {}, &order);
  sealed->hnsw->hnsw.neighbors[17] = int(rows) + 5;
  IndexImage image;
  image.key = kHnswKey;
  image.kind = IndexKind::kHnsw;
  for (size_t i = 0; i < rows; ++i) {
    image.ids.push_back(TestId(i));
    image.types.push_back(0);
    image.live.push_back(1);
  }
  image.live_count = rows;
  image.sealed = std::move(sealed);
  TempDir dir;
  FileDigest digest;
  ASSERT_TRUE(WriteIndexFile(image, dir.path() + "/index-00000.vmi", &digest).ok());
  IndexImage read;
  const Status s = ReadIndexFile(dir.path() + "/index-00000.vmi", digest, 1, &read);
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
  EXPECT_NE(s.message().find("HNSW neighbor out of range"), std::string::npos) << s.message();
  // A sound graph whose slots carry a type code beyond the snapshot's dictionary.
  const_cast<SealedStructure&>(*image.sealed).hnsw->hnsw.neighbors[17] = 0;
  ASSERT_TRUE(WriteIndexFile(image, dir.path() + "/index-00001.vmi", &digest).ok());
  ASSERT_TRUE(ReadIndexFile(dir.path() + "/index-00001.vmi", digest, 1, &read).ok());
  const Status types = ReadIndexFile(dir.path() + "/index-00001.vmi", digest, 0, &read);
  EXPECT_NE(types.message().find("type code 0 is not in the snapshot's type dictionary"),
            std::string::npos)
      << types.message();
}

// ---- Atomicity and pruning -------------------------------------------------------------------

TEST(SnapshotTest, AWriterKilledAtEachStepLeavesThePreviousSnapshot) {
  World world;
  const SnapshotCut previous = world.Cut("previous");
  world.Add(kIvfKey, 5);
  const SnapshotCut next = world.Cut("next");
  ASSERT_GT(next.lsn, previous.lsn);

  // The steps of a write, as the hook reports them.
  std::vector<std::string> steps;
  {
    TempDir root;
    std::string path;
    SnapshotWriteOptions options;
    options.after_step = [&](std::string_view step) { steps.emplace_back(step); };
    ASSERT_TRUE(WriteSnapshot(root.path(), next, options, &path).ok());
  }
  ASSERT_GE(steps.size(), 8u);
  const auto renamed = std::find(steps.begin(), steps.end(), "renamed") - steps.begin();
  ASSERT_LT(size_t(renamed), steps.size());

  for (size_t k = 0; k < steps.size(); ++k) {
    SCOPED_TRACE("killed after step \"" + steps[k] + "\"");
    TempDir root;
    std::string path;
    ASSERT_TRUE(WriteSnapshot(root.path(), previous, {}, &path).ok());

    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      SnapshotWriteOptions options;
      options.keep = 1;
      options.after_step = [&](std::string_view step) {
        if (step == steps[k]) raise(SIGKILL);
      };
      std::string unused;
      WriteSnapshot(root.path(), next, options, &unused);
      _exit(0);  // not reached: the hook kills the child
    }
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

    LoadedSnapshot loaded;
    std::vector<std::string> rejected;
    const Status s = LoadNewestSnapshot(root.path(), kSource, Options(), &loaded, &rejected);
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_TRUE(rejected.empty()) << rejected.front();
    const bool complete = k >= size_t(renamed);
    EXPECT_EQ(loaded.lsn, complete ? next.lsn : previous.lsn);
    EXPECT_EQ(loaded.mirror_state, complete ? "next" : "previous");
    EXPECT_EQ(loaded.indexes.size(), 3u);

    // The next write removes what the killed one left behind.
    ASSERT_TRUE(WriteSnapshot(root.path(), next, {}, &path).ok());
    for (const auto& entry : fs::directory_iterator(root.path())) {
      const std::string name = entry.path().filename().string();
      EXPECT_NE(name.rfind(".tmp-", 0), 0u) << name << " left behind";
    }
    ASSERT_TRUE(LoadNewestSnapshot(root.path(), kSource, Options(), &loaded, nullptr).ok());
    EXPECT_EQ(loaded.path, path);
  }
}

TEST(SnapshotTest, PruningKeepsExactlyKeep) {
  World world;
  TempDir root;
  SnapshotWriteOptions options;
  options.keep = 3;
  std::vector<std::string> written;
  for (int i = 0; i < 6; ++i) {
    world.Add(kFlatKey, 1);
    std::string path;
    ASSERT_TRUE(WriteSnapshot(root.path(), world.Cut(), options, &path).ok());
    written.push_back(path);
    EXPECT_EQ(ListSnapshots(root.path()).size(), std::min<size_t>(i + 1, 3));
  }
  // The newest three, newest first.
  EXPECT_EQ(ListSnapshots(root.path()),
            (std::vector<std::string>{written[5], written[4], written[3]}));
  options.keep = 1;
  std::string path;
  ASSERT_TRUE(WriteSnapshot(root.path(), world.Cut(), options, &path).ok());
  EXPECT_EQ(ListSnapshots(root.path()), std::vector<std::string>{path});
  options.keep = 0;
  EXPECT_EQ(WriteSnapshot(root.path(), world.Cut(), options, &path).code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(ListSnapshots(root.path()).size(), 1u);
}

TEST(SnapshotTest, ASecondWriterOnTheSameRootIsRefused) {
  World world;
  TempDir root;
  std::string path;
  ASSERT_TRUE(WriteSnapshot(root.path(), world.Cut(), {}, &path).ok());
  const int fd = open((root.path() + "/.lock").c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(flock(fd, LOCK_EX | LOCK_NB), 0);  // as another writer would
  EXPECT_EQ(WriteSnapshot(root.path(), world.Cut(), {}, &path).code(), Status::Code::kUnavailable);
  close(fd);
  EXPECT_TRUE(WriteSnapshot(root.path(), world.Cut(), {}, &path).ok());
  EXPECT_EQ(ListSnapshots(root.path()).size(), 2u);
}

TEST(SnapshotTest, RestoreRefusesTwoIndexesWithOneKey) {
  Registry registry(Options());
  std::vector<std::unique_ptr<EntityIndex>> indexes;
  indexes.push_back(std::make_unique<EntityIndex>(kFlatKey, Options()));
  indexes.push_back(std::make_unique<EntityIndex>(kFlatKey, Options()));
  registry.AdvanceLsn(7);
  EXPECT_EQ(registry.Restore(std::move(indexes), {"a"}, 9).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(registry.applied_lsn(), 7u);
  std::vector<std::unique_ptr<EntityIndex>> none;
  EXPECT_EQ(registry.Restore(std::move(none), {"a", "a"}, 9).code(),
            Status::Code::kInvalidArgument);
}

}  // namespace
}  // namespace vecmirror
