#include "src/search_service.h"

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <exception>
#include <optional>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

#include "base/echo.h"
#include "base/uuid.h"
#include "index/kernels.h"
#include "src/search_request.h"

namespace vecmirror {

struct CheckedBatch {
  std::vector<Status> checks;  // CheckSearch's outcome per item
  std::vector<ParsedSearch> parsed;
};

double SecondsSinceLastCommitAt(const MirrorState& state,
                                std::chrono::system_clock::time_point now) {
  if (state.last_commit_applied_at == std::chrono::system_clock::time_point{}) return 0;
  const std::chrono::duration<double> since = now - state.last_commit_applied_at;
  return std::max(0.0, since.count());
}

double LagSecondsAt(const MirrorState& state, std::chrono::system_clock::time_point now) {
  if (state.lag_bytes() == 0) return 0;
  return state.lag_seconds + SecondsSinceLastCommitAt(state, now);
}

grpc::Status ToGrpcStatus(const Status& status) {
  using C = grpc::StatusCode;
  C code = C::INTERNAL;
  switch (status.code()) {
    case Status::Code::kOk: return grpc::Status::OK;
    case Status::Code::kInvalidArgument: code = C::INVALID_ARGUMENT; break;
    case Status::Code::kNotFound: code = C::NOT_FOUND; break;
    case Status::Code::kCorruption: code = C::DATA_LOSS; break;
    case Status::Code::kIOError: code = C::INTERNAL; break;
    case Status::Code::kUnavailable: code = C::UNAVAILABLE; break;
    case Status::Code::kDeadlineExceeded: code = C::DEADLINE_EXCEEDED; break;
    case Status::Code::kFailedPrecondition: code = C::FAILED_PRECONDITION; break;
    case Status::Code::kInternal: code = C::INTERNAL; break;
    case Status::Code::kResourceExhausted: code = C::RESOURCE_EXHAUSTED; break;
    case Status::Code::kUnauthenticated: code = C::UNAUTHENTICATED; break;
    case Status::Code::kPermissionDenied: code = C::PERMISSION_DENIED; break;
    case Status::Code::kAlreadyExists: code = C::ALREADY_EXISTS; break;
  }
  return grpc::Status(code, status.message());
}

SearchService::SearchService(Registry& registry, ModelCatalog& models,
                             const MirrorStatusBoard& board, SearchServiceOptions options,
                             auth::Authorizer authorizer)
    : registry_(registry),
      models_(models),
      board_(board),
      options_(options),
      admission_(AdmissionLimits{options.max_queued_searches, options.max_waiting_searches,
                                 options.max_inflight_request_bytes}),
      search_pool_(options.search_threads, options.max_queued_searches, "vm-search",
                   options.searches_in_handler),
      authorizer_(std::move(authorizer)) {
  search_path_ = ServingPath{&search_pool_, &registry_.lsn_waiters(), &admission_,
                             [this] { return admission_.QueueFull(); }};
}

// The pools finish what they hold before their threads join; the server, shut down first, sends
// nothing new.
SearchService::~SearchService() = default;

std::string SearchService::KnownModelsText() const {
  std::string text;
  for (const auto& [name, dim] : models_.All()) {
    if (!text.empty()) text += ", ";
    text += name + " (" + std::to_string(dim) + ")";
  }
  return text.empty() ? "none" : text;
}

// The min_lsn wait ends a little before the call's deadline so that the explanation
// ("min_lsn X/Y not applied ...") reaches the client before its own timer turns the call into
// a bare DEADLINE_EXCEEDED. With no deadline, the wait is capped by max_lsn_wait.
std::chrono::steady_clock::time_point SearchService::WaitDeadline(
    const grpc::ServerContextBase& context) const {
  using namespace std::chrono;
  const auto steady_now = steady_clock::now();
  const auto system_now = system_clock::now();
  const system_clock::time_point deadline = context.deadline();
  if (deadline <= system_now) return steady_now;
  const auto remaining = duration_cast<milliseconds>(deadline - system_now);
  if (remaining >= options_.max_lsn_wait) return steady_now + options_.max_lsn_wait;
  const milliseconds margin = std::min(remaining / 20, milliseconds(50));
  return steady_now + (remaining - margin);
}

Lsn SearchService::AwaitedLsn(const v1::SearchRequest& request) const {
  // An awaited position inside a WAL page header (pg_current_wal_insert_lsn() right after a
  // page boundary) is covered by the page start, where the stream's commit ends.
  return CoveringLsn(request.min_lsn(), board_.wal_segment_bytes());
}

Status SearchService::MinLsnNotReached(const v1::SearchRequest& request) const {
  return Status::DeadlineExceeded("min_lsn " + FormatLsn(request.min_lsn()) +
                                  " not applied; applied is " + FormatLsn(registry_.applied_lsn()));
}

Status SearchService::UnknownModel(const std::string& model) const {
  return Status::InvalidArgument(
      (model.empty() ? std::string("model is required") : "model " + QuoteForEcho(model) + " is not known") +
      "; known models: " + KnownModelsText());
}

namespace {

Status CheckDimension(const v1::SearchRequest& request, uint32_t dim) {
  if (request.query_case() != v1::SearchRequest::kVector) return Status::Ok();
  const size_t given = static_cast<size_t>(request.vector().values_size());
  if (given == dim) return Status::Ok();
  return Status::InvalidArgument("query.vector has " + std::to_string(given) +
                                 " dimensions; model " + request.model() + " has " +
                                 std::to_string(dim));
}

}  // namespace

// Everything that can be told before a min_lsn wait. A model not known yet may still be
// created by the transaction the caller waits for: it is judged after the wait (RunSearch).
Status SearchService::CheckSearch(const v1::SearchRequest& request, ParsedSearch* parsed) const {
  if (Status s = ParseSearch(request, options_.max_limit, options_.default_limit, parsed);
      !s.ok()) {
    return s;
  }
  if (!board_.loaded()) {
    return Status::Unavailable("initial load in progress; retry when health reports SERVING");
  }
  const std::string& model = request.model();
  const std::optional<uint32_t> dim =
      model.empty() ? std::nullopt : models_.DimensionOf(model);
  if (dim) return CheckDimension(request, *dim);
  if (!model.empty() && AwaitedLsn(request) > registry_.applied_lsn()) return Status::Ok();
  return UnknownModel(model);
}

// The search itself, once min_lsn is applied (or its wait has ended).
Status SearchService::RunSearch(const v1::SearchRequest& request, ParsedSearch* parsed,
                                v1::SearchResponse* response, bool* would_wait) const {
  const std::string& model = request.model();
  const std::optional<uint32_t> dim =
      model.empty() ? std::nullopt : models_.DimensionOf(model);
  if (AwaitedLsn(request) > registry_.applied_lsn()) return MinLsnNotReached(request);
  if (!dim) return UnknownModel(model);
  if (Status s = CheckDimension(request, *dim); !s.ok()) return s;

  // Read the watermark before looking anything up. Indexes and entity types come into being
  // before the transaction that needs them is applied, so whatever is missing now was missing
  // at this LSN too, and an empty answer is exact at it.
  const uint64_t lsn_before = registry_.applied_lsn();
  const std::shared_ptr<EntityIndex> index = registry_.Find(IndexKey{parsed->tenant, model, *dim});

  std::vector<float> vector;
  if (parsed->query_entity) {
    std::optional<std::vector<float>> stored =
        index ? index->VectorOf(*parsed->query_entity) : std::nullopt;
    if (!stored) {
      return Status::NotFound("query_entity_id " + parsed->query_entity->ToString() +
                              " is not mirrored for tenant_id " + parsed->tenant.ToString() +
                              " and model " + model);
    }
    vector = std::move(*stored);
  } else if (Status s = NormalizedQueryVector(request.vector(), &vector); !s.ok()) {
    return s;
  }

  const TypeMask types = ResolveTypes(request.entity_types(), registry_.types());
  if (!index || types.IsNone()) {
    if (index && would_wait != nullptr) {  // Stats() below would wait for a writer
      *would_wait = true;
      return Status::Ok();
    }
    response->set_applied_lsn(lsn_before);
    response->set_exact(true);  // nothing matches: the empty answer is the SQL's answer
    response->set_index_kind(index ? ToProtoKind(index->Stats().kind)
                                   : v1::INDEX_KIND_UNSPECIFIED);
    return Status::Ok();
  }

  SearchQuery query;
  query.vector = std::move(vector);
  query.types = types;
  query.limit = parsed->limit;
  query.min_similarity = parsed->min_similarity;
  query.exclude = parsed->query_entity;
  query.effort = parsed->effort;

  // EntityIndex::Search holds FAISS to one OpenMP thread in this worker, and reads the
  // watermark while it holds the index: the LSN reported is exactly what the search saw.
  SearchResult result;
  if (would_wait == nullptr) {
    result = index->Search(query, &registry_.applied_lsn_watermark());
  } else if (std::optional<SearchResult> got =
                 index->TrySearch(query, &registry_.applied_lsn_watermark())) {
    result = std::move(*got);
  } else {
    *would_wait = true;
    return Status::Ok();
  }
  response->set_applied_lsn(result.applied_lsn);
  response->set_exact(result.exact);
  response->set_index_kind(ToProtoKind(result.kind));
  for (const Hit& hit : result.hits) {
    v1::SearchResult* out = response->add_results();
    out->set_entity_id(hit.entity_id.ToString());
    out->set_entity_type(registry_.types().Name(hit.type));
    out->set_similarity(hit.similarity);
  }
  return Status::Ok();
}

Status SearchService::Search(const v1::SearchRequest& request,
                             std::chrono::steady_clock::time_point deadline,
                             v1::SearchResponse* response) const {
  ParsedSearch parsed;
  if (Status s = CheckSearch(request, &parsed); !s.ok()) return s;
  const Lsn awaited = AwaitedLsn(request);
  if (awaited > registry_.applied_lsn() && !registry_.WaitForLsn(awaited, deadline)) {
    return MinLsnNotReached(request);
  }
  return RunSearch(request, &parsed, response);
}

grpc::ServerUnaryReactor* SearchService::SearchSimilarEntities(
    grpc::CallbackServerContext* context, const v1::SearchRequest* request,
    v1::SearchResponse* response) {
  if (Status allowed = authorizer_.Check(*context, request->tenant_id(), auth::Role::kSearch);
      !allowed.ok()) {
    return FinishNow(context, ToGrpcStatus(allowed));
  }
  auto parsed = std::make_shared<ParsedSearch>();
  const grpc::Status checked = Guarded("SearchSimilarEntities", [&] {
    return ToGrpcStatus(CheckSearch(*request, parsed.get()));
  });
  if (!checked.ok()) return FinishNow(context, checked);
  ServingPlan plan;
  plan.request_bytes = request->ByteSizeLong();
  const Lsn awaited = AwaitedLsn(*request);
  plan.wait_lsn = awaited > registry_.applied_lsn() ? awaited : 0;
  plan.wait_deadline = WaitDeadline(*context);
  plan.run = [this, request, response, parsed] {
    const Status s = RunSearch(*request, parsed.get(), response);
    if (!s.ok()) response->Clear();
    return ToGrpcStatus(s);
  };
  plan.on_wait_deadline = [this, request] { return ToGrpcStatus(MinLsnNotReached(*request)); };
  if (!parsed->query_entity) {  // "more like this" reads its vector under the lock first
    plan.run_in_handler = [this, request, response, parsed]() -> std::optional<grpc::Status> {
      bool would_wait = false;
      const Status s = RunSearch(*request, parsed.get(), response, &would_wait);
      if (would_wait) return std::nullopt;
      if (!s.ok()) response->Clear();
      return ToGrpcStatus(s);
    };
  }
  return ServingCall::Start(context, search_path_, std::move(plan));
}

grpc::ServerUnaryReactor* SearchService::BatchSearchSimilarEntities(
    grpc::CallbackServerContext* context, const v1::BatchSearchRequest* request,
    v1::BatchSearchResponse* response) {
  if (Status allowed = authorizer_.CheckEach(*context, request->requests(), auth::Role::kSearch);
      !allowed.ok()) {
    return FinishNow(context, ToGrpcStatus(allowed));
  }
  const size_t n = static_cast<size_t>(request->requests_size());
  if (n > options_.max_batch) {
    return FinishNow(context, grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                           "requests has " + std::to_string(n) +
                                               " items; expected at most " +
                                               std::to_string(options_.max_batch)));
  }
  // Bounded before anything runs, so that the response fits the largest message.
  uint64_t rows = 0;
  for (const v1::SearchRequest& item : request->requests()) {
    rows += item.has_limit() ? std::min(item.limit(), options_.max_limit) : options_.default_limit;
  }
  if (rows > options_.max_batch_results) {
    return FinishNow(context,
                     grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                  "requests ask for " + std::to_string(rows) +
                                      " result rows in all (the sum of their limits); expected "
                                      "at most " + std::to_string(options_.max_batch_results) +
                                      " (--max-batch-results)"));
  }

  // Each item is checked now; the batch waits once, for the highest min_lsn of its valid items.
  auto checked = std::make_shared<CheckedBatch>();
  checked->checks.reserve(n);
  checked->parsed.resize(n);
  uint64_t wait_lsn = 0;
  const uint64_t applied = registry_.applied_lsn();
  const grpc::Status all_checked = Guarded("BatchSearchSimilarEntities", [&] {
    for (size_t i = 0; i < n; ++i) {
      const v1::SearchRequest& item = request->requests(static_cast<int>(i));
      checked->checks.push_back(CheckSearch(item, &checked->parsed[i]));
      if (checked->checks.back().ok() && AwaitedLsn(item) > applied) {
        wait_lsn = std::max(wait_lsn, AwaitedLsn(item));
      }
    }
    return grpc::Status::OK;
  });
  if (!all_checked.ok()) return FinishNow(context, all_checked);

  ServingPlan plan;
  plan.method = "BatchSearchSimilarEntities";
  plan.request_bytes = request->ByteSizeLong();
  plan.wait_lsn = wait_lsn;
  plan.wait_deadline = WaitDeadline(*context);
  plan.run = [this, context, request, response, checked] {
    return RunBatch(context, *request, *checked, response);
  };
  // on_wait_deadline stays empty: past the deadline each item still gets its own answer.
  return ServingCall::Start(context, search_path_, std::move(plan));
}

