// Catalog and server checks over an ordinary libpqxx connection: what the mirror needs to know
// about the server and the application's tables before it loads or streams.
//
// Thread-safety: functions use the connection they are given; one thread per connection.
#pragma once

#include <pqxx/pqxx>

#include <string>
#include <vector>

#include "base/status.h"
#include "src/pg/pgoutput.h"
#include "src/pg/wire_format.h"

namespace vecmirror::pg {

struct TableName {
  std::string schema = "public";
  std::string name;
  std::string Qualified() const;  // quoted "schema"."name"
};

// Fails with FailedPrecondition, naming the setting to change, when wal_level is not logical
// or the role may not replicate. These are operator errors: retrying will not fix them.
Status CheckReplicationPrerequisites(pqxx::connection& conn);

// The server's wal_segment_size in bytes.
Status WalSegmentBytes(pqxx::connection& conn, uint64_t* bytes);

// The columns of the table's replica identity (its primary key, or its REPLICA IDENTITY USING
// INDEX index), in index order.
Status ReplicaIdentityColumns(pqxx::connection& conn, const TableName& table,
                              std::vector<std::string>* columns);

// How a vector column is typed: its encoding, and the pg_type OID that pgoutput's Relation
// messages name it by (pgvector's is assigned when the extension is created, so it differs
// between databases).
struct VectorColumnType {
  VectorType type = VectorType::kFloat4Array;
  uint32_t type_oid = kFloat4ArrayOid;
};

// Reads whether the column is pgvector's `vector` or `real[]`; anything else, or no such column,
// is FailedPrecondition.
Status ReadVectorColumnType(pqxx::connection& conn, const TableName& table,
                            const std::string& column, VectorColumnType* type);

// Makes sure `publication` publishes both tables, creating it if it does not exist. Creating it
// needs ownership of the tables: the error then says so.
Status EnsurePublication(pqxx::connection& conn, const std::string& publication,
                         const std::vector<TableName>& tables);

// Drops the slot if it exists and no one holds it. A slot still in use gives Unavailable
// (retry later), never FailedPrecondition.
Status DropSlotIfExists(pqxx::connection& conn, const std::string& slot);

Status CurrentWalLsn(pqxx::connection& conn, Lsn* lsn);

// A logical slot as pg_replication_slots shows it.
struct SlotInfo {
  bool exists = false;
  std::string database;    // the database it decodes
  std::string plugin;
  Lsn confirmed_flush = 0;  // streaming resumes from here at the earliest
  Lsn restart_lsn = 0;      // the oldest WAL it holds back
  std::string wal_status;   // "reserved", "extended", "unreserved" or "lost"
};
Status ReadSlot(pqxx::connection& conn, const std::string& slot, SlotInfo* out);

// The current WAL position and the slot's restart_lsn in one statement, so their difference
// (the WAL the slot retains) is not skewed by writes in between.
Status CurrentWalAndSlot(pqxx::connection& conn, const std::string& slot, Lsn* current,
                         SlotInfo* out);

// Wraps a libpqxx exception into a Status that keeps the SQLSTATE.
Status FromPqxx(const std::exception& e, const std::string& what);

}  // namespace vecmirror::pg
