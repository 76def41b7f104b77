// Status: the result of an operation, as a value. Errors cross module boundaries as a Status
// with a message that names what was wrong; no exception escapes index/ or src/ public APIs.
//
// Thread-safety: const methods may be called concurrently; a Status is a plain value.
#pragma once

#include <string>
#include <utility>

namespace vecmirror {

class Status {
 public:
  enum class Code {
    kOk,
    kInvalidArgument,
    kNotFound,
    kCorruption,
    kIOError,
    kUnavailable,
    kDeadlineExceeded,
    kFailedPrecondition,
    kInternal,
    kResourceExhausted,
    kUnauthenticated,    // no credentials, or credentials the server does not know
    kPermissionDenied,   // known credentials that do not cover what the call asks for
    kAlreadyExists,      // what the call would create is there already (e.g. a running rebuild)
  };

  Status() = default;
  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string msg) { return {Code::kInvalidArgument, std::move(msg)}; }
  static Status NotFound(std::string msg) { return {Code::kNotFound, std::move(msg)}; }
  static Status Corruption(std::string msg) { return {Code::kCorruption, std::move(msg)}; }
  static Status IOError(std::string msg) { return {Code::kIOError, std::move(msg)}; }
  static Status Unavailable(std::string msg) { return {Code::kUnavailable, std::move(msg)}; }
  static Status DeadlineExceeded(std::string msg) { return {Code::kDeadlineExceeded, std::move(msg)}; }
  static Status FailedPrecondition(std::string msg) { return {Code::kFailedPrecondition, std::move(msg)}; }
  static Status Internal(std::string msg) { return {Code::kInternal, std::move(msg)}; }
  // Past a configured serving bound; the message names the bound.
  static Status ResourceExhausted(std::string msg) { return {Code::kResourceExhausted, std::move(msg)}; }
  static Status Unauthenticated(std::string msg) { return {Code::kUnauthenticated, std::move(msg)}; }
  static Status PermissionDenied(std::string msg) { return {Code::kPermissionDenied, std::move(msg)}; }
  static Status AlreadyExists(std::string msg) { return {Code::kAlreadyExists, std::move(msg)}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  std::string ToString() const;

 private:
  Status(Code code, std::string msg) : code_(code), message_(std::move(msg)) {}
  Code code_ = Code::kOk;
  std::string message_;
};

inline std::string Status::ToString() const {
  static const char* const kNames[] = {"OK",          "InvalidArgument",  "NotFound",
                                       "Corruption",  "IOError",          "Unavailable",
                                       "DeadlineExceeded", "FailedPrecondition", "Internal",
                                       "ResourceExhausted", "Unauthenticated",
                                       "PermissionDenied", "AlreadyExists"};
  if (ok()) return "OK";
  return std::string(kNames[static_cast<int>(code_)]) + ": " + message_;
}

}  // namespace vecmirror
