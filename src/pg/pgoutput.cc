#include "src/pg/pgoutput.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "src/pg/byte_reader.h"

namespace vecmirror::pg {
namespace {

// Seconds from the Unix epoch to PostgreSQL's, 2000-01-01 00:00:00 UTC.
constexpr int64_t kPgEpochUnixSeconds = 946684800;

constexpr size_t kXLogDataHeaderSize = 25;
constexpr size_t kStandbyStatusSize = 34;

// "'B'" for a printable byte, "0x07" otherwise: error messages name the byte they met.
std::string DescribeByte(uint8_t b) {
  char buf[8];
  if (b >= 0x20 && b < 0x7F) {
    std::snprintf(buf, sizeof buf, "'%c'", b);
  } else {
    std::snprintf(buf, sizeof buf, "0x%02X", b);
  }
  return buf;
}

// ---- TupleData ----------------------------------------------------------------------------

// Reads a TupleData into *out. `which` ("new tuple", "old tuple") labels errors.
Status ReadTupleData(ByteReader* in, const char* which, Tuple* out) {
  out->clear();
  const int16_t ncols = in->I16("tuple column count");
  if (!in->ok()) return in->status();
  if (ncols < 0) {
    in->Fail(std::string(which) + " has negative column count " + std::to_string(ncols));
    return in->status();
  }
  // Every column takes at least its kind byte: never reserve more than the input could hold.
  out->reserve(std::min<size_t>(static_cast<size_t>(ncols), in->remaining()));
  for (int i = 0; i < ncols && in->ok(); ++i) {
    const uint8_t kind = in->U8("column kind");
    switch (kind) {
      case 'n':
        out->push_back({ColumnValue::Kind::kNull, {}});
        break;
      case 'u':
        out->push_back({ColumnValue::Kind::kUnchanged, {}});
        break;
      case 't':
      case 'b': {
        const int32_t length = in->I32("column length");
        if (in->ok() && length < 0) {
          in->Fail("negative length " + std::to_string(length));
          break;
        }
        const std::string_view bytes = in->Bytes(static_cast<size_t>(length), "column value");
        out->push_back(
            {kind == 't' ? ColumnValue::Kind::kText : ColumnValue::Kind::kBinary, bytes});
        break;
      }
      default:
        if (in->ok()) in->Fail("unknown column kind " + DescribeByte(kind));
        break;
    }
    if (!in->ok()) {
      return Status::Corruption(in->status().message() + " (" + which + ", column " +
                                std::to_string(i) + " of " + std::to_string(ncols) + ")");
    }
  }
  return in->status();
}

// ---- one function per message; each starts after the type byte ---------------------------

// Stores a decoded message only if the whole payload was read without error and nothing is left.
template <typename Message>
Status Emit(ByteReader* in, Message&& m, PgOutputMessage* out) {
  Status s = in->Finish();
  if (s.ok()) *out = std::forward<Message>(m);
  return s;
}

Status DecodeBegin(ByteReader* in, PgOutputMessage* out) {
  Begin m;
  m.final_lsn = in->U64("final_lsn");
  m.commit_time_us = in->I64("commit timestamp");
  m.xid = in->U32("xid");
  return Emit(in, std::move(m), out);
}

Status DecodeCommit(ByteReader* in, PgOutputMessage* out) {
  Commit m;
  m.flags = in->U8("flags");
  m.commit_lsn = in->U64("commit_lsn");
  m.end_lsn = in->U64("end_lsn");
  m.commit_time_us = in->I64("commit timestamp");
  return Emit(in, std::move(m), out);
}

Status DecodeOrigin(ByteReader* in, PgOutputMessage* out) {
  Origin m;
  m.commit_lsn = in->U64("origin commit lsn");
  m.name = in->CString("origin name");
  return Emit(in, std::move(m), out);
}

bool IsReplicaIdentity(uint8_t c) { return c == 'd' || c == 'n' || c == 'f' || c == 'i'; }

Status DecodeRelation(ByteReader* in, PgOutputMessage* out) {
  Relation m;
  m.oid = in->U32("relation oid");
  m.nspname = in->CString("namespace");
  m.relname = in->CString("relation name");
  const uint8_t identity = in->U8("replica identity");
  const int16_t ncols = in->I16("column count");
  if (!in->ok()) return in->status();
  if (!IsReplicaIdentity(identity)) {
    in->Fail("unknown replica identity " + DescribeByte(identity));
    return in->status();
  }
  if (ncols < 0) {
    in->Fail("negative column count " + std::to_string(ncols));
    return in->status();
  }
  m.replica_identity = static_cast<char>(identity);
  // A column takes at least 10 bytes (flags, NUL, type oid, typmod).
  m.columns.reserve(std::min<size_t>(static_cast<size_t>(ncols), in->remaining() / 10));
  for (int i = 0; i < ncols && in->ok(); ++i) {
    RelationColumn c;
    c.is_key = (in->U8("column flags") & 1) != 0;
    c.name = in->CString("column name");
    c.type_oid = in->U32("column type oid");
    c.type_modifier = in->I32("column type modifier");
    m.columns.push_back(c);
    if (!in->ok()) {
      return Status::Corruption(in->status().message() + " (column " + std::to_string(i) +
                                " of " + std::to_string(ncols) + ")");
    }
  }
  return Emit(in, std::move(m), out);
}

Status DecodeType(ByteReader* in, PgOutputMessage* out) {
  Type m;
  m.oid = in->U32("type oid");
  m.nspname = in->CString("namespace");
  m.name = in->CString("type name");
  return Emit(in, std::move(m), out);
}

// Reads the byte that announces a TupleData and checks it is one of `allowed`.
uint8_t ReadTupleMarker(ByteReader* in, std::string_view allowed) {
  const uint8_t marker = in->U8("tuple marker");
  if (in->ok() && allowed.find(static_cast<char>(marker)) == std::string_view::npos) {
    std::string expected;
    for (char c : allowed) expected += (expected.empty() ? "" : " or ") + DescribeByte(c);
    in->Fail("expected tuple marker " + expected + ", got " + DescribeByte(marker));
  }
  return marker;
}

Status DecodeInsert(ByteReader* in, PgOutputMessage* out) {
  Insert m;
  m.relation_oid = in->U32("relation oid");
  ReadTupleMarker(in, "N");
  if (!in->ok()) return in->status();
  Status s = ReadTupleData(in, "new tuple", &m.new_tuple);
  if (!s.ok()) return s;
  return Emit(in, std::move(m), out);
}

Status DecodeUpdate(ByteReader* in, PgOutputMessage* out) {
  Update m;
  m.relation_oid = in->U32("relation oid");
  uint8_t marker = ReadTupleMarker(in, "KON");
  if (!in->ok()) return in->status();
  if (marker != 'N') {
    m.old_kind = static_cast<char>(marker);
    Status s = ReadTupleData(in, "old tuple", &m.old_tuple);
    if (!s.ok()) return s;
    ReadTupleMarker(in, "N");
    if (!in->ok()) return in->status();
  }
  Status s = ReadTupleData(in, "new tuple", &m.new_tuple);
  if (!s.ok()) return s;
  return Emit(in, std::move(m), out);
}

Status DecodeDelete(ByteReader* in, PgOutputMessage* out) {
  Delete m;
  m.relation_oid = in->U32("relation oid");
  m.old_kind = static_cast<char>(ReadTupleMarker(in, "KO"));
  if (!in->ok()) return in->status();
  Status s = ReadTupleData(in, "old tuple", &m.old_tuple);
  if (!s.ok()) return s;
  return Emit(in, std::move(m), out);
}

Status DecodeTruncate(ByteReader* in, PgOutputMessage* out) {
  Truncate m;
  const int32_t nrels = in->I32("relation count");
  m.options = in->U8("options");
  if (!in->ok()) return in->status();
  if (nrels < 0) {
    in->Fail("negative relation count " + std::to_string(nrels));
    return in->status();
  }
  // Check before allocating: the count comes from the input.
  if (in->remaining() < size_t{4} * static_cast<size_t>(nrels)) {
    in->Fail("relation count " + std::to_string(nrels) + " needs " +
             std::to_string(size_t{4} * nrels) + " bytes of oids, only " +
             std::to_string(in->remaining()) + " follow");
    return in->status();
  }
  m.relation_oids.resize(static_cast<size_t>(nrels));
  for (uint32_t& oid : m.relation_oids) oid = in->U32("relation oid");
  return Emit(in, std::move(m), out);
}

Status DecodeLogicalMessage(ByteReader* in, PgOutputMessage* out) {
  LogicalMessage m;
  m.transactional = (in->U8("flags") & 1) != 0;
  m.lsn = in->U64("lsn");
  m.prefix = in->CString("prefix");
  const int32_t length = in->I32("content length");
  if (in->ok() && length < 0) in->Fail("negative content length " + std::to_string(length));
  m.content = in->Bytes(static_cast<size_t>(length), "content");
  return Emit(in, std::move(m), out);
}

// Messages of later protocol versions, named so that a misconfigured stream says what it is.
const char* LaterProtocolMessageName(uint8_t type) {
  switch (type) {
    case 'S': return "Stream Start";
    case 'E': return "Stream Stop";
    case 'c': return "Stream Commit";
    case 'A': return "Stream Abort";
    case 'b': return "Begin Prepare";
    case 'P': return "Prepare";
    case 'K': return "Commit Prepared";
    case 'r': return "Rollback Prepared";
    case 'p': return "Stream Prepare";
    default: return nullptr;
  }
}

}  // namespace

Status ParseReplicationMessage(std::string_view copy_data, ReplicationMessage* out) {
  if (copy_data.empty()) return Status::Corruption("replication message: empty CopyData");
  const uint8_t type = static_cast<uint8_t>(copy_data[0]);
  if (type == 'w') {
    ByteReader in(copy_data.substr(1), "XLogData");
    XLogData m;
    m.data_start = in.U64("dataStart");
    m.wal_end = in.U64("walEnd");
    m.send_time_us = in.I64("sendTime");
    if (!in.ok()) return in.status();
    m.payload = copy_data.substr(kXLogDataHeaderSize);
    *out = m;
    return Status::Ok();
  }
  if (type == 'k') {
    // Like pg_recvlogical, require the 18 bytes and ignore any a later server might append.
    ByteReader in(copy_data.substr(1), "primary keepalive");
    PrimaryKeepalive m;
    m.wal_end = in.U64("walEnd");
    m.send_time_us = in.I64("sendTime");
    m.reply_requested = in.U8("replyRequested") != 0;
    if (!in.ok()) return in.status();
    *out = m;
    return Status::Ok();
  }
  return Status::Corruption("replication message: unknown type " + DescribeByte(type) +
                            " (expected 'w' or 'k')");
}

std::string EncodeStandbyStatus(Lsn write, Lsn flush, Lsn apply, int64_t now_us,
                                bool reply_requested) {
  std::string m;
  m.reserve(kStandbyStatusSize);
  m.push_back('r');
  AppendBigEndian64(write, &m);
  AppendBigEndian64(flush, &m);
  AppendBigEndian64(apply, &m);
  AppendBigEndian64(static_cast<uint64_t>(now_us), &m);
  m.push_back(reply_requested ? 1 : 0);
  return m;
}

int64_t PgEpochMicrosNow() {
  const auto since_unix = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::system_clock::now().time_since_epoch());
  return since_unix.count() - kPgEpochUnixSeconds * 1000000;
}

