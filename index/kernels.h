// Distance kernels: dot products over float vectors, with SIMD variants (AVX-512, AVX2+FMA,
// scalar) chosen once, at first use, from the CPU the process runs on. The distribution's
// FAISS is built for generic x86-64; these kernels serve the exact scans and the re-scoring of
// approximate hits.
//
// Thread-safety: pure functions. The variant is picked once (a function-local static), so the
// first call from any thread may race only with itself, which C++ makes safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace vecmirror {

float DotProduct(const float* a, const float* b, size_t dim);

// out[i] = dot(query, base + i * dim) for i in [0, n).
void DotProductMany(const float* query, const float* base, size_t n, size_t dim, float* out);

// Scales v to unit length in place. Returns false (leaving v unchanged) if v is all zero or
// has a NaN or Inf component. The norm is accumulated in double, so the result is unit length
// to float precision even for 3072-d vectors.
bool NormalizeInPlace(std::span<float> v);

// The name of the variant in use: "avx512", "avx2" or "scalar".
const char* KernelVariantName();

// One implementation of the kernels, for tests and benchmarks that compare variants.
struct KernelVariant {
  const char* name;
  float (*dot)(const float* a, const float* b, size_t dim);
  void (*dot_many)(const float* query, const float* base, size_t n, size_t dim, float* out);
};

// Every variant this CPU can run, fastest first; the first is the one in use.
std::vector<KernelVariant> AvailableKernelVariants();

}  // namespace vecmirror
