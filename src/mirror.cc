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
    : registry_(registry), models_(models), board_(board) {}

// ---- Initial load ------------------------------------------------------------------------

void Mirror::BeginLoad() {
  // Everything indexed now must be reconsidered: the snapshot replaces the whole state.
  for (const auto& [id, by_model] : indexed_) Touch(id);
  entities_.clear();
  current_keys_.clear();
  embeddings_.clear();
  embedding_keys_.clear();
  skipping_ = false;
  in_transaction_ = true;
  changes_in_transaction_ = 0;
}

void Mirror::FinishLoad(uint64_t lsn) {
  const size_t changes = changes_in_transaction_;
  std::vector<KeyedWrite> writes = DrainTouched();
  // Counted before its LSN is visible: whoever sees the load's data sees the load counted.
  board_.Update([](MirrorState& s) { s.initial_loads++; });
  registry_.ApplyTransaction(writes, lsn);
  Publish(lsn, 0, changes, 0);
  board_.Update([](MirrorState& s) { s.loaded = true; });
  in_transaction_ = false;
  writes = {};
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
  for (const auto& [key, record] : entities_) Touch(record.id);
  entities_.clear();
  current_keys_.clear();
}

void Mirror::TruncateEmbeddings() {
  if (skipping_) return;
  ++changes_in_transaction_;
  for (const auto& [id, keys] : embedding_keys_) Touch(id);
  embeddings_.clear();
  embedding_keys_.clear();
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
  entities_[row.key] = EntityRecord{row.id, row.tenant_id, row.entity_type};
  current_keys_[row.id].push_back(row.key);
}

void Mirror::EraseEntityKey(const std::string& key) {
  auto it = entities_.find(key);
  if (it == entities_.end()) return;
  const Uuid id = it->second.id;
  Touch(id);
  auto keys_it = current_keys_.find(id);
  if (keys_it != current_keys_.end()) {
    auto& keys = keys_it->second;
    keys.erase(std::remove(keys.begin(), keys.end(), key), keys.end());
    if (keys.empty()) current_keys_.erase(keys_it);
  }
  entities_.erase(it);
}

void Mirror::StoreEmbedding(const EmbeddingRow& row) {
  EmbeddingRecord record;
  record.entity_id = row.entity_id;
  record.model = row.model;
  record.status = row.status;

  auto previous = embeddings_.find(row.key);
  if (row.vector_state == EmbeddingRow::VectorState::kUnchanged) {
    if (previous != embeddings_.end()) {
      // The vector stays where it is: in this row's `owned`, or in the index that holds it.
      record.vector_id = previous->second.vector_id;
      record.owned = std::move(previous->second.owned);
      record.raw_dim = previous->second.raw_dim;
      record.bad_reason = previous->second.bad_reason;
      // A model change under an unchanged vector must still be a model that takes it.
      if (record.vector_id != 0) {
        if (std::optional<BadRowReason> bad = CheckModel(record.model, record.raw_dim)) {
          record.vector_id = 0;
          record.owned.clear();
          record.bad_reason = bad;
        }
      }
    } else {
      record.bad_reason = BadRowReason::kMalformed;  // an unchanged TOAST value of a row never seen
    }
  } else {
    AcceptVector(row, &record);
  }
  if (record.status == EmbeddingStatus::kCompleted && record.bad_reason) {
    CountBadRow(row.key, record, row.error);
  } else {
    bad_keys_.erase(row.key);  // good again: a later bad version counts anew
  }

  if (previous != embeddings_.end()) EraseEmbeddingKey(row.key);
  embedding_keys_[record.entity_id].insert(row.key);
  Touch(record.entity_id);
  embeddings_[row.key] = std::move(record);
}

void Mirror::EraseEmbeddingKey(const std::string& key) {
  auto it = embeddings_.find(key);
  if (it == embeddings_.end()) return;
  const Uuid id = it->second.entity_id;
  Touch(id);
  auto keys_it = embedding_keys_.find(id);
  if (keys_it != embedding_keys_.end()) {
    keys_it->second.erase(key);
    if (keys_it->second.empty()) embedding_keys_.erase(keys_it);
  }
  embeddings_.erase(it);
}

void Mirror::AcceptVector(const EmbeddingRow& row, EmbeddingRecord* record) {
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
  record->owned = row.vector;
  NormalizeInPlace(record->owned);
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
  board_.Update([&](MirrorState& s) { s.bad_rows[reason]++; });
  // Rows of a model that is not configured are usually many: one line per model says it.
  if (reason == BadRowReason::kUnknownModel) {
    if (!unknown_models_logged_.insert(record.model).second) return;
    spdlog::warn("embeddings of model {} are not indexed: the model is not configured (add it "
                 "with --models name:dim, or see --learn-models); first seen on entity_id={} "
                 "dim={}",
                 QuoteForEcho(record.model), record.entity_id.ToString(), record.raw_dim);
    return;
  }
  const auto expected = models_.DimensionOf(record.model);
  ScopedLogFields fields({{"entity_id", record.entity_id.ToString()},
                          {"model", record.model},
                          {"reason", BadRowReasonName(reason)}});
  spdlog::warn("embedding not searchable: {} (entity_id={} model={} dim={}{}){}{}",
               BadRowReasonText(reason), record.entity_id.ToString(), QuoteForEcho(record.model),
               record.raw_dim,
               expected ? " expected=" + std::to_string(*expected) : std::string(),
               detail.empty() ? "" : ": ", detail);
}

