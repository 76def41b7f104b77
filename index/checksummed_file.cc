#include "index/checksummed_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace vecmirror {

namespace {

// Each chunk is checksummed right after it is read (or before it is written), while in cache.
constexpr size_t kChunkBytes = size_t{1} << 20;
// Small values are gathered into, or served from, a buffer this size.
constexpr size_t kBufferBytes = size_t{64} << 10;

std::string ErrnoText(int error) { return std::strerror(error); }

}  // namespace

uint32_t Crc32(uint32_t crc, const void* data, size_t n) {
  return static_cast<uint32_t>(crc32_z(crc, static_cast<const Bytef*>(data), n));
}

std::string BaseName(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// ---- ChecksummedFileWriter -----------------------------------------------------------------

ChecksummedFileWriter::~ChecksummedFileWriter() {
  if (fd_ >= 0) close(fd_);
}

Status ChecksummedFileWriter::Create(const std::string& path) {
  path_ = path;
  fd_ = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    status_ = Status::IOError("creating " + path + ": " + ErrnoText(errno));
    return status_;
  }
  buffer_.reserve(kBufferBytes);
  return Status::Ok();
}

void ChecksummedFileWriter::Fail(const std::string& what) {
  if (status_.ok()) status_ = Status::IOError(what + " " + path_ + ": " + ErrnoText(errno));
}

void ChecksummedFileWriter::PutRaw(const void* data, size_t n) {
  if (!status_.ok() || fd_ < 0) return;
  const char* p = static_cast<const char*>(data);
  if (buffer_.size() + n <= kBufferBytes) {
    buffer_.append(p, n);
    return;
  }
  Flush();
  if (n < kBufferBytes) {
    buffer_.append(p, n);
  } else {
    WriteOut(p, n);  // straight from the caller's memory
  }
}

void ChecksummedFileWriter::Flush() {
  WriteOut(buffer_.data(), buffer_.size());
  buffer_.clear();
}

void ChecksummedFileWriter::WriteOut(const char* data, size_t n) {
  while (n > 0 && status_.ok()) {
    const size_t chunk = std::min(n, kChunkBytes);
    crc_ = Crc32(crc_, data, chunk);
    size_t done = 0;
    while (done < chunk) {
      const ssize_t w = write(fd_, data + done, chunk - done);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) {
        Fail("writing");
        return;
      }
      done += size_t(w);
    }
    bytes_ += chunk;
    data += chunk;
    n -= chunk;
  }
}

Status ChecksummedFileWriter::Finish(FileDigest* digest) {
  if (fd_ < 0) return status_.ok() ? Status::Internal("Finish without Create") : status_;
  if (status_.ok()) Flush();
  if (status_.ok() && fsync(fd_) != 0) Fail("syncing");
  if (close(fd_) != 0 && status_.ok()) Fail("closing");
  fd_ = -1;
  if (!status_.ok()) return status_;
  digest->bytes = bytes_;
  digest->crc32 = crc_;
  return Status::Ok();
}

// ---- ChecksummedFileReader -----------------------------------------------------------------

ChecksummedFileReader::~ChecksummedFileReader() {
  if (fd_ >= 0) close(fd_);
}

Status ChecksummedFileReader::Open(const std::string& path, const FileDigest& expected) {
  name_ = BaseName(path);
  expected_ = expected;
  fd_ = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) {
    if (errno == ENOENT) return Status::NotFound("missing file " + name_);
    return Status::IOError("opening " + path + ": " + ErrnoText(errno));
  }
  struct stat st {};
  if (fstat(fd_, &st) != 0) return Status::IOError("stat of " + path + ": " + ErrnoText(errno));
  const auto size = static_cast<uint64_t>(st.st_size);
  if (size < expected.bytes) {
    return Status::Corruption("truncated file " + name_ + " (" + std::to_string(size) + " of " +
                              std::to_string(expected.bytes) + " bytes)");
  }
  if (size > expected.bytes) {
    return Status::Corruption("file " + name_ + " is larger than expected (" +
                              std::to_string(size) + " > " + std::to_string(expected.bytes) +
                              " bytes)");
  }
  posix_fadvise(fd_, 0, 0, POSIX_FADV_SEQUENTIAL);
  buffer_.resize(kBufferBytes);
  return Status::Ok();
}

bool ChecksummedFileReader::Fail(const std::string& what) {
  if (error_.empty()) error_ = what;
  return false;
}

bool ChecksummedFileReader::ReadFile(char* out, size_t n) {
  while (n > 0) {
    const size_t chunk = std::min(n, kChunkBytes);
    size_t done = 0;
    while (done < chunk) {
      const ssize_t r = read(fd_, out + done, chunk - done);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) {
        io_error_ = true;
        ended_early_ = r == 0;
        return Fail(r == 0 ? "it ended while it was read" : "reading failed: " + ErrnoText(errno));
      }
      done += size_t(r);
    }
    crc_ = Crc32(crc_, out, chunk);
    read_ += chunk;
    out += chunk;
    n -= chunk;
  }
  return true;
}

bool ChecksummedFileReader::GetRaw(void* out, size_t n) {
  if (failed() || fd_ < 0) return false;
  if (n > remaining()) return Fail("a value runs past the end of the file");
  char* dst = static_cast<char*>(out);
  const size_t buffered = std::min(n, buffer_end_ - buffer_pos_);
  std::memcpy(dst, buffer_.data() + buffer_pos_, buffered);
  buffer_pos_ += buffered;
  consumed_ += buffered;
  dst += buffered;
  n -= buffered;
  if (n == 0) return true;
  if (n >= kBufferBytes) {  // large: straight into the caller's buffer
    if (!ReadFile(dst, n)) return false;
    consumed_ += n;
    return true;
  }
  const size_t fill = std::min<uint64_t>(kBufferBytes, expected_.bytes - read_);
  if (!ReadFile(buffer_.data(), fill)) return false;
  buffer_pos_ = 0;
  buffer_end_ = fill;
  std::memcpy(dst, buffer_.data(), n);
  buffer_pos_ = n;
  consumed_ += n;
  return true;
}

bool ChecksummedFileReader::GetString(std::string* s, uint64_t max_bytes) {
  uint64_t n = 0;
  if (!Get(&n) || n > max_bytes || n > remaining()) return Fail("a string is too long");
  s->resize(n);
  return GetRaw(s->data(), n);
}

Status ChecksummedFileReader::Finish() {
  if (fd_ < 0) return Status::Internal("Finish without Open");
  // The checksum covers the whole file, also what decoding did not reach.
  const uint64_t decoded = consumed_;
  while (!io_error_ && read_ < expected_.bytes) {
    const size_t fill = std::min<uint64_t>(kBufferBytes, expected_.bytes - read_);
    if (!ReadFile(buffer_.data(), fill)) break;
  }
  close(fd_);
  fd_ = -1;
  if (io_error_ && ended_early_) {
    return Status::Corruption("truncated file " + name_ + " (" + error_ + ")");
  }
  if (io_error_) return Status::IOError("file " + name_ + ": " + error_);
  if (crc_ != expected_.crc32) return Status::Corruption("checksum mismatch in file " + name_);
  checksum_matched_ = true;
  if (!error_.empty()) return Status::Corruption("corrupt file " + name_ + ": " + error_);
  if (decoded != expected_.bytes) {
    return Status::Corruption("corrupt file " + name_ + ": " +
                              std::to_string(expected_.bytes - decoded) +
                              " bytes after the end of its contents");
  }
  return Status::Ok();
}

}  // namespace vecmirror
