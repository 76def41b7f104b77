// PgConnection: a raw libpq connection, for the two things libpqxx 6.4 cannot do: the
// replication protocol (CopyBoth) and binary COPY of the initial load. Ordinary queries use
// libpqxx elsewhere.
//
// Errors carry PostgreSQL's SQLSTATE in the message ("[42704] replication slot ... does not
// exist") and in Status-independent form via last_sqlstate().
//
// Thread-safety: one thread at a time, like the PGconn it owns.
#pragma once

#include <libpq-fe.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "src/pg/result.h"

namespace vecmirror::pg {

// Cancels the statement running on one connection, from another thread (PQcancel): a COPY or
// a slot creation that would otherwise hold up a shutdown. Must not outlive that connection.
// Thread-safety: Cancel may be called from any thread.
class QueryCanceller {
 public:
  explicit QueryCanceller(PGconn* conn) : cancel_(PQgetCancel(conn)) {}
  ~QueryCanceller() {
    if (cancel_ != nullptr) PQfreeCancel(cancel_);
  }
  QueryCanceller(const QueryCanceller&) = delete;
  QueryCanceller& operator=(const QueryCanceller&) = delete;

  // Best effort: a cancel that arrives while no statement runs does nothing.
  void Cancel() const {
    char error[256];
    if (cancel_ != nullptr) PQcancel(cancel_, error, sizeof(error));
  }

 private:
  PGcancel* cancel_;
};

class PgConnection {
 public:
  // `conninfo` is a URI or key=value string ("" = libpq defaults and PG* variables).
  // `replication` opens a logical walsender connection (replication=database).
  static Status Connect(const std::string& conninfo, bool replication,
                        std::unique_ptr<PgConnection>* out);
  ~PgConnection();
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  PGconn* raw() { return conn_; }

  // Simple-protocol query (the only kind a replication connection accepts).
  Status Exec(const std::string& sql, std::vector<Row>* rows = nullptr);

  // Runs a command that switches the connection into CopyBoth (START_REPLICATION).
  Status StartCopyBoth(const std::string& sql);

  // COPY ... TO STDOUT: calls on_chunk for each CopyData payload as it arrives.
  Status CopyOut(const std::string& sql, const std::function<Status(std::string_view)>& on_chunk);

  std::string EscapeIdentifier(std::string_view name);
  std::string EscapeLiteral(std::string_view value);

  const std::string& last_sqlstate() const { return last_sqlstate_; }

 private:
  explicit PgConnection(PGconn* conn) : conn_(conn) {}

  PGconn* conn_;
  std::string last_sqlstate_;
};

// SQLSTATEs the mirror reacts to.
constexpr const char* kSqlstateUndefinedObject = "42704";        // slot does not exist
constexpr const char* kSqlstateObjectInUse = "55006";            // slot is active for PID n
constexpr const char* kSqlstateObjectNotInPrerequisiteState = "55000";  // slot invalidated
constexpr const char* kSqlstateInsufficientPrivilege = "42501";

}  // namespace vecmirror::pg
