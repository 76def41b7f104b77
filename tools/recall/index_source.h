// IndexSource: where vecmirror-recall finds the indexes it measures and asks them questions.
// The measurement (tools/recall/measure.h) sees only this interface, so the same sweep runs
// against a running service over gRPC (GrpcSource), against EntityIndex objects held in this
// process (InProcessSource: indexes a test builds, or that a snapshot loader reads), or against
// any other place that can list indexes and answer exact and approximate searches.
//
// Thread-safety: implementations must allow Search (and Census) from several threads at once;
// List is called from one thread before any Search.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/uuid.h"
#include "index/entity_index.h"
#include "index/index_key.h"

namespace vecmirror::recall {

// One index as the source lists it.
struct IndexDescription {
  IndexKey key;
  IndexKind kind = IndexKind::kFlat;
  uint64_t live = 0;          // searchable rows
  uint64_t dead = 0;          // tombstoned slots awaiting compaction
  uint64_t memory_bytes = 0;  // the index's own estimate
};

// One search. Exactly one of entity_id and vector is the query.
struct SourceQuery {
  // "More like this": the stored vector of this entity, which the answer leaves out (the
  // leave-one-out query of a recall measurement).
  std::optional<Uuid> entity_id;
  std::span<const float> vector;   // otherwise: this vector, of the index's dimension
  std::vector<std::string> types;  // entity types accepted; empty = all
  size_t limit = 10;               // 1 to 1000, as the API allows
  SearchEffort effort;             // exact = true is the ground truth
};

struct SourceHit {
  Uuid entity_id;
  std::string type;
  double similarity = 0;
};

struct SourceAnswer {
  std::vector<SourceHit> hits;  // similarity descending, then entity_id ascending
  bool exact = false;           // the index answered with an exact scan
  IndexKind kind = IndexKind::kFlat;
};

// Which entities an index holds, with their types: the pool that leave-one-out queries are
// drawn from, and the type shares that filtered recall is measured at.
struct CensusEntity {
  Uuid entity_id;
  std::string type;
};

struct Census {
  std::vector<CensusEntity> entities;  // sorted by entity_id, no duplicates
  // True when `entities` is every live entity of the index. False when it is a sample (a
  // service's large index is sampled through exact searches; see ProbeCensus).
  bool complete = false;
};

struct CensusOptions {
  // A sampled census stops once it holds this many entities, or has spent about 4 exact
  // searches of 1,000 per 1,000 of them. Default: 20,000.
  size_t max_entities = 20000;
  uint64_t seed = 1;  // for the random probes of a sampled census
};

class IndexSource {
 public:
  virtual ~IndexSource() = default;

  // For reports: "grpc 127.0.0.1:50051", "in-process".
  virtual std::string name() const = 0;

  // Every index the source holds.
  virtual Status List(std::vector<IndexDescription>* out) = 0;

  // One search of the index with `key`. NotFound when the query entity is not in the index;
  // Unavailable when the source cannot be reached.
  virtual Status Search(const IndexKey& key, const SourceQuery& query, SourceAnswer* out) = 0;

  // The entities of an index (all of them, or a sample with complete = false).
  virtual Status TakeCensus(const IndexDescription& index, const CensusOptions& options,
                            Census* out) = 0;
};

}  // namespace vecmirror::recall
