#include "src/search_request.h"

#include <chrono>
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "base/echo.h"
#include "index/kernels.h"

namespace vecmirror {
namespace {

// The proto's documented ceilings on search effort: past them a search costs more than an
// exact scan of any index this service holds.
constexpr uint32_t kMaxEfSearch = 4096;
constexpr uint32_t kMaxNprobe = 65536;

// Checks every component without copying the vector: each must be finite, and one non-zero.
Status CheckQueryVector(const v1::Vector& proto) {
  if (proto.values_size() == 0) {
    return Status::InvalidArgument(
        "query.vector is empty; expected one float per dimension of the model");
  }
  bool nonzero = false;
  for (int i = 0; i < proto.values_size(); ++i) {
    const float v = proto.values(i);
    if (!std::isfinite(v)) {
      return Status::InvalidArgument("query.vector[" + std::to_string(i) + "] is " +
                                     (std::isnan(v) ? "NaN" : "Inf") +
                                     "; every component must be finite");
    }
    nonzero |= v != 0;
  }
  if (!nonzero) {
    return Status::InvalidArgument(
        "query.vector is all zeros; cosine similarity needs a non-zero vector");
  }
  return Status::Ok();
}

Status ParseQuery(const v1::SearchRequest& request, ParsedSearch* parsed) {
  switch (request.query_case()) {
    case v1::SearchRequest::kVector:
      return CheckQueryVector(request.vector());
    case v1::SearchRequest::kQueryEntityId: {
      Uuid entity;
      Status s = ParseUuidField("query_entity_id", request.query_entity_id(), &entity);
      if (s.ok()) parsed->query_entity = entity;
      return s;
    }
    case v1::SearchRequest::QUERY_NOT_SET:
      break;
  }
  return Status::InvalidArgument(
      "query is required: set query.vector (one float per dimension of the model) or "
      "query_entity_id (a UUID)");
}

Status ParseEffort(const v1::SearchEffort& proto, SearchEffort* out) {
  if (proto.ef_search() > kMaxEfSearch) {
    return Status::InvalidArgument("effort.ef_search is " + std::to_string(proto.ef_search()) +
                                   "; expected at most " + std::to_string(kMaxEfSearch) +
                                   " (0 = the index default)");
  }
  if (proto.nprobe() > kMaxNprobe) {
    return Status::InvalidArgument("effort.nprobe is " + std::to_string(proto.nprobe()) +
                                   "; expected at most " + std::to_string(kMaxNprobe) +
                                   " (0 = the index default)");
  }
  out->ef_search = static_cast<int>(proto.ef_search());
  out->nprobe = static_cast<int>(proto.nprobe());
  out->exact = proto.exact();
  return Status::Ok();
}

}  // namespace

Status ParseUuidField(const std::string& field, const std::string& text, Uuid* out) {
  if (text.empty()) {
    return Status::InvalidArgument(field + " is required: a UUID in 8-4-4-4-12 hex form");
  }
  std::optional<Uuid> parsed = Uuid::Parse(text);
  if (!parsed) {
    return Status::InvalidArgument(field + " " + QuoteForEcho(text) +
                                   " is not a UUID; expected 8-4-4-4-12 hex, e.g. "
                                   "123e4567-e89b-12d3-a456-426614174000");
  }
  *out = *parsed;
  return Status::Ok();
}

// The checked query scaled to unit length. NormalizeInPlace sums the squares in double, which
// no float component can overflow (3.4e38) or underflow (1e-45).
Status NormalizedQueryVector(const v1::Vector& proto, std::vector<float>* out) {
  out->assign(proto.values().begin(), proto.values().end());
  if (!NormalizeInPlace(*out)) {
    return Status::InvalidArgument("query.vector has no finite non-zero norm");
  }
  return Status::Ok();
}

// The checks that don't depend on the server's state or its data.
Status ParseSearch(const v1::SearchRequest& request, size_t max_limit, size_t default_limit,
                   ParsedSearch* parsed) {
  if (Status s = ParseUuidField("tenant_id", request.tenant_id(), &parsed->tenant); !s.ok()) {
    return s;
  }
  if (Status s = ParseQuery(request, parsed); !s.ok()) return s;
  if (request.has_limit() && (request.limit() == 0 || request.limit() > max_limit)) {
    return Status::InvalidArgument("limit is " + std::to_string(request.limit()) +
                                   "; expected 1 to " + std::to_string(max_limit) +
                                   " (unset = the default of " +
                                   std::to_string(default_limit) + ")");
  }
  parsed->limit = request.has_limit() ? request.limit() : default_limit;
  if (request.has_min_similarity()) {
    const double min = request.min_similarity();
    if (std::isnan(min) || min < -1.0 || min > 1.0) {
      return Status::InvalidArgument("min_similarity is " + std::to_string(min) +
                                     "; expected a cosine similarity in [-1, 1]");
    }
    parsed->min_similarity = static_cast<float>(min);
  }
  return ParseEffort(request.effort(), &parsed->effort);
}

// Unknown type names match nothing, as `entity_type = ANY(:types)` does in SQL: they are left
// out of the mask, and a mask left empty means an empty answer.
TypeMask ResolveTypes(const google::protobuf::RepeatedPtrField<std::string>& names,
                      const EntityTypeDictionary& types) {
  if (names.empty()) return TypeMask::All();
  TypeMask mask = TypeMask::None();
  for (const std::string& name : names) {
    if (std::optional<EntityTypeCode> code = types.Find(name)) mask.Add(*code);
  }
  return mask;
}

v1::IndexKind ToProtoKind(IndexKind kind) {
  switch (kind) {
    case IndexKind::kFlat: return v1::INDEX_KIND_FLAT;
    case IndexKind::kHnsw: return v1::INDEX_KIND_HNSW;
    case IndexKind::kIvf: return v1::INDEX_KIND_IVF;
  }
  return v1::INDEX_KIND_UNSPECIFIED;
}

Status FromProtoKind(v1::IndexKind proto, std::optional<IndexKind>* out) {
  switch (proto) {
    case v1::INDEX_KIND_UNSPECIFIED: *out = std::nullopt; return Status::Ok();
    case v1::INDEX_KIND_FLAT: *out = IndexKind::kFlat; return Status::Ok();
    case v1::INDEX_KIND_HNSW: *out = IndexKind::kHnsw; return Status::Ok();
    case v1::INDEX_KIND_IVF: *out = IndexKind::kIvf; return Status::Ok();
    default: break;
  }
  return Status::InvalidArgument("kind is " + std::to_string(static_cast<int>(proto)) +
                                 "; expected INDEX_KIND_UNSPECIFIED, INDEX_KIND_FLAT, "
                                 "INDEX_KIND_HNSW or INDEX_KIND_IVF");
}

void FillIndexInfo(const IndexInfo& info, v1::IndexInfo* out) {
  out->set_tenant_id(info.key.tenant_id.ToString());
  out->set_model(info.key.model);
  out->set_dimension(info.key.dim);
  out->set_kind(ToProtoKind(info.stats.kind));
  out->set_live_count(info.stats.live);
  out->set_dead_count(info.stats.dead);
  out->set_memory_bytes(info.stats.memory_bytes);
  out->set_bytes_per_vector(info.stats.live == 0 ? 0.0
                                                 : static_cast<double>(info.stats.memory_bytes) /
                                                       static_cast<double>(info.stats.live));
  out->set_vector_storage(VectorStorageName(info.stats.storage));
  out->set_covered_lsn(info.stats.covered_lsn);
  out->set_rebuilding(info.stats.rebuilding);
  if (info.rebuild) FillRebuildJob(*info.rebuild, out->mutable_rebuild());
}

v1::RebuildState ToProtoRebuildState(RebuildState state) {
  switch (state) {
    case RebuildState::kQueued: return v1::REBUILD_STATE_QUEUED;
    case RebuildState::kRunning: return v1::REBUILD_STATE_RUNNING;
    case RebuildState::kCancelling: return v1::REBUILD_STATE_CANCELLING;
    case RebuildState::kDone: return v1::REBUILD_STATE_DONE;
    case RebuildState::kFailed: return v1::REBUILD_STATE_FAILED;
    case RebuildState::kCancelled: return v1::REBUILD_STATE_CANCELLED;
  }
  return v1::REBUILD_STATE_UNSPECIFIED;
}

void FillRebuildJob(const RebuildJob& job, v1::RebuildJob* out) {
  const auto unix_ms = [](std::chrono::system_clock::time_point t) -> uint64_t {
    if (t == std::chrono::system_clock::time_point{}) return 0;
    return static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count());
  };
  out->set_job_id(job.id);
  out->set_state(ToProtoRebuildState(job.state));
  out->set_requested_kind(job.requested_kind ? ToProtoKind(*job.requested_kind)
                                             : v1::INDEX_KIND_UNSPECIFIED);
  out->set_target_kind(job.building ? ToProtoKind(*job.building) : v1::INDEX_KIND_UNSPECIFIED);
  out->set_rows_done(job.rows_done);
  out->set_rows_total(job.rows_total);
  out->set_seconds(job.seconds);
  out->set_error(job.error);
  out->set_queued_at_unix_ms(unix_ms(job.queued_at));
  out->set_started_at_unix_ms(unix_ms(job.started_at));
}

}  // namespace vecmirror
