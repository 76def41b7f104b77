// Mirror: turns row changes of `entity` and `embedding` into index writes, one committed
// transaction at a time.
//
// It keeps what the searchable set is derived from:
//   - every current entity version (key -> id, tenant, type),
//   - every embedding row, pending and failed ones included, with its normalized vector: a later
//     status-only UPDATE sends a TOASTed vector as "unchanged", and the vector must still be
//     known then (DESIGN.md, "What the mirror must remember"),
//   - what each entity currently has in the indexes.
// Each vector is held once. The mirror keeps the floats only of rows that are not in an index
// (pending, failed, not yet applied); a searchable row's vector lives only in its index, and the
// mirror reads it back from there before the row leaves the index (a status change to pending,
// a new entity version of another tenant, a model change under an unchanged vector).
// Changes update that state as they arrive and record which entity ids they touch. Nothing
// reaches the indexes until CommitTransaction, which derives the searchable entries of the
// touched entities, diffs them against what is indexed, and hands the writes to
// Registry::ApplyTransaction as one atomic step. So a search never sees half a transaction, and
// an embedding that arrives before its entity simply waits in the state until the entity does.
//
// The initial load is the same mechanism: a "transaction" that replaces the whole state, so a
// reload after a lost slot swaps the new state in while searches go on against the old.
//
// Replays are harmless: a transaction whose commit lies before the applied LSN is skipped, and
// every change is an idempotent upsert or delete by key.
//
// Thread-safety: not thread-safe; one mirror thread drives it. It writes to the Registry and the
// MirrorStatusBoard, which are thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <absl/container/inlined_vector.h>

#include "index/model_catalog.h"
#include "index/registry.h"
#include "src/load_floats.h"
#include "src/mirror_status.h"
#include "src/row_key.h"
#include "src/text_pool.h"
#include "src/table_rows.h"

namespace vecmirror {

class Mirror {
 public:
  Mirror(Registry& registry, ModelCatalog& models, MirrorStatusBoard& board);

  // ---- Initial load: the state of one snapshot, applied as one step at `lsn`. In between, each
  // row of the snapshot arrives as an upsert (UpsertTuple, or UpsertEntity/UpsertEmbedding).
  void BeginLoad();
  void FinishLoad(uint64_t lsn);

  // ---- Streaming. Returns false when the transaction was already applied (a replay after a
  // server crash regressed the slot); its changes are then ignored until its commit.
  bool BeginTransaction(uint64_t final_lsn, int64_t commit_time_us);
  void UpsertEntity(const EntityRow& row);
  void RemoveEntity(const std::string& key);
  void UpsertEmbedding(const EmbeddingRow& row);
  void RemoveEmbedding(const std::string& key);
  void TruncateEntities();
  void TruncateEmbeddings();
  void CommitTransaction(uint64_t end_lsn, int64_t commit_time_us);

  // ---- Tuples of the load's COPY or of the stream, with the decoder of their table: decoded,
  // then applied as the row calls above. A tuple that does not decode (no usable key, a bad
  // uuid) is logged, counted as a malformed row and skipped; a malformed vector is not an error
  // here but the decoded row's vector_state.
  void UpsertTuple(const RowDecoder& decoder, const pg::Tuple& tuple);
  void RemoveTuple(const RowDecoder& decoder, const pg::Tuple& tuple);
  void Truncate(MirroredTable table);

  // ---- Snapshots (src/mirror_state.cc). The state that no index holds: current entity
  // versions, every embedding row (with the floats of those not in an index), what each entity
  // has in which index, the learned models and which rows are counted as bad.
  // Consistent only between transactions: false from a Begin (or BeginLoad) to its commit, and
  // after a stream broke inside a transaction until the next commit.
  bool at_transaction_boundary() const { return !in_transaction_; }
  std::string EncodeState() const;
  // Replaces this (fresh) mirror's state with a decoded one; the registry must already hold the
  // snapshot's indexes, which keep the vectors of indexed rows. Fails, changing nothing, on bytes
  // that do not decode, or when the configured models differ from the snapshot's: rows of a
  // model that was not configured then were not kept.
  Status RestoreState(std::string_view bytes);

