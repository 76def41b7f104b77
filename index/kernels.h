// Distance kernels: dot products over float vectors, with SIMD variants (AVX-512, AVX2+FMA,
// scalar) chosen once, at first use, from the CPU the process runs on. The distribution's
// FAISS is built for generic x86-64; these kernels serve the exact scans.
//
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace vecmirror {

float DotProduct(const float* a, const float* b, size_t dim);

// out[i] = dot(query, base + i * dim) for i in [0, n).
void DotProductMany(const float* query, const float* base, size_t n, size_t dim, float* out);

// Scales v to unit length in place. Returns false (leaving v unchanged) if v is all zero or
// has a NaN or Inf component.
bool NormalizeInPlace(std::span<float> v);

// The name of the variant in use: "avx512", "avx2" or "scalar".
const char* KernelVariantName();

}  // namespace vecmirror
