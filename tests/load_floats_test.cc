// LoadFloats: rows by key in shared blocks; a row never straddles two blocks, and what was taken
// stays readable until the store is cleared. Its key map lives in a LoadArena: every byte of it
// comes from blocks of at least kOwnMappingBytes (mappings of their own, per glibc's counters),
// and all of them go back at Clear().
#include "src/load_floats.h"

#include <gtest/gtest.h>
#include <malloc.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "index/freed_memory.h"

namespace vecmirror {
namespace {

// As the server's main does first: blocks of kOwnMappingBytes and more are mappings of their own
// (so that no earlier test leaves a large free chunk in the heap for a block to come from).
const bool kLargeFreesPrompt = (ReturnLargeFreesPromptly(), true);

std::vector<float> Row(float first, size_t n) {
  std::vector<float> row(n);
  for (size_t i = 0; i < n; ++i) row[i] = first + static_cast<float>(i);
  return row;
}

std::vector<float> Copy(std::span<const float> floats) { return {floats.begin(), floats.end()}; }

TEST(LoadFloatsTest, RowsFillABlockAndTheOneThatDoesNotFitStartsTheNext) {
  LoadFloats store(10);
  store.Put(RowKey("a"), Row(0, 4));
  store.Put(RowKey("b"), Row(100, 6));  // exactly fills the first block
  EXPECT_EQ(store.blocks(), 1u);
  store.Put(RowKey("c"), Row(200, 1));  // one past it
  EXPECT_EQ(store.blocks(), 2u);
  store.Put(RowKey("d"), Row(300, 10));  // does not fit the 9 left: a new block
  EXPECT_EQ(store.blocks(), 3u);
  store.Put(RowKey("e"), Row(400, 11));  // larger than a block: a block of its own size
  EXPECT_EQ(store.blocks(), 4u);
  store.Put(RowKey("f"), Row(500, 3));
  EXPECT_EQ(store.blocks(), 5u);

  EXPECT_EQ(Copy(store.Take(RowKey("a"))), Row(0, 4));
  EXPECT_EQ(Copy(store.Take(RowKey("b"))), Row(100, 6));
  EXPECT_EQ(Copy(store.Take(RowKey("c"))), Row(200, 1));
  EXPECT_EQ(Copy(store.Take(RowKey("d"))), Row(300, 10));
  EXPECT_EQ(Copy(store.Take(RowKey("e"))), Row(400, 11));
  EXPECT_EQ(Copy(store.Take(RowKey("f"))), Row(500, 3));
  EXPECT_EQ(store.size(), 0u);
}

TEST(LoadFloatsTest, TakenRowsStayReadableWhileLaterRowsArrive) {
  LoadFloats store(16);
  std::vector<std::pair<std::span<const float>, std::vector<float>>> taken;
  for (int i = 0; i < 50; ++i) {
    const std::string key = "row-" + std::to_string(i) + std::string(20, 'k');  // a heap key
    store.Put(RowKey(key), Row(i * 10.0f, 1 + i % 7));
    if (i % 3 == 0) taken.emplace_back(store.Take(RowKey(key)), Row(i * 10.0f, 1 + i % 7));
  }
  for (const auto& [span, expected] : taken) EXPECT_EQ(Copy(span), expected);
  EXPECT_EQ(store.size(), 50u - taken.size());
}

TEST(LoadFloatsTest, PutReplacesEraseForgetsAndForEachSeesWhatIsLeft) {
  LoadFloats store;
  store.Put(RowKey("a"), Row(1, 3));
  store.Put(RowKey("a"), Row(7, 3));
  store.Put(RowKey("b"), Row(2, 3));
  store.Put(RowKey("c"), Row(3, 3));
  store.Erase(RowKey("b"));
  store.Erase(RowKey("missing"));
  EXPECT_TRUE(store.Contains(RowKey("a")));
  EXPECT_FALSE(store.Contains(RowKey("b")));
  EXPECT_TRUE(store.Take(RowKey("b")).empty());

  std::map<std::string, std::vector<float>> left;
  store.ForEach([&](std::string_view key, std::span<const float> floats) {
    left[std::string(key)] = Copy(floats);
  });
  EXPECT_EQ(left, (std::map<std::string, std::vector<float>>{{"a", Row(7, 3)}, {"c", Row(3, 3)}}));

  store.Clear();
  EXPECT_EQ(store.size(), 0u);
  EXPECT_EQ(store.blocks(), 0u);
  EXPECT_FALSE(store.Contains(RowKey("a")));
}

// Keys short and long (a long RowKey keeps its bytes on the heap; the map copies them into its
// arena), many enough that the map outgrows its first arena block and rehashes several times;
// then a second load into the same store after Clear().
TEST(LoadFloatsTest, KeyMapLivesInArenaBlocksThatClearGivesBack) {
  LoadFloats store(1024);
  auto key_of = [](int i) {
    return i % 2 ? "k" + std::to_string(i) : "a-long-key-of-more-than-15-bytes-" + std::to_string(i);
  };
  ASSERT_TRUE(kLargeFreesPrompt);
  for (int load = 0; load < 2; ++load) {
    const size_t mapped_before = mallinfo2().hblkhd;
    constexpr int kRows = 60000;
    for (int i = 0; i < kRows; ++i) store.Put(RowKey(key_of(i)), Row(float(i + load), 3));
    EXPECT_EQ(store.size(), size_t{kRows});
    // Nodes, keys and bucket arrays: 60,000 rows need more than one block, each mapped.
    EXPECT_GT(store.key_map_bytes(), kOwnMappingBytes);
    EXPECT_GE(mallinfo2().hblkhd, mapped_before + store.key_map_bytes());
    for (int i = 0; i < kRows; i += 2) {
      ASSERT_EQ(Copy(store.Take(RowKey(key_of(i)))), Row(float(i + load), 3)) << "row " << i;
    }
    for (int i = 1; i < kRows; i += 2) {
      ASSERT_TRUE(store.Contains(RowKey(key_of(i)))) << "row " << i;
    }
    EXPECT_FALSE(store.Contains(RowKey(key_of(0))));
    EXPECT_EQ(store.size(), size_t{kRows / 2});
    store.Clear();
    EXPECT_EQ(store.key_map_bytes(), 0u);
    EXPECT_EQ(mallinfo2().hblkhd, mapped_before) << "every block unmapped";
    EXPECT_EQ(store.size(), 0u);
    EXPECT_FALSE(store.Contains(RowKey(key_of(1))));
  }
}

TEST(LoadArenaTest, AllocationsKeepTheirBytesAcrossBlocksAndReleaseReturnsEveryBlock) {
  ASSERT_TRUE(kLargeFreesPrompt);
  const size_t mapped_before = mallinfo2().hblkhd;
  LoadArena arena;
  EXPECT_EQ(arena.blocks(), 0u);
  EXPECT_EQ(arena.bytes(), 0u);

  // 3 MiB in pieces of 1 to 200 bytes, each filled with its own byte, at alignments 1 to 16.
  struct Piece {
    unsigned char* at;
    size_t size;
  };
  std::vector<Piece> pieces;
  size_t total = 0;
  for (size_t i = 0; total < (size_t{3} << 20); ++i) {
    const size_t size = 1 + i * 7919 % 200;
    const size_t alignment = size_t{1} << (i % 5);
    auto* at = static_cast<unsigned char*>(arena.allocate(size, alignment));
    ASSERT_EQ(reinterpret_cast<uintptr_t>(at) % alignment, 0u);
    std::memset(at, static_cast<int>(i & 0xFF), size);
    pieces.push_back({at, size});
    total += size;
  }
  // A piece larger than any block so far.
  auto* large = static_cast<unsigned char*>(arena.allocate(size_t{5} << 20, 64));
  std::memset(large, 0xAB, size_t{5} << 20);

  EXPECT_GE(arena.blocks(), 3u);
  EXPECT_GE(arena.bytes(), arena.blocks() * kOwnMappingBytes) << "every block at least 1 MiB";
  EXPECT_GE(arena.bytes(), total + (size_t{5} << 20));
  // glibc maps each block on its own: the mapped bytes grew by at least the arena's bytes.
  EXPECT_GE(mallinfo2().hblkhd, mapped_before + arena.bytes());
  for (size_t i = 0; i < pieces.size(); ++i) {
    for (size_t b = 0; b < pieces[i].size; ++b) {
      ASSERT_EQ(pieces[i].at[b], static_cast<unsigned char>(i & 0xFF)) << "piece " << i;
    }
  }
  EXPECT_EQ(large[0], 0xAB);
  EXPECT_EQ(large[(size_t{5} << 20) - 1], 0xAB);

  arena.deallocate(large, size_t{5} << 20, 64);  // frees nothing by itself
  EXPECT_GE(arena.bytes(), total + (size_t{5} << 20));

  arena.Release();
  EXPECT_EQ(arena.blocks(), 0u);
  EXPECT_EQ(arena.bytes(), 0u);
  EXPECT_EQ(mallinfo2().hblkhd, mapped_before) << "every block unmapped";

  // Usable again after Release.
  auto* again = static_cast<unsigned char*>(arena.allocate(100, 8));
  std::memset(again, 1, 100);
  EXPECT_EQ(arena.blocks(), 1u);
}

}  // namespace
}  // namespace vecmirror
