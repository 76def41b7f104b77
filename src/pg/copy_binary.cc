#include "src/pg/copy_binary.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "src/pg/byte_reader.h"

namespace vecmirror::pg {
namespace {

constexpr char kSignature[] = "PGCOPY\n\377\r\n";  // plus the terminating NUL: 11 bytes
constexpr size_t kSignatureSize = 11;
constexpr size_t kFixedHeaderSize = kSignatureSize + 4 + 4;  // signature, flags, extension length

// Flag bits 0-15 are "critical": a reader must refuse a stream that sets one it doesn't know.
// Bit 16 announces an OID field per tuple, which PostgreSQL 12+ never writes and we don't read.
constexpr uint32_t kUnsupportedFlags = 0x0001FFFF;

std::string Hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08X", v);
  return buf;
}

}  // namespace

Status CopyBinaryParser::Feed(std::string_view chunk) {
  if (!status_.ok()) return status_;
  bytes_ += chunk.size();
  if (chunk.empty()) return status_;
  if (trailer_seen_) {
    status_ = Status::Corruption("COPY binary: " + std::to_string(chunk.size()) +
                                 " bytes after the trailer");
    return status_;
  }
  size_t used = 0;
  if (buffer_.empty()) {
    // Common case: parse straight from the chunk and copy only its incomplete tail.
    status_ = Parse(chunk, &used);
    if (status_.ok()) buffer_.assign(chunk.substr(used));
    return status_;
  }
  buffer_.append(chunk);
  if (buffer_.size() < need_) return status_;
  status_ = Parse(buffer_, &used);
  if (status_.ok()) buffer_.erase(0, used);
  return status_;
}

Status CopyBinaryParser::Finish() const {
  if (!status_.ok()) return status_;
  if (trailer_seen_) return status_;
  if (!header_done_) {
    return Status::Corruption("COPY binary: stream ended inside the header (" +
                              std::to_string(buffer_.size()) + " bytes)");
  }
  return Status::Corruption("COPY binary: stream ended before its trailer, after " +
                            std::to_string(tuples_) + " tuples (" +
                            std::to_string(buffer_.size()) +
                            " bytes of an incomplete tuple left)");
}

Status CopyBinaryParser::Parse(std::string_view data, size_t* used) {
  *used = 0;
  need_ = 0;
  size_t pos = 0;
  if (!header_done_) {
    Status s = ParseHeader(data, &pos);
    if (!s.ok() || pos == 0) return s;
    header_done_ = true;
  }
  while (!trailer_seen_) {
    const std::string_view rest = data.substr(pos);
    if (rest.size() < 2) {
      need_ = 2;
      break;
    }
    if (static_cast<int16_t>(LoadBigEndian16(rest.data())) == -1) {
      trailer_seen_ = true;
      pos += 2;
      break;
    }
    size_t n = 0;
    Status s = ParseTuple(rest, &n);
    if (!s.ok()) return s;
    if (n == 0) break;
    pos += n;
  }
  *used = pos;
  if (trailer_seen_ && pos < data.size()) {
    return Status::Corruption("COPY binary: " + std::to_string(data.size() - pos) +
                              " bytes after the trailer");
  }
  return Status::Ok();
}

Status CopyBinaryParser::ParseHeader(std::string_view data, size_t* used) {
  *used = 0;
  const size_t compared = std::min(data.size(), kSignatureSize);
  if (compared > 0 && std::memcmp(data.data(), kSignature, compared) != 0) {
    return Status::Corruption("COPY binary: bad signature (not a binary COPY stream)");
  }
  if (data.size() < kFixedHeaderSize) {
    need_ = kFixedHeaderSize;
    return Status::Ok();
  }
  const uint32_t flags = LoadBigEndian32(data.data() + kSignatureSize);
  if (flags & kUnsupportedFlags) {
    return Status::Corruption("COPY binary: header flags " + Hex32(flags) +
                              " set a critical bit this reader does not support");
  }
  const int32_t extension = static_cast<int32_t>(LoadBigEndian32(data.data() + kSignatureSize + 4));
  if (extension < 0) {
    return Status::Corruption("COPY binary: negative header extension length " +
                              std::to_string(extension));
  }
  const size_t total = kFixedHeaderSize + static_cast<size_t>(extension);
  if (data.size() < total) {
    need_ = total;
    return Status::Ok();
  }
  *used = total;  // the extension's contents are skipped: no extension is defined yet
  return Status::Ok();
}

Status CopyBinaryParser::ParseTuple(std::string_view data, size_t* used) {
  *used = 0;
  const int16_t count = static_cast<int16_t>(LoadBigEndian16(data.data()));
  if (count < 0) {
    return Status::Corruption("COPY binary: tuple " + std::to_string(tuples_) +
                              " has field count " + std::to_string(count));
  }
  if (field_count_ >= 0 && count != field_count_) {
    return Status::Corruption("COPY binary: tuple " + std::to_string(tuples_) + " has " +
                              std::to_string(count) + " fields, the first tuple had " +
                              std::to_string(field_count_));
  }
  size_t pos = 2;
  scratch_.clear();
  for (int i = 0; i < count; ++i) {
    if (data.size() - pos < 4) {
      need_ = pos + 4;
      return Status::Ok();
    }
    const int32_t length = static_cast<int32_t>(LoadBigEndian32(data.data() + pos));
    pos += 4;
    if (length == -1) {
      scratch_.push_back({ColumnValue::Kind::kNull, {}});
      continue;
    }
    if (length < 0) {
      return Status::Corruption("COPY binary: tuple " + std::to_string(tuples_) + " field " +
                                std::to_string(i) + " has length " + std::to_string(length));
    }
    if (data.size() - pos < static_cast<size_t>(length)) {
      need_ = pos + static_cast<size_t>(length);
      return Status::Ok();
    }
    scratch_.push_back({ColumnValue::Kind::kBinary, data.substr(pos, static_cast<size_t>(length))});
    pos += static_cast<size_t>(length);
  }
  field_count_ = count;
  Status s = on_tuple_(scratch_);
  if (!s.ok()) return s;
  ++tuples_;
  *used = pos;
  return Status::Ok();
}

}  // namespace vecmirror::pg
