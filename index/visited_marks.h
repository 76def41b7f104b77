// VisitedMarks: which rows a graph walk has reached, with an epoch, so that starting a new walk
// is O(1) instead of O(rows). A walk calls Begin, then TestAndSet for each row it reaches.
//
// Thread-safety: none; each thread keeps its own (thread_local in the walks).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace vecmirror {

class VisitedMarks {
 public:
  // Starts a walk over a graph of `rows` rows.
  void Begin(size_t rows) {
    if (marks_.size() < rows) marks_.resize(rows, 0);
    if (++epoch_ == 0) {  // wrapped: old marks could collide with the new epoch
      std::fill(marks_.begin(), marks_.end(), 0);
      epoch_ = 1;
    }
  }
  // Marks `row`; returns whether it was already marked in this walk.
  bool TestAndSet(size_t row) {
    if (marks_[row] == epoch_) return true;
    marks_[row] = epoch_;
    return false;
  }

 private:
  std::vector<uint16_t> marks_;
  uint16_t epoch_ = 0;
};

}  // namespace vecmirror
