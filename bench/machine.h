// What the benchmarks print about the machine they ran on: the figures in bench/RESULTS.md
// come with the CPU model and how busy the shared machine was.
#pragma once

#include <sys/resource.h>
#include <time.h>

#include <cstdint>

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

// The part of ProcessCpuSeconds spent in the kernel (system calls, wake-ups, interrupts taken
// on the process's behalf): on loopback, the TCP stack of both ends is charged to the sender.
inline double ProcessKernelCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_stime.tv_sec) + static_cast<double>(usage.ru_stime.tv_usec) * 1e-6;
}

// Context switches of every thread of this process so far, voluntary (a thread slept: a wait
// for a lock, a poll, a read) and involuntary (it was preempted). On a VM each costs several
// microseconds of CPU, so switches per call explain much of a serving layer's cost.
inline uint64_t ProcessContextSwitches() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<uint64_t>(usage.ru_nvcsw) + static_cast<uint64_t>(usage.ru_nivcsw);
}

}  // namespace vecmirror::bench
