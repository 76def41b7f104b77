// InProcessSource: EntityIndex objects held in this process, searched directly (no service).
// A test builds the indexes it wants measured and adds them; a snapshot loader adds the indexes
// it reads from disk. The census is complete (ForEachLive), so leave-one-out queries are a
// uniform sample and type shares are exact.
//
//   recall::InProcessSource source;
//   source.Add(index, &types);         // a std::shared_ptr<EntityIndex> and its type names
//   // or: auto source = recall::InProcessSource::FromRegistry(registry);
//
// Thread-safety: Add before the measurement starts; then Search and TakeCensus may be called
// from several threads at once (EntityIndex allows concurrent searches). The indexes and the
// EntityTypeDictionary must outlive the source.
#pragma once

#include <memory>
#include <vector>

#include "index/entity_types.h"
#include "index/registry.h"
#include "tools/recall/index_source.h"

namespace vecmirror::recall {

class InProcessSource final : public IndexSource {
 public:
  InProcessSource() = default;

  // Every index of `registry` at this moment, with the registry's type names.
  static std::unique_ptr<InProcessSource> FromRegistry(const Registry& registry);

  // Adds one index; `types` names its entity type codes. A second index with the same key
  // replaces the first.
  void Add(std::shared_ptr<const EntityIndex> index, const EntityTypeDictionary* types);

  std::string name() const override { return "in-process"; }
  Status List(std::vector<IndexDescription>* out) override;
  Status Search(const IndexKey& key, const SourceQuery& query, SourceAnswer* out) override;
  Status TakeCensus(const IndexDescription& index, const CensusOptions& options,
                    Census* out) override;

 private:
  struct Entry {
    std::shared_ptr<const EntityIndex> index;
    const EntityTypeDictionary* types = nullptr;
  };
  const Entry* Find(const IndexKey& key) const;

  std::vector<Entry> entries_;
};

}  // namespace vecmirror::recall
