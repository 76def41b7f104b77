// Entity types as small codes. Each index slot stores one code, and a query's entity_type
// filter is a TypeMask over codes, so the filter check is one bit test per slot.
//
// Thread-safety: EntityTypeDictionary is safe for concurrent use. TypeMask is a plain value.
#pragma once

#include <bitset>
#include <cstdint>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace vecmirror {

using EntityTypeCode = uint8_t;
constexpr size_t kMaxEntityTypes = 256;

// The set of entity types a query accepts.
class TypeMask {
 public:
  static TypeMask All() { TypeMask m; m.bits_.set(); return m; }
  static TypeMask None() { return TypeMask(); }
  void Add(EntityTypeCode code) { bits_.set(code); }
  bool Contains(EntityTypeCode code) const { return bits_.test(code); }
  bool IsAll() const { return bits_.all(); }
  bool IsNone() const { return bits_.none(); }

 private:
  std::bitset<kMaxEntityTypes> bits_;
};

// Interns entity_type strings ("context", "template", ...) to codes. Codes are never reused.
class EntityTypeDictionary {
 public:
  // Returns the code for `name`, assigning one if new; nullopt when all codes are taken.
  std::optional<EntityTypeCode> Intern(std::string_view name);
  // Returns the code if `name` was ever interned.
  std::optional<EntityTypeCode> Find(std::string_view name) const;
  std::string Name(EntityTypeCode code) const;

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

}  // namespace vecmirror
