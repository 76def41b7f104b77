#include "tools/cli/cli_json.h"

#include "base/lsn.h"
#include "tools/cli/rebuild_progress.h"

namespace vecmirror::cli {
namespace {

Json IndexJson(const v1::IndexInfo& info) {
  Json j;
  j["tenant_id"] = info.tenant_id();
  j["model"] = info.model();
  j["dimension"] = info.dimension();
  j["kind"] = IndexKindText(info.kind());
  j["live_count"] = info.live_count();
  j["dead_count"] = info.dead_count();
  j["memory_bytes"] = info.memory_bytes();
  j["bytes_per_vector"] = info.bytes_per_vector();
  j["vector_storage"] = info.vector_storage();
  j["covered_lsn"] = FormatLsn(info.covered_lsn());
  j["rebuilding"] = info.rebuilding();
  if (info.has_rebuild()) {
    const v1::RebuildJob& job = info.rebuild();
    j["rebuild"] = {{"job_id", job.job_id()},
                    {"state", RebuildStateText(job.state())},
                    {"requested_kind", IndexKindText(job.requested_kind())},
                    {"target_kind", IndexKindText(job.target_kind())},
                    {"rows_done", job.rows_done()},
                    {"rows_total", job.rows_total()},
                    {"seconds", job.seconds()},
                    {"error", job.error()}};
  }
  return j;
}

Json IndexListJson(const google::protobuf::RepeatedPtrField<v1::IndexInfo>& list) {
  Json array = Json::array();
  for (const v1::IndexInfo& info : list) array.push_back(IndexJson(info));
  return array;
}

}  // namespace

const char* IndexKindText(v1::IndexKind kind) {
  switch (kind) {
    case v1::INDEX_KIND_FLAT: return "flat";
    case v1::INDEX_KIND_HNSW: return "hnsw";
    case v1::INDEX_KIND_IVF: return "ivf";
    default: return "-";
  }
}

Json SearchJson(const v1::SearchResponse& response) {
  Json results = Json::array();
  for (const v1::SearchResult& r : response.results()) {
    Json row;
    row["entity_id"] = r.entity_id();
    row["entity_type"] = r.entity_type();
    row["similarity"] = r.similarity();
    results.push_back(std::move(row));
  }
  Json j;
  j["results"] = std::move(results);
  j["applied_lsn"] = FormatLsn(response.applied_lsn());
  j["exact"] = response.exact();
  j["index_kind"] = IndexKindText(response.index_kind());
  return j;
}

Json IndexesJson(const v1::ListIndexesResponse& response) {
  Json j;
  j["indexes"] = IndexListJson(response.indexes());
  j["applied_lsn"] = FormatLsn(response.applied_lsn());
  return j;
}

Json RebuildJson(const v1::RebuildIndexResponse& response) {
  Json j;
  j["rebuilt"] = IndexListJson(response.rebuilt());
  return j;
}

Json MirrorStatusJson(const v1::MirrorStatus& s) {
  Json j;
  j["state"] = s.state();
  j["loaded"] = s.loaded();
  j["slot_name"] = s.slot_name();
  j["publication"] = s.publication();
  j["applied_lsn"] = FormatLsn(s.applied_lsn());
  j["confirmed_lsn"] = FormatLsn(s.confirmed_lsn());
  j["server_lsn"] = FormatLsn(s.server_lsn());
  j["lag_bytes"] = s.lag_bytes();
  j["lag_seconds"] = s.lag_seconds();
  j["seconds_since_last_commit"] = s.seconds_since_last_commit();
  j["reconnects"] = s.reconnects();
  j["initial_loads"] = s.initial_loads();
  j["transactions_applied"] = s.transactions_applied();
  j["changes_applied"] = s.changes_applied();
  const v1::BadRowCounters& bad = s.bad_rows();
  j["bad_rows"] = {{"null_vector", bad.null_vector()},
                   {"non_finite", bad.non_finite()},
                   {"zero_vector", bad.zero_vector()},
                   {"dimension_mismatch", bad.dimension_mismatch()},
                   {"malformed", bad.malformed()},
                   {"unknown_model", bad.unknown_model()},
                   {"entity_type_limit", bad.entity_type_limit()}};
  j["retained_wal_bytes"] = s.retained_wal_bytes();
  const v1::SnapshotStatus& snap = s.snapshots();
  j["snapshots"] = {{"enabled", snap.enabled()},
                    {"directory", snap.directory()},
                    {"started_from", snap.started_from()},
                    {"durable_lsn", FormatLsn(snap.durable_lsn())},
                    {"written", snap.written()},
                    {"failed", snap.failed()},
                    {"last_write_seconds", snap.last_write_seconds()},
                    {"last_bytes", snap.last_bytes()},
                    {"seconds_since_last", snap.seconds_since_last()},
                    {"writing", snap.writing()}};
  j["last_error"] = s.last_error();
  return j;
}

Json HealthJson(const std::string& service, const std::string& status) {
  Json j;
  j["service"] = service;
  j["status"] = status;
  return j;
}

Json ErrorJson(const std::string& code, const std::string& message) {
  Json error;
  error["code"] = code;
  error["message"] = message;
  Json j;
  j["error"] = std::move(error);
  return j;
}

std::string JsonLine(const Json& value) {
  return value.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n";
}

}  // namespace vecmirror::cli