// Items run one after another on this worker. Parallelism comes from concurrent calls; fanning
// one batch out over more workers would let a single caller take every core from the others.
grpc::Status SearchService::RunBatch(grpc::CallbackServerContext* context,
                                     const v1::BatchSearchRequest& request, CheckedBatch& checked,
                                     v1::BatchSearchResponse* response) const {
  for (int i = 0; i < request.requests_size(); ++i) {
    if (context->IsCancelled()) {
      response->Clear();
      return grpc::Status(grpc::StatusCode::CANCELLED, "the call was cancelled");
    }
    v1::BatchSearchItem* item = response->add_items();
    Status s = checked.checks[i];
    if (s.ok()) s = RunSearch(request.requests(i), &checked.parsed[i], item->mutable_response());
    if (!s.ok()) item->clear_response();
    item->set_code(static_cast<int32_t>(ToGrpcStatus(s).error_code()));
    item->set_message(s.message());
  }
  const size_t bytes = response->ByteSizeLong();
  if (bytes > options_.max_response_bytes) {
    response->Clear();
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "the response would be " + std::to_string(bytes) +
                            " bytes, more than the largest message of " +
                            std::to_string(options_.max_response_bytes) +
                            " bytes (--max-message-bytes); ask for fewer results");
  }
  return grpc::Status::OK;
}

