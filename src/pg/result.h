// PgResult: the owner of one libpq PGresult (PQclear when it goes), and the checks every libpq
// caller makes of one: did the statement end in the status it expects, and if not, a Status
// that carries PostgreSQL's SQLSTATE and message:
//
//   PgResult result = Execute(conn, sql);
//   if (Status s = CheckResult(conn, result.get(), sql); !s.ok()) return s;
//   // s.message(): "[23505] ERROR:  duplicate key value violates ... (in: COPY tenant ...)"
//
// Depends on libpq and base/ only (library vecmirror_pg_result), so the server's connection,
// the tests' cluster helpers and the data generator share it without libpqxx.
//
// Thread-safety: the functions share no state. A PGresult is not tied to its connection and may
// be read from any thread; the connection passed in is read (its status and last error), so its
// owner must not use it from another thread during the call.
#pragma once

#include <libpq-fe.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace vecmirror::pg {

struct PgResultDeleter {
  void operator()(PGresult* result) const { PQclear(result); }
};
// Move-only; null when libpq could not allocate a result (out of memory, connection lost).
using PgResult = std::unique_ptr<PGresult, PgResultDeleter>;

// One row of a result as text; a NULL is nullopt.
using Row = std::vector<std::optional<std::string>>;

// PQexec of `sql` (one or more statements; the result is the last one's).
PgResult Execute(PGconn* conn, const std::string& sql);

// Ok when `result` ended in PGRES_COMMAND_OK or PGRES_TUPLES_OK (the first form) or in
// `expected`; otherwise ResultError. `result` may be null.
Status CheckResult(PGconn* conn, const PGresult* result, std::string_view sql);
Status CheckResult(PGconn* conn, const PGresult* result, std::string_view sql,
                   ExecStatusType expected);

// The error of a statement that failed: "[SQLSTATE] message (in: the statement's first 120
// characters)", with ????? for a failure that has no SQLSTATE (a client-side error, or no
// result). The message is the result's, else the connection's. Unavailable when the connection
// is lost (a reconnect may help), IOError otherwise.
Status ResultError(PGconn* conn, const PGresult* result, std::string_view sql);

// The SQLSTATE of a failed result ("42704"); empty when there is none or `result` is null.
std::string ResultSqlstate(const PGresult* result);

// Every row of a PGRES_TUPLES_OK result, as text.
std::vector<Row> ResultRows(const PGresult* result);

// Execute and CheckResult: for statements whose rows, if any, are not wanted.
Status ExecuteCommand(PGconn* conn, const std::string& sql);

// Execute and CheckResult for PGRES_TUPLES_OK, then the rows.
Status ExecuteQuery(PGconn* conn, const std::string& sql, std::vector<Row>* rows);

}  // namespace vecmirror::pg
