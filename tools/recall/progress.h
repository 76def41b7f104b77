// Progress: what a long measurement shows while it runs. On a terminal, one line redrawn in
// place (a bar, searches done of the total, the stage, and the time left); elsewhere (a log, a
// pipe, CI), a plain line at each stage and about every 10% or 10 seconds.
//
//   Progress progress(std::cerr, Progress::DetectMode(STDERR_FILENO));
//   progress.Stage("census 1/3 " + key, 0);      // a stage of unknown length
//   progress.Stage("measuring", total_searches); // a counted stage
//   progress.Advance();                          // one search done (any thread)
//   progress.Finish();
//
// Thread-safety: Advance may be called from several threads at once; Stage and Finish from
// one thread while no Advance runs.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <ostream>
#include <string>

namespace vecmirror::recall {

class Progress {
 public:
  enum class Mode { kNone, kBar, kLines };

  // kBar when `fd` is a terminal, else kLines.
  static Mode DetectMode(int fd);

  Progress(std::ostream& out, Mode mode) : out_(out), mode_(mode) {}
  ~Progress() { Finish(); }

  // Starts a stage; `total` units (0: a stage without a count, shown as its label only).
  void Stage(const std::string& label, uint64_t total);
  // Renames the current stage without resetting its count.
  void Relabel(const std::string& label);
  void Advance(uint64_t units = 1);
  // Ends the bar's line.
  void Finish();

 private:
  void Render(bool force);
  std::string Line(uint64_t done, double seconds) const;

  std::ostream& out_;
  const Mode mode_;
  std::mutex mu_;  // guards rendering and the stage fields below
  std::string label_;
  uint64_t total_ = 0;
  std::atomic<uint64_t> done_{0};
  std::chrono::steady_clock::time_point started_;
  std::chrono::steady_clock::time_point last_render_;
  uint64_t last_line_done_ = 0;
  bool bar_open_ = false;  // a bar line is on screen without its newline
};

// "1m05s", "42s", "0.8s".
std::string FormatSeconds(double seconds);

}  // namespace vecmirror::recall
