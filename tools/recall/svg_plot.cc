#include "tools/recall/svg_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace vecmirror::recall {
namespace {

constexpr double kWidth = 800, kHeight = 520;
constexpr double kLeft = 90, kRight = 210, kTop = 70, kBottom = 70;  // margins around the plot
// Colour-blind-safe (Okabe-Ito) series colours.
constexpr const char* kColours[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7",
                                    "#E69F00", "#56B4E9", "#000000", "#F0E442"};

std::string Number(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f", value);
  return text;
}

std::string QpsTick(double value) {
  char text[32];
  if (value >= 1e6) {
    std::snprintf(text, sizeof text, "%gM", value / 1e6);
  } else if (value >= 1e3) {
    std::snprintf(text, sizeof text, "%gk", value / 1e3);
  } else {
    std::snprintf(text, sizeof text, "%g", value);
  }
  return text;
}

// Data sits this far inside the axes, so markers at recall 1.0 do not sit on the frame.
constexpr double kPad = 14;

struct Scale {
  double x_min, x_max, log_y_min, log_y_max;
  double X(double recall) const {
    return kLeft + kPad + (recall - x_min) / (x_max - x_min) * (kWidth - kLeft - kRight - 2 * kPad);
  }
  double Y(double qps) const {
    const double t = (std::log10(qps) - log_y_min) / (log_y_max - log_y_min);
    return kHeight - kBottom - kPad - t * (kHeight - kTop - kBottom - 2 * kPad);
  }
};

// Point labels are placed beside their marker where they overlap no label placed before
// (above-left, above-right, below-left, below-right), or left out.
class LabelPlacer {
 public:
  // Keeps labels off a marker at (x, y), and off a rectangle (the legend).
  void AddMarker(double x, double y) { boxes_.push_back({x - 4, y - 4, 8, 8}); }
  void AddObstacle(double x, double y, double w, double h) { boxes_.push_back({x, y, w, h}); }

  // The <text> element for a label at marker (x, y), or "" when there is no room.
  std::string Place(double x, double y, const std::string& label) {
    const double width = 6.0 * double(label.size()), height = 10;
    struct Spot { double dx, dy; bool left; };
    for (const Spot spot : {Spot{-6, -7, true}, Spot{6, -7, false}, Spot{-6, 14, true},
                            Spot{6, 14, false}}) {
      const double x0 = spot.left ? x + spot.dx - width : x + spot.dx;
      const double y0 = y + spot.dy - height;
      if (x0 < kLeft + 2 || y0 < kTop || Collides(x0, y0, width, height)) continue;
      boxes_.push_back({x0, y0, width, height});
      return "<text x=\"" + Number(x + spot.dx) + "\" y=\"" + Number(y + spot.dy) +
             "\" text-anchor=\"" + (spot.left ? "end" : "start") + "\" font-size=\"10\">" +
             XmlEscape(label) + "</text>\n";
    }
    return "";
  }

