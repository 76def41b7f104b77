// The recall measurement. For each index: a census of its entities, the queries (leave-one-out
// from the census, or a query file's vectors), the type filters that approximate each wanted
// selectivity, the ground truth (an exact search per query and filter), then the sweep: every
// effort of the index's kind (efSearch for HNSW, nprobe for IVF, one point for flat) at every
// k, the searches asking for k results, one client thread (or `concurrency`).
//
//   std::vector<IndexPlan> plan;
//   PlanRecall(source, options, &progress, &plan);
//   RecallReport report;
//   MeasureRecall(source, plan, options, &progress, &report);
//   VerifyWithSql(source, checker, plan, options, &progress, &report.verification);
//
// recall@k of one query = |its top k ∩ the exact top k| / |the exact top k|, by entity id (a
// query with fewer than k allowed rows counts the ones there are; one with none counts 1.0);
// recall@k of a point is the mean over its queries, as ann-benchmarks computes it.
//
// Thread-safety: one measurement at a time per source; the functions run the searches of one
// point on `concurrency` threads of their own.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "tools/recall/index_source.h"
#include "tools/recall/progress.h"
#include "tools/recall/query_file.h"
#include "tools/recall/recall_report.h"
#include "tools/recall/sql_check.h"

namespace vecmirror::recall {

struct RecallOptions {
  // Recall@k for each k (1 to 1000). Default: 1, 10, 100.
  std::vector<size_t> ks = {1, 10, 100};
  // Leave-one-out queries per index, drawn from its census. Default: 200.
  size_t queries = 200;
  // Instead of leave-one-out: these vectors, for every index of their dimension (the others
  // are skipped). Not owned. Default: none.
  const QueryVectors* query_vectors = nullptr;
  uint64_t seed = 1;  // query sampling and census probes
  // The sweep. Defaults: efSearch 16 to 512 and nprobe 1 to 128, doubling.
  std::vector<int> ef_search = {16, 32, 64, 128, 256, 512};
  std::vector<int> nprobe = {1, 2, 4, 8, 16, 32, 64, 128};
  // Filtered recall at these shares of the live rows (each approximated by a set of types).
  // Default: 50%, 5%, 0.5%.
  std::vector<double> selectivities = {0.5, 0.05, 0.005};
  // Client threads per point. Default: 1 (latency without queueing).
  size_t concurrency = 1;
  // Each point's queries run this many times and the fastest run is reported (recall does not
  // change between runs; latency on a shared machine does), as ann-benchmarks does. Default: 1.
  size_t runs = 1;
  // Untimed searches per index before its sweep (caches, connections). Default: 50.
  size_t warmup = 50;
  CensusOptions census;
  // Only these tenants / models; empty = all.
  std::vector<Uuid> tenants;
  std::vector<std::string> models;
  // --verify-sql: answers checked per index (the first queries, unfiltered), each with
  // limit = the largest k. Default: 20.
  size_t verify_queries = 20;
};

// One query of an index: an entity of its own (leave-one-out) or a row of the query file.
struct PlannedQuery {
  std::optional<Uuid> entity_id;
  size_t file_row = 0;
  std::string Label() const;  // "entity <uuid>" or "query <row + 1>"
};

struct IndexPlan {
  IndexResult result;  // index, census, filters (measure fills the rest)
  std::vector<PlannedQuery> queries;
};

// Lists the source's indexes (filtered by tenants and models, sorted by key) and plans each.
Status PlanRecall(IndexSource& source, const RecallOptions& options, Progress* progress,
                  std::vector<IndexPlan>* plan);

// Runs the truth and the sweep of every planned index. Fails only when the source fails for a
// whole index (every search of it); single failed searches are counted in the points.
Status MeasureRecall(IndexSource& source, const std::vector<IndexPlan>& plan,
                     const RecallOptions& options, Progress* progress, RecallReport* report);

// Compares the source's exact answers for the first options.verify_queries queries of each
// index (no filter, limit = the largest k) with the contract's SQL.
Status VerifyWithSql(IndexSource& source, SqlChecker& checker, const std::vector<IndexPlan>& plan,
                     const RecallOptions& options, Progress* progress, SqlCheckResult* out);

// The efforts swept for an index kind, and how a point's effort is labelled.
std::vector<SearchEffort> EffortsFor(IndexKind kind, const RecallOptions& options);
std::string EffortLabel(IndexKind kind, const SearchEffort& effort);

// recall@k of one answer: |found's first k ∩ truth's first k| / |truth's first k| by id.
double RecallAtK(const std::vector<SourceHit>& found, const std::vector<SourceHit>& truth,
                 size_t k);

// Nearest-rank percentile of `values` (sorted in place); 0 for none.
double Percentile(std::vector<double>* values, double p);

}  // namespace vecmirror::recall
