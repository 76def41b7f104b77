// A search request read from its proto: the checks that need neither the server's state nor its
// data, with errors that name the field; and the mapping of the engine's values to the API's.
//
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/uuid.h"
#include "index/entity_types.h"
#include "index/index_options.h"
#include "index/registry.h"
#include "vecmirror/v1/vecmirror.pb.h"

namespace vecmirror {

// A search request that passed ParseSearch.
struct ParsedSearch {
  Uuid tenant;
  std::optional<Uuid> query_entity;  // "more like this"
  size_t limit = 0;
  std::optional<float> min_similarity;
  SearchEffort effort;
};

// `field` must hold a UUID; the error names the field and shows what it held.
Status ParseUuidField(const std::string& field, const std::string& text, Uuid* out);

// The query vector, checked (finite, not all zero) and normalized to unit length.
Status NormalizedQueryVector(const v1::Vector& proto, std::vector<float>* out);

// tenant_id, the query, limit (1 to max_limit; unset = default_limit), min_similarity and
// effort.
Status ParseSearch(const v1::SearchRequest& request, size_t max_limit, size_t default_limit,
                   ParsedSearch* parsed);

// The entity_types filter as a mask of codes; empty = every type.
TypeMask ResolveTypes(const google::protobuf::RepeatedPtrField<std::string>& names,
                      const EntityTypeDictionary& types);

v1::IndexKind ToProtoKind(IndexKind kind);
// INDEX_KIND_UNSPECIFIED is nullopt (the size policy decides).
Status FromProtoKind(v1::IndexKind proto, std::optional<IndexKind>* out);
void FillIndexInfo(const IndexInfo& info, v1::IndexInfo* out);
v1::RebuildState ToProtoRebuildState(RebuildState state);
void FillRebuildJob(const RebuildJob& job, v1::RebuildJob* out);

}  // namespace vecmirror
