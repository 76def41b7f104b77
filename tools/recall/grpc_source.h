// GrpcSource: the indexes of a running vecmirror service, reached over gRPC. ListIndexes lists
// them; a search is SearchSimilarEntities, the truth being the same request with
// effort.exact = true. The service has no call that lists an index's entities, so the census
// is sampled through exact searches (tools/recall/census.h).
//
// Thread-safety: Search and TakeCensus may be called from several threads at once (a gRPC
// channel and stub are thread-safe).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "tools/recall/index_source.h"
#include "vecmirror/v1/vecmirror.grpc.pb.h"

namespace vecmirror::recall {

struct GrpcSourceOptions {
  std::string server = "127.0.0.1:50051";  // host:port
  // Deadline of one call. An exact search of 1,000 rows out of a million-row index takes about
  // a second of one core. Default: 60 s.
  std::chrono::milliseconds timeout = std::chrono::seconds(60);
};

class GrpcSource final : public IndexSource {
 public:
  explicit GrpcSource(GrpcSourceOptions options);

  std::string name() const override { return "grpc " + options_.server; }
  Status List(std::vector<IndexDescription>* out) override;
  Status Search(const IndexKey& key, const SourceQuery& query, SourceAnswer* out) override;
  Status TakeCensus(const IndexDescription& index, const CensusOptions& options,
                    Census* out) override;

 private:
  GrpcSourceOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::VectorSearch::Stub> stub_;
};

// The engine's kind for the API's, and back. UNSPECIFIED maps to flat.
IndexKind KindFromProto(v1::IndexKind kind);

// A failed call as a Status: the gRPC code's name and message, and the server's address.
Status FromGrpc(const grpc::Status& status, const std::string& server);

}  // namespace vecmirror::recall
