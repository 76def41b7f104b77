// The SIMD variants are compiled with per-function target attributes, so the rest of the
// project keeps the distribution's baseline (-march=x86-64) and still runs on any x86-64 CPU;
// the variant is chosen once with __builtin_cpu_supports.
#include "index/kernels.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace vecmirror {
namespace {

// Four independent partial sums let the compiler keep four multiply-adds in flight and avoid
// one long dependency chain; the same reason the SIMD variants use four accumulators.
float DotScalar(const float* a, const float* b, size_t dim) {
  float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  size_t i = 0;
  for (; i + 4 <= dim; i += 4) {
    s0 += a[i] * b[i];
    s1 += a[i + 1] * b[i + 1];
    s2 += a[i + 2] * b[i + 2];
    s3 += a[i + 3] * b[i + 3];
  }
  for (; i < dim; ++i) s0 += a[i] * b[i];
  return (s0 + s1) + (s2 + s3);
}

__attribute__((target("avx2,fma"))) float HorizontalSum256(__m256 v) {
  const __m128 lo = _mm256_castps256_ps128(v);
  const __m128 hi = _mm256_extractf128_ps(v, 1);
  __m128 s = _mm_add_ps(lo, hi);
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

__attribute__((target("avx2,fma"))) float DotAvx2(const float* a, const float* b, size_t dim) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  __m256 acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= dim; i += 32) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
    acc2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), acc2);
    acc3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), acc3);
  }
  for (; i + 8 <= dim; i += 8) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
  }
  float sum = HorizontalSum256(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
  for (; i < dim; ++i) sum += a[i] * b[i];
  return sum;
}

// Through memory rather than _mm512_reduce_add_ps or lane shuffles: GCC 12 warns about the
// "undefined" source operand inside those intrinsics' expansions. Once per dot product, so the
// store costs nothing measurable.
__attribute__((target("avx512f"))) float HorizontalSum512(__m512 v) {
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, v);
  float sum = 0;
  for (int i = 0; i < 8; ++i) sum += lanes[i] + lanes[i + 8];
  return sum;
}

__attribute__((target("avx512f"))) float DotAvx512(const float* a, const float* b, size_t dim) {
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  __m512 acc2 = _mm512_setzero_ps(), acc3 = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + 64 <= dim; i += 64) {
    acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc0);
    acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), acc1);
    acc2 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32), acc2);
    acc3 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48), acc3);
  }
  for (; i + 16 <= dim; i += 16) {
    acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc0);
  }
  if (i < dim) {
    // A masked load reads only the remaining components, so no scalar loop and no over-read.
    const __mmask16 mask = static_cast<__mmask16>((1u << (dim - i)) - 1);
    acc1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, a + i), _mm512_maskz_loadu_ps(mask, b + i),
                           acc1);
  }
  return HorizontalSum512(_mm512_add_ps(_mm512_add_ps(acc0, acc1), _mm512_add_ps(acc2, acc3)));
}

float DotF16Scalar(const float* q, const uint16_t* r, size_t dim) {
  float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  size_t i = 0;
  for (; i + 4 <= dim; i += 4) {
    s0 += q[i] * HalfToFloat(r[i]);
    s1 += q[i + 1] * HalfToFloat(r[i + 1]);
    s2 += q[i + 2] * HalfToFloat(r[i + 2]);
    s3 += q[i + 3] * HalfToFloat(r[i + 3]);
  }
  for (; i < dim; ++i) s0 += q[i] * HalfToFloat(r[i]);
  return (s0 + s1) + (s2 + s3);
}

// _mm256_cvtph_ps widens eight halves exactly (F16C); the loop is DotAvx2's with that load.
__attribute__((target("avx2,fma,f16c"))) __m256 LoadHalves8(const uint16_t* r) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(r)));
}

