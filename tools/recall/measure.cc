#include "tools/recall/measure.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <map>
#include <numeric>
#include <random>
#include <set>
#include <thread>

#include "tools/recall/census.h"

namespace vecmirror::recall {
namespace {

using Clock = std::chrono::steady_clock;

// A stable 64-bit hash (FNV-1a), so an index's query sample depends only on the seed and key.
uint64_t StableHash(const std::string& text) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

// The outcome of one search of a point.
struct Outcome {
  Status status;
  SourceAnswer answer;
  double ms = 0;
};

// What RunSearches needs to turn a planned query into a search.
struct SearchSpec {
  const std::vector<std::string>* types = nullptr;
  size_t limit = 10;
  SearchEffort effort;
};

SourceQuery ToSourceQuery(const PlannedQuery& planned, const RecallOptions& options,
                          const SearchSpec& spec) {
  SourceQuery query;
  if (planned.entity_id) {
    query.entity_id = planned.entity_id;
  } else {
    const QueryVectors& file = *options.query_vectors;
    query.vector = std::span<const float>(file.row(planned.file_row), file.dim);
  }
  if (spec.types) query.types = *spec.types;
  query.limit = spec.limit;
  query.effort = spec.effort;
  return query;
}

// Runs the queries listed in `which` on `threads` client threads; outcomes[i] belongs to
// which[i]. Returns the wall time in seconds.
double RunSearches(IndexSource& source, const IndexPlan& plan, const std::vector<size_t>& which,
                   const RecallOptions& options, const SearchSpec& spec, Progress* progress,
                   std::vector<Outcome>* outcomes) {
  outcomes->assign(which.size(), Outcome());
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i = next.fetch_add(1); i < which.size(); i = next.fetch_add(1)) {
      const SourceQuery query = ToSourceQuery(plan.queries[which[i]], options, spec);
      Outcome& outcome = (*outcomes)[i];
      const auto start = Clock::now();
      outcome.status = source.Search(plan.result.index.key, query, &outcome.answer);
      outcome.ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
      if (progress) progress->Advance();
    }
  };
  const size_t threads = std::clamp<size_t>(options.concurrency, 1, std::max<size_t>(which.size(), 1));
  const auto start = Clock::now();
  if (threads == 1) {
    work();
  } else {
    std::vector<std::thread> pool;
    for (size_t t = 0; t < threads; ++t) pool.emplace_back(work);
    for (std::thread& t : pool) t.join();
  }
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::vector<size_t> SortedKs(std::vector<size_t> ks) {
  std::sort(ks.begin(), ks.end());
  ks.erase(std::unique(ks.begin(), ks.end()), ks.end());
  return ks;
}

bool Wanted(const IndexKey& key, const RecallOptions& options) {
  const bool tenant_ok = options.tenants.empty() ||
      std::find(options.tenants.begin(), options.tenants.end(), key.tenant_id) !=
          options.tenants.end();
  const bool model_ok = options.models.empty() ||
      std::find(options.models.begin(), options.models.end(), key.model) != options.models.end();
  return tenant_ok && model_ok;
}

// The filters of one index: "all", then one per selectivity; with a sampled census, a share
// is made exact by counting where the filter allows fewer than 1,000 rows.
void PlanFilters(IndexSource& source, const Census& census, const RecallOptions& options,
                 IndexResult* result) {
  const uint64_t live = census.complete ? census.entities.size() : result->index.live;
  result->filters = {TypeFilter{1.0, {}, live, 1.0}};
  result->share_exact = {true};
  std::map<std::string, uint64_t> type_rows;
  for (const CensusEntity& entity : census.entities) ++type_rows[entity.type];
  for (TypeFilter filter : ChooseTypeFilters(type_rows, options.selectivities, &result->notes)) {
    bool exact = census.complete;
    if (!census.complete) {
      const std::optional<size_t> count =
          CountAllowedIfFew(source, result->index, filter.types, options.seed);
      if (count) {
        filter.rows = *count;
        filter.share = live ? double(*count) / double(live) : 0;
        exact = true;
      } else {
        filter.rows = uint64_t(std::llround(filter.share * double(live)));
      }
    }
    result->filters.push_back(std::move(filter));
    result->share_exact.push_back(exact);
  }
}

std::vector<PlannedQuery> SampleEntities(const Census& census, const IndexKey& key,
                                         const RecallOptions& options) {
  const size_t n = census.entities.size();
  const size_t take = std::min(options.queries, n);
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(options.seed ^ StableHash(key.ToString()));
  for (size_t i = 0; i < take; ++i) {
    std::uniform_int_distribution<size_t> pick(i, n - 1);
    std::swap(order[i], order[pick(rng)]);
  }
  std::vector<PlannedQuery> queries;
  for (size_t i = 0; i < take; ++i) queries.push_back({census.entities[order[i]].entity_id, 0});
  return queries;
}

size_t SearchesOf(const IndexPlan& plan, const RecallOptions& options) {
  if (!plan.result.skipped.empty()) return 0;
  const size_t q = plan.queries.size();
  const size_t efforts = EffortsFor(plan.result.index.kind, options).size();
  const size_t ks = SortedKs(options.ks).size();
  const size_t runs = std::max<size_t>(options.runs, 1);
  return q * plan.result.filters.size() * (1 + efforts * ks * runs) + std::min(options.warmup, q);
}

}  // namespace

