// A client for the standard gRPC health service (grpc.health.v1.Health/Check) that needs no
// generated code: Debian's gRPC packages ship neither health.proto nor its stubs. Both
// messages are a single field, so they are encoded and decoded here by hand and sent through
// a generic stub.
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

// The wire encoding of HealthCheckRequest{service} and the decoding of HealthCheckResponse,
// exposed for tests. DecodeHealthResponse returns false on malformed bytes.
std::string EncodeHealthRequest(const std::string& service);
bool DecodeHealthResponse(const std::string& bytes, ServingStatus* out);

}  // namespace vecmirror::cli
