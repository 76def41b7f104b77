// vecmirror-cli: its text parsing and tables, the health status names, and the whole
// client run in-process against the test server.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "tests/support/service_test_fixture.h"
#include "tools/cli/cli.h"
#include "tools/cli/cli_json.h"
#include "tools/cli/cli_text.h"
#include "tools/cli/health_check.h"
#include "tools/cli/table.h"

namespace vecmirror::service_test {
namespace {

TEST(CliTextTest, VectorTextAcceptsBracketsCommasAndWhitespace) {
  std::vector<float> v;
  std::string error;
  ASSERT_TRUE(cli::ParseVectorText("[1,2.5,-3]", &v, &error)) << error;
  EXPECT_EQ(v, (std::vector<float>{1, 2.5f, -3}));
  ASSERT_TRUE(cli::ParseVectorText(" 1 2\n\t3e-1 ,4\r\n", &v, &error)) << error;
  EXPECT_EQ(v, (std::vector<float>{1, 2, 0.3f, 4}));
  ASSERT_TRUE(cli::ParseVectorText("[[0.5], [1]]", &v, &error)) << error;
  EXPECT_EQ(v, (std::vector<float>{0.5f, 1}));
}

TEST(CliTextTest, VectorTextRejectsOtherTokensAndEmptyInput) {
  std::vector<float> v;
  std::string error;
  EXPECT_FALSE(cli::ParseVectorText("1 two 3", &v, &error));
  EXPECT_NE(error.find("\"two\" (number 2)"), std::string::npos) << error;
  EXPECT_FALSE(cli::ParseVectorText("1;2", &v, &error));
  EXPECT_FALSE(cli::ParseVectorText("[ , ]", &v, &error));
  EXPECT_EQ(error, "no numbers found");
  EXPECT_FALSE(cli::ParseVectorText("1e999", &v, &error));
}

TEST(CliTextTest, LsnParsesBothFormsAndPrintsLikePostgres) {
  uint64_t lsn = 0;
  ASSERT_TRUE(cli::ParseLsnArgument("16/B374D848", &lsn));
  EXPECT_EQ(lsn, 0x16B374D848ULL);
  ASSERT_TRUE(cli::ParseLsnArgument("0/0", &lsn));
  EXPECT_EQ(lsn, 0u);
  ASSERT_TRUE(cli::ParseLsnArgument("97500000000", &lsn));
  EXPECT_EQ(lsn, 97500000000ULL);
  EXPECT_FALSE(cli::ParseLsnArgument("16/", &lsn));
  EXPECT_FALSE(cli::ParseLsnArgument("/1", &lsn));
  EXPECT_FALSE(cli::ParseLsnArgument("1/123456789", &lsn));  // more than 32 bits after the slash
  EXPECT_FALSE(cli::ParseLsnArgument("G/1", &lsn));
  EXPECT_FALSE(cli::ParseLsnArgument("12x", &lsn));
  EXPECT_FALSE(cli::ParseLsnArgument("", &lsn));
  EXPECT_EQ(FormatLsn(0x16B374D848ULL), "16/B374D848");
  ASSERT_TRUE(cli::ParseLsnArgument(FormatLsn(0xABCDEF0123456789ULL), &lsn));
  EXPECT_EQ(lsn, 0xABCDEF0123456789ULL);
}

TEST(CliTextTest, BytesAreHumanReadable) {
  EXPECT_EQ(cli::FormatBytes(0), "0 B");
  EXPECT_EQ(cli::FormatBytes(1023), "1023 B");
  EXPECT_EQ(cli::FormatBytes(1536), "1.5 KiB");
  EXPECT_EQ(cli::FormatBytes(3ULL << 30), "3.0 GiB");
}

TEST(CliTableTest, ColumnsAlignAndNumbersAlignRight) {
  cli::Table table({{"name"}, {"count", true}});
  table.AddRow({"alpha", "7"});
  table.AddRow({"b", "1234"});
  table.AddRow({"c"});  // padded
  std::ostringstream out;
  table.Print(out);
  EXPECT_EQ(out.str(),
            "name   count\n"
            "-----  -----\n"
            "alpha      7\n"
            "b       1234\n"
            "c\n");
}

TEST(CliHealthTest, ServingStatusNamesAreGrpcHealthProbes) {
  EXPECT_STREQ(cli::ServingStatusName(cli::ServingStatus::kServing), "SERVING");
  EXPECT_STREQ(cli::ServingStatusName(cli::ServingStatus::kNotServing), "NOT_SERVING");
  EXPECT_STREQ(cli::ServingStatusName(cli::ServingStatus::kServiceUnknown), "SERVICE_UNKNOWN");
  EXPECT_STREQ(cli::ServingStatusName(static_cast<cli::ServingStatus>(7)), "UNKNOWN");
}

class CliRunTest : public SharedWorldTest {
 protected:
  struct Run {
    int code;
    std::string out;
    std::string err;
  };
  static Run Cli(std::vector<std::string> args) {
    args.insert(args.begin(), {"vecmirror-cli", "--server", world().address()});
    std::vector<const char*> argv;
    for (const std::string& a : args) argv.push_back(a.c_str());
    std::ostringstream out, err;
    const int code = cli::RunCli(static_cast<int>(argv.size()), argv.data(), out, err);
    return {code, out.str(), err.str()};
  }