grpc::ServerUnaryReactor* SearchService::ListIndexes(grpc::CallbackServerContext* context,
                                                     const v1::ListIndexesRequest* request,
                                                     v1::ListIndexesResponse* response) {
  auth::TenantScope visible;
  if (Status allowed = authorizer_.CheckListing(*context, request->tenant_id(), &visible);
      !allowed.ok()) {
    return FinishNow(context, ToGrpcStatus(allowed));
  }
  return FinishNow(context, Guarded("ListIndexes", [&] {
    std::optional<Uuid> tenant;
    if (!request->tenant_id().empty()) {
      Uuid parsed;
      if (Status s = ParseUuidField("tenant_id", request->tenant_id(), &parsed); !s.ok()) {
        return ToGrpcStatus(s);
      }
      tenant = parsed;
    }
    response->set_applied_lsn(registry_.applied_lsn());
    for (const IndexInfo& info : registry_.List()) {
      if (tenant && info.key.tenant_id != *tenant) continue;
      if (!visible.Covers(info.key.tenant_id)) continue;
      if (!request->model().empty() && info.key.model != request->model()) continue;
      FillIndexInfo(info, response->add_indexes());
    }
    return grpc::Status::OK;
  }));
}

grpc::ServerUnaryReactor* SearchService::GetMirrorStatus(grpc::CallbackServerContext* context,
                                                         const v1::GetMirrorStatusRequest* request,
                                                         v1::MirrorStatus* response) {
  if (Status allowed = authorizer_.CheckEveryTenant(*context, auth::Role::kAdmin); !allowed.ok()) {
    return FinishNow(context, ToGrpcStatus(allowed));
  }
  return FinishNow(context, Guarded("GetMirrorStatus", [&] {
    FillMirrorStatus(response);
    return grpc::Status::OK;
  }));
}

