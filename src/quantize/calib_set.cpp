// Balanced calibration sets (see include/facerec/quantize.hpp).
#include <facerec/error.hpp>
#include <facerec/quantize.hpp>

#include <algorithm>
#include <limits>
#include <numeric>
#include <random>

namespace facerec {

std::vector<std::map<std::string, size_t>> level_counts(const std::vector<CalibrationCandidate>& pool,
                                                       const std::vector<size_t>& chosen) {
  std::vector<std::map<std::string, size_t>> counts(pool.empty() ? 0 : pool[0].levels.size());
  for (size_t i : chosen)
    for (size_t f = 0; f < counts.size(); ++f) ++counts[f][pool.at(i).levels.at(f)];
  return counts;
}

std::vector<size_t> balanced_sample(const std::vector<CalibrationCandidate>& pool, size_t n, unsigned seed) {
  if (pool.empty()) return {};
  const size_t factors = pool[0].levels.size();
  for (const auto& c : pool)
    if (c.levels.size() != factors)
      throw Error(ErrorKind::InvalidArgument, "balanced_sample: " + c.file + " has " + std::to_string(c.levels.size()) +
                                                  " levels, the first candidate " + std::to_string(factors));
  // how many candidates each level has: a level is compared by its share of what it could reach
  std::vector<std::map<std::string, size_t>> chosen(factors);
  std::vector<size_t> order(pool.size());
  std::iota(order.begin(), order.end(), size_t(0));
  std::mt19937 rng(seed);
  std::shuffle(order.begin(), order.end(), rng);  // the tie-break
  std::vector<bool> used(pool.size(), false);
  std::vector<size_t> out;
  n = std::min(n, pool.size());
  while (out.size() < n) {
    size_t best = pool.size();
    size_t best_score = std::numeric_limits<size_t>::max();
    for (size_t i : order) {
      if (used[i]) continue;
      size_t score = 0;
      for (size_t f = 0; f < factors; ++f) {
        auto it = chosen[f].find(pool[i].levels[f]);
        score += it == chosen[f].end() ? 0 : it->second;
      }
      if (score < best_score) {
        best_score = score;
        best = i;
        if (score == 0) break;
      }
    }
    used[best] = true;
    out.push_back(best);
    for (size_t f = 0; f < factors; ++f) ++chosen[f][pool[best].levels[f]];
  }
  return out;
}

}  // namespace facerec
