// SearchService: the vecmirror.v1.VectorSearch gRPC handlers, on gRPC's callback API. Each
// handler validates its request, calls the index engine (index/) and maps the outcome to a
// grpc::Status once, at the edge, with a message that names the field and the value expected
// (DESIGN.md "Errors").
//
// Validation order, for one search: first what is wrong regardless of the server's state
// (tenant_id, query, limit, min_similarity, effort: INVALID_ARGUMENT, never worth retrying),
// then the server's state (UNAVAILABLE until the initial load completes), then what depends
// on the mirrored data (model and dimension, the min_lsn wait, query_entity_id). The query
// vector's length is checked against the model before the vector is copied or normalized.
//
// Serving model (DESIGN.md "Serving"): a search is validated in the handler, admitted against
// the in-flight request-bytes budget, then queued on a worker pool of `search_threads` threads
// behind a queue of at most `max_queued_searches` (or, when a worker slot is free and nothing
// is queued, run at once in the gRPC thread in that slot: `searches_in_handler`); one that must wait for its min_lsn is
// parked first, holding no thread, and resumes when the LSN is applied, its deadline passes or
// the client cancels (src/serving_call.h). Past a bound a call gets RESOURCE_EXHAUSTED with a
// message that names the bound. ListIndexes, GetMirrorStatus, RebuildIndex and CancelRebuild
// answer in the handler: RebuildIndex only queues the rebuilds on the Registry's rebuild thread
// (index/rebuild_queue.h), so a rebuild never takes a search worker.
//
// Threading: EntityIndex::Search holds FAISS to one OpenMP thread in the calling worker, so
// concurrent calls, not OpenMP teams, use the cores and never oversubscribe them; a rebuild
// builds with OpenMP's full team. A batch runs its items one after another on one worker, so one
// caller can't take every core from the others.
//
// Authorization: each handler's first step is one call to the Authorizer (src/auth/), which
// refuses a call whose token does not cover its tenant or role before the request is looked at.
//
// Thread-safety: all handlers may run concurrently. The Registry, ModelCatalog and
// MirrorStatusBoard passed in must outlive the service; they are safe for concurrent use. The
// gRPC server must be shut down before the service is destroyed.
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
#include "src/admission.h"
#include "src/auth/authorizer.h"
#include "src/mirror_status.h"
#include "src/serving_call.h"
#include "src/worker_pool.h"
#include "vecmirror/v1/vecmirror.grpc.pb.h"

namespace vecmirror {

struct SearchServiceOptions {
  // Largest `limit` a search may ask for. Default: 1000 (the proto's documented maximum).
  uint32_t max_limit = 1000;
  // Results returned when a request leaves `limit` unset (an explicit 0 is INVALID_ARGUMENT).
  // Default: 10, as the SQL function's default.
  uint32_t default_limit = 10;
  // Largest number of requests in one BatchSearchSimilarEntities call. Default: 1000.
  size_t max_batch = 1000;
  // How long a min_lsn wait may last when the call carries no deadline. Default: 30 s.
  std::chrono::milliseconds max_lsn_wait = std::chrono::seconds(30);

  // Threads that run searches (--search-threads). Default: 0 = one per hardware thread.
  int search_threads = 0;
  // Single searches (by vector) that may run at once in the gRPC thread that received them,
  // instead of on a worker, when a worker slot is free and no search is queued; they count
  // against search_threads all the same, and one whose index is held by a writer is queued
  // instead of waiting there (src/serving_call.h). It saves two thread hand-offs per call.
  // 0 = every search goes through the queue; -1 = up to search_threads. Default: -1.
  int searches_in_handler = -1;
  // Searches that may wait for a worker thread; one more is refused with RESOURCE_EXHAUSTED
  // (--max-queued-searches). Default: 1024.
  size_t max_queued_searches = 1024;
  // Searches that may be parked until their min_lsn is applied; one more is refused with
  // RESOURCE_EXHAUSTED (--max-waiting-searches). Default: 4096.
  size_t max_waiting_searches = 4096;
  // Serialized request bytes of the search and rebuild calls admitted and not yet answered; a
  // call that would pass it is refused with RESOURCE_EXHAUSTED (--max-inflight-request-bytes).
  // Default: 256 MiB.
  size_t max_inflight_request_bytes = size_t{256} << 20;
  // Result rows one BatchSearchSimilarEntities call may ask for in all (the sum of its items'
  // limits); past it the call is INVALID_ARGUMENT (--max-batch-results). Default: 100,000:
  // about 8 MiB of response with entity type names of 32 bytes, well inside
  // max_response_bytes.
  size_t max_batch_results = 100000;
  // The largest response the server sends (GrpcServerOptions::max_message_bytes); a batch
  // response past it (only with very long entity type names) is INVALID_ARGUMENT rather than
  // a transport error. Default: 16 MiB.
  size_t max_response_bytes = size_t{16} << 20;
};

// What the serving path holds now and has refused since start (GetMirrorStatus.serving).
struct ServingCounters {
  int worker_threads = 0;
  size_t searches_queued = 0;
  size_t searches_running = 0;
  size_t searches_running_in_handler = 0;  // of searches_running: in a gRPC thread
  size_t searches_waiting_for_lsn = 0;
  AdmissionCounters admission;
};

// GetMirrorStatus's lag at `now`. MirrorState::lag_seconds is read as the commit-to-apply
// delay of the newest applied commit, measured when it was applied (last_commit_applied_at);
// while the mirror is behind (lag_bytes > 0) that commit keeps ageing, so the lag grows by the
// time since. Caught up, the lag is 0.
double LagSecondsAt(const MirrorState& state, std::chrono::system_clock::time_point now);
// Seconds from the last applied commit to `now`; 0 before the first commit.
double SecondsSinceLastCommitAt(const MirrorState& state,
                                std::chrono::system_clock::time_point now);

struct ParsedSearch;  // a search request that passed CheckSearch (search_request.h)
struct CheckedBatch;  // each item of a batch with its CheckSearch outcome

class SearchService final : public v1::VectorSearch::CallbackService {
 public:
  // `authorizer` defaults to authentication off.
  SearchService(Registry& registry, ModelCatalog& models, const MirrorStatusBoard& board,
                SearchServiceOptions options = {}, auth::Authorizer authorizer = {});
  ~SearchService() override;

