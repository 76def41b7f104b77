// SearchWorld: what the service benchmarks search. One Registry holds the same `n` clustered,
// embedding-like unit vectors (tools/datagen) of `dim` dimensions twice, in a tenant pinned to
// flat and a tenant pinned to HNSW, each sealed as its kind; the queries come from the same
// space. A SearchService over it is served by a real GrpcServer on 127.0.0.1:0.
//
// Thread-safety: built in one thread; then every accessor may be used from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "index/model_catalog.h"
#include "index/registry.h"
#include "src/grpc_server.h"
#include "src/mirror_status.h"
#include "src/search_service.h"
#include "tools/datagen/vector_space.h"
#include "vecmirror/v1/vecmirror.grpc.pb.h"

namespace vecmirror::bench {

class SearchWorld {
 public:
  static constexpr uint32_t kLimit = 10;

  struct Options {
    size_t n = 20000;
    size_t dim = 1536;
    size_t queries = 256;
    SearchServiceOptions service;
    bool mutex_deadlock_detection = false;  // GrpcServerOptions::mutex_deadlock_detection
  };

  explicit SearchWorld(const Options& options)
      : options_(options), model_(ModelFor(options.dim)), models_(Models()) {
    const datagen::ClusteredVectors space(static_cast<uint32_t>(options.dim), 32, kSeed);
    Fill(space);
    for (size_t q = 0; q < options.queries; ++q) queries_.push_back(space.Query(q));

    board_.Update([&](MirrorState& s) {
      s.state = "streaming";
      s.applied_lsn = registry_.applied_lsn();
      s.loaded = true;
    });
    service_ = std::make_unique<SearchService>(registry_, models_, board_, options.service);
    server_ = std::make_unique<GrpcServer>(
        GrpcServerOptions{.listen = "127.0.0.1:0",
                          .max_message_bytes = 64 << 20,
                          .mutex_deadlock_detection = options.mutex_deadlock_detection});
    if (Status s = server_->Start({service_.get()}); !s.ok()) {
      std::fprintf(stderr, "cannot start the gRPC server: %s\n", s.ToString().c_str());
      std::exit(1);
    }
    server_->SetServing(true);
    channel_ = grpc::CreateChannel(address(), grpc::InsecureChannelCredentials());
    stub_ = v1::VectorSearch::NewStub(channel_);
  }
  ~SearchWorld() { server_->Shutdown(std::chrono::system_clock::now()); }

  IndexKey KeyOf(IndexKind kind) const {
    return {TenantOf(kind), model_, static_cast<uint32_t>(options_.dim)};
  }
  const std::vector<float>& query(size_t i) const { return queries_[i % queries_.size()]; }
  size_t queries() const { return queries_.size(); }

  // The gRPC request for query i against the index of `kind`: limit 10, no filter.
  v1::SearchRequest Request(IndexKind kind, size_t i) const {
    v1::SearchRequest request;
    request.set_tenant_id(TenantOf(kind).ToString());
    request.set_model(model_);
    const auto& v = query(i);
    request.mutable_vector()->mutable_values()->Add(v.begin(), v.end());
    request.set_limit(kLimit);
    return request;
  }

  std::string address() const { return "127.0.0.1:" + std::to_string(server_->bound_port()); }
  Registry& registry() { return registry_; }
  SearchService& service() { return *service_; }
  v1::VectorSearch::Stub& stub() { return *stub_; }

 private:
  static constexpr uint64_t kSeed = 7;

  static double Seconds(std::chrono::steady_clock::time_point since) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
  }

  static std::string ModelFor(size_t dim) {
    for (const auto& [name, known_dim] : DefaultModels()) {
      if (known_dim == dim) return name;
    }
    return "bench-" + std::to_string(dim);
  }

  static Uuid UuidFrom(uint64_t hi, uint64_t lo) {
    Uuid id;
    for (int i = 0; i < 8; ++i) {
      id.bytes[i] = static_cast<uint8_t>(hi >> (56 - 8 * i));
      id.bytes[8 + i] = static_cast<uint8_t>(lo >> (56 - 8 * i));
    }
    return id;
  }

  static Uuid TenantOf(IndexKind kind) { return UuidFrom(0x7e4a47, static_cast<uint64_t>(kind) + 1); }

  std::vector<ModelDimension> Models() const {
    std::vector<ModelDimension> models = DefaultModels();
    if (model_.rfind("bench-", 0) == 0) models.push_back({model_, static_cast<uint32_t>(options_.dim)});
    return models;
  }

  void Fill(const datagen::ClusteredVectors& space) {
    static const char* const kTypes[] = {"context", "template", "workflow", "library"};
    const auto start = std::chrono::steady_clock::now();
    std::vector<EntityTypeCode> types;
    for (const char* name : kTypes) types.push_back(*registry_.types().Intern(name));
    for (IndexKind kind : {IndexKind::kFlat, IndexKind::kHnsw}) {
      std::vector<KeyedWrite> writes;
      writes.reserve(options_.n);
      for (size_t i = 0; i < options_.n; ++i) {
        KeyedWrite w;
        w.key = KeyOf(kind);
        w.write.op = IndexWrite::Op::kUpsert;
        w.write.entity_id = UuidFrom(0xe7, i);
        w.write.type = types[i % types.size()];
        w.write.vector = space.Vector(i);
        writes.push_back(std::move(w));
      }
      registry_.ApplyTransaction(writes, ++lsn_);
    }
    std::printf("generated and applied 2 x %zu rows of %zu-d in %.1f s\n", options_.n,
                options_.dim, Seconds(start));
    // Seal each index as its kind (pinned), so searches run on the structure, not the tail.
    for (IndexKind kind : {IndexKind::kFlat, IndexKind::kHnsw}) {
      const auto build = std::chrono::steady_clock::now();
      const auto infos = registry_.Rebuild(TenantOf(kind), model_, kind);
      const bool ok = infos.size() == 1 && infos[0].stats.kind == kind && infos[0].stats.tail == 0;
      std::printf("built %s index in %.1f s%s\n", IndexKindName(kind), Seconds(build),
                  ok ? "" : " (NOT as asked: results are meaningless)");
      if (!ok) std::exit(1);
    }
    std::fflush(stdout);
  }

  const Options options_;
  const std::string model_;
  Registry registry_;
  ModelCatalog models_;
  MirrorStatusBoard board_;
  uint64_t lsn_ = 0;
  std::vector<std::vector<float>> queries_;
  std::unique_ptr<SearchService> service_;
  std::unique_ptr<GrpcServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::VectorSearch::Stub> stub_;
};

}  // namespace vecmirror::bench
