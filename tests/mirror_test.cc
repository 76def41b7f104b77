// The Mirror's semantics, without PostgreSQL: rows in, index contents out. Each case is one of
// DESIGN.md's "What the mirror must remember" rules; the end-to-end versions over a real
// replication stream live in the integration suites.
#include "src/mirror.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>
#include <tuple>

namespace vecmirror {
namespace {

// `v` scaled to unit length, as the index stores it.
std::vector<float> Normalized(std::vector<float> v) {
  double norm = 0;
  for (float x : v) norm += double(x) * x;
  for (float& x : v) x = static_cast<float>(x / std::sqrt(norm));
  return v;
}

Uuid MakeUuid(int n) {
  Uuid u;
  u.bytes[15] = static_cast<uint8_t>(n);
  u.bytes[14] = static_cast<uint8_t>(n >> 8);
  u.bytes[0] = 0x42;
  return u;
}

const Uuid kTenant = MakeUuid(9000);
const Uuid kOtherTenant = MakeUuid(9001);
constexpr const char* kModel = "all-MiniLM-L6-v2";
constexpr uint32_t kDim = 384;

std::vector<float> RandomVector(int seed, uint32_t dim = kDim) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  std::vector<float> v(dim);
  for (auto& x : v) x = normal(rng);
  return v;
}

EntityRow Entity(const std::string& key, int id, const std::string& type, bool current = true,
                 Uuid tenant = kTenant) {
  return EntityRow{key, MakeUuid(id), tenant, type, current};
}

EmbeddingRow Embedding(const std::string& key, int entity, EmbeddingStatus status,
                       std::vector<float> vector, const std::string& model = kModel) {
  EmbeddingRow row;
  row.key = key;
  row.entity_id = MakeUuid(entity);
  row.model = model;
  row.status = status;
  row.vector_state = EmbeddingRow::VectorState::kValue;
  row.vector = std::move(vector);
  return row;
}

EmbeddingRow Unchanged(const std::string& key, int entity, EmbeddingStatus status) {
  EmbeddingRow row = Embedding(key, entity, status, {});
  row.vector_state = EmbeddingRow::VectorState::kUnchanged;
  return row;
}

class MirrorTest : public ::testing::Test {
 protected:
  MirrorTest() : mirror_(registry_, models_, board_) {
    mirror_.BeginLoad();
    mirror_.FinishLoad(lsn_);
  }

  // Entity id -> type name, as the index holds it.
  std::map<Uuid, std::string> Indexed(Uuid tenant = kTenant, const std::string& model = kModel,
                                      uint32_t dim = kDim) {
    std::map<Uuid, std::string> out;
    auto index = registry_.Find(IndexKey{tenant, model, dim});
    if (!index) return out;
    index->ForEachLive([&](const Uuid& id, EntityTypeCode code, std::span<const float>) {
      out[id] = registry_.types().Name(code);
    });
    return out;
  }

  std::vector<float> IndexedVector(int entity) {
    auto index = registry_.Find(IndexKey{kTenant, kModel, kDim});
    EXPECT_NE(index, nullptr);
    auto v = index->VectorOf(MakeUuid(entity));
    EXPECT_TRUE(v.has_value());
    return v.value_or(std::vector<float>());
  }

  void Begin() { mirror_.BeginTransaction(++lsn_, 0); }
  void Commit() { mirror_.CommitTransaction(++lsn_, 0); }

