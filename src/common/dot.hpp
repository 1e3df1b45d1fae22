#pragma once
// Inner product of float vectors with 16 independent partial sums: the compiler turns the fixed
// inner loop into packed SIMD multiply-adds (a single running sum is a dependency chain it may not
// reorder under strict IEEE rules, and runs several times slower).
#include <cstddef>

namespace facerec::detail {

inline float dot(const float* a, const float* b, size_t n) {
  float acc[16] = {};
  size_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (size_t k = 0; k < 16; ++k) acc[k] += a[i + k] * b[i + k];
  float s = 0;
  for (size_t k = 0; k < 16; ++k) s += acc[k];
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

}  // namespace facerec::detail
