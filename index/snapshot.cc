#include "index/snapshot.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <set>
#include <utility>

#include "index/index_file.h"
#include "index/snapshot_manifest.h"

namespace vecmirror {

namespace {

namespace fs = std::filesystem;

constexpr char kPrefix[] = "snapshot-";
constexpr char kTempPrefix[] = ".tmp-";
constexpr char kManifestFile[] = "manifest.json";
constexpr char kMirrorFile[] = "mirror.state";
constexpr char kLockFile[] = ".lock";
constexpr uint64_t kMaxManifestBytes = uint64_t{64} << 20;

// A snapshot directory's name, parsed: snapshot-<16 hex>-<decimal>.
struct SnapshotName {
  uint64_t lsn = 0;
  uint64_t sequence = 0;
  std::string name;
};

std::optional<SnapshotName> ParseName(const std::string& name) {
  const size_t prefix = sizeof(kPrefix) - 1;
  if (name.size() < prefix + 16 + 2 || name.compare(0, prefix, kPrefix) != 0 ||
      name[prefix + 16] != '-') {
    return std::nullopt;
  }
  SnapshotName parsed;
  parsed.name = name;
  for (size_t i = prefix; i < prefix + 16; ++i) {
    const char c = name[i];
    if (!std::isxdigit(static_cast<unsigned char>(c)) || std::isupper(static_cast<unsigned char>(c))) {
      return std::nullopt;
    }
    parsed.lsn = parsed.lsn << 4 | uint64_t(c <= '9' ? c - '0' : c - 'a' + 10);
  }
  const std::string sequence = name.substr(prefix + 17);
  if (sequence.empty() || sequence.size() > 18) return std::nullopt;
  for (char c : sequence) {
    if (c < '0' || c > '9') return std::nullopt;
    parsed.sequence = parsed.sequence * 10 + uint64_t(c - '0');
  }
  return parsed;
}

std::string FormatName(uint64_t lsn, uint64_t sequence) {
  char name[64];
  std::snprintf(name, sizeof(name), "%s%016" PRIx64 "-%06" PRIu64, kPrefix, lsn, sequence);
  return name;
}

// Complete snapshot directories under root, newest (highest sequence) first.
std::vector<SnapshotName> ScanSnapshots(const std::string& root) {
  std::vector<SnapshotName> found;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    auto parsed = ParseName(entry.path().filename().string());
    if (parsed && entry.is_directory(ec)) found.push_back(*parsed);
  }
  std::sort(found.begin(), found.end(), [](const SnapshotName& a, const SnapshotName& b) {
    return a.sequence != b.sequence ? a.sequence > b.sequence : a.lsn > b.lsn;
  });
  return found;
}

Status SyncDirectory(const std::string& dir) {
  const int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::IOError("opening " + dir + ": " + std::strerror(errno));
  const int rc = fsync(fd);
  const int error = errno;
  close(fd);
  if (rc != 0) return Status::IOError("syncing " + dir + ": " + std::strerror(error));
  return Status::Ok();
}

std::string UtcNow() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&now, &tm);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

// The writers' lock on a root, held for one WriteSnapshot; the kernel drops it if the process
// dies.
class RootLock {
 public:
  ~RootLock() {
    if (fd_ >= 0) close(fd_);  // releases the flock
  }
  Status Acquire(const std::string& root) {
    const std::string path = root + "/" + kLockFile;
    fd_ = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) return Status::IOError("opening " + path + ": " + std::strerror(errno));
    if (flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      return Status::Unavailable("another process is writing a snapshot under " + root +
                                 " (it holds " + path + ")");
    }
    return Status::Ok();
  }

 private:
  int fd_ = -1;
};

Status WriteWholeFile(const std::string& path, std::string_view bytes, FileDigest* digest) {
  ChecksummedFileWriter out;
  if (Status s = out.Create(path); !s.ok()) return s;
  out.PutRaw(bytes.data(), bytes.size());
  return out.Finish(digest);
}

