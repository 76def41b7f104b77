// SnapshotSource: the indexes of a snapshot directory (index/snapshot.h), read from disk and
// searched in this process: vecmirror-recall --snapshot measures recall offline, with no service
// and no PostgreSQL. Open loads the newest snapshot under the root that verifies completely
// (checksums, format version, structure), whatever database it was taken from; a snapshot that
// fails verification is passed over, and when none is usable Open fails and says why.
//
//   std::unique_ptr<recall::SnapshotSource> source;
//   Status s = recall::SnapshotSource::Open("/var/lib/vecmirror/snapshots", {}, &source);
//
// The indexes are made with `options` (the service's defaults unless told otherwise), so the
// exact-scan policy is the one a service with those options applies.
//
// Thread-safety: as InProcessSource (List from one thread, then concurrent Search/TakeCensus).
#pragma once

#include <memory>
#include <string>

#include "index/entity_types.h"
#include "index/index_options.h"
#include "tools/recall/in_process_source.h"

namespace vecmirror::recall {

class SnapshotSource final : public IndexSource {
 public:
  // NotFound (with every rejected snapshot's reason in the message) when no snapshot under
  // `root` verifies.
  static Status Open(const std::string& root, const IndexOptions& options,
                     std::unique_ptr<SnapshotSource>* out);

  // The snapshot directory read and the LSN it covers.
  const std::string& path() const { return path_; }
  uint64_t lsn() const { return lsn_; }

  std::string name() const override { return "snapshot " + path_; }
  Status List(std::vector<IndexDescription>* out) override { return indexes_.List(out); }
  Status Search(const IndexKey& key, const SourceQuery& query, SourceAnswer* out) override {
    return indexes_.Search(key, query, out);
  }
  Status TakeCensus(const IndexDescription& index, const CensusOptions& options,
                    Census* out) override {
    return indexes_.TakeCensus(index, options, out);
  }

 private:
  SnapshotSource() = default;

  std::string path_;
  uint64_t lsn_ = 0;
  EntityTypeDictionary types_;  // the snapshot's type names, for indexes_
  InProcessSource indexes_;
};

}  // namespace vecmirror::recall