 private:
  struct Box { double x, y, w, h; };
  bool Collides(double x, double y, double w, double h) const {
    for (const Box& b : boxes_) {
      if (x < b.x + b.w && b.x < x + w && y < b.y + b.h && b.y < y + h) return true;
    }
    return false;
  }
  std::vector<Box> boxes_;
};

// The nearest value of the 1, 2, 5, 10, 20, ... sequence at or above (up) or at or below `v`.
double NiceStep(double v, bool up) {
  const double decade = std::pow(10.0, std::floor(std::log10(v)));
  const double steps[] = {1, 2, 5, 10};
  if (up) {
    for (double s : steps) {
      if (s * decade >= v * (1 - 1e-9)) return s * decade;
    }
    return 10 * decade;
  }
  double best = decade;
  for (double s : steps) {
    if (s * decade <= v * (1 + 1e-9)) best = s * decade;
  }
  return best;
}

Scale ScaleFor(const std::vector<PlotSeries>& series) {
  double r_min = 1, q_min = 0, q_max = 0;
  for (const PlotSeries& s : series) {
    for (const PlotPoint& p : s.points) {
      if (p.qps <= 0) continue;
      r_min = std::min(r_min, p.recall);
      q_min = q_min == 0 ? p.qps : std::min(q_min, p.qps);
      q_max = std::max(q_max, p.qps);
    }
  }
  Scale scale;
  // x: from the tenth below the lowest recall to 1 (the best recall is at the right edge).
  scale.x_min = std::clamp(std::floor(r_min * 10 - 1e-9) / 10, 0.0, 0.9);
  scale.x_max = 1.0;
  if (q_min <= 0) q_min = q_max = 1;
  // y: from the 1-2-5 step at or below the slowest point to the one at or above the fastest,
  // at least one step apart.
  scale.log_y_min = std::log10(NiceStep(q_min, false));
  scale.log_y_max = std::log10(NiceStep(q_max, true));
  if (scale.log_y_max - scale.log_y_min < 0.3) {
    scale.log_y_max = std::log10(NiceStep(std::pow(10.0, scale.log_y_max) * 1.5, true));
  }
  return scale;
}

void Axes(const Scale& scale, const PlotLabels& labels, std::ostringstream& svg) {
  const double x0 = kLeft, x1 = kWidth - kRight, y0 = kHeight - kBottom, y1 = kTop;
  svg << "<g class=\"axes\" stroke=\"#333\" stroke-width=\"1\">\n";
  svg << "<line x1=\"" << x0 << "\" y1=\"" << y0 << "\" x2=\"" << x1 << "\" y2=\"" << y0 << "\"/>\n";
  svg << "<line x1=\"" << x0 << "\" y1=\"" << y0 << "\" x2=\"" << x0 << "\" y2=\"" << y1 << "\"/>\n";
  svg << "</g>\n<g class=\"grid\" stroke=\"#ddd\" stroke-width=\"1\">\n";
  std::ostringstream text;
  // x ticks: five to ten of them, labelled.
  const double range = scale.x_max - scale.x_min;
  const double step = range <= 0.1 + 1e-9 ? 0.02 : range <= 0.3 + 1e-9 ? 0.05 : 0.1;
  for (int i = 0; scale.x_min + i * step <= scale.x_max + 1e-9; ++i) {
    const double r = scale.x_min + i * step;
    const double x = scale.X(r);
    svg << "<line x1=\"" << Number(x) << "\" y1=\"" << y0 << "\" x2=\"" << Number(x)
        << "\" y2=\"" << y1 << "\"/>\n";
    char tick[16];
    std::snprintf(tick, sizeof tick, "%.2f", r);
    text << "<text x=\"" << Number(x) << "\" y=\"" << y0 + 18 << "\" text-anchor=\"middle\">"
         << tick << "</text>\n";
  }
  // y: a line at each 1-2-5 step in range, solid at decades; all labelled when the range is
  // narrow, the decades only when it spans more than two of them.
  const bool label_all = scale.log_y_max - scale.log_y_min <= 2 + 1e-9;
  for (double d = std::floor(scale.log_y_min); d <= scale.log_y_max + 1e-9; d += 1) {
    for (const double m : {1.0, 2.0, 5.0}) {
      const double qps = m * std::pow(10.0, d);
      if (std::log10(qps) < scale.log_y_min - 1e-9) continue;
      if (std::log10(qps) > scale.log_y_max + 1e-9) break;
      const double y = scale.Y(qps);
      svg << "<line x1=\"" << x0 << "\" y1=\"" << Number(y) << "\" x2=\"" << x1 << "\" y2=\""
          << Number(y) << "\"" << (m == 1 ? "" : " stroke-dasharray=\"2,3\"") << "/>\n";
      if (m != 1 && !label_all) continue;
      text << "<text x=\"" << x0 - 8 << "\" y=\"" << Number(y + 4) << "\" text-anchor=\"end\""
           << (m == 1 ? "" : " fill=\"#555\"") << ">" << QpsTick(qps) << "</text>\n";
    }
  }
  svg << "</g>\n<g class=\"labels\" font-family=\"sans-serif\" font-size=\"12\" fill=\"#222\">\n"
      << text.str();
  svg << "<text x=\"" << (x0 + x1) / 2 << "\" y=\"" << kHeight - 25
      << "\" text-anchor=\"middle\" font-size=\"14\">" << XmlEscape(labels.x_axis) << "</text>\n";
  svg << "<text x=\"22\" y=\"" << (y0 + y1) / 2 << "\" text-anchor=\"middle\" font-size=\"14\""
      << " transform=\"rotate(-90 22 " << (y0 + y1) / 2 << ")\">" << XmlEscape(labels.y_axis)
      << "</text>\n";
  svg << "<text x=\"" << kWidth / 2 << "\" y=\"28\" text-anchor=\"middle\" font-size=\"17\""
      << " font-weight=\"bold\">" << XmlEscape(labels.title) << "</text>\n";
  if (!labels.subtitle.empty()) {
    svg << "<text x=\"" << kWidth / 2 << "\" y=\"48\" text-anchor=\"middle\" fill=\"#555\">"
        << XmlEscape(labels.subtitle) << "</text>\n";
  }
  svg << "</g>\n";
}

}  // namespace

