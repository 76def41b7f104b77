// src/logging: JSON lines (one object per line, fields, escaping, invalid UTF-8), text lines
// with control characters escaped, clipping on UTF-8 boundaries, and scoped fields.
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <memory>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "src/logging/log_fields.h"
#include "src/logging/log_format.h"

namespace vecmirror {
namespace {

// A logger writing into a string with the given formatter.
struct CapturedLogger {
  explicit CapturedLogger(std::unique_ptr<spdlog::formatter> formatter) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
    sink->set_formatter(std::move(formatter));
    logger = std::make_shared<spdlog::logger>("test", sink);
    logger->set_level(spdlog::level::trace);
  }
  std::vector<std::string> Lines() const {
    std::vector<std::string> lines;
    std::istringstream in(out.str());
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  }
  std::ostringstream out;
  std::shared_ptr<spdlog::logger> logger;
};

std::vector<nlohmann::json> JsonLines(const CapturedLogger& log) {
  std::vector<nlohmann::json> objects;
  for (const std::string& line : log.Lines()) {
    objects.push_back(nlohmann::json::parse(line));  // throws (fails the test) if malformed
  }
  return objects;
}

TEST(LogFormatTest, JsonLinesHoldTimeLevelMessageAndFields) {
  CapturedLogger log(NewJsonLogFormatter());
  const auto before = std::chrono::system_clock::now();
  {
    ScopedLogFields outer({{"tenant", "7c9e6679-7425-40de-944b-e07fc1f90ae7"}, {"rows", 3}});
    ScopedLogFields inner({{"duration_seconds", 1.25}, {"rows", 5}, {"rebuilding", true}});
    log.logger->info("rebuild {} done", "x");
  }
  log.logger->warn("no fields");
  const std::vector<nlohmann::json> lines = JsonLines(log);
  ASSERT_EQ(lines.size(), 2u);
  const nlohmann::json& first = lines[0];
  EXPECT_EQ(first["level"], "info");
  EXPECT_EQ(first["message"], "rebuild x done");
  EXPECT_EQ(first["tenant"], "7c9e6679-7425-40de-944b-e07fc1f90ae7");
  EXPECT_EQ(first["rows"], 5);  // the inner scope wins
  EXPECT_EQ(first["duration_seconds"], 1.25);
  EXPECT_EQ(first["rebuilding"], true);
  // The keys come in a fixed order: time, level, message, then the fields.
  EXPECT_EQ(log.Lines()[0].rfind("{\"time\":\"", 0), 0u) << log.Lines()[0];
  const std::string time = first["time"];
  EXPECT_TRUE(std::regex_match(time, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")))
      << time;
  const std::time_t t = std::chrono::system_clock::to_time_t(before);
  std::tm utc{};
  gmtime_r(&t, &utc);
  char year[16];
  std::snprintf(year, sizeof(year), "%04d-", utc.tm_year + 1900);
  EXPECT_EQ(time.rfind(year, 0), 0u) << time;  // UTC, this year

  EXPECT_EQ(lines[1]["level"], "warning");
  EXPECT_FALSE(lines[1].contains("tenant"));  // the scope ended
  EXPECT_TRUE(CurrentLogFields().empty());
}

TEST(LogFormatTest, AMessageCannotForgeAJsonLine) {
  CapturedLogger log(NewJsonLogFormatter());
  const std::string model = "evil\"}\n{\"level\":\"critical\",\"message\":\"forged\"}\r\x1b[31m";
  {
    ScopedLogFields fields({{"model", model}});
    log.logger->warn("unknown model {}", model);
  }
  log.logger->info("bytes {}", std::string("\xff\xfe ok \xe2\x82", 8));  // not UTF-8
  const std::vector<std::string> raw = log.Lines();
  ASSERT_EQ(raw.size(), 2u) << log.out.str();
  const std::vector<nlohmann::json> lines = JsonLines(log);
  EXPECT_EQ(lines[0]["message"], "unknown model " + model);  // exact after unescaping
  EXPECT_EQ(lines[0]["model"], model);
  EXPECT_EQ(lines[0]["level"], "warning");
  const std::string replaced = lines[1]["message"];
  EXPECT_NE(replaced.find(" ok "), std::string::npos);
  EXPECT_NE(replaced.find("\xef\xbf\xbd"), std::string::npos);  // U+FFFD
}

TEST(LogFormatTest, TextLinesEscapeControlCharacters) {
  CapturedLogger log(NewTextLogFormatter());
  log.logger->error("line one\nforged line\ttab \x1b[31m del\x7f back\\slash");
  const std::vector<std::string> lines = log.Lines();
  ASSERT_EQ(lines.size(), 1u) << log.out.str();
  EXPECT_TRUE(std::regex_search(
      lines[0], std::regex(R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3} error )")))
      << lines[0];
  EXPECT_NE(lines[0].find("line one\\nforged line\\ttab \\x1b[31m del\\x7f back\\slash"),
            std::string::npos)
      << lines[0];
}

TEST(LogFormatTest, LongMessagesAreClippedOnUtf8Boundaries) {
  // "é" is two bytes; 'a' + n x "é" puts a boundary between bytes of one character.
  std::string text = "a";
  for (int i = 0; i < 10; ++i) text += "\xc3\xa9";
  EXPECT_EQ(ClipUtf8(text, 100), text);
  EXPECT_EQ(ClipUtf8(text, 3), "a\xc3\xa9");
  EXPECT_EQ(ClipUtf8(text, 4), "a\xc3\xa9");  // not half an é
  EXPECT_EQ(ClipUtf8(text, 1), "a");
  EXPECT_EQ(ClipUtf8("\xe2\x82\xac", 2), "");  // a lone 3-byte € does not fit in 2

  const std::string long_message(kMaxLogMessageBytes + 1, 'x');
  const std::string escaped = EscapeTextLogMessage(long_message);
  EXPECT_EQ(escaped, std::string(kMaxLogMessageBytes, 'x') + "...(clipped)");
  EXPECT_EQ(EscapeTextLogMessage(std::string(kMaxLogMessageBytes, 'y')),
            std::string(kMaxLogMessageBytes, 'y'));  // at the limit: kept whole

  CapturedLogger log(NewJsonLogFormatter());
  log.logger->info("{}", long_message);
  const std::vector<nlohmann::json> lines = JsonLines(log);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["message"], std::string(kMaxLogMessageBytes, 'x') + "...(clipped)");
}

TEST(LogFormatTest, FieldsBelongToTheirThread) {
  CapturedLogger log(NewJsonLogFormatter());
  ScopedLogFields mine({{"tenant", "main"}});
  std::thread other([&] { log.logger->info("from the other thread"); });
  other.join();
  const auto previous = spdlog::default_logger();
  spdlog::set_default_logger(log.logger);  // LogWithFields writes to the default logger
  LogWithFields({{"lsn", "16/B374D848"}}, spdlog::level::info, "streaming from {}", "16/B374D848");
  spdlog::set_default_logger(previous);
  const std::vector<nlohmann::json> lines = JsonLines(log);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_FALSE(lines[0].contains("tenant"));
  EXPECT_EQ(lines[1]["tenant"], "main");
  EXPECT_EQ(lines[1]["lsn"], "16/B374D848");
  EXPECT_EQ(CurrentLogFields().size(), 1u);  // LogWithFields' field is gone again
}

TEST(LogFormatTest, FormatNamesParse) {
  LogFormat format = LogFormat::kJson;
  ASSERT_TRUE(ParseLogFormat("text", &format).ok());
  EXPECT_EQ(format, LogFormat::kText);
  ASSERT_TRUE(ParseLogFormat("json", &format).ok());
  EXPECT_EQ(format, LogFormat::kJson);
  EXPECT_FALSE(ParseLogFormat("JSON ", &format).ok());
}

}  // namespace
}  // namespace vecmirror
