// Tests of the test helpers in tests/support/pg_env.h, against the pg_cluster fixture.
#include "tests/support/pg_env.h"

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <string>

namespace vecmirror::testing {
namespace {

bool DatabaseExists(const std::string& admin, const std::string& name) {
  std::string count;
  Status s = QueryValue(admin, "SELECT count(*) FROM pg_database WHERE datname = '" + name + "'", &count);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return count == "1";
}

std::string TempFile(const std::string& contents) {
  std::string path = ::testing::TempDir() + "pg_env_test_" + std::to_string(getpid()) + ".sql";
  std::ofstream(path) << contents;
  return path;
}

std::map<std::string, std::string> ParseConninfo(const std::string& conninfo) {
  std::map<std::string, std::string> keys;
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &error);
  EXPECT_NE(options, nullptr) << (error ? error : "");
  if (!options) return keys;
  for (PQconninfoOption* o = options; o->keyword; ++o) {
    if (o->val) keys[o->keyword] = o->val;
  }
  PQconninfoFree(options);
  return keys;
}

TEST(PgEnvTest, WithDatabaseReplacesOnlyTheDatabase) {
  const std::map<std::string, std::string> plain = {
      {"host", "127.0.0.1"}, {"port", "5"}, {"user", "postgres"}, {"dbname", "x"}};
  EXPECT_EQ(ParseConninfo(WithDatabase("host=127.0.0.1 port=5 user=postgres dbname=postgres", "x")), plain);
  const std::map<std::string, std::string> url = {
      {"host", "127.0.0.1"}, {"port", "7"}, {"user", "u"}, {"dbname", "b 'b"}};
  EXPECT_EQ(ParseConninfo(WithDatabase("postgresql://u@127.0.0.1:7/a", "b 'b")), url);
}

TEST(PgEnvTest, ScratchDatabasesAreDistinctAndDroppedWithTheirSlots) {
  std::string admin;
  Status s = ClusterConninfo(&admin);
  ASSERT_TRUE(s.ok()) << s.ToString();
  std::string first_name;
  {
    std::unique_ptr<ScratchDatabase> first, second;
    ASSERT_TRUE(ScratchDatabase::Create("Scratch-Test", &first).ok());
    ASSERT_TRUE(ScratchDatabase::Create("Scratch-Test", &second).ok());
    EXPECT_NE(first->name(), second->name());
    EXPECT_EQ(first->name().rfind("vmtest_scratch_test_", 0), 0u) << first->name();
    first_name = first->name();
    EXPECT_TRUE(DatabaseExists(admin, first_name));

    // A logical slot keeps DROP DATABASE from working; the helper removes it first.
    s = ExecSql(first->conninfo(),
                "SELECT pg_create_logical_replication_slot('" + first_name + "_slot', 'pgoutput')");
    ASSERT_TRUE(s.ok()) << s.ToString();
    std::string current;
    ASSERT_TRUE(QueryValue(first->conninfo(), "SELECT current_database()", &current).ok());
    EXPECT_EQ(current, first_name);
  }
  EXPECT_FALSE(DatabaseExists(admin, first_name));
  std::string slots;
  ASSERT_TRUE(QueryValue(admin, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '" +
                                    first_name + "_slot'", &slots).ok());
  EXPECT_EQ(slots, "0");
}

TEST(PgEnvTest, ASlotHeldByAWalsenderIsReleasedAndDropped) {
  std::unique_ptr<ScratchDatabase> db;
  ASSERT_TRUE(ScratchDatabase::Create("held_slot", &db).ok());
  const std::string slot = db->name() + "_slot";
  ASSERT_TRUE(ExecSql(db->conninfo(), "SELECT pg_create_logical_replication_slot('" + slot + "', 'test_decoding')").ok());

  std::unique_ptr<PGconn, decltype(&PQfinish)> walsender(
      PQconnectdb((db->conninfo() + " replication=database").c_str()), &PQfinish);
  ASSERT_EQ(PQstatus(walsender.get()), CONNECTION_OK) << PQerrorMessage(walsender.get());
  PGresult* started = PQexec(walsender.get(), ("START_REPLICATION SLOT \"" + slot + "\" LOGICAL 0/0").c_str());
  ASSERT_EQ(PQresultStatus(started), PGRES_COPY_BOTH) << PQerrorMessage(walsender.get());
  PQclear(started);
  std::string active;
  ASSERT_TRUE(QueryValue(db->admin_conninfo(),
                         "SELECT active FROM pg_replication_slots WHERE slot_name = '" + slot + "'", &active).ok());
  EXPECT_EQ(active, "t");

  Status s = db->Drop();
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_FALSE(DatabaseExists(db->admin_conninfo(), db->name()));
}

TEST(PgEnvTest, SqlFilesRunThroughLibpqAndPsql) {
  std::unique_ptr<ScratchDatabase> db;
  ASSERT_TRUE(ScratchDatabase::Create("sql_files", &db).ok());

  const std::string plain = TempFile("CREATE TABLE t (x int); INSERT INTO t VALUES (1), (2);");
  Status s = RunSqlFile(db->conninfo(), plain);
  ASSERT_TRUE(s.ok()) << s.ToString();
  std::string sum;
  ASSERT_TRUE(QueryValue(db->conninfo(), "SELECT sum(x) FROM t", &sum).ok());
  EXPECT_EQ(sum, "3");

  // A meta-command needs psql.
  const std::string meta = TempFile("\\set v 40\nINSERT INTO t VALUES (:v);\n");
  EXPECT_FALSE(RunSqlFile(db->conninfo(), meta).ok());
  s = RunPsqlFile(db->conninfo(), meta);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_TRUE(QueryValue(db->conninfo(), "SELECT sum(x) FROM t", &sum).ok());
  EXPECT_EQ(sum, "43");

  const std::string broken = TempFile("SELECT no_such_column FROM t;\n");
  EXPECT_FALSE(RunPsqlFile(db->conninfo(), broken).ok());
  s = RunSqlFile(db->conninfo(), broken);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("42703"), std::string::npos) << s.ToString();
  std::remove(plain.c_str());
  std::remove(meta.c_str());
  std::remove(broken.c_str());
}