std::string XmlEscape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

std::string RecallQpsSvg(const std::vector<PlotSeries>& series, const PlotLabels& labels) {
  const Scale scale = ScaleFor(series);
  std::ostringstream svg;
  svg << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << kWidth << "\" height=\""
      << kHeight << "\" viewBox=\"0 0 " << kWidth << " " << kHeight << "\">\n"
      << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  Axes(scale, labels, svg);
  LabelPlacer placer;
  placer.AddObstacle(kWidth - kRight + 16, kTop, kRight, 22 * double(series.size()) + 4);
  for (const PlotSeries& one : series) {
    for (const PlotPoint& p : one.points) {
      if (p.qps > 0) placer.AddMarker(scale.X(p.recall), scale.Y(p.qps));
    }
  }

  // Longer series first, so a short one (a flat index's single point) is drawn on top.
  std::vector<size_t> order(series.size());
  for (size_t s = 0; s < order.size(); ++s) order[s] = s;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return series[a].points.size() > series[b].points.size();
  });
  for (const size_t s : order) {
    const char* colour = kColours[s % std::size(kColours)];
    // A lone point gets a larger marker with a white ring, so it shows on top of a curve.
    const bool lone = series[s].points.size() == 1;
    std::ostringstream points, markers;
    for (const PlotPoint& p : series[s].points) {
      if (p.qps <= 0) continue;
      const std::string x = Number(scale.X(p.recall)), y = Number(scale.Y(p.qps));
      points << x << "," << y << " ";
      markers << "<circle cx=\"" << x << "\" cy=\"" << y << "\""
              << (lone ? " r=\"5.5\" stroke=\"white\" stroke-width=\"1.5\"" : " r=\"3.5\"")
              << "/>\n";
      if (!p.label.empty()) markers << placer.Place(scale.X(p.recall), scale.Y(p.qps), p.label);
    }
    std::string coordinates = points.str();
    if (!coordinates.empty()) coordinates.pop_back();
    svg << "<g class=\"series\" fill=\"" << colour << "\" font-family=\"sans-serif\">\n"
        << "<polyline fill=\"none\" stroke=\"" << colour << "\" stroke-width=\"2\" points=\""
        << coordinates << "\"/>\n"
        << markers.str() << "</g>\n";
  }
  // The legend, right of the plot, in the series' order.
  svg << "<g class=\"legend\" font-family=\"sans-serif\" font-size=\"12\">\n";
  for (size_t s = 0; s < series.size(); ++s) {
    const char* colour = kColours[s % std::size(kColours)];
    const double ly = kTop + 10 + 22 * double(s);
    const double lx = kWidth - kRight + 20;
    svg << "<line x1=\"" << lx << "\" y1=\"" << ly << "\" x2=\"" << lx + 24 << "\" y2=\"" << ly
        << "\" stroke=\"" << colour << "\" stroke-width=\"2\"/>\n"
        << "<circle cx=\"" << lx + 12 << "\" cy=\"" << ly << "\" r=\"3.5\" fill=\"" << colour
        << "\"/>\n"
        << "<text x=\"" << lx + 32 << "\" y=\"" << ly + 4 << "\">" << XmlEscape(series[s].name)
        << "</text>\n";
  }
  svg << "</g>\n";
  svg << "</svg>\n";
  return svg.str();
}

}  // namespace vecmirror::recall
