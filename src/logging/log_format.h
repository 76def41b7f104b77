// The server's log lines, in one of two formats (--log-format):
//
//   text  2025-06-11T14:03:07.412 info first load complete: health SERVING
//   json  {"time":"2025-06-11T12:03:07.412Z","level":"info","message":"first load complete: ...",
//          "tenant":"...","model":"...","lsn":"16/B374D848","duration_seconds":1.5}
//
// JSON lines are one object per line: time (UTC, RFC 3339, milliseconds), level, message, then
// the fields of log_fields.h. Either way a message can't break out of its line: JSON escapes
// it (invalid UTF-8 becomes U+FFFD), text escapes control characters (\n, \t, \x1b ...), and
// both clip a message past kMaxLogMessageBytes on a UTF-8 boundary. Values echoed from the
// database (model names, errors) therefore can't forge a log line.
//
// Thread-safety: ConfigureLogging is called once at start-up, before other threads log. The
// formatters are used by spdlog under its sink locks.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <spdlog/formatter.h>

#include "base/status.h"

namespace vecmirror {

enum class LogFormat { kText, kJson };

// "text" or "json".
Status ParseLogFormat(std::string_view text, LogFormat* format);

// Sets the default logger's format and level ("trace" ... "off", as spdlog names them; "warn"
// works too).
void ConfigureLogging(LogFormat format, const std::string& level);

// Longest message written, in bytes; longer ones are clipped and end in "...(clipped)".
inline constexpr size_t kMaxLogMessageBytes = 16 * 1024;

// `text` cut to at most `max_bytes` without splitting a UTF-8 sequence.
std::string_view ClipUtf8(std::string_view text, size_t max_bytes);

// Control characters as C escapes (\n, \r, \t, \xHH; a backslash stays as it is), clipped to
// kMaxLogMessageBytes.
std::string EscapeTextLogMessage(std::string_view message);

std::unique_ptr<spdlog::formatter> NewTextLogFormatter();
std::unique_ptr<spdlog::formatter> NewJsonLogFormatter();

}  // namespace vecmirror
