// ExpectMirrorEqualsDatabase: the exact-equality check of the live-mirror suites. It reads the
// searchable set straight from PostgreSQL with DESIGN.md's contract (completed embeddings of
// current, not-deleted entities whose vector is present, finite, not all zero and of the model's
// dimension), groups it by (tenant, model), and asks the running service for every group with an
// exact search. The answer must hold the same entity ids and types, and similarities within 1e-5
// of a cosine computed here in double precision, so the mirrored vectors are the database's
// (MirrorCheckOptions::similarity_tolerance widens that for a server storing fp16 rows). A
// group larger than the service's maximum limit (1000) is checked on its top 1000 for each probe,
// and again per entity type (an entity_types filter), in full for each type of at most 1000 rows.
// ListIndexes must agree too: every index with live rows is a non-empty group of the same size,
// and every group has its index.
//
// Also here, for the suites that write the data: SQL literals for vectors, LSN parsing, and the
// WAL position to wait for after a commit.
//
// Thread-safety: the functions share no state; each opens its own PostgreSQL connections. A
// gRPC stub may be used from several threads.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "base/lsn.h"
#include "index/model_catalog.h"
#include "tests/support/pg_env.h"
#include "vecmirror/v1/vecmirror.grpc.pb.h"

namespace vecmirror::testing {

// ---- LSNs ------------------------------------------------------------------------------------

using vecmirror::FormatLsn;
using vecmirror::ParseLsn;

// The SQL that returns a WAL position covering every transaction committed before it ran:
// pg_current_wal_lsn() once WAL is flushed that far. pg_current_wal_lsn() alone is the *write*
// position, which lags behind commits made with synchronous_commit = off (the test cluster's
// setting) until the WAL writer catches up; a synchronous commit of its own first flushes every
// record inserted before it.
inline constexpr char kCommittedLsnSql[] =
    "BEGIN; SET LOCAL synchronous_commit = on; SELECT txid_current(); COMMIT; "
    "SELECT pg_current_wal_lsn()::text";

// The min_lsn a search must wait for to see everything committed so far. 0 (and a test
// failure) when it cannot be read.
inline uint64_t CurrentWalLsn(const std::string& conninfo) {
  std::string text;
  if (Status s = QueryValue(conninfo, kCommittedLsnSql, &text); !s.ok()) {
    ADD_FAILURE() << "cannot read pg_current_wal_lsn(): " << s.ToString();
    return 0;
  }
  const std::optional<uint64_t> lsn = ParseLsn(text);
  if (!lsn) ADD_FAILURE() << "pg_current_wal_lsn() returned \"" << text << "\"";
  return lsn.value_or(0);
}

// ---- Vectors as SQL text ----------------------------------------------------------------------

// {1,2.5,-3} (real[]) or [1,2.5,-3] (pgvector), each float in its shortest form that reads back
// to the same float, so what the database stores is exactly `v`.
inline std::string VectorLiteral(const std::vector<float>& v, bool pgvector = false) {
  std::string out;
  out.reserve(v.size() * 12 + 2);
  out.push_back(pgvector ? '[' : '{');
  char buf[32];
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out.push_back(',');
    if (std::isnan(v[i])) {
      out += "NaN";
    } else if (std::isinf(v[i])) {
      out += v[i] > 0 ? "Infinity" : "-Infinity";
    } else {
      auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v[i]);
      out.append(buf, end);
    }
  }
  out.push_back(pgvector ? ']' : '}');
  return out;
}

// Parses what PostgreSQL prints for real[] ({...}) or vector ([...]). False on anything else.
inline bool ParseVectorText(const std::string& text, std::vector<float>* out) {
  out->clear();
  if (text.size() < 2) return false;
  const char open = text.front(), close = text.back();
  if (!((open == '{' && close == '}') || (open == '[' && close == ']'))) return false;
  size_t pos = 1;
  const size_t end = text.size() - 1;
  if (pos == end) return true;
  while (pos <= end) {
    size_t comma = text.find(',', pos);
    if (comma == std::string::npos || comma > end) comma = end;
    const std::string item = text.substr(pos, comma - pos);
    char* parsed_end = nullptr;
    const float value = std::strtof(item.c_str(), &parsed_end);  // also NaN, Infinity
    if (item.empty() || *parsed_end != '\0') return false;
    out->push_back(value);
    pos = comma + 1;
  }
  return true;
}

