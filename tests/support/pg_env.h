// The throwaway PostgreSQL of the tests, seen from C++: where it is, a scratch database per test,
// and running SQL. The ctest fixture `pg_cluster` (tests/postgres.cmake) starts the cluster with
// scripts/pg-cluster.sh and passes its directory in $VECMIRROR_TEST_PGDIR; the directory holds
// a `conninfo` file (host=127.0.0.1 port=N user=postgres dbname=postgres).
//
// Typical use in a test:
//
//   std::unique_ptr<vecmirror::testing::ScratchDatabase> db;
//   ASSERT_TRUE(vecmirror::testing::ScratchDatabase::CreateWithSchema("mirror", &db).ok());
//   ... connect to db->conninfo() ...
//   // the destructor drops the database, its replication slots and its connections
//
// Running a test binary by hand works while the cluster runs: without $VECMIRROR_TEST_PGDIR the
// build's default directory (build/test-pg) is used; start it with
//   scripts/pg-cluster.sh start build/test-pg
//
// Thread-safety: the free functions share no state and may be called from any thread.
// A ScratchDatabase is not to be used from several threads at once.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "src/pg/result.h"

namespace vecmirror::testing {

// The conninfo of the cluster's `postgres` database, read from $VECMIRROR_TEST_PGDIR/conninfo.
// FailedPrecondition, saying how to start one, when there is no running cluster.
Status ClusterConninfo(std::string* out);

// `conninfo` with its dbname replaced (or added).
std::string WithDatabase(const std::string& conninfo, std::string_view dbname);

// The root of the source tree ($VECMIRROR_SOURCE_DIR, else the one this was built from), and
// a file in it: SourcePath("sql/schema.sql").
std::string SourceDir();
std::string SourcePath(std::string_view relative);

// Runs `sql` (one or more statements, no psql meta-commands) in one PQexec on a new connection.
Status ExecSql(const std::string& conninfo, const std::string& sql);

// The rows of a query as text; a NULL is nullopt.
using pg::Row;
Status QueryRows(const std::string& conninfo, const std::string& sql, std::vector<Row>* rows);

// The single value of a query that returns one row and one column; NULL gives "".
Status QueryValue(const std::string& conninfo, const std::string& sql, std::string* value);

// Runs a .sql file through ExecSql: the whole file in one PQexec, so no psql meta-commands.
Status RunSqlFile(const std::string& conninfo, const std::string& path);

// Runs a .sql file with psql (-X -q -v ON_ERROR_STOP=1 -f): for files that need meta-commands.
// psql is taken from $VECMIRROR_PG_BIN, else /usr/lib/postgresql/15/bin, else $PATH.
Status RunPsqlFile(const std::string& conninfo, const std::string& path);

// Creates the tables of sql/schema.sql and the function of sql/search_similar_entities.sql.
// vector_type: "auto" (pgvector's vector when available, else real[]), "vector" or "real[]".
// A "vector" column needs a `vector` type: pgvector, or tests/pgvector_shim's stand-in.
Status LoadSchema(const std::string& conninfo, std::string_view vector_type = "real[]");

// A database of its own for one test, named vmtest_<hint>_<pid>_<counter>, dropped by the
// destructor (with its replication slots, after ending its connections). `clean` in
// scripts/pg-cluster.sh drops leftovers of killed tests, which the fixture runs at start.
class ScratchDatabase {
 public:
  // An empty database.
  static Status Create(std::string_view name_hint, std::unique_ptr<ScratchDatabase>* out);
  // A database with LoadSchema(vector_type) applied.
  static Status CreateWithSchema(std::string_view name_hint, std::unique_ptr<ScratchDatabase>* out,
                                 std::string_view vector_type = "real[]");

  ScratchDatabase(const ScratchDatabase&) = delete;
  ScratchDatabase& operator=(const ScratchDatabase&) = delete;
  ~ScratchDatabase();

  const std::string& name() const { return name_; }
  // Connects to this database.
  const std::string& conninfo() const { return conninfo_; }
  // Connects to the cluster's postgres database (for CREATE/DROP DATABASE, pg_stat_*, ...).
  const std::string& admin_conninfo() const { return admin_conninfo_; }

  // Drops replication slots of this database, ending the walsenders that hold them. Tests that
  // check slot handling may call it; the destructor does.
  Status DropReplicationSlots();
  // Drops the database now; the destructor then does nothing. Idempotent.
  Status Drop();

 private:
  ScratchDatabase(std::string name, std::string admin_conninfo);

  std::string name_;
  std::string admin_conninfo_;
  std::string conninfo_;
  bool dropped_ = false;
};

}  // namespace vecmirror::testing