__attribute__((target("avx2,fma,f16c"))) float DotF16Avx2(const float* q, const uint16_t* r,
                                                          size_t dim) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  __m256 acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= dim; i += 32) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), LoadHalves8(r + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i + 8), LoadHalves8(r + i + 8), acc1);
    acc2 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i + 16), LoadHalves8(r + i + 16), acc2);
    acc3 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i + 24), LoadHalves8(r + i + 24), acc3);
  }
  for (; i + 8 <= dim; i += 8) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), LoadHalves8(r + i), acc0);
  }
  float sum = HorizontalSum256(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
  for (; i < dim; ++i) sum += q[i] * HalfToFloat(r[i]);
  return sum;
}

// AVX-512F includes the 16-lane half widening. The zero-masked form with a full mask is
// _mm512_cvtph_ps, without the "undefined" source operand GCC 12 warns about in its expansion.
__attribute__((target("avx512f"))) __m512 LoadHalves16(const uint16_t* r) {
  return _mm512_maskz_cvtph_ps(0xffff, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(r)));
}

__attribute__((target("avx512f"))) float DotF16Avx512(const float* q, const uint16_t* r,
                                                      size_t dim) {
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  __m512 acc2 = _mm512_setzero_ps(), acc3 = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + 64 <= dim; i += 64) {
    acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(q + i), LoadHalves16(r + i), acc0);
    acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(q + i + 16), LoadHalves16(r + i + 16), acc1);
    acc2 = _mm512_fmadd_ps(_mm512_loadu_ps(q + i + 32), LoadHalves16(r + i + 32), acc2);
    acc3 = _mm512_fmadd_ps(_mm512_loadu_ps(q + i + 48), LoadHalves16(r + i + 48), acc3);
  }
  for (; i + 16 <= dim; i += 16) {
    acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(q + i), LoadHalves16(r + i), acc0);
  }
  if (i < dim) {
    // A masked 16-bit load needs AVX-512BW; the tail goes through a zeroed buffer instead,
    // with the query's tail masked, so neither row nor query is read past its end.
    alignas(32) uint16_t tail[16] = {};
    std::memcpy(tail, r + i, (dim - i) * sizeof(uint16_t));
    const __mmask16 mask = static_cast<__mmask16>((1u << (dim - i)) - 1);
    acc1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, q + i), LoadHalves16(tail), acc1);
  }
  return HorizontalSum512(_mm512_add_ps(_mm512_add_ps(acc0, acc1), _mm512_add_ps(acc2, acc3)));
}

float DotU8Scalar(const float* w, const uint8_t* c, size_t dim) {
  float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  size_t i = 0;
  for (; i + 4 <= dim; i += 4) {
    s0 += w[i] * float(c[i]);
    s1 += w[i + 1] * float(c[i + 1]);
    s2 += w[i + 2] * float(c[i + 2]);
    s3 += w[i + 3] * float(c[i + 3]);
  }
  for (; i < dim; ++i) s0 += w[i] * float(c[i]);
  return (s0 + s1) + (s2 + s3);
}

// Eight codes zero-extended to 32-bit integers, then converted to float (exact below 2^24).
__attribute__((target("avx2,fma"))) __m256 LoadCodes8(const uint8_t* c) {
  return _mm256_cvtepi32_ps(
      _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(c))));
}

__attribute__((target("avx2,fma"))) float DotU8Avx2(const float* w, const uint8_t* c, size_t dim) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  __m256 acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= dim; i += 32) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i), LoadCodes8(c + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i + 8), LoadCodes8(c + i + 8), acc1);
    acc2 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i + 16), LoadCodes8(c + i + 16), acc2);
    acc3 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i + 24), LoadCodes8(c + i + 24), acc3);
  }
  for (; i + 8 <= dim; i += 8) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i), LoadCodes8(c + i), acc0);
  }
  float sum = HorizontalSum256(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
  for (; i < dim; ++i) sum += w[i] * float(c[i]);
  return sum;
}

// The zero-masked forms with a full mask, for the reason LoadHalves16 gives.
__attribute__((target("avx512f"))) __m512 LoadCodes16(const uint8_t* c) {
  return _mm512_maskz_cvtepi32_ps(
      0xffff,
      _mm512_maskz_cvtepu8_epi32(0xffff, _mm_loadu_si128(reinterpret_cast<const __m128i*>(c))));
}