// ---- The searchable set, from SQL -------------------------------------------------------------

struct SearchableRow {
  std::string entity_id;
  std::string entity_type;
  std::vector<float> vector;  // as stored, not normalized
};

using GroupKey = std::pair<std::string, std::string>;  // (tenant_id, model)
using SearchableSet = std::map<GroupKey, std::vector<SearchableRow>>;

struct MirrorCheckOptions {
  // Models configured beyond the defaults (the server's --models), with their dimensions.
  std::map<std::string, uint32_t> extra_models;
  // The server runs with --learn-models: a model in neither list takes the dimension all its
  // well-formed rows share (and fails the check when they disagree: the mirror's choice would
  // then depend on arrival order). Without it such rows are not searchable.
  bool learn_models = false;
  // How long to wait for the service to apply min_lsn.
  std::chrono::seconds drain_timeout{60};
  // Seed of the random probe vector of each group.
  uint64_t probe_seed = 20240601;
  // Mismatch lines reported per group before the rest are only counted.
  size_t max_reported = 15;
  // How far a reported similarity may be from SQL's, and how far below SQL's k-th best a top-k
  // answer may end. Default 1e-5: the mirrored vectors are the database's, to float rounding.
  // A server with --vector-storage fp16 scores fp16-rounded rows: 1e-3 covers them; with sq8,
  // decoded rows (tests/snapshot_resume_test.cc derives its tolerance from the step).
  double similarity_tolerance = 1e-5;
};

// The contract's query for every tenant and model at once, filtered as DESIGN.md defines
// searchable. Rows that fail the test data's own invariants (one current version per id)
// are reported as failures.
inline Status ReadSearchableSet(const std::string& conninfo, const MirrorCheckOptions& options,
                                SearchableSet* out) {
  out->clear();
  std::vector<Row> rows;
  // The whole join is read: a hash join is always right, and a nested loop chosen from stale
  // statistics (say, just after a 100,000-row transaction) would take minutes.
  Status s = QueryRows(conninfo,
                       "SET enable_nestloop = off; "
                       "SELECT e.tenant_id::text, emb.model, emb.entity_id::text, e.entity_type, "
                       "       emb.vector::text "
                       "FROM embedding emb "
                       "JOIN entity e ON e.id = emb.entity_id "
                       "             AND e.valid_to IS NULL AND e.deleted_at IS NULL "
                       "WHERE emb.status = 'completed' AND emb.vector IS NOT NULL "
                       "ORDER BY 1, 2, 3",
                       &rows);
  if (!s.ok()) return s;

  std::map<std::string, uint32_t> dims;
  for (const auto& [name, dim] : DefaultModels()) dims[name] = dim;
  for (const auto& [name, dim] : options.extra_models) dims[name] = dim;

  // Well-formed rows first; the dimension filter needs every row of an unknown model.
  std::map<GroupKey, std::vector<SearchableRow>> candidates;
  std::map<std::string, std::set<uint32_t>> seen_dims;  // models not configured
  for (const Row& row : rows) {
    SearchableRow r;
    r.entity_id = *row[2];
    r.entity_type = *row[3];
    if (!ParseVectorText(*row[4], &r.vector)) {
      return Status::Internal("cannot parse the vector of entity " + r.entity_id + ": " +
                              row[4]->substr(0, 80));
    }
    bool any_nonzero = false, finite = true;
    for (float x : r.vector) {
      finite = finite && std::isfinite(x);
      any_nonzero = any_nonzero || x != 0.0f;
    }
    if (!finite || !any_nonzero) continue;
    const std::string& model = *row[1];
    if (!dims.count(model)) {
      if (!options.learn_models) continue;  // unknown_model: never indexed
      seen_dims[model].insert(static_cast<uint32_t>(r.vector.size()));
    }
    candidates[{*row[0], model}].push_back(std::move(r));
  }
  for (const auto& [model, found] : seen_dims) {
    if (found.size() != 1) {
      return Status::FailedPrecondition("model " + model + " has rows of " +
                                        std::to_string(found.size()) +
                                        " dimensions; declare it in MirrorCheckOptions");
    }
    dims[model] = *found.begin();
  }
  for (auto& [key, group] : candidates) {
    const uint32_t dim = dims.at(key.second);
    std::vector<SearchableRow> kept;
    std::set<std::string> ids;
    for (SearchableRow& r : group) {
      if (r.vector.size() != dim) continue;
      if (!ids.insert(r.entity_id).second) {
        return Status::FailedPrecondition("entity " + r.entity_id +
                                          " has several current versions: the test data is "
                                          "broken, not the mirror");
      }
      kept.push_back(std::move(r));
    }
    if (!kept.empty()) (*out)[key] = std::move(kept);
  }
  return Status::Ok();
}

