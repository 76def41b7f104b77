// Snapshots: every index of the process, the entity-type dictionary and the mirror's own state,
// written to disk as one consistent cut at an applied LSN, so that a restart loads them instead
// of reading every table and rebuilding every graph, and resumes the replication slot there.
//
// Layout. Under a root directory, one directory per snapshot,
//   <root>/snapshot-<LSN as 16 hex digits>-<sequence, 6+ decimal digits>/
//     manifest.json    format version, creation time, source, LSN, type names, and per file
//                      its size and CRC-32 (index/snapshot_manifest.h); checksummed itself
//     index-00000.vmi  one file per index (index/index_file.h)
//     mirror.state     the caller's opaque state
// The sequence numbers snapshots in the order they were written; "newest" means the highest
// sequence (not the highest LSN: after a fresh load from another source, the LSNs may restart
// lower).
//
// Atomicity. WriteSnapshot writes into <root>/.tmp-snapshot-..., fsyncs every file and the
// directory, renames it to its final name and fsyncs <root>. A crash at any step leaves the
// previous snapshot the newest complete one: the loader never looks at temporary directories,
// and the next WriteSnapshot removes them. After the rename the older snapshots beyond `keep`
// are removed. One process writes under a root at a time: WriteSnapshot holds an flock on
// <root>/.lock while it runs, and fails with Unavailable if another process holds it.
//
// Verification. LoadNewestSnapshot verifies a snapshot completely before it uses any of it:
// the manifest's own checksum, its format version, its source against the expected one, and
// each file's size and CRC-32 (which are read as the files are, the big arrays straight into
// place), then the structure of what was decoded. It passes over a snapshot that fails any of
// these, says why in `rejected`, and tries the next older one.
//
// Thread-safety: WriteSnapshot and LoadNewestSnapshot may run concurrently with anything in the
// process (a SnapshotCut is immutable, index/index_image.h); WriteSnapshot calls on one root are
// serialized by its lock file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "index/entity_index.h"
#include "index/index_image.h"
#include "index/index_options.h"

namespace vecmirror {

// This build's snapshot format; a snapshot of a newer format is rejected, never guessed at.
constexpr int kSnapshotFormatVersion = 1;

// Where a snapshot was taken from; a snapshot is loaded only when all of these match.
struct SnapshotSource {
  std::string system_identifier;  // PostgreSQL's, as text
  std::string database;
  std::string slot;
  std::string publication;
  bool operator==(const SnapshotSource&) const = default;
};

// One consistent cut at `lsn`: every index, the entity-type dictionary, and the caller's opaque
// state (the mirror's), written as one more checksummed file.
struct SnapshotCut {
  SnapshotSource source;
  uint64_t lsn = 0;
  std::vector<std::string> type_names;  // EntityTypeDictionary names in code order
  std::vector<IndexImage> indexes;
  std::string mirror_state;
};

struct SnapshotWriteOptions {
  // Complete snapshots kept under the root after a write, the new one included. At least 1.
  // Default: 3.
  size_t keep = 3;
  // Test hook: called after each step of the write with the step's name ("created temp dir",
  // "wrote index-00000.vmi", ..., "wrote mirror.state", "wrote manifest.json", "synced temp
  // dir", "renamed", "synced root", "pruned"), so a test can kill the process at each one.
  // Default: none.
  std::function<void(std::string_view step)> after_step;
};

// Writes `cut` under `root` (created if missing) atomically; `path` gets the new snapshot's
// directory. Prunes to options.keep. On failure nothing of this write stays behind but, after a
// crash, a temporary directory that the next write removes.
Status WriteSnapshot(const std::string& root, const SnapshotCut& cut,
                     const SnapshotWriteOptions& options, std::string* path);

struct LoadedSnapshot {
  std::string path;
  SnapshotSource source;
  uint64_t lsn = 0;
  std::vector<std::string> type_names;
  std::vector<std::unique_ptr<EntityIndex>> indexes;
  std::string mirror_state;
};

// The newest snapshot under `root` that verifies completely and whose source equals `expected`,
// its indexes made with `options` (the process's; Registry::Restore takes them). Each snapshot
// passed over is reported in `rejected` (may be null) as "<dir>: <reason>": "checksum mismatch
// in file F", "truncated file F (N of M bytes)", "missing file F", "unreadable manifest: ...",
// "other database (snapshot's X, expected Y)" (likewise system identifier, slot, publication),
// "format version N is newer than this build's M", "corrupt file F: ...". NotFound when none is
// usable (or the root does not exist); `rejected` then says why.
Status LoadNewestSnapshot(const std::string& root, const SnapshotSource& expected,
                          const IndexOptions& options, LoadedSnapshot* out,
                          std::vector<std::string>* rejected);

// The same, taking the snapshot's source from its manifest (out->source) instead of checking
// it: for tools that read a snapshot with no PostgreSQL to compare it with (vecmirror-rebuild
// --from-snapshot keeps its source; vecmirror-recall --snapshot). Everything else is verified as LoadNewestSnapshot does.
Status LoadNewestSnapshotOfAnySource(const std::string& root, const IndexOptions& options,
                                     LoadedSnapshot* out, std::vector<std::string>* rejected);

// The complete snapshot directories under `root` (not temporary ones), newest first, by name.
std::vector<std::string> ListSnapshots(const std::string& root);

}  // namespace vecmirror
