// vecmirror-server's settings: the sample config file parses, flags beat the environment which
// beats the file which beats the defaults, --print-config names each source and reads back as
// a config file, secrets are masked, and mistakes (an unknown key, a [section], a bad value
// from any source) are refused with the key named.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "src/config.h"

extern char** environ;

namespace vecmirror {
namespace {

// Clears VECMIRROR_* and DATABASE_URL for the test and puts the process environment back after.
class CleanEnvironment {
 public:
  CleanEnvironment() {
    for (char** e = environ; *e != nullptr; ++e) {
      const std::string entry = *e;
      const std::string name = entry.substr(0, entry.find('='));
      if (name.rfind("VECMIRROR_", 0) == 0 || name == "DATABASE_URL") {
        saved_[name] = entry.substr(name.size() + 1);
      }
    }
    for (const auto& [name, value] : saved_) unsetenv(name.c_str());
  }
  ~CleanEnvironment() {
    for (const std::string& name : set_) unsetenv(name.c_str());
    for (const auto& [name, value] : saved_) setenv(name.c_str(), value.c_str(), 1);
  }
  void Set(const std::string& name, const std::string& value) {
    setenv(name.c_str(), value.c_str(), 1);
    set_.push_back(name);
  }

 private:
  std::map<std::string, std::string> saved_;
  std::vector<std::string> set_;
};

struct Parsed {
  bool ok = false;
  Config config;
  std::string message;
  int exit_code = -1;
  std::vector<EffectiveSetting> settings;

  const EffectiveSetting& Setting(const std::string& name) const {
    for (const EffectiveSetting& s : settings) {
      if (s.name == name) return s;
    }
    throw std::runtime_error("no setting " + name);
  }
};

Parsed Parse(std::vector<std::string> args) {
  args.insert(args.begin(), "vecmirror-server");
  std::vector<const char*> argv;
  for (const std::string& a : args) argv.push_back(a.c_str());
  Parsed p;
  p.ok = ParseConfig(static_cast<int>(argv.size()), argv.data(), &p.config, &p.message,
                     &p.exit_code, &p.settings);
  return p;
}

class ConfigTest : public ::testing::Test {
 protected:
  void TearDown() override {
    for (const auto& path : files_) std::filesystem::remove(path);
  }
  std::string WriteFile(const std::string& text, const std::string& extension = ".toml") {
    const auto path = std::filesystem::temp_directory_path() /
                      ("vecmirror_config_test_" + std::to_string(getpid()) + "_" +
                       std::to_string(files_.size()) + extension);
    std::ofstream(path) << text;
    files_.push_back(path);
    return path.string();
  }

