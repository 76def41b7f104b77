// Test-side builder of PostgreSQL wire bytes, written from the documented layouts and
// independent of the decoders under test (it shares no code with src/pg/).
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace vecmirror::pg::testing {

class Bytes {
 public:
  Bytes& U8(uint8_t v) {
    s_.push_back(static_cast<char>(v));
    return *this;
  }
  Bytes& Char(char c) { return U8(static_cast<uint8_t>(c)); }
  Bytes& I16(int16_t v) { return BigEndian(static_cast<uint16_t>(v), 2); }
  Bytes& I32(int32_t v) { return BigEndian(static_cast<uint32_t>(v), 4); }
  Bytes& U32(uint32_t v) { return BigEndian(v, 4); }
  Bytes& I64(int64_t v) { return BigEndian(static_cast<uint64_t>(v), 8); }
  Bytes& U64(uint64_t v) { return BigEndian(v, 8); }
  Bytes& F32(float f) {
    uint32_t bits;
    std::memcpy(&bits, &f, 4);
    return U32(bits);
  }
  Bytes& Raw(std::string_view raw) {
    s_.append(raw);
    return *this;
  }
  // A NUL-terminated String.
  Bytes& Str(std::string_view text) {
    s_.append(text);
    s_.push_back('\0');
    return *this;
  }

  const std::string& str() const { return s_; }
  operator std::string_view() const { return s_; }

 private:
  Bytes& BigEndian(uint64_t v, int width) {
    for (int i = width - 1; i >= 0; --i) s_.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
    return *this;
  }
  std::string s_;
};

// pgvector's vector_send: int16 dim, int16 unused (0), dim float4.
inline std::string PgvectorBinary(const std::vector<float>& v) {
  Bytes b;
  b.I16(static_cast<int16_t>(v.size())).I16(0);
  for (float f : v) b.F32(f);
  return b.str();
}

// array_send of a one-dimensional float4[] without NULLs.
inline std::string Float4ArrayBinary(const std::vector<float>& v, int32_t lower_bound = 1) {
  Bytes b;
  if (v.empty()) return Bytes().I32(0).I32(0).U32(700).str();
  b.I32(1).I32(0).U32(700).I32(static_cast<int32_t>(v.size())).I32(lower_bound);
  for (float f : v) b.I32(4).F32(f);
  return b.str();
}

inline std::string FromHex(std::string_view hex) {
  auto nibble = [](char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(nibble(hex[i]) << 4 | nibble(hex[i + 1])));
  }
  return out;
}

}  // namespace vecmirror::pg::testing