TEST(PgEnvTest, QueryRowsReportsNulls) {
  std::unique_ptr<ScratchDatabase> db;
  ASSERT_TRUE(ScratchDatabase::Create("rows", &db).ok());
  std::vector<Row> rows;
  ASSERT_TRUE(QueryRows(db->conninfo(), "SELECT 'a', NULL::text UNION ALL SELECT 'b', 'c'", &rows).ok());
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0][0], "a");
  EXPECT_FALSE(rows[0][1].has_value());
  EXPECT_EQ(rows[1][1], "c");
  std::string value;
  EXPECT_FALSE(QueryValue(db->conninfo(), "SELECT 1 UNION ALL SELECT 2", &value).ok());
}

TEST(PgEnvTest, LoadSchemaHonoursTheVectorType) {
  std::unique_ptr<ScratchDatabase> db;
  Status s = ScratchDatabase::CreateWithSchema("schema", &db);
  ASSERT_TRUE(s.ok()) << s.ToString();
  std::string type;
  ASSERT_TRUE(QueryValue(db->conninfo(),
                         "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
                         "WHERE attrelid = 'embedding'::regclass AND attname = 'vector'",
                         &type).ok());
  EXPECT_EQ(type, "real[]");

  std::unique_ptr<ScratchDatabase> other;
  ASSERT_TRUE(ScratchDatabase::Create("schema_bad_type", &other).ok());
  s = LoadSchema(other->conninfo(), "float8[]");
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("vecmirror.vector_type"), std::string::npos) << s.ToString();
}

}  // namespace
}  // namespace vecmirror::testing