  CleanEnvironment env_;
  std::vector<std::filesystem::path> files_;
};

TEST_F(ConfigTest, TheSampleConfigFileParsesAndEveryValueComesFromIt) {
  const Parsed p = Parse({"--config", VECMIRROR_SAMPLE_CONFIG});
  ASSERT_TRUE(p.ok) << p.message;
  EXPECT_EQ(p.config.server.listen, "0.0.0.0:50051");
  EXPECT_EQ(p.config.metrics.listen, "127.0.0.1:9464");
  EXPECT_TRUE(p.config.metrics.per_index);
  EXPECT_EQ(p.config.log_format, "json");
  EXPECT_EQ(p.config.replicator.slot_name, "vecmirror");
  EXPECT_EQ(p.config.replicator.conninfo,
            "postgresql://vecmirror@db.internal:5432/app?application_name=vecmirror");
  EXPECT_EQ(p.config.index.hnsw_m, 32);
  EXPECT_DOUBLE_EQ(p.config.index.exact_max_allowed_share, 0.15);
  EXPECT_EQ(p.Setting("listen").source, ConfigSource::kFile);
  EXPECT_EQ(p.Setting("listen").origin, VECMIRROR_SAMPLE_CONFIG);
  EXPECT_EQ(p.Setting("ivf-nlist").source, ConfigSource::kDefault);  // not in the sample
}

TEST_F(ConfigTest, FlagsBeatTheEnvironmentWhichBeatsTheFileWhichBeatsDefaults) {
  const std::string file = WriteFile(
      "listen = \"10.0.0.1:1\"\n"
      "slot = \"from_file\"\n"
      "search-threads = 7\n"
      "models = [\"file-model:768\", \"other:32\"]\n"
      "database_url = \"host=file-db\"  # underscores work too\n");
  env_.Set("VECMIRROR_LISTEN", "10.0.0.2:2");
  env_.Set("VECMIRROR_SLOT", "from_env");
  env_.Set("VECMIRROR_CONFIG", file);  // the file itself may be named by the environment
  const Parsed p = Parse({"--listen", "10.0.0.3:3", "--hnsw-m=12"});
  ASSERT_TRUE(p.ok) << p.message;

  EXPECT_EQ(p.config.server.listen, "10.0.0.3:3");  // flag over environment and file
  EXPECT_EQ(p.Setting("listen").source, ConfigSource::kFlag);
  EXPECT_EQ(p.config.index.hnsw_m, 12);
  EXPECT_EQ(p.Setting("hnsw-m").origin, "--hnsw-m");
  EXPECT_EQ(p.config.replicator.slot_name, "from_env");  // environment over file
  EXPECT_EQ(p.Setting("slot").source, ConfigSource::kEnvironment);
  EXPECT_EQ(p.Setting("slot").origin, "VECMIRROR_SLOT");
  EXPECT_EQ(p.config.service.search_threads, 7);  // file over default
  EXPECT_EQ(p.Setting("search-threads").source, ConfigSource::kFile);
  EXPECT_EQ(p.config.replicator.conninfo, "host=file-db");
  EXPECT_EQ(p.config.replicator.publication, "vecmirror");  // default
  EXPECT_EQ(p.Setting("publication").source, ConfigSource::kDefault);
  // The file's models are added to the four defaults.
  EXPECT_EQ(p.config.models.size(), 6u);
  EXPECT_EQ(p.Setting("models").values, (std::vector<std::string>{"file-model:768", "other:32"}));
}

TEST_F(ConfigTest, DatabaseUrlFollowsLibpqHabits) {
  const std::string file = WriteFile("database-url = \"host=file-db\"\n");
  // The file alone.
  Parsed p = Parse({"--config", file});
  ASSERT_TRUE(p.ok) << p.message;
  EXPECT_EQ(p.config.replicator.conninfo, "host=file-db");
  // DATABASE_URL is the environment: it beats the file.
  env_.Set("DATABASE_URL", "host=plain-env");
  p = Parse({"--config", file});
  EXPECT_EQ(p.config.replicator.conninfo, "host=plain-env");
  EXPECT_EQ(p.Setting("database-url").origin, "DATABASE_URL");
  // VECMIRROR_DATABASE_URL beats DATABASE_URL, and the flag beats both.
  env_.Set("VECMIRROR_DATABASE_URL", "host=our-env");
  p = Parse({"--config", file});
  EXPECT_EQ(p.config.replicator.conninfo, "host=our-env");
  EXPECT_EQ(p.Setting("database-url").origin, "VECMIRROR_DATABASE_URL");
  p = Parse({"--config", file, "--database-url", "host=flag"});
  EXPECT_EQ(p.config.replicator.conninfo, "host=flag");
  // None at all: libpq's PG* variables (an empty conninfo).
  p = Parse({});
  EXPECT_EQ(p.config.replicator.conninfo, "host=our-env");
}

TEST_F(ConfigTest, IniSyntaxWorksForIniFiles) {
  const std::string file =
      WriteFile("; INI comments\nlisten=127.0.0.1:7\nlog-level = debug\n", ".ini");
  const Parsed p = Parse({"--config", file});
  ASSERT_TRUE(p.ok) << p.message;
  EXPECT_EQ(p.config.server.listen, "127.0.0.1:7");
  EXPECT_EQ(p.config.log_level, "debug");
}

TEST_F(ConfigTest, PrintConfigNamesEachSourceAndReadsBackAsAConfigFile) {
  const std::string file = WriteFile("search-threads = 9\nlog-format = \"json\"\n");
  env_.Set("VECMIRROR_HNSW_EF_SEARCH", "99");
  const Parsed printed = Parse({"--config", file, "--print-config", "--models", "a:8,b:16"});
  ASSERT_FALSE(printed.ok);
  EXPECT_EQ(printed.exit_code, 0);
  const std::string& text = printed.message;
  EXPECT_NE(text.find("search-threads = 9"), std::string::npos) << text;
  EXPECT_NE(text.find("# file " + file), std::string::npos) << text;
  EXPECT_NE(text.find("hnsw-ef-search = 99"), std::string::npos) << text;
  EXPECT_NE(text.find("# environment VECMIRROR_HNSW_EF_SEARCH"), std::string::npos) << text;
  EXPECT_NE(text.find("models = [\"a:8\", \"b:16\"]"), std::string::npos) << text;
  EXPECT_NE(text.find("# flag --models"), std::string::npos) << text;
  EXPECT_NE(text.find("slot = \"vecmirror\""), std::string::npos) << text;

  // Fed back as a config file (with nothing else set), it gives the same values.
  env_.Set("VECMIRROR_HNSW_EF_SEARCH", "");
  unsetenv("VECMIRROR_HNSW_EF_SEARCH");
  const Parsed again = Parse({"--config", WriteFile(text)});
  ASSERT_TRUE(again.ok) << again.message;
  const Parsed original =
      Parse({"--config", file, "--models", "a:8,b:16", "--hnsw-ef-search", "99"});
  ASSERT_TRUE(original.ok) << original.message;
  ASSERT_EQ(again.settings.size(), original.settings.size());
  for (size_t i = 0; i < again.settings.size(); ++i) {
    EXPECT_EQ(again.settings[i].name, original.settings[i].name);
    EXPECT_EQ(again.settings[i].values, original.settings[i].values) << again.settings[i].name;
  }
  EXPECT_EQ(again.config.service.search_threads, 9);
  EXPECT_EQ(again.config.index.hnsw_ef_search, 99);
  EXPECT_EQ(again.config.models.size(), 6u);
}

TEST_F(ConfigTest, SecretsAreMaskedInPrintConfig) {
  env_.Set("VECMIRROR_DATABASE_URL", "postgresql://vecmirror:s3cret-pw@db:5432/app");
  const Parsed p = Parse({"--print-config"});
  EXPECT_EQ(p.exit_code, 0);
  EXPECT_EQ(p.message.find("s3cret-pw"), std::string::npos) << p.message;
  EXPECT_NE(p.message.find("postgresql://vecmirror:***@db:5432/app"), std::string::npos)
      << p.message;
}

TEST(MaskConninfoTest, PasswordsGoWhereverTheyAre) {
  EXPECT_EQ(MaskConninfo("postgresql://u:pw@h:5432/db"), "postgresql://u:***@h:5432/db");
  EXPECT_EQ(MaskConninfo("postgres://u@h/db"), "postgres://u@h/db");  // no password
  EXPECT_EQ(MaskConninfo("postgresql://h/db?user=u&password=pw&sslmode=require"),
            "postgresql://h/db?user=u&password=***&sslmode=require");
  EXPECT_EQ(MaskConninfo("postgresql://u:p%40ss@h/db?sslpassword=k"),
            "postgresql://u:***@h/db?sslpassword=***");
  EXPECT_EQ(MaskConninfo("host=h password=pw dbname=db"), "host=h password=*** dbname=db");
  EXPECT_EQ(MaskConninfo("password = 'with space \\' quote' host=h"), "password = *** host=h");
  EXPECT_EQ(MaskConninfo("host=h sslpassword=k"), "host=h sslpassword=***");
  // A user named "password" is not a password.
  EXPECT_EQ(MaskConninfo("user=password host=h"), "user=password host=h");
  EXPECT_EQ(MaskConninfo(""), "");
}

TEST_F(ConfigTest, MistakesAreRefusedWithTheKeyNamed) {
  Parsed p = Parse({"--config", WriteFile("listen = \"a:1\"\nlisten_adress = \"b:2\"\n")});
  EXPECT_FALSE(p.ok);
  EXPECT_EQ(p.exit_code, 2);
  EXPECT_NE(p.message.find("unknown setting \"listen_adress\""), std::string::npos) << p.message;

  p = Parse({"--config", WriteFile("[server]\nlisten = \"a:1\"\n")});
  EXPECT_FALSE(p.ok);
  EXPECT_NE(p.message.find("without [sections]"), std::string::npos) << p.message;

  p = Parse({"--config", WriteFile("max-limit = 1001\n")});  // one past the maximum
  EXPECT_FALSE(p.ok);
  EXPECT_NE(p.message.find("max-limit"), std::string::npos) << p.message;
  EXPECT_TRUE(Parse({"--config", WriteFile("max-limit = 1000\n")}).ok);

  p = Parse({"--config", WriteFile("listen = \"a:1\"\nslot = \"s\"\nlisten = \"a:2\"\n")});
  EXPECT_FALSE(p.ok);
  EXPECT_NE(p.message.find("\"listen\" is set twice"), std::string::npos) << p.message;
  p = Parse({"--config", WriteFile("listen = \"a:1\"\nlisten = \"a:2\"\n")});
  EXPECT_FALSE(p.ok);
  EXPECT_NE(p.message.find("listen"), std::string::npos) << p.message;

  p = Parse({"--config", WriteFile("config = \"other.toml\"\n")});
  EXPECT_FALSE(p.ok);
  EXPECT_NE(p.message.find("unknown setting \"config\""), std::string::npos) << p.message;

  p = Parse({"--config", "/nonexistent/vecmirror.toml"});
  EXPECT_FALSE(p.ok);
  EXPECT_NE(p.exit_code, 0);

  env_.Set("VECMIRROR_LOG_FORMAT", "xml");
  p = Parse({});
  EXPECT_FALSE(p.ok);
  EXPECT_NE(p.message.find("log-format"), std::string::npos) << p.message;
  EXPECT_TRUE(Parse({"--log-format", "json"}).ok);  // the flag overrides the bad environment
}

TEST_F(ConfigTest, VectorStorageIsFp32UnlessFp16OrSq8IsAskedFor) {
  Parsed p = Parse({});
  ASSERT_TRUE(p.ok) << p.message;
  EXPECT_EQ(p.config.index.storage, VectorStorage::kFp32);
  EXPECT_EQ(p.Setting("vector-storage").values, std::vector<std::string>{"fp32"});
  p = Parse({"--vector-storage", "fp16"});
  ASSERT_TRUE(p.ok) << p.message;
  EXPECT_EQ(p.config.index.storage, VectorStorage::kFp16);
  p = Parse({"--config", WriteFile("vector-storage = \"fp16\"\n")});
  ASSERT_TRUE(p.ok) << p.message;
  EXPECT_EQ(p.config.index.storage, VectorStorage::kFp16);
  p = Parse({"--vector-storage", "sq8"});
  ASSERT_TRUE(p.ok) << p.message;
  EXPECT_EQ(p.config.index.storage, VectorStorage::kSq8);
  p = Parse({"--config", WriteFile("vector-storage = \"sq8\"\n")});
  ASSERT_TRUE(p.ok) << p.message;
  EXPECT_EQ(p.config.index.storage, VectorStorage::kSq8);
  p = Parse({"--vector-storage", "bf16"});
  EXPECT_FALSE(p.ok);
  EXPECT_EQ(p.exit_code, 2);
  EXPECT_NE(p.message.find("vector storage \"bf16\"; expected fp32, fp16 or sq8"), std::string::npos)
      << p.message;
}

TEST_F(ConfigTest, IndexKindsAreReadByNameAndAnUnknownOneIsRefused) {
  Parsed p = Parse({"--ann-kind", "ivf", "--force-kind", "flat"});
  ASSERT_TRUE(p.ok) << p.message;
  EXPECT_EQ(p.config.index.ann_kind, IndexKind::kIvf);
  EXPECT_EQ(p.config.index.forced_kind, IndexKind::kFlat);
  for (const char* flag : {"--ann-kind", "--force-kind"}) {
    p = Parse({flag, "annoy"});
    EXPECT_FALSE(p.ok) << flag;
    EXPECT_EQ(p.exit_code, 2) << flag;
    EXPECT_NE(p.message.find("index kind \"annoy\"; expected flat, hnsw or ivf"), std::string::npos)
        << p.message;
  }
}

TEST_F(ConfigTest, TheGraphIsBuiltOnSq8CodesUnlessAnotherStorageIsAskedFor) {
  Parsed p = Parse({});
  ASSERT_TRUE(p.ok) << p.message;
  EXPECT_EQ(p.config.index.hnsw_build_storage, VectorStorage::kSq8);
  EXPECT_EQ(p.Setting("hnsw-build-storage").values, std::vector<std::string>{"sq8"});
  p = Parse({"--hnsw-build-storage", "fp16"});
  ASSERT_TRUE(p.ok) << p.message;
  EXPECT_EQ(p.config.index.hnsw_build_storage, VectorStorage::kFp16);
  p = Parse({"--hnsw-build-storage", "stored"});
  ASSERT_TRUE(p.ok) << p.message;
  EXPECT_FALSE(p.config.index.hnsw_build_storage.has_value());
  p = Parse({"--hnsw-build-storage", "half"});
  EXPECT_FALSE(p.ok);
  EXPECT_EQ(p.exit_code, 2);
  EXPECT_NE(p.message.find("--hnsw-build-storage \"half\"; expected stored, fp32, fp16 or sq8"),
            std::string::npos)
      << p.message;
}

TEST_F(ConfigTest, VectorStorageCanBeChosenPerModel) {
  Parsed p = Parse({"--vector-storage", "fp32,text-embedding-3-large=fp16"});
  ASSERT_TRUE(p.ok) << p.message;
  const IndexOptions& index = p.config.index;
  EXPECT_EQ(index.storage, VectorStorage::kFp32);
  EXPECT_EQ(StorageOf(index, "text-embedding-3-large"), VectorStorage::kFp16);
  EXPECT_EQ(StorageOf(index, "text-embedding-3-small"), VectorStorage::kFp32);
  // The default may come after the overrides, and may itself be compact.
  p = Parse({"--vector-storage", "all-MiniLM-L6-v2=fp32,fp16"});
  ASSERT_TRUE(p.ok) << p.message;
  EXPECT_EQ(StorageOf(p.config.index, "all-MiniLM-L6-v2"), VectorStorage::kFp32);
  EXPECT_EQ(StorageOf(p.config.index, "text-embedding-ada-002"), VectorStorage::kFp16);
  // A model added with --models may be named; one that is in no list may not, unless models
  // are learned from the data.
  p = Parse({"--models", "e5-small:384", "--vector-storage", "e5-small=fp16"});
  ASSERT_TRUE(p.ok) << p.message;
  EXPECT_EQ(StorageOf(p.config.index, "e5-small"), VectorStorage::kFp16);
  p = Parse({"--vector-storage", "e5-small=fp16"});
  EXPECT_FALSE(p.ok);
  EXPECT_EQ(p.exit_code, 2);
  EXPECT_NE(p.message.find("\"e5-small=fp16\" names no model"), std::string::npos) << p.message;
  p = Parse({"--learn-models", "--vector-storage", "e5-small=fp16"});
  ASSERT_TRUE(p.ok) << p.message;
  EXPECT_EQ(StorageOf(p.config.index, "e5-small"), VectorStorage::kFp16);
  // A bad storage in an item is named.
  p = Parse({"--vector-storage", "text-embedding-3-large=fp8"});
  EXPECT_FALSE(p.ok);
  EXPECT_NE(p.message.find("vector storage \"fp8\""), std::string::npos) << p.message;
}

TEST_F(ConfigTest, HelpListsTheEnvironmentVariables) {
  const Parsed p = Parse({"--help"});
  EXPECT_FALSE(p.ok);
  EXPECT_EQ(p.exit_code, 0);
  EXPECT_NE(p.message.find("VECMIRROR_METRICS_LISTEN"), std::string::npos) << p.message;
  EXPECT_NE(p.message.find("VECMIRROR_CONFIG"), std::string::npos);
}

}  // namespace
}  // namespace vecmirror
