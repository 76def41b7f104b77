// vecmirror-cli's --json output: each command's answer as one JSON object on one line, for
// scripts (jq, a deploy check). LSNs are strings as PostgreSQL prints them ("16/B374D848"),
// which --min-lsn reads back; counts and bytes are numbers.
//
//   search   {"results":[{"entity_id","entity_type","similarity"}...],"applied_lsn","exact",
//             "index_kind"}
//   indexes  {"indexes":[{"tenant_id","model","dimension","kind","live_count","dead_count",
//             "memory_bytes","bytes_per_vector","covered_lsn","rebuilding"}...],"applied_lsn"}
//   rebuild  {"rebuilt":[...as indexes...]}
//   status   {"state","loaded","slot_name",...,"bad_rows":{"null_vector",...},"last_error"}
//   health   {"service","status"}
//   an error {"error":{"code":"INVALID_ARGUMENT","message":"..."}} on stderr
//
// Thread-safety: pure functions.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "vecmirror/v1/vecmirror.pb.h"

namespace vecmirror::cli {

using Json = nlohmann::ordered_json;

Json SearchJson(const v1::SearchResponse& response);
Json IndexesJson(const v1::ListIndexesResponse& response);
Json RebuildJson(const v1::RebuildIndexResponse& response);
Json MirrorStatusJson(const v1::MirrorStatus& status);
Json HealthJson(const std::string& service, const std::string& status);
// `code` is the gRPC code name, or "LOCAL_ERROR" for a mistake found before any call.
Json ErrorJson(const std::string& code, const std::string& message);

// One line: the compact text and a newline. Invalid UTF-8 becomes U+FFFD rather than failing.
std::string JsonLine(const Json& value);

// "flat", "hnsw", "ivf", or "-" when unspecified.
const char* IndexKindText(v1::IndexKind kind);

}  // namespace vecmirror::cli