Mirror::IndexedByModel Mirror::Desired(const Uuid& entity_id) const {
  IndexedByModel desired;
  auto current = current_keys_.find(entity_id);
  auto embeddings = embedding_keys_.find(entity_id);
  if (current == current_keys_.end() || embeddings == embedding_keys_.end()) return desired;
  // Normally one current version; if the data has several, the newest written wins.
  const EntityRecord& entity = entities_.at(current->second.back());
  for (const auto& key : embeddings->second) {
    const EmbeddingRecord& e = embeddings_.at(key);
    if (e.status != EmbeddingStatus::kCompleted || e.vector_id == 0) continue;
    IndexKey index_key{entity.tenant_id, e.model, e.raw_dim};
    desired[e.model] = IndexedEntry{std::move(index_key), entity.entity_type, e.vector_id, key};
  }
  return desired;
}

std::vector<KeyedWrite> Mirror::DrainTouched() {
  std::vector<KeyedWrite> writes;
  auto remove = [&](const Uuid& id, const IndexedEntry& old) {
    KeyedWrite w;
    w.key = old.key;
    w.write.op = IndexWrite::Op::kRemove;
    w.write.entity_id = id;
    writes.push_back(std::move(w));
  };
  for (const Uuid& id : touched_) {
    IndexedByModel desired = Desired(id);
    std::vector<std::string> not_indexed;
    IndexedByModel& indexed = indexed_[id];
    const auto same = [](const IndexedEntry& a, const IndexedEntry& b) {
      return a.key == b.key && a.entity_type == b.entity_type && a.vector_id == b.vector_id;
    };
    for (const auto& [model, old] : indexed) {
      auto it = desired.find(model);
      if (it != desired.end() && same(it->second, old)) continue;
      // The writes below remove or overwrite it: read its vector back while the index has it.
      KeepVectorOfLeavingEntry(id, old);
      if (it == desired.end() || it->second.key != old.key) remove(id, old);
    }
    for (auto& [model, entry] : desired) {
      auto it = indexed.find(model);
      if (it != indexed.end() && same(it->second, entry)) continue;
      auto code = registry_.types().Intern(entry.entity_type);
      if (!code) {
        // Never leave the entity searchable under its previous type.
        if (it != indexed.end() && it->second.key == entry.key) remove(id, it->second);
        CountTypeLimited(id, model, entry.entity_type);
        not_indexed.push_back(model);
        continue;
      }
      type_limited_.erase(id.ToString() + "/" + model);
      KeyedWrite w;
      w.key = entry.key;
      w.write.op = IndexWrite::Op::kUpsert;
      w.write.entity_id = id;
      w.write.type = *code;
      w.write.vector = TakeVectorForIndex(id, entry);
      writes.push_back(std::move(w));
    }
    for (const std::string& model : not_indexed) desired.erase(model);
    if (desired.empty()) {
      indexed_.erase(id);
    } else {
      indexed = std::move(desired);
    }
  }
  touched_.clear();
  return writes;
}

void Mirror::KeepVectorOfLeavingEntry(const Uuid& id, const IndexedEntry& old) {
  auto row = embeddings_.find(old.embedding_key);
  if (row == embeddings_.end()) return;  // the row is gone: so is the need for its vector
  EmbeddingRecord& record = row->second;
  if (record.vector_id != old.vector_id || !record.owned.empty()) return;
  const std::shared_ptr<EntityIndex> index = registry_.Find(old.key);
  std::optional<std::vector<float>> stored = index ? index->VectorOf(id) : std::nullopt;
  if (!stored) {
    // Cannot happen while the mirror's record of what is indexed is right; say so if it does.
    spdlog::error("vector of entity_id={} model={} missing from its index {}; the row needs a "
                  "new vector to become searchable again",
                  id.ToString(), QuoteForEcho(record.model), old.key.ToString());
    record.vector_id = 0;
    record.bad_reason = BadRowReason::kMalformed;
    return;
  }
  record.owned = std::move(*stored);
}

std::vector<float> Mirror::TakeVectorForIndex(const Uuid& id, const IndexedEntry& entry) {
  EmbeddingRecord& record = embeddings_.at(entry.embedding_key);
  if (record.owned.empty()) {
    // Already in an index under this id (the same vector moving to another type): copy it.
    for (const auto& [model, indexed] : indexed_[id]) {
      if (indexed.vector_id != entry.vector_id) continue;
      if (auto index = registry_.Find(indexed.key)) {
        if (auto stored = index->VectorOf(id)) return std::move(*stored);
      }
    }
  }
  return std::exchange(record.owned, {});
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
