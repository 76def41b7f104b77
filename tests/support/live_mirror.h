// The harness of the live-mirror suites: a scratch database with sql/schema.sql (real[] vectors),
// the real vecmirror-server following it through its own replication slot, and a plain libpq
// session to write with.
//
//   LiveMirror mirror;
//   ASSERT_TRUE(mirror.Create("semantics").ok());   // database only
//   ASSERT_TRUE(mirror.StartServer().ok());        // server, waits for its first load
//   SqlSession sql(mirror.conninfo()); ...          // commit something
//   ExpectMirrorEqualsDatabase(mirror.conninfo(), mirror.stub(), 0);
//
// Slots are cluster-wide, so each database gets its own: vmtest_<database name>. The slot is
// dropped after the server stops (ScratchDatabase's destructor drops what is left).
//
// Thread-safety: LiveMirror is used from the test's main thread; stub() may be used from any
// thread while the server runs. A SqlSession belongs to one thread.
#pragma once

#include <arpa/inet.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cmath>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "base/status.h"
#include "src/pg/result.h"
#include "tests/support/mirror_check.h"
#include "tests/support/pg_env.h"
#include "tests/support/server_process.h"

namespace vecmirror::testing {

// One libpq connection, kept open. Exec runs one or more statements in one PQexec; on an error
// it rolls back whatever transaction block the statements left open, so the session stays usable.
class SqlSession {
 public:
  explicit SqlSession(const std::string& conninfo) : conninfo_(conninfo) { Reconnect(); }
  ~SqlSession() {
    if (conn_) PQfinish(conn_);
  }
  SqlSession(const SqlSession&) = delete;
  SqlSession& operator=(const SqlSession&) = delete;

  bool connected() const { return conn_ && PQstatus(conn_) == CONNECTION_OK; }

  // Drops the connection and opens a new one (after a server restart).
  bool Reconnect() {
    if (conn_) PQfinish(conn_);
    conn_ = PQconnectdb(conninfo_.c_str());
    if (PQstatus(conn_) != CONNECTION_OK) return false;
    // Commits return once their WAL is flushed, so pg_current_wal_lsn() after a commit
    // covers it even though the test cluster runs with synchronous_commit = off.
    PQclear(PQexec(conn_, "SET client_min_messages = warning; SET synchronous_commit = on"));
    return true;
  }

  Status Exec(const std::string& sql) {
    std::vector<Row> ignored;
    return Query(sql, &ignored);
  }

  // The rows of the last statement, as text.
  Status Query(const std::string& sql, std::vector<Row>* rows) {
    rows->clear();
    if (!connected()) return Status::Unavailable("not connected: " + Error());
    const pg::PgResult result = pg::Execute(conn_, sql);
    if (Status s = pg::CheckResult(conn_, result.get(), sql); !s.ok()) {
      if (PQstatus(conn_) == CONNECTION_OK && PQtransactionStatus(conn_) != PQTRANS_IDLE) {
        pg::Execute(conn_, "ROLLBACK");
      }
      return s;
    }
    *rows = pg::ResultRows(result.get());
    return Status::Ok();
  }

  // The single value of a one-row, one-column query; "" on error (with the status in *s).
  std::string Value(const std::string& sql, Status* s = nullptr) {
    std::vector<Row> rows;
    Status status = Query(sql, &rows);
    if (status.ok() && (rows.size() != 1 || rows[0].size() != 1)) {
      status = Status::Internal("expected one value from: " + sql.substr(0, 160));
    }
    if (s) *s = status;
    return status.ok() ? rows[0][0].value_or("") : "";
  }

  // After a commit, the min_lsn that shows it (and everything committed before): see
  // kCommittedLsnSql. 0 on error.
  uint64_t CurrentLsn() {
    Status s;
    const std::string text = Value(kCommittedLsnSql, &s);
    return ParseLsn(text).value_or(0);
  }

  PGconn* raw() { return conn_; }

 private:
  std::string Error() const {
    std::string message = PQerrorMessage(conn_);
    while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
    return message;
  }

  std::string conninfo_;
  PGconn* conn_ = nullptr;
};

// A SQL string literal.
inline std::string Quote(const std::string& text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') out.push_back('\'');
    out.push_back(c);
  }
  return out + "'";
}

// A real[] literal with its cast: '{...}'::real[].
inline std::string VectorSql(const std::vector<float>& v) { return Quote(VectorLiteral(v)) + "::real[]"; }

// A random vector with normal components: not unit length, which the mirror must normalize.
inline std::vector<float> RandomVector(std::mt19937_64& rng, uint32_t dim) {
  std::normal_distribution<float> normal;
  std::vector<float> v(dim);
  for (float& x : v) x = normal(rng);
  return v;
}

class LiveMirror {
 public:
  LiveMirror() = default;
  LiveMirror(const LiveMirror&) = delete;
  LiveMirror& operator=(const LiveMirror&) = delete;
  ~LiveMirror() { Destroy(); }

  // A scratch database with the schema.
  Status Create(std::string_view hint) {
    if (Status s = ScratchDatabase::CreateWithSchema(hint, &db_, "real[]"); !s.ok()) return s;
    slot_ = "vmtest_" + db_->name();
    if (slot_.size() > 63) slot_.resize(63);
    return Status::Ok();
  }

  // Starts a server on the database (a fresh process: fresh slot and load) and, unless told
  // not to, waits until its first load is complete.
  Status StartServer(std::vector<std::string> extra_args = {}, bool wait_loaded = true) {
    std::vector<std::string> args = {"--slot", slot_, "--publication", "vecmirror"};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    server_ = std::make_unique<ServerProcess>(db_->conninfo(), std::move(args));
    server_->Start();
    if (wait_loaded && !server_->WaitLoaded()) {
      return Status::Unavailable("the server did not finish its first load; its log:\n" + LogTail());
    }
    return Status::Ok();
  }

  // SIGTERM (graceful) or SIGKILL (crash); the slot stays.
  void StopServer(int signal = SIGTERM) {
    if (server_) server_->Kill(signal);
  }

  // Stops the server, drops the slot and the database.
  void Destroy() {
    StopServer(SIGTERM);
    server_.reset();
    if (db_) {
      if (Status s = db_->DropReplicationSlots(); !s.ok()) {
        ADD_FAILURE() << "dropping the slots of " << db_->name() << ": " << s.ToString();
      }
      db_.reset();
    }
  }

  // The last lines of the server's log, for failure messages.
  std::string LogTail(size_t lines = 40) const {
    if (!server_) return "(no server)";
    const std::string log = server_->Log();
    size_t pos = log.size();
    for (size_t n = 0; n <= lines && pos != std::string::npos && pos > 0; ++n) {
      pos = log.rfind('\n', pos - 1);
    }
    return pos == std::string::npos ? log : log.substr(pos + 1);
  }

  const std::string& conninfo() const { return db_->conninfo(); }
  const std::string& admin_conninfo() const { return db_->admin_conninfo(); }
  const std::string& slot() const { return slot_; }
  ScratchDatabase& db() { return *db_; }
  ServerProcess& server() { return *server_; }
  v1::VectorSearch::Stub& stub() { return server_->stub(); }

 private:
  std::unique_ptr<ScratchDatabase> db_;
  std::unique_ptr<ServerProcess> server_;
  std::string slot_;
};

}  // namespace vecmirror::testing
