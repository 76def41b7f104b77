// vecmirror-recall: measures the recall@k of a running service's indexes against exact
// search, over a sweep of efSearch (HNSW) or nprobe (IVF), unfiltered and at entity_type
// selectivities, with latency and QPS per point; optionally checks exact answers against the
// contract's SQL in PostgreSQL. With --snapshot DIR it measures the indexes of the newest
// verifiable snapshot under DIR instead, offline (tools/recall/snapshot_source.h). RunRecall
// is the whole program behind main(), taking its streams as arguments so tests run it
// in-process.
//
// Exit codes: 0 success; 1 the service (or PostgreSQL for --verify-sql) failed or has no
// matching index, or no snapshot under --snapshot verifies; 2 a local error (bad flag value,
// unreadable query file, unwritable --out-dir); 3 --verify-sql found divergences; CLI11's codes
// for command-line parse errors.
#pragma once

#include <ostream>

namespace vecmirror::recall {

constexpr int kExitSourceError = 1;
constexpr int kExitLocalError = 2;
constexpr int kExitDivergence = 3;

int RunRecall(int argc, const char* const* argv, std::ostream& out, std::ostream& err);

}  // namespace vecmirror::recall
