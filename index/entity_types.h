// Entity types as small codes. Each index slot stores one code, and a query's entity_type
// filter is a TypeMask over codes, so the filter check is one lookup per slot.
//
// Limit: 65,536 distinct types per process (a 16-bit code), far above any real schema. Past it
// Intern returns nullopt; the mirror then leaves the entity out of search, counts it
// (entity_type_limit) and logs it, and never keeps it under an older type.
//
// Thread-safety: EntityTypeDictionary is safe for concurrent use. TypeMask is a plain value.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace vecmirror {

using EntityTypeCode = uint16_t;
constexpr size_t kMaxEntityTypes = size_t{1} << 16;

// The set of entity types a query accepts: all of them, or the codes added (a bitset that
// grows to the highest code added, so a filter of a few types stays a few words).
class TypeMask {
 public:
  static TypeMask All() { TypeMask m; m.all_ = true; return m; }
  static TypeMask None() { return TypeMask(); }
  void Add(EntityTypeCode code) {
    const size_t word = code / 64;
    if (word >= words_.size()) words_.resize(word + 1, 0);
    words_[word] |= uint64_t{1} << (code % 64);
  }
  bool Contains(EntityTypeCode code) const {
    if (all_) return true;
    const size_t word = code / 64;
    return word < words_.size() && (words_[word] >> (code % 64) & 1) != 0;
  }
  bool IsAll() const { return all_; }
  bool IsNone() const {
    if (all_) return false;
    for (uint64_t w : words_) {
      if (w != 0) return false;
    }
    return true;
  }

 private:
  bool all_ = false;
  std::vector<uint64_t> words_;
};

// Interns entity_type strings ("context", "template", ...) to codes. Codes are never reused.
class EntityTypeDictionary {
 public:
  // Returns the code for `name`, assigning one if new; nullopt when all codes are taken.
  std::optional<EntityTypeCode> Intern(std::string_view name);
  // Returns the code if `name` was ever interned.
  std::optional<EntityTypeCode> Find(std::string_view name) const;
  std::string Name(EntityTypeCode code) const;

  // Every name, in code order (code i is names[i]): what a snapshot stores.
  std::vector<std::string> Names() const;
  // Replaces the dictionary with `names` in code order, as Names() returned them (a snapshot
  // being restored). False, changing nothing, if a name repeats or there are too many.
  bool Restore(const std::vector<std::string>& names);

 private:
  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, EntityTypeCode> codes_;
  std::vector<std::string> names_;
};

inline std::optional<EntityTypeCode> EntityTypeDictionary::Find(std::string_view name) const {
  std::shared_lock lock(mu_);
  auto it = codes_.find(std::string(name));
  if (it == codes_.end()) return std::nullopt;
  return it->second;
}

inline std::optional<EntityTypeCode> EntityTypeDictionary::Intern(std::string_view name) {
  if (auto code = Find(name)) return code;
  std::unique_lock lock(mu_);
  auto it = codes_.find(std::string(name));
  if (it != codes_.end()) return it->second;
  if (names_.size() >= kMaxEntityTypes) return std::nullopt;
  const auto code = static_cast<EntityTypeCode>(names_.size());
  names_.emplace_back(name);
  codes_.emplace(std::string(name), code);
  return code;
}

inline std::string EntityTypeDictionary::Name(EntityTypeCode code) const {
  std::shared_lock lock(mu_);
  return code < names_.size() ? names_[code] : std::string();
}

inline std::vector<std::string> EntityTypeDictionary::Names() const {
  std::shared_lock lock(mu_);
  return names_;
}

inline bool EntityTypeDictionary::Restore(const std::vector<std::string>& names) {
  if (names.size() > kMaxEntityTypes) return false;
  std::unordered_map<std::string, EntityTypeCode> codes;
  for (size_t code = 0; code < names.size(); ++code) {
    if (!codes.emplace(names[code], static_cast<EntityTypeCode>(code)).second) return false;
  }
  std::unique_lock lock(mu_);
  codes_ = std::move(codes);
  names_ = names;
  return true;
}

}  // namespace vecmirror
