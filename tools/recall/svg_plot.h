// A recall-versus-throughput plot as a standalone SVG document, drawn here so the tool needs no
// plotting program: recall on x (linear), queries per second on y (log scale), as
// ann-benchmarks draws them. One polyline per series with a marker and a label at each point
// (the effort), a legend, axes with ticks and titles. Up and to the right is better.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <vector>

namespace vecmirror::recall {

struct PlotPoint {
  double recall = 0;  // 0 to 1
  double qps = 0;     // > 0 (points with 0 are left out)
  std::string label;  // shown beside the marker, e.g. "ef=64"
};

struct PlotSeries {
  std::string name;  // legend entry
  std::vector<PlotPoint> points;  // drawn in this order
};

struct PlotLabels {
  std::string title = "Recall vs. throughput";
  std::string subtitle;  // a second, smaller line under the title
  std::string x_axis = "Recall@10";
  std::string y_axis = "Queries per second (log scale)";
};

// The SVG document. Each series becomes exactly one <polyline> (a one-point series too); axes
// and ticks are <line> elements, so a reader can count the curves.
std::string RecallQpsSvg(const std::vector<PlotSeries>& series, const PlotLabels& labels);

// Text escaped for XML character data and attribute values.
std::string XmlEscape(const std::string& text);

}  // namespace vecmirror::recall
