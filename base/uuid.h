// Uuid: a 16-byte identifier (tenant and entity ids). Ordered like PostgreSQL's uuid type
// (bytewise), so "ties broken by entity_id" sorts the same here and in SQL.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace vecmirror {

struct Uuid {
  std::array<uint8_t, 16> bytes{};

  // Parses the canonical 8-4-4-4-12 hex form, either case. Returns nullopt on anything else.
  static std::optional<Uuid> Parse(std::string_view text);
  // Lower-case canonical form, as PostgreSQL prints it.
  std::string ToString() const;

  auto operator<=>(const Uuid&) const = default;
  bool operator==(const Uuid&) const = default;
};

struct UuidHash {
  size_t operator()(const Uuid& u) const {
    uint64_t a, b;
    std::memcpy(&a, u.bytes.data(), 8);
    std::memcpy(&b, u.bytes.data() + 8, 8);
    return std::hash<uint64_t>()(a ^ (b * 0x9E3779B97F4A7C15ULL));
  }
};

}  // namespace vecmirror