  size_t entity_count() const { return entities_.size(); }
  size_t embedding_count() const { return embeddings_.size(); }

 private:
  // The mirror's state is kept small per row (RESULTS.md, "The whole server's RSS per row"):
  // model names and entity types are ids of texts_, each row's record sits in the node of its
  // key's map (keys as RowKey) and links to the next record of the same entity id, and the
  // per-entity lists hang off one map by entity id.
  using TextId = TextPool::Id;
  // noexcept, so that libstdc++ does not store each node's hash beside it (as RowKeyHash).
  struct IdHash {
    size_t operator()(const Uuid& id) const noexcept { return UuidHash()(id); }
  };

  // Nodes per bucket that entities_, embeddings_ and links_ may reach before they rehash.
  static constexpr float kRowMapLoadFactor = 4.0f;

  struct EntityRecord;
  struct EmbeddingRecord;
  using EntityMap = std::unordered_map<RowKey, EntityRecord, RowKeyHash>;
  using EmbeddingMap = std::unordered_map<RowKey, EmbeddingRecord, RowKeyHash>;
  // Nodes of those maps do not move while they exist (rehashing keeps them), so records can
  // point at each other.
  using EntityNode = std::pair<const RowKey, EntityRecord>;
  using EmbeddingNode = std::pair<const RowKey, EmbeddingRecord>;

  struct EntityRecord {
    Uuid id;
    Uuid tenant_id;
    TextId entity_type = 0;
    EntityNode* older = nullptr;  // the next older current version of the same id
  };
  struct EmbeddingRecord {
    Uuid entity_id;
    TextId model = 0;
    uint32_t raw_dim = 0;  // dimension of the stored vector
    // Names the normalized vector's value; 0 when there is no usable vector. A new value gets a
    // new id, an unchanged-TOAST update keeps it, so ids compare vectors without their floats.
    uint64_t vector_id = 0;
    EmbeddingNode* next = nullptr;  // the next embedding row of the same entity id
    EmbeddingStatus status = EmbeddingStatus::kPending;
    std::optional<BadRowReason> bad_reason;  // why the vector is unusable, when it is
  };
  // What one entity has in one model's index, and the embedding row it came from.
  struct IndexedEntry {
    Uuid tenant_id;  // with model and dim, the IndexKey
    TextId model = 0;
    uint32_t dim = 0;
    TextId entity_type = 0;
    uint64_t vector_id = 0;
    RowKey embedding_key;

    bool SameIndexAs(const IndexedEntry& o) const {
      return tenant_id == o.tenant_id && model == o.model && dim == o.dim;
    }
    // The same vector of the same type in the same index: nothing to write.
    bool SameAs(const IndexedEntry& o) const {
      return SameIndexAs(o) && entity_type == o.entity_type && vector_id == o.vector_id;
    }
  };
  // An entity's entries, at most one per model. Nearly every entity has one model, so the first
  // entry sits inline in the links_ node instead of a heap block of its own: 32 bytes less per
  // indexed entity (a 112-byte node instead of an 80-byte node and a 64-byte block).
  using IndexedEntries = absl::InlinedVector<IndexedEntry, 1>;
  // Everything about one entity id: its current versions, its embedding rows (both lists run
  // through the records), and what it has in the indexes, at most one entry per model.
  struct EntityLinks {
    EntityNode* newest_version = nullptr;
    EmbeddingNode* embeddings = nullptr;
    IndexedEntries indexed;

    bool empty() const { return !newest_version && !embeddings && indexed.empty(); }
  };

