// TextPool: one id per distinct text, texts read back by id, and a sweep that frees only the
// ids its caller no longer uses, for new texts to reuse.
#include "src/text_pool.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace vecmirror {
namespace {

TEST(TextPoolTest, OneIdPerDistinctText) {
  TextPool pool;
  const TextPool::Id a = pool.Intern("text-embedding-3-small");
  const TextPool::Id b = pool.Intern("context");
  const TextPool::Id empty = pool.Intern("");
  EXPECT_NE(a, b);
  EXPECT_NE(a, empty);
  EXPECT_NE(b, empty);
  EXPECT_EQ(pool.Intern(std::string("text-embedding-3-") + "small"), a);
  EXPECT_EQ(pool.Intern(""), empty);
  EXPECT_EQ(pool.Text(a), "text-embedding-3-small");
  EXPECT_EQ(pool.Text(b), "context");
  EXPECT_EQ(pool.Text(empty), "");
  EXPECT_EQ(pool.size(), 3u);
  EXPECT_EQ(pool.id_limit(), 3u);
}

TEST(TextPoolTest, SweepKeepsUsedIdsAndReusesFreedOnes) {
  TextPool pool;
  std::vector<TextPool::Id> ids;
  for (int i = 0; i < 10; ++i) ids.push_back(pool.Intern("type-" + std::to_string(i)));
  std::vector<bool> in_use(pool.id_limit());
  for (int i = 0; i < 10; i += 3) in_use[ids[i]] = true;  // 0, 3, 6, 9 stay
  pool.Sweep(in_use);
  EXPECT_EQ(pool.size(), 4u);
  for (int i = 0; i < 10; i += 3) {
    EXPECT_EQ(pool.Text(ids[i]), "type-" + std::to_string(i));
    EXPECT_EQ(pool.Intern("type-" + std::to_string(i)), ids[i]);  // same id after the sweep
  }
  // New texts take the freed ids: the pool does not grow past what it held.
  for (int i = 10; i < 16; ++i) {
    const TextPool::Id id = pool.Intern("type-" + std::to_string(i));
    EXPECT_LT(id, 10u);
    EXPECT_EQ(pool.Text(id), "type-" + std::to_string(i));
  }
  EXPECT_EQ(pool.size(), 10u);
  EXPECT_EQ(pool.id_limit(), 10u);
  // One more is past every freed id.
  EXPECT_EQ(pool.Intern("type-16"), 10u);
  // A freed text comes back under some id with its own text.
  const TextPool::Id again = pool.Intern("type-1");
  EXPECT_EQ(pool.Text(again), "type-1");
  EXPECT_EQ(pool.id_limit(), 12u);
}

TEST(TextPoolTest, SweepWithShortMaskFreesIdsPastItsEnd) {
  TextPool pool;
  const TextPool::Id a = pool.Intern("a");
  pool.Intern("b");
  pool.Sweep(std::vector<bool>{true});  // only id 0 is marked
  EXPECT_EQ(pool.size(), 1u);
  EXPECT_EQ(pool.Text(a), "a");
  EXPECT_EQ(pool.Intern("a"), a);
}

}  // namespace
}  // namespace vecmirror
