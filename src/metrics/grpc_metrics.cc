#include "src/metrics/grpc_metrics.h"

#include <chrono>
#include <string_view>

namespace vecmirror::metrics {
namespace {

using grpc::experimental::InterceptionHookPoints;

// Times one call from its arrival (when gRPC creates the interceptor) to its status.
class CallMetricsInterceptor final : public grpc::experimental::Interceptor {
 public:
  CallMetricsInterceptor(GrpcServerMetrics& metrics, GrpcServerMetrics::MethodSeries& series)
      : metrics_(metrics), series_(series), start_(std::chrono::steady_clock::now()) {
    series_.started->Increment();
    series_.in_flight->Add(1);
  }

  // A call that ends without sending a status (its client went away first) counts as
  // CANCELLED.
  ~CallMetricsInterceptor() override { Finish(static_cast<int>(grpc::StatusCode::CANCELLED)); }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      Finish(static_cast<int>(methods->GetSendStatus().error_code()));
    }
    methods->Proceed();
  }

 private:
  void Finish(int code) {
    if (finished_) return;
    finished_ = true;
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    series_.latency->Observe(seconds);
    series_.in_flight->Add(-1);
    metrics_.RecordHandled(series_, code);
  }

  GrpcServerMetrics& metrics_;
  GrpcServerMetrics::MethodSeries& series_;
  const std::chrono::steady_clock::time_point start_;
  bool finished_ = false;
};

class CallMetricsFactory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit CallMetricsFactory(GrpcServerMetrics& metrics) : metrics_(metrics) {}

  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new CallMetricsInterceptor(metrics_, metrics_.SeriesFor(info->method()));
  }

 private:
  GrpcServerMetrics& metrics_;
};

}  // namespace

const char* GrpcCodeName(int code) {
  static constexpr const char* kNames[] = {
      "OK",        "CANCELLED",          "UNKNOWN",           "INVALID_ARGUMENT",
      "DEADLINE_EXCEEDED", "NOT_FOUND",  "ALREADY_EXISTS",    "PERMISSION_DENIED",
      "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
      "UNIMPLEMENTED", "INTERNAL",       "UNAVAILABLE",       "DATA_LOSS",
      "UNAUTHENTICATED"};
  if (code < 0 || code >= static_cast<int>(std::size(kNames))) return "UNKNOWN";
  return kNames[code];
}

GrpcServerMetrics::GrpcServerMetrics(MetricRegistry& registry)
    : started_(registry.AddCounter("vecmirror_grpc_server_started_total",
                                   "gRPC calls received, by service and method.",
                                   {"grpc_service", "grpc_method"})),
      handled_(registry.AddCounter("vecmirror_grpc_server_handled_total",
                                   "gRPC calls finished, by service, method and status code.",
                                   {"grpc_service", "grpc_method", "grpc_code"})),
      latency_(registry.AddHistogram(
          "vecmirror_grpc_server_handling_seconds",
          "Time from a gRPC call's arrival to its status, including any min_lsn wait.",
          {"grpc_service", "grpc_method"}, LatencyBuckets())),
      in_flight_(registry.AddGauge("vecmirror_grpc_server_in_flight_calls",
                                   "gRPC calls received and not finished yet.",
                                   {"grpc_service", "grpc_method"})) {
  queued_ = &registry
                 .AddGauge("vecmirror_grpc_server_queued_calls",
                           "gRPC calls waiting for a worker (0 where the serving model does "
                           "not queue).")
                 .With({});
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
GrpcServerMetrics::NewInterceptorFactory() {
  return std::make_unique<CallMetricsFactory>(*this);
}

GrpcServerMetrics::MethodSeries& GrpcServerMetrics::SeriesFor(const char* path) {
  std::string_view key = path != nullptr ? path : "";
  std::lock_guard lock(mu_);
  if (auto it = methods_.find(key); it != methods_.end()) return it->second;
  if (methods_.size() >= kMaxMethods) key = "";
  auto [it, inserted] = methods_.try_emplace(std::string(key));
  MethodSeries& series = it->second;
  if (!inserted) return series;

  // "/package.Service/Method"
  const size_t slash = key.rfind('/');
  if (key.size() > 1 && key.front() == '/' && slash != 0 && slash != std::string_view::npos) {
    series.service = std::string(key.substr(1, slash - 1));
    series.method = std::string(key.substr(slash + 1));
  } else {
    series.service = "unknown";
    series.method = "unknown";
  }
  series.started = &started_.With({series.service, series.method});
  series.in_flight = &in_flight_.With({series.service, series.method});
  series.latency = &latency_.With({series.service, series.method});
  return series;
}

void GrpcServerMetrics::RecordHandled(MethodSeries& series, int code) {
  if (code < 0 || code >= static_cast<int>(series.handled.size())) code = 2;  // UNKNOWN
  Counter* counter = series.handled[code].load(std::memory_order_acquire);
  if (counter == nullptr) {
    // Family::With returns the same series to every thread, so a race stores one pointer twice.
    counter = &handled_.With({series.service, series.method, GrpcCodeName(code)});
    series.handled[code].store(counter, std::memory_order_release);
  }
  counter->Increment();
}

}  // namespace vecmirror::metrics