void SearchService::FillMirrorStatus(v1::MirrorStatus* response) const {
  const MirrorState state = board_.Get();
  const auto now = std::chrono::system_clock::now();
  response->set_state(state.state);
  response->set_slot_name(state.slot_name);
  response->set_publication(state.publication);
  response->set_applied_lsn(state.applied_lsn);
  response->set_confirmed_lsn(state.confirmed_lsn);
  response->set_server_lsn(state.server_lsn);
  response->set_lag_bytes(state.lag_bytes());
  response->set_lag_seconds(LagSecondsAt(state, now));
  response->set_seconds_since_last_commit(SecondsSinceLastCommitAt(state, now));
  response->set_reconnects(state.reconnects);
  response->set_initial_loads(state.initial_loads);
  response->set_transactions_applied(state.transactions_applied);
  response->set_changes_applied(state.changes_applied);
  v1::BadRowCounters* bad = response->mutable_bad_rows();
  bad->set_null_vector(state.bad_rows[BadRowReason::kNullVector]);
  bad->set_non_finite(state.bad_rows[BadRowReason::kNonFinite]);
  bad->set_zero_vector(state.bad_rows[BadRowReason::kZeroVector]);
  bad->set_dimension_mismatch(state.bad_rows[BadRowReason::kDimensionMismatch]);
  bad->set_malformed(state.bad_rows[BadRowReason::kMalformed]);
  bad->set_unknown_model(state.bad_rows[BadRowReason::kUnknownModel]);
  bad->set_entity_type_limit(state.bad_rows[BadRowReason::kEntityTypeLimit]);
  response->set_last_error(state.last_error);
  response->set_loaded(state.loaded);
  response->set_retained_wal_bytes(state.retained_wal_bytes);
  v1::SnapshotStatus* snapshots = response->mutable_snapshots();
  snapshots->set_enabled(state.snapshots.enabled);
  snapshots->set_directory(state.snapshots.directory);
  snapshots->set_durable_lsn(state.snapshots.durable_lsn);
  snapshots->set_written(state.snapshots.written);
  snapshots->set_failed(state.snapshots.failed);
  snapshots->set_last_write_seconds(state.snapshots.last_write_seconds);
  snapshots->set_last_bytes(state.snapshots.last_bytes);
  if (state.snapshots.last_written_at.time_since_epoch().count() != 0) {
    snapshots->set_seconds_since_last(
        std::chrono::duration<double>(now - state.snapshots.last_written_at).count());
  }
  snapshots->set_writing(state.snapshots.writing);
  snapshots->set_started_from(state.snapshots.started_from);

  const ServingCounters c = Counters();
  v1::ServingStatus* serving = response->mutable_serving();
  serving->set_worker_threads(static_cast<uint32_t>(c.worker_threads));
  serving->set_searches_queued(c.searches_queued);
  serving->set_searches_running(c.searches_running);
  serving->set_searches_waiting_for_lsn(c.searches_waiting_for_lsn);
  serving->set_inflight_request_bytes(c.admission.inflight_request_bytes);
  serving->set_refused_queue_full(c.admission.refused_queue_full);
  serving->set_refused_waiting_full(c.admission.refused_waiting_full);
  serving->set_refused_request_bytes(c.admission.refused_request_bytes);
  serving->set_cancelled_before_run(c.admission.cancelled_before_run);
}

