#include "index/exact_scan.h"

#include "index/kernels.h"
#include "index/sq8_codec.h"

namespace vecmirror {

size_t ScanExact(const SlotState& state, const AllowList& allow, const float* query, size_t begin,
                 size_t end, TopK& top) {
  constexpr size_t kBatch = 256;
  float scores[kBatch];
  size_t allowed = 0;
  // `score(i, n, out)` scores rows first + i .. first + i + n - 1 of the run.
  auto scan_run = [&](size_t first, size_t count, const auto& score) {
    size_t i = 0;
    while (i < count) {
      while (i < count && !allow.Allows(first + i)) ++i;
      size_t j = i;
      while (j < count && j - i < kBatch && allow.Allows(first + j)) ++j;
      if (j == i) break;
      score(i, j - i, scores);
      for (size_t t = 0; t < j - i; ++t) top.Offer(static_cast<uint32_t>(first + i + t), scores[t]);
      allowed += j - i;
      i = j;
    }
  };
  const size_t sealed_rows = state.sealed->rows;
  if (begin < sealed_rows) {
    const size_t stop = std::min(end, sealed_rows);
    const SealedStructure& sealed = *state.sealed;
    if (sealed.codes != nullptr) {
      // The query is scaled once for the whole run; each row is one float x uint8 product.
      const Sq8Query prepared(*sealed.sq8_ranges, query, state.dim);
      const uint8_t* rows = sealed.codes + begin * state.dim;
      scan_run(begin, stop - begin, [&](size_t i, size_t n, float* out) {
        prepared.ScoreMany(rows + i * state.dim, n, out);
      });
    } else if (sealed.halves != nullptr) {
      const uint16_t* rows = sealed.halves + begin * state.dim;
      scan_run(begin, stop - begin, [&](size_t i, size_t n, float* out) {
        DotProductManyF16(query, rows + i * state.dim, n, state.dim, out);
      });
    } else {
      const float* rows = sealed.vectors + begin * state.dim;
      scan_run(begin, stop - begin, [&](size_t i, size_t n, float* out) {
        DotProductMany(query, rows + i * state.dim, n, state.dim, out);
      });
    }
    begin = stop;
  }
  if (begin < end) {
    state.tail.ForEachContiguousRun(begin - sealed_rows, end - sealed_rows,
                                    [&](size_t first, size_t count, const float* rows) {
                                      scan_run(first + sealed_rows, count,
                                               [&](size_t i, size_t n, float* out) {
                                                 DotProductMany(query, rows + i * state.dim, n,
                                                                state.dim, out);
                                               });
                                    });
  }
  return allowed;
}

}  // namespace vecmirror
