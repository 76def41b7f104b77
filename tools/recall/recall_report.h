// RecallReport: everything one vecmirror-recall run measured, as plain data, for the terminal
// table, the CSV and JSON files and the plot (tools/recall/report_files.h, svg_plot.h).
//
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "index/entity_index.h"
#include "tools/recall/index_source.h"
#include "tools/recall/sql_check.h"
#include "tools/recall/type_filters.h"

namespace vecmirror::recall {

// One measured index.
struct IndexResult {
  IndexDescription index;
  size_t census_entities = 0;
  bool census_complete = false;
  bool leave_one_out = true;  // queries are the index's own entities; else the query file's
  size_t queries = 0;         // queries measured (after `dropped`)
  size_t dropped = 0;         // queries whose exact search failed (e.g. the entity was removed)
  // [0] is "all" (no filter); then one per selectivity the types could approximate.
  std::vector<TypeFilter> filters;
  // Per filter: whether TypeFilter::share is a count (true) or estimated from a sampled census.
  std::vector<bool> share_exact;
  std::string skipped;  // why the index was not measured; empty when it was
  std::vector<std::string> notes;  // e.g. a selectivity no set of types approximates
};

// One point of the sweep: one index, one filter, one effort, one k.
struct PointResult {
  size_t index = 0;   // into RecallReport::indexes
  size_t filter = 0;  // into IndexResult::filters
  SearchEffort effort;
  std::string effort_label;  // "ef=64", "nprobe=8", "flat"
  size_t k = 10;             // the searches asked for k results (limit = k)
  double recall = 0;         // mean over queries of |top-k ∩ true top-k| / |true top-k|
  double p50_ms = 0;
  double p99_ms = 0;
  double qps = 0;            // queries / wall time of the point, over `concurrency` clients
  size_t queries = 0;        // answered
  size_t errors = 0;         // searches that failed (left out of the recall)
  double exact_share = 0;    // share of answers the index gave by an exact scan
  size_t runs = 1;           // the queries ran this many times; these figures are the fastest run's
};

struct RecallReport {
  std::string source;  // IndexSource::name()
  std::string started_at;  // UTC, ISO 8601
  double seconds = 0;      // the whole run
  std::vector<size_t> ks;
  size_t concurrency = 1;
  uint64_t seed = 0;
  std::vector<IndexResult> indexes;
  std::vector<PointResult> points;
  bool verified = false;  // --verify-sql ran
  SqlCheckResult verification;
};

}  // namespace vecmirror::recall
