// What a RecallReport looks like to its readers: the table on the terminal, a CSV file (one
// row per point: index, filter, effort, k), a JSON file (everything, including the census,
// the filters and any divergence found by --verify-sql) and the recall-vs-QPS plot (one curve
// per index kind, unfiltered, at one k).
//
// Thread-safety: pure functions (WriteReportFiles writes its files).
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "base/status.h"
#include "tools/recall/recall_report.h"
#include "tools/recall/svg_plot.h"

namespace vecmirror::recall {

// The k the table's latency and QPS columns and the plot show: `wanted` if it was measured,
// else the largest measured k below it, else the smallest.
size_t ReferenceK(const RecallReport& report, size_t wanted);

// The index list, the sweep table (one row per index, filter and effort: recall@k for every k,
// then latency and QPS at `plot_k`), the skipped indexes, and the SQL check if it ran.
void PrintReport(const RecallReport& report, size_t plot_k, std::ostream& out);

std::string ReportCsv(const RecallReport& report);
std::string ReportJson(const RecallReport& report);

// One series per index kind: the unfiltered points at k, in sweep order. Where several indexes
// share a kind, each effort's point pools them: recall is the mean over all their queries and
// QPS is all their queries over all their time.
std::vector<PlotSeries> SeriesByKind(const RecallReport& report, size_t k);
std::string ReportSvg(const RecallReport& report, size_t k);

// Writes recall.csv, recall.json and recall.svg into `dir` (created if missing); `written`
// gets their paths.
Status WriteReportFiles(const RecallReport& report, size_t plot_k, const std::string& dir,
                        std::vector<std::string>* written);

}  // namespace vecmirror::recall
