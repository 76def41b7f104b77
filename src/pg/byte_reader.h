// Big-endian loads and a bounds-checked reader over a byte span, shared by the PostgreSQL
// decoders in this directory (internal: not part of the pg/ API).
//
// ByteReader latches the first failure: a read past the end, or a string without its NUL,
// records a Corruption that names the field, and every later read yields zero or an empty view.
// A decoder can therefore read a whole layout and check status() once, as long as loops whose
// count came from the input also stop when ok() turns false.
//
// Thread-safety: a ByteReader is a cursor; one per thread. The load functions are pure.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace vecmirror::pg {

inline uint16_t LoadBigEndian16(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return static_cast<uint16_t>(u[0] << 8 | u[1]);
}

inline uint32_t LoadBigEndian32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return uint32_t{u[0]} << 24 | uint32_t{u[1]} << 16 | uint32_t{u[2]} << 8 | uint32_t{u[3]};
}

inline uint64_t LoadBigEndian64(const char* p) {
  return uint64_t{LoadBigEndian32(p)} << 32 | LoadBigEndian32(p + 4);
}

inline void AppendBigEndian64(uint64_t v, std::string* out) {
  for (int shift = 56; shift >= 0; shift -= 8) out->push_back(static_cast<char>(v >> shift));
}

class ByteReader {
 public:
  // `context` prefixes every error message, e.g. "pgoutput Relation"; it must outlive the reader.
  ByteReader(std::string_view bytes, std::string_view context)
      : bytes_(bytes), context_(context) {}

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  size_t remaining() const { return bytes_.size() - pos_; }
  size_t position() const { return pos_; }

  uint8_t U8(const char* field) {
    const char* p = Take(1, field);
    return p ? static_cast<uint8_t>(*p) : 0;
  }
  int16_t I16(const char* field) {
    const char* p = Take(2, field);
    return p ? static_cast<int16_t>(LoadBigEndian16(p)) : 0;
  }
  uint32_t U32(const char* field) {
    const char* p = Take(4, field);
    return p ? LoadBigEndian32(p) : 0;
  }
  int32_t I32(const char* field) { return static_cast<int32_t>(U32(field)); }
  uint64_t U64(const char* field) {
    const char* p = Take(8, field);
    return p ? LoadBigEndian64(p) : 0;
  }
  int64_t I64(const char* field) { return static_cast<int64_t>(U64(field)); }

  std::string_view Bytes(size_t n, const char* field) {
    const char* p = Take(n, field);
    return p ? std::string_view(p, n) : std::string_view();
  }

  // A NUL-terminated string; the view excludes the NUL.
  std::string_view CString(const char* field) {
    if (!ok()) return {};
    const size_t nul = bytes_.find('\0', pos_);
    if (nul == std::string_view::npos) {
      Fail(std::string(field) + " has no terminating NUL (" + std::to_string(remaining()) +
           " bytes left at offset " + std::to_string(pos_) + ")");
      return {};
    }
    std::string_view s = bytes_.substr(pos_, nul - pos_);
    pos_ = nul + 1;
    return s;
  }

  // Records `what` as the error unless one is already latched.
  void Fail(const std::string& what) {
    if (ok()) status_ = Status::Corruption(std::string(context_) + ": " + what);
  }

  // Corruption if bytes remain: every layout these decoders read is exact.
  Status Finish() {
    if (ok() && remaining() != 0) {
      Fail(std::to_string(remaining()) + " unexpected trailing bytes at offset " +
           std::to_string(pos_));
    }
    return status_;
  }

 private:
  const char* Take(size_t n, const char* field) {
    if (!ok()) return nullptr;
    if (n > remaining()) {
      Fail("truncated at " + std::string(field) + " (needs " + std::to_string(n) +
           " bytes at offset " + std::to_string(pos_) + ", " + std::to_string(remaining()) +
           " left)");
      return nullptr;
    }
    const char* p = bytes_.data() + pos_;
    pos_ += n;
    return p;
  }

  std::string_view bytes_;
  std::string_view context_;
  size_t pos_ = 0;
  Status status_;
};

}  // namespace vecmirror::pg
