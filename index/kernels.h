// Distance kernels: dot products over float vectors, over IEEE half (fp16) rows scored
// against a float query, and over 8-bit codes (the SQ8 storage, index/sq8_codec.h) weighted by
// a float vector, with SIMD variants (AVX-512, AVX2+FMA+F16C, scalar) chosen once, at first use, from the CPU the process runs on. The distribution's
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

// The same over rows of IEEE binary16 values (the fp16 vector storage, index/index_options.h):
// each component is widened to float exactly, then multiplied with the float query.
float DotProductF16(const float* query, const uint16_t* row, size_t dim);
void DotProductManyF16(const float* query, const uint16_t* base, size_t n, size_t dim, float* out);

// sum over i of weights[i] * codes[i], each code widened to float exactly: the inner loop of
// SQ8 scoring (index/sq8_codec.h), where `weights` is the query scaled once per query.
float DotProductU8(const float* weights, const uint8_t* codes, size_t dim);
void DotProductManyU8(const float* weights, const uint8_t* base, size_t n, size_t dim, float* out);

// sum over i of weights[i] * (a[i] - 128) * (b[i] - 128): the one pass of a product of two
// SQ8 codes (Sq8CodeProduct, index/sq8_codec.h), with the codes centred so that each product
// of two is an exact integer (|.| <= 16384) before it is widened to float and weighted. The
// variants are chosen like the others' (AVX-512F, AVX2, scalar), on their own.
float WeightedCodeProduct(const float* weights, const uint8_t* a, const uint8_t* b, size_t dim);

// One implementation of WeightedCodeProduct, for tests and benchmarks that compare variants.
struct CodeProductVariant {
  const char* name;
  float (*product)(const float* weights, const uint8_t* a, const uint8_t* b, size_t dim);
};

// Every variant of WeightedCodeProduct this CPU can run, fastest first; the first is in use.
std::vector<CodeProductVariant> AvailableCodeProductVariants();

// sum over i of codes[i] * query[i], exactly, in 32-bit integers: the walk's estimate of an
// SQ8 row against a query quantized to int8 (Sq8Int8Query, index/sq8_int8_query.h). Exact for
// any dim below 2^31 / (255 * 128), 65,000 components. The variants (AVX-512 VNNI `vpdpbusd`,
// which multiplies unsigned bytes by signed ones as these operands are; AVX2 `vpmaddwd` on
// both widened to 16 bits; scalar) give identical results and are chosen on their own.
int32_t DotProductU8I8(const uint8_t* codes, const int8_t* query, size_t dim);

// One implementation of DotProductU8I8, for tests and benchmarks that compare variants.
struct IntegerDotVariant {
  const char* name;
  int32_t (*dot)(const uint8_t* codes, const int8_t* query, size_t dim);
};

// Every variant of DotProductU8I8 this CPU can run, fastest first; the first is in use.
std::vector<IntegerDotVariant> AvailableIntegerDotVariants();

// IEEE binary16 <-> float. FloatToHalf rounds to nearest even (overflow to Inf, NaN stays NaN);
// HalfToFloat is exact. The array forms use F16C where the CPU has it (same results).
uint16_t FloatToHalf(float f);
float HalfToFloat(uint16_t h);
void FloatsToHalves(const float* in, size_t n, uint16_t* out);
void HalvesToFloats(const uint16_t* in, size_t n, float* out);

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
  float (*dot_f16)(const float* query, const uint16_t* row, size_t dim);
  void (*dot_many_f16)(const float* query, const uint16_t* base, size_t n, size_t dim, float* out);
  float (*dot_u8)(const float* weights, const uint8_t* codes, size_t dim);
  void (*dot_many_u8)(const float* weights, const uint8_t* base, size_t n, size_t dim, float* out);
};

// Every variant this CPU can run, fastest first; the first is the one in use.
std::vector<KernelVariant> AvailableKernelVariants();

}  // namespace vecmirror
