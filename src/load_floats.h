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
// The key map is short-lived too, and has a node per row: its nodes and its keys' bytes live in
// a LoadArena (src/load_arena.h), not between the records, and go with it at Clear().
//
// Thread-safety: none; the mirror's one thread uses it.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <functional>
#include <memory>
#include <span>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "src/load_arena.h"
#include "src/row_key.h"

namespace vecmirror {

class LoadFloats {
 public:
  // 64 MiB: larger than the largest mmap threshold glibc adopts on its own (32 MiB), so every
  // block is a mapping of its own, unmapped when freed, and faulted in only as it fills.
  static constexpr size_t kBlockFloats = size_t{16} << 20;

  // `block_floats`: the size of a block; a larger row gets a block of its own size.
  explicit LoadFloats(size_t block_floats = kBlockFloats) : block_size_(block_floats) {}
  LoadFloats(const LoadFloats&) = delete;
  LoadFloats& operator=(const LoadFloats&) = delete;

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
    const std::span<const float> stored(row, floats.size());
    if (auto it = rows_.find(key.view()); it != rows_.end()) {
      it->second = stored;
    } else {
      rows_.emplace(CopyKey(key.view()), stored);
    }
  }

  bool Contains(const RowKey& key) const { return rows_.contains(key.view()); }

  // The floats of `key`, no longer held by key (the memory stays until this is destroyed or
  // cleared); empty if the key held none.
  std::span<const float> Take(const RowKey& key) {
    auto it = rows_.find(key.view());
    if (it == rows_.end()) return {};
    const std::span<const float> floats = it->second;
    rows_.erase(it);
    return floats;
  }

  void Erase(const RowKey& key) { rows_.erase(key.view()); }

  // Calls fn(key, floats) for every key still held; `key` is a std::string_view.
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    for (const auto& [key, floats] : rows_) fn(key, floats);
  }

  size_t size() const { return rows_.size(); }

  // Blocks of floats held.
  size_t blocks() const { return blocks_.size(); }
  // The key map's bytes, taken from the system in the arena's blocks.
  size_t key_map_bytes() const { return arena_.bytes(); }

  // Frees every block: spans taken earlier dangle from here on.
  void Clear() {
    // A new map, not clear(): clear() keeps the bucket array, which lives in the arena.
    rows_ = KeyMap(&arena_);
    arena_.Release();
    blocks_.clear();
    blocks_.shrink_to_fit();
    block_floats_ = 0;
    used_ = 0;
  }

 private:
  // noexcept, so that the map does not store each node's hash beside it (as RowKeyHash).
  struct KeyHash {
    size_t operator()(std::string_view key) const noexcept { return std::hash<std::string_view>()(key); }
  };
  // Keys are views of bytes copied into the arena.
  using KeyMap = std::pmr::unordered_map<std::string_view, std::span<const float>, KeyHash>;

  std::string_view CopyKey(std::string_view key) {
    if (key.empty()) return {};
    char* bytes = static_cast<char*>(arena_.allocate(key.size(), 1));
    std::memcpy(bytes, key.data(), key.size());
    return {bytes, key.size()};
  }

  size_t block_size_;
  std::vector<std::unique_ptr<float[]>> blocks_;
  size_t block_floats_ = 0;  // floats in the last block
  size_t used_ = 0;          // floats used in the last block
  LoadArena arena_;  // declared before rows_: the map's nodes live in it
  KeyMap rows_{&arena_};
};

}  // namespace vecmirror
