// GrpcServerMetrics: what happens to every gRPC call the server takes, recorded by a server
// interceptor, so the handlers (sync, callback or async alike) need no code of their own:
//
//   vecmirror_grpc_server_started_total{grpc_service,grpc_method}           calls received
//   vecmirror_grpc_server_handled_total{grpc_service,grpc_method,grpc_code} calls finished
//   vecmirror_grpc_server_handling_seconds{grpc_service,grpc_method}        histogram, from the
//       call's arrival to its status being sent (a min_lsn wait included)
//   vecmirror_grpc_server_in_flight_calls{grpc_service,grpc_method}          started, not finished
//   vecmirror_grpc_server_queued_calls                                       see queued_calls()
//
// Wiring: builder.experimental().SetInterceptorCreators() with NewInterceptorFactory(). Label
// values come from the method's path (/vecmirror.v1.VectorSearch/SearchSimilarEntities); at
// most kMaxMethods distinct paths get series of their own, later ones share
// grpc_service="unknown", so a client inventing method names can't grow the exposition.
//
// Thread-safety: all methods are safe for concurrent use. The object must outlive every server
// that uses its interceptors.
#pragma once

#include <array>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <grpcpp/support/server_interceptor.h>

#include "src/metrics/metric_registry.h"

namespace vecmirror::metrics {

// "OK", "INVALID_ARGUMENT", ... as the gRPC spec names the codes.
const char* GrpcCodeName(int code);

class GrpcServerMetrics {
 public:
  static constexpr size_t kMaxMethods = 64;

  // Adds the families above to `registry`, which must outlive this object.
  explicit GrpcServerMetrics(MetricRegistry& registry);

  // One factory per server; each call gets an interceptor of its own.
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> NewInterceptorFactory();

  // The hook for a serving model that queues calls before a worker takes them: it sets this
  // gauge to its queue's length. The synchronous server queues nothing (it refuses a call
  // when its threads are busy), so there it stays 0.
  Gauge& queued_calls() { return *queued_; }

  // The series of one method: what an interceptor updates. Stable for the object's lifetime.
  struct MethodSeries {
    std::string service;
    std::string method;
    Counter* started = nullptr;
    Gauge* in_flight = nullptr;
    Histogram* latency = nullptr;
    // handled_total's series by status code, filled on first use.
    std::array<std::atomic<Counter*>, 17> handled{};
  };
  MethodSeries& SeriesFor(const char* path);
  void RecordHandled(MethodSeries& series, int code);

 private:
  Family<Counter>& started_;
  Family<Counter>& handled_;
  Family<Histogram>& latency_;
  Family<Gauge>& in_flight_;
  Gauge* queued_ = nullptr;

  std::mutex mu_;
  std::map<std::string, MethodSeries, std::less<>> methods_;
};

}  // namespace vecmirror::metrics
