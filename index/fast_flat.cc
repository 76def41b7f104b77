#include "index/fast_flat.h"

#include "index/kernels.h"

namespace vecmirror {
namespace {

// Similarities (inner products), as FAISS's own FlatIPDis returns them; IndexHNSW negates them
// for its minimizing search.
class KernelIPDistance final : public faiss::FlatCodesDistanceComputer {
 public:
  explicit KernelIPDistance(const FastFlatIP& storage)
      : faiss::FlatCodesDistanceComputer(storage.codes.data(), storage.code_size),
        dim_(size_t(storage.d)),
        base_(storage.get_xb()) {}

  void set_query(const float* x) override { query_ = x; }

  float distance_to_code(const uint8_t* code) override {
    return DotProduct(query_, reinterpret_cast<const float*>(code), dim_);
  }

  float symmetric_dis(idx_t i, idx_t j) override {
    return DotProduct(base_ + i * dim_, base_ + j * dim_, dim_);
  }

 private:
  const size_t dim_;
  const float* const base_;
  const float* query_ = nullptr;
};

}  // namespace

faiss::FlatCodesDistanceComputer* FastFlatIP::get_FlatCodesDistanceComputer() const {
  return new KernelIPDistance(*this);
}

}  // namespace vecmirror
