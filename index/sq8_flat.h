// Sq8FlatIP: a FAISS flat-codes storage that keeps each row once as 8-bit scalar-quantized codes
// (one byte per component, index/sq8_codec.h), for an IndexHNSW whose graph is built and walked
// on the codes. The per-dimension ranges are set (Train) before the first row is added and never
// change: rows added later (an absorbed tail) are encoded, clamped, with the same ranges. Its
// distance computer, which only the graph's construction uses, scores a float query against a
// code with a prepared Sq8Int8Query's estimate (one uint8 x int8 integer product per row), and
// two stored rows exactly, code against code (Sq8CodeProduct: one pass
// over both codes, plus each row's term, which add() computes once per row and the build
// drops when it is done). The engine reads the codes directly (row_codes()); it never calls
// search() on the storage, which throws.
//
// Thread-safety: as faiss::IndexFlatCodes: const methods may run concurrently, and each distance
// computer belongs to one thread. Train, add and DropRowTerms are not concurrent with anything.
#pragma once

#include <faiss/IndexFlatCodes.h>

#include <cstdint>
#include <vector>

#include "index/sq8_codec.h"

namespace vecmirror {

struct Sq8FlatIP : faiss::IndexFlatCodes {
  // Ranges of zero width until trained: every row would encode as code 0.
  explicit Sq8FlatIP(idx_t d);

  Sq8Ranges ranges;

  // Row i at row_codes() + i * d.
  const uint8_t* row_codes() const { return codes.data(); }

  // Sq8CodeProduct::RowTerm of rows [0, row_terms.size()) in `ranges`, for the code-to-code
  // products of a build. add() extends it to every row; the distance computer computes a term
  // that is missing. Not saved: a graph that grows again recomputes it.
  std::vector<float> row_terms;

  // Sets the ranges from `n` rows (TrainSq8Ranges).
  void train(idx_t n, const float* x) override;
  // Encodes and appends `n` rows, then computes the row terms of every row that lacks one.
  void add(idx_t n, const float* x) override;
  void reset() override;
  // Frees row_terms once no more rows will be added to the graph (4 bytes a row).
  void DropRowTerms();
  void sa_encode(idx_t n, const float* x, uint8_t* bytes) const override;
  void sa_decode(idx_t n, const uint8_t* bytes, float* x) const override;
  void search(idx_t n, const float* x, idx_t k, float* distances, idx_t* labels,
              const faiss::SearchParameters* params = nullptr) const override;
  faiss::FlatCodesDistanceComputer* get_FlatCodesDistanceComputer() const override;
};

}  // namespace vecmirror