// The files of a snapshot, written into `dir`.
Status WriteContents(const std::string& dir, const SnapshotCut& cut,
                     const SnapshotWriteOptions& options) {
  auto step = [&](std::string_view name) {
    if (options.after_step) options.after_step(name);
  };
  SnapshotManifest manifest;
  manifest.created = UtcNow();
  manifest.source = cut.source;
  manifest.lsn = cut.lsn;
  manifest.type_names = cut.type_names;
  for (size_t i = 0; i < cut.indexes.size(); ++i) {
    const IndexImage& image = cut.indexes[i];
    char file[32];
    std::snprintf(file, sizeof(file), "index-%05zu.vmi", i);
    ManifestIndexEntry entry;
    entry.file = file;
    entry.key = image.key;
    entry.kind = image.kind;
    entry.pinned_kind = image.pinned_kind;
    entry.parameters = ManifestParameters(image);
    entry.live = image.live_count;
    entry.dead = image.dead();
    entry.tail = image.tail_rows();
    entry.covered_lsn = image.covered_lsn;
    if (Status s = WriteIndexFile(image, dir + "/" + file, &entry.digest); !s.ok()) return s;
    manifest.indexes.push_back(std::move(entry));
    step(std::string("wrote ") + file);
  }
  manifest.mirror_file = kMirrorFile;
  if (Status s = WriteWholeFile(dir + "/" + kMirrorFile, cut.mirror_state, &manifest.mirror_digest);
      !s.ok()) {
    return s;
  }
  step(std::string("wrote ") + kMirrorFile);
  FileDigest ignored;
  if (Status s = WriteWholeFile(dir + "/" + kManifestFile, EncodeManifest(manifest), &ignored);
      !s.ok()) {
    return s;
  }
  step(std::string("wrote ") + kManifestFile);
  if (Status s = SyncDirectory(dir); !s.ok()) return s;
  step("synced temp dir");
  return Status::Ok();
}

Status ReadManifest(const std::string& dir, SnapshotManifest* manifest) {
  const std::string path = dir + "/" + kManifestFile;
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (ec) {
    if (ec == std::errc::no_such_file_or_directory) return Status::NotFound("missing file manifest.json");
    return Status::IOError("reading " + path + ": " + ec.message());
  }
  if (size > kMaxManifestBytes) return Status::Corruption("unreadable manifest: too large");
  // The manifest checksums itself (DecodeManifest checks it).
  std::ifstream in(path, std::ios::binary);
  std::string text(size, '\0');
  if (!in.read(text.data(), std::streamsize(size))) return Status::IOError("reading " + path);
  return DecodeManifest(text, manifest);
}

std::string Mismatch(const char* what, const std::string& found, const std::string& expected) {
  return std::string("other ") + what + " (snapshot's \"" + found + "\", expected \"" + expected +
         "\")";
}

Status LoadSnapshot(const std::string& dir, const SnapshotSource& expected,
                    const IndexOptions& options, LoadedSnapshot* out) {
  SnapshotManifest manifest;
  if (Status s = ReadManifest(dir, &manifest); !s.ok()) return s;
  const SnapshotSource& found = manifest.source;
  if (found.system_identifier != expected.system_identifier) {
    return Status::FailedPrecondition(
        Mismatch("system identifier", found.system_identifier, expected.system_identifier));
  }
  if (found.database != expected.database) {
    return Status::FailedPrecondition(Mismatch("database", found.database, expected.database));
  }
  if (found.slot != expected.slot) {
    return Status::FailedPrecondition(Mismatch("slot", found.slot, expected.slot));
  }
  if (found.publication != expected.publication) {
    return Status::FailedPrecondition(
        Mismatch("publication", found.publication, expected.publication));
  }
  if (std::set<std::string>(manifest.type_names.begin(), manifest.type_names.end()).size() !=
          manifest.type_names.size() ||
      manifest.type_names.size() > kMaxEntityTypes) {
    return Status::Corruption("unreadable manifest: type names repeat or are too many");
  }

  LoadedSnapshot loaded;
  loaded.path = dir;
  loaded.source = found;
  loaded.lsn = manifest.lsn;
  loaded.type_names = manifest.type_names;
  std::set<IndexKey> keys;
  std::set<std::string> files{manifest.mirror_file, kManifestFile};
  for (const ManifestIndexEntry& entry : manifest.indexes) {
    if (!files.insert(entry.file).second || !keys.insert(entry.key).second) {
      return Status::Corruption("unreadable manifest: an index file or key appears twice");
    }
    IndexImage image;
    if (Status s = ReadIndexFile(dir + "/" + entry.file, entry.digest, manifest.type_names.size(),
                                 &image);
        !s.ok()) {
      return s;
    }
    if (image.key != entry.key || image.kind != entry.kind ||
        image.pinned_kind != entry.pinned_kind || image.covered_lsn != entry.covered_lsn ||
        image.live_count != entry.live || image.dead() != entry.dead ||
        image.tail_rows() != entry.tail || image.covered_lsn > manifest.lsn) {
      return Status::Corruption("corrupt file " + entry.file + ": differs from the manifest");
    }
    std::unique_ptr<EntityIndex> index;
    if (Status s = EntityIndex::FromImage(std::move(image), options, &index); !s.ok()) {
      return Status::Corruption("corrupt file " + entry.file + ": " + s.message());
    }
    loaded.indexes.push_back(std::move(index));
  }
  ChecksummedFileReader mirror;
  if (Status s = mirror.Open(dir + "/" + manifest.mirror_file, manifest.mirror_digest); !s.ok()) {
    return s;
  }
  loaded.mirror_state.resize(manifest.mirror_digest.bytes);
  mirror.GetRaw(loaded.mirror_state.data(), loaded.mirror_state.size());
  if (Status s = mirror.Finish(); !s.ok()) return s;
  *out = std::move(loaded);
  return Status::Ok();
}

}  // namespace

