#include "index/sq8_flat.h"

#include <faiss/impl/FaissAssert.h>

#include <vector>

namespace vecmirror {
namespace {

// Similarities (inner products), as FastFlatIP's computer returns them; IndexHNSW negates them.
class Sq8IPDistance final : public faiss::FlatCodesDistanceComputer {
 public:
  explicit Sq8IPDistance(const Sq8FlatIP& storage)
      : faiss::FlatCodesDistanceComputer(storage.codes.data(), storage.code_size),
        storage_(storage),
        dim_(size_t(storage.d)),
        decoded_(dim_) {}

  void set_query(const float* x) override { query_.Prepare(storage_.ranges, x, dim_); }

  float distance_to_code(const uint8_t* code) override { return query_.Score(code); }

  // Between two stored rows (the build's neighbour pruning): row i decoded, then scored
  // against row j's code as a query would be.
  float symmetric_dis(idx_t i, idx_t j) override {
    DecodeSq8(storage_.ranges, codes + size_t(i) * dim_, 1, dim_, decoded_.data());
    other_.Prepare(storage_.ranges, decoded_.data(), dim_);
    return other_.Score(codes + size_t(j) * dim_);
  }

 private:
  const Sq8FlatIP& storage_;
  const size_t dim_;
  std::vector<float> decoded_;
  Sq8Query query_;
  Sq8Query other_;
};

}  // namespace

Sq8FlatIP::Sq8FlatIP(idx_t d)
    : faiss::IndexFlatCodes(size_t(d), d, faiss::METRIC_INNER_PRODUCT),
      ranges{std::vector<float>(size_t(d), 0.0f), std::vector<float>(size_t(d), 0.0f)} {}

void Sq8FlatIP::train(idx_t n, const float* x) {
  ranges = TrainSq8Ranges(x, size_t(n), size_t(d));
  is_trained = true;
}

void Sq8FlatIP::sa_encode(idx_t n, const float* x, uint8_t* bytes) const {
  EncodeSq8(ranges, x, size_t(n), size_t(d), bytes);
}

void Sq8FlatIP::sa_decode(idx_t n, const uint8_t* bytes, float* x) const {
  DecodeSq8(ranges, bytes, size_t(n), size_t(d), x);
}

void Sq8FlatIP::search(idx_t, const float*, idx_t, float*, idx_t*,
                       const faiss::SearchParameters*) const {
  FAISS_THROW_MSG("Sq8FlatIP is a graph's storage; the engine scans its codes directly");
}

faiss::FlatCodesDistanceComputer* Sq8FlatIP::get_FlatCodesDistanceComputer() const {
  return new Sq8IPDistance(*this);
}

}  // namespace vecmirror
