// AdviseHugePages: asks Linux to back a large, long-lived array with 2 MiB transparent huge
// pages, now and on later faults.
//
// Why: an HNSW search reads a few hundred rows scattered through the whole storage (150 MiB of
// SQ8 codes, 600 MiB of fp32 rows at 100,000 x 1536) and the neighbour lists of the nodes it
// expands. With 4 KiB pages nearly every row is a TLB miss whose page walk goes to memory too;
// with 2 MiB pages the page tables of the whole storage stay cached. On the 2-core AMD EPYC
// that runs the benchmarks this took an SQ8 search at ef 64 from about 0.40 to 0.31 ms on the
// same graph (bench/RESULTS.md, "The walk: huge pages, prefetch and a 1-bit walk").
//
// How: madvise(MADV_HUGEPAGE) on the 2 MiB-aligned interior of the range, so that the kernel
// (transparent_hugepage "madvise" or "always") may use huge pages there, then
// madvise(MADV_COLLAPSE) (Linux 6.1 and later) to collapse the pages already present
// synchronously, instead of waiting for khugepaged. Both are advice: where the kernel refuses
// (an older kernel, THP "never", no free huge page, a process with PR_SET_THP_DISABLE) the
// array stays on small pages and everything works as before. The contents never change, and
// the resident size grows by at most the 4 KiB pages of a huge page that were not yet present
// (none, for an array that has been written).
//
// Thread-safety: safe to call from any thread, also while other threads read the array.
#pragma once

#include <cstddef>

namespace vecmirror {

// Ranges under 4 MiB (two huge pages) are left alone. Returns whether the collapse succeeded
// for the whole interior (false also when there is none); the advice stands either way.
bool AdviseHugePages(const void* data, size_t bytes);

}  // namespace vecmirror