__attribute__((target("avx512f"))) float DotU8Avx512(const float* w, const uint8_t* c,
                                                     size_t dim) {
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  __m512 acc2 = _mm512_setzero_ps(), acc3 = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + 64 <= dim; i += 64) {
    acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(w + i), LoadCodes16(c + i), acc0);
    acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(w + i + 16), LoadCodes16(c + i + 16), acc1);
    acc2 = _mm512_fmadd_ps(_mm512_loadu_ps(w + i + 32), LoadCodes16(c + i + 32), acc2);
    acc3 = _mm512_fmadd_ps(_mm512_loadu_ps(w + i + 48), LoadCodes16(c + i + 48), acc3);
  }
  for (; i + 16 <= dim; i += 16) {
    acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(w + i), LoadCodes16(c + i), acc0);
  }
  if (i < dim) {
    // A masked byte load needs AVX-512BW; as in DotF16Avx512 the tail goes through a zeroed
    // buffer, with the weights' tail masked, so neither is read past its end.
    alignas(16) uint8_t tail[16] = {};
    std::memcpy(tail, c + i, dim - i);
    const __mmask16 mask = static_cast<__mmask16>((1u << (dim - i)) - 1);
    acc1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, w + i), LoadCodes16(tail), acc1);
  }
  return HorizontalSum512(_mm512_add_ps(_mm512_add_ps(acc0, acc1), _mm512_add_ps(acc2, acc3)));
}

template <float (*Dot)(const float*, const float*, size_t)>
void DotMany(const float* query, const float* base, size_t n, size_t dim, float* out) {
  for (size_t i = 0; i < n; ++i) out[i] = Dot(query, base + i * dim, dim);
}

template <float (*Dot)(const float*, const uint16_t*, size_t)>
void DotManyF16(const float* query, const uint16_t* base, size_t n, size_t dim, float* out) {
  for (size_t i = 0; i < n; ++i) out[i] = Dot(query, base + i * dim, dim);
}

template <float (*Dot)(const float*, const uint8_t*, size_t)>
void DotManyU8(const float* weights, const uint8_t* base, size_t n, size_t dim, float* out) {
  for (size_t i = 0; i < n; ++i) out[i] = Dot(weights, base + i * dim, dim);
}

constexpr KernelVariant kScalar{"scalar",     DotScalar,   DotMany<DotScalar>,
                                DotF16Scalar, DotManyF16<DotF16Scalar>,
                                DotU8Scalar,  DotManyU8<DotU8Scalar>};
constexpr KernelVariant kAvx2{"avx2",     DotAvx2,   DotMany<DotAvx2>,
                              DotF16Avx2, DotManyF16<DotF16Avx2>,
                              DotU8Avx2,  DotManyU8<DotU8Avx2>};
constexpr KernelVariant kAvx512{"avx512",     DotAvx512,   DotMany<DotAvx512>,
                                DotF16Avx512, DotManyF16<DotF16Avx512>,
                                DotU8Avx512,  DotManyU8<DotU8Avx512>};

bool CpuHasAvx512() { return __builtin_cpu_supports("avx512f"); }
// F16C came with AVX2 on every x86-64 CPU that has both (Haswell, Excavator on), but is checked.
bool CpuHasAvx2() {
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
         __builtin_cpu_supports("f16c");
}

const KernelVariant& ActiveVariant() {
  static const KernelVariant variant = AvailableKernelVariants().front();
  return variant;
}

}  // namespace

std::vector<KernelVariant> AvailableKernelVariants() {
  std::vector<KernelVariant> variants;
  if (CpuHasAvx512()) variants.push_back(kAvx512);
  if (CpuHasAvx2()) variants.push_back(kAvx2);
  variants.push_back(kScalar);
  return variants;
}

float DotProduct(const float* a, const float* b, size_t dim) {
  return ActiveVariant().dot(a, b, dim);
}

void DotProductMany(const float* query, const float* base, size_t n, size_t dim, float* out) {
  ActiveVariant().dot_many(query, base, n, dim, out);
}

