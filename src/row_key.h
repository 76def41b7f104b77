// RowKey: a row's replica-identity key (the bytes RowDecoder::DecodeKey builds, or any byte
// string) held in 16 bytes, half a std::string. Keys of up to 15 bytes sit inline: a bigint or
// int primary key makes a 12- or 8-byte key. Longer ones (a uuid key makes 20 bytes) take one
// heap block of their exact size.
//
// The mirror holds one per mirrored row, and one per indexed entry, so its size is a share of
// the server's memory per row.
//
// Thread-safety: a plain value.
#pragma once

#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <string_view>
#include <utility>

namespace vecmirror {

class RowKey {
 public:
  RowKey() { bytes_[kTag] = 0; }
  explicit RowKey(std::string_view key) { Assign(key); }
  RowKey(const RowKey& other) { Assign(other.view()); }
  RowKey(RowKey&& other) noexcept {
    std::memcpy(bytes_, other.bytes_, sizeof bytes_);
    other.bytes_[kTag] = 0;
  }
  RowKey& operator=(RowKey other) noexcept {
    std::swap(bytes_, other.bytes_);
    return *this;
  }
  ~RowKey() {
    if (on_heap()) delete[] heap_data();
  }

  std::string_view view() const {
    if (on_heap()) return {heap_data(), heap_size()};
    return {bytes_, static_cast<size_t>(bytes_[kTag])};
  }
  std::string ToString() const { return std::string(view()); }

  bool operator==(const RowKey& other) const { return view() == other.view(); }

 private:
  // bytes_[kTag] is the inline length (0..15), or kOnHeap: then bytes_ starts with the heap
  // block's address and its uint32 size.
  static constexpr size_t kTag = 15;
  static constexpr size_t kMaxInline = 15;
  static constexpr char kOnHeap = static_cast<char>(0xFF);

  bool on_heap() const { return bytes_[kTag] == kOnHeap; }
  char* heap_data() const {
    char* data;
    std::memcpy(&data, bytes_, sizeof data);
    return data;
  }
  uint32_t heap_size() const {
    uint32_t size;
    std::memcpy(&size, bytes_ + sizeof(char*), sizeof size);
    return size;
  }
  void Assign(std::string_view key) {
    if (key.size() <= kMaxInline) {
      std::memcpy(bytes_, key.data(), key.size());
      bytes_[kTag] = static_cast<char>(key.size());
      return;
    }
    char* data = new char[key.size()];
    std::memcpy(data, key.data(), key.size());
    const auto size = static_cast<uint32_t>(key.size());
    std::memcpy(bytes_, &data, sizeof data);
    std::memcpy(bytes_ + sizeof data, &size, sizeof size);
    bytes_[kTag] = kOnHeap;
  }

  alignas(8) char bytes_[16];
};

// noexcept, so that libstdc++'s hash containers do not store each node's hash beside it.
struct RowKeyHash {
  size_t operator()(const RowKey& key) const noexcept {
    return std::hash<std::string_view>()(key.view());
  }
};

}  // namespace vecmirror