  void CountUndecodableRow(MirroredTable table, const Status& why);
  // Records that a change reached `entity_id`, for the commit to diff. Not during a load: a load
  // touches every entity, and its finish diffs them all.
  void Touch(const Uuid& entity_id) {
    if (!loading_) touched_.insert(entity_id);
  }
  void StoreEntity(const EntityRow& row);
  void EraseEntityKey(const std::string& key);
  void StoreEmbedding(const EmbeddingRow& row);
  // Adds a record under a key that holds none, linked into its entity's list. Touches nothing
  // (a restore fills a whole state without touching every entity).
  void InsertEmbedding(const std::string& key, EmbeddingRecord record);
  void EraseEmbeddingKey(const std::string& key);
  // Drops the links of `id` once nothing is left in them.
  void DropLinksIfEmpty(const Uuid& id);
  IndexKey KeyOf(const IndexedEntry& entry) const {
    return IndexKey{entry.tenant_id, texts_.Text(entry.model), entry.dim};
  }
  // Classifies and normalizes a decoded vector: sets record->vector_id and *floats, or
  // record->bad_reason.
  void AcceptVector(const EmbeddingRow& row, EmbeddingRecord* record, std::vector<float>* floats);
  // The unindexed floats of `key`, removed from unindexed_vectors_; empty if it has none.
  std::vector<float> TakeUnindexed(const RowKey& key);
  // The bad-row reason when `model` may not index a `dim`-d vector (learning it if allowed).
  std::optional<BadRowReason> CheckModel(const std::string& model, uint32_t dim);
  void CountBadRow(const std::string& key, const EmbeddingRecord& record, const std::string& detail);
  IndexedEntries Desired(const Uuid& entity_id) const;
  // Counts and logs, once while it lasts, an entry left out because its type got no code.
  void CountTypeLimited(const Uuid& id, const std::string& model, const std::string& entity_type);
  // Diffs desired against indexed for every entity of `ids` (a container of Uuid); returns the
  // writes.
  template <typename Ids>
  std::vector<KeyedWrite> Diff(const Ids& ids);
  // Diff of the touched entities, which are then untouched.
  std::vector<KeyedWrite> DrainTouched();
  // Before `old` leaves its index: copies the vector back into its embedding row, if the row
  // still has that vector and the index holds its only copy.
  void KeepVectorOfLeavingEntry(const Uuid& id, const IndexedEntry& old);
  // The floats of an entry about to be indexed, moved out of unindexed_vectors_: the index keeps
  // the only copy. `indexed`: what the entity has in the indexes before this write.
  std::vector<float> TakeVectorForIndex(const Uuid& id, const IndexedEntry& entry,
                                        const IndexedEntries& indexed);
  // Frees the texts no record uses, once the pool has doubled since the last sweep.
  void SweepTextsIfGrown();
  void Publish(uint64_t lsn, int64_t commit_time_us, size_t changes, size_t transactions);

  Registry& registry_;
  ModelCatalog& models_;
  MirrorStatusBoard& board_;

  TextPool texts_;  // model names and entity types
  size_t texts_after_sweep_ = 0;
  EntityMap entities_;        // current versions by key
  EmbeddingMap embeddings_;   // every embedding row by key
  // The normalized floats of the embedding rows that no index holds (pending, failed, not yet
  // applied), by key. A searchable row's floats live only in its index: most rows have none
  // here, so they are kept out of EmbeddingRecord.
  std::unordered_map<RowKey, std::vector<float>, RowKeyHash> unindexed_vectors_;
  // From BeginLoad to FinishLoad, the load's floats, in place of unindexed_vectors_; the rows
  // no index takes move to unindexed_vectors_ at the end.
  LoadFloats load_floats_;
  bool loading_ = false;
  std::unordered_map<Uuid, EntityLinks, IdHash> links_;

  // UpsertTuple decodes into these: a row's strings and vector keep their capacity from one
  // tuple to the next, which spares an allocation per row of a large load.
  EntityRow decoded_entity_;
  EmbeddingRow decoded_embedding_;
  std::vector<float> load_scratch_;  // a loaded row's floats on their way into load_floats_

  std::unordered_set<Uuid, UuidHash> touched_;  // outside loads (see Touch)
  std::unordered_set<std::string> bad_keys_;  // completed rows counted as bad, still bad
  std::unordered_set<std::string> unknown_models_logged_;
  std::unordered_set<std::string> type_limited_;  // "entity_id/model" left out for their type
  uint64_t last_vector_id_ = 0;
  bool skipping_ = false;
  bool in_transaction_ = false;
  size_t changes_in_transaction_ = 0;
};

}  // namespace vecmirror
