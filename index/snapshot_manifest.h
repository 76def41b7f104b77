// The manifest of a snapshot directory (index/snapshot.h): manifest.json, one JSON object with
// the format version, the creation time, the source, the LSN, the entity type names in code
// order, one entry per index file (file name, key, kind, pinned kind, parameters, live/dead/tail
// counts, covered LSN, size, CRC-32) and the mirror state file's size and CRC-32.
//
// The manifest checksums itself: its "checksum" member is the CRC-32 of the compact JSON of
// every other member (nlohmann::json keeps members sorted, so the text is canonical). Changing
// any byte of the file either makes it unparsable or changes a value, and so the checksum.
// The format version is read before the checksum, so a newer format (which may checksum
// otherwise) is reported as such.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "index/checksummed_file.h"
#include "index/index_key.h"
#include "index/index_options.h"
#include "index/snapshot.h"

namespace vecmirror {

struct ManifestIndexEntry {
  std::string file;
  IndexKey key;
  IndexKind kind = IndexKind::kFlat;
  std::optional<IndexKind> pinned_kind;
  // For operators: HNSW m, ef_construction, ef_search; IVF nlist, nprobe.
  std::vector<std::pair<std::string, int64_t>> parameters;
  uint64_t live = 0;
  uint64_t dead = 0;
  uint64_t tail = 0;
  uint64_t covered_lsn = 0;
  FileDigest digest;
};

struct SnapshotManifest {
  int format_version = kSnapshotFormatVersion;
  std::string created;  // UTC, ISO 8601
  SnapshotSource source;
  uint64_t lsn = 0;
  std::vector<std::string> type_names;
  std::vector<ManifestIndexEntry> indexes;
  std::string mirror_file;
  FileDigest mirror_digest;
};

std::string EncodeManifest(const SnapshotManifest& manifest);

// Corruption "unreadable manifest: ..." (not JSON, a member missing or of the wrong type, a
// file name with a slash), "format version N is newer than this build's M", or "checksum
// mismatch in file manifest.json".
Status DecodeManifest(std::string_view text, SnapshotManifest* manifest);

// The parameters to record for an image's sealed structure.
std::vector<std::pair<std::string, int64_t>> ManifestParameters(const IndexImage& image);

}  // namespace vecmirror