float DotProductF16(const float* query, const uint16_t* row, size_t dim) {
  return ActiveVariant().dot_f16(query, row, dim);
}

void DotProductManyF16(const float* query, const uint16_t* base, size_t n, size_t dim,
                       float* out) {
  ActiveVariant().dot_many_f16(query, base, n, dim, out);
}

float DotProductU8(const float* weights, const uint8_t* codes, size_t dim) {
  return ActiveVariant().dot_u8(weights, codes, dim);
}

void DotProductManyU8(const float* weights, const uint8_t* base, size_t n, size_t dim,
                      float* out) {
  ActiveVariant().dot_many_u8(weights, base, n, dim, out);
}

const char* KernelVariantName() { return ActiveVariant().name; }

uint16_t FloatToHalf(float f) {
  uint32_t x;
  std::memcpy(&x, &f, sizeof(x));
  const auto sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  x &= 0x7fffffffu;
  if (x >= 0x7f800000u) {  // Inf stays Inf; NaN stays a (quiet) NaN
    return static_cast<uint16_t>(sign | 0x7c00u | (x > 0x7f800000u ? 0x200u | ((x >> 13) & 0x3ffu) : 0u));
  }
  if (x >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // rounds past 65504
  if (x < 0x38800000u) {
    // Below the smallest normal half (2^-14): a multiple of 2^-24, rounded to nearest even by
    // the float unit's default rounding. 0x400 (a carry into the exponent) is still right.
    float v;
    std::memcpy(&v, &x, sizeof(v));
    return static_cast<uint16_t>(sign | static_cast<uint16_t>(std::nearbyint(v * 16777216.0f)));
  }
  // Rebias the exponent (127 -> 15) and round the 13 dropped mantissa bits to nearest even;
  // a carry out of the mantissa correctly bumps the exponent.
  const uint32_t rebased = x - 0x38000000u;
  return static_cast<uint16_t>(sign | ((rebased + 0xfffu + ((rebased >> 13) & 1u)) >> 13));
}

float HalfToFloat(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1fu;
  const uint32_t mantissa = h & 0x3ffu;
  uint32_t bits;
  if (exponent == 0) {
    const float v = std::ldexp(static_cast<float>(mantissa), -24);  // zero or subnormal: exact
    std::memcpy(&bits, &v, sizeof(bits));
    bits |= sign;
  } else if (exponent == 31) {
    bits = sign | 0x7f800000u | (mantissa << 13);
  } else {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  }
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

namespace {

// F16C's conversions, eight at a time; the same results as the scalar ones (rounding to nearest
// even; index_kernels_test compares them). The rest of each array goes through the scalar ones.
__attribute__((target("avx,f16c"))) size_t FloatsToHalvesF16c(const float* in, size_t n,
                                                              uint16_t* out) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(in + i), _MM_FROUND_TO_NEAREST_INT));
  }
  return i;
}

__attribute__((target("avx,f16c"))) size_t HalvesToFloatsF16c(const uint16_t* in, size_t n,
                                                              float* out) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(out + i,
                     _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i))));
  }
  return i;
}

bool CpuHasF16c() {
  static const bool has = __builtin_cpu_supports("avx") && __builtin_cpu_supports("f16c");
  return has;
}

}  // namespace

void FloatsToHalves(const float* in, size_t n, uint16_t* out) {
  size_t i = CpuHasF16c() ? FloatsToHalvesF16c(in, n, out) : 0;
  for (; i < n; ++i) out[i] = FloatToHalf(in[i]);
}

void HalvesToFloats(const uint16_t* in, size_t n, float* out) {
  size_t i = CpuHasF16c() ? HalvesToFloatsF16c(in, n, out) : 0;
  for (; i < n; ++i) out[i] = HalfToFloat(in[i]);
}

