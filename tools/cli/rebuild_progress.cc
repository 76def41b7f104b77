#include "tools/cli/rebuild_progress.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>

#include "tools/cli/cli_json.h"

namespace vecmirror::cli {
namespace {

std::string Printf(const char* format, auto... args) {
  char buffer[256];
  std::snprintf(buffer, sizeof(buffer), format, args...);
  return buffer;
}

std::string Duration(double seconds) {
  if (seconds < 60) return Printf("%.0f s", seconds);
  const int whole = static_cast<int>(seconds);
  if (seconds < 3600) return Printf("%d min %02d s", whole / 60, whole % 60);
  return Printf("%.1f h", seconds / 3600);
}

std::string Pace(const v1::RebuildJob& job) {
  const double rate = RowsPerSecond(job);
  const double left = SecondsLeft(job);
  std::string text = rate > 0 ? Printf("%.0f rows/s", rate) : std::string("- rows/s");
  text += left >= 0 ? ", ETA " + Duration(left) : std::string(", ETA -");
  return text;
}

}  // namespace

const char* RebuildStateText(v1::RebuildState state) {
  switch (state) {
    case v1::REBUILD_STATE_QUEUED: return "queued";
    case v1::REBUILD_STATE_RUNNING: return "running";
    case v1::REBUILD_STATE_CANCELLING: return "cancelling";
    case v1::REBUILD_STATE_DONE: return "done";
    case v1::REBUILD_STATE_FAILED: return "failed";
    case v1::REBUILD_STATE_CANCELLED: return "cancelled";
    default: return "-";
  }
}

bool RebuildEnded(const v1::RebuildJob& job) {
  return job.state() == v1::REBUILD_STATE_DONE || job.state() == v1::REBUILD_STATE_FAILED ||
         job.state() == v1::REBUILD_STATE_CANCELLED;
}

double RowsPerSecond(const v1::RebuildJob& job) {
  if (job.seconds() <= 0 || job.rows_done() == 0) return 0;
  return static_cast<double>(job.rows_done()) / job.seconds();
}

double SecondsLeft(const v1::RebuildJob& job) {
  const double rate = RowsPerSecond(job);
  if (rate <= 0 || job.rows_total() < job.rows_done()) return -1;
  return static_cast<double>(job.rows_total() - job.rows_done()) / rate;
}

std::string RebuildProgressLine(const v1::IndexInfo& info) {
  const v1::RebuildJob& job = info.rebuild();
  std::string line = info.tenant_id() + "/" + info.model() + ": " + RebuildStateText(job.state());
  switch (job.state()) {
    case v1::REBUILD_STATE_DONE:
      return line + " as " + IndexKindText(job.target_kind()) + ", " +
             std::to_string(job.rows_total()) + " rows in " + Printf("%.1f s", job.seconds());
    case v1::REBUILD_STATE_FAILED: return line + ": " + job.error();
    case v1::REBUILD_STATE_CANCELLED:
      return line + Printf(" after %.1f s; the index is as it was", job.seconds());
    case v1::REBUILD_STATE_QUEUED: return line;
    default: break;
  }
  const uint64_t total = std::max<uint64_t>(job.rows_total(), 1);
  return line + " " + IndexKindText(job.target_kind()) + " " + std::to_string(job.rows_done()) +
         "/" + std::to_string(job.rows_total()) + " rows (" +
         std::to_string(job.rows_done() * 100 / total) + "%), " + Pace(job);
}

std::string RebuildProgressBar(const v1::IndexInfo& info, int width) {
  const v1::RebuildJob& job = info.rebuild();
  const uint64_t total = std::max<uint64_t>(job.rows_total(), 1);
  const int filled = static_cast<int>(std::min<uint64_t>(job.rows_done(), total) * width / total);
  std::string bar = "[" + std::string(filled, '#') + std::string(width - filled, '-') + "] ";
  bar += Printf("%3d%% ", static_cast<int>(job.rows_done() * 100 / total));
  bar += std::to_string(job.rows_done()) + "/" + std::to_string(job.rows_total()) + " rows " +
         Pace(job) + "  " + info.model() + " (" + RebuildStateText(job.state()) + ")";
  return bar;
}

}  // namespace vecmirror::cli