  // A file under the temp directory, removed at the end of the test.
  std::string WriteTempFile(const std::string& text) {
    const auto path = std::filesystem::temp_directory_path() /
                      ("vecmirror_cli_test_" + std::to_string(::getpid()) + "_" +
                       std::to_string(temp_files_.size()) + ".txt");
    std::ofstream(path) << text;
    temp_files_.push_back(path);
    return path.string();
  }
  void TearDown() override {
    for (const auto& p : temp_files_) std::filesystem::remove(p);
  }
  std::vector<std::filesystem::path> temp_files_;
};

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST_F(CliRunTest, SearchByVectorFilePrintsTheRankedTable) {
  const Uuid tenant = world().tenant_a;
  const std::vector<float> q = world().QueryNear(world().AnyRow(tenant, kMiniLm));
  std::string text = "[";
  for (size_t i = 0; i < q.size(); ++i) text += (i ? "," : "") + std::to_string(q[i]);
  text += "]";
  const std::string file = WriteTempFile(text);

  const Run run = Cli({"search", "--tenant", tenant.ToString(), "--model", kMiniLm,
                       "--vector-file", file, "--limit", "5", "--types", "context,template",
                       "--exact", "--timeout-ms", "20000"});
  ASSERT_EQ(run.code, 0) << run.err;
  // std::to_string rounds to 6 decimals: the brute force uses the same rounded query.
  std::vector<float> sent;
  std::string error;
  ASSERT_TRUE(cli::ParseVectorText(text, &sent, &error));
  const std::vector<Expected> expected =
      BruteForce(world().RowsOf(tenant, kMiniLm), {sent, {"context", "template"}, 5, {}, {}});
  const std::vector<std::string> lines = Lines(run.out);
  ASSERT_EQ(lines.size(), 2 + expected.size() + 1) << run.out;
  EXPECT_NE(lines[0].find("entity_id"), std::string::npos);
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_NE(lines[2 + i].find(expected[i].entity_id), std::string::npos) << lines[2 + i];
    EXPECT_NE(lines[2 + i].find(expected[i].entity_type), std::string::npos) << lines[2 + i];
  }
  EXPECT_NE(lines.back().find("5 results  applied_lsn " +
                              FormatLsn(world().registry.applied_lsn()) +
                              "  exact yes  index flat"),
            std::string::npos)
      << lines.back();
}

TEST_F(CliRunTest, SearchErrorsPrintTheCodeNameAndExitNonZero) {
  const std::string file = WriteTempFile("1 2 3");
  const Run bad_tenant = Cli({"search", "--tenant", "nope", "--model", kMiniLm, "--vector-file",
                              file});
  EXPECT_EQ(bad_tenant.code, 1);
  EXPECT_EQ(bad_tenant.err.rfind("INVALID_ARGUMENT: tenant_id \"nope\"", 0), 0u) << bad_tenant.err;
  EXPECT_TRUE(bad_tenant.out.empty());

  const Run wrong_dim = Cli({"search", "--tenant", world().tenant_a.ToString(), "--model",
                             kMiniLm, "--vector-file", file});
  EXPECT_EQ(wrong_dim.code, 1);
  EXPECT_NE(wrong_dim.err.find("INVALID_ARGUMENT: query.vector has 3 dimensions"),
            std::string::npos)
      << wrong_dim.err;

  const Run not_mirrored = Cli({"search", "--tenant", world().tenant_a.ToString(), "--model",
                                kMiniLm, "--entity-id", world().removed.front().ToString()});
  EXPECT_EQ(not_mirrored.code, 1);
  EXPECT_EQ(not_mirrored.err.rfind("NOT_FOUND: query_entity_id", 0), 0u) << not_mirrored.err;

  const Run garbage = Cli({"search", "--tenant", world().tenant_a.ToString(), "--model", kMiniLm,
                           "--vector-file", WriteTempFile("1 x")});
  EXPECT_EQ(garbage.code, 2);
  EXPECT_NE(garbage.err.find("\"x\""), std::string::npos) << garbage.err;

  const Run neither = Cli({"search", "--tenant", world().tenant_a.ToString(), "--model", kMiniLm});
  EXPECT_EQ(neither.code, 2);
  EXPECT_NE(neither.err.find("exactly one of --vector-file and --entity-id"), std::string::npos);

  const Run bad_lsn = Cli({"search", "--tenant", world().tenant_a.ToString(), "--model", kMiniLm,
                           "--vector-file", file, "--min-lsn", "x/y"});
  EXPECT_EQ(bad_lsn.code, 2);
  EXPECT_NE(bad_lsn.err.find("--min-lsn"), std::string::npos);
}

TEST_F(CliRunTest, SearchByEntityIdMatchesTheService) {
  const Uuid tenant = world().tenant_b;
  const Row& seed = world().AnyRow(tenant, kSmall);
  const Run run = Cli({"search", "--tenant", tenant.ToString(), "--model", kSmall, "--entity-id",
                       seed.id.ToString(), "--limit", "3", "--exact"});
  ASSERT_EQ(run.code, 0) << run.err;
  const std::vector<Expected> expected =
      BruteForce(world().RowsOf(tenant, kSmall), {seed.vector, {}, 3, {}, seed.id});
  const std::vector<std::string> lines = Lines(run.out);
  ASSERT_EQ(lines.size(), 6u) << run.out;
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_NE(lines[2 + i].find(expected[i].entity_id), std::string::npos) << lines[2 + i];
  }
}