  grpc::ServerUnaryReactor* SearchSimilarEntities(grpc::CallbackServerContext* context,
                                                  const v1::SearchRequest* request,
                                                  v1::SearchResponse* response) override;
  grpc::ServerUnaryReactor* BatchSearchSimilarEntities(grpc::CallbackServerContext* context,
                                                       const v1::BatchSearchRequest* request,
                                                       v1::BatchSearchResponse* response) override;
  grpc::ServerUnaryReactor* ListIndexes(grpc::CallbackServerContext* context,
                                        const v1::ListIndexesRequest* request,
                                        v1::ListIndexesResponse* response) override;
  grpc::ServerUnaryReactor* GetMirrorStatus(grpc::CallbackServerContext* context,
                                            const v1::GetMirrorStatusRequest* request,
                                            v1::MirrorStatus* response) override;
  grpc::ServerUnaryReactor* RebuildIndex(grpc::CallbackServerContext* context,
                                         const v1::RebuildIndexRequest* request,
                                         v1::RebuildIndexResponse* response) override;
  grpc::ServerUnaryReactor* CancelRebuild(grpc::CallbackServerContext* context,
                                          const v1::CancelRebuildRequest* request,
                                          v1::CancelRebuildResponse* response) override;

  // One search without gRPC, in the calling thread: what SearchSimilarEntities does, with the
  // min_lsn wait (blocking this thread) bounded by `deadline`. Fills `response` only when the
  // result is OK.
  Status Search(const v1::SearchRequest& request, std::chrono::steady_clock::time_point deadline,
                v1::SearchResponse* response) const;

  // True while a new search would be admitted: the worker queue and the in-flight request
  // budget both have room. With the first load complete, this is the server's health.
  bool AcceptingWork() const;

  ServingCounters Counters() const;

 private:
  Status CheckSearch(const v1::SearchRequest& request, ParsedSearch* parsed) const;
  // With `would_wait`, the search does not wait for a writer of its index: it sets
  // *would_wait and returns, the response untouched, where it would have.
  Status RunSearch(const v1::SearchRequest& request, ParsedSearch* parsed,
                   v1::SearchResponse* response, bool* would_wait = nullptr) const;
  grpc::Status RunBatch(grpc::CallbackServerContext* context, const v1::BatchSearchRequest& request,
                        CheckedBatch& checked,
                        v1::BatchSearchResponse* response) const;
  grpc::Status Rebuild(const v1::RebuildIndexRequest& request,
                       v1::RebuildIndexResponse* response);
  void FillMirrorStatus(v1::MirrorStatus* response) const;
  Status UnknownModel(const std::string& model) const;
  // The applied LSN that satisfies the request's min_lsn (base/lsn.h, CoveringLsn).
  Lsn AwaitedLsn(const v1::SearchRequest& request) const;
  Status MinLsnNotReached(const v1::SearchRequest& request) const;
  std::chrono::steady_clock::time_point WaitDeadline(const grpc::ServerContextBase& context) const;
  std::string KnownModelsText() const;

  Registry& registry_;
  ModelCatalog& models_;
  const MirrorStatusBoard& board_;
  const SearchServiceOptions options_;

  Admission admission_;
  WorkerPool search_pool_;
  ServingPath search_path_;
  const auth::Authorizer authorizer_;
};

// The gRPC status for a vecmirror::Status (the one mapping at the edge).
grpc::Status ToGrpcStatus(const Status& status);

}  // namespace vecmirror
