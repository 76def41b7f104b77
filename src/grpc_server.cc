#include "src/grpc_server.h"

#include <optional>

#include <absl/synchronization/mutex.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <spdlog/spdlog.h>

#include "vecmirror/v1/vecmirror.grpc.pb.h"

namespace vecmirror {
namespace {

// Both switches are process-wide and not thread-safe in gRPC, so they are flipped once.
void EnableHealthAndReflectionOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    grpc::EnableDefaultHealthCheckService(true);
    grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  });
}

}  // namespace

GrpcServer::GrpcServer(GrpcServerOptions options) : options_(std::move(options)) {}

GrpcServer::~GrpcServer() { Shutdown(std::chrono::system_clock::now()); }

Status GrpcServer::Start(const std::vector<grpc::Service*>& services,
                         const std::function<void(grpc::ServerBuilder&)>& customize,
                         std::shared_ptr<grpc::ServerCredentials> credentials) {
  if (server_) return Status::FailedPrecondition("gRPC server already started");
  EnableHealthAndReflectionOnce();
  absl::SetMutexDeadlockDetectionMode(options_.mutex_deadlock_detection
                                          ? absl::OnDeadlockCycle::kAbort
                                          : absl::OnDeadlockCycle::kIgnore);

  grpc::ServerBuilder builder;
  if (!credentials) credentials = grpc::InsecureServerCredentials();
  builder.AddListeningPort(options_.listen, credentials, &bound_port_);
  // gRPC sets SO_REUSEPORT by default, which lets a second process bind the same port and take
  // a share of the connections with a state of its own. Off, the second bind fails.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.SetMaxReceiveMessageSize(options_.max_message_bytes);
  builder.SetMaxSendMessageSize(options_.max_message_bytes);
  for (grpc::Service* service : services) builder.RegisterService(service);
  if (customize) customize(builder);

  server_ = builder.BuildAndStart();
  if (!server_ || bound_port_ == 0) {
    server_.reset();
    bound_port_ = 0;
    return Status::IOError("gRPC server could not listen on " + options_.listen +
                           " (address in use by another process, perhaps another "
                           "vecmirror-server, or not host:port?)");
  }
  // The default health service starts with "" SERVING; turn it off before anyone relies on it.
  SetServing(false);
  spdlog::info("gRPC server listening on {} (port {})", options_.listen, bound_port_);
  return Status::Ok();
}

void GrpcServer::SetServing(bool serving) {
  if (!server_) return;
  grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService();
  if (health == nullptr) return;
  health->SetServingStatus("", serving);
  health->SetServingStatus(v1::VectorSearch::service_full_name(), serving);
}

void GrpcServer::WatchReadiness(std::function<bool()> ready) {
  if (!server_ || shut_down_ || readiness_thread_.joinable()) return;
  readiness_thread_ = std::thread([this, ready = std::move(ready)] { ReadinessLoop(ready); });
}

void GrpcServer::ReadinessLoop(std::function<bool()> ready) {
  std::optional<bool> reported;
  std::unique_lock<std::mutex> lock(readiness_mu_);
  while (!stop_readiness_) {
    lock.unlock();
    const bool now = ready();
    if (reported != now) {
      SetServing(now);
      if (reported.has_value()) spdlog::info("health: {}", now ? "SERVING" : "NOT_SERVING");
      reported = now;
    }
    lock.lock();
    readiness_cv_.wait_for(lock, options_.readiness_period, [this] { return stop_readiness_; });
  }
}

void GrpcServer::Shutdown(std::chrono::system_clock::time_point deadline) {
  if (!server_ || shut_down_) return;
  shut_down_ = true;
  {
    std::lock_guard<std::mutex> lock(readiness_mu_);
    stop_readiness_ = true;
  }
  readiness_cv_.notify_all();
  if (readiness_thread_.joinable()) readiness_thread_.join();
  // Health watchers see NOT_SERVING before the listener goes away, so a load balancer drains
  // this process instead of seeing connection errors.
  if (grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService()) {
    health->Shutdown();
  }
  server_->Shutdown(deadline);
  server_->Wait();
}

void GrpcServer::Wait() {
  if (server_) server_->Wait();
}

}  // namespace vecmirror
