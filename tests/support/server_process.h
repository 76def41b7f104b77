// ServerProcess: runs the real vecmirror-server binary as a child process for integration
// tests, on a free loopback port, with its log in a file; and a gRPC client to it.
//
// Thread-safety: one test thread.
#pragma once

#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "vecmirror/v1/vecmirror.grpc.pb.h"

namespace vecmirror::testing {

// A port nothing listens on right now (bound to 127.0.0.1:0, then released).
inline int FreeLoopbackPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  const int port = ntohs(addr.sin_port);
  close(fd);
  return port;
}

inline std::string BinaryDir() {
  const char* dir = std::getenv("VECMIRROR_BINARY_DIR");
  if (!dir) throw std::runtime_error("VECMIRROR_BINARY_DIR is not set (run the test through ctest)");
  return dir;
}

class ServerProcess {
 public:
  // `args` are extra flags after --database-url and --listen. `binary` and `log_path` default
  // to the build tree's server (VECMIRROR_BINARY_DIR) and a log file beside the tests.
  ServerProcess(std::string conninfo, std::vector<std::string> args = {}, std::string binary = "",
                std::string log_path = "")
      : conninfo_(std::move(conninfo)),
        args_(std::move(args)),
        binary_(std::move(binary)),
        log_path_(std::move(log_path)) {}
  ~ServerProcess() { Kill(SIGKILL); }

  // Listens on `port` instead of a free one picked by Start (call before Start).
  void UsePort(int port) { port_ = port; }

  void Start() {
    if (port_ == 0) port_ = FreeLoopbackPort();
    if (binary_.empty()) binary_ = BinaryDir() + "/src/vecmirror-server";
    if (log_path_.empty()) {
      log_path_ = BinaryDir() + "/tests/server-" + std::to_string(getpid()) + "-" +
                  std::to_string(port_) + ".log";
    }
    std::vector<std::string> argv = {binary_, "--database-url", conninfo_, "--listen", address()};
    argv.insert(argv.end(), args_.begin(), args_.end());
    pid_ = fork();
    if (pid_ == 0) {
      FILE* log = std::fopen(log_path_.c_str(), "a");
      if (log) {
        dup2(fileno(log), STDOUT_FILENO);
        dup2(fileno(log), STDERR_FILENO);
      }
      std::vector<char*> raw;
      for (auto& a : argv) raw.push_back(a.data());
      raw.push_back(nullptr);
      execv(raw[0], raw.data());
      _exit(127);
    }
    // The server is not listening yet: without short reconnect backoffs the channel's first
    // failure would delay every later call by gRPC's default backoff (about 1 s, growing).
    grpc::ChannelArguments channel_args;
    channel_args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 50);
    channel_args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 50);
    channel_args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 250);
    channel_ = grpc::CreateCustomChannel(address(), grpc::InsecureChannelCredentials(), channel_args);
    stub_ = v1::VectorSearch::NewStub(channel_);
  }

  // Signals the server and reaps it. SIGKILL is a crash; SIGTERM a graceful stop.
  void Kill(int signal) {
    if (pid_ <= 0) return;
    ::kill(pid_, signal);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  // Only sends the signal; WaitExit then says how the process ended.
  void Signal(int signal) {
    if (pid_ > 0) ::kill(pid_, signal);
  }

  bool running() const { return pid_ > 0; }

  // Waits for the process to exit on its own; its exit code, or nullopt on timeout (the process
  // keeps running) or if it died of a signal.
  std::optional<int> WaitExit(std::chrono::seconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (pid_ > 0 && std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        if (WIFEXITED(status)) return WEXITSTATUS(status);
        return std::nullopt;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return std::nullopt;
  }

  // Waits until the first load is complete and the mirror follows the stream (GetMirrorStatus
  // says loaded, and state "streaming": the state turns a moment after the load completes, and
  // tests read both). False on timeout or if the process died.
  bool WaitLoaded(std::chrono::seconds timeout = std::chrono::seconds(120)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (pid_ > 0 && waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
      }
      // wait_for_ready: the call waits (up to its deadline) while the channel connects, and
      // meanwhile polls the connection attempt. A fail-fast call returns at once while the
      // channel is in TRANSIENT_FAILURE, leaving the attempt to gRPC's backup poller, which runs
      // every 5 s; with the backoffs above an attempt gets at most 250 ms, so attempts timed
      // out unpolled and a server loaded in a second was seen loaded 5 or 10 s later.
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(1));
      context.set_wait_for_ready(true);
      v1::MirrorStatus mirror;
      if (stub_->GetMirrorStatus(&context, v1::GetMirrorStatusRequest(), &mirror).ok() &&
          mirror.loaded() && mirror.state() == "streaming") {
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

  v1::MirrorStatus Status() {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    v1::MirrorStatus mirror;
    stub_->GetMirrorStatus(&context, v1::GetMirrorStatusRequest(), &mirror);
    return mirror;
  }

  std::string Log() const {
    std::ifstream in(log_path_);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  pid_t pid() const { return pid_; }
  v1::VectorSearch::Stub& stub() { return *stub_; }

 private:
  std::string conninfo_;
  std::vector<std::string> args_;
  std::string binary_;
  std::string log_path_;
  int port_ = 0;
  pid_t pid_ = -1;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::VectorSearch::Stub> stub_;
};

}  // namespace vecmirror::testing