// ---- Talking to the service -------------------------------------------------------------------

inline std::string GrpcText(const grpc::Status& s) {
  return "gRPC " + std::to_string(static_cast<int>(s.error_code())) + " " + s.error_message();
}

// A search as the checker sends it: exact, waiting for min_lsn.
inline grpc::Status ExactSearch(v1::VectorSearch::Stub& stub, const std::string& tenant,
                                const std::string& model, const std::vector<float>& query,
                                uint32_t limit, uint64_t min_lsn, std::chrono::seconds timeout,
                                v1::SearchResponse* response,
                                const std::vector<std::string>& types = {}) {
  v1::SearchRequest request;
  request.set_tenant_id(tenant);
  request.set_model(model);
  request.mutable_vector()->mutable_values()->Add(query.begin(), query.end());
  request.set_limit(limit);
  request.set_min_lsn(min_lsn);
  request.mutable_effort()->set_exact(true);
  for (const auto& t : types) request.add_entity_types(t);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + timeout);
  return stub.SearchSimilarEntities(&context, request, response);
}

// Waits until the service has applied `lsn`, with a search on a tenant that has no rows (a
// search is the only call that takes min_lsn). Returns the applied LSN, or 0 with a failure.
inline uint64_t WaitApplied(v1::VectorSearch::Stub& stub, uint64_t lsn,
                            std::chrono::seconds timeout = std::chrono::seconds(60)) {
  std::vector<float> probe(384, 0.0f);
  probe[0] = 1.0f;
  v1::SearchResponse response;
  const grpc::Status s = ExactSearch(stub, "00000000-0000-0000-0000-000000000000",
                                     "all-MiniLM-L6-v2", probe, 1, lsn, timeout, &response);
  if (!s.ok()) {
    ADD_FAILURE() << "the service did not apply LSN " << FormatLsn(lsn) << " within "
                  << timeout.count() << " s: " << GrpcText(s);
    return 0;
  }
  return response.applied_lsn();
}

// Cosine of a and b in double precision, as pgvector computes 1 - (a <=> b).
inline double CosineSimilarity(const std::vector<float>& a, const std::vector<float>& b) {
  double dot = 0, na = 0, nb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    dot += double(a[i]) * b[i];
    na += double(a[i]) * a[i];
    nb += double(b[i]) * b[i];
  }
  return dot / (std::sqrt(na) * std::sqrt(nb));
}

