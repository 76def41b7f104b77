#include "index/half_flat.h"

#include <faiss/impl/FaissAssert.h>

#include <vector>

#include "index/kernels.h"

namespace vecmirror {
namespace {

// Similarities (inner products), as FastFlatIP's computer returns them; IndexHNSW negates them.
class HalfIPDistance final : public faiss::FlatCodesDistanceComputer {
 public:
  explicit HalfIPDistance(const HalfFlatIP& storage)
      : faiss::FlatCodesDistanceComputer(storage.codes.data(), storage.code_size),
        dim_(size_t(storage.d)),
        base_(storage.halves()),
        widened_(dim_) {}

  void set_query(const float* x) override { query_ = x; }

  float distance_to_code(const uint8_t* code) override {
    return DotProductF16(query_, reinterpret_cast<const uint16_t*>(code), dim_);
  }

  // Between two stored rows (the build's neighbour pruning): one widened, the other read as is.
  float symmetric_dis(idx_t i, idx_t j) override {
    HalvesToFloats(base_ + i * dim_, dim_, widened_.data());
    return DotProductF16(widened_.data(), base_ + j * dim_, dim_);
  }

 private:
  const size_t dim_;
  const uint16_t* const base_;
  std::vector<float> widened_;
  const float* query_ = nullptr;
};

}  // namespace

HalfFlatIP::HalfFlatIP(idx_t d)
    : faiss::IndexFlatCodes(size_t(d) * sizeof(uint16_t), d, faiss::METRIC_INNER_PRODUCT) {}

void HalfFlatIP::sa_encode(idx_t n, const float* x, uint8_t* bytes) const {
  FloatsToHalves(x, size_t(n) * size_t(d), reinterpret_cast<uint16_t*>(bytes));
}

void HalfFlatIP::sa_decode(idx_t n, const uint8_t* bytes, float* x) const {
  HalvesToFloats(reinterpret_cast<const uint16_t*>(bytes), size_t(n) * size_t(d), x);
}

void HalfFlatIP::search(idx_t, const float*, idx_t, float*, idx_t*,
                        const faiss::SearchParameters*) const {
  FAISS_THROW_MSG("HalfFlatIP is a graph's storage; the engine scans its rows directly");
}

faiss::FlatCodesDistanceComputer* HalfFlatIP::get_FlatCodesDistanceComputer() const {
  return new HalfIPDistance(*this);
}

}  // namespace vecmirror
