// Quoting for values a request or a row put into a message or a log line.
//
// A client controls the text of a request's fields, and the database's rows are the
// application's: echoed as they are, a newline forges a log line, a megabyte fills the log, and a
// cut in the middle of a UTF-8 character leaves invalid text behind. QuoteForEcho makes any byte
// string safe to echo: clipped on a UTF-8 character boundary, control characters and invalid
// bytes escaped, and quoted.
//
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace vecmirror {

// Default: at most 64 characters of the value are kept.
inline constexpr size_t kEchoMaxChars = 64;

// "\"value\"", or "\"first 64 characters...\" (1048576 bytes)" when longer. Within the quotes:
// a backslash and a double quote are escaped with a backslash; \n, \r and \t as such; other
// control characters (C0, DEL, C1) and bytes that are not well-formed UTF-8 as \xNN. Whole
// UTF-8 characters only: a multi-byte character is never cut.
std::string QuoteForEcho(std::string_view value, size_t max_chars = kEchoMaxChars);

}  // namespace vecmirror