namespace mirror_check_internal {

constexpr uint32_t kMaxLimit = 1000;

inline std::vector<float> RandomProbe(uint32_t dim, uint64_t seed, const GroupKey& key) {
  std::mt19937_64 rng(seed ^ std::hash<std::string>()(key.first + "/" + key.second));
  std::normal_distribution<float> normal;
  std::vector<float> v(dim);
  for (float& x : v) x = normal(rng);
  return v;
}

// Checks one exact answer for one probe against the group. Appends mismatch lines to *problems.
inline void CheckAnswer(const std::vector<SearchableRow>& group, const std::vector<float>& probe,
                        const v1::SearchResponse& response, uint32_t limit, double tolerance,
                        std::vector<std::string>* problems) {
  std::map<std::string, std::pair<const SearchableRow*, double>> expected;
  std::vector<double> sims;
  for (const SearchableRow& r : group) {
    const double sim = CosineSimilarity(probe, r.vector);
    expected[r.entity_id] = {&r, sim};
    sims.push_back(sim);
  }
  std::sort(sims.begin(), sims.end(), std::greater<>());
  if (static_cast<uint32_t>(response.results_size()) != limit) {
    problems->push_back("returned " + std::to_string(response.results_size()) + " results; SQL has " +
                        std::to_string(group.size()) + " searchable rows, so expected " +
                        std::to_string(limit));
  }
  if (!response.exact()) problems->push_back("the answer is not marked exact");

  std::set<std::string> returned;
  double previous = 2.0;
  for (const v1::SearchResult& hit : response.results()) {
    auto it = expected.find(hit.entity_id());
    if (it == expected.end()) {
      problems->push_back("returned " + hit.entity_id() + " (" + hit.entity_type() + ", sim " +
                          std::to_string(hit.similarity()) + "), which SQL does not find searchable");
      continue;
    }
    if (!returned.insert(hit.entity_id()).second) {
      problems->push_back("returned " + hit.entity_id() + " more than once");
    }
    const auto& [row, sim] = it->second;
    if (hit.entity_type() != row->entity_type) {
      problems->push_back("entity " + hit.entity_id() + " has type " + hit.entity_type() +
                          "; SQL says " + row->entity_type);
    }
    if (std::fabs(hit.similarity() - sim) > tolerance) {
      char line[200];
      std::snprintf(line, sizeof line, "entity %s: similarity %.7f; SQL's vector gives %.7f",
                    hit.entity_id().c_str(), hit.similarity(), sim);
      problems->push_back(line);
    }
    if (hit.similarity() > previous + 1e-6) {
      problems->push_back("results out of order at " + hit.entity_id());
    }
    previous = hit.similarity();
  }
  if (limit < group.size() && response.results_size() > 0) {
    // Top-k of a larger group: nothing better than the k-th expected row may be left out.
    const double kth = sims[limit - 1];
    const double lowest = response.results(response.results_size() - 1).similarity();
    if (lowest < kth - tolerance) {
      char line[200];
      std::snprintf(line, sizeof line,
                    "top-%u ends at similarity %.7f; SQL's %u-th best is %.7f (a better row is "
                    "missing)",
                    limit, lowest, limit, kth);
      problems->push_back(line);
    }
  } else {
    for (const SearchableRow& r : group) {
      if (!returned.count(r.entity_id)) {
        problems->push_back("missing " + r.entity_id + " (" + r.entity_type + "), which SQL finds searchable");
      }
    }
  }
}

inline std::string Join(const std::vector<std::string>& lines, size_t max) {
  std::ostringstream out;
  for (size_t i = 0; i < lines.size() && i < max; ++i) out << "\n    " << lines[i];
  if (lines.size() > max) out << "\n    ... and " << (lines.size() - max) << " more";
  return out.str();
}

}  // namespace mirror_check_internal

