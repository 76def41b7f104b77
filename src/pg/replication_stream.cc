#include "src/pg/replication_stream.h"

#include <poll.h>

namespace vecmirror::pg {

Status ReplicationStream::Connect(const std::string& conninfo,
                                  std::unique_ptr<ReplicationStream>* out) {
  std::unique_ptr<PgConnection> conn;
  if (auto s = PgConnection::Connect(conninfo, /*replication=*/true, &conn); !s.ok()) return s;
  out->reset(new ReplicationStream(std::move(conn)));
  return Status::Ok();
}

Status ReplicationStream::CreateSlot(const std::string& slot, CreatedSlot* out) {
  std::vector<Row> rows;
  const std::string sql = "CREATE_REPLICATION_SLOT " + conn_->EscapeIdentifier(slot) +
                          " LOGICAL pgoutput (SNAPSHOT 'export')";
  if (auto s = conn_->Exec(sql, &rows); !s.ok()) return s;
  if (rows.size() != 1 || rows[0].size() < 3 || !rows[0][1] || !rows[0][2]) {
    return Status::Corruption("CREATE_REPLICATION_SLOT returned an unexpected result");
  }
  const std::optional<Lsn> consistent_point = ParseLsn(*rows[0][1]);
  if (!consistent_point) {
    return Status::Corruption("CREATE_REPLICATION_SLOT returned consistent_point " + *rows[0][1]);
  }
  out->consistent_point = *consistent_point;
  out->snapshot_name = *rows[0][2];
  return Status::Ok();
}

Status ReplicationStream::IdentifySystem(SystemIdentity* out) {
  std::vector<Row> rows;
  if (auto s = conn_->Exec("IDENTIFY_SYSTEM", &rows); !s.ok()) return s;
  // systemid, timeline, xlogpos, dbname
  if (rows.size() != 1 || rows[0].size() < 4 || !rows[0][0] || !rows[0][3]) {
    return Status::Corruption("IDENTIFY_SYSTEM returned an unexpected result");
  }
  out->system_identifier = *rows[0][0];
  out->database = *rows[0][3];
  return Status::Ok();
}

Status ReplicationStream::Start(const std::string& slot, Lsn start, const std::string& publication) {
  const std::string sql = "START_REPLICATION SLOT " + conn_->EscapeIdentifier(slot) + " LOGICAL " +
                          FormatLsn(start) + " (proto_version '1', publication_names " +
                          conn_->EscapeLiteral(conn_->EscapeIdentifier(publication)) +
                          ", binary 'true')";
  return conn_->StartCopyBoth(sql);
}

Status ReplicationStream::StreamError(const std::string& what) {
  std::string message = PQerrorMessage(conn_->raw());
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  return Status::Unavailable(what + ": " + message);
}

Status ReplicationStream::Receive(std::chrono::milliseconds timeout, std::string* message,
                                  bool* received) {
  *received = false;
  for (int attempt = 0; attempt < 2; ++attempt) {
    char* buffer = nullptr;
    const int n = PQgetCopyData(conn_->raw(), &buffer, /*async=*/1);
    if (n > 0) {
      message->assign(buffer, n);
      PQfreemem(buffer);
      *received = true;
      return Status::Ok();
    }
    if (n == -1) {
      // The server ended the stream; its final result says why.
      std::string why = "the server ended the replication stream";
      while (PGresult* r = PQgetResult(conn_->raw())) {
        if (PQresultStatus(r) == PGRES_FATAL_ERROR) {
          const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
          why = std::string("[") + (state ? state : "?????") + "] " + PQresultErrorMessage(r);
        }
        PQclear(r);
      }
      while (!why.empty() && why.back() == '\n') why.pop_back();
      return Status::Unavailable(why);
    }
    if (n == -2) return StreamError("replication stream");
    if (attempt == 1) break;
    pollfd fd{PQsocket(conn_->raw()), POLLIN, 0};
    const int ready = poll(&fd, 1, static_cast<int>(timeout.count()));
    if (ready < 0 && errno != EINTR) return Status::IOError("poll on the replication socket failed");
    if (ready <= 0) return Status::Ok();
    if (!PQconsumeInput(conn_->raw())) return StreamError("replication stream");
  }
  return Status::Ok();
}

Status ReplicationStream::SendStatus(Lsn write, Lsn flush, Lsn apply, bool reply_requested) {
  const std::string message =
      EncodeStandbyStatus(write, flush, apply, PgEpochMicrosNow(), reply_requested);
  if (PQputCopyData(conn_->raw(), message.data(), static_cast<int>(message.size())) != 1 ||
      PQflush(conn_->raw()) != 0) {
    return StreamError("sending a standby status update");
  }
  return Status::Ok();
}

}  // namespace vecmirror::pg
