// BuildGate: holds a rebuild at its first progress report after a chunk of rows, until the test
// opens the gate, so that a test sees a build running however fast the machine builds and
// however slowly the test itself is scheduled. Reports come from the rebuild's thread
// (IndexOptions::on_rebuild_progress: pass Reporter(), or call OnProgress from one).
//
// A closed gate holds every model's build; Arm(model) closes it for one model only.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>

#include "index/index_key.h"
#include "index/rebuild_progress.h"

namespace vecmirror::testing {

class BuildGate {
 public:
  // Closed (holding every model's build) unless `open`.
  explicit BuildGate(bool open = false) : open_(open) {}

  // Closes the gate for the next build of `model` alone.
  void Arm(const std::string& model) {
    std::lock_guard<std::mutex> lock(mu_);
    model_ = model;
    held_ = false;
    open_ = false;
  }

  void OnProgress(const IndexKey& key, const RebuildProgress& p) {
    std::unique_lock<std::mutex> lock(mu_);
    if (open_ || (model_ && key.model != *model_) || p.finished || p.rows_done == 0) return;
    held_ = true;
    cv_.notify_all();
    cv_.wait(lock, [this] { return open_; });
  }

  std::function<void(const IndexKey&, const RebuildProgress&)> Reporter() {
    return [this](const IndexKey& key, const RebuildProgress& p) { OnProgress(key, p); };
  }

  // Waits (bounded) until a build is held.
  bool WaitHeld(std::chrono::seconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [this] { return held_; });
  }

  // Lets the held build, and every later one, go on.
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<std::string> model_;  // unset: every model
  bool held_ = false;
  bool open_ = false;
};

}  // namespace vecmirror::testing
