// ReturnFreedMemory: hands the memory that the process has freed but the allocator still holds
// back to the operating system, so that the resident set (what the machine pays for) drops to
// what is in use.
//
// Why: glibc's malloc keeps freed memory in its arenas unless it lies at the very top of one.
// A build frees gigabytes of transient copies (the initial load's writes, the live rows copied
// for a rebuild, the tail folded into the graph) under memory that stays in use, so without
// this the server's RSS after an HNSW promotion stayed at about twice the index's size
// (bench/RESULTS.md, "Memory per vector"). With glibc this is malloc_trim(0), which also
// returns the free pages in the middle of every arena (madvise); with another C library it does
// nothing.
//
// Thread-safety: safe to call from any thread. It locks each malloc arena in turn, so
// allocations of other threads may wait for it briefly (about 10 ms per GiB of heap); call it
// after large frees (a rebuild), not per request.
#pragma once

#include <cstddef>

namespace vecmirror {

void ReturnFreedMemory();

// Blocks of this size or more are mappings of their own once ReturnLargeFreesPromptly has run.
inline constexpr size_t kOwnMappingBytes = size_t{1} << 20;

// Sets glibc's mmap threshold, for the whole process and its whole life, to kOwnMappingBytes: a
// block that large is a mapping of its own, unmapped when freed. Call it once at the start of
// main, before threads allocate.
//
// Why: by default glibc raises the threshold each time the process frees a large mapped block
// (up to 32 MiB), so after a load or a build the transient copies (the load's writes, the
// snapshot's buffers, the rows of a rebuild) come from the arenas, and the free top of a
// thread's arena stays resident: malloc_trim(0) does not shrink it. That kept about 0.8 KiB per
// row resident after a fresh load (bench/RESULTS.md, "Fresh start: the load's floats in
// blocks"). Nothing a search allocates is that large. With another C library it does nothing.
void ReturnLargeFreesPromptly();

}  // namespace vecmirror
