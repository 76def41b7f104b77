#include "index/exact_scan.h"

#include "index/kernels.h"

namespace vecmirror {

size_t ScanExact(const SlotState& state, const AllowList& allow, const float* query, size_t begin,
                 size_t end, TopK& top) {
  constexpr size_t kBatch = 256;
  float scores[kBatch];
  size_t allowed = 0;
  auto scan_run = [&](size_t first, size_t count, const float* rows) {
    size_t i = 0;
    while (i < count) {
      while (i < count && !allow.Allows(first + i)) ++i;
      size_t j = i;
      while (j < count && j - i < kBatch && allow.Allows(first + j)) ++j;
      if (j == i) break;
      DotProductMany(query, rows + i * state.dim, j - i, state.dim, scores);
      for (size_t t = 0; t < j - i; ++t) top.Offer(static_cast<uint32_t>(first + i + t), scores[t]);
      allowed += j - i;
      i = j;
    }
  };
  const size_t sealed_rows = state.sealed->rows;
  if (begin < sealed_rows) {
    const size_t stop = std::min(end, sealed_rows);
    scan_run(begin, stop - begin, state.sealed->vectors + begin * state.dim);
    begin = stop;
  }
  if (begin < end) {
    state.tail.ForEachContiguousRun(begin - sealed_rows, end - sealed_rows,
                                    [&](size_t first, size_t count, const float* rows) {
                                      scan_run(first + sealed_rows, count, rows);
                                    });
  }
  return allowed;
}

}  // namespace vecmirror
