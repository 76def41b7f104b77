#include "tools/recall/in_process_source.h"

#include <algorithm>

namespace vecmirror::recall {

std::unique_ptr<InProcessSource> InProcessSource::FromRegistry(const Registry& registry) {
  auto source = std::make_unique<InProcessSource>();
  for (const IndexInfo& info : registry.List()) {
    if (std::shared_ptr<EntityIndex> index = registry.Find(info.key)) {
      source->Add(std::move(index), &registry.types());
    }
  }
  return source;
}

void InProcessSource::Add(std::shared_ptr<const EntityIndex> index,
                          const EntityTypeDictionary* types) {
  for (Entry& entry : entries_) {
    if (entry.index->key() == index->key()) {
      entry = Entry{std::move(index), types};
      return;
    }
  }
  entries_.push_back(Entry{std::move(index), types});
}

const InProcessSource::Entry* InProcessSource::Find(const IndexKey& key) const {
  for (const Entry& entry : entries_) {
    if (entry.index->key() == key) return &entry;
  }
  return nullptr;
}

Status InProcessSource::List(std::vector<IndexDescription>* out) {
  out->clear();
  for (const Entry& entry : entries_) {
    const IndexStats stats = entry.index->Stats();
    out->push_back(IndexDescription{entry.index->key(), stats.kind, stats.live, stats.dead,
                                    stats.memory_bytes});
  }
  std::sort(out->begin(), out->end(),
            [](const IndexDescription& a, const IndexDescription& b) { return a.key < b.key; });
  return Status::Ok();
}

Status InProcessSource::Search(const IndexKey& key, const SourceQuery& query, SourceAnswer* out) {
  const Entry* entry = Find(key);
  if (entry == nullptr) return Status::NotFound("no index " + key.ToString());

  SearchQuery search;
  std::optional<std::vector<float>> stored;
  if (query.entity_id) {
    stored = entry->index->VectorOf(*query.entity_id);
    if (!stored) {
      return Status::NotFound("entity " + query.entity_id->ToString() + " is not in index " +
                              key.ToString());
    }
    search.vector = *stored;
    search.exclude = query.entity_id;
  } else {
    if (query.vector.size() != key.dim) {
      return Status::InvalidArgument("the query has " + std::to_string(query.vector.size()) +
                                     " dimensions; index " + key.ToString() + " has " +
                                     std::to_string(key.dim));
    }
    search.vector = query.vector;
  }
  if (!query.types.empty()) {
    // A name that was never interned matches nothing, as `entity_type = ANY(:types)` does.
    search.types = TypeMask::None();
    for (const std::string& name : query.types) {
      if (std::optional<EntityTypeCode> code = entry->types->Find(name)) search.types.Add(*code);
    }
  }
  search.limit = query.limit;
  search.effort = query.effort;

  const SearchResult result = entry->index->Search(search);
  out->hits.clear();
  out->hits.reserve(result.hits.size());
  for (const Hit& hit : result.hits) {
    out->hits.push_back({hit.entity_id, entry->types->Name(hit.type), hit.similarity});
  }
  out->exact = result.exact;
  out->kind = result.kind;
  return Status::Ok();
}

Status InProcessSource::TakeCensus(const IndexDescription& index, const CensusOptions& options,
                                   Census* out) {
  const Entry* entry = Find(index.key);
  if (entry == nullptr) return Status::NotFound("no index " + index.key.ToString());
  out->entities.clear();
  entry->index->ForEachLive([&](const Uuid& id, EntityTypeCode type, std::span<const float>) {
    out->entities.push_back({id, entry->types->Name(type)});
  });
  std::sort(out->entities.begin(), out->entities.end(),
            [](const CensusEntity& a, const CensusEntity& b) { return a.entity_id < b.entity_id; });
  out->complete = true;
  return Status::Ok();
}

}  // namespace vecmirror::recall