TEST_F(CliRunTest, IndexesStatusHealthAndRebuild) {
  const Run indexes = Cli({"indexes", "--tenant", world().tenant_a.ToString()});
  ASSERT_EQ(indexes.code, 0) << indexes.err;
  const std::vector<std::string> lines = Lines(indexes.out);
  ASSERT_EQ(lines.size(), 5u) << indexes.out;  // header, rule, two indexes, footer
  EXPECT_NE(lines[2].find(world().tenant_a.ToString()), std::string::npos);
  EXPECT_NE(lines[0].find("bytes/vector"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("storage"), std::string::npos) << lines[0];
  EXPECT_NE(lines[2].find(" fp32 "), std::string::npos) << lines[2];
  EXPECT_NE(indexes.out.find(kMiniLm), std::string::npos);
  EXPECT_NE(indexes.out.find(kSmall), std::string::npos);
  EXPECT_NE(indexes.out.find(std::to_string(kRowsPerIndex - kRemovedPerIndex)), std::string::npos);
  EXPECT_NE(lines.back().find("2 indexes"), std::string::npos);

  const Run status = Cli({"status"});
  ASSERT_EQ(status.code, 0) << status.err;
  EXPECT_NE(status.out.find("streaming"), std::string::npos);
  EXPECT_NE(status.out.find(FormatLsn(world().registry.applied_lsn())), std::string::npos);

  const Run health = Cli({"health"});
  EXPECT_EQ(health.code, 0) << health.err;
  EXPECT_EQ(health.out, "SERVING\n");
  world().server->SetServing(false);
  const Run not_serving = Cli({"health", "--service", "vecmirror.v1.VectorSearch"});
  world().server->SetServing(true);
  EXPECT_EQ(not_serving.code, 1);
  EXPECT_EQ(not_serving.out, "NOT_SERVING\n");

  const Run rebuild = Cli({"rebuild", "--tenant", world().tenant_b.ToString(), "--model",
                           kMiniLm, "--kind", "flat"});
  ASSERT_EQ(rebuild.code, 0) << rebuild.err;
  EXPECT_NE(rebuild.out.find("1 indexes rebuilt"), std::string::npos) << rebuild.out;

  const Run bad_kind = Cli({"rebuild", "--tenant", world().tenant_b.ToString(), "--kind", "lsh"});
  EXPECT_NE(bad_kind.code, 0);

  const Run unknown = Cli({"rebuild", "--tenant", world().RandomUuid().ToString()});
  EXPECT_EQ(unknown.code, 1);
  EXPECT_EQ(unknown.err.rfind("NOT_FOUND:", 0), 0u) << unknown.err;
}

// --json: one line, one object per answer, checked against the same independent answers as
// the tables.
nlohmann::json OneJsonLine(const std::string& text) {
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1) << text;
  return nlohmann::json::parse(text);  // throws, failing the test, on malformed JSON
}

