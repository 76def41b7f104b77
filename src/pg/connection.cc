#include "src/pg/connection.h"

namespace vecmirror::pg {
namespace {

std::string Trimmed(const char* message) {
  std::string s = message ? message : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

Status PgConnection::Connect(const std::string& conninfo, bool replication,
                             std::unique_ptr<PgConnection>* out) {
  // dbname first with expand_dbname: a URI or key=value string is expanded, and the keywords
  // after it override what it says. TCP keepalives notice a dead peer on an idle stream.
  std::vector<const char*> keys = {"dbname", "application_name", "connect_timeout", "keepalives",
                                   "keepalives_idle", "keepalives_interval", "keepalives_count"};
  std::vector<const char*> values = {conninfo.c_str(), "vecmirror", "10", "1", "30", "10", "3"};
  if (replication) {
    keys.push_back("replication");
    values.push_back("database");
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  PGconn* conn = PQconnectdbParams(keys.data(), values.data(), /*expand_dbname=*/1);
  if (!conn) return Status::IOError("libpq could not allocate a connection");
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string message = Trimmed(PQerrorMessage(conn));
    PQfinish(conn);
    return Status::Unavailable("cannot connect to PostgreSQL: " + message);
  }
  out->reset(new PgConnection(conn));
  return Status::Ok();
}

PgConnection::~PgConnection() { PQfinish(conn_); }

// Each call below sets last_sqlstate_ from its result: empty when it succeeded.

Status PgConnection::Exec(const std::string& sql, std::vector<Row>* rows) {
  PgResult result = Execute(conn_, sql);
  last_sqlstate_ = ResultSqlstate(result.get());
  if (Status s = CheckResult(conn_, result.get(), sql); !s.ok()) return s;
  if (rows) *rows = ResultRows(result.get());
  return Status::Ok();
}

Status PgConnection::StartCopyBoth(const std::string& sql) {
  PgResult result = Execute(conn_, sql);
  last_sqlstate_ = ResultSqlstate(result.get());
  return CheckResult(conn_, result.get(), sql, PGRES_COPY_BOTH);
}

Status PgConnection::CopyOut(const std::string& sql,
                             const std::function<Status(std::string_view)>& on_chunk) {
  {
    PgResult result = Execute(conn_, sql);
    last_sqlstate_ = ResultSqlstate(result.get());
    if (Status s = CheckResult(conn_, result.get(), sql, PGRES_COPY_OUT); !s.ok()) return s;
  }
  Status callback_status;
  for (;;) {
    char* buffer = nullptr;
    const int n = PQgetCopyData(conn_, &buffer, /*async=*/0);
    if (n > 0) {
      if (callback_status.ok()) callback_status = on_chunk(std::string_view(buffer, n));
      PQfreemem(buffer);
      continue;
    }
    if (n == -1) break;  // COPY done; the result follows
    return ResultError(conn_, nullptr, sql);
  }
  PgResult result(PQgetResult(conn_));
  last_sqlstate_ = ResultSqlstate(result.get());
  const Status copy_status = CheckResult(conn_, result.get(), sql, PGRES_COMMAND_OK);
  while (PGresult* extra = PQgetResult(conn_)) PQclear(extra);
  return callback_status.ok() ? copy_status : callback_status;
}

std::string PgConnection::EscapeIdentifier(std::string_view name) {
  char* escaped = PQescapeIdentifier(conn_, name.data(), name.size());
  std::string out = escaped ? escaped : "";
  PQfreemem(escaped);
  return out;
}

std::string PgConnection::EscapeLiteral(std::string_view value) {
  char* escaped = PQescapeLiteral(conn_, value.data(), value.size());
  std::string out = escaped ? escaped : "";
  PQfreemem(escaped);
  return out;
}

}  // namespace vecmirror::pg
