#include "src/pg/result.h"

namespace vecmirror::pg {
namespace {

// How much of a failed statement an error message quotes.
constexpr size_t kQuotedSqlChars = 120;

std::string Trimmed(const char* message) {
  std::string s = message ? message : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

PgResult Execute(PGconn* conn, const std::string& sql) { return PgResult(PQexec(conn, sql.c_str())); }

Status CheckResult(PGconn* conn, const PGresult* result, std::string_view sql) {
  const ExecStatusType status = result ? PQresultStatus(result) : PGRES_FATAL_ERROR;
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return Status::Ok();
  return ResultError(conn, result, sql);
}

Status CheckResult(PGconn* conn, const PGresult* result, std::string_view sql,
                   ExecStatusType expected) {
  if (result && PQresultStatus(result) == expected) return Status::Ok();
  return ResultError(conn, result, sql);
}

Status ResultError(PGconn* conn, const PGresult* result, std::string_view sql) {
  const std::string sqlstate = ResultSqlstate(result);
  std::string message = Trimmed(result ? PQresultErrorMessage(result) : nullptr);
  if (message.empty()) message = Trimmed(PQerrorMessage(conn));
  const std::string text = "[" + (sqlstate.empty() ? std::string("?????") : sqlstate) + "] " +
                           message + " (in: " + std::string(sql.substr(0, kQuotedSqlChars)) + ")";
  if (PQstatus(conn) != CONNECTION_OK) return Status::Unavailable(text);
  return Status::IOError(text);
}

std::string ResultSqlstate(const PGresult* result) {
  const char* state = result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  return state ? state : "";
}

std::vector<Row> ResultRows(const PGresult* result) {
  std::vector<Row> rows;
  const int n = PQntuples(result);
  const int m = PQnfields(result);
  rows.reserve(n);
  for (int i = 0; i < n; ++i) {
    Row row(m);
    for (int j = 0; j < m; ++j) {
      if (!PQgetisnull(result, i, j)) row[j].emplace(PQgetvalue(result, i, j), PQgetlength(result, i, j));
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

Status ExecuteCommand(PGconn* conn, const std::string& sql) {
  PgResult result = Execute(conn, sql);
  return CheckResult(conn, result.get(), sql);
}

Status ExecuteQuery(PGconn* conn, const std::string& sql, std::vector<Row>* rows) {
  PgResult result = Execute(conn, sql);
  if (Status s = CheckResult(conn, result.get(), sql, PGRES_TUPLES_OK); !s.ok()) return s;
  *rows = ResultRows(result.get());
  return Status::Ok();
}

}  // namespace vecmirror::pg