TEST_F(CliRunTest, JsonSearchMatchesTheBruteForce) {
  const Uuid tenant = world().tenant_b;
  const Row& seed = world().AnyRow(tenant, kSmall);
  const Run run = Cli({"search", "--json", "--tenant", tenant.ToString(), "--model", kSmall,
                       "--entity-id", seed.id.ToString(), "--limit", "4", "--exact"});
  ASSERT_EQ(run.code, 0) << run.err;
  const nlohmann::json j = OneJsonLine(run.out);
  const std::vector<Expected> expected =
      BruteForce(world().RowsOf(tenant, kSmall), {seed.vector, {}, 4, {}, seed.id});
  ASSERT_EQ(j["results"].size(), expected.size()) << run.out;
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(j["results"][i]["entity_id"], expected[i].entity_id);
    EXPECT_EQ(j["results"][i]["entity_type"], expected[i].entity_type);
    EXPECT_NEAR(j["results"][i]["similarity"].get<double>(), expected[i].similarity, 1e-5);
  }
  EXPECT_EQ(j["applied_lsn"], FormatLsn(world().registry.applied_lsn()));
  EXPECT_EQ(j["exact"], true);
  EXPECT_EQ(j["index_kind"], "flat");
  // The LSN reads back as --min-lsn.
  const Run again = Cli({"search", "--json", "--tenant", tenant.ToString(), "--model", kSmall,
                         "--entity-id", seed.id.ToString(), "--min-lsn",
                         j["applied_lsn"].get<std::string>()});
  EXPECT_EQ(again.code, 0) << again.err;
}

