// GrpcServer: builds and runs the process's grpc::Server: the listen address, the thread
// budget, message size limits, the standard health service (grpc.health.v1.Health) and server
// reflection.
//
// Health: both "" (the whole server) and "vecmirror.v1.VectorSearch" report NOT_SERVING from
// Start until SetServing(true), which the owner calls once the first full load is complete.
// Shutdown turns both to NOT_SERVING for good before the server drains.
//
// Threads: the synchronous server runs each call in a thread of its own, up to
// GrpcServerOptions::threads; a call that arrives when all are busy is refused with
// RESOURCE_EXHAUSTED rather than queued, so overload shows at the client instead of as
// unbounded latency.
//
// Thread-safety: Start and Shutdown are called once each, from the owner's thread. SetServing
// and bound_port may be called from any thread after Start.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "base/status.h"

namespace vecmirror {

struct GrpcServerOptions {
  // host:port to listen on. Port 0 picks a free port (see bound_port). Default: 127.0.0.1:50051.
  std::string listen = "127.0.0.1:50051";
  // Most threads serving calls at once. Default: 0 = four per hardware thread, at least 16.
  int threads = 0;
  // Largest request or response, in bytes. Default: 64 MiB (a batch of 1000 3072-d queries is
  // about 12 MiB).
  int max_message_bytes = 64 << 20;
};

// The thread budget `threads` resolves to on this machine.
int ResolveServerThreads(int threads);

class GrpcServer {
 public:
  explicit GrpcServer(GrpcServerOptions options = {});
  // Shuts down with no grace period if still running.
  ~GrpcServer();
  GrpcServer(const GrpcServer&) = delete;
  GrpcServer& operator=(const GrpcServer&) = delete;

  // Registers `services` (not owned; they must outlive the server), binds and starts serving
  // with health NOT_SERVING. Fails with IOError when the address can't be bound.
  // `credentials`: how the listener authenticates itself (src/auth/tls_credentials.h builds
  // TLS ones); null serves plaintext.
  Status Start(const std::vector<grpc::Service*>& services,
               std::shared_ptr<grpc::ServerCredentials> credentials = nullptr);

  // Sets the health of "" and "vecmirror.v1.VectorSearch".
  void SetServing(bool serving);

  // Stops accepting calls, lets calls in flight finish until `deadline`, then cancels the
  // rest. Idempotent.
  void Shutdown(std::chrono::system_clock::time_point deadline);

  // Blocks until the server has shut down (from another thread).
  void Wait();

  // The port actually bound (useful with port 0); 0 before Start.
  int bound_port() const { return bound_port_; }

 private:
  const GrpcServerOptions options_;
  std::unique_ptr<grpc::Server> server_;
  int bound_port_ = 0;
  bool shut_down_ = false;
};

}  // namespace vecmirror
