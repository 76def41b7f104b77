#include "tests/support/pg_env.h"

#include <libpq-fe.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

extern char** environ;

namespace vecmirror::testing {
namespace {

#ifndef VECMIRROR_DEFAULT_SOURCE_DIR
#define VECMIRROR_DEFAULT_SOURCE_DIR "."
#endif
#ifndef VECMIRROR_DEFAULT_TEST_PGDIR
#define VECMIRROR_DEFAULT_TEST_PGDIR "build/test-pg"
#endif

// How long DropReplicationSlots waits for terminated walsenders to let go of their slots.
constexpr auto kSlotReleaseTimeout = std::chrono::seconds(10);

using ConnPtr = std::unique_ptr<PGconn, decltype(&PQfinish)>;
using pg::ExecuteCommand;

std::string Trimmed(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  return s;
}

Status Connect(const std::string& conninfo, ConnPtr* out) {
  ConnPtr conn(PQconnectdb(conninfo.c_str()), &PQfinish);
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    return Status::Unavailable("cannot connect to \"" + conninfo + "\": " + Trimmed(PQerrorMessage(conn.get())));
  }
  *out = std::move(conn);
  return Status::Ok();
}

std::string QuoteConninfoValue(std::string_view value) {
  std::string quoted = "'";
  for (char c : value) {
    if (c == '\'' || c == '\\') quoted.push_back('\\');
    quoted.push_back(c);
  }
  return quoted + "'";
}

std::string QuoteIdentifier(std::string_view name) {
  std::string quoted = "\"";
  for (char c : name) {
    if (c == '"') quoted.push_back('"');
    quoted.push_back(c);
  }
  return quoted + "\"";
}

std::string QuoteLiteral(std::string_view value) {
  std::string quoted = "'";
  for (char c : value) {
    if (c == '\'') quoted.push_back('\'');
    quoted.push_back(c);
  }
  return quoted + "'";
}

// vmtest_<hint>_<pid>_<counter>, lower case, at most 63 bytes (PostgreSQL's NAMEDATALEN - 1).
std::string ScratchName(std::string_view hint) {
  static std::atomic<int> counter{0};
  std::string clean;
  for (char c : hint) {
    const unsigned char u = static_cast<unsigned char>(c);
    clean.push_back(std::isalnum(u) ? static_cast<char>(std::tolower(u)) : '_');
  }
  if (clean.size() > 32) clean.resize(32);
  return "vmtest_" + clean + "_" + std::to_string(getpid()) + "_" + std::to_string(counter++);
}

std::string PsqlPath() {
  if (const char* bin = std::getenv("VECMIRROR_PG_BIN")) return std::string(bin) + "/psql";
  const std::string debian = "/usr/lib/postgresql/15/bin/psql";
  if (access(debian.c_str(), X_OK) == 0) return debian;
  return "psql";
}

}  // namespace

Status ClusterConninfo(std::string* out) {
  const char* env = std::getenv("VECMIRROR_TEST_PGDIR");
  const std::string dir = env && *env ? env : VECMIRROR_DEFAULT_TEST_PGDIR;
  std::ifstream file(dir + "/conninfo");
  std::string line;
  if (!file || !std::getline(file, line) || Trimmed(line).empty()) {
    return Status::FailedPrecondition(
        "no test PostgreSQL at " + dir + " (no conninfo file): run the test through ctest, whose "
        "pg_cluster fixture starts it, or run scripts/pg-cluster.sh start " + dir +
        " (and set VECMIRROR_TEST_PGDIR to that directory)");
  }
  *out = Trimmed(line);
  return Status::Ok();
}

std::string WithDatabase(const std::string& conninfo, std::string_view dbname) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &error);
  if (!options) {
    PQfreemem(error);
    return conninfo + " dbname=" + QuoteConninfoValue(dbname);
  }
  std::string result;
  for (PQconninfoOption* o = options; o->keyword; ++o) {
    if (std::string_view(o->keyword) == "dbname" || !o->val) continue;
    result += std::string(o->keyword) + "=" + QuoteConninfoValue(o->val) + " ";
  }
  PQconninfoFree(options);
  return result + "dbname=" + QuoteConninfoValue(dbname);
}

std::string SourceDir() {
  const char* env = std::getenv("VECMIRROR_SOURCE_DIR");
  return env && *env ? env : VECMIRROR_DEFAULT_SOURCE_DIR;
}

std::string SourcePath(std::string_view relative) { return SourceDir() + "/" + std::string(relative); }

Status ExecSql(const std::string& conninfo, const std::string& sql) {
  ConnPtr conn(nullptr, &PQfinish);
  if (Status s = Connect(conninfo, &conn); !s.ok()) return s;
  return ExecuteCommand(conn.get(), sql);
}

Status QueryRows(const std::string& conninfo, const std::string& sql, std::vector<Row>* rows) {
  ConnPtr conn(nullptr, &PQfinish);
  if (Status s = Connect(conninfo, &conn); !s.ok()) return s;
  return pg::ExecuteQuery(conn.get(), sql, rows);
}

Status QueryValue(const std::string& conninfo, const std::string& sql, std::string* value) {
  std::vector<Row> rows;
  if (Status s = QueryRows(conninfo, sql, &rows); !s.ok()) return s;
  if (rows.size() != 1 || rows[0].size() != 1) {
    return Status::InvalidArgument("expected one row of one column from: " + sql.substr(0, 200) +
                                   "; got " + std::to_string(rows.size()) + " rows");
  }
  *value = rows[0][0].value_or("");
  return Status::Ok();
}

