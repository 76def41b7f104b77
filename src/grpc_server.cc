#include "src/grpc_server.h"

#include <algorithm>
#include <mutex>
#include <thread>

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/resource_quota.h>
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

int ResolveServerThreads(int threads) {
  if (threads > 0) return threads;
  const int hardware = static_cast<int>(std::thread::hardware_concurrency());
  // The sync server's pollers come out of this budget too, and a search waiting for min_lsn
  // holds its thread while it waits: a budget near the core count refuses calls that would
  // only have waited (RESOURCE_EXHAUSTED under a modest load on 2 cores).
  return std::max(16, 4 * hardware);
}

GrpcServer::GrpcServer(GrpcServerOptions options) : options_(std::move(options)) {}

GrpcServer::~GrpcServer() { Shutdown(std::chrono::system_clock::now()); }

Status GrpcServer::Start(const std::vector<grpc::Service*>& services,
                         std::shared_ptr<grpc::ServerCredentials> credentials) {
  if (server_) return Status::FailedPrecondition("gRPC server already started");
  EnableHealthAndReflectionOnce();

  const int threads = ResolveServerThreads(options_.threads);
  grpc::ResourceQuota quota("vecmirror-grpc");
  quota.SetMaxThreads(threads);

  grpc::ServerBuilder builder;
  if (!credentials) credentials = grpc::InsecureServerCredentials();
  builder.AddListeningPort(options_.listen, credentials, &bound_port_);
  builder.SetResourceQuota(quota);
  builder.SetMaxReceiveMessageSize(options_.max_message_bytes);
  builder.SetMaxSendMessageSize(options_.max_message_bytes);
  for (grpc::Service* service : services) builder.RegisterService(service);

  server_ = builder.BuildAndStart();
  if (!server_ || bound_port_ == 0) {
    server_.reset();
    bound_port_ = 0;
    return Status::IOError("gRPC server could not listen on " + options_.listen +
                           " (address in use, or not host:port?)");
  }
  // The default health service starts with "" SERVING; turn it off before anyone relies on it.
  SetServing(false);
  spdlog::info("gRPC server listening on {} (port {}, {} threads)", options_.listen, bound_port_,
               threads);
  return Status::Ok();
}

void GrpcServer::SetServing(bool serving) {
  if (!server_) return;
  grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService();
  if (health == nullptr) return;
  health->SetServingStatus("", serving);
  health->SetServingStatus(v1::VectorSearch::service_full_name(), serving);
}

void GrpcServer::Shutdown(std::chrono::system_clock::time_point deadline) {
  if (!server_ || shut_down_) return;
  shut_down_ = true;
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