bool NormalizeInPlace(std::span<float> v) {
  // A float's square can neither overflow nor underflow a double, so the sum is finite exactly
  // when every component is. Eight partial sums let the compiler vectorize the loop (3.5x at
  // 1536-d), which it may not do to one running sum.
  constexpr size_t kLanes = 8;
  double partial[kLanes] = {};
  size_t i = 0;
  for (; i + kLanes <= v.size(); i += kLanes) {
    for (size_t k = 0; k < kLanes; ++k) partial[k] += static_cast<double>(v[i + k]) * v[i + k];
  }
  double sum = 0;
  for (double p : partial) sum += p;
  for (; i < v.size(); ++i) sum += static_cast<double>(v[i]) * v[i];
  if (sum == 0 || !std::isfinite(sum)) return false;
  const double inv = 1.0 / std::sqrt(sum);
  for (float& x : v) x = static_cast<float>(x * inv);
  return true;
}

// ---- WeightedCodeProduct: two SQ8 codes against each other ----

namespace {

float CodeProductScalar(const float* w, const uint8_t* a, const uint8_t* b, size_t dim) {
  float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  size_t i = 0;
  auto term = [&](size_t k) {
    return w[k] * float((int(a[k]) - 128) * (int(b[k]) - 128));
  };
  for (; i + 4 <= dim; i += 4) {
    s0 += term(i);
    s1 += term(i + 1);
    s2 += term(i + 2);
    s3 += term(i + 3);
  }
  for (; i < dim; ++i) s0 += term(i);
  return (s0 + s1) + (s2 + s3);
}

// Eight codes minus 128 as 32-bit integers: flipping a byte's top bit turns code c into the
// signed byte c - 128, which sign-extends exactly.
__attribute__((target("avx2,fma"))) __m256i CenteredCodes8(const uint8_t* c) {
  const __m128i bytes = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(c));
  return _mm256_cvtepi8_epi32(_mm_xor_si128(bytes, _mm_set1_epi8(char(0x80))));
}

// (a_i - 128) * (b_i - 128) for eight components, as floats (exact: at most 2^14).
__attribute__((target("avx2,fma"))) __m256 CodeProducts8(const uint8_t* a, const uint8_t* b) {
  return _mm256_cvtepi32_ps(_mm256_mullo_epi32(CenteredCodes8(a), CenteredCodes8(b)));
}

__attribute__((target("avx2,fma"))) float CodeProductAvx2(const float* w, const uint8_t* a,
                                                          const uint8_t* b, size_t dim) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  __m256 acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= dim; i += 32) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i), CodeProducts8(a + i, b + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i + 8), CodeProducts8(a + i + 8, b + i + 8), acc1);
    acc2 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i + 16), CodeProducts8(a + i + 16, b + i + 16),
                           acc2);
    acc3 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i + 24), CodeProducts8(a + i + 24, b + i + 24),
                           acc3);
  }
  for (; i + 8 <= dim; i += 8) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i), CodeProducts8(a + i, b + i), acc0);
  }
  float sum = HorizontalSum256(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
  for (; i < dim; ++i) sum += w[i] * float((int(a[i]) - 128) * (int(b[i]) - 128));
  return sum;
}

// CenteredCodes8 on sixteen lanes; the zero-masked form with a full mask for the reason
// LoadHalves16 gives.
__attribute__((target("avx512f"))) __m512i CenteredCodes16(const uint8_t* c) {
  const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(c));
  return _mm512_maskz_cvtepi8_epi32(0xffff, _mm_xor_si128(bytes, _mm_set1_epi8(char(0x80))));
}

__attribute__((target("avx512f"))) __m512 CodeProducts16(const uint8_t* a, const uint8_t* b) {
  return _mm512_maskz_cvtepi32_ps(0xffff,
                                  _mm512_mullo_epi32(CenteredCodes16(a), CenteredCodes16(b)));
}

