// Randomized model test of the live mirror: thousands of random transactions over a real
// PostgreSQL, mixing every change the mirror must follow (new entities and versions in both id
// layouts, type changes, soft deletes and restores, reopened versions, status-only updates of
// TOASTed vectors, replaced and deleted embeddings, embeddings before their entities, bad
// vectors, a model first seen mid-stream, multi-row updates, a TRUNCATE with its reload in one
// transaction, rolled-back transactions), some of them committed while the server's initial
// load runs. Then the stream is drained and every index must equal SQL exactly.
//
// The seed comes from $VECMIRROR_TEST_SEED, else the clock, and is printed: rerun a failure
// with VECMIRROR_TEST_SEED=<seed>.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/live_mirror.h"
#include "tests/support/mirror_check.h"
#include "tests/support/generated_data.h"

namespace vecmirror::testing {
namespace {

constexpr char kMiniLm[] = "all-MiniLM-L6-v2";
constexpr char kSmall[] = "text-embedding-3-small";
constexpr char kLarge[] = "text-embedding-3-large";
constexpr char kCustom[] = "custom-model-16";  // first seen mid-stream
constexpr uint32_t kCustomDim = 16;

// Bounds: transactions per phase, and wall time for the whole writer.
constexpr int kLoadPhaseTransactions = 600;   // started before the server
constexpr int kStreamPhaseTransactions = 1400;
constexpr auto kWriterTimeLimit = std::chrono::seconds(100);

uint64_t SeedFromEnvironment() {
  if (const char* env = std::getenv("VECMIRROR_TEST_SEED"); env && *env) {
    return std::strtoull(env, nullptr, 10);
  }
  return static_cast<uint64_t>(std::chrono::system_clock::now().time_since_epoch().count()) % 1000000007ULL;
}

struct ModelChoice {
  const char* name;
  uint32_t dim;
  int weight;
};
// 3072-d rows are rare: they are the most expensive to write and to check.
const ModelChoice kModels[] = {{kMiniLm, 384, 60}, {kSmall, 1536, 30}, {kLarge, 3072, 3}, {kCustom, kCustomDim, 7}};
const char* const kTypes[] = {"context", "context", "context", "template", "template", "workflow", "library"};

// Writes random transactions through its own session. Not thread-safe: one writer thread.
class RandomWriter {
 public:
  RandomWriter(const std::string& conninfo, uint64_t seed, std::vector<std::string> tenants,
               std::vector<std::pair<std::string, std::string>> entities)
      : sql_(conninfo), rng_(seed), tenants_(std::move(tenants)) {
    for (auto& [id, tenant] : entities) entities_.push_back({id, tenant});
  }

  // One random transaction. Returns false, with the error in *error, when SQL failed.
  bool Step(int index, std::string* error) {
    // What the writer knows is put back if the transaction rolls back.
    const std::vector<Entity> saved_entities = entities_, saved_orphans = orphans_;
    std::string body;
    const bool truncate_reload = index == truncate_at_;
    if (truncate_reload) {
      body = TruncateAndReload();
    } else {
      const int ops = 1 + static_cast<int>(rng_() % 4);
      for (int i = 0; i < ops; ++i) body += RandomOp();
    }
    const bool rollback = !truncate_reload && Chance(0.1);
    // A rolled-back transaction may also truncate: nothing of it may show.
    if (rollback && Chance(0.1)) body += "TRUNCATE embedding;";
    const Status s = sql_.Exec("BEGIN;" + body + (rollback ? "ROLLBACK;" : "COMMIT;"));
    if (!s.ok()) {
      *error = s.ToString();
      return false;
    }
    if (rollback) {
      entities_ = saved_entities;
      orphans_ = saved_orphans;
      ++rolled_back_;
    } else {
      ++committed_;
    }
    return true;
  }

  void set_truncate_at(int index) { truncate_at_ = index; }
  int committed() const { return committed_; }
  int rolled_back() const { return rolled_back_; }
  std::map<std::string, int> op_counts() const { return op_counts_; }

 private:
  struct Entity {
    std::string id;
    std::string tenant;
  };

