#include "index/snapshot_manifest.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <exception>

#include "base/lsn.h"
#include "index/sealed_file.h"

namespace vecmirror {

namespace {

using nlohmann::json;

std::string Hex32(uint32_t value) {
  char text[9];
  std::snprintf(text, sizeof(text), "%08x", value);
  return text;
}

bool ParseHex32(const std::string& text, uint32_t* value) {
  if (text.size() != 8) return false;
  uint32_t v = 0;
  for (char c : text) {
    int digit;
    if (c >= '0' && c <= '9') digit = c - '0';
    else if (c >= 'a' && c <= 'f') digit = c - 'a' + 10;
    else return false;
    v = v << 4 | uint32_t(digit);
  }
  *value = v;
  return true;
}

json DigestJson(const FileDigest& digest) {
  return json{{"bytes", digest.bytes}, {"crc32", Hex32(digest.crc32)}};
}

FileDigest DigestOf(const json& j) {
  FileDigest digest;
  digest.bytes = j.at("bytes").get<uint64_t>();
  if (!ParseHex32(j.at("crc32").get<std::string>(), &digest.crc32)) {
    throw std::runtime_error("a crc32 is not 8 lower-case hex digits");
  }
  return digest;
}

// A file name inside the snapshot directory: no path separators, no dot files.
std::string FileName(const json& j) {
  std::string name = j.get<std::string>();
  if (name.empty() || name[0] == '.' || name.find('/') != std::string::npos) {
    throw std::runtime_error("file name \"" + name + "\" is not a plain file name");
  }
  return name;
}

}  // namespace

std::vector<std::pair<std::string, int64_t>> ManifestParameters(const IndexImage& image) {
  const SealedStructure& sealed = *image.sealed;
  if (sealed.hnsw) {
    const faiss::HNSW& g = sealed.hnsw->hnsw;
    return {{"m", HnswLinksPerNode(g)},
            {"ef_construction", g.efConstruction},
            {"ef_search", g.efSearch}};
  }
  if (sealed.ivf_quantizer) {
    return {{"nlist", int64_t(sealed.ivf_nlist)}, {"nprobe", int64_t(sealed.ivf_default_nprobe)}};
  }
  return {};
}

std::string EncodeManifest(const SnapshotManifest& m) {
  json body;
  body["format_version"] = m.format_version;
  body["created"] = m.created;
  body["source"] = {{"system_identifier", m.source.system_identifier},
                    {"database", m.source.database},
                    {"slot", m.source.slot},
                    {"publication", m.source.publication}};
  body["lsn"] = m.lsn;
  body["lsn_text"] = FormatLsn(m.lsn);
  body["type_names"] = m.type_names;
  json indexes = json::array();
  for (const ManifestIndexEntry& e : m.indexes) {
    json parameters = json::object();
    for (const auto& [name, value] : e.parameters) parameters[name] = value;
    indexes.push_back(json{
        {"file", e.file},
        {"tenant", e.key.tenant_id.ToString()},
        {"model", e.key.model},
        {"dim", e.key.dim},
        {"kind", IndexKindName(e.kind)},
        {"pinned_kind", e.pinned_kind ? json(IndexKindName(*e.pinned_kind)) : json(nullptr)},
        {"parameters", parameters},
        {"live", e.live},
        {"dead", e.dead},
        {"tail", e.tail},
        {"covered_lsn", e.covered_lsn},
        {"file_digest", DigestJson(e.digest)},
    });
  }
  body["indexes"] = indexes;
  body["mirror_state"] = {{"file", m.mirror_file}, {"file_digest", DigestJson(m.mirror_digest)}};
  body["checksum"] = Hex32(Crc32(body.dump()));
  return body.dump(2) + "\n";
}

Status DecodeManifest(std::string_view text, SnapshotManifest* out) {
  json body = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded() || !body.is_object()) {
    return Status::Corruption("unreadable manifest: not a JSON object");
  }
  try {
    const int version = body.at("format_version").get<int>();
    if (version > kSnapshotFormatVersion) {
      return Status::Corruption("format version " + std::to_string(version) +
                                " is newer than this build's " +
                                std::to_string(kSnapshotFormatVersion));
    }
    const std::string checksum = body.at("checksum").get<std::string>();
    body.erase("checksum");
    if (checksum != Hex32(Crc32(body.dump()))) {
      return Status::Corruption("checksum mismatch in file manifest.json");
    }
    if (version < 1) throw std::runtime_error("format version " + std::to_string(version));
    SnapshotManifest m;
    m.format_version = version;
    m.created = body.at("created").get<std::string>();
    const json& source = body.at("source");
    m.source.system_identifier = source.at("system_identifier").get<std::string>();
    m.source.database = source.at("database").get<std::string>();
    m.source.slot = source.at("slot").get<std::string>();
    m.source.publication = source.at("publication").get<std::string>();
    m.lsn = body.at("lsn").get<uint64_t>();
    m.type_names = body.at("type_names").get<std::vector<std::string>>();
    for (const json& j : body.at("indexes")) {
      ManifestIndexEntry e;
      e.file = FileName(j.at("file"));
      const auto tenant = Uuid::Parse(j.at("tenant").get<std::string>());
      if (!tenant) throw std::runtime_error("a tenant is not a UUID");
      e.key.tenant_id = *tenant;
      e.key.model = j.at("model").get<std::string>();
      e.key.dim = j.at("dim").get<uint32_t>();
      if (!ParseIndexKind(j.at("kind").get<std::string>(), &e.kind).ok()) {
        throw std::runtime_error("unknown index kind");
      }
      if (!j.at("pinned_kind").is_null()) {
        IndexKind pinned;
        if (!ParseIndexKind(j.at("pinned_kind").get<std::string>(), &pinned).ok()) {
          throw std::runtime_error("unknown pinned index kind");
        }
        e.pinned_kind = pinned;
      }
      for (const auto& [name, value] : j.at("parameters").items()) {
        e.parameters.emplace_back(name, value.get<int64_t>());
      }
      e.live = j.at("live").get<uint64_t>();
      e.dead = j.at("dead").get<uint64_t>();
      e.tail = j.at("tail").get<uint64_t>();
      e.covered_lsn = j.at("covered_lsn").get<uint64_t>();
      e.digest = DigestOf(j.at("file_digest"));
      m.indexes.push_back(std::move(e));
    }
    const json& mirror = body.at("mirror_state");
    m.mirror_file = FileName(mirror.at("file"));
    m.mirror_digest = DigestOf(mirror.at("file_digest"));
    *out = std::move(m);
  } catch (const std::exception& e) {
    return Status::Corruption(std::string("unreadable manifest: ") + e.what());
  }
  return Status::Ok();
}

}  // namespace vecmirror
