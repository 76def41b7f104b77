// Rebuild progress and cancellation. A ProgressReporter reports one rebuild through
// IndexOptions::on_rebuild_progress (the RebuildProgress of index/index_options.h) and checks
// the rebuild's cancel flag between chunks of the build: a set flag throws BuildCancelled out
// of the build, which EntityIndex catches and turns into a Status, leaving the index as it was.
//
// Thread-safety: a ProgressReporter belongs to the one thread that runs the rebuild, and calls
// on_rebuild_progress on that thread. The cancel flag is an atomic that any thread may set.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <exception>

#include "base/status.h"
#include "index/index_key.h"
#include "index/index_options.h"

namespace vecmirror {

// Thrown out of a build whose cancel flag was set.
struct BuildCancelled : std::exception {
  const char* what() const noexcept override { return "cancelled"; }
};

// One rebuild's progress: reported through options.on_rebuild_progress at the start, at each
// tenth and at the end; between chunks of the build it also checks the cancel flag.
class ProgressReporter {
 public:
  ProgressReporter(const IndexOptions& options, const IndexKey& key, RebuildProgress shape,
                   const std::atomic<bool>* cancel)
      : options_(options),
        key_(key),
        shape_(shape),
        cancel_(cancel),
        started_(std::chrono::steady_clock::now()) {}

  std::chrono::steady_clock::time_point started() const { return started_; }

  // After a chunk of the build. Throws BuildCancelled if the cancel flag is set.
  void Step(size_t rows_done) {
    if (cancel_ != nullptr && cancel_->load()) throw BuildCancelled();
    const size_t tenth = shape_.rows_total == 0 ? 0 : rows_done * 10 / shape_.rows_total;
    if (tenth > last_tenth_) {
      last_tenth_ = tenth;
      Report(rows_done, false, false);
    }
  }

  void Start() const { Report(0, false, false); }
  void Finish(const Status& status, bool cancelled) const {
    Report(status.ok() ? shape_.rows_total : 0, true, cancelled);
  }

 private:
  void Report(size_t rows_done, bool finished, bool cancelled) const {
    if (!options_.on_rebuild_progress) return;
    RebuildProgress p = shape_;
    p.rows_done = rows_done;
    p.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
    p.finished = finished;
    p.cancelled = cancelled;
    options_.on_rebuild_progress(key_, p);
  }

  const IndexOptions& options_;
  const IndexKey& key_;
  const RebuildProgress shape_;
  const std::atomic<bool>* const cancel_;
  const std::chrono::steady_clock::time_point started_;
  size_t last_tenth_ = 0;
};

}  // namespace vecmirror
