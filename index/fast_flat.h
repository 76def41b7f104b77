// FastFlatIP: a faiss::IndexFlatIP whose distance computer scores with the engine's kernels
// (index/kernels.h). FAISS's HNSW code reaches its storage only through that computer, so an
// IndexHNSW over a FastFlatIP builds its graph with the AVX-512/AVX2 kernels instead of the
// distribution's SSE build of FAISS (about 2.5x slower per dot product on 1536-d vectors).
// Everything else (storage layout, get_xb(), search) is IndexFlatIP's.
//
// Thread-safety: as faiss::IndexFlatIP: const methods may run concurrently.
#pragma once

#include <faiss/IndexFlat.h>

namespace vecmirror {

struct FastFlatIP : faiss::IndexFlatIP {
  explicit FastFlatIP(idx_t d) : faiss::IndexFlatIP(d) {}
  faiss::FlatCodesDistanceComputer* get_FlatCodesDistanceComputer() const override;
};

}  // namespace vecmirror