  Registry registry_;
  ModelCatalog models_;
  MirrorStatusBoard board_;
  Mirror mirror_;
  uint64_t lsn_ = 100;
};

TEST_F(MirrorTest, NewVersionInOneTransactionReplacesTheOld) {
  Begin();
  mirror_.UpsertEntity(Entity("v1", 1, "context"));
  mirror_.UpsertEmbedding(Embedding("e1", 1, EmbeddingStatus::kCompleted, RandomVector(1)));
  Commit();
  ASSERT_EQ(Indexed(), (std::map<Uuid, std::string>{{MakeUuid(1), "context"}}));

  Begin();
  mirror_.UpsertEntity(Entity("v1", 1, "context", /*current=*/false));  // closes version 1
  mirror_.UpsertEntity(Entity("v2", 1, "template"));                    // type changes in v2
  Commit();
  EXPECT_EQ(Indexed(), (std::map<Uuid, std::string>{{MakeUuid(1), "template"}}));
  EXPECT_EQ(registry_.applied_lsn(), lsn_);
}

TEST_F(MirrorTest, NothingIsVisibleBeforeCommit) {
  Begin();
  mirror_.UpsertEntity(Entity("v1", 1, "context"));
  mirror_.UpsertEmbedding(Embedding("e1", 1, EmbeddingStatus::kCompleted, RandomVector(1)));
  EXPECT_TRUE(Indexed().empty());
  Commit();
  EXPECT_EQ(Indexed().size(), 1u);
}

TEST_F(MirrorTest, EmbeddingBeforeItsEntityWaitsForIt) {
  Begin();
  mirror_.UpsertEmbedding(Embedding("e1", 1, EmbeddingStatus::kCompleted, RandomVector(1)));
  Commit();
  EXPECT_TRUE(Indexed().empty());
  Begin();
  mirror_.UpsertEntity(Entity("v1", 1, "workflow"));
  Commit();
  EXPECT_EQ(Indexed(), (std::map<Uuid, std::string>{{MakeUuid(1), "workflow"}}));
}

TEST_F(MirrorTest, PendingToCompletedWithUnchangedVectorUsesTheRememberedVector) {
  const auto vector = RandomVector(7);
  Begin();
  mirror_.UpsertEntity(Entity("v1", 1, "context"));
  mirror_.UpsertEmbedding(Embedding("e1", 1, EmbeddingStatus::kPending, vector));
  Commit();
  EXPECT_TRUE(Indexed().empty());

  Begin();
  mirror_.UpsertEmbedding(Unchanged("e1", 1, EmbeddingStatus::kCompleted));
  Commit();
  ASSERT_EQ(Indexed().size(), 1u);
  const auto stored = IndexedVector(1);
  double norm = 0;
  for (float x : vector) norm += double(x) * x;
  norm = std::sqrt(norm);
  ASSERT_EQ(stored.size(), vector.size());
  for (size_t i = 0; i < vector.size(); ++i) EXPECT_NEAR(stored[i], vector[i] / norm, 1e-6);
}

TEST_F(MirrorTest, CompletedToFailedOrPendingLeavesSearch) {
  Begin();
  mirror_.UpsertEntity(Entity("v1", 1, "context"));
  mirror_.UpsertEntity(Entity("v2", 2, "context"));
  mirror_.UpsertEmbedding(Embedding("e1", 1, EmbeddingStatus::kCompleted, RandomVector(1)));
  mirror_.UpsertEmbedding(Embedding("e2", 2, EmbeddingStatus::kCompleted, RandomVector(2)));
  Commit();
  Begin();
  mirror_.UpsertEmbedding(Unchanged("e1", 1, EmbeddingStatus::kFailed));
  mirror_.UpsertEmbedding(Unchanged("e2", 2, EmbeddingStatus::kPending));
  Commit();
  EXPECT_TRUE(Indexed().empty());
}

// The index holds the only copy of a searchable vector. A row that leaves search with its
// vector unchanged (completed -> pending, a move to another tenant, a model rename) must come
// back with the same vector: the mirror reads it back from the index before removing it.
TEST_F(MirrorTest, VectorHeldOnlyByTheIndexSurvivesLeavingAndReturning) {
  const auto vector = RandomVector(11);
  Begin();
  mirror_.UpsertEntity(Entity("v1", 1, "context"));
  mirror_.UpsertEmbedding(Embedding("e1", 1, EmbeddingStatus::kCompleted, vector));
  Commit();
  const auto first = IndexedVector(1);
  ASSERT_EQ(first.size(), kDim);

  Begin();
  mirror_.UpsertEmbedding(Unchanged("e1", 1, EmbeddingStatus::kPending));
  Commit();
  ASSERT_TRUE(Indexed().empty());
  Begin();
  mirror_.UpsertEmbedding(Unchanged("e1", 1, EmbeddingStatus::kCompleted));
  Commit();
  EXPECT_EQ(IndexedVector(1), first);

  // To another tenant and back, the vector unchanged each time.
  Begin();
  mirror_.UpsertEntity(Entity("v1", 1, "context", true, kOtherTenant));
  Commit();
  EXPECT_TRUE(Indexed().empty());
  auto other = registry_.Find(IndexKey{kOtherTenant, kModel, kDim});
  ASSERT_NE(other, nullptr);
  EXPECT_EQ(other->VectorOf(MakeUuid(1)), first);
  Begin();
  mirror_.UpsertEmbedding(Unchanged("e1", 1, EmbeddingStatus::kFailed));
  Commit();
  EXPECT_FALSE(other->Contains(MakeUuid(1)));
  Begin();
  mirror_.UpsertEntity(Entity("v1", 1, "template"));
  mirror_.UpsertEmbedding(Unchanged("e1", 1, EmbeddingStatus::kCompleted));
  Commit();
  EXPECT_EQ(Indexed(), (std::map<Uuid, std::string>{{MakeUuid(1), "template"}}));
  EXPECT_EQ(IndexedVector(1), first);
}

TEST_F(MirrorTest, ModelRenameUnderAnUnchangedVectorMovesItToTheOtherIndex) {
  const std::string other_model = "nomic-embed-text-v1.5";
  ModelCatalog both({{kModel, kDim}, {other_model, kDim}});
  Registry registry;
  MirrorStatusBoard board;
  Mirror mirror(registry, both, board);
  mirror.BeginLoad();
  mirror.FinishLoad(1);
  mirror.BeginTransaction(2, 0);
  mirror.UpsertEntity(Entity("v1", 1, "context"));
  mirror.UpsertEmbedding(Embedding("e1", 1, EmbeddingStatus::kCompleted, RandomVector(5)));
  mirror.CommitTransaction(3, 0);
  const auto first = registry.Find(IndexKey{kTenant, kModel, kDim})->VectorOf(MakeUuid(1));
  ASSERT_TRUE(first.has_value());

  EmbeddingRow renamed = Unchanged("e1", 1, EmbeddingStatus::kCompleted);
  renamed.model = other_model;
  mirror.BeginTransaction(4, 0);
  mirror.UpsertEmbedding(renamed);
  mirror.CommitTransaction(5, 0);
  EXPECT_FALSE(registry.Find(IndexKey{kTenant, kModel, kDim})->Contains(MakeUuid(1)));
  auto moved = registry.Find(IndexKey{kTenant, other_model, kDim});
  ASSERT_NE(moved, nullptr);
  EXPECT_EQ(moved->VectorOf(MakeUuid(1)), first);
}

// The mirror keeps an entity's first indexed entry inline and the others beside it
// (src/mirror.h, IndexedEntries): an entity with no model, one (inline), two (one past) and three
// indexed, then each removed again, and a restore of the three-model state. At every step each
// model's index holds exactly the entities that have a completed row of that model, with that
// row's vector.
TEST_F(MirrorTest, AnEntityInZeroToThreeModelsMatchesItsRowsAtEveryStep) {
  const std::vector<std::string> names = {kModel, "model-b", "model-c"};
  ModelCatalog three({{names[0], kDim}, {names[1], kDim}, {names[2], kDim}});
  Registry registry;
  MirrorStatusBoard board;
  Mirror mirror(registry, three, board);
  mirror.BeginLoad();
  mirror.FinishLoad(1);
  uint64_t lsn = 1;
  auto in_index = [&](int model) {
    std::map<Uuid, std::vector<float>> out;
    if (auto index = registry.Find(IndexKey{kTenant, names[model], kDim})) {
      index->ForEachLive([&](const Uuid& id, EntityTypeCode, std::span<const float> v) {
        out[id] = std::vector<float>(v.begin(), v.end());
      });
    }
    return out;
  };
  // Entity 1 has rows of the first `models` models; entity 2 always has one row of model 0.
  auto expect_models = [&](int models) {
    for (int model = 0; model < 3; ++model) {
      std::map<Uuid, std::vector<float>> want;
      if (model < models) want[MakeUuid(1)] = Normalized(RandomVector(100 + model));
      if (model == 0) want[MakeUuid(2)] = Normalized(RandomVector(200));
      const auto got = in_index(model);
      ASSERT_EQ(got.size(), want.size()) << "model " << model << " with " << models << " models";
      for (const auto& [id, v] : want) {
        ASSERT_TRUE(got.contains(id)) << "model " << model << " with " << models << " models";
        for (size_t i = 0; i < kDim; ++i) {
          ASSERT_NEAR(got.at(id)[i], v[i], 1e-6);
        }
      }
    }
  };
  mirror.BeginTransaction(++lsn, 0);
  mirror.UpsertEntity(Entity("v1", 1, "context"));
  mirror.UpsertEntity(Entity("v2", 2, "context"));
  mirror.UpsertEmbedding(Embedding("e2", 2, EmbeddingStatus::kCompleted, RandomVector(200)));
  mirror.CommitTransaction(++lsn, 0);
  expect_models(0);
  for (int models = 1; models <= 3; ++models) {
    mirror.BeginTransaction(++lsn, 0);
    mirror.UpsertEmbedding(Embedding("e1-" + std::to_string(models - 1), 1,
                                     EmbeddingStatus::kCompleted, RandomVector(100 + models - 1),
                                     names[models - 1]));
    mirror.CommitTransaction(++lsn, 0);
    expect_models(models);
  }

  // Restored with three entries, the restored mirror takes each out and back through
  // unchanged-TOAST updates: the vector comes back from the index, inline entry or not.
  Mirror restored(registry, three, board);
  ASSERT_TRUE(restored.RestoreState(mirror.EncodeState()).ok());
  for (int model = 0; model < 3; ++model) {
    EmbeddingRow out = Unchanged("e1-" + std::to_string(model), 1, EmbeddingStatus::kPending);
    out.model = names[model];
    restored.BeginTransaction(++lsn, 0);
    restored.UpsertEmbedding(out);
    restored.CommitTransaction(++lsn, 0);
    EXPECT_FALSE(in_index(model).contains(MakeUuid(1))) << model;
    out.status = EmbeddingStatus::kCompleted;
    restored.BeginTransaction(++lsn, 0);
    restored.UpsertEmbedding(out);
    restored.CommitTransaction(++lsn, 0);
    expect_models(3);
  }
  for (int models = 3; models >= 1; --models) {
    restored.BeginTransaction(++lsn, 0);
    restored.RemoveEmbedding("e1-" + std::to_string(models - 1));
    restored.CommitTransaction(++lsn, 0);
    expect_models(models - 1);
  }
}

// The state in a snapshot: a second Mirror restored from the first's bytes, over the same
// indexes, goes on exactly as the first would: a pending row's vector (held by the mirror) and
// an indexed row's vector (held by the index) both come back through unchanged-TOAST updates.
TEST_F(MirrorTest, RestoredStateGoesOnAsTheOriginalWould) {
  const auto pending_vector = RandomVector(21);
  Begin();
  mirror_.UpsertEntity(Entity("v1", 1, "context"));
  mirror_.UpsertEntity(Entity("v2", 2, "template"));
  mirror_.UpsertEntity(Entity("v3", 3, "workflow"));
  mirror_.UpsertEmbedding(Embedding("e1", 1, EmbeddingStatus::kCompleted, RandomVector(20)));
  mirror_.UpsertEmbedding(Embedding("e2", 2, EmbeddingStatus::kPending, pending_vector));
  mirror_.UpsertEmbedding(Embedding("e3", 3, EmbeddingStatus::kCompleted, std::vector<float>(kDim, 0.0f)));
  Commit();
  const auto indexed_vector = IndexedVector(1);
  ASSERT_EQ(board_.Get().bad_rows[BadRowReason::kZeroVector], 1u);
  ASSERT_TRUE(mirror_.at_transaction_boundary());
  const std::string state = mirror_.EncodeState();

  ModelCatalog models;
  MirrorStatusBoard board;
  Mirror restored(registry_, models, board);
  ASSERT_TRUE(restored.RestoreState(state).ok());
  EXPECT_EQ(restored.entity_count(), 3u);
  EXPECT_EQ(restored.embedding_count(), 3u);
  EXPECT_EQ(board.Get().bad_rows[BadRowReason::kZeroVector], 1u);
  EXPECT_TRUE(board.loaded());

  restored.BeginTransaction(++lsn_, 0);
  restored.UpsertEmbedding(Unchanged("e1", 1, EmbeddingStatus::kPending));
  restored.UpsertEmbedding(Unchanged("e2", 2, EmbeddingStatus::kCompleted));
  restored.CommitTransaction(++lsn_, 0);
  EXPECT_EQ(Indexed(), (std::map<Uuid, std::string>{{MakeUuid(2), "template"}}));
  restored.BeginTransaction(++lsn_, 0);
  restored.UpsertEmbedding(Unchanged("e1", 1, EmbeddingStatus::kCompleted));
  restored.CommitTransaction(++lsn_, 0);
  EXPECT_EQ(IndexedVector(1), indexed_vector);
  const auto stored = IndexedVector(2);
  double norm = 0;
  for (float x : pending_vector) norm += double(x) * x;
  ASSERT_EQ(stored.size(), kDim);
  for (size_t i = 0; i < kDim; ++i) EXPECT_NEAR(stored[i], pending_vector[i] / std::sqrt(norm), 1e-6);
}

TEST_F(MirrorTest, RestoreRefusesTruncatedBytesAndOtherModels) {
  Begin();
  mirror_.UpsertEntity(Entity("v1", 1, "context"));
  mirror_.UpsertEmbedding(Embedding("e1", 1, EmbeddingStatus::kPending, RandomVector(3)));
  mirror_.UpsertEmbedding(Embedding("e2", 1, EmbeddingStatus::kCompleted, RandomVector(4)));
  Commit();
  const std::string state = mirror_.EncodeState();
  for (size_t n = 0; n < state.size(); n += 7) {
    ModelCatalog models;
    MirrorStatusBoard board;
    Mirror restored(registry_, models, board);
    EXPECT_FALSE(restored.RestoreState(std::string_view(state).substr(0, n)).ok()) << n;
    EXPECT_EQ(restored.entity_count(), 0u);
    EXPECT_FALSE(board.loaded());
  }
  ModelCatalog other_models({{kModel, 1536}});
  Mirror restored(registry_, other_models, board_);
  const Status s = restored.RestoreState(state);
  EXPECT_EQ(s.code(), Status::Code::kFailedPrecondition);
  EXPECT_NE(s.message().find("configured models"), std::string::npos) << s.message();
  // An index that lost an entry the state says it holds is refused too.
  Registry empty_registry;
  ModelCatalog models;
  Mirror without_indexes(empty_registry, models, board_);
  EXPECT_EQ(without_indexes.RestoreState(state).code(), Status::Code::kCorruption);
}

TEST_F(MirrorTest, SoftDeleteAndRestore) {
  Begin();
  mirror_.UpsertEntity(Entity("v1", 1, "library"));
  mirror_.UpsertEmbedding(Embedding("e1", 1, EmbeddingStatus::kCompleted, RandomVector(1)));
  Commit();
  Begin();
  mirror_.UpsertEntity(Entity("v1", 1, "library", /*current=*/false));  // deleted_at set
  Commit();
  EXPECT_TRUE(Indexed().empty());
  Begin();
  mirror_.UpsertEntity(Entity("v1", 1, "library", /*current=*/true));  // deleted_at cleared
  Commit();
  EXPECT_EQ(Indexed(), (std::map<Uuid, std::string>{{MakeUuid(1), "library"}}));
}

TEST_F(MirrorTest, VectorReplacedAndEmbeddingDeleted) {
  Begin();
  mirror_.UpsertEntity(Entity("v1", 1, "context"));
  mirror_.UpsertEmbedding(Embedding("e1", 1, EmbeddingStatus::kCompleted, RandomVector(1)));
  Commit();
  const auto replacement = RandomVector(99);
  Begin();
  mirror_.UpsertEmbedding(Embedding("e1", 1, EmbeddingStatus::kCompleted, replacement));
  Commit();
  const auto stored = IndexedVector(1);
  double dot = 0, norm = 0;
  for (size_t i = 0; i < replacement.size(); ++i) {
    dot += stored[i] * replacement[i];
    norm += double(replacement[i]) * replacement[i];
  }
  EXPECT_NEAR(dot / std::sqrt(norm), 1.0, 1e-5);

  Begin();
  mirror_.RemoveEmbedding("e1");
  Commit();
  EXPECT_TRUE(Indexed().empty());
}

TEST_F(MirrorTest, BadRowsAreCountedAndNeverIndexed) {
  auto nan_vector = RandomVector(1);
  nan_vector[5] = std::nanf("");
  auto inf_vector = RandomVector(2);
  inf_vector[0] = INFINITY;
  EmbeddingRow null_vector = Embedding("e3", 3, EmbeddingStatus::kCompleted, {});
  null_vector.vector_state = EmbeddingRow::VectorState::kNull;

  Begin();
  for (int i = 1; i <= 6; ++i) mirror_.UpsertEntity(Entity("v" + std::to_string(i), i, "context"));
  mirror_.UpsertEmbedding(Embedding("e1", 1, EmbeddingStatus::kCompleted, nan_vector));
  mirror_.UpsertEmbedding(Embedding("e2", 2, EmbeddingStatus::kCompleted, inf_vector));
  mirror_.UpsertEmbedding(null_vector);
  mirror_.UpsertEmbedding(Embedding("e4", 4, EmbeddingStatus::kCompleted, std::vector<float>(kDim, 0.0f)));
  mirror_.UpsertEmbedding(Embedding("e5", 5, EmbeddingStatus::kCompleted, RandomVector(5, 100)));
  mirror_.UpsertEmbedding(Embedding("e6", 6, EmbeddingStatus::kCompleted, RandomVector(6)));
  Commit();

  EXPECT_EQ(Indexed(), (std::map<Uuid, std::string>{{MakeUuid(6), "context"}}));
  const auto bad = board_.Get().bad_rows;
  EXPECT_EQ(bad[BadRowReason::kNonFinite], 2u);
  EXPECT_EQ(bad[BadRowReason::kNullVector], 1u);
  EXPECT_EQ(bad[BadRowReason::kZeroVector], 1u);
  EXPECT_EQ(bad[BadRowReason::kDimensionMismatch], 1u);
}

TEST_F(MirrorTest, ABadRowIsCountedOnceWhileItStaysBad) {
  EmbeddingRow null_vector = Embedding("e1", 1, EmbeddingStatus::kCompleted, {});
  null_vector.vector_state = EmbeddingRow::VectorState::kNull;
  Begin();
  mirror_.UpsertEntity(Entity("v1", 1, "context"));
  mirror_.UpsertEmbedding(null_vector);
  Commit();
  for (int i = 0; i < 3; ++i) {  // e.g. updated_at touched: still bad, not a new bad row
    Begin();
    mirror_.UpsertEmbedding(null_vector);
    Commit();
  }
  EXPECT_EQ(board_.Get().bad_rows[BadRowReason::kNullVector], 1u);

  Begin();
  mirror_.UpsertEmbedding(Embedding("e1", 1, EmbeddingStatus::kCompleted, RandomVector(1)));
  Commit();
  EXPECT_EQ(Indexed().size(), 1u);
  Begin();
  mirror_.UpsertEmbedding(null_vector);  // bad again after being good: counted again
  Commit();
  EXPECT_EQ(board_.Get().bad_rows[BadRowReason::kNullVector], 2u);
  EXPECT_TRUE(Indexed().empty());
}

TEST_F(MirrorTest, RowsOfAnUnconfiguredModelAreCountedAndNotIndexed) {
  Begin();
  mirror_.UpsertEntity(Entity("v1", 1, "context"));
  mirror_.UpsertEntity(Entity("v2", 2, "context"));
  mirror_.UpsertEmbedding(Embedding("e1", 1, EmbeddingStatus::kCompleted, RandomVector(1, 64), "custom-64"));
  mirror_.UpsertEmbedding(Embedding("e2", 2, EmbeddingStatus::kCompleted, RandomVector(2, 65), "custom-64"));
  Commit();
  EXPECT_EQ(models_.DimensionOf("custom-64"), std::nullopt);
  EXPECT_EQ(registry_.Find(IndexKey{kTenant, "custom-64", 64}), nullptr);
  EXPECT_EQ(board_.Get().bad_rows[BadRowReason::kUnknownModel], 2u);
  EXPECT_EQ(board_.Get().bad_rows[BadRowReason::kDimensionMismatch], 0u);
}

TEST_F(MirrorTest, LearningTakesAnUnknownModelFromItsFirstRowAtAnAllowedDimension) {
  ModelCatalog learning_models(DefaultModels(), ModelLearning{true, {64}, 1});
  Mirror learning(registry_, learning_models, board_);
  learning.BeginLoad();
  learning.FinishLoad(++lsn_);
  learning.BeginTransaction(++lsn_, 0);
  learning.UpsertEntity(Entity("v1", 1, "context"));
  learning.UpsertEntity(Entity("v2", 2, "context"));
  learning.UpsertEntity(Entity("v3", 3, "context"));
  learning.UpsertEmbedding(Embedding("e1", 1, EmbeddingStatus::kCompleted, RandomVector(1, 64), "custom-64"));
  learning.UpsertEmbedding(Embedding("e2", 2, EmbeddingStatus::kCompleted, RandomVector(2, 65), "custom-64"));
  learning.UpsertEmbedding(Embedding("e3", 3, EmbeddingStatus::kCompleted, RandomVector(3, 64), "second-64"));
  learning.CommitTransaction(++lsn_, 0);
  EXPECT_EQ(learning_models.DimensionOf("custom-64"), 64u);
  EXPECT_EQ(Indexed(kTenant, "custom-64", 64).size(), 1u);
  EXPECT_EQ(board_.Get().bad_rows[BadRowReason::kDimensionMismatch], 1u);
  EXPECT_EQ(learning_models.DimensionOf("second-64"), std::nullopt) << "one model at most";
  EXPECT_EQ(board_.Get().bad_rows[BadRowReason::kUnknownModel], 1u);
}

TEST_F(MirrorTest, TruncateEmptiesTheIndexes) {
  Begin();
  mirror_.UpsertEntity(Entity("v1", 1, "context"));
  mirror_.UpsertEntity(Entity("v2", 2, "context", true, kOtherTenant));
  mirror_.UpsertEmbedding(Embedding("e1", 1, EmbeddingStatus::kCompleted, RandomVector(1)));
  mirror_.UpsertEmbedding(Embedding("e2", 2, EmbeddingStatus::kCompleted, RandomVector(2)));
  Commit();
  ASSERT_EQ(Indexed().size() + Indexed(kOtherTenant).size(), 2u);
  Begin();
  mirror_.TruncateEmbeddings();
  Commit();
  EXPECT_TRUE(Indexed().empty());
  EXPECT_TRUE(Indexed(kOtherTenant).empty());
}

TEST_F(MirrorTest, AReplayedTransactionIsSkipped) {
  Begin();
  mirror_.UpsertEntity(Entity("v1", 1, "context"));
  mirror_.UpsertEmbedding(Embedding("e1", 1, EmbeddingStatus::kCompleted, RandomVector(1)));
  Commit();
  const uint64_t applied = registry_.applied_lsn();
  // A transaction whose commit record lies before the applied LSN was applied already.
  EXPECT_FALSE(mirror_.BeginTransaction(applied - 1, 0));
  mirror_.RemoveEmbedding("e1");
  mirror_.CommitTransaction(applied, 0);
  EXPECT_EQ(Indexed().size(), 1u);
  EXPECT_TRUE(mirror_.BeginTransaction(applied, 0));
  mirror_.CommitTransaction(applied + 1, 0);
}

TEST_F(MirrorTest, ReloadReplacesTheWholeState) {
  Begin();
  mirror_.UpsertEntity(Entity("v1", 1, "context"));
  mirror_.UpsertEntity(Entity("v2", 2, "context"));
  mirror_.UpsertEmbedding(Embedding("e1", 1, EmbeddingStatus::kCompleted, RandomVector(1)));
  mirror_.UpsertEmbedding(Embedding("e2", 2, EmbeddingStatus::kCompleted, RandomVector(2)));
  Commit();
  mirror_.BeginLoad();
  mirror_.UpsertEntity(Entity("v2", 2, "template"));
  mirror_.UpsertEntity(Entity("v3", 3, "context"));
  mirror_.UpsertEmbedding(Embedding("e2", 2, EmbeddingStatus::kCompleted, RandomVector(2)));
  mirror_.UpsertEmbedding(Embedding("e3", 3, EmbeddingStatus::kCompleted, RandomVector(3)));
  mirror_.FinishLoad(lsn_ + 10);
  EXPECT_EQ(Indexed(), (std::map<Uuid, std::string>{{MakeUuid(2), "template"}, {MakeUuid(3), "context"}}));
  EXPECT_EQ(registry_.applied_lsn(), lsn_ + 10);
}

// A load keeps its rows' floats in shared blocks until FinishLoad (src/load_floats.h): the
// indexed rows must hold exactly their normalized vectors, and the rows no index took must keep
// theirs for a later status-only update.
TEST_F(MirrorTest, ALoadIndexesItsVectorsAndKeepsThoseOfRowsNotYetSearchable) {
  mirror_.BeginLoad();
  for (int i = 1; i <= 40; ++i) mirror_.UpsertEntity(Entity("v" + std::to_string(i), i, "context"));
  for (int i = 1; i <= 40; ++i) {
    const EmbeddingStatus status = i % 4 == 0   ? EmbeddingStatus::kPending
                                   : i % 4 == 1 ? EmbeddingStatus::kFailed
                                                : EmbeddingStatus::kCompleted;
    mirror_.UpsertEmbedding(Embedding("e" + std::to_string(i), i, status, RandomVector(i)));
  }
  mirror_.FinishLoad(lsn_ + 10);
  lsn_ += 10;

  auto expect_indexed_as = [&](int entity) {
    const std::vector<float> stored = IndexedVector(entity);
    const std::vector<float> expected = Normalized(RandomVector(entity));
    ASSERT_EQ(stored.size(), expected.size()) << "entity " << entity;
    for (size_t d = 0; d < expected.size(); ++d) {
      ASSERT_NEAR(stored[d], expected[d], 1e-6) << "entity " << entity;
    }
  };
  EXPECT_EQ(Indexed().size(), 20u);
  for (int i = 1; i <= 40; ++i) {
    if (i % 4 == 2 || i % 4 == 3) expect_indexed_as(i);
  }

  // The pending and failed rows complete without sending their vector again.
  Begin();
  for (int i = 1; i <= 40; ++i) {
    if (i % 4 == 0 || i % 4 == 1) {
      mirror_.UpsertEmbedding(Unchanged("e" + std::to_string(i), i, EmbeddingStatus::kCompleted));
    }
  }
  Commit();
  EXPECT_EQ(Indexed().size(), 40u);
  for (int i = 1; i <= 40; ++i) expect_indexed_as(i);
}

// A load records no touched entities (src/mirror.h, Touch): its finish diffs every entity the
// mirror has links for. A reload after a streamed state and a transaction cut short, whose rows
// replace keys twice, write non-current versions, remove an entity mid-load (its links go) and
// bring embeddings without an entity: the indexes must then hold exactly what the load's rows
// say, by a model kept here, and a later status-only update must find the kept vectors.
TEST_F(MirrorTest, AReloadIndexesExactlyWhatItsRowsSay) {
  Begin();
  for (int i = 1; i <= 60; ++i) {
    mirror_.UpsertEntity(Entity("v" + std::to_string(i), i, i % 2 ? "context" : "template"));
    mirror_.UpsertEmbedding(Embedding("e" + std::to_string(i), i, EmbeddingStatus::kCompleted,
                                      RandomVector(i)));
  }
  Commit();
  ASSERT_EQ(Indexed().size(), 60u);
  // Cut short: no commit before the reload.
  Begin();
  mirror_.UpsertEntity(Entity("v61", 61, "context"));
  mirror_.UpsertEmbedding(Embedding("e61", 61, EmbeddingStatus::kCompleted, RandomVector(61)));
  mirror_.UpsertEmbedding(Embedding("e5", 5, EmbeddingStatus::kPending, RandomVector(5)));

  // The model: entity key -> (id, type) of current versions; embedding key -> (id, status, seed).
  std::map<std::string, std::pair<int, std::string>> entities;
  std::map<std::string, std::tuple<int, EmbeddingStatus, int>> embeddings;
  std::mt19937 rng(17);
  const std::vector<std::string> types = {"context", "template", "prompt"};
  const std::vector<EmbeddingStatus> statuses = {
      EmbeddingStatus::kCompleted, EmbeddingStatus::kCompleted, EmbeddingStatus::kPending,
      EmbeddingStatus::kFailed};
  mirror_.BeginLoad();
  for (int i = 1; i <= 90; ++i) {
    const std::string key = "v" + std::to_string(i);
    if (i % 9 == 0) continue;  // no entity: its embedding waits
    const std::string type = types[rng() % types.size()];
    mirror_.UpsertEntity(Entity(key, i, type));
    entities[key] = {i, type};
    if (i % 7 == 0) {  // a second key of the same id, not current
      mirror_.UpsertEntity(Entity(key + "-old", i, "prompt", /*current=*/false));
    }
    if (i % 11 == 0) {  // removed again within the load
      mirror_.RemoveEntity(key);
      entities.erase(key);
    }
  }
  for (int i = 1; i <= 90; ++i) {
    const std::string key = "e" + std::to_string(i);
    if (i % 13 == 0) continue;  // no embedding
    const int rounds = i % 5 == 0 ? 2 : 1;  // the key written twice: the second wins
    for (int r = 0; r < rounds; ++r) {
      const EmbeddingStatus status = statuses[rng() % statuses.size()];
      const int seed = 1000 * (r + 1) + i;
      mirror_.UpsertEmbedding(Embedding(key, i, status, RandomVector(seed)));
      embeddings[key] = {i, status, seed};
    }
  }
  mirror_.FinishLoad(lsn_ + 10);
  lsn_ += 10;

  auto expect_as_modelled = [&] {
    std::map<Uuid, std::string> want;
    std::map<int, int> seed_of;
    for (const auto& [key, row] : embeddings) {
      const auto& [id, status, seed] = row;
      const auto entity = entities.find("v" + std::to_string(id));
      if (status != EmbeddingStatus::kCompleted || entity == entities.end()) continue;
      want[MakeUuid(id)] = entity->second.second;
      seed_of[id] = seed;
    }
    ASSERT_GT(want.size(), 20u);
    ASSERT_LT(want.size(), 90u);
    EXPECT_EQ(Indexed(), want);
    for (const auto& [id, seed] : seed_of) {
      const std::vector<float> stored = IndexedVector(id);
      const std::vector<float> expected = Normalized(RandomVector(seed));
      ASSERT_EQ(stored.size(), expected.size()) << "entity " << id;
      for (size_t d = 0; d < expected.size(); ++d) ASSERT_NEAR(stored[d], expected[d], 1e-6) << id;
    }
  };
  expect_as_modelled();

  // Every pending and failed row completes without its vector: the load kept them all.
  Begin();
  for (auto& [key, row] : embeddings) {
    auto& [id, status, seed] = row;
    if (status == EmbeddingStatus::kCompleted) continue;
    mirror_.UpsertEmbedding(Unchanged(key, id, EmbeddingStatus::kCompleted));
    status = EmbeddingStatus::kCompleted;
  }
  Commit();
  expect_as_modelled();
}

// Tuples, as the load and the stream hand them over: decoded by their table's decoder, then
// applied as rows; a tuple that does not decode is counted as malformed and changes nothing.
TEST_F(MirrorTest, TuplesAreDecodedByTheirTablesDecoder) {
  using Kind = pg::ColumnValue::Kind;
  RowDecoder entities, embeddings;
  ASSERT_TRUE(RowDecoder::ForEntity({"key", "id", "tenant_id", "entity_type", "valid_to", "deleted_at"},
                                    {"key"}, {}, &entities).ok());
  ASSERT_TRUE(RowDecoder::ForEmbedding({"key", "entity_id", "model", "status", "vector"}, {"key"}, {},
                                       pg::VectorType::kPgvector, &embeddings).ok());
  const std::vector<float> v = RandomVector(1);
  std::string vector_text = "[";
  for (float x : v) vector_text += (vector_text.size() > 1 ? "," : "") + std::to_string(x);
  vector_text += "]";
  const std::string id = MakeUuid(1).ToString(), tenant = kTenant.ToString();
  auto text = [](std::string_view s) { return pg::ColumnValue{Kind::kText, s}; };
  const pg::ColumnValue null{Kind::kNull, {}};
  const pg::Tuple entity = {text("v1"), text(id), text(tenant), text("context"), null, null};
  const pg::Tuple embedding = {text("e1"), text(id), text(kModel), text("completed"), text(vector_text)};

  Begin();
  mirror_.UpsertTuple(entities, entity);
  mirror_.UpsertTuple(embeddings, embedding);
  Commit();
  ASSERT_EQ(Indexed(), (std::map<Uuid, std::string>{{MakeUuid(1), "context"}}));
  const std::vector<float> indexed = IndexedVector(1);
  double dot = 0, norm = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    dot += static_cast<double>(v[i]) * indexed[i];
    norm += static_cast<double>(v[i]) * v[i];
  }
  EXPECT_NEAR(dot / std::sqrt(norm), 1.0, 1e-5) << "the index holds the tuple's vector, normalized";