  bool Chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
  template <typename T, size_t N>
  const T& Pick(const T (&items)[N]) { return items[rng_() % N]; }
  const ModelChoice& PickModel() {
    int total = 0;
    for (const auto& m : kModels) total += m.weight;
    int r = static_cast<int>(rng_() % total);
    for (const auto& m : kModels) {
      if ((r -= m.weight) < 0) return m;
    }
    return kModels[0];
  }
  Entity& PickEntity() { return entities_[rng_() % entities_.size()]; }

  std::string NewUuid() {
    static const char* hex = "0123456789abcdef";
    std::string out;
    for (int i = 0; i < 32; ++i) {
      if (i == 8 || i == 12 || i == 16 || i == 20) out.push_back('-');
      out.push_back(hex[rng_() % 16]);
    }
    return out;
  }

  std::string VectorFor(const ModelChoice& model) {
    return VectorSql(RandomVector(rng_, model.dim));
  }
  // Mostly good, sometimes bad in one of the ways the contract excludes.
  std::string MaybeBadVectorFor(const ModelChoice& model) {
    if (!Chance(0.05)) return VectorFor(model);
    std::vector<float> v = RandomVector(rng_, model.dim);
    switch (rng_() % 4) {
      case 0: v[rng_() % v.size()] = std::nanf(""); break;
      case 1: v.assign(v.size(), 0.0f); break;
      case 2: v.resize(model.dim / 2); break;
      default: return "NULL";
    }
    return VectorSql(v);
  }
  const char* PickStatus() {
    const double r = std::uniform_real_distribution<double>(0, 1)(rng_);
    return r < 0.7 ? "completed" : r < 0.9 ? "pending" : "failed";
  }

  std::string Upsert(const std::string& entity_id, const ModelChoice& model, const std::string& vector,
                     const char* status) {
    return "INSERT INTO embedding (entity_id, model, vector, status) VALUES (" + Quote(entity_id) + ", " +
           Quote(model.name) + ", " + vector + ", " + Quote(status) +
           ") ON CONFLICT (entity_id, model) DO UPDATE SET vector = EXCLUDED.vector, "
           "status = EXCLUDED.status, updated_at = now();";
  }
  static std::string Where(const std::string& entity_id, const char* model) {
    return " WHERE entity_id = " + Quote(entity_id) + " AND model = " + Quote(model) + ";";
  }

  std::string RandomOp() {
    static const std::pair<const char*, int> kOps[] = {
        {"new_entity", 14}, {"new_version", 10}, {"new_version_new_id", 5}, {"soft_delete", 5},
        {"restore", 5},     {"reopen", 3},       {"status_only", 16},       {"vector_replace", 10},
        {"embedding_delete", 4}, {"embedding_upsert", 12}, {"orphan_embedding", 4},
        {"adopt_orphan", 4}, {"bulk_status", 1}};
    int total = 0;
    for (const auto& [name, weight] : kOps) total += weight;
    int r = static_cast<int>(rng_() % total);
    const char* op = kOps[0].first;
    for (const auto& [name, weight] : kOps) {
      if ((r -= weight) < 0) {
        op = name;
        break;
      }
    }
    ++op_counts_[op];
    const std::string o(op);
    if (o == "new_entity") return NewEntity();
    if (o == "new_version") return NewVersion();
    if (o == "new_version_new_id") return NewVersionNewId();
    if (o == "soft_delete") {
      return "UPDATE entity SET deleted_at = now() WHERE id = " + Quote(PickEntity().id) + " AND valid_to IS NULL;";
    }
    if (o == "restore") {
      return "UPDATE entity SET deleted_at = NULL WHERE id = " + Quote(PickEntity().id) + " AND valid_to IS NULL;";
    }
    if (o == "reopen") {
      // Undo the newest version: delete it and reopen the one before it (same id).
      const std::string id = Quote(PickEntity().id);
      return "WITH gone AS (DELETE FROM entity WHERE id = " + id + " AND valid_to IS NULL AND version > 1 "
             "RETURNING version) UPDATE entity SET valid_to = NULL WHERE id = " + id +
             " AND version = (SELECT version - 1 FROM gone);";
    }
    if (o == "status_only") {
      // The vector is not touched: TOASTed ones arrive as "unchanged".
      return "UPDATE embedding SET status = " + Quote(PickStatus()) + ", updated_at = now()" +
             Where(PickEntity().id, PickModel().name);
    }
    if (o == "vector_replace") {
      const ModelChoice& model = PickModel();
      return "UPDATE embedding SET vector = " + MaybeBadVectorFor(model) + Where(PickEntity().id, model.name);
    }
    if (o == "embedding_delete") return "DELETE FROM embedding" + Where(PickEntity().id, PickModel().name);
    if (o == "embedding_upsert") {
      const ModelChoice& model = PickModel();
      return Upsert(PickEntity().id, model, MaybeBadVectorFor(model), PickStatus());
    }
    if (o == "orphan_embedding") {
      const ModelChoice& model = PickModel();
      orphans_.push_back({NewUuid(), tenants_[rng_() % tenants_.size()]});
      return Upsert(orphans_.back().id, model, VectorFor(model), "completed");
    }
    if (o == "adopt_orphan") {
      if (orphans_.empty()) return NewEntity();
      const Entity orphan = orphans_.back();
      orphans_.pop_back();
      entities_.push_back(orphan);
      return EntityInsert(orphan.id, orphan.tenant, Pick(kTypes), 1, "");
    }
    // bulk_status: one statement changing many rows of one tenant and model.
    const ModelChoice& model = PickModel();
    return "UPDATE embedding SET status = " + Quote(PickStatus()) + " WHERE model = " + Quote(model.name) +
           " AND entity_id IN (SELECT id FROM entity WHERE tenant_id = " +
           Quote(tenants_[rng_() % tenants_.size()]) + " ORDER BY version_id LIMIT " +
           std::to_string(10 + rng_() % 60) + ");";
  }