TEST_F(CliRunTest, JsonIndexesStatusRebuildAndHealth) {
  const Run indexes = Cli({"indexes", "--json", "--tenant", world().tenant_a.ToString()});
  ASSERT_EQ(indexes.code, 0) << indexes.err;
  const nlohmann::json list = OneJsonLine(indexes.out);
  ASSERT_EQ(list["indexes"].size(), 2u);
  std::set<std::string> models;
  for (const auto& index : list["indexes"]) {
    EXPECT_EQ(index["tenant_id"], world().tenant_a.ToString());
    EXPECT_EQ(index["live_count"], kRowsPerIndex - kRemovedPerIndex);
    EXPECT_EQ(index["dimension"], index["model"] == kMiniLm ? kMiniLmDim : kSmallDim);
    EXPECT_GT(index["memory_bytes"].get<uint64_t>(), 0u);
    EXPECT_DOUBLE_EQ(index["bytes_per_vector"].get<double>(),
                     index["memory_bytes"].get<double>() / index["live_count"].get<double>());
    EXPECT_EQ(index["rebuilding"], false);
    EXPECT_EQ(index["vector_storage"], "fp32");
    models.insert(index["model"]);
  }
  EXPECT_EQ(models, (std::set<std::string>{kMiniLm, kSmall}));

  const Run status = Cli({"--json", "status"});
  ASSERT_EQ(status.code, 0) << status.err;
  const nlohmann::json s = OneJsonLine(status.out);
  EXPECT_EQ(s["state"], "streaming");
  EXPECT_EQ(s["loaded"], true);
  EXPECT_EQ(s["applied_lsn"], FormatLsn(world().registry.applied_lsn()));
  EXPECT_EQ(s["bad_rows"].size(), 7u);
  EXPECT_EQ(s["bad_rows"]["null_vector"], 0);
  EXPECT_EQ(s["bad_rows"]["entity_type_limit"], 0);
  EXPECT_EQ(s["snapshots"]["enabled"], false);
  EXPECT_EQ(s["retained_wal_bytes"], 0);

  const Run health = Cli({"health", "--json"});
  ASSERT_EQ(health.code, 0) << health.err;
  EXPECT_EQ(OneJsonLine(health.out), (nlohmann::json{{"service", ""}, {"status", "SERVING"}}));

  const Run rebuild = Cli({"rebuild", "--json", "--tenant", world().tenant_b.ToString(), "--model",
                           kMiniLm, "--kind", "flat"});
  ASSERT_EQ(rebuild.code, 0) << rebuild.err;
  const nlohmann::json rebuilt = OneJsonLine(rebuild.out);
  ASSERT_EQ(rebuilt["rebuilt"].size(), 1u);
  EXPECT_EQ(rebuilt["rebuilt"][0]["model"], kMiniLm);
  EXPECT_EQ(rebuilt["rebuilt"][0]["kind"], "flat");
  EXPECT_EQ(rebuilt["rebuilt"][0]["dead_count"], 0);  // a rebuild compacts
}

TEST_F(CliRunTest, JsonErrorsGoToStderrAsOneObject) {
  const Run bad_tenant = Cli({"search", "--json", "--tenant", "nope\"\n", "--model", kMiniLm,
                              "--vector-file", WriteTempFile("1 2 3")});
  EXPECT_EQ(bad_tenant.code, 1);
  EXPECT_TRUE(bad_tenant.out.empty());
  const nlohmann::json error = OneJsonLine(bad_tenant.err);
  EXPECT_EQ(error["error"]["code"], "INVALID_ARGUMENT");
  EXPECT_NE(error["error"]["message"].get<std::string>().find("tenant_id"), std::string::npos);

  const Run local = Cli({"search", "--json", "--tenant", world().tenant_a.ToString(), "--model",
                         kMiniLm});
  EXPECT_EQ(local.code, 2);
  EXPECT_EQ(OneJsonLine(local.err)["error"]["code"], "LOCAL_ERROR");
}

TEST_F(CliRunTest, UnreachableServerIsUnavailable) {
  std::vector<const char*> argv = {"vecmirror-cli", "--server", "127.0.0.1:1", "--timeout-ms",
                                   "2000", "status"};
  std::ostringstream out, err;
  EXPECT_EQ(cli::RunCli(static_cast<int>(argv.size()), argv.data(), out, err), 1);
  EXPECT_EQ(err.str().rfind("UNAVAILABLE:", 0), 0u) << err.str();
}

}  // namespace
}  // namespace vecmirror::service_test