Status RunSqlFile(const std::string& conninfo, const std::string& path) {
  std::ifstream file(path);
  if (!file) return Status::IOError("cannot read " + path);
  std::stringstream text;
  text << file.rdbuf();
  if (Status s = ExecSql(conninfo, text.str()); !s.ok()) {
    return Status::IOError(path + ": " + s.message());
  }
  return Status::Ok();
}

Status RunPsqlFile(const std::string& conninfo, const std::string& path) {
  const std::string psql = PsqlPath();
  std::vector<std::string> args = {psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", conninfo, "-f", path};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  if (posix_spawnp(&pid, psql.c_str(), nullptr, nullptr, argv.data(), environ) != 0) {
    return Status::IOError("cannot run " + psql);
  }
  int wstatus = 0;
  if (waitpid(pid, &wstatus, 0) < 0) return Status::IOError("waiting for psql failed");
  if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
    return Status::IOError("psql -f " + path + " failed (its error is above)");
  }
  return Status::Ok();
}

Status LoadSchema(const std::string& conninfo, std::string_view vector_type) {
  // One connection: the SET must be seen by schema.sql's DO block.
  ConnPtr conn(nullptr, &PQfinish);
  if (Status s = Connect(conninfo, &conn); !s.ok()) return s;
  if (Status s = ExecuteCommand(conn.get(), "SET client_min_messages = warning; SET vecmirror.vector_type = " +
                                                QuoteLiteral(vector_type));
      !s.ok()) {
    return s;
  }
  for (const char* file : {"sql/schema.sql", "sql/search_similar_entities.sql"}) {
    const std::string path = SourcePath(file);
    std::ifstream in(path);
    if (!in) return Status::IOError("cannot read " + path);
    std::stringstream text;
    text << in.rdbuf();
    if (Status s = ExecuteCommand(conn.get(), text.str()); !s.ok()) return Status::IOError(path + ": " + s.message());
  }
  return Status::Ok();
}

ScratchDatabase::ScratchDatabase(std::string name, std::string admin_conninfo)
    : name_(std::move(name)),
      admin_conninfo_(std::move(admin_conninfo)),
      conninfo_(WithDatabase(admin_conninfo_, name_)) {}

Status ScratchDatabase::Create(std::string_view name_hint, std::unique_ptr<ScratchDatabase>* out) {
  std::string admin;
  if (Status s = ClusterConninfo(&admin); !s.ok()) return s;
  const std::string name = ScratchName(name_hint);
  if (Status s = ExecSql(admin, "CREATE DATABASE " + QuoteIdentifier(name)); !s.ok()) return s;
  out->reset(new ScratchDatabase(name, admin));
  return Status::Ok();
}

Status ScratchDatabase::CreateWithSchema(std::string_view name_hint,
                                         std::unique_ptr<ScratchDatabase>* out,
                                         std::string_view vector_type) {
  std::unique_ptr<ScratchDatabase> db;
  if (Status s = Create(name_hint, &db); !s.ok()) return s;
  if (Status s = LoadSchema(db->conninfo(), vector_type); !s.ok()) return s;
  *out = std::move(db);
  return Status::Ok();
}

ScratchDatabase::~ScratchDatabase() {
  if (Status s = Drop(); !s.ok()) {
    std::cerr << "warning: could not drop scratch database " << name_ << ": " << s.ToString() << "\n";
  }
}

Status ScratchDatabase::DropReplicationSlots() {
  ConnPtr conn(nullptr, &PQfinish);
  if (Status s = Connect(admin_conninfo_, &conn); !s.ok()) return s;
  const std::string db = QuoteLiteral(name_);
  const auto deadline = std::chrono::steady_clock::now() + kSlotReleaseTimeout;
  while (true) {
    // A walsender lets go of its slot only when it exits; terminate it, then drop what is free.
    Status s = ExecuteCommand(conn.get(),
                              "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots "
                              "WHERE database = " + db + " AND active_pid IS NOT NULL; "
                              "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                              "WHERE database = " + db + " AND NOT active");
    // Another session may drop a slot between our SELECT and the drop: that error is harmless.
    std::vector<Row> left;
    if (Status c = pg::ExecuteQuery(conn.get(), "SELECT count(*) FROM pg_replication_slots WHERE database = " + db, &left);
        !c.ok()) {
      return c;
    }
    if (left.at(0).at(0) == "0") return Status::Ok();
    if (std::chrono::steady_clock::now() > deadline) {
      return Status::DeadlineExceeded("replication slots of " + name_ + " still held after 10 s" +
                                      (s.ok() ? "" : ": " + s.message()));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

Status ScratchDatabase::Drop() {
  if (dropped_) return Status::Ok();
  if (Status s = DropReplicationSlots(); !s.ok()) return s;
  if (Status s = ExecSql(admin_conninfo_, "DROP DATABASE IF EXISTS " + QuoteIdentifier(name_) + " WITH (FORCE)");
      !s.ok()) {
    return s;
  }
  dropped_ = true;
  return Status::Ok();
}

}  // namespace vecmirror::testing
