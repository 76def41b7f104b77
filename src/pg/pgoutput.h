// The pgoutput decoder (logical replication protocol version 1) and the streaming-replication
// framing around it (XLogData 'w', primary keepalive 'k', standby status update 'r').
// Bytes in, messages out: no I/O, so it can be unit-tested and fuzzed without a server.
//
// Borrowing: decoded tuples and strings are views into the input buffer; the caller keeps the
// buffer alive while it uses the message. Malformed or truncated input yields
// Status::Corruption that names the message and field; never a crash or an over-read. On error
// *out is left as it was.
//
// Strictness: a pgoutput message must be exactly its v1 layout; trailing bytes are Corruption
// (they would mean a protocol-version mismatch, e.g. v2's xid fields). Messages of later
// versions (Stream Start, Prepare, ...) are Corruption that names them. A 'k' keepalive longer
// than 18 bytes is accepted, as pg_recvlogical does.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/lsn.h"
#include "base/status.h"
#include "src/pg/column_value.h"

namespace vecmirror::pg {

using vecmirror::FormatLsn;
using vecmirror::Lsn;
using vecmirror::ParseLsn;

// ---- Framing inside CopyData -------------------------------------------------------------

struct XLogData {          // 'w'
  Lsn data_start = 0;      // 0 for "non-last" writes such as Relation and Type
  Lsn wal_end = 0;
  int64_t send_time_us = 0;  // microseconds since 2000-01-01 UTC
  std::string_view payload;  // one pgoutput message
};

struct PrimaryKeepalive {  // 'k'
  Lsn wal_end = 0;
  int64_t send_time_us = 0;
  bool reply_requested = false;
};

using ReplicationMessage = std::variant<XLogData, PrimaryKeepalive>;
Status ParseReplicationMessage(std::string_view copy_data, ReplicationMessage* out);

// The 34-byte 'r' message. `now_us` is microseconds since 2000-01-01 UTC.
std::string EncodeStandbyStatus(Lsn write, Lsn flush, Lsn apply, int64_t now_us,
                                bool reply_requested);
int64_t PgEpochMicrosNow();

// ---- pgoutput messages --------------------------------------------------------------------

struct Begin {
  Lsn final_lsn = 0;  // LSN of the commit record
  int64_t commit_time_us = 0;
  uint32_t xid = 0;
};

struct Commit {
  uint8_t flags = 0;
  Lsn commit_lsn = 0;
  Lsn end_lsn = 0;  // end of the commit record: the position to confirm
  int64_t commit_time_us = 0;
};

struct RelationColumn {
  bool is_key = false;  // part of the replica identity
  std::string_view name;
  uint32_t type_oid = 0;
  int32_t type_modifier = -1;
};

struct Relation {
  uint32_t oid = 0;
  std::string_view nspname;  // "" means pg_catalog
  std::string_view relname;
  char replica_identity = 'd';
  std::vector<RelationColumn> columns;
};

struct Type {
  uint32_t oid = 0;
  std::string_view nspname;
  std::string_view name;
};

struct Insert {
  uint32_t relation_oid = 0;
  Tuple new_tuple;
};

struct Update {
  uint32_t relation_oid = 0;
  char old_kind = 0;  // 0 (no old tuple), 'K' (old key: non-key columns are kNull), 'O' (full)
  Tuple old_tuple;
  Tuple new_tuple;
};

struct Delete {
  uint32_t relation_oid = 0;
  char old_kind = 'K';  // 'K' or 'O'
  Tuple old_tuple;
};

struct Truncate {
  uint8_t options = 0;  // 1 CASCADE, 2 RESTART IDENTITY
  std::vector<uint32_t> relation_oids;
};

struct Origin {
  Lsn commit_lsn = 0;
  std::string_view name;
};

struct LogicalMessage {  // 'M' (messages 'true')
  bool transactional = false;
  Lsn lsn = 0;
  std::string_view prefix;
  std::string_view content;
};

using PgOutputMessage = std::variant<Begin, Commit, Relation, Type, Insert, Update, Delete,
                                     Truncate, Origin, LogicalMessage>;

Status DecodePgOutput(std::string_view payload, PgOutputMessage* out);

}  // namespace vecmirror::pg
