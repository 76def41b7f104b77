// LoadArena: memory for an initial load's short-lived bookkeeping (LoadFloats' key map), taken
// from the system in blocks of at least 1 MiB and given back all at once. Freeing one object
// frees nothing; Release(), or the destructor, frees every block.
//
// Why: the load allocates each row's long-lived record (the mirror's maps) while it fills this
// bookkeeping. From the same malloc arena, the bookkeeping's small nodes sat between the
// records, and once the load had freed them the holes kept the records' pages resident: after
// a fresh start the mirror's arena held about 200,000 free 48-byte chunks at 100,000 rows and
// was 7.5 MB larger than after a restart (bench/RESULTS.md, "Fresh start: the load's
// bookkeeping off the heap"). A block of kOwnMappingBytes or more is a mapping of its own
// (ReturnLargeFreesPromptly, index/freed_memory.h): it never shares a page with a record, and
// freeing it gives its pages back to the system.
//
// Thread-safety: none; one thread uses it (std::pmr::monotonic_buffer_resource underneath).
#pragma once

#include <cstddef>
#include <memory_resource>
#include <new>

#include "index/freed_memory.h"

namespace vecmirror {

class LoadArena final : public std::pmr::memory_resource {
 public:
  LoadArena() = default;
  LoadArena(const LoadArena&) = delete;
  LoadArena& operator=(const LoadArena&) = delete;
  ~LoadArena() override { Release(); }

  // Frees every block. What was allocated from the arena must not be used any more.
  void Release() { blocks_.release(); }

  // The blocks taken from the system and not yet freed, and their bytes.
  size_t blocks() const { return system_.blocks; }
  size_t bytes() const { return system_.bytes; }

 private:
  // Where the blocks come from: operator new, counted.
  struct System final : std::pmr::memory_resource {
    size_t blocks = 0;
    size_t bytes = 0;

    void* do_allocate(size_t n, size_t alignment) override {
      void* p = ::operator new(n, std::align_val_t(alignment));
      ++blocks;
      bytes += n;
      return p;
    }
    void do_deallocate(void* p, size_t n, size_t alignment) override {
      ::operator delete(p, n, std::align_val_t(alignment));
      --blocks;
      bytes -= n;
    }
    bool do_is_equal(const memory_resource& other) const noexcept override { return this == &other; }
  };

  void* do_allocate(size_t n, size_t alignment) override { return blocks_.allocate(n, alignment); }
  void do_deallocate(void*, size_t, size_t) override {}
  bool do_is_equal(const memory_resource& other) const noexcept override { return this == &other; }

  System system_;
  // Each block is at least the first one's size (libstdc++ grows them by half each time).
  std::pmr::monotonic_buffer_resource blocks_{kOwnMappingBytes, &system_};
};

}  // namespace vecmirror
