#include "src/metrics/service_metrics.h"

#include <chrono>

#include "src/metrics/build_info.h"
#include "src/metrics/process_metrics.h"
#include "src/metrics/state_metrics.h"

namespace vecmirror::metrics {

ServiceMetrics::ServiceMetrics(MetricsOptions options)
    : options_(std::move(options)), grpc_(registry_), rebuilds_(registry_) {
  registry_.AddCollector(
      [info = CurrentBuildInfo()](TextWriter& out) { WriteBuildInfo(info, out); });
  registry_.AddCollector(WriteProcessMetrics);
}

ServiceMetrics::~ServiceMetrics() { StopHttp(); }

void ServiceMetrics::Watch(const Registry& registry, const MirrorStatusBoard& board) {
  registry_.AddCollector([&board](TextWriter& out) {
    WriteMirrorMetrics(board.Get(), std::chrono::system_clock::now(), out);
  });
  registry_.AddCollector([&registry, per_index = options_.per_index](TextWriter& out) {
    WriteIndexMetrics(registry.List(), per_index, out);
  });
}

void ServiceMetrics::InstallInterceptors(grpc::ServerBuilder& builder) {
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> creators;
  creators.push_back(grpc_.NewInterceptorFactory());
  builder.experimental().SetInterceptorCreators(std::move(creators));
}

Status ServiceMetrics::StartHttp() {
  if (options_.listen.empty() || http_) return Status::Ok();
  auto http = std::make_unique<MetricsHttpServer>([this] { return Render(); });
  if (Status s = http->Start(options_.listen); !s.ok()) return s;
  http_ = std::move(http);
  return Status::Ok();
}

void ServiceMetrics::StopHttp() {
  if (http_) http_->Stop();
  http_.reset();
}

}  // namespace vecmirror::metrics
