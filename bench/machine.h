// What the benchmarks print about the machine they ran on: the figures in bench/RESULTS.md
// come with the CPU model and how busy the shared machine was.
#pragma once

#include <time.h>

#include <fstream>
#include <string>

namespace vecmirror::bench {

// /proc/cpuinfo's first "model name".
inline std::string CpuModel() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  }
  return "unknown";
}

// /proc/loadavg's first three fields.
inline std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string one, five, fifteen;
  in >> one >> five >> fifteen;
  return one + " " + five + " " + fifteen;
}

// CPU time of the whole process (every thread: clients, gRPC server, its pollers), in seconds.
inline double ProcessCpuSeconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

}  // namespace vecmirror::bench
