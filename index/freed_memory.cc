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

}  // namespace vecmirror