grpc::ServerUnaryReactor* SearchService::RebuildIndex(grpc::CallbackServerContext* context,
                                                      const v1::RebuildIndexRequest* request,
                                                      v1::RebuildIndexResponse* response) {
  if (Status allowed = authorizer_.Check(*context, request->tenant_id(), auth::Role::kAdmin);
      !allowed.ok()) {
    return FinishNow(context, ToGrpcStatus(allowed));
  }
  return FinishNow(context,
                   Guarded("RebuildIndex", [&] { return Rebuild(*request, response); }));
}

grpc::ServerUnaryReactor* SearchService::CancelRebuild(grpc::CallbackServerContext* context,
                                                       const v1::CancelRebuildRequest* request,
                                                       v1::CancelRebuildResponse* response) {
  if (Status allowed = authorizer_.Check(*context, request->tenant_id(), auth::Role::kAdmin);
      !allowed.ok()) {
    return FinishNow(context, ToGrpcStatus(allowed));
  }
  return FinishNow(context, Guarded("CancelRebuild", [&] {
    Uuid tenant;
    if (Status s = ParseUuidField("tenant_id", request->tenant_id(), &tenant); !s.ok()) {
      return ToGrpcStatus(s);
    }
    const std::vector<IndexInfo> cancelled = registry_.CancelRebuild(tenant, request->model());
    spdlog::info("CancelRebuild: tenant {} model {}: {} cancelled", tenant.ToString(),
                 QuoteForEcho(request->model()), cancelled.size());
    if (cancelled.empty()) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND,
                          "no rebuild is queued or running for tenant_id " + tenant.ToString() +
                              (request->model().empty()
                                   ? std::string()
                                   : " and model " + QuoteForEcho(request->model())));
    }
    for (const IndexInfo& info : cancelled) FillIndexInfo(info, response->add_cancelled());
    return grpc::Status::OK;
  }));
}

