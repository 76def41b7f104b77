// LoadFloats: rows by key in shared blocks; a row never straddles two blocks, and what was taken
// stays readable until the store is cleared.
#include "src/load_floats.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

namespace vecmirror {
namespace {

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
  store.ForEach([&](const RowKey& key, std::span<const float> floats) {
    left[std::string(key.view())] = Copy(floats);
  });
  EXPECT_EQ(left, (std::map<std::string, std::vector<float>>{{"a", Row(7, 3)}, {"c", Row(3, 3)}}));

  store.Clear();
  EXPECT_EQ(store.size(), 0u);
  EXPECT_EQ(store.blocks(), 0u);
  EXPECT_FALSE(store.Contains(RowKey("a")));
}

}  // namespace
}  // namespace vecmirror
