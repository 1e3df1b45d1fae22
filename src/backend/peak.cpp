// The machine's measured arithmetic peak (see measured_peak in include/facerec/backend.hpp).
#include <facerec/backend.hpp>

// GCC 12's AVX-512 set1 intrinsics start from _mm512_undefined_*(), which -Wuninitialized flags
// in its own header: not this file's values.
#if defined(__x86_64__) || defined(__i386__)
#define FACEREC_X86 1
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#endif

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

namespace facerec {
namespace {

using Clock = std::chrono::steady_clock;
using Loop = double (*)(int64_t, float*);

#ifdef FACEREC_X86

// Each loop runs `iterations` of K independent multiply-add chains (enough to cover the
// instruction's latency on two pipes), writes a value derived from them to `sink` so the loop is
// kept, and returns the multiply-adds done.

__attribute__((target("avx2,fma"))) double fma256(int64_t iterations, float* sink) {
  constexpr int K = 10;
  __m256 a[K];
  const __m256 x = _mm256_set1_ps(0.999999f), y = _mm256_set1_ps(1e-7f);
  for (int k = 0; k < K; ++k) a[k] = _mm256_set1_ps(float(k));
  for (int64_t i = 0; i < iterations; ++i)
    for (int k = 0; k < K; ++k) a[k] = _mm256_fmadd_ps(a[k], x, y);
  __m256 s = a[0];
  for (int k = 1; k < K; ++k) s = _mm256_add_ps(s, a[k]);
  *sink = _mm256_cvtss_f32(s);
  return double(iterations) * K * 8;
}

__attribute__((target("avx512f"))) double fma512(int64_t iterations, float* sink) {
  constexpr int K = 10;
  __m512 a[K];
  const __m512 x = _mm512_set1_ps(0.999999f), y = _mm512_set1_ps(1e-7f);
  for (int k = 0; k < K; ++k) a[k] = _mm512_set1_ps(float(k));
  for (int64_t i = 0; i < iterations; ++i)
    for (int k = 0; k < K; ++k) a[k] = _mm512_fmadd_ps(a[k], x, y);
  __m512 s = a[0];
  for (int k = 1; k < K; ++k) s = _mm512_add_ps(s, a[k]);
  *sink = _mm512_reduce_add_ps(s);
  return double(iterations) * K * 16;
}

__attribute__((target("avx2"))) double maddubs256(int64_t iterations, float* sink) {
  constexpr int K = 6;
  __m256i acc[K], w[K];
  const __m256i u = _mm256_set1_epi8(3), ones = _mm256_set1_epi16(1);
  for (int k = 0; k < K; ++k) {
    acc[k] = _mm256_setzero_si256();
    w[k] = _mm256_set1_epi8(char(k + 1));
  }
  for (int64_t i = 0; i < iterations; ++i)
    for (int k = 0; k < K; ++k)
      acc[k] = _mm256_add_epi32(acc[k], _mm256_madd_epi16(_mm256_maddubs_epi16(u, w[k]), ones));
  __m256i s = acc[0];
  for (int k = 1; k < K; ++k) s = _mm256_add_epi32(s, acc[k]);
  *sink = float(_mm256_extract_epi32(s, 0));
  return double(iterations) * K * 32;
}

__attribute__((target("avxvnni"))) double dpbusd256(int64_t iterations, float* sink) {
  constexpr int K = 10;
  __m256i acc[K];
  const __m256i u = _mm256_set1_epi8(3), w = _mm256_set1_epi8(-2);
  for (int k = 0; k < K; ++k) acc[k] = _mm256_set1_epi32(k);
  for (int64_t i = 0; i < iterations; ++i)
    for (int k = 0; k < K; ++k) acc[k] = _mm256_dpbusd_avx_epi32(acc[k], u, w);
  __m256i s = acc[0];
  for (int k = 1; k < K; ++k) s = _mm256_add_epi32(s, acc[k]);
  *sink = float(_mm256_extract_epi32(s, 0));
  return double(iterations) * K * 32;
}

__attribute__((target("avx512f,avx512vnni"))) double dpbusd512(int64_t iterations, float* sink) {
  constexpr int K = 10;
  __m512i acc[K];
  const __m512i u = _mm512_set1_epi8(3), w = _mm512_set1_epi8(-2);
  for (int k = 0; k < K; ++k) acc[k] = _mm512_set1_epi32(k);
  for (int64_t i = 0; i < iterations; ++i)
    for (int k = 0; k < K; ++k) acc[k] = _mm512_dpbusd_epi32(acc[k], u, w);
  __m512i s = acc[0];
  for (int k = 1; k < K; ++k) s = _mm512_add_epi32(s, acc[k]);
  *sink = float(_mm512_reduce_add_epi32(s));
  return double(iterations) * K * 64;
}

__attribute__((target("avx512f,avx512bf16"))) double dpbf16(int64_t iterations, float* sink) {
  constexpr int K = 10;
  __m512 acc[K];
  const __m512bh a = (__m512bh)_mm512_set1_epi16(0x3f80), b = (__m512bh)_mm512_set1_epi16(0x3a83);  // 1.0, ~1e-3
  for (int k = 0; k < K; ++k) acc[k] = _mm512_set1_ps(float(k));
  for (int64_t i = 0; i < iterations; ++i)
    for (int k = 0; k < K; ++k) acc[k] = _mm512_dpbf16_ps(acc[k], a, b);
  __m512 s = acc[0];
  for (int k = 1; k < K; ++k) s = _mm512_add_ps(s, acc[k]);
  *sink = _mm512_reduce_add_ps(s);
  return double(iterations) * K * 32;
}

#endif  // FACEREC_X86

// The widest multiply-add loop this CPU has for `precision` and its name; nullptr when none is
// known (another precision, or a CPU other than x86: no peak is claimed there).
Loop peak_loop(Precision precision, std::string& kernel) {
#ifdef FACEREC_X86
  __builtin_cpu_init();
#define has(isa) (__builtin_cpu_supports(isa) != 0)
  if (precision == Precision::FP32) {
    if (has("avx512f")) {
      kernel = "avx512 vfmadd231ps";
      return fma512;
    }
    if (has("avx2") && has("fma")) {
      kernel = "avx2 vfmadd231ps";
      return fma256;
    }
  } else if (precision == Precision::INT8) {
    if (has("avx512f") && has("avx512vnni")) {
      kernel = "avx512_vnni vpdpbusd";
      return dpbusd512;
    }
    if (has("avxvnni")) {
      kernel = "avx_vnni vpdpbusd";
      return dpbusd256;
    }
    if (has("avx2")) {
      kernel = "avx2 vpmaddubsw+vpmaddwd+vpaddd";
      return maddubs256;
    }
  } else if (precision == Precision::BF16) {
    if (has("avx512f") && has("avx512bf16")) {
      kernel = "avx512_bf16 vdpbf16ps";
      return dpbf16;
    }
  }
#undef has
#else
  (void)precision;
  (void)kernel;
#endif
  return nullptr;
}

}  // namespace

ArithmeticPeak measured_peak(Precision precision, int threads) {
  ArithmeticPeak p;
  const Loop loop = peak_loop(precision, p.kernel);
  if (!loop) return {};
  if (threads <= 0) threads = int(std::max(1u, std::thread::hardware_concurrency()));
  float warm = 0;
  const int64_t iterations = 20'000'000;
  loop(iterations / 10, &warm);  // clock ramp-up
  std::vector<double> macs(size_t(threads), 0.0);
  std::vector<float> sinks(size_t(threads), 0.f);
  const auto t0 = Clock::now();
  std::vector<std::thread> pool;
  struct JoinAll {  // joins what started even when starting another thread throws
    std::vector<std::thread>& p;
    ~JoinAll() {
      for (auto& th : p)
        if (th.joinable()) th.join();
    }
  } join_all{pool};
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] { macs[size_t(t)] = loop(iterations, &sinks[size_t(t)]); });
  for (auto& th : pool) th.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  double total = 0;
  for (double m : macs) total += m;
  p.gops = seconds > 0 ? 2 * total / seconds / 1e9 : 0;
  return p;
}

}  // namespace facerec