grpc::Status SearchService::Rebuild(const v1::RebuildIndexRequest& request,
                                    v1::RebuildIndexResponse* response) {
  Uuid tenant;
  if (Status s = ParseUuidField("tenant_id", request.tenant_id(), &tenant); !s.ok()) {
    return ToGrpcStatus(s);
  }
  std::optional<IndexKind> kind;
  if (Status s = FromProtoKind(request.kind(), &kind); !s.ok()) return ToGrpcStatus(s);

  spdlog::info("RebuildIndex: tenant {} model {} kind {}", tenant.ToString(),
               QuoteForEcho(request.model()), kind ? IndexKindName(*kind) : "by size");
  std::vector<IndexInfo> started;
  size_t joined = 0;
  if (Status s = registry_.StartRebuild(tenant, request.model(), kind, &started, &joined);
      !s.ok()) {
    return ToGrpcStatus(s);
  }
  for (const IndexInfo& info : started) FillIndexInfo(info, response->add_rebuilt());
  response->set_joined(static_cast<uint32_t>(joined));
  return grpc::Status::OK;
}

bool SearchService::AcceptingWork() const {
  return search_pool_.queued() < search_pool_.max_queued() && admission_.HasRequestBytesRoom();
}

ServingCounters SearchService::Counters() const {
  ServingCounters c;
  c.worker_threads = search_pool_.threads();
  c.searches_queued = search_pool_.queued();
  c.searches_running = search_pool_.running();
  c.searches_running_in_handler = search_pool_.claimed();
  c.admission = admission_.Counters();
  c.searches_waiting_for_lsn = c.admission.waiting;
  return c;
}

}  // namespace vecmirror
