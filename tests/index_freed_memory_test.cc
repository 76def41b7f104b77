// ReturnLargeFreesPromptly, through glibc's own counters (mallinfo2): after it, a block of
// kOwnMappingBytes is a mapping of its own, unmapped when freed, and a smaller one comes from an
// arena. glibc's default would map both (its initial threshold is 128 KiB), so the second check
// fails unless the threshold was set.
#include "index/freed_memory.h"

#include <gtest/gtest.h>
#include <malloc.h>

#include <cstdlib>

namespace vecmirror {
namespace {

size_t MappedBytes() { return mallinfo2().hblkhd; }

TEST(FreedMemoryTest, BlocksFromTheThresholdUpAreTheirOwnMappings) {
  ReturnLargeFreesPromptly();
  const size_t before = MappedBytes();
  void* volatile at = std::malloc(kOwnMappingBytes);
  EXPECT_GE(MappedBytes(), before + kOwnMappingBytes);
  std::free(at);
  EXPECT_EQ(MappedBytes(), before) << "unmapped when freed";

  void* volatile below = std::malloc(kOwnMappingBytes - 64 * 1024);
  EXPECT_EQ(MappedBytes(), before) << "below the threshold: from an arena";
  std::free(below);
}

}  // namespace
}  // namespace vecmirror
