#include "tools/recall/report_output.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "tools/cli/table.h"

namespace vecmirror::recall {
namespace {

using cli::Table;

constexpr size_t kDivergencesShown = 20;

std::string Fixed(double value, int decimals) {
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", decimals, value);
  return text;
}

// "100%", "24.9%", "0.48%"; "~" when estimated from a sampled census.
std::string Share(double share, bool exact) {
  const double percent = share * 100;
  const int decimals = percent >= 99.95 ? 0 : percent >= 10 ? 1 : percent >= 1 ? 2 : 3;
  return (exact ? "" : "~") + Fixed(percent, decimals) + "%";
}

std::string Milliseconds(double ms) { return Fixed(ms, ms < 10 ? 3 : 1); }

std::string Qps(double qps) { return Fixed(qps, qps < 100 ? 1 : 0); }

std::string Bytes(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = double(bytes);
  int unit = 0;
  while (value >= 1024 && unit < 4) {
    value /= 1024;
    ++unit;
  }
  return Fixed(value, unit == 0 ? 0 : 1) + " " + units[unit];
}

std::string Quoted(const std::string& text) {  // a CSV field
  if (text.find_first_of(",\"\n") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  return out + "\"";
}

// Points of one row of the table (index, filter, effort), by k.
struct RowKey {
  size_t index, filter;
  std::string effort;
  bool operator<(const RowKey& o) const {
    return std::tie(index, filter, effort) < std::tie(o.index, o.filter, o.effort);
  }
};

void PrintIndexes(const RecallReport& report, std::ostream& out) {
  Table table({{"#", true}, {"tenant_id"}, {"model"}, {"dim", true}, {"kind"}, {"live", true},
               {"memory", true}, {"census"}, {"queries"}});
  for (size_t i = 0; i < report.indexes.size(); ++i) {
    const IndexResult& r = report.indexes[i];
    const std::string census = r.census_entities == 0 && !r.skipped.empty()
        ? "-"
        : std::to_string(r.census_entities) + (r.census_complete ? " (all)" : " (sampled)");
    std::string queries;
    if (!r.skipped.empty()) {
      queries = "skipped: " + r.skipped;
    } else {
      queries = std::to_string(r.queries) + (r.leave_one_out ? " leave-one-out" : " from file");
      if (r.dropped) queries += " (" + std::to_string(r.dropped) + " dropped)";
    }
    table.AddRow({std::to_string(i + 1), r.index.key.tenant_id.ToString(), r.index.key.model,
                  std::to_string(r.index.key.dim), IndexKindName(r.index.kind),
                  std::to_string(r.index.live), Bytes(r.index.memory_bytes), census, queries});
  }
  table.Print(out);
  for (size_t i = 0; i < report.indexes.size(); ++i) {
    for (const std::string& note : report.indexes[i].notes) {
      out << "  #" << i + 1 << " " << note << '\n';
    }
  }
}

void PrintSweep(const RecallReport& report, size_t plot_k, std::ostream& out) {
  std::vector<Table::Column> columns = {{"#", true}, {"filter"}, {"share", true}, {"effort"}};
  for (size_t k : report.ks) columns.push_back({"recall@" + std::to_string(k), true});
  const std::string at = "@" + std::to_string(plot_k);
  for (const char* name : {"p50_ms", "p99_ms", "qps", "exact"}) {
    columns.push_back({std::string(name) + at, true});
  }
  Table table(columns);

  std::map<RowKey, std::map<size_t, const PointResult*>> rows;
  std::vector<RowKey> order;  // first appearance: the sweep's order
  for (const PointResult& p : report.points) {
    const RowKey key{p.index, p.filter, p.effort_label};
    if (rows.find(key) == rows.end()) order.push_back(key);
    rows[key][p.k] = &p;
  }
  for (const RowKey& key : order) {
    const IndexResult& index = report.indexes[key.index];
    const TypeFilter& filter = index.filters[key.filter];
    const auto& by_k = rows[key];
    std::vector<std::string> cells = {std::to_string(key.index + 1), filter.Label(),
                                      Share(filter.share, index.share_exact[key.filter]),
                                      key.effort};
    for (size_t k : report.ks) {
      auto it = by_k.find(k);
      cells.push_back(it == by_k.end() ? "-" : Fixed(it->second->recall, 4));
    }
    auto ref = by_k.find(plot_k);
    if (ref != by_k.end()) {
      const PointResult& p = *ref->second;
      cells.push_back(Milliseconds(p.p50_ms));
      cells.push_back(Milliseconds(p.p99_ms));
      cells.push_back(Qps(p.qps));
      cells.push_back(Fixed(p.exact_share * 100, 0) + "%");
    }
    table.AddRow(std::move(cells));
  }
  table.Print(out);
}

void PrintVerification(const SqlCheckResult& check, std::ostream& out) {
  out << "\nSQL check against " << check.database << ": " << check.queries
      << " exact answers compared with the contract's query, " << check.divergences.size()
      << (check.divergences.size() == 1 ? " divergence" : " divergences") << '\n';
  for (size_t i = 0; i < check.divergences.size() && i < kDivergencesShown; ++i) {
    out << "  " << check.divergences[i].ToString() << '\n';
  }
  if (check.divergences.size() > kDivergencesShown) {
    out << "  ... and " << check.divergences.size() - kDivergencesShown
        << " more (all of them in recall.json)\n";
  }
}

}  // namespace

size_t ReferenceK(const RecallReport& report, size_t wanted) {
  size_t best = 0;
  for (size_t k : report.ks) {
    if (k == wanted) return k;
    if (k < wanted) best = k;
  }
  if (best != 0) return best;
  return report.ks.empty() ? wanted : report.ks.front();
}

void PrintReport(const RecallReport& report, size_t plot_k, std::ostream& out) {
  const size_t k = ReferenceK(report, plot_k);
  out << "Indexes (" << report.source << "):\n";
  PrintIndexes(report, out);
  if (!report.points.empty()) {
    out << "\nRecall against exact search; latency, QPS and the share of exact-scan answers "
        << "at k=" << k << ", " << report.concurrency
        << (report.concurrency == 1 ? " client thread" : " client threads");
    const size_t runs = report.points.front().runs;
    if (runs > 1) out << ", the fastest of " << runs << " runs";
    out << ":\n";
    PrintSweep(report, k, out);
  }
  if (report.verified) PrintVerification(report.verification, out);
}

std::string ReportCsv(const RecallReport& report) {
  std::ostringstream csv;
  csv << "tenant_id,model,dim,kind,filter,target_share,share,share_exact,effort,ef_search,nprobe,"
         "k,recall,p50_ms,p99_ms,qps,queries,errors,exact_share\n";
  for (const PointResult& p : report.points) {
    const IndexResult& index = report.indexes[p.index];
    const TypeFilter& filter = index.filters[p.filter];
    csv << index.index.key.tenant_id.ToString() << ',' << Quoted(index.index.key.model) << ','
        << index.index.key.dim << ',' << IndexKindName(index.index.kind) << ','
        << Quoted(filter.Label()) << ',' << Fixed(filter.target_share, 6) << ','
        << Fixed(filter.share, 6) << ',' << (index.share_exact[p.filter] ? "true" : "false")
        << ',' << p.effort_label << ',' << p.effort.ef_search << ',' << p.effort.nprobe << ','
        << p.k << ',' << Fixed(p.recall, 6) << ',' << Fixed(p.p50_ms, 4) << ','
        << Fixed(p.p99_ms, 4) << ',' << Fixed(p.qps, 1) << ',' << p.queries << ',' << p.errors
        << ',' << Fixed(p.exact_share, 4) << '\n';
  }
  return csv.str();
}

std::string ReportJson(const RecallReport& report) {
  using nlohmann::json;
  json root;
  root["tool"] = "vecmirror-recall";
  root["source"] = report.source;
  root["started_at"] = report.started_at;
  root["seconds"] = report.seconds;
  root["ks"] = report.ks;
  root["concurrency"] = report.concurrency;
  root["seed"] = report.seed;
  json indexes = json::array();
  for (const IndexResult& r : report.indexes) {
    json filters = json::array();
    for (size_t f = 0; f < r.filters.size(); ++f) {
      filters.push_back({{"label", r.filters[f].Label()},
                         {"types", r.filters[f].types},
                         {"target_share", r.filters[f].target_share},
                         {"share", r.filters[f].share},
                         {"share_exact", bool(r.share_exact[f])},
                         {"rows", r.filters[f].rows}});
    }
    indexes.push_back({{"tenant_id", r.index.key.tenant_id.ToString()},
                       {"model", r.index.key.model},
                       {"dim", r.index.key.dim},
                       {"kind", IndexKindName(r.index.kind)},
                       {"live", r.index.live},
                       {"dead", r.index.dead},
                       {"memory_bytes", r.index.memory_bytes},
                       {"census", {{"entities", r.census_entities}, {"complete", r.census_complete}}},
                       {"queries", {{"source", r.leave_one_out ? "leave-one-out" : "file"},
                                    {"measured", r.queries},
                                    {"dropped", r.dropped}}},
                       {"filters", filters},
                       {"notes", r.notes},
                       {"skipped", r.skipped}});
  }
  root["indexes"] = indexes;
  json points = json::array();
  for (const PointResult& p : report.points) {
    points.push_back({{"index", p.index},
                      {"filter", p.filter},
                      {"effort", p.effort_label},
                      {"ef_search", p.effort.ef_search},
                      {"nprobe", p.effort.nprobe},
                      {"k", p.k},
                      {"recall", p.recall},
                      {"p50_ms", p.p50_ms},
                      {"p99_ms", p.p99_ms},
                      {"qps", p.qps},
                      {"queries", p.queries},
                      {"errors", p.errors},
                      {"exact_share", p.exact_share},
                      {"runs", p.runs}});
  }
  root["points"] = points;
  if (report.verified) {
    json divergences = json::array();
    for (const Divergence& d : report.verification.divergences) {
      divergences.push_back({{"tenant_id", d.key.tenant_id.ToString()},
                             {"model", d.key.model},
                             {"query", d.query},
                             {"types", d.types},
                             {"what", d.what},
                             {"entity_id", d.entity_id},
                             {"rank", d.rank},
                             {"service", d.service},
                             {"sql", d.sql}});
    }
    root["verification"] = {{"database", report.verification.database},
                            {"queries", report.verification.queries},
                            {"divergences", divergences}};
  }
  return root.dump(2) + "\n";
}

std::vector<PlotSeries> SeriesByKind(const RecallReport& report, size_t k) {
  struct Pool {
    double recall_sum = 0;  // recall x queries
    double queries = 0;
    double seconds = 0;
  };
  // kind -> effort label (in sweep order) -> pooled point
  std::map<IndexKind, std::vector<std::pair<std::string, Pool>>> pools;
  std::map<IndexKind, size_t> index_counts;
  std::map<IndexKind, size_t> last_index;
  for (const PointResult& p : report.points) {
    if (p.filter != 0 || p.k != k || p.queries == 0 || p.qps <= 0) continue;
    const IndexKind kind = report.indexes[p.index].index.kind;
    if (!last_index.count(kind) || last_index[kind] != p.index) {
      ++index_counts[kind];
      last_index[kind] = p.index;
    }
    auto& list = pools[kind];
    auto it = std::find_if(list.begin(), list.end(),
                           [&](const auto& entry) { return entry.first == p.effort_label; });
    if (it == list.end()) {
      list.push_back({p.effort_label, Pool()});
      it = list.end() - 1;
    }
    const double n = double(p.queries + p.errors);
    it->second.recall_sum += p.recall * double(p.queries);
    it->second.queries += double(p.queries);
    it->second.seconds += n / p.qps;
  }
  std::vector<PlotSeries> series;
  for (const auto& [kind, list] : pools) {
    PlotSeries s;
    const size_t count = index_counts[kind];
    s.name = std::string(IndexKindName(kind)) + " (" + std::to_string(count) +
             (count == 1 ? " index)" : " indexes)");
    for (const auto& [label, pool] : list) {
      s.points.push_back({pool.recall_sum / pool.queries, pool.queries / pool.seconds, label});
    }
    series.push_back(std::move(s));
  }
  return series;
}

std::string ReportSvg(const RecallReport& report, size_t k) {
  PlotLabels labels;
  labels.title = "vecmirror-recall: recall vs. queries per second";
  labels.subtitle = report.source + ", unfiltered, k=" + std::to_string(k) + ", " +
                    std::to_string(report.concurrency) +
                    (report.concurrency == 1 ? " client thread" : " client threads");
  labels.x_axis = "Recall@" + std::to_string(k);
  return RecallQpsSvg(SeriesByKind(report, k), labels);
}

Status WriteReportFiles(const RecallReport& report, size_t plot_k, const std::string& dir,
                        std::vector<std::string>* written) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) return Status::IOError("cannot create --out-dir " + dir + ": " + error.message());
  const size_t k = ReferenceK(report, plot_k);
  const std::pair<const char*, std::string> files[] = {
      {"recall.csv", ReportCsv(report)},
      {"recall.json", ReportJson(report)},
      {"recall.svg", ReportSvg(report, k)},
  };
  for (const auto& [name, content] : files) {
    const std::string path = (std::filesystem::path(dir) / name).string();
    std::ofstream file(path, std::ios::binary | std::ios::trunc);
    file << content;
    file.close();
    if (!file) return Status::IOError("cannot write " + path);
    written->push_back(path);
  }
  return Status::Ok();
}

}  // namespace vecmirror::recall
