// A client for the standard gRPC health service (grpc.health.v1.Health/Check), through the
// stub generated from grpc-proto's health.proto (proto/CMakeLists.txt).
//
// Thread-safety: CheckHealth may be called concurrently on one channel.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

namespace vecmirror::cli {

// HealthCheckResponse.ServingStatus, with the same numbers.
enum class ServingStatus { kUnknown = 0, kServing = 1, kNotServing = 2, kServiceUnknown = 3 };

// "SERVING", "NOT_SERVING", ... as grpc_health_probe prints them.
const char* ServingStatusName(ServingStatus status);

// Asks `channel` for the health of `service` ("" = the whole server). The returned status is
// the call's: NOT_FOUND when the server has never heard of `service`.
grpc::Status CheckHealth(const std::shared_ptr<grpc::Channel>& channel, const std::string& service,
                         std::chrono::milliseconds timeout, ServingStatus* out);

}  // namespace vecmirror::cli
