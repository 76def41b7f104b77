// ReplicationStream: the I/O half of logical replication over libpq (replication=database):
// slot creation with an exported snapshot, START_REPLICATION with pgoutput, and the CopyBoth
// loop (receive CopyData, send standby status updates). Decoding lives in pgoutput.h.
//
// Thread-safety: one thread at a time.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "base/status.h"
#include "src/pg/connection.h"
#include "src/pg/pgoutput.h"

namespace vecmirror::pg {

struct CreatedSlot {
  Lsn consistent_point = 0;  // streaming from here continues exactly where the snapshot ends
  std::string snapshot_name;  // importable until the next command on this connection
};

// What IDENTIFY_SYSTEM reports: which cluster and database this connection reaches.
struct SystemIdentity {
  std::string system_identifier;  // the cluster's, from initdb; a restored copy keeps it
  std::string database;
};

class ReplicationStream {
 public:
  static Status Connect(const std::string& conninfo, std::unique_ptr<ReplicationStream>* out);

  // CREATE_REPLICATION_SLOT ... LOGICAL pgoutput (SNAPSHOT 'export'). Send nothing else on this
  // connection until the snapshot has been imported elsewhere.
  Status CreateSlot(const std::string& slot, CreatedSlot* out);

  // IDENTIFY_SYSTEM. Allowed before CreateSlot and Start.
  Status IdentifySystem(SystemIdentity* out);

  // START_REPLICATION at `start` with protocol 1, binary column values. Enters CopyBoth.
  Status Start(const std::string& slot, Lsn start, const std::string& publication);

  // Waits up to `timeout` for one CopyData message. On timeout returns OK with *received false.
  // Unavailable when the server ended the stream or the connection broke.
  Status Receive(std::chrono::milliseconds timeout, std::string* message, bool* received);

  // A standby status update: write = received, flush = safe to forget, apply = applied.
  Status SendStatus(Lsn write, Lsn flush, Lsn apply, bool reply_requested);

  const std::string& last_sqlstate() const { return conn_->last_sqlstate(); }
  PGconn* raw() { return conn_->raw(); }

 private:
  explicit ReplicationStream(std::unique_ptr<PgConnection> conn) : conn_(std::move(conn)) {}
  Status StreamError(const std::string& what);

  std::unique_ptr<PgConnection> conn_;
};

}  // namespace vecmirror::pg