  static std::string EntityInsert(const std::string& id, const std::string& tenant, const std::string& type,
                                   int version, const std::string& previous) {
    return "INSERT INTO entity (id, tenant_id, entity_type, version, previous_version_id) VALUES (" + Quote(id) +
           ", " + Quote(tenant) + ", " + Quote(type) + ", " + std::to_string(version) + ", " +
           (previous.empty() ? "NULL" : Quote(previous)) + ");";
  }

  std::string NewEntity() {
    Entity e{NewUuid(), tenants_[rng_() % tenants_.size()]};
    entities_.push_back(e);
    std::string sql = EntityInsert(e.id, e.tenant, Pick(kTypes), 1, "");
    const int embeddings = static_cast<int>(rng_() % 3);
    const ModelChoice* used = nullptr;
    for (int i = 0; i < embeddings; ++i) {
      const ModelChoice& model = PickModel();
      if (&model == used) continue;
      used = &model;
      const char* status = PickStatus();
      sql += Upsert(e.id, model, std::string(status) == "failed" ? "NULL" : MaybeBadVectorFor(model), status);
    }
    return sql;
  }

  // Close the current version and insert the next with the same id (maybe a new type).
  std::string NewVersion() {
    const std::string id = Quote(PickEntity().id);
    const std::string type = Chance(0.5) ? Quote(Pick(kTypes)) : "entity_type";
    return "WITH closed AS (UPDATE entity SET valid_to = clock_timestamp() WHERE id = " + id +
           " AND valid_to IS NULL RETURNING tenant_id, entity_type, version) "
           "INSERT INTO entity (id, tenant_id, entity_type, version) "
           "SELECT " + id + ", tenant_id, " + type + ", version + 1 FROM closed;";
  }

  // The id-per-version layout: the next version gets a new id, linked by previous_version_id,
  // and copies of the old version's embeddings.
  std::string NewVersionNewId() {
    Entity& e = PickEntity();
    const std::string old_id = Quote(e.id);
    const std::string new_id = NewUuid();
    e.id = new_id;
    return "WITH closed AS (UPDATE entity SET valid_to = clock_timestamp() WHERE id = " + old_id +
           " AND valid_to IS NULL RETURNING tenant_id, entity_type, version) "
           "INSERT INTO entity (id, tenant_id, entity_type, version, previous_version_id) "
           "SELECT " + Quote(new_id) + ", tenant_id, entity_type, version + 1, " + old_id + " FROM closed;"
           "INSERT INTO embedding (entity_id, model, vector, status) SELECT " + Quote(new_id) +
           ", model, vector, status FROM embedding WHERE entity_id = " + old_id + ";";
  }

