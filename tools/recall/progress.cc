#include "tools/recall/progress.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>

namespace vecmirror::recall {
namespace {

constexpr auto kBarInterval = std::chrono::milliseconds(100);
constexpr auto kLineInterval = std::chrono::seconds(10);
constexpr int kBarWidth = 28;

}  // namespace

std::string FormatSeconds(double seconds) {
  char text[32];
  if (seconds < 10) {
    std::snprintf(text, sizeof text, "%.1fs", seconds);
  } else if (seconds < 60) {
    std::snprintf(text, sizeof text, "%.0fs", seconds);
  } else if (seconds < 3600) {
    const int s = int(std::lround(seconds));
    std::snprintf(text, sizeof text, "%dm%02ds", s / 60, s % 60);
  } else {
    const int m = int(std::lround(seconds / 60));
    std::snprintf(text, sizeof text, "%dh%02dm", m / 60, m % 60);
  }
  return text;
}

Progress::Mode Progress::DetectMode(int fd) { return isatty(fd) ? Mode::kBar : Mode::kLines; }

void Progress::Stage(const std::string& label, uint64_t total) {
  std::lock_guard lock(mu_);
  label_ = label;
  total_ = total;
  done_.store(0);
  started_ = std::chrono::steady_clock::now();
  last_line_done_ = 0;
  if (mode_ == Mode::kLines) {
    out_ << label << (total ? " (" + std::to_string(total) + " searches)" : "") << std::endl;
    last_render_ = started_;
    return;
  }
  Render(true);
}

void Progress::Relabel(const std::string& label) {
  std::lock_guard lock(mu_);
  label_ = label;
  if (mode_ == Mode::kBar) Render(true);
}

void Progress::Advance(uint64_t units) {
  done_.fetch_add(units, std::memory_order_relaxed);
  if (mode_ == Mode::kNone) return;
  std::unique_lock lock(mu_, std::try_to_lock);  // a busy renderer means someone is drawing
  if (lock.owns_lock()) Render(false);
}

void Progress::Finish() {
  std::lock_guard lock(mu_);
  if (mode_ == Mode::kBar && bar_open_) {
    out_ << '\n' << std::flush;
    bar_open_ = false;
  }
}

std::string Progress::Line(uint64_t done, double seconds) const {
  std::string line;
  if (total_ == 0) return label_;
  const double fraction = std::min(1.0, double(done) / double(total_));
  char numbers[160];
  const double rate = seconds > 0 ? double(done) / seconds : 0;
  const std::string eta =
      done > 0 && done < total_ ? FormatSeconds(double(total_ - done) / rate) : "-";
  std::snprintf(numbers, sizeof numbers, "%3.0f%% %llu/%llu searches  %.0f/s  ETA %s",
                fraction * 100, static_cast<unsigned long long>(done),
                static_cast<unsigned long long>(total_), rate, eta.c_str());
  if (mode_ == Mode::kBar) {
    const int filled = int(fraction * kBarWidth);
    line = "[" + std::string(filled, '#') + std::string(kBarWidth - filled, '.') + "] ";
  }
  return line + numbers + "  " + label_;
}

void Progress::Render(bool force) {
  if (mode_ == Mode::kNone) return;
  const auto now = std::chrono::steady_clock::now();
  const uint64_t done = done_.load(std::memory_order_relaxed);
  const double seconds = std::chrono::duration<double>(now - started_).count();
  if (mode_ == Mode::kBar) {
    if (!force && now - last_render_ < kBarInterval && done != total_) return;
    last_render_ = now;
    // \r and clear to the end of the line: the new line may be shorter than the old one.
    out_ << '\r' << Line(done, seconds) << "\x1b[K" << std::flush;
    bar_open_ = true;
    return;
  }
  // Lines: every tenth of the stage, or every 10 s, and at its end.
  if (total_ == 0) return;
  const bool tenth = done * 10 / total_ > last_line_done_ * 10 / total_;
  if (!force && !tenth && now - last_render_ < kLineInterval) return;
  if (done == last_line_done_ && !force) return;
  last_render_ = now;
  last_line_done_ = done;
  out_ << Line(done, seconds) << std::endl;
}

}  // namespace vecmirror::recall
