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

namespace vecmirror {

void ReturnFreedMemory();

}  // namespace vecmirror
