// GrpcServer: builds and runs the process's grpc::Server: the listen address, message size
// limits, the standard health service (grpc.health.v1.Health) and server reflection.
//
// Health: both "" (the whole server) and "vecmirror.v1.VectorSearch" report NOT_SERVING from
// Start until SetServing(true). With WatchReadiness, a thread of the server sets them from a
// readiness function instead (main: the first load is complete and the search queue and
// request budget have room), so health goes NOT_SERVING while the server cannot accept work
// and back when it can. Shutdown turns both to NOT_SERVING for good before the server drains.
//
// Threads: the services are callback services (grpc::CallbackService): gRPC runs their handlers
// on its own few threads, and the handlers hand the work to pools of their own, or run a search
// in a free slot of that pool without waiting on a lock (SearchService). No call is refused for
// want of a thread.
//
// The port is exclusive: SO_REUSEPORT is off, so a second server on a port in use fails to
// start instead of sharing the port (and the clients) with the first.
//
// Thread-safety: Start and Shutdown are called once each, from the owner's thread. SetServing
// and bound_port may be called from any thread after Start.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "base/status.h"

namespace vecmirror {

struct GrpcServerOptions {
  // host:port to listen on. Port 0 picks a free port (see bound_port). Default: 127.0.0.1:50051.
  std::string listen = "127.0.0.1:50051";
  // Largest request or response, in bytes (--max-message-bytes): gRPC refuses a larger
  // request before any handler sees it. Default: 16 MiB (a batch of 1000 3072-d queries is
  // about 12 MiB).
  int max_message_bytes = 16 << 20;
  // abseil's mutex deadlock detection, which gRPC's mutexes go through: Debian's abseil is
  // built with it on, and it costs every lock and unlock of gRPC's mutexes a graph look-up
  // (about 4% of the gRPC threads' time). Process-wide: Start sets it for the whole process,
  // to kIgnore when false and kAbort when true. Default: false (off).
  bool mutex_deadlock_detection = false;
  // How often WatchReadiness re-evaluates its function. Default: 100 ms.
  std::chrono::milliseconds readiness_period = std::chrono::milliseconds(100);
};

class GrpcServer {
 public:
  explicit GrpcServer(GrpcServerOptions options = {});
  // Shuts down with no grace period if still running.
  ~GrpcServer();
  GrpcServer(const GrpcServer&) = delete;
  GrpcServer& operator=(const GrpcServer&) = delete;

  // Registers `services` (not owned; they must outlive the server), binds and starts serving
  // with health NOT_SERVING. Fails with IOError when the address can't be bound. `customize`,
  // if set, is called with the builder just before the server is built, to add what the owner
  // wants on every call (the metrics interceptor). `credentials`: how the listener
  // authenticates itself (src/auth/tls_credentials.h builds TLS ones); null serves plaintext.
  Status Start(const std::vector<grpc::Service*>& services,
               const std::function<void(grpc::ServerBuilder&)>& customize = {},
               std::shared_ptr<grpc::ServerCredentials> credentials = nullptr);

  // Sets the health of "" and "vecmirror.v1.VectorSearch".
  void SetServing(bool serving);

  // From now until Shutdown, sets the health to `ready()` every readiness_period (and at once).
  // `ready` is called from the server's own thread and must outlive the server's Shutdown.
  void WatchReadiness(std::function<bool()> ready);

  // Stops accepting calls, lets calls in flight finish until `deadline`, then cancels the
  // rest. Idempotent.
  void Shutdown(std::chrono::system_clock::time_point deadline);

  // Blocks until the server has shut down (from another thread).
  void Wait();

  // The port actually bound (useful with port 0); 0 before Start.
  int bound_port() const { return bound_port_; }

 private:
  const GrpcServerOptions options_;
  void ReadinessLoop(std::function<bool()> ready);

  std::unique_ptr<grpc::Server> server_;
  int bound_port_ = 0;
  bool shut_down_ = false;

  std::mutex readiness_mu_;
  std::condition_variable readiness_cv_;
  bool stop_readiness_ = false;  // guarded by readiness_mu_
  std::thread readiness_thread_;
};

}  // namespace vecmirror