  // No key, and a malformed entity id: counted, and nothing changes.
  const uint64_t malformed_before = board_.Get().bad_rows[BadRowReason::kMalformed];
  pg::Tuple no_key = embedding;
  no_key[0] = null;
  pg::Tuple bad_id = entity;
  bad_id[1] = text("not-a-uuid");
  Begin();
  mirror_.RemoveTuple(embeddings, no_key);
  mirror_.UpsertTuple(entities, bad_id);
  Commit();
  EXPECT_EQ(board_.Get().bad_rows[BadRowReason::kMalformed], malformed_before + 2);
  EXPECT_EQ(Indexed(), (std::map<Uuid, std::string>{{MakeUuid(1), "context"}}));

  // A delete by key, then a truncate of the other table.
  Begin();
  mirror_.RemoveTuple(embeddings, embedding);
  Commit();
  EXPECT_TRUE(Indexed().empty());
  Begin();
  mirror_.UpsertTuple(embeddings, embedding);
  Commit();
  ASSERT_EQ(Indexed().size(), 1u);
  Begin();
  mirror_.Truncate(MirroredTable::kEntity);
  Commit();
  EXPECT_TRUE(Indexed().empty());
}

// Entity types and model names are held once each and swept when no row uses them any more
// (src/text_pool.h): hundreds of short-lived types must not disturb the types of rows that keep
// theirs, nor the new type of a row that changes.
TEST_F(MirrorTest, ManyShortLivedEntityTypesLeaveEveryRowItsOwnType) {
  constexpr int kEntities = 10;
  Begin();
  for (int k = 0; k < kEntities; ++k) {
    mirror_.UpsertEntity(Entity("v" + std::to_string(k), k, "stable"));
    mirror_.UpsertEmbedding(Embedding("e" + std::to_string(k), k, EmbeddingStatus::kCompleted,
                                      RandomVector(k)));
  }
  Commit();
  std::map<Uuid, std::string> expected;
  for (int k = 0; k < kEntities; ++k) expected[MakeUuid(k)] = "stable";
  ASSERT_EQ(Indexed(), expected);
  for (int round = 0; round < 300; ++round) {
    Begin();
    // Even entities take a type no other round uses; odd ones keep "stable".
    for (int k = 0; k < kEntities; k += 2) {
      const std::string type = "t" + std::to_string(round) + "-" + std::to_string(k);
      mirror_.UpsertEntity(Entity("v" + std::to_string(k), k, type));
      expected[MakeUuid(k)] = type;
    }
    Commit();
    if (round % 25 == 24) {
      ASSERT_EQ(Indexed(), expected) << "after round " << round;
    }
  }
  EXPECT_EQ(Indexed(), expected);
  EXPECT_EQ(mirror_.entity_count(), static_cast<size_t>(kEntities));
  EXPECT_EQ(mirror_.embedding_count(), static_cast<size_t>(kEntities));
}

}  // namespace
}  // namespace vecmirror
