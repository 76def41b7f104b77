#include "tools/recall/snapshot_source.h"

#include <vector>

#include "index/snapshot.h"

namespace vecmirror::recall {

Status SnapshotSource::Open(const std::string& root, const IndexOptions& options,
                            std::unique_ptr<SnapshotSource>* out) {
  LoadedSnapshot loaded;
  std::vector<std::string> rejected;
  Status s = LoadNewestSnapshotOfAnySource(root, options, &loaded, &rejected);
  if (!s.ok()) {
    std::string why = s.message();
    for (const std::string& reason : rejected) why += "\n  rejected " + reason;
    return Status::NotFound(why);
  }
  std::unique_ptr<SnapshotSource> source(new SnapshotSource());
  if (!source->types_.Restore(loaded.type_names)) {
    return Status::Corruption(loaded.path + ": the type names repeat or are too many");
  }
  source->path_ = loaded.path;
  source->lsn_ = loaded.lsn;
  for (std::unique_ptr<EntityIndex>& index : loaded.indexes) {
    source->indexes_.Add(std::shared_ptr<const EntityIndex>(std::move(index)), &source->types_);
  }
  *out = std::move(source);
  return Status::Ok();
}

}  // namespace vecmirror::recall