// The comparison alone, against a searchable set read earlier: searches with min_lsn (0: no
// wait), and ListIndexes. Returns the number of rows compared.
inline size_t ExpectMirrorEqualsSet(const SearchableSet& groups, v1::VectorSearch::Stub& stub,
                                    uint64_t min_lsn, const MirrorCheckOptions& options = {}) {
  using namespace mirror_check_internal;
  size_t rows_checked = 0;
  for (const auto& [key, group] : groups) {
    const auto& [tenant, model] = key;
    const uint32_t dim = static_cast<uint32_t>(group.front().vector.size());
    const std::vector<std::vector<float>> probes = {RandomProbe(dim, options.probe_seed, key),
                                                    group[group.size() / 2].vector};
    // The whole group, and, when it is larger than one answer can be, each entity type on its
    // own, so that every row is compared whenever a type has at most 1000 rows.
    std::vector<std::pair<std::string, std::vector<SearchableRow>>> subsets = {{"", group}};
    if (group.size() > kMaxLimit) {
      std::map<std::string, std::vector<SearchableRow>> by_type;
      for (const SearchableRow& r : group) by_type[r.entity_type].push_back(r);
      for (auto& [type, rows] : by_type) subsets.emplace_back(type, std::move(rows));
    }
    for (const auto& [type, rows] : subsets) {
      const uint32_t limit = std::min<uint32_t>(static_cast<uint32_t>(rows.size()), kMaxLimit);
      const std::vector<std::string> types = type.empty() ? std::vector<std::string>{} : std::vector{type};
      for (size_t p = 0; p < probes.size(); ++p) {
        v1::SearchResponse response;
        const grpc::Status s = ExactSearch(stub, tenant, model, probes[p], limit, min_lsn,
                                           options.drain_timeout, &response, types);
        if (!s.ok()) {
          ADD_FAILURE() << "tenant " << tenant << " model " << model << ": search failed: " << GrpcText(s);
          continue;
        }
        std::vector<std::string> problems;
        CheckAnswer(rows, probes[p], response, limit, options.similarity_tolerance, &problems);
        if (!problems.empty()) {
          ADD_FAILURE() << "tenant " << tenant << " model " << model
                        << (type.empty() ? "" : " type " + type) << " (" << rows.size()
                        << " searchable rows in SQL), probe " << p << ", applied_lsn "
                        << FormatLsn(response.applied_lsn()) << ": " << problems.size()
                        << " mismatches" << Join(problems, options.max_reported);
        }
      }
    }
    rows_checked += group.size();
  }

  // The indexes: same keys, same live counts.
  v1::ListIndexesResponse listed;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  const grpc::Status s = stub.ListIndexes(&context, v1::ListIndexesRequest(), &listed);
  if (!s.ok()) {
    ADD_FAILURE() << "ListIndexes failed: " << GrpcText(s);
    return rows_checked;
  }
  std::vector<std::string> problems;
  std::set<GroupKey> listed_live;
  for (const v1::IndexInfo& info : listed.indexes()) {
    if (info.live_count() == 0) continue;
    const GroupKey key{info.tenant_id(), info.model()};
    listed_live.insert(key);
    auto it = groups.find(key);
    if (it == groups.end()) {
      problems.push_back("index " + info.tenant_id() + "/" + info.model() + "/" +
                         std::to_string(info.dimension()) + " has " +
                         std::to_string(info.live_count()) + " live rows; SQL has none");
      continue;
    }
    if (info.dimension() != it->second.front().vector.size() || info.live_count() != it->second.size()) {
      problems.push_back("index " + info.tenant_id() + "/" + info.model() + "/" +
                         std::to_string(info.dimension()) + " has " +
                         std::to_string(info.live_count()) + " live rows; SQL has " +
                         std::to_string(it->second.size()) + " of dimension " +
                         std::to_string(it->second.front().vector.size()));
    }
  }
  for (const auto& [key, group] : groups) {
    if (!listed_live.count(key)) {
      problems.push_back("no index with live rows for " + key.first + "/" + key.second + "; SQL has " +
                         std::to_string(group.size()) + " searchable rows");
    }
  }
  if (!problems.empty()) {
    ADD_FAILURE() << "ListIndexes (applied_lsn " << FormatLsn(listed.applied_lsn())
                  << ") disagrees with SQL:" << Join(problems, options.max_reported);
  }
  return rows_checked;
}

// The check. min_lsn 0 means "what is committed now" (CurrentWalLsn). Call it while no
// one writes, so that SQL and the service describe the same state.
inline void ExpectMirrorEqualsDatabase(const std::string& conninfo, v1::VectorSearch::Stub& stub,
                                       uint64_t min_lsn, const MirrorCheckOptions& options = {}) {
  if (min_lsn == 0) min_lsn = CurrentWalLsn(conninfo);
  const uint64_t applied = WaitApplied(stub, min_lsn, options.drain_timeout);
  if (applied == 0) return;

  SearchableSet groups;
  if (Status s = ReadSearchableSet(conninfo, options, &groups); !s.ok()) {
    ADD_FAILURE() << "cannot read the searchable set from SQL: " << s.ToString();
    return;
  }
  const size_t rows_checked = ExpectMirrorEqualsSet(groups, stub, min_lsn, options);
  std::cout << "[ mirror check ] " << groups.size() << " (tenant, model) groups, " << rows_checked
            << " searchable rows, min_lsn " << FormatLsn(min_lsn) << " (applied "
            << FormatLsn(applied) << ")\n";
}

}  // namespace vecmirror::testing
