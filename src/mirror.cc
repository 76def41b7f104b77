#include "src/mirror.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <utility>

#include "base/echo.h"
#include "index/freed_memory.h"
#include "index/kernels.h"
#include "src/logging/log_fields.h"

namespace vecmirror {
namespace {

double SecondsSince(int64_t pg_epoch_us) {
  if (pg_epoch_us == 0) return 0;
  constexpr int64_t kUnixToPgEpochSeconds = 946684800;
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  const int64_t now_us =
      std::chrono::duration_cast<std::chrono::microseconds>(now).count() - kUnixToPgEpochSeconds * 1000000;
  return std::max(0.0, static_cast<double>(now_us - pg_epoch_us) / 1e6);
}

}  // namespace

Mirror::Mirror(Registry& registry, ModelCatalog& models, MirrorStatusBoard& board)
    : registry_(registry), models_(models), board_(board) {
  // The three maps with a node per row: fewer buckets than rows (RESULTS.md, "The mirror's
  // bookkeeping per row"). They are only ever clear()ed or erased from, which keeps it.
  entities_.max_load_factor(kRowMapLoadFactor);
  embeddings_.max_load_factor(kRowMapLoadFactor);
  links_.max_load_factor(kRowMapLoadFactor);
}

// ---- Initial load ------------------------------------------------------------------------

void Mirror::BeginLoad() {
  // Everything indexed now must be reconsidered: the snapshot replaces the whole state. The
  // entities with something indexed keep their links, and FinishLoad diffs every entity that
  // has links.
  for (auto it = links_.begin(); it != links_.end();) {
    EntityLinks& links = it->second;
    links.newest_version = nullptr;
    links.embeddings = nullptr;
    it = links.indexed.empty() ? links_.erase(it) : std::next(it);
  }
  entities_.clear();
  embeddings_.clear();
  unindexed_vectors_ = {};
  load_floats_.Clear();
  loading_ = true;
  skipping_ = false;
  in_transaction_ = true;
  changes_in_transaction_ = 0;
}

void Mirror::FinishLoad(uint64_t lsn) {
  const size_t changes = changes_in_transaction_;
  // The load touched every entity (Touch recorded none of them): diff every entity that has
  // links. One whose links the load dropped had nothing indexed, so it has nothing to write.
  std::vector<Uuid> ids;
  ids.reserve(links_.size());
  for (const auto& [id, links] : links_) ids.push_back(id);
  std::vector<KeyedWrite> writes = Diff(ids);
  ids = {};
  touched_ = {};  // what a transaction cut short before the load may have left
  // Counted before its LSN is visible: whoever sees the load's data sees the load counted.
  board_.Update([](MirrorState& s) { s.initial_loads++; });
  registry_.ApplyTransaction(writes, lsn);
  Publish(lsn, 0, changes, 0);
  board_.Update([](MirrorState& s) { s.loaded = true; });
  in_transaction_ = false;
  writes = {};
  // The rows no index took (pending, failed, types over the limit) keep their floats.
  load_floats_.ForEach([&](std::string_view key, std::span<const float> floats) {
    unindexed_vectors_.emplace(RowKey(key), std::vector<float>(floats.begin(), floats.end()));
  });
  load_floats_.Clear();
  loading_ = false;
  SweepTextsIfGrown();
  // The load's vectors passed through the writes into the indexes: give their memory back.
  ReturnFreedMemory();
}

// ---- Streaming ---------------------------------------------------------------------------

bool Mirror::BeginTransaction(uint64_t final_lsn, int64_t commit_time_us) {
  // The commit record of an applied transaction lies before the applied LSN (its end).
  skipping_ = final_lsn < registry_.applied_lsn();
  in_transaction_ = true;
  changes_in_transaction_ = 0;
  return !skipping_;
}

void Mirror::UpsertEntity(const EntityRow& row) {
  if (skipping_) return;
  ++changes_in_transaction_;
  EraseEntityKey(row.key);
  if (row.current) StoreEntity(row);
  Touch(row.id);
}

void Mirror::RemoveEntity(const std::string& key) {
  if (skipping_) return;
  ++changes_in_transaction_;
  EraseEntityKey(key);
}

void Mirror::UpsertEmbedding(const EmbeddingRow& row) {
  if (skipping_) return;
  ++changes_in_transaction_;
  StoreEmbedding(row);
}

void Mirror::RemoveEmbedding(const std::string& key) {
  if (skipping_) return;
  ++changes_in_transaction_;
  bad_keys_.erase(key);
  EraseEmbeddingKey(key);
}

void Mirror::TruncateEntities() {
  if (skipping_) return;
  ++changes_in_transaction_;
  for (auto it = links_.begin(); it != links_.end();) {
    if (it->second.newest_version) Touch(it->first);
    it->second.newest_version = nullptr;
    it = it->second.empty() ? links_.erase(it) : std::next(it);
  }
  entities_.clear();
}

void Mirror::TruncateEmbeddings() {
  if (skipping_) return;
  ++changes_in_transaction_;
  for (auto it = links_.begin(); it != links_.end();) {
    if (it->second.embeddings) Touch(it->first);
    it->second.embeddings = nullptr;
    it = it->second.empty() ? links_.erase(it) : std::next(it);
  }
  embeddings_.clear();
  unindexed_vectors_ = {};
  bad_keys_.clear();
}

void Mirror::CommitTransaction(uint64_t end_lsn, int64_t commit_time_us) {
  in_transaction_ = false;
  if (skipping_) {
    skipping_ = false;
    return;
  }
  const size_t changes = changes_in_transaction_;
  std::vector<KeyedWrite> writes = DrainTouched();
  registry_.ApplyTransaction(writes, end_lsn);
  Publish(end_lsn, commit_time_us, changes, 1);
  changes_in_transaction_ = 0;
  SweepTextsIfGrown();
}

// ---- Tuples ------------------------------------------------------------------------------

void Mirror::UpsertTuple(const RowDecoder& decoder, const pg::Tuple& tuple) {
  if (decoder.table() == MirroredTable::kEntity) {
    const Status s = decoder.DecodeEntity(tuple, &decoded_entity_);
    if (!s.ok()) return CountUndecodableRow(decoder.table(), s);
    UpsertEntity(decoded_entity_);
  } else {
    const Status s = decoder.DecodeEmbedding(tuple, &decoded_embedding_);
    if (!s.ok()) return CountUndecodableRow(decoder.table(), s);
    UpsertEmbedding(decoded_embedding_);
  }
}

void Mirror::RemoveTuple(const RowDecoder& decoder, const pg::Tuple& tuple) {
  std::string key;
  if (auto s = decoder.DecodeKey(tuple, &key); !s.ok()) return CountUndecodableRow(decoder.table(), s);
  if (decoder.table() == MirroredTable::kEntity) {
    RemoveEntity(key);
  } else {
    RemoveEmbedding(key);
  }
}

void Mirror::Truncate(MirroredTable table) {
  if (table == MirroredTable::kEntity) {
    TruncateEntities();
  } else {
    TruncateEmbeddings();
  }
}

void Mirror::CountUndecodableRow(MirroredTable table, const Status& why) {
  spdlog::warn("bad row in {} not mirrored: {}", TableLabel(table), why.message());
  board_.Update([](MirrorState& s) { s.bad_rows[BadRowReason::kMalformed]++; });
}

// ---- State -------------------------------------------------------------------------------

void Mirror::StoreEntity(const EntityRow& row) {
  EntityLinks& links = links_[row.id];
  auto [it, inserted] = entities_.insert_or_assign(
      RowKey(row.key), EntityRecord{row.id, row.tenant_id, texts_.Intern(row.entity_type),
                            links.newest_version});
  links.newest_version = &*it;
}

void Mirror::EraseEntityKey(const std::string& key) {
  auto it = entities_.find(RowKey(key));
  if (it == entities_.end()) return;
  const Uuid id = it->second.id;
  Touch(id);
  EntityLinks& links = links_[id];
  for (EntityNode** p = &links.newest_version; *p; p = &(*p)->second.older) {
    if (*p == &*it) {
      *p = it->second.older;
      break;
    }
  }
  entities_.erase(it);
  DropLinksIfEmpty(id);
}

void Mirror::DropLinksIfEmpty(const Uuid& id) {
  auto it = links_.find(id);
  if (it != links_.end() && it->second.empty()) links_.erase(it);
}

void Mirror::StoreEmbedding(const EmbeddingRow& row) {
  const RowKey key(row.key);
  EmbeddingRecord record;
  // The row's floats while no index holds them. A load reuses one buffer: its rows go on into
  // load_floats_.
  std::vector<float> own_floats;
  std::vector<float>& floats = loading_ ? load_scratch_ : own_floats;
  floats.clear();
  record.entity_id = row.entity_id;
  record.model = texts_.Intern(row.model);
  record.status = row.status;

  auto previous = embeddings_.find(key);
  if (row.vector_state == EmbeddingRow::VectorState::kUnchanged) {
    if (previous != embeddings_.end()) {
      // The vector stays where it is: in unindexed_vectors_, or in the index that holds it.
      record.vector_id = previous->second.vector_id;
      floats = TakeUnindexed(key);
      record.raw_dim = previous->second.raw_dim;
      record.bad_reason = previous->second.bad_reason;
      // A model change under an unchanged vector must still be a model that takes it.
      if (record.vector_id != 0) {
        if (std::optional<BadRowReason> bad = CheckModel(row.model, record.raw_dim)) {
          record.vector_id = 0;
          floats.clear();
          record.bad_reason = bad;
        }
      }
    } else {
      record.bad_reason = BadRowReason::kMalformed;  // an unchanged TOAST value of a row never seen
    }
  } else {
    AcceptVector(row, &record, &floats);
  }
  if (record.status == EmbeddingStatus::kCompleted && record.bad_reason) {
    CountBadRow(row.key, record, row.error);
  } else {
    bad_keys_.erase(row.key);  // good again: a later bad version counts anew
  }

  if (previous != embeddings_.end()) EraseEmbeddingKey(row.key);
  if (!floats.empty()) {
    if (loading_) {
      load_floats_.Put(key, floats);
    } else {
      unindexed_vectors_.emplace(key, std::move(floats));
    }
  }
  Touch(record.entity_id);
  InsertEmbedding(row.key, std::move(record));
}

std::vector<float> Mirror::TakeUnindexed(const RowKey& key) {
  auto it = unindexed_vectors_.find(key);
  if (it == unindexed_vectors_.end()) return {};
  std::vector<float> floats = std::move(it->second);
  unindexed_vectors_.erase(it);
  return floats;
}

void Mirror::InsertEmbedding(const std::string& key, EmbeddingRecord record) {
  EntityLinks& links = links_[record.entity_id];
  record.next = links.embeddings;
  links.embeddings = &*embeddings_.emplace(RowKey(key), std::move(record)).first;
}

void Mirror::EraseEmbeddingKey(const std::string& key) {
  auto it = embeddings_.find(RowKey(key));
  if (it == embeddings_.end()) return;
  unindexed_vectors_.erase(it->first);
  load_floats_.Erase(it->first);
  const Uuid id = it->second.entity_id;
  Touch(id);
  EntityLinks& links = links_[id];
  for (EmbeddingNode** p = &links.embeddings; *p; p = &(*p)->second.next) {
    if (*p == &*it) {
      *p = it->second.next;
      break;
    }
  }
  embeddings_.erase(it);
  DropLinksIfEmpty(id);
}

void Mirror::AcceptVector(const EmbeddingRow& row, EmbeddingRecord* record,
                          std::vector<float>* floats) {
  using State = EmbeddingRow::VectorState;
  if (row.vector_state == State::kNull) {
    record->bad_reason = BadRowReason::kNullVector;
    return;
  }
  if (row.vector_state == State::kMalformed) {
    record->bad_reason = BadRowReason::kMalformed;
    return;
  }
  const auto dim = static_cast<uint32_t>(row.vector.size());
  record->raw_dim = dim;
  if (const std::optional<BadRowReason> bad = ClassifyVector(row.vector)) {
    record->bad_reason = bad;
    return;
  }
  if (std::optional<BadRowReason> bad = CheckModel(row.model, dim)) {
    record->bad_reason = bad;
    return;
  }
  *floats = row.vector;
  NormalizeInPlace(*floats);
  record->vector_id = ++last_vector_id_;
}

std::optional<BadRowReason> Mirror::CheckModel(const std::string& model, uint32_t dim) {
  switch (models_.Check(model, dim)) {
    case ModelCheck::kAccepted: return std::nullopt;
    case ModelCheck::kUnknownModel: return BadRowReason::kUnknownModel;
    case ModelCheck::kDimensionMismatch: return BadRowReason::kDimensionMismatch;
  }
  return BadRowReason::kDimensionMismatch;
}

void Mirror::CountBadRow(const std::string& key, const EmbeddingRecord& record,
                         const std::string& detail) {
  // A row is counted and logged once while it stays bad, however often it is updated.
  if (!bad_keys_.insert(key).second) return;
  const BadRowReason reason = record.bad_reason.value_or(BadRowReason::kMalformed);
  const std::string& model = texts_.Text(record.model);
  board_.Update([&](MirrorState& s) { s.bad_rows[reason]++; });
  // Rows of a model that is not configured are usually many: one line per model says it.
  if (reason == BadRowReason::kUnknownModel) {
    if (!unknown_models_logged_.insert(model).second) return;
    spdlog::warn("embeddings of model {} are not indexed: the model is not configured (add it "
                 "with --models name:dim, or see --learn-models); first seen on entity_id={} "
                 "dim={}",
                 QuoteForEcho(model), record.entity_id.ToString(), record.raw_dim);
    return;
  }
  const auto expected = models_.DimensionOf(model);
  ScopedLogFields fields({{"entity_id", record.entity_id.ToString()},
                          {"model", model},
                          {"reason", BadRowReasonName(reason)}});
  spdlog::warn("embedding not searchable: {} (entity_id={} model={} dim={}{}){}{}",
               BadRowReasonText(reason), record.entity_id.ToString(), QuoteForEcho(model),
               record.raw_dim,
               expected ? " expected=" + std::to_string(*expected) : std::string(),
               detail.empty() ? "" : ": ", detail);
}

Mirror::IndexedEntries Mirror::Desired(const Uuid& entity_id) const {
  IndexedEntries desired;
  auto links = links_.find(entity_id);
  if (links == links_.end() || !links->second.newest_version) return desired;
  // Normally one current version; if the data has several, the newest written wins.
  const EntityRecord& entity = links->second.newest_version->second;
  // Normally one row per model; if the data has several, the newest written wins.
  for (const EmbeddingNode* row = links->second.embeddings; row; row = row->second.next) {
    const EmbeddingRecord& e = row->second;
    if (e.status != EmbeddingStatus::kCompleted || e.vector_id == 0) continue;
    const auto same_model = [&](const IndexedEntry& d) { return d.model == e.model; };
    if (std::any_of(desired.begin(), desired.end(), same_model)) continue;
    desired.push_back(IndexedEntry{entity.tenant_id, e.model, e.raw_dim, entity.entity_type,
                                   e.vector_id, row->first});
  }
  return desired;
}

namespace {

// The entry of `model` in `entries`, or null.
template <typename Entries>
typename Entries::pointer FindModel(Entries& entries, TextPool::Id model) {
  for (auto& e : entries) {
    if (e.model == model) return &e;
  }
  return nullptr;
}

}  // namespace

template <typename Ids>
std::vector<KeyedWrite> Mirror::Diff(const Ids& ids) {
  std::vector<KeyedWrite> writes;
  auto remove = [&](const Uuid& id, const IndexedEntry& old) {
    KeyedWrite w;
    w.key = KeyOf(old);
    w.write.op = IndexWrite::Op::kRemove;
    w.write.entity_id = id;
    writes.push_back(std::move(w));
  };
  for (const Uuid& id : ids) {
    IndexedEntries desired = Desired(id);
    auto links = links_.find(id);
    IndexedEntries indexed;
    // Swapped out, not moved: a moved-from InlinedVector keeps its inline entries (its size is
    // unspecified), and the links must be left empty for DropLinksIfEmpty.
    if (links != links_.end()) indexed.swap(links->second.indexed);
    std::vector<TextId> not_indexed;
    for (const IndexedEntry& old : indexed) {
      const IndexedEntry* wanted = FindModel(desired, old.model);
      if (wanted && wanted->SameAs(old)) continue;
      // The writes below remove or overwrite it: read its vector back while the index has it.
      KeepVectorOfLeavingEntry(id, old);
      if (!wanted || !wanted->SameIndexAs(old)) remove(id, old);
    }
    for (const IndexedEntry& entry : desired) {
      const IndexedEntry* now = FindModel(indexed, entry.model);
      if (now && now->SameAs(entry)) continue;
      const std::string& model = texts_.Text(entry.model);
      const std::string& entity_type = texts_.Text(entry.entity_type);
      auto code = registry_.types().Intern(entity_type);
      if (!code) {
        // Never leave the entity searchable under its previous type.
        if (now && now->SameIndexAs(entry)) remove(id, *now);
        CountTypeLimited(id, model, entity_type);
        not_indexed.push_back(entry.model);
        continue;
      }
      type_limited_.erase(id.ToString() + "/" + model);
      KeyedWrite w;
      w.key = KeyOf(entry);
      w.write.op = IndexWrite::Op::kUpsert;
      w.write.entity_id = id;
      w.write.type = *code;
      w.write.borrowed = load_floats_.Take(entry.embedding_key);
      if (w.write.borrowed.empty()) w.write.vector = TakeVectorForIndex(id, entry, indexed);
      writes.push_back(std::move(w));
    }
    desired.erase(std::remove_if(desired.begin(), desired.end(), [&](const IndexedEntry& e) {
                    return std::find(not_indexed.begin(), not_indexed.end(), e.model) !=
                           not_indexed.end();
                  }),
                  desired.end());
    if (!desired.empty()) {
      links_[id].indexed = std::move(desired);
    } else {
      DropLinksIfEmpty(id);
    }
  }
  // Once empty (after a load, the load's floats are all in indexes), a new map: clear() would
  // keep the bucket array.
  if (unindexed_vectors_.empty()) unindexed_vectors_ = {};
  return writes;
}

std::vector<KeyedWrite> Mirror::DrainTouched() {
  std::vector<KeyedWrite> writes = Diff(touched_);
  // Not clear(): a large transaction would leave the set its bucket array.
  touched_ = {};
  return writes;
}

void Mirror::KeepVectorOfLeavingEntry(const Uuid& id, const IndexedEntry& old) {
  auto row = embeddings_.find(old.embedding_key);
  if (row == embeddings_.end()) return;  // the row is gone: so is the need for its vector
  EmbeddingRecord& record = row->second;
  if (record.vector_id != old.vector_id || unindexed_vectors_.contains(row->first) ||
      load_floats_.Contains(row->first)) {
    return;
  }
  const IndexKey key = KeyOf(old);
  const std::shared_ptr<EntityIndex> index = registry_.Find(key);
  std::optional<std::vector<float>> stored = index ? index->VectorOf(id) : std::nullopt;
  if (!stored) {
    // Cannot happen while the mirror's record of what is indexed is right; say so if it does.
    spdlog::error("vector of entity_id={} model={} missing from its index {}; the row needs a "
                  "new vector to become searchable again",
                  id.ToString(), QuoteForEcho(texts_.Text(record.model)), key.ToString());
    record.vector_id = 0;
    record.bad_reason = BadRowReason::kMalformed;
    return;
  }
  unindexed_vectors_.emplace(row->first, std::move(*stored));
}

std::vector<float> Mirror::TakeVectorForIndex(const Uuid& id, const IndexedEntry& entry,
                                              const IndexedEntries& indexed) {
  std::vector<float> floats = TakeUnindexed(entry.embedding_key);
  if (floats.empty()) {
    // Already in an index under this id (the same vector moving to another type): copy it.
    for (const IndexedEntry& in_index : indexed) {
      if (in_index.vector_id != entry.vector_id) continue;
      if (auto index = registry_.Find(KeyOf(in_index))) {
        if (auto stored = index->VectorOf(id)) return std::move(*stored);
      }
    }
  }
  return floats;
}

void Mirror::SweepTextsIfGrown() {
  if (texts_.size() <= 2 * texts_after_sweep_ + 64) return;
  std::vector<bool> in_use(texts_.id_limit());
  for (const auto& [key, e] : entities_) in_use[e.entity_type] = true;
  for (const auto& [key, e] : embeddings_) in_use[e.model] = true;
  for (const auto& [id, links] : links_) {
    for (const IndexedEntry& e : links.indexed) in_use[e.model] = in_use[e.entity_type] = true;
  }
  texts_.Sweep(in_use);
  texts_after_sweep_ = texts_.size();
}

void Mirror::CountTypeLimited(const Uuid& id, const std::string& model,
                              const std::string& entity_type) {
  if (!type_limited_.insert(id.ToString() + "/" + model).second) return;
  board_.Update([](MirrorState& s) { s.bad_rows[BadRowReason::kEntityTypeLimit]++; });
  spdlog::error("embedding not searchable: {} (entity_id={} model={} entity_type={}); the "
                "limit is {} distinct entity types",
                BadRowReasonText(BadRowReason::kEntityTypeLimit), id.ToString(),
                QuoteForEcho(model), QuoteForEcho(entity_type), kMaxEntityTypes);
}

void Mirror::Publish(uint64_t lsn, int64_t commit_time_us, size_t changes, size_t transactions) {
  board_.Update([&](MirrorState& s) {
    s.applied_lsn = lsn;
    s.changes_applied += changes;
    s.transactions_applied += transactions;
    s.last_commit_applied_at = std::chrono::system_clock::now();
    s.lag_seconds = SecondsSince(commit_time_us);
  });
}

}  // namespace vecmirror
