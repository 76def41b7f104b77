// HalfFlatIP: a FAISS flat-codes storage that keeps each row once as IEEE half (fp16, 2 bytes
// per component), for an IndexHNSW whose graph is built and walked on half rows. Its distance
// computer scores a float query against a half row with the engine's kernels
// (index/kernels.h, DotProductF16), and two stored rows by widening one of them. Rows are
// rounded to nearest even on add (sa_encode) and widened exactly on reconstruct (sa_decode).
// The engine reads the rows directly (halves()); it never calls search() on the storage, which
// throws.
//
// Thread-safety: as faiss::IndexFlatCodes: const methods may run concurrently, and each distance
// computer belongs to one thread.
#pragma once

#include <faiss/IndexFlatCodes.h>

#include <cstdint>

namespace vecmirror {

struct HalfFlatIP : faiss::IndexFlatCodes {
  explicit HalfFlatIP(idx_t d);

  // Row i at halves() + i * d.
  const uint16_t* halves() const { return reinterpret_cast<const uint16_t*>(codes.data()); }

  void sa_encode(idx_t n, const float* x, uint8_t* bytes) const override;
  void sa_decode(idx_t n, const uint8_t* bytes, float* x) const override;
  void search(idx_t n, const float* x, idx_t k, float* distances, idx_t* labels,
              const faiss::SearchParameters* params = nullptr) const override;
  faiss::FlatCodesDistanceComputer* get_FlatCodesDistanceComputer() const override;
};

}  // namespace vecmirror
