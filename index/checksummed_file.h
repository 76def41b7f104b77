// ChecksummedFileWriter and ChecksummedFileReader: the files of a snapshot, written and read as
// one stream with its size and CRC-32 (zlib's, the polynomial of gzip and PNG) computed as the
// bytes pass, in the little-endian encoding of base/byte_stream.h (fixed-width values, strings
// and arrays with a 64-bit count in front).
//
// Large arrays go straight between the file and their final buffers (write() from the caller's
// memory, read() into the vector the caller keeps), 1 MiB at a time so that each chunk is
// checksummed while it is still in cache: no whole-file buffer and no second copy. Small values
// pass through a 64 KiB buffer.
//
// The reader verifies what it reads before anything trusts it. Open() checks the file's size
// against the expected one; every count is checked against the bytes left before anything is
// allocated, so a damaged count never asks for more memory than the file holds; a failed read
// makes every later read fail (check failed() once per record, as with ByteReader); and
// Finish() reads whatever is left, then compares the checksum. Callers decode into plain
// buffers, call Finish(), and build nothing from those buffers unless it returned OK. Finish()
// reports a checksum mismatch ahead of a decoding error, since damage explains both.
//
// Errors name the file (its base name) and say what was wrong: "truncated file F (N of M
// bytes)", "file F is larger than expected (N > M bytes)", "checksum mismatch in file F",
// "corrupt file F: ...".
//
// Thread-safety: none; one owner each.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "base/byte_stream.h"
#include "base/status.h"

namespace vecmirror {

// CRC-32 (zlib's crc32) of `n` bytes, continuing from `crc` (0 to start).
uint32_t Crc32(uint32_t crc, const void* data, size_t n);
inline uint32_t Crc32(std::string_view bytes) { return Crc32(0, bytes.data(), bytes.size()); }

// A file's size and CRC-32, as a snapshot's manifest records them.
struct FileDigest {
  uint64_t bytes = 0;
  uint32_t crc32 = 0;
  bool operator==(const FileDigest&) const = default;
};

// The last component of `path`, for messages.
std::string BaseName(const std::string& path);

class ChecksummedFileWriter : public ByteEncoder<ChecksummedFileWriter> {
 public:
  ChecksummedFileWriter() = default;
  ~ChecksummedFileWriter();
  ChecksummedFileWriter(const ChecksummedFileWriter&) = delete;
  ChecksummedFileWriter& operator=(const ChecksummedFileWriter&) = delete;

  // Creates `path`, which must not exist.
  Status Create(const std::string& path);

  // Put, PutString and PutArray come from ByteEncoder. The first error sticks: later puts do
  // nothing and Finish returns it.
  void PutRaw(const void* data, size_t n);

  // Writes what is buffered, fsyncs and closes the file; `digest` gets its size and CRC.
  Status Finish(FileDigest* digest);

 private:
  void Flush();
  void WriteOut(const char* data, size_t n);
  void Fail(const std::string& what);

  std::string path_;
  int fd_ = -1;
  std::string buffer_;
  uint32_t crc_ = 0;
  uint64_t bytes_ = 0;
  Status status_;
};

class ChecksummedFileReader {
 public:
  ChecksummedFileReader() = default;
  ~ChecksummedFileReader();
  ChecksummedFileReader(const ChecksummedFileReader&) = delete;
  ChecksummedFileReader& operator=(const ChecksummedFileReader&) = delete;

  // Opens `path` and checks that it holds exactly expected.bytes: NotFound "missing file F",
  // Corruption "truncated file F ..." or "file F is larger than expected ...".
  Status Open(const std::string& path, const FileDigest& expected);

  template <typename T>
    requires std::is_trivially_copyable_v<T>
  bool Get(T* value) {
    return GetRaw(value, sizeof(T));
  }
  bool GetString(std::string* s, uint64_t max_bytes);
  // An array written by PutArray; fails past `max_count` elements or the bytes left.
  template <typename T>
    requires std::is_trivially_copyable_v<T>
  bool GetArray(std::vector<T>* values, uint64_t max_count) {
    uint64_t n = 0;
    if (!Get(&n) || n > max_count || !Fits(n, sizeof(T))) return Fail("an array is too long");
    values->resize(n);
    return GetRaw(values->data(), n * sizeof(T));
  }
  // Like GetArray, for an array of exactly `count` elements into `out`.
  template <typename T>
    requires std::is_trivially_copyable_v<T>
  bool GetArrayInto(T* out, uint64_t count) {
    uint64_t n = 0;
    if (!Get(&n) || n != count) return Fail("an array has the wrong length");
    return GetRaw(out, n * sizeof(T));
  }
  bool GetRaw(void* out, size_t n);

  // Records a decoding error (the first one sticks) and makes every later read fail.
  bool Fail(const std::string& what);
  bool failed() const { return !error_.empty(); }
  uint64_t remaining() const { return expected_.bytes - consumed_; }

  // Reads what is left and checks the checksum, then that decoding ended cleanly at the end.
  Status Finish();
  // After Finish: the whole file was read and its CRC-32 is the expected one.
  bool checksum_matched() const { return checksum_matched_; }

 private:
  bool Fits(uint64_t count, size_t size) { return count <= remaining() / size; }
  // Reads `n` bytes from the file (checksumming them) into `out`.
  bool ReadFile(char* out, size_t n);

  std::string name_;
  int fd_ = -1;
  FileDigest expected_;
  uint64_t consumed_ = 0;  // bytes handed to the decoder
  uint32_t crc_ = 0;       // of every byte read from the file so far
  uint64_t read_ = 0;      // bytes read from the file (consumed + buffered)
  std::vector<char> buffer_;
  size_t buffer_pos_ = 0;
  size_t buffer_end_ = 0;
  std::string error_;
  bool io_error_ = false;
  bool ended_early_ = false;  // the file shrank after Open
  bool checksum_matched_ = false;
};

}  // namespace vecmirror
