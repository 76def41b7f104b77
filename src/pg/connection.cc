#include "src/pg/connection.h"

namespace vecmirror::pg {
namespace {

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultDeleter>;

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

Status PgConnection::ResultError(PGresult* result, const std::string& sql) {
  const char* state = result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  last_sqlstate_ = state ? state : "";
  std::string message = Trimmed(result ? PQresultErrorMessage(result) : PQerrorMessage(conn_));
  if (message.empty()) message = Trimmed(PQerrorMessage(conn_));
  std::string text = "[" + (last_sqlstate_.empty() ? std::string("?????") : last_sqlstate_) +
                     "] " + message + " (in: " + sql.substr(0, 120) + ")";
  if (PQstatus(conn_) != CONNECTION_OK) return Status::Unavailable(text);
  return Status::IOError(text);
}

Status PgConnection::Exec(const std::string& sql, std::vector<Row>* rows) {
  last_sqlstate_.clear();
  ResultPtr result(PQexec(conn_, sql.c_str()));
  const ExecStatusType st = result ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return ResultError(result.get(), sql);
  if (rows) {
    rows->clear();
    const int n = PQntuples(result.get());
    const int m = PQnfields(result.get());
    for (int i = 0; i < n; ++i) {
      Row row(m);
      for (int j = 0; j < m; ++j) {
        if (!PQgetisnull(result.get(), i, j)) row[j] = PQgetvalue(result.get(), i, j);
      }
      rows->push_back(std::move(row));
    }
  }
  return Status::Ok();
}

Status PgConnection::StartCopyBoth(const std::string& sql) {
  last_sqlstate_.clear();
  ResultPtr result(PQexec(conn_, sql.c_str()));
  if (!result || PQresultStatus(result.get()) != PGRES_COPY_BOTH) return ResultError(result.get(), sql);
  return Status::Ok();
}

Status PgConnection::CopyOut(const std::string& sql,
                             const std::function<Status(std::string_view)>& on_chunk) {
  last_sqlstate_.clear();
  {
    ResultPtr result(PQexec(conn_, sql.c_str()));
    if (!result || PQresultStatus(result.get()) != PGRES_COPY_OUT) {
      return ResultError(result.get(), sql);
    }
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
    return ResultError(nullptr, sql);
  }
  ResultPtr result(PQgetResult(conn_));
  Status copy_status = Status::Ok();
  if (!result || PQresultStatus(result.get()) != PGRES_COMMAND_OK) {
    copy_status = ResultError(result.get(), sql);
  }
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
