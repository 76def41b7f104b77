// LoadFloats: the normalized floats of an initial load's embedding rows, by key, packed into a
// few large blocks until the load hands them to the indexes.
//
// Why not one std::vector per row: the load also allocates each row's small record, which
// outlives the load. With a heap block per vector, the records end up one per 6 KiB (at 1536-d)
// between the vectors, and once the vectors have moved into an index every page that holds a
// record stays resident: the allocator can return only whole free pages. That kept about 4 to
// 9 KiB per row resident after a fresh load (bench/RESULTS.md, "The whole server's RSS per row,
// once ANN-ready"). Here the records are packed together and the blocks are returned whole.
//
// Thread-safety: none; the mirror's one thread uses it.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <memory>
#include <span>
#include <unordered_map>
#include <utility>
#include <vector>

#include "src/row_key.h"

namespace vecmirror {

class LoadFloats {
 public:
  // 64 MiB: larger than the largest mmap threshold glibc adopts on its own (32 MiB), so every
  // block is a mapping of its own, unmapped when freed, and faulted in only as it fills.
  static constexpr size_t kBlockFloats = size_t{16} << 20;

  // `block_floats`: the size of a block; a larger row gets a block of its own size.
  explicit LoadFloats(size_t block_floats = kBlockFloats) : block_size_(block_floats) {}
  LoadFloats(LoadFloats&&) noexcept = default;
  LoadFloats& operator=(LoadFloats&&) noexcept = default;

  // Stores a copy of `floats` under `key`, replacing what the key held.
  void Put(const RowKey& key, std::span<const float> floats) {
    if (blocks_.empty() || used_ + floats.size() > block_floats_) {
      block_floats_ = std::max(block_size_, floats.size());
      blocks_.push_back(std::make_unique_for_overwrite<float[]>(block_floats_));
      used_ = 0;
    }
    float* row = blocks_.back().get() + used_;
    std::copy(floats.begin(), floats.end(), row);
    used_ += floats.size();
    rows_.insert_or_assign(key, std::span<const float>(row, floats.size()));
  }

  bool Contains(const RowKey& key) const { return rows_.contains(key); }

  // The floats of `key`, no longer held by key (the memory stays until this is destroyed or
  // cleared); empty if the key held none.
  std::span<const float> Take(const RowKey& key) {
    auto it = rows_.find(key);
    if (it == rows_.end()) return {};
    const std::span<const float> floats = it->second;
    rows_.erase(it);
    return floats;
  }

  void Erase(const RowKey& key) { rows_.erase(key); }

  // Calls fn(key, floats) for every key still held.
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    for (const auto& [key, floats] : rows_) fn(key, floats);
  }

  size_t size() const { return rows_.size(); }

  size_t blocks() const { return blocks_.size(); }

  // Frees every block: spans taken earlier dangle from here on.
  void Clear() { *this = LoadFloats(block_size_); }

 private:
  size_t block_size_;
  std::vector<std::unique_ptr<float[]>> blocks_;
  size_t block_floats_ = 0;  // floats in the last block
  size_t used_ = 0;          // floats used in the last block
  std::unordered_map<RowKey, std::span<const float>, RowKeyHash> rows_;
};

}  // namespace vecmirror
