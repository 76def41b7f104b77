// RowStore: an append-only array of float rows of one dimension, kept in chunks so that an
// append never moves the rows already stored. A growing index therefore never copies its whole
// tail under the write lock, and a pointer to a row stays valid until the store is destroyed.
// Chunks start small (16 rows) and double up to 4,096 rows, so a tenant with ten vectors does
// not pay for thousands.
//
// Thread-safety: none of its own. Callers (EntityIndex) read it under a shared lock and
// append under an exclusive one.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstring>
#include <memory>
#include <vector>

namespace vecmirror {

class RowStore {
 public:
  explicit RowStore(size_t dim = 0) : dim_(dim) {}
  RowStore(RowStore&&) noexcept = default;
  RowStore& operator=(RowStore&&) noexcept = default;

  size_t dim() const { return dim_; }
  size_t size() const { return size_; }

  void Append(const float* row) {
    const Position pos = Locate(size_);
    if (pos.chunk == chunks_.size()) {
      chunks_.push_back(std::make_unique_for_overwrite<float[]>(ChunkRows(pos.chunk) * dim_));
    }
    std::memcpy(chunks_[pos.chunk].get() + pos.offset * dim_, row, dim_ * sizeof(float));
    ++size_;
  }

  const float* Row(size_t i) const {
    const Position pos = Locate(i);
    return chunks_[pos.chunk].get() + pos.offset * dim_;
  }

  // Calls fn(first_row, count, rows) for each maximal run of [begin, end) that is contiguous in
  // memory: rows[j * dim] is row first_row + j.
  template <typename Fn>
  void ForEachContiguousRun(size_t begin, size_t end, Fn&& fn) const {
    while (begin < end) {
      const Position pos = Locate(begin);
      const size_t count = std::min(end - begin, ChunkRows(pos.chunk) - pos.offset);
      fn(begin, count, chunks_[pos.chunk].get() + pos.offset * dim_);
      begin += count;
    }
  }

  // Bytes allocated, including the unused end of the last chunk.
  size_t AllocatedBytes() const {
    size_t rows = 0;
    for (size_t c = 0; c < chunks_.size(); ++c) rows += ChunkRows(c);
    return rows * dim_ * sizeof(float) + chunks_.capacity() * sizeof(chunks_[0]);
  }

 private:
  static constexpr size_t kFirstChunkRows = 16;
  static constexpr size_t kDoublings = 8;  // the chunk sizes are 16, 32, ..., 4096 rows
  static constexpr size_t kMaxChunkRows = kFirstChunkRows << kDoublings;
  // Rows held by the geometric chunks 0..kDoublings: 16 * (2^9 - 1).
  static constexpr size_t kGeometricRows = kFirstChunkRows * ((size_t{2} << kDoublings) - 1);

  struct Position {
    size_t chunk;
    size_t offset;
  };

  static size_t ChunkRows(size_t chunk) {
    return chunk <= kDoublings ? kFirstChunkRows << chunk : kMaxChunkRows;
  }

  // Chunk c < kDoublings + 1 starts at row 16 * (2^c - 1), so row r is in chunk
  // floor(log2(r / 16 + 1)); past the geometric part every chunk has kMaxChunkRows rows.
  static Position Locate(size_t row) {
    if (row < kGeometricRows) {
      const size_t chunk = std::bit_width(row / kFirstChunkRows + 1) - 1;
      return {chunk, row - kFirstChunkRows * ((size_t{1} << chunk) - 1)};
    }
    const size_t past = row - kGeometricRows;
    return {kDoublings + 1 + past / kMaxChunkRows, past % kMaxChunkRows};
  }

  size_t dim_;
  size_t size_ = 0;
  std::vector<std::unique_ptr<float[]>> chunks_;
};

}  // namespace vecmirror
