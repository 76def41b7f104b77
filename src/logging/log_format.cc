#include "src/logging/log_format.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <ctime>

#include <nlohmann/json.hpp>

#include "src/logging/log_fields.h"

namespace vecmirror {
namespace {

constexpr char kClipped[] = "...(clipped)";
constexpr char kTextPattern[] = "%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v";

// The message, clipped, with the clipping said.
std::string ClippedMessage(std::string_view message) {
  if (message.size() <= kMaxLogMessageBytes) return std::string(message);
  return std::string(ClipUtf8(message, kMaxLogMessageBytes)) + kClipped;
}

std::string Rfc3339Utc(spdlog::log_clock::time_point time) {
  const auto since_epoch = time.time_since_epoch();
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch - seconds).count();
  const std::time_t t = seconds.count();
  std::tm utc{};
  gmtime_r(&t, &utc);
  char text[64];
  std::snprintf(text, sizeof(text), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                static_cast<int>(millis));
  return text;
}

// Today's text lines, with the message escaped.
class TextLogFormatter final : public spdlog::formatter {
 public:
  TextLogFormatter() : pattern_(kTextPattern) {}

  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const std::string escaped =
        EscapeTextLogMessage(std::string_view(msg.payload.data(), msg.payload.size()));
    spdlog::details::log_msg copy = msg;
    copy.payload = spdlog::string_view_t(escaped.data(), escaped.size());
    pattern_.format(copy, dest);
    // The color sink reads where the level's color goes from the message it passed in.
    msg.color_range_start = copy.color_range_start;
    msg.color_range_end = copy.color_range_end;
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<TextLogFormatter>();
  }

 private:
  spdlog::pattern_formatter pattern_;
};

class JsonLogFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    nlohmann::ordered_json line;
    line["time"] = Rfc3339Utc(msg.time);
    const auto level = spdlog::level::to_string_view(msg.level);
    line["level"] = std::string(level.data(), level.size());
    line["message"] = ClippedMessage(std::string_view(msg.payload.data(), msg.payload.size()));
    for (const LogField& field : CurrentLogFields()) {
      if (field.first == "time" || field.first == "level" || field.first == "message") continue;
      line[field.first] = field.second;
    }
    const std::string text =
        line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
    dest.append(text.data(), text.data() + text.size());
    dest.push_back('\n');
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonLogFormatter>();
  }
};

}  // namespace

Status ParseLogFormat(std::string_view text, LogFormat* format) {
  if (text == "text") *format = LogFormat::kText;
  else if (text == "json") *format = LogFormat::kJson;
  else return Status::InvalidArgument("log format \"" + std::string(text) +
                                      "\"; expected text or json");
  return Status::Ok();
}

void ConfigureLogging(LogFormat format, const std::string& level) {
  spdlog::set_level(spdlog::level::from_str(level));
  spdlog::set_formatter(format == LogFormat::kJson ? NewJsonLogFormatter()
                                                   : NewTextLogFormatter());
}

std::string_view ClipUtf8(std::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  size_t end = max_bytes;
  // Back up over continuation bytes (10xxxxxx) to the start of the sequence that doesn't fit.
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return text.substr(0, end);
}

std::string EscapeTextLogMessage(std::string_view message) {
  const bool clipped = message.size() > kMaxLogMessageBytes;
  message = ClipUtf8(message, kMaxLogMessageBytes);
  std::string out;
  out.reserve(message.size());
  for (char c : message) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else if (c == '\t') out += "\\t";
    else if (byte < 0x20 || byte == 0x7F) {
      char hex[8];
      std::snprintf(hex, sizeof(hex), "\\x%02x", byte);
      out += hex;
    } else {
      out.push_back(c);
    }
  }
  if (clipped) out += kClipped;
  return out;
}

std::unique_ptr<spdlog::formatter> NewTextLogFormatter() {
  return std::make_unique<TextLogFormatter>();
}

std::unique_ptr<spdlog::formatter> NewJsonLogFormatter() {
  return std::make_unique<JsonLogFormatter>();
}

}  // namespace vecmirror
