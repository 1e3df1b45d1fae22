// The machine's measured arithmetic peak (see measured_peak_gops in include/facerec/backend.hpp).
#include <facerec/backend.hpp>

#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

namespace facerec {
namespace {

using Clock = std::chrono::steady_clock;

// Multiply-adds done by `iterations` of 10 independent FMA chains on 8 floats; the result is
// returned through `sink` so the loop cannot be removed.
__attribute__((target("avx2,fma"))) double fma_loop(int64_t iterations, float* sink) {
  __m256 a[10];
  const __m256 x = _mm256_set1_ps(0.999999f), y = _mm256_set1_ps(1e-7f);
  for (int k = 0; k < 10; ++k) a[k] = _mm256_set1_ps(float(k));
  for (int64_t i = 0; i < iterations; ++i)
    for (int k = 0; k < 10; ++k) a[k] = _mm256_fmadd_ps(a[k], x, y);
  __m256 s = a[0];
  for (int k = 1; k < 10; ++k) s = _mm256_add_ps(s, a[k]);
  alignas(32) float out[8];
  _mm256_store_ps(out, s);
  *sink = out[0];
  return double(iterations) * 10 * 8;
}

// Multiply-adds done by `iterations` of 6 independent u8 x s8 chains (vpmaddubsw → vpmaddwd with
// ones → vpaddd, 32 multiply-adds each).
__attribute__((target("avx2"))) double int8_loop(int64_t iterations, float* sink) {
  __m256i acc[6];
  const __m256i u = _mm256_set1_epi8(3), ones = _mm256_set1_epi16(1);
  __m256i w[6];
  for (int k = 0; k < 6; ++k) {
    acc[k] = _mm256_setzero_si256();
    w[k] = _mm256_set1_epi8(char(k + 1));
  }
  for (int64_t i = 0; i < iterations; ++i)
    for (int k = 0; k < 6; ++k)
      acc[k] = _mm256_add_epi32(acc[k], _mm256_madd_epi16(_mm256_maddubs_epi16(u, w[k]), ones));
  __m256i s = acc[0];
  for (int k = 1; k < 6; ++k) s = _mm256_add_epi32(s, acc[k]);
  alignas(32) int32_t out[8];
  _mm256_store_si256(reinterpret_cast<__m256i*>(out), s);
  *sink = float(out[0]);
  return double(iterations) * 6 * 32;
}

}  // namespace

double measured_peak_gops(Precision precision, int threads) {
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return 0;
  if (precision == Precision::FP16) return 0;
  if (threads <= 0) threads = int(std::max(1u, std::thread::hardware_concurrency()));
  auto loop = precision == Precision::INT8 ? int8_loop : fma_loop;
  const int64_t iterations = precision == Precision::INT8 ? 20'000'000 : 25'000'000;
  std::vector<double> macs(size_t(threads), 0.0);
  std::vector<float> sinks(size_t(threads), 0.f);
  loop(iterations / 20, &sinks[0]);  // warm-up (clock ramp)
  const auto t0 = Clock::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] { macs[size_t(t)] = loop(iterations, &sinks[size_t(t)]); });
  for (auto& th : pool) th.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  double total = 0;
  for (double m : macs) total += m;
  return seconds > 0 ? 2 * total / seconds / 1e9 : 0;
}

}  // namespace facerec