  // Every embedding truncated and put back (same keys) in one transaction.
  std::string TruncateAndReload() {
    ++op_counts_["truncate_reload"];
    return "CREATE TEMP TABLE saved_embedding ON COMMIT DROP AS SELECT * FROM embedding;"
           "TRUNCATE embedding;"
           "INSERT INTO embedding OVERRIDING SYSTEM VALUE SELECT * FROM saved_embedding;";
  }

  SqlSession sql_;
  std::mt19937_64 rng_;
  std::vector<std::string> tenants_;
  std::vector<Entity> entities_;
  std::vector<Entity> orphans_;  // embeddings written, entity not yet
  int truncate_at_ = -1;
  int committed_ = 0, rolled_back_ = 0;
  std::map<std::string, int> op_counts_;
};

// Runs writer.Step(i) for i in [0, total) on its own thread, pausing before `pause_at` until
// Resume(). `time_limit` bounds the time spent writing; the pause does not count (the test
// starts the server and checks the whole mirror meanwhile, which a loaded machine may take long
// over). The destructor resumes, stops and joins, so a failed ASSERT never leaves it running.
class WriterThread {
 public:
  WriterThread(RandomWriter& writer, int pause_at, int total, std::chrono::seconds time_limit) {
    thread_ = std::thread([this, &writer, pause_at, total, time_limit] {
      auto deadline = std::chrono::steady_clock::now() + time_limit;
      for (int i = 0; i < total && !stop_; ++i) {
        if (i == pause_at) {
          const auto paused_at = std::chrono::steady_clock::now();
          while (!resumed_ && !stop_) std::this_thread::sleep_for(std::chrono::milliseconds(5));
          deadline += std::chrono::steady_clock::now() - paused_at;
        }
        if (std::chrono::steady_clock::now() > deadline) {
          timed_out_ = true;
          break;
        }
        std::string error;
        if (!writer.Step(i, &error)) {
          std::lock_guard lock(mu_);
          error_ = error;
          failed_ = true;
          return;
        }
        ++done_;
      }
    });
  }
  ~WriterThread() {
    stop_ = true;
    Join();
  }
  void Resume() { resumed_ = true; }
  void Join() {
    resumed_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int done() const { return done_; }
  bool failed() const { return failed_; }
  bool timed_out() const { return timed_out_; }
  std::string error() const {
    std::lock_guard lock(mu_);
    return error_;
  }

 private:
  std::atomic<int> done_{0};
  std::atomic<bool> resumed_{false}, stop_{false}, failed_{false}, timed_out_{false};
  mutable std::mutex mu_;
  std::string error_;
  std::thread thread_;
};

// Searches one random tenant after another until stopped; records the first failed search or
// applied_lsn going backwards (a search must see a prefix of the commits, in commit order).
class SearchReader {
 public:
  SearchReader(v1::VectorSearch::Stub& stub, const std::vector<std::string>& tenants, uint64_t seed) {
    thread_ = std::thread([this, &stub, tenants, seed] {
      std::mt19937_64 rng(seed);
      uint64_t last_lsn = 0;
      while (!stop_) {
        v1::SearchResponse response;
        const grpc::Status s = ExactSearch(stub, tenants[rng() % tenants.size()], kMiniLm,
                                           RandomVector(rng, 384), 20, 0, std::chrono::seconds(10), &response);
        std::string problem;
        if (!s.ok()) {
          problem = "search failed: " + GrpcText(s);
        } else if (response.applied_lsn() < last_lsn) {
          problem = "applied_lsn went back from " + FormatLsn(last_lsn) + " to " + FormatLsn(response.applied_lsn());
        }
        if (!problem.empty()) {
          std::lock_guard lock(mu_);
          if (error_.empty()) error_ = problem;
        }
        last_lsn = std::max(last_lsn, response.applied_lsn());
        ++reads_;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    });
  }
  ~SearchReader() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int reads() const { return reads_; }
  std::string error() const {
    std::lock_guard lock(mu_);
    return error_;
  }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<int> reads_{0};
  mutable std::mutex mu_;
  std::string error_;
  std::thread thread_;
};

// A scratch database of `tenants` x `entities_per_tenant` generated entities with 384- and
// 1536-d embeddings, 2% of them bad.
void CreateModelDatabase(const std::string& name, uint32_t tenants, uint32_t entities_per_tenant,
                         uint64_t seed, LiveMirror* mirror, GeneratedData* data) {
  std::cout << "seed=" << seed << " (rerun with VECMIRROR_TEST_SEED=" << seed << ")" << std::endl;
  ASSERT_TRUE(mirror->Create(name).ok());
  datagen::DatasetSpec spec;
  spec.tenants = tenants;
  spec.entities_per_tenant = entities_per_tenant;
  spec.models = {{kMiniLm, 384}, {kSmall, 1536}};
  spec.bad_share = 0.02;
  spec.seed = seed;
  const Status s = LoadGeneratedData(mirror->conninfo(), spec, data);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(data->tenants.size(), tenants);
}

TEST(MirrorModelTest, RandomTransactionsEndEqualToSql) {
  const uint64_t seed = SeedFromEnvironment();
  SCOPED_TRACE("seed=" + std::to_string(seed));
  LiveMirror mirror;
  GeneratedData data;
  // Initial data: large enough that the initial load takes a moment.
  ASSERT_NO_FATAL_FAILURE(CreateModelDatabase("model", 3, 1200, seed, &mirror, &data));

  const std::vector<std::string>& tenants = data.tenants;
  const std::vector<std::pair<std::string, std::string>>& entities = data.entities;

  RandomWriter writer(mirror.conninfo(), seed + 1, tenants, entities);
  std::mt19937_64 rng(seed + 2);
  writer.set_truncate_at(kLoadPhaseTransactions +
                         static_cast<int>(rng() % (kStreamPhaseTransactions / 2)));

  // The writer starts before the server, so some of its commits land while the slot is created
  // and the snapshot is read, and others just after. It pauses after the first phase.
  WriterThread writer_thread(writer, kLoadPhaseTransactions,
                             kLoadPhaseTransactions + kStreamPhaseTransactions, kWriterTimeLimit);
  while (writer_thread.done() < 20 && !writer_thread.failed()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const int done_at_start = writer_thread.done();
  // kCustom is first seen mid-stream: learned.
  ASSERT_TRUE(mirror.StartServer({"--learn-models", "--learn-model-dims", std::to_string(kCustomDim)}).ok())
      << mirror.LogTail();
  const int done_at_loaded = writer_thread.done();

  // At the pause, the state the load and the first stream left must already be exact.
  while (writer_thread.done() < kLoadPhaseTransactions && !writer_thread.failed() &&
         !writer_thread.timed_out()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_FALSE(writer_thread.failed()) << writer_thread.error();
  MirrorCheckOptions options;
  options.extra_models = {{kCustom, kCustomDim}};
  options.learn_models = true;
  ExpectMirrorEqualsDatabase(mirror.conninfo(), mirror.stub(), 0, options);

  // A reader meanwhile: every search succeeds, and applied_lsn never goes back.
  SearchReader reader(mirror.stub(), tenants, seed + 3);
  writer_thread.Resume();
  writer_thread.Join();
  reader.Stop();
  ASSERT_FALSE(writer_thread.failed()) << writer_thread.error();
  EXPECT_TRUE(reader.error().empty()) << reader.error();
  const int reads = reader.reads();

  std::cout << "[ model ] " << writer.committed() << " committed, " << writer.rolled_back()
            << " rolled back; " << done_at_loaded - done_at_start
            << " committed while the server started and loaded; " << reads << " concurrent searches\n";
  std::cout << "[ model ] operations:";
  for (const auto& [op, n] : writer.op_counts()) std::cout << " " << op << "=" << n;
  std::cout << "\n";
  EXPECT_GT(done_at_loaded, done_at_start) << "no commit landed during the initial load";
  EXPECT_GE(writer.committed() + writer.rolled_back(), 1000) << "the writer hit its time limit early";

  ExpectMirrorEqualsDatabase(mirror.conninfo(), mirror.stub(), 0, options);

  // The checker's reading of "searchable" agrees with the data generator's own SQL summary.
  SearchableSet groups;
  ASSERT_TRUE(ReadSearchableSet(mirror.conninfo(), options, &groups).ok());
  datagen::DatabaseSummary summary;
  {
    SqlSession session(mirror.conninfo());
    ASSERT_TRUE(session.Exec("ANALYZE entity; ANALYZE embedding").ok());
    ASSERT_TRUE(datagen::SummarizeDatabase(session.raw(),
                                           {{kMiniLm, 384}, {kSmall, 1536}, {kLarge, 3072}, {kCustom, kCustomDim}},
                                           &summary).ok());
  }
  std::map<GroupKey, uint64_t> counted;
  for (const auto& [key, group] : groups) counted[key] = group.size();
  EXPECT_EQ(counted, summary.searchable);

  const v1::MirrorStatus status = mirror.server().Status();
  EXPECT_EQ(status.initial_loads(), 1u);
  EXPECT_GT(status.bad_rows().null_vector() + status.bad_rows().non_finite() + status.bad_rows().zero_vector() +
                status.bad_rows().dimension_mismatch(),
            0u);
  if (HasFailure()) std::cerr << "server log (tail):\n" << mirror.LogTail(60) << "\n";
}

// The same random transactions, with the server restarted from its snapshots three times while
// they run (killed, stopped, killed): each start resumes (no initial load), including learned
// models, pending vectors and a TRUNCATE, and the end state equals SQL exactly.
TEST(MirrorModelTest, RestartsFromSnapshotsInTheMiddleEndEqualToSql) {
  const uint64_t seed = SeedFromEnvironment();
  SCOPED_TRACE("seed=" + std::to_string(seed));
  LiveMirror mirror;
  GeneratedData data;
  ASSERT_NO_FATAL_FAILURE(CreateModelDatabase("model_restart", 2, 400, seed, &mirror, &data));
  const std::vector<std::string>& tenants = data.tenants;
  const std::vector<std::pair<std::string, std::string>>& entities = data.entities;
  const std::string dir = BinaryDir() + "/tests/snapshots-model-" + std::to_string(getpid());
  std::filesystem::remove_all(dir);
  const std::vector<std::string> flags = {"--learn-models", "--learn-model-dims",
                                          std::to_string(kCustomDim), "--snapshot-dir", dir,
                                          "--snapshot-every-changes", "40", "--ann-min-rows", "300"};
  ASSERT_TRUE(mirror.StartServer(flags).ok()) << mirror.LogTail();

  constexpr int kTransactions = 800;
  RandomWriter writer(mirror.conninfo(), seed + 1, tenants, entities);
  writer.set_truncate_at(350 + static_cast<int>(seed % 200));
  WriterThread writer_thread(writer, -1, kTransactions, kWriterTimeLimit);
  const int signals[] = {SIGKILL, SIGTERM, SIGKILL};
  for (int round = 0; round < 3; ++round) {
    while (writer_thread.done() < (round + 1) * 200 && !writer_thread.failed() &&
           !writer_thread.timed_out()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    mirror.StopServer(signals[round]);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // commits nobody follows
    ASSERT_TRUE(mirror.StartServer(flags).ok()) << mirror.LogTail();
    const v1::MirrorStatus status = mirror.server().Status();
    EXPECT_EQ(status.initial_loads(), 0u) << "round " << round << ": " << mirror.LogTail();
    EXPECT_EQ(status.snapshots().started_from().rfind("resumed from ", 0), 0u)
        << status.snapshots().started_from();
  }
  writer_thread.Join();
  ASSERT_FALSE(writer_thread.failed()) << writer_thread.error();
  std::cout << "[ model restarts ] " << writer.committed() << " committed, "
            << writer.rolled_back() << " rolled back, 3 restarts from snapshots\n";

  MirrorCheckOptions options;
  options.extra_models = {{kCustom, kCustomDim}};
  options.learn_models = true;
  ExpectMirrorEqualsDatabase(mirror.conninfo(), mirror.stub(), 0, options);
  if (HasFailure()) std::cerr << "server log (tail):\n" << mirror.LogTail(60) << "\n";
  mirror.StopServer(SIGKILL);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace vecmirror::testing
