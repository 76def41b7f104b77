#include "index/index_file.h"

#include <cstring>
#include <limits>
#include <utility>
#include <vector>

#include "index/sealed_file.h"

namespace vecmirror {

namespace {

constexpr char kMagic[8] = {'V', 'M', 'I', 'N', 'D', 'E', 'X', '\n'};
constexpr uint8_t kNoPin = 255;
constexpr uint64_t kMaxModelNameBytes = 4096;
constexpr uint32_t kMaxDim = 1 << 16;

bool KnownKind(uint8_t kind) { return kind <= static_cast<uint8_t>(IndexKind::kIvf); }

// fp16 and SQ8 rows are HNSW storages only (index/index_options.h); SQ8 came with version 3.
bool KnownStorage(uint8_t storage, uint8_t kind, uint32_t version) {
  const bool hnsw = kind == static_cast<uint8_t>(IndexKind::kHnsw);
  switch (storage) {
    case static_cast<uint8_t>(VectorStorage::kFp32):
      return true;
    case static_cast<uint8_t>(VectorStorage::kFp16):
      return hnsw;
    case static_cast<uint8_t>(VectorStorage::kSq8):
      return hnsw && version >= 3;
    default:
      return false;
  }
}

// The per-slot tables of `image` follow a structure that renumbered its sealed slots: its slot i
// is the file's slot order[i] (ReadSealed checked that `order` is a permutation).
void RenumberSealedSlots(const std::vector<uint32_t>& order, IndexImage& image) {
  const std::vector<Uuid> ids(image.ids.begin(), image.ids.begin() + order.size());
  const std::vector<EntityTypeCode> types(image.types.begin(), image.types.begin() + order.size());
  const std::vector<uint8_t> live(image.live.begin(), image.live.begin() + order.size());
  for (size_t slot = 0; slot < order.size(); ++slot) {
    image.ids[slot] = ids[order[slot]];
    image.types[slot] = types[order[slot]];
    image.live[slot] = live[order[slot]];
  }
}

}  // namespace

Status WriteIndexFile(const IndexImage& image, const std::string& path, FileDigest* digest) {
  ChecksummedFileWriter out;
  if (Status s = out.Create(path); !s.ok()) return s;
  out.PutRaw(kMagic, sizeof(kMagic));
  out.Put<uint32_t>(kIndexFileVersion);
  out.PutRaw(image.key.tenant_id.bytes.data(), image.key.tenant_id.bytes.size());
  out.PutString(image.key.model);
  out.Put<uint32_t>(image.key.dim);
  out.Put<uint8_t>(static_cast<uint8_t>(image.kind));
  out.Put<uint8_t>(static_cast<uint8_t>(image.sealed->storage));
  out.Put<uint8_t>(image.pinned_kind ? static_cast<uint8_t>(*image.pinned_kind) : kNoPin);
  out.Put<uint64_t>(image.covered_lsn);
  out.Put<uint64_t>(image.slots());
  out.Put<uint64_t>(image.sealed_rows());
  out.Put<uint64_t>(image.live_count);
  out.PutArray(image.ids);
  out.PutArray(image.types);
  out.PutArray(image.live);
  WriteSealed(*image.sealed, image.key.dim, out);
  out.PutArray(image.tail);
  out.PutRaw(kMagic, sizeof(kMagic));
  return out.Finish(digest);
}

Status ReadIndexFile(const std::string& path, const FileDigest& expected, size_t max_type_codes,
                     IndexImage* image) {
  ChecksummedFileReader in;
  if (Status s = in.Open(path, expected); !s.ok()) return s;
  const std::string name = BaseName(path);

  char magic[sizeof(kMagic)] = {};
  uint32_t version = 0;
  in.GetRaw(magic, sizeof(magic));
  in.Get(&version);
  const bool magic_ok = std::memcmp(magic, kMagic, sizeof(kMagic)) == 0;
  const bool newer = version > kIndexFileVersion;
  // Decoding stops here on either, but the checksum still speaks first: damage explains both.
  if (!magic_ok) in.Fail("not an index file");
  if (newer) in.Fail("format version " + std::to_string(version) + " is newer");
  IndexImage img;
  uint8_t kind = 0, storage = 0, pin = 0;
  uint64_t slots = 0, sealed_rows = 0, live_count = 0;
  in.GetRaw(img.key.tenant_id.bytes.data(), img.key.tenant_id.bytes.size());
  in.GetString(&img.key.model, kMaxModelNameBytes);
  in.Get(&img.key.dim);
  in.Get(&kind);
  if (version >= 2) in.Get(&storage);
  in.Get(&pin);
  in.Get(&img.covered_lsn);
  in.Get(&slots);
  in.Get(&sealed_rows);
  in.Get(&live_count);
  if (!in.failed()) {
    if (img.key.dim == 0 || img.key.dim > kMaxDim || !KnownKind(kind) ||
        !KnownStorage(storage, kind, version) ||
        (pin != kNoPin && !KnownKind(pin)) || sealed_rows > slots || live_count > slots ||
        slots > std::numeric_limits<uint32_t>::max()) {
      in.Fail("header out of range");
    }
  }
  const size_t dim = img.key.dim;
  img.kind = static_cast<IndexKind>(kind);
  if (pin != kNoPin) img.pinned_kind = static_cast<IndexKind>(pin);
  img.live_count = live_count;
  if (!in.failed()) {
    in.GetArray(&img.ids, slots);
    in.GetArray(&img.types, slots);
    in.GetArray(&img.live, slots);
    if (!in.failed() && (img.ids.size() != slots || img.types.size() != slots ||
                         img.live.size() != slots)) {
      in.Fail("per-slot tables of the wrong length");
    }
  }
  std::unique_ptr<SealedStructure> sealed;
  std::vector<uint32_t> order;  // of an older IVF file's sealed slots
  if (!in.failed()) {
    ReadSealed(in, version, img.kind, static_cast<VectorStorage>(storage), sealed_rows, dim,
               &sealed, &order);
  }
  if (!in.failed()) {
    const uint64_t tail_floats = (slots - sealed_rows) * dim;
    in.GetArray(&img.tail, tail_floats);
    if (!in.failed() && img.tail.size() != tail_floats) in.Fail("tail of the wrong length");
  }
  char end[sizeof(kMagic)] = {};
  if (!in.failed() && in.GetRaw(end, sizeof(end)) &&
      std::memcmp(end, kMagic, sizeof(kMagic)) != 0) {
    in.Fail("no end marker");
  }
  if (Status s = in.Finish(); !s.ok()) {
    if (newer && in.checksum_matched()) {
      return Status::Corruption("format version " + std::to_string(version) + " of file " + name +
                                " is newer than this build's " +
                                std::to_string(kIndexFileVersion));
    }
    return s;
  }

  // The checksum matched: now check what searches will index with.
  if (Status s = CheckSealedGraph(*sealed, dim); !s.ok()) {
    return Status::Corruption("corrupt file " + name + ": " + s.message());
  }
  for (EntityTypeCode type : img.types) {
    if (type >= max_type_codes) {
      return Status::Corruption("corrupt file " + name + ": type code " + std::to_string(type) +
                                " is not in the snapshot's type dictionary");
    }
  }
  if (!order.empty()) RenumberSealedSlots(order, img);
  img.sealed = std::move(sealed);
  *image = std::move(img);
  return Status::Ok();
}

}  // namespace vecmirror
