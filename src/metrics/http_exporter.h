// MetricsHttpServer: the Prometheus scrape endpoint, an HTTP server of its own (cpp-httplib) on
// a port apart from the gRPC API, so scrapes never take a gRPC thread and the port can be
// firewalled on its own.
//
//   GET /metrics   the text exposition (Content-Type: text/plain; version=0.0.4)
//   GET /          a line saying where the metrics are
//   anything else  404
//
// The render function runs in one of the server's two threads, once per scrape.
//
// Thread-safety: Start and Stop are called from the owner's thread; bound_port from any thread
// after Start.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "base/status.h"

namespace httplib {
class Server;
}

namespace vecmirror::metrics {

// Splits "host:port" ("127.0.0.1:9464", "[::1]:9464", "0.0.0.0:0"). The port is 0 to 65535; an
// IPv6 host loses its brackets.
Status ParseListenAddress(const std::string& listen, std::string* host, int* port);

class MetricsHttpServer {
 public:
  explicit MetricsHttpServer(std::function<std::string()> render);
  // Stops the server if running.
  ~MetricsHttpServer();
  MetricsHttpServer(const MetricsHttpServer&) = delete;
  MetricsHttpServer& operator=(const MetricsHttpServer&) = delete;

  // Binds `listen` (host:port; port 0 picks a free one) and serves in a thread of its own.
  // InvalidArgument for a malformed address, IOError when it can't be bound.
  Status Start(const std::string& listen);

  // Stops accepting, finishes the scrape in progress and joins the thread. Idempotent.
  void Stop();

  // The port bound; 0 before Start.
  int bound_port() const { return bound_port_; }

 private:
  const std::function<std::string()> render_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int bound_port_ = 0;
};

}  // namespace vecmirror::metrics
