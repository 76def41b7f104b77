// ServiceMetrics: every metric of vecmirror-server in one registry, and the endpoint that serves
// them (--metrics-listen). What it holds:
//   - gRPC calls by method and code, latency histograms, calls in flight (grpc_metrics.h), via
//     a server interceptor that InstallInterceptors adds to the gRPC server;
//   - index rebuilds and their durations (rebuild_metrics.h), fed by RecordRebuild;
//   - at scrape time: the mirror's and the indexes' state (state_metrics.h), the build
//     (build_info.h) and the process (process_metrics.h).
//
//   ServiceMetrics metrics(config.metrics);
//   options.on_rebuild_progress = ... metrics.RecordRebuild(p) ...;
//   Registry registry(options);
//   metrics.Watch(registry, board);
//   server_options.customize_builder = [&](auto& b) { metrics.InstallInterceptors(b); };
//   metrics.StartHttp();
//
// Thread-safety: RecordRebuild, grpc() and Render may be used from any thread; Watch,
// StartHttp and StopHttp from the owner's thread. The Registry and MirrorStatusBoard passed to
// Watch must outlive the endpoint (StopHttp, or destruction).
#pragma once

#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "index/registry.h"
#include "src/metrics/grpc_metrics.h"
#include "src/metrics/http_exporter.h"
#include "src/metrics/metric_registry.h"
#include "src/metrics/rebuild_metrics.h"
#include "src/mirror_status.h"

namespace vecmirror::metrics {

struct MetricsOptions {
  // host:port of the HTTP endpoint serving /metrics. Default: empty, no endpoint. Port 0 picks a
  // free port (see http_port).
  std::string listen;
  // Export per-index series (labels tenant, model, dimension). With many thousands of tenants
  // turn this off and keep the sums by kind. Default: true.
  bool per_index = true;
};

class ServiceMetrics {
 public:
  explicit ServiceMetrics(MetricsOptions options = {});
  ~ServiceMetrics();

  // Renders the state of `registry` and `board` at every scrape.
  void Watch(const Registry& registry, const MirrorStatusBoard& board);

  // Adds the interceptor that records every call to `builder`.
  void InstallInterceptors(grpc::ServerBuilder& builder);

  void RecordRebuild(const RebuildProgress& progress) { rebuilds_.Record(progress); }
  GrpcServerMetrics& grpc() { return grpc_; }

  // The whole exposition, as /metrics serves it.
  std::string Render() const { return registry_.Render(); }

  // Starts the endpoint if options.listen is set (else does nothing and returns Ok).
  Status StartHttp();
  void StopHttp();
  // The endpoint's port; 0 when it is not running.
  int http_port() const { return http_ ? http_->bound_port() : 0; }

 private:
  const MetricsOptions options_;
  MetricRegistry registry_;
  GrpcServerMetrics grpc_;
  RebuildMetrics rebuilds_;
  std::unique_ptr<MetricsHttpServer> http_;
};

}  // namespace vecmirror::metrics