__attribute__((target("avx512f"))) float CodeProductAvx512(const float* w, const uint8_t* a,
                                                           const uint8_t* b, size_t dim) {
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  __m512 acc2 = _mm512_setzero_ps(), acc3 = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + 64 <= dim; i += 64) {
    acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(w + i), CodeProducts16(a + i, b + i), acc0);
    acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(w + i + 16), CodeProducts16(a + i + 16, b + i + 16),
                           acc1);
    acc2 = _mm512_fmadd_ps(_mm512_loadu_ps(w + i + 32), CodeProducts16(a + i + 32, b + i + 32),
                           acc2);
    acc3 = _mm512_fmadd_ps(_mm512_loadu_ps(w + i + 48), CodeProducts16(a + i + 48, b + i + 48),
                           acc3);
  }
  for (; i + 16 <= dim; i += 16) {
    acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(w + i), CodeProducts16(a + i, b + i), acc0);
  }
  if (i < dim) {
    // As in DotU8Avx512: the codes' tails through zeroed buffers, the weights' tail masked (a
    // zero weight cancels the padding's product), so nothing is read past its end.
    alignas(16) uint8_t tail_a[16] = {}, tail_b[16] = {};
    std::memcpy(tail_a, a + i, dim - i);
    std::memcpy(tail_b, b + i, dim - i);
    const __mmask16 mask = static_cast<__mmask16>((1u << (dim - i)) - 1);
    acc1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, w + i), CodeProducts16(tail_a, tail_b),
                           acc1);
  }
  return HorizontalSum512(_mm512_add_ps(_mm512_add_ps(acc0, acc1), _mm512_add_ps(acc2, acc3)));
}

const CodeProductVariant& ActiveCodeProductVariant() {
  static const CodeProductVariant variant = AvailableCodeProductVariants().front();
  return variant;
}

}  // namespace

std::vector<CodeProductVariant> AvailableCodeProductVariants() {
  std::vector<CodeProductVariant> variants;
  if (CpuHasAvx512()) variants.push_back({"avx512", CodeProductAvx512});
  if (CpuHasAvx2()) variants.push_back({"avx2", CodeProductAvx2});
  variants.push_back({"scalar", CodeProductScalar});
  return variants;
}

float WeightedCodeProduct(const float* weights, const uint8_t* a, const uint8_t* b, size_t dim) {
  return ActiveCodeProductVariant().product(weights, a, b, dim);
}

// ---- DotProductU8I8: SQ8 codes against an int8 query ----

namespace {

int32_t DotU8I8Scalar(const uint8_t* c, const int8_t* q, size_t dim) {
  int32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  size_t i = 0;
  for (; i + 4 <= dim; i += 4) {
    s0 += int32_t(c[i]) * q[i];
    s1 += int32_t(c[i + 1]) * q[i + 1];
    s2 += int32_t(c[i + 2]) * q[i + 2];
    s3 += int32_t(c[i + 3]) * q[i + 3];
  }
  for (; i < dim; ++i) s0 += int32_t(c[i]) * q[i];
  return (s0 + s1) + (s2 + s3);
}

// Sixteen codes and sixteen query bytes widened to 16 bits, multiplied and summed in pairs to
// eight 32-bit lanes (`vpmaddwd`: exact, each pair at most 2 * 255 * 128). The 8-bit multiply
// (`vpmaddubsw`) would take half the instructions but saturates its 16-bit pair sums.
__attribute__((target("avx2"))) __m256i PairProducts16(const uint8_t* c, const int8_t* q) {
  const __m256i codes = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(c)));
  const __m256i query = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q)));
  return _mm256_madd_epi16(codes, query);
}

__attribute__((target("avx2"))) int32_t HorizontalSum256i(__m256i v) {
  alignas(32) int32_t lanes[8];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), v);
  int32_t sum = 0;
  for (int32_t lane : lanes) sum += lane;
  return sum;
}

__attribute__((target("avx2"))) int32_t DotU8I8Avx2(const uint8_t* c, const int8_t* q,
                                                    size_t dim) {
  __m256i acc0 = _mm256_setzero_si256(), acc1 = _mm256_setzero_si256();
  size_t i = 0;
  for (; i + 32 <= dim; i += 32) {
    acc0 = _mm256_add_epi32(acc0, PairProducts16(c + i, q + i));
    acc1 = _mm256_add_epi32(acc1, PairProducts16(c + i + 16, q + i + 16));
  }
  for (; i + 16 <= dim; i += 16) acc0 = _mm256_add_epi32(acc0, PairProducts16(c + i, q + i));
  int32_t sum = HorizontalSum256i(_mm256_add_epi32(acc0, acc1));
  for (; i < dim; ++i) sum += int32_t(c[i]) * q[i];
  return sum;
}

