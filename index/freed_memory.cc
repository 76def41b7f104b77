#include "index/freed_memory.h"

#include <cstdlib>  // defines __GLIBC__ (through <features.h>) with glibc

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace vecmirror {

void ReturnFreedMemory() {
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

void ReturnLargeFreesPromptly() {
#if defined(__GLIBC__)
  mallopt(M_MMAP_THRESHOLD, static_cast<int>(kOwnMappingBytes));
#endif
}

}  // namespace vecmirror