std::vector<std::string> ListSnapshots(const std::string& root) {
  std::vector<std::string> paths;
  for (const SnapshotName& s : ScanSnapshots(root)) paths.push_back(root + "/" + s.name);
  return paths;
}

Status WriteSnapshot(const std::string& root, const SnapshotCut& cut,
                     const SnapshotWriteOptions& options, std::string* path) {
  if (options.keep < 1) return Status::InvalidArgument("keep must be at least 1 snapshot");
  std::error_code ec;
  fs::create_directories(root, ec);
  if (ec) return Status::IOError("creating " + root + ": " + ec.message());
  RootLock lock;
  if (Status s = lock.Acquire(root); !s.ok()) return s;

  // What an interrupted write left behind. Nobody else writes here while we hold the lock.
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    if (entry.path().filename().string().rfind(kTempPrefix, 0) == 0) fs::remove_all(entry.path(), ec);
  }
  uint64_t sequence = 1;
  const std::vector<SnapshotName> existing = ScanSnapshots(root);
  if (!existing.empty()) sequence = existing.front().sequence + 1;
  const std::string name = FormatName(cut.lsn, sequence);
  const std::string temp = root + "/" + kTempPrefix + name;
  const std::string final_path = root + "/" + name;
  auto step = [&](std::string_view s) {
    if (options.after_step) options.after_step(s);
  };

  if (!fs::create_directory(temp, ec) || ec) {
    return Status::IOError("creating " + temp + ": " + (ec ? ec.message() : "exists"));
  }
  step("created temp dir");
  if (Status s = WriteContents(temp, cut, options); !s.ok()) {
    fs::remove_all(temp, ec);
    return s;
  }
  if (std::rename(temp.c_str(), final_path.c_str()) != 0) {
    const Status s = Status::IOError("renaming " + temp + " to " + final_path + ": " +
                                     std::strerror(errno));
    fs::remove_all(temp, ec);
    return s;
  }
  step("renamed");
  if (Status s = SyncDirectory(root); !s.ok()) return s;
  step("synced root");
  *path = final_path;

  // The newest `keep` stay; the new one is the newest.
  const std::vector<SnapshotName> all = ScanSnapshots(root);
  for (size_t i = options.keep; i < all.size(); ++i) {
    fs::remove_all(root + "/" + all[i].name, ec);
    if (ec) return Status::IOError("removing " + all[i].name + ": " + ec.message());
  }
  if (Status s = SyncDirectory(root); !s.ok()) return s;
  step("pruned");
  return Status::Ok();
}

Status LoadNewestSnapshot(const std::string& root, const SnapshotSource& expected,
                          const IndexOptions& options, LoadedSnapshot* out,
                          std::vector<std::string>* rejected) {
  const std::vector<SnapshotName> all = ScanSnapshots(root);
  for (const SnapshotName& snapshot : all) {
    const std::string dir = root + "/" + snapshot.name;
    const Status s = LoadSnapshot(dir, expected, options, out);
    if (s.ok()) return s;
    if (rejected != nullptr) rejected->push_back(dir + ": " + s.message());
  }
  if (all.empty()) return Status::NotFound("no snapshot under " + root);
  return Status::NotFound("no usable snapshot under " + root + " (" + std::to_string(all.size()) +
                          " rejected)");
}

Status LoadNewestSnapshotAnySource(const std::string& root, const IndexOptions& options,
                                   LoadedSnapshot* out, std::vector<std::string>* rejected) {
  const std::vector<SnapshotName> all = ScanSnapshots(root);
  for (const SnapshotName& snapshot : all) {
    const std::string dir = root + "/" + snapshot.name;
    // The manifest names its own source; LoadSnapshot then verifies all the rest.
    SnapshotManifest manifest;
    Status s = ReadManifest(dir, &manifest);
    if (s.ok()) s = LoadSnapshot(dir, manifest.source, options, out);
    if (s.ok()) return s;
    if (rejected != nullptr) rejected->push_back(dir + ": " + s.message());
  }
  if (all.empty()) return Status::NotFound("no snapshot under " + root);
  return Status::NotFound("no usable snapshot under " + root + " (" + std::to_string(all.size()) +
                          " rejected)");
}

}  // namespace vecmirror