std::string PlannedQuery::Label() const {
  return entity_id ? "entity " + entity_id->ToString() : "query " + std::to_string(file_row + 1);
}

std::vector<SearchEffort> EffortsFor(IndexKind kind, const RecallOptions& options) {
  std::vector<SearchEffort> efforts;
  if (kind == IndexKind::kHnsw) {
    for (int ef : options.ef_search) efforts.push_back(SearchEffort{ef, 0, false});
  } else if (kind == IndexKind::kIvf) {
    for (int nprobe : options.nprobe) efforts.push_back(SearchEffort{0, nprobe, false});
  }
  if (efforts.empty()) efforts.push_back(SearchEffort{});  // flat: one point
  return efforts;
}

std::string EffortLabel(IndexKind kind, const SearchEffort& effort) {
  if (effort.exact) return "exact";
  if (kind == IndexKind::kHnsw && effort.ef_search > 0) {
    return "ef=" + std::to_string(effort.ef_search);
  }
  if (kind == IndexKind::kIvf && effort.nprobe > 0) return "nprobe=" + std::to_string(effort.nprobe);
  return kind == IndexKind::kFlat ? "flat" : "default";
}

double RecallAtK(const std::vector<SourceHit>& found, const std::vector<SourceHit>& truth,
                 size_t k) {
  const size_t want = std::min(k, truth.size());
  if (want == 0) return 1.0;
  std::set<Uuid> true_ids;
  for (size_t i = 0; i < want; ++i) true_ids.insert(truth[i].entity_id);
  size_t hit = 0;
  for (size_t i = 0; i < std::min(k, found.size()); ++i) hit += true_ids.count(found[i].entity_id);
  return double(hit) / double(want);
}

double Percentile(std::vector<double>* values, double p) {
  if (values->empty()) return 0;
  std::sort(values->begin(), values->end());
  const size_t rank = size_t(std::ceil(p / 100.0 * double(values->size())));
  return (*values)[std::clamp<size_t>(rank, 1, values->size()) - 1];
}

