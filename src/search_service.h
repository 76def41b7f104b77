// SearchService: the vecmirror.v1.VectorSearch gRPC handlers. Each handler validates its
// request, calls the index engine (index/) and maps the outcome to a grpc::Status once, at the
// edge, with a message that names the field and the value expected (DESIGN.md "Errors").
//
// Validation order, for one search: first what is wrong regardless of the server's state
// (tenant_id, query, limit, min_similarity, effort: INVALID_ARGUMENT, never worth retrying),
// then the server's state (UNAVAILABLE until the initial load completes), then what depends
// on the mirrored data (model and dimension, the min_lsn wait, query_entity_id).
//
// Threading: one search runs in the gRPC thread that received it. EntityIndex::Search holds
// FAISS to one OpenMP thread in the calling thread, so concurrent calls, not OpenMP teams, use
// the cores and never oversubscribe them; RebuildIndex builds with OpenMP's full team.
//
// Authorization: each handler's first step is one call to the Authorizer (src/auth/), which
// refuses a call whose token does not cover its tenant or role before the request is looked at.
//
// Thread-safety: all handlers may run concurrently. The Registry, ModelCatalog and
// MirrorStatusBoard passed in must outlive the service; they are safe for concurrent use.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include <grpcpp/grpcpp.h>

#include "base/lsn.h"
#include "base/status.h"
#include "index/model_catalog.h"
#include "index/registry.h"
#include "src/auth/authorizer.h"
#include "src/mirror_status.h"
#include "vecmirror/v1/vecmirror.grpc.pb.h"

namespace vecmirror {

struct SearchServiceOptions {
  // Largest `limit` a search may ask for. Default: 1000 (the proto's documented maximum).
  uint32_t max_limit = 1000;
  // Results returned when a request leaves `limit` at 0 (proto3 can't tell 0 from unset).
  // Default: 10, as the SQL function's default.
  uint32_t default_limit = 10;
  // Largest number of requests in one BatchSearchSimilarEntities call. Default: 1000.
  size_t max_batch = 1000;
  // How long a min_lsn wait may last when the call carries no deadline. Default: 30 s.
  std::chrono::milliseconds max_lsn_wait = std::chrono::seconds(30);
};

// GetMirrorStatus's lag at `now`. MirrorState::lag_seconds is read as the commit-to-apply
// delay of the newest applied commit, measured when it was applied (last_commit_applied_at);
// while the mirror is behind (lag_bytes > 0) that commit keeps ageing, so the lag grows by the
// time since. Caught up, the lag is 0.
double LagSecondsAt(const MirrorState& state, std::chrono::system_clock::time_point now);
// Seconds from the last applied commit to `now`; 0 before the first commit.
double SecondsSinceLastCommitAt(const MirrorState& state,
                                std::chrono::system_clock::time_point now);

class SearchService final : public v1::VectorSearch::Service {
 public:
  // `authorizer` defaults to authentication off.
  SearchService(Registry& registry, ModelCatalog& models, const MirrorStatusBoard& board,
                SearchServiceOptions options = {}, auth::Authorizer authorizer = {});

  grpc::Status SearchSimilarEntities(grpc::ServerContext* context,
                                     const v1::SearchRequest* request,
                                     v1::SearchResponse* response) override;
  grpc::Status BatchSearchSimilarEntities(grpc::ServerContext* context,
                                          const v1::BatchSearchRequest* request,
                                          v1::BatchSearchResponse* response) override;
  grpc::Status ListIndexes(grpc::ServerContext* context, const v1::ListIndexesRequest* request,
                           v1::ListIndexesResponse* response) override;
  grpc::Status GetMirrorStatus(grpc::ServerContext* context,
                               const v1::GetMirrorStatusRequest* request,
                               v1::MirrorStatus* response) override;
  grpc::Status RebuildIndex(grpc::ServerContext* context, const v1::RebuildIndexRequest* request,
                            v1::RebuildIndexResponse* response) override;

  // One search without gRPC: what SearchSimilarEntities does, with the min_lsn wait bounded by
  // `deadline`. Fills `response` only when the result is OK.
  Status Search(const v1::SearchRequest& request, std::chrono::steady_clock::time_point deadline,
                v1::SearchResponse* response) const;

 private:
  Status MinLsnNotReached(const v1::SearchRequest& request) const;
  std::chrono::steady_clock::time_point WaitDeadline(const grpc::ServerContext& context) const;
  std::string KnownModelsText() const;

  Registry& registry_;
  ModelCatalog& models_;
  const MirrorStatusBoard& board_;
  const SearchServiceOptions options_;
  const auth::Authorizer authorizer_;
};

// The gRPC status for a vecmirror::Status (the one mapping at the edge).
grpc::Status ToGrpcStatus(const Status& status);

}  // namespace vecmirror
