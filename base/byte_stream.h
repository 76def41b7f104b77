// ByteWriter and ByteReader: the little-endian binary encoding of snapshot files. Fixed-width
// integers, floats as their IEEE bits, strings and arrays with a 64-bit length in front.
//
// ByteReader never reads past its input: a read that would fails, sets failed(), and every
// later read fails too, so a decoder can read a whole record and check failed() once. A length
// is checked against the bytes left before anything is allocated, so a corrupt length never
// asks for gigabytes.
//
// Thread-safety: none; one owner each.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace vecmirror {

static_assert(std::endian::native == std::endian::little, "snapshot files are little-endian");

// The encoding of values on top of a sink's PutRaw: ByteWriter (memory) and the snapshot
// files' ChecksummedFileWriter share it, so both write the same bytes for the same values.
template <typename Sink>
class ByteEncoder {
 public:
  template <typename T>
    requires std::is_trivially_copyable_v<T>
  void Put(T value) {
    sink().PutRaw(&value, sizeof(T));
  }
  void PutString(std::string_view s) {
    Put<uint64_t>(s.size());
    sink().PutRaw(s.data(), s.size());
  }
  template <typename T>
    requires std::is_trivially_copyable_v<T>
  void PutArray(std::span<const T> values) {
    Put<uint64_t>(values.size());
    sink().PutRaw(values.data(), values.size_bytes());
  }
  template <typename T>
  void PutArray(const std::vector<T>& values) {
    PutArray(std::span<const T>(values));
  }

 private:
  Sink& sink() { return static_cast<Sink&>(*this); }
};

class ByteWriter : public ByteEncoder<ByteWriter> {
 public:
  void PutRaw(const void* data, size_t n) {
    const auto* p = static_cast<const char*>(data);
    bytes_.append(p, n);
  }

  const std::string& bytes() const { return bytes_; }
  std::string Take() { return std::move(bytes_); }

 private:
  std::string bytes_;
};

class ByteReader {
 public:
  explicit ByteReader(std::string_view bytes) : rest_(bytes) {}

  template <typename T>
    requires std::is_trivially_copyable_v<T>
  bool Get(T* value) {
    return GetRaw(value, sizeof(T));
  }
  bool GetString(std::string* s) {
    uint64_t n = 0;
    if (!Get(&n) || !Fits(n, 1)) return false;
    s->assign(rest_.data(), n);
    rest_.remove_prefix(n);
    return true;
  }
  // Reads an array written by PutArray; `max_count` bounds it beyond the bytes left.
  template <typename T>
    requires std::is_trivially_copyable_v<T>
  bool GetArray(std::vector<T>* values, uint64_t max_count = UINT64_MAX) {
    uint64_t n = 0;
    if (!Get(&n) || n > max_count || !Fits(n, sizeof(T))) return Fail();
    values->resize(n);
    return GetRaw(values->data(), n * sizeof(T));
  }
  bool GetRaw(void* out, size_t n) {
    if (!Fits(n, 1)) return false;
    std::memcpy(out, rest_.data(), n);
    rest_.remove_prefix(n);
    return true;
  }

  size_t remaining() const { return rest_.size(); }
  bool failed() const { return failed_; }
  // True when everything was read and nothing failed: a decoder's last check.
  bool AtCleanEnd() const { return !failed_ && rest_.empty(); }

 private:
  bool Fits(uint64_t count, size_t size) {
    if (failed_ || count > rest_.size() / size) return Fail();
    return true;
  }
  bool Fail() {
    failed_ = true;
    return false;
  }

  std::string_view rest_;
  bool failed_ = false;
};

}  // namespace vecmirror