Status PlanRecall(IndexSource& source, const RecallOptions& options, Progress* progress,
                  std::vector<IndexPlan>* plan) {
  std::vector<IndexDescription> listed;
  if (Status s = source.List(&listed); !s.ok()) return s;
  std::vector<IndexDescription> indexes;
  for (IndexDescription& index : listed) {
    if (Wanted(index.key, options)) indexes.push_back(std::move(index));
  }
  std::sort(indexes.begin(), indexes.end(),
            [](const IndexDescription& a, const IndexDescription& b) { return a.key < b.key; });

  plan->clear();
  for (size_t i = 0; i < indexes.size(); ++i) {
    IndexPlan p;
    p.result.index = indexes[i];
    p.result.leave_one_out = options.query_vectors == nullptr;
    const IndexKey& key = p.result.index.key;
    if (progress) {
      progress->Stage("census " + std::to_string(i + 1) + "/" + std::to_string(indexes.size()) +
                          " " + key.ToString(), 0);
    }
    if (options.query_vectors && options.query_vectors->dim != key.dim) {
      p.result.skipped = "the query file's vectors have " +
                         std::to_string(options.query_vectors->dim) + " dimensions";
      plan->push_back(std::move(p));
      continue;
    }
    if (p.result.index.live == 0) {
      p.result.skipped = "no live rows";
      plan->push_back(std::move(p));
      continue;
    }
    Census census;
    CensusOptions census_options = options.census;
    census_options.seed = options.seed ^ StableHash(key.ToString());
    if (Status s = source.TakeCensus(p.result.index, census_options, &census); !s.ok()) return s;
    p.result.census_entities = census.entities.size();
    p.result.census_complete = census.complete;
    PlanFilters(source, census, options, &p.result);
    if (options.query_vectors) {
      for (size_t row = 0; row < options.query_vectors->rows(); ++row) {
        p.queries.push_back({std::nullopt, row});
      }
    } else {
      p.queries = SampleEntities(census, key, options);
    }
    if (p.queries.empty()) p.result.skipped = "no queries";
    plan->push_back(std::move(p));
  }
  return Status::Ok();
}

Status MeasureRecall(IndexSource& source, const std::vector<IndexPlan>& plan,
                     const RecallOptions& options, Progress* progress, RecallReport* report) {
  const std::vector<size_t> ks = SortedKs(options.ks);
  if (ks.empty()) return Status::InvalidArgument("no k to measure recall at");
  const size_t k_max = ks.back();
  report->ks = ks;
  report->concurrency = options.concurrency;
  report->seed = options.seed;
  report->source = source.name();

  size_t total = 0;
  for (const IndexPlan& p : plan) total += SearchesOf(p, options);
  if (progress) progress->Stage("measuring", total);

  for (size_t i = 0; i < plan.size(); ++i) {
    const IndexPlan& p = plan[i];
    report->indexes.push_back(p.result);
    IndexResult& result = report->indexes.back();
    if (!result.skipped.empty()) continue;
    const IndexKind kind = result.index.kind;
    if (progress) {
      progress->Relabel("index " + std::to_string(i + 1) + "/" + std::to_string(plan.size()) +
                        " " + result.index.key.ToString() + " " + IndexKindName(kind));
    }

    // The truth: one exact search per query and filter. A query whose truth fails anywhere
    // (its entity was removed meanwhile) is left out of every filter.
    std::vector<size_t> all(p.queries.size());
    std::iota(all.begin(), all.end(), 0);
    std::vector<std::vector<Outcome>> truth(result.filters.size());
    std::vector<bool> usable(p.queries.size(), true);
    Status first_error;
    for (size_t f = 0; f < result.filters.size(); ++f) {
      const SearchSpec spec{&result.filters[f].types, k_max, SearchEffort{0, 0, true}};
      RunSearches(source, p, all, options, spec, progress, &truth[f]);
      for (size_t q = 0; q < all.size(); ++q) {
        if (truth[f][q].status.ok()) continue;
        usable[q] = false;
        if (first_error.ok()) first_error = truth[f][q].status;
      }
    }
    std::vector<size_t> measured;
    for (size_t q = 0; q < all.size(); ++q) {
      if (usable[q]) measured.push_back(q);
    }
    result.queries = measured.size();
    result.dropped = all.size() - measured.size();
    if (measured.empty()) {
      return Status::Unavailable("every exact search of " + result.index.key.ToString() +
                                 " failed; the first: " + first_error.ToString());
    }

    const std::vector<SearchEffort> efforts = EffortsFor(kind, options);
    {  // Warm-up, untimed: the first effort, unfiltered.
      std::vector<size_t> warm(measured.begin(),
                               measured.begin() + std::min(options.warmup, measured.size()));
      std::vector<Outcome> ignored;
      RunSearches(source, p, warm, options, SearchSpec{nullptr, k_max, efforts.front()}, progress,
                  &ignored);
    }
    if (progress) progress->Advance(std::min(options.warmup, all.size()) -
                                    std::min(options.warmup, measured.size()));

    for (size_t f = 0; f < result.filters.size(); ++f) {
      for (const SearchEffort& effort : efforts) {
        for (const size_t k : ks) {
          // The fastest of `runs` runs.
          std::vector<Outcome> outcomes, run_outcomes;
          double wall = 0;
          for (size_t run = 0; run < std::max<size_t>(options.runs, 1); ++run) {
            const double run_wall = RunSearches(source, p, measured, options,
                                                SearchSpec{&result.filters[f].types, k, effort},
                                                progress, &run_outcomes);
            if (progress) progress->Advance(all.size() - measured.size());
            if (run == 0 || run_wall < wall) {
              wall = run_wall;
              outcomes.swap(run_outcomes);
            }
          }
          PointResult point;
          point.runs = std::max<size_t>(options.runs, 1);
          point.index = report->indexes.size() - 1;
          point.filter = f;
          point.effort = effort;
          point.effort_label = EffortLabel(kind, effort);
          point.k = k;
          std::vector<double> latencies;
          double recall_sum = 0;
          size_t exact = 0;
          for (size_t j = 0; j < measured.size(); ++j) {
            const Outcome& outcome = outcomes[j];
            if (!outcome.status.ok()) {
              ++point.errors;
              continue;
            }
            recall_sum += RecallAtK(outcome.answer.hits, truth[f][measured[j]].answer.hits, k);
            latencies.push_back(outcome.ms);
            exact += outcome.answer.exact ? 1 : 0;
          }
          point.queries = latencies.size();
          if (point.queries > 0) {
            point.recall = recall_sum / double(point.queries);
            point.exact_share = double(exact) / double(point.queries);
          }
          point.qps = wall > 0 ? double(measured.size()) / wall : 0;
          point.p50_ms = Percentile(&latencies, 50);
          point.p99_ms = Percentile(&latencies, 99);
          report->points.push_back(point);
        }
      }
    }
  }
  return Status::Ok();
}