__attribute__((target("avx512f"))) int32_t HorizontalSum512i(__m512i v) {
  alignas(64) int32_t lanes[16];
  _mm512_store_si512(lanes, v);
  int32_t sum = 0;
  for (int32_t lane : lanes) sum += lane;
  return sum;
}

// `vpdpbusd` multiplies 64 unsigned bytes (the first operand: the codes) by 64 signed bytes
// (the query) and adds each group of four products to a 32-bit lane, without saturation: one
// instruction per 64 components. The head (up to the codes' next 64-byte boundary) and the
// tail are masked byte loads (AVX-512BW, which every VNNI CPU has), so nothing is read past
// either end, and every other load of the codes is one whole cache line: a row that starts
// off a line boundary (FAISS's code vector starts 16 bytes into its pages) would otherwise
// split every 64-byte load across two lines, which cost about 15% of a walk.
__attribute__((target("avx512f,avx512bw,avx512vnni"))) int32_t DotU8I8Vnni(const uint8_t* c,
                                                                         const int8_t* q,
                                                                         size_t dim) {
  __m512i acc0 = _mm512_setzero_si512(), acc1 = _mm512_setzero_si512();
  __m512i acc2 = _mm512_setzero_si512(), acc3 = _mm512_setzero_si512();
  size_t i = std::min(dim, size_t(-reinterpret_cast<uintptr_t>(c) & 63));
  if (i > 0) {
    const __mmask64 head = _cvtu64_mask64((uint64_t{1} << i) - 1);
    acc3 = _mm512_dpbusd_epi32(acc3, _mm512_maskz_loadu_epi8(head, c),
                               _mm512_maskz_loadu_epi8(head, q));
  }
  for (; i + 256 <= dim; i += 256) {
    acc0 = _mm512_dpbusd_epi32(acc0, _mm512_loadu_si512(c + i), _mm512_loadu_si512(q + i));
    acc1 = _mm512_dpbusd_epi32(acc1, _mm512_loadu_si512(c + i + 64),
                               _mm512_loadu_si512(q + i + 64));
    acc2 = _mm512_dpbusd_epi32(acc2, _mm512_loadu_si512(c + i + 128),
                               _mm512_loadu_si512(q + i + 128));
    acc3 = _mm512_dpbusd_epi32(acc3, _mm512_loadu_si512(c + i + 192),
                               _mm512_loadu_si512(q + i + 192));
  }
  for (; i + 64 <= dim; i += 64) {
    acc0 = _mm512_dpbusd_epi32(acc0, _mm512_loadu_si512(c + i), _mm512_loadu_si512(q + i));
  }
  if (i < dim) {
    const __mmask64 mask = _cvtu64_mask64((uint64_t{1} << (dim - i)) - 1);
    acc1 = _mm512_dpbusd_epi32(acc1, _mm512_maskz_loadu_epi8(mask, c + i),
                               _mm512_maskz_loadu_epi8(mask, q + i));
  }
  return HorizontalSum512i(_mm512_add_epi32(_mm512_add_epi32(acc0, acc1),
                                            _mm512_add_epi32(acc2, acc3)));
}

bool CpuHasAvx512Vnni() {
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vnni");
}

const IntegerDotVariant& ActiveIntegerDotVariant() {
  static const IntegerDotVariant variant = AvailableIntegerDotVariants().front();
  return variant;
}

}  // namespace

std::vector<IntegerDotVariant> AvailableIntegerDotVariants() {
  std::vector<IntegerDotVariant> variants;
  if (CpuHasAvx512Vnni()) variants.push_back({"avx512vnni", DotU8I8Vnni});
  if (__builtin_cpu_supports("avx2")) variants.push_back({"avx2", DotU8I8Avx2});
  variants.push_back({"scalar", DotU8I8Scalar});
  return variants;
}

int32_t DotProductU8I8(const uint8_t* codes, const int8_t* query, size_t dim) {
  return ActiveIntegerDotVariant().dot(codes, query, dim);
}

}  // namespace vecmirror
