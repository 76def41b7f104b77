// Taking a census of an index through searches alone, for sources that cannot enumerate their
// entities (a service answers searches; it has no "list the rows" call).
//
// ProbeCensus collects the entities that exact searches return, 1,000 at a time (the API's
// largest limit): first along a random direction, then alternately more random directions and
// "more like this" from entities found so far, until it holds every live entity or
// options.max_entities, or has spent its search budget. An index of at most 1,000 rows is listed
// completely by the first search. A larger one gives a sample that is spread over the index but
// not uniform: entities that are nobody's near neighbour (and never extreme along a direction)
// turn up less often than in a uniform draw.
//
// Thread-safety: the functions use only IndexSource::Search, from the calling thread.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "tools/recall/index_source.h"

namespace vecmirror::recall {

// The largest limit a search may ask for (the API's maximum).
constexpr size_t kMaxLimit = 1000;

Status ProbeCensus(IndexSource& source, const IndexDescription& index,
                   const CensusOptions& options, Census* out);

// The number of live rows of `types` when it is below kMaxLimit (one exact filtered search
// shows them all); nullopt when there are kMaxLimit or more, or the search fails.
std::optional<size_t> CountAllowedIfFew(IndexSource& source, const IndexDescription& index,
                                        const std::vector<std::string>& types, uint64_t seed);

// A unit vector of `dim` normal components drawn from `seed`.
std::vector<float> RandomDirection(uint32_t dim, uint64_t seed);

}  // namespace vecmirror::recall
