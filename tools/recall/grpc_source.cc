#include "tools/recall/grpc_source.h"

#include "tools/recall/census.h"

namespace vecmirror::recall {
namespace {

constexpr int kMaxMessageBytes = 64 << 20;  // the server's default limit

const char* CodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::CANCELLED: return "CANCELLED";
    case grpc::StatusCode::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND: return "NOT_FOUND";
    case grpc::StatusCode::PERMISSION_DENIED: return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case grpc::StatusCode::UNAVAILABLE: return "UNAVAILABLE";
    case grpc::StatusCode::UNAUTHENTICATED: return "UNAUTHENTICATED";
    case grpc::StatusCode::INTERNAL: return "INTERNAL";
    default: return "UNKNOWN";
  }
}

}  // namespace

IndexKind KindFromProto(v1::IndexKind kind) {
  switch (kind) {
    case v1::INDEX_KIND_HNSW: return IndexKind::kHnsw;
    case v1::INDEX_KIND_IVF: return IndexKind::kIvf;
    default: return IndexKind::kFlat;
  }
}

Status FromGrpc(const grpc::Status& status, const std::string& server) {
  const std::string message =
      std::string(CodeName(status.error_code())) + ": " + status.error_message() + " (" + server + ")";
  switch (status.error_code()) {
    case grpc::StatusCode::OK: return Status::Ok();
    case grpc::StatusCode::NOT_FOUND: return Status::NotFound(message);
    case grpc::StatusCode::INVALID_ARGUMENT: return Status::InvalidArgument(message);
    case grpc::StatusCode::DEADLINE_EXCEEDED: return Status::DeadlineExceeded(message);
    case grpc::StatusCode::UNAVAILABLE: return Status::Unavailable(message);
    default: return Status::Internal(message);
  }
}

GrpcSource::GrpcSource(GrpcSourceOptions options) : options_(std::move(options)) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxMessageBytes);
  args.SetMaxSendMessageSize(kMaxMessageBytes);
  channel_ = grpc::CreateCustomChannel(options_.server, grpc::InsecureChannelCredentials(), args);
  stub_ = v1::VectorSearch::NewStub(channel_);
}

Status GrpcSource::List(std::vector<IndexDescription>* out) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + options_.timeout);
  v1::ListIndexesResponse response;
  const grpc::Status status = stub_->ListIndexes(&context, v1::ListIndexesRequest(), &response);
  if (!status.ok()) return FromGrpc(status, options_.server);
  out->clear();
  for (const v1::IndexInfo& info : response.indexes()) {
    const std::optional<Uuid> tenant = Uuid::Parse(info.tenant_id());
    if (!tenant) {
      return Status::Internal("ListIndexes returned tenant_id \"" + info.tenant_id() +
                              "\", which is not a UUID (" + options_.server + ")");
    }
    IndexDescription index;
    index.key = IndexKey{*tenant, info.model(), info.dimension()};
    index.kind = KindFromProto(info.kind());
    index.live = info.live_count();
    index.dead = info.dead_count();
    index.memory_bytes = info.memory_bytes();
    out->push_back(std::move(index));
  }
  return Status::Ok();
}

Status GrpcSource::Search(const IndexKey& key, const SourceQuery& query, SourceAnswer* out) {
  v1::SearchRequest request;
  request.set_tenant_id(key.tenant_id.ToString());
  request.set_model(key.model);
  if (query.entity_id) {
    request.set_query_entity_id(query.entity_id->ToString());
  } else {
    request.mutable_vector()->mutable_values()->Add(query.vector.begin(), query.vector.end());
  }
  for (const std::string& type : query.types) request.add_entity_types(type);
  request.set_limit(static_cast<uint32_t>(query.limit));
  request.mutable_effort()->set_ef_search(static_cast<uint32_t>(query.effort.ef_search));
  request.mutable_effort()->set_nprobe(static_cast<uint32_t>(query.effort.nprobe));
  request.mutable_effort()->set_exact(query.effort.exact);

  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + options_.timeout);
  v1::SearchResponse response;
  const grpc::Status status = stub_->SearchSimilarEntities(&context, request, &response);
  if (!status.ok()) return FromGrpc(status, options_.server);

  out->hits.clear();
  out->hits.reserve(static_cast<size_t>(response.results_size()));
  for (const v1::SearchResult& result : response.results()) {
    const std::optional<Uuid> id = Uuid::Parse(result.entity_id());
    if (!id) {
      return Status::Internal("the service returned entity_id \"" + result.entity_id() +
                              "\", which is not a UUID (" + options_.server + ")");
    }
    out->hits.push_back({*id, result.entity_type(), result.similarity()});
  }
  out->exact = response.exact();
  out->kind = KindFromProto(response.index_kind());
  return Status::Ok();
}

Status GrpcSource::TakeCensus(const IndexDescription& index, const CensusOptions& options,
                              Census* out) {
  return ProbeCensus(*this, index, options, out);
}

}  // namespace vecmirror::recall