Status DecodePgOutput(std::string_view payload, PgOutputMessage* out) {
  if (payload.empty()) return Status::Corruption("pgoutput: empty message");
  const uint8_t type = static_cast<uint8_t>(payload[0]);
  const std::string_view body = payload.substr(1);
  switch (type) {
    case 'B': { ByteReader in(body, "pgoutput Begin"); return DecodeBegin(&in, out); }
    case 'C': { ByteReader in(body, "pgoutput Commit"); return DecodeCommit(&in, out); }
    case 'O': { ByteReader in(body, "pgoutput Origin"); return DecodeOrigin(&in, out); }
    case 'R': { ByteReader in(body, "pgoutput Relation"); return DecodeRelation(&in, out); }
    case 'Y': { ByteReader in(body, "pgoutput Type"); return DecodeType(&in, out); }
    case 'I': { ByteReader in(body, "pgoutput Insert"); return DecodeInsert(&in, out); }
    case 'U': { ByteReader in(body, "pgoutput Update"); return DecodeUpdate(&in, out); }
    case 'D': { ByteReader in(body, "pgoutput Delete"); return DecodeDelete(&in, out); }
    case 'T': { ByteReader in(body, "pgoutput Truncate"); return DecodeTruncate(&in, out); }
    case 'M': { ByteReader in(body, "pgoutput Message"); return DecodeLogicalMessage(&in, out); }
    default: break;
  }
  if (const char* later = LaterProtocolMessageName(type)) {
    return Status::Corruption("pgoutput: message type " + DescribeByte(type) + " (" + later +
                              ") belongs to protocol version 2 or later; expected version 1");
  }
  return Status::Corruption("pgoutput: unknown message type " + DescribeByte(type));
}

}  // namespace vecmirror::pg
