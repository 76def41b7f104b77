#include "index/huge_pages.h"

#include <sys/mman.h>

#include <cstdint>

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25  // Linux 6.1; glibc's headers may be older than the kernel
#endif

namespace vecmirror {

bool AdviseHugePages(const void* data, size_t bytes) {
  constexpr uintptr_t kHugePage = uintptr_t{2} << 20;
  if (bytes < 2 * kHugePage) return false;
  const auto begin = reinterpret_cast<uintptr_t>(data);
  const uintptr_t first = (begin + kHugePage - 1) & ~(kHugePage - 1);
  const uintptr_t last = (begin + bytes) & ~(kHugePage - 1);
  if (last <= first) return false;
  // madvise takes a non-const pointer, but neither advice changes the contents.
  void* interior = reinterpret_cast<void*>(first);
  const size_t length = last - first;
  if (madvise(interior, length, MADV_HUGEPAGE) != 0) return false;
  return madvise(interior, length, MADV_COLLAPSE) == 0;
}

}  // namespace vecmirror
