// The Mirror's state in a snapshot (declared in src/mirror.h): what a restart needs that no
// index holds. The snapshot file around it carries its checksum; this decoder still checks
// every length and enum, and cross-checks what it reads, so bytes that pass the checksum but
// come from another build are refused rather than half applied.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <vector>

#include "base/byte_stream.h"
#include "src/mirror.h"

namespace vecmirror {
namespace {

constexpr uint32_t kMagic = 0x534d4d56;  // "VMMS"
constexpr uint32_t kVersion = 1;

void PutUuid(ByteWriter& w, const Uuid& id) { w.PutRaw(id.bytes.data(), id.bytes.size()); }
bool GetUuid(ByteReader& r, Uuid* id) { return r.GetRaw(id->bytes.data(), id->bytes.size()); }

void PutModels(ByteWriter& w, const std::map<std::string, uint32_t>& models) {
  w.Put<uint64_t>(models.size());
  for (const auto& [name, dim] : models) {
    w.PutString(name);
    w.Put<uint32_t>(dim);
  }
}

bool GetModels(ByteReader& r, std::map<std::string, uint32_t>* models) {
  uint64_t n = 0;
  if (!r.Get(&n)) return false;
  for (uint64_t i = 0; i < n && !r.failed(); ++i) {
    std::string name;
    uint32_t dim = 0;
    if (r.GetString(&name) && r.Get(&dim)) (*models)[name] = dim;
  }
  return !r.failed();
}

void PutStrings(ByteWriter& w, const std::unordered_set<std::string>& strings) {
  w.Put<uint64_t>(strings.size());
  for (const auto& s : strings) w.PutString(s);
}

bool GetStrings(ByteReader& r, std::unordered_set<std::string>* strings) {
  uint64_t n = 0;
  if (!r.Get(&n) || n > r.remaining()) return false;
  for (uint64_t i = 0; i < n && !r.failed(); ++i) {
    std::string s;
    if (r.GetString(&s)) strings->insert(std::move(s));
  }
  return !r.failed();
}

template <typename Enum>
bool GetEnum(ByteReader& r, Enum max, Enum* out) {
  uint8_t raw = 0;
  if (!r.Get(&raw) || raw > static_cast<uint8_t>(max)) return false;
  *out = static_cast<Enum>(raw);
  return true;
}

Status Undecodable(const std::string& what) {
  return Status::Corruption("mirror state does not decode: " + what);
}

}  // namespace

std::string Mirror::EncodeState() const {
  ByteWriter w;
  w.Put(kMagic);
  w.Put(kVersion);
  w.Put<uint64_t>(last_vector_id_);
  PutModels(w, models_.configured());
  PutModels(w, models_.Learned());

  // Each id's current versions oldest first: the last one restored is the newest (Desired).
  w.Put<uint64_t>(entities_.size());
  std::vector<const EntityNode*> versions;
  for (const auto& [id, links] : links_) {
    versions.clear();
    for (const EntityNode* v = links.newest_version; v; v = v->second.older) versions.push_back(v);
    for (auto v = versions.rbegin(); v != versions.rend(); ++v) {
      const auto& [key, e] = **v;
      w.PutString(key.view());
      PutUuid(w, e.id);
      PutUuid(w, e.tenant_id);
      w.PutString(texts_.Text(e.entity_type));
    }
  }
  // Each id's embedding rows oldest first, so that a restore links them in the same order.
  w.Put<uint64_t>(embeddings_.size());
  std::vector<const EmbeddingNode*> rows;
  for (const auto& [id, links] : links_) {
    rows.clear();
    for (const EmbeddingNode* row = links.embeddings; row; row = row->second.next) {
      rows.push_back(row);
    }
    for (auto row = rows.rbegin(); row != rows.rend(); ++row) {
      const auto& [key, e] = **row;
      w.PutString(key.view());
      PutUuid(w, e.entity_id);
      w.PutString(texts_.Text(e.model));
      w.Put(static_cast<uint8_t>(e.status));
      w.Put<uint64_t>(e.vector_id);
      w.Put<uint32_t>(e.raw_dim);
      w.Put<uint8_t>(e.bad_reason.has_value());
      w.Put(static_cast<uint8_t>(e.bad_reason.value_or(BadRowReason{})));
      auto floats = unindexed_vectors_.find(key);
      w.PutArray(floats != unindexed_vectors_.end() ? floats->second : std::vector<float>());
    }
  }
  const auto with_indexed = [](const auto& entry) { return !entry.second.indexed.empty(); };
  w.Put<uint64_t>(std::count_if(links_.begin(), links_.end(), with_indexed));
  for (const auto& [id, links] : links_) {
    if (links.indexed.empty()) continue;
    PutUuid(w, id);
    w.Put<uint64_t>(links.indexed.size());
    for (const IndexedEntry& entry : links.indexed) {
      PutUuid(w, entry.tenant_id);
      w.PutString(texts_.Text(entry.model));
      w.Put<uint32_t>(entry.dim);
      w.PutString(texts_.Text(entry.entity_type));
      w.Put<uint64_t>(entry.vector_id);
      w.PutString(entry.embedding_key.view());
    }
  }
  PutStrings(w, bad_keys_);
  PutStrings(w, type_limited_);
  return w.Take();
}

Status Mirror::RestoreState(std::string_view bytes) {
  ByteReader r(bytes);
  uint32_t magic = 0, version = 0;
  if (!r.Get(&magic) || magic != kMagic) return Undecodable("not a mirror state");
  if (!r.Get(&version) || version != kVersion) {
    return Undecodable("format version " + std::to_string(version) + ", this build reads " +
                       std::to_string(kVersion));
  }
  uint64_t last_vector_id = 0;
  std::map<std::string, uint32_t> configured, learned;
  if (!r.Get(&last_vector_id) || !GetModels(r, &configured) || !GetModels(r, &learned)) {
    return Undecodable("models");
  }
  if (configured != models_.configured()) {
    return Status::FailedPrecondition(
        "the configured models differ from the snapshot's (rows of a model that was not "
        "configured then were not kept)");
  }

  Mirror restored(registry_, models_, board_);
  uint64_t n = 0;
  if (!r.Get(&n)) return Undecodable("entity count");
  for (uint64_t i = 0; i < n && !r.failed(); ++i) {
    EntityRow row;
    if (r.GetString(&row.key) && GetUuid(r, &row.id) && GetUuid(r, &row.tenant_id) &&
        r.GetString(&row.entity_type)) {
      if (restored.entities_.contains(RowKey(row.key))) return Undecodable("entity key twice");
      restored.StoreEntity(row);
    }
  }
  if (r.failed() || !r.Get(&n)) return Undecodable("entities");
  for (uint64_t i = 0; i < n && !r.failed(); ++i) {
    std::string key, model;
    std::vector<float> floats;
    EmbeddingRecord e;
    uint8_t has_bad = 0;
    BadRowReason bad{};
    if (!r.GetString(&key) || !GetUuid(r, &e.entity_id) || !r.GetString(&model) ||
        !GetEnum(r, EmbeddingStatus::kOther, &e.status) || !r.Get(&e.vector_id) ||
        !r.Get(&e.raw_dim) || !r.Get(&has_bad) ||
        !GetEnum(r, static_cast<BadRowReason>(kBadRowReasonCount - 1), &bad) ||
        !r.GetArray(&floats)) {
      break;
    }
    if (has_bad) e.bad_reason = bad;
    if (e.vector_id > last_vector_id || (!floats.empty() && floats.size() != e.raw_dim)) {
      return Undecodable("embedding vector");
    }
    if (restored.embeddings_.contains(RowKey(key))) return Undecodable("embedding key twice");
    e.model = restored.texts_.Intern(model);
    if (!floats.empty()) restored.unindexed_vectors_.emplace(RowKey(key), std::move(floats));
    restored.InsertEmbedding(key, std::move(e));
  }
  if (r.failed() || !r.Get(&n)) return Undecodable("embeddings");
  for (uint64_t i = 0; i < n && !r.failed(); ++i) {
    Uuid id;
    uint64_t models = 0;
    if (!GetUuid(r, &id) || !r.Get(&models)) break;
    IndexedEntries& indexed = restored.links_[id].indexed;
    for (uint64_t j = 0; j < models && !r.failed(); ++j) {
      IndexedEntry entry;
      std::string model, entity_type, embedding_key;
      if (GetUuid(r, &entry.tenant_id) && r.GetString(&model) && r.Get(&entry.dim) &&
          r.GetString(&entity_type) && r.Get(&entry.vector_id) && r.GetString(&embedding_key)) {
        entry.embedding_key = RowKey(embedding_key);
        entry.model = restored.texts_.Intern(model);
        entry.entity_type = restored.texts_.Intern(entity_type);
        indexed.erase(std::remove_if(indexed.begin(), indexed.end(),
                                     [&](const IndexedEntry& e) { return e.model == entry.model; }),
                      indexed.end());
        indexed.push_back(std::move(entry));
      }
    }
  }
  if (r.failed()) return Undecodable("indexed entries");
  std::erase_if(restored.links_, [](const auto& entry) { return entry.second.empty(); });
  if (!GetStrings(r, &restored.bad_keys_) || !GetStrings(r, &restored.type_limited_) ||
      !r.AtCleanEnd()) {
    return Undecodable("bad-row keys, or bytes after the end");
  }
  // Every entry the state says is indexed must be in the restored indexes.
  for (const auto& [id, links] : restored.links_) {
    for (const IndexedEntry& entry : links.indexed) {
      const IndexKey key = restored.KeyOf(entry);
      const std::shared_ptr<EntityIndex> index = registry_.Find(key);
      if (!index || !index->Contains(id)) {
        return Undecodable("entity " + id.ToString() + " is missing from index " +
                           key.ToString());
      }
    }
  }
  if (!models_.RestoreLearned(learned)) {
    return Status::FailedPrecondition(
        "the snapshot learned models that this configuration cannot take (--learn-models off, "
        "or now configured)");
  }

  texts_ = std::move(restored.texts_);
  texts_after_sweep_ = texts_.size();
  entities_ = std::move(restored.entities_);
  embeddings_ = std::move(restored.embeddings_);
  unindexed_vectors_ = std::move(restored.unindexed_vectors_);
  load_floats_.Clear();
  loading_ = false;
  links_ = std::move(restored.links_);
  bad_keys_ = std::move(restored.bad_keys_);
  type_limited_ = std::move(restored.type_limited_);
  last_vector_id_ = last_vector_id;
  touched_.clear();
  in_transaction_ = false;
  skipping_ = false;

  // The counters count rows that are bad now, as a fresh load would.
  BadRowCounts counts;
  for (const std::string& key : bad_keys_) {
    auto it = embeddings_.find(RowKey(key));
    if (it != embeddings_.end()) counts[it->second.bad_reason.value_or(BadRowReason::kMalformed)]++;
  }
  counts[BadRowReason::kEntityTypeLimit] += type_limited_.size();
  board_.Update([&](MirrorState& s) {
    s.bad_rows = counts;
    s.loaded = true;
  });
  return Status::Ok();
}

}  // namespace vecmirror
