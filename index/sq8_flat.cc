#include "index/sq8_flat.h"

#include <faiss/impl/FaissAssert.h>

#include <optional>
#include <vector>

#include "index/sq8_int8_query.h"

namespace vecmirror {
namespace {

// Similarities (inner products), as FastFlatIP's computer returns them; IndexHNSW negates them.
class Sq8IPDistance final : public faiss::FlatCodesDistanceComputer {
 public:
  explicit Sq8IPDistance(const Sq8FlatIP& storage)
      : faiss::FlatCodesDistanceComputer(storage.codes.data(), storage.code_size),
        storage_(storage),
        dim_(size_t(storage.d)) {}

  void set_query(const float* x) override { query_.Prepare(storage_.ranges, x, dim_); }

  // The build's searches for a new row's neighbours rank candidates on the int8 estimate: 0.7x
  // the build's CPU with the same recall (bench/RESULTS.md, "The build's searches on an int8
  // query"). The pruning that picks the links among them is exact, code against code.
  float distance_to_code(const uint8_t* code) override { return query_.Estimate(code); }

  // Between two stored rows (the build's neighbour pruning), code against code. The product's
  // weights are made on the first call: a computer that only searches never needs them.
  float symmetric_dis(idx_t i, idx_t j) override {
    if (!pairs_) pairs_.emplace(storage_.ranges, dim_);
    const uint8_t* a = codes + size_t(i) * dim_;
    const uint8_t* b = codes + size_t(j) * dim_;
    return pairs_->Product(a, RowTerm(i, a), b, RowTerm(j, b));
  }

 private:
  float RowTerm(idx_t row, const uint8_t* code) const {
    const auto& terms = storage_.row_terms;
    return size_t(row) < terms.size() ? terms[size_t(row)] : pairs_->RowTerm(code);
  }

  const Sq8FlatIP& storage_;
  const size_t dim_;
  Sq8Int8Query query_;
  std::optional<Sq8CodeProduct> pairs_;
};

}  // namespace

Sq8FlatIP::Sq8FlatIP(idx_t d)
    : faiss::IndexFlatCodes(size_t(d), d, faiss::METRIC_INNER_PRODUCT),
      ranges{std::vector<float>(size_t(d), 0.0f), std::vector<float>(size_t(d), 0.0f)} {}

void Sq8FlatIP::train(idx_t n, const float* x) {
  ranges = TrainSq8Ranges(x, size_t(n), size_t(d));
  is_trained = true;
}

void Sq8FlatIP::add(idx_t n, const float* x) {
  faiss::IndexFlatCodes::add(n, x);
  const size_t rows = size_t(ntotal);
  if (row_terms.size() >= rows) return;
  const Sq8CodeProduct pairs(ranges, size_t(d));
  size_t row = row_terms.size();
  row_terms.resize(rows);
  for (; row < rows; ++row) row_terms[row] = pairs.RowTerm(codes.data() + row * code_size);
}

void Sq8FlatIP::reset() {
  faiss::IndexFlatCodes::reset();
  DropRowTerms();
}

void Sq8FlatIP::DropRowTerms() { std::vector<float>().swap(row_terms); }

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
