#include "src/metrics/http_exporter.h"

#include <httplib.h>

#include <charconv>
#include <chrono>

namespace vecmirror::metrics {
namespace {

constexpr char kContentType[] = "text/plain; version=0.0.4; charset=utf-8";
// Scrapes are rare and cheap; two threads let one scrape run while another connection waits.
constexpr size_t kThreads = 2;

}  // namespace

Status ParseListenAddress(const std::string& listen, std::string* host, int* port) {
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return Status::InvalidArgument("metrics address \"" + listen + "\"; expected host:port");
  }
  std::string h = listen.substr(0, colon);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  const std::string p = listen.substr(colon + 1);
  int value = -1;
  const auto [end, error] = std::from_chars(p.data(), p.data() + p.size(), value);
  if (h.empty() || p.empty() || error != std::errc() || end != p.data() + p.size() || value < 0 ||
      value > 65535) {
    return Status::InvalidArgument("metrics address \"" + listen +
                                   "\"; expected host:port with a port from 0 to 65535");
  }
  *host = std::move(h);
  *port = value;
  return Status::Ok();
}

MetricsHttpServer::MetricsHttpServer(std::function<std::string()> render)
    : render_(std::move(render)) {}

MetricsHttpServer::~MetricsHttpServer() { Stop(); }

Status MetricsHttpServer::Start(const std::string& listen) {
  if (server_) return Status::FailedPrecondition("metrics server already started");
  std::string host;
  int port = 0;
  if (Status s = ParseListenAddress(listen, &host, &port); !s.ok()) return s;

  auto server = std::make_unique<httplib::Server>();
  server->new_task_queue = [] { return new httplib::ThreadPool(kThreads); };
  // httplib's default adds SO_REUSEPORT, which would let a second process share the port and
  // take half the scrapes; a port in use must fail instead.
  server->set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  server->Get("/metrics", [this](const httplib::Request&, httplib::Response& response) {
    response.set_content(render_(), kContentType);
  });
  server->Get("/", [](const httplib::Request&, httplib::Response& response) {
    response.set_content("vecmirror: metrics at /metrics\n", "text/plain; charset=utf-8");
  });

  const int bound =
      port == 0 ? server->bind_to_any_port(host) : (server->bind_to_port(host, port) ? port : -1);
  if (bound <= 0) {
    return Status::IOError("metrics server could not listen on " + listen +
                           " (address in use, or not a local address?)");
  }
  httplib::Server* raw = server.get();
  thread_ = std::thread([raw] { raw->listen_after_bind(); });
  // stop() only takes effect once the accept loop runs; wait for it so Stop never hangs.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!raw->is_running() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  server_ = std::move(server);
  bound_port_ = bound;
  return Status::Ok();
}

void MetricsHttpServer::Stop() {
  if (!server_) return;
  server_->stop();
  if (thread_.joinable()) thread_.join();
  server_.reset();
}

}  // namespace vecmirror::metrics