Status VerifyWithSql(IndexSource& source, SqlChecker& checker, const std::vector<IndexPlan>& plan,
                     const RecallOptions& options, Progress* progress, SqlCheckResult* out) {
  const std::vector<size_t> ks = SortedKs(options.ks);
  const size_t limit = ks.empty() ? 10 : ks.back();
  out->database = checker.Describe();
  size_t total = 0;
  for (const IndexPlan& p : plan) {
    if (p.result.skipped.empty()) total += std::min(options.verify_queries, p.queries.size());
  }
  if (progress) progress->Stage("checking exact answers against SQL", total);
  for (const IndexPlan& p : plan) {
    if (!p.result.skipped.empty()) continue;
    const IndexKey& key = p.result.index.key;
    const size_t n = std::min(options.verify_queries, p.queries.size());
    for (size_t q = 0; q < n; ++q) {
      const PlannedQuery& planned = p.queries[q];
      const SourceQuery query = ToSourceQuery(planned, options, SearchSpec{nullptr, limit,
                                                                           SearchEffort{0, 0, true}});
      SourceAnswer answer;
      Status s = source.Search(key, query, &answer);
      if (progress) progress->Advance();
      if (s.code() == Status::Code::kNotFound) continue;  // removed since the census
      if (!s.ok()) return s;

      std::vector<SourceHit> sql;
      s = planned.entity_id
              ? checker.SearchLike(key, *planned.entity_id, {}, limit + 1, &sql)
              : checker.Search(key, query.vector, {}, std::nullopt, limit + 1, &sql);
      std::vector<Divergence> found;
      if (s.code() == Status::Code::kNotFound) {
        Divergence d;
        d.what = "query";
        d.entity_id = planned.entity_id->ToString();
        d.service = "searchable";
        d.sql = "no searchable row";
        found.push_back(d);
      } else if (!s.ok()) {
        return s;
      } else {
        found = CompareAnswers(answer.hits, sql, limit);
      }
      ++out->queries;
      for (Divergence& d : found) {
        d.key = key;
        d.query = planned.Label();
        d.types = "all";
        out->divergences.push_back(std::move(d));
      }
    }
  }
  return Status::Ok();
}

}  // namespace vecmirror::recall
