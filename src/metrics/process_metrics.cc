#include "src/metrics/process_metrics.h"

#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace vecmirror::metrics {
namespace {

// The fields of /proc/self/stat after the command name (which may hold spaces), so that
// fields[0] is field 3 (state) of proc(5).
std::vector<std::string> StatFields() {
  std::ifstream in("/proc/self/stat");
  std::string line;
  std::getline(in, line);
  const size_t close = line.rfind(')');
  std::vector<std::string> fields;
  if (close == std::string::npos) return fields;
  std::istringstream rest(line.substr(close + 1));
  for (std::string field; rest >> field;) fields.push_back(field);
  return fields;
}

// Seconds since the epoch at which the machine booted (btime of /proc/stat); 0 if unknown.
double BootTime() {
  std::ifstream in("/proc/stat");
  for (std::string key; in >> key;) {
    if (key == "btime") {
      double seconds = 0;
      in >> seconds;
      return seconds;
    }
    in.ignore(1 << 20, '\n');
  }
  return 0;
}

void One(TextWriter& out, const char* name, MetricType type, const char* help, double value) {
  out.Family(name, type, help);
  out.Sample(name, value);
}

}  // namespace

void WriteProcessMetrics(TextWriter& out) {
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  const std::vector<std::string> stat = StatFields();
  // proc(5): utime 14, stime 15, starttime 22, vsize 23, rss 24 (pages); fields[i] is i + 3.
  if (stat.size() > 21 && ticks > 0) {
    const double cpu = (std::stod(stat[11]) + std::stod(stat[12])) / ticks;
    One(out, "process_cpu_seconds_total", MetricType::kCounter,
        "Total user and system CPU time spent in seconds.", cpu);
    One(out, "process_resident_memory_bytes", MetricType::kGauge, "Resident memory size in bytes.",
        std::stod(stat[21]) * page);
    One(out, "process_virtual_memory_bytes", MetricType::kGauge, "Virtual memory size in bytes.",
        std::stod(stat[20]));
    if (const double boot = BootTime(); boot > 0) {
      One(out, "process_start_time_seconds", MetricType::kGauge,
          "Start time of the process since unix epoch in seconds.",
          boot + std::stod(stat[19]) / ticks);
    }
  }
  std::error_code error;
  size_t fds = 0;
  for (std::filesystem::directory_iterator it("/proc/self/fd", error), end; !error && it != end;
       it.increment(error)) {
    ++fds;
  }
  if (!error) {
    One(out, "process_open_fds", MetricType::kGauge, "Number of open file descriptors.",
        static_cast<double>(fds));
  }
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    One(out, "process_max_fds", MetricType::kGauge, "Maximum number of open file descriptors.",
        static_cast<double>(limit.rlim_cur));
  }
}

}  // namespace vecmirror::metrics
