#include "tools/cli/health_check.h"

#include "grpc/health/v1/health.grpc.pb.h"

namespace vecmirror::cli {

using grpc::health::v1::HealthCheckResponse;

static_assert(static_cast<int>(ServingStatus::kServing) == HealthCheckResponse::SERVING);
static_assert(static_cast<int>(ServingStatus::kNotServing) == HealthCheckResponse::NOT_SERVING);
static_assert(static_cast<int>(ServingStatus::kServiceUnknown) ==
              HealthCheckResponse::SERVICE_UNKNOWN);

const char* ServingStatusName(ServingStatus status) {
  switch (status) {
    case ServingStatus::kUnknown: return "UNKNOWN";
    case ServingStatus::kServing: return "SERVING";
    case ServingStatus::kNotServing: return "NOT_SERVING";
    case ServingStatus::kServiceUnknown: return "SERVICE_UNKNOWN";
  }
  return "UNKNOWN";
}

grpc::Status CheckHealth(const std::shared_ptr<grpc::Channel>& channel, const std::string& service,
                         std::chrono::milliseconds timeout, ServingStatus* out) {
  auto stub = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + timeout);
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  HealthCheckResponse response;
  grpc::Status status = stub->Check(&context, request, &response);
  if (!status.ok()) return status;
  const int value = response.status();
  *out = value >= 0 && value <= 3 ? static_cast<ServingStatus>(value) : ServingStatus::kUnknown;
  return grpc::Status::OK;
}

}  // namespace vecmirror::cli
