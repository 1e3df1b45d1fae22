// Error-versus-discard characteristics and the quality model's training rows
// (include/facerec/eval/quality_eval.hpp).
#include <facerec/analyzer.hpp>
#include <facerec/error.hpp>
#include <facerec/eval/quality_eval.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

namespace facerec {
namespace {

// FNMR at `threshold` of the pairs order[k..] for each discarded share, and the curve's area.
EdcCurve curve_of(const std::vector<QualityPair>& genuine, const std::vector<size_t>& order, double threshold,
                  double max_discard, int steps) {
  EdcCurve c;
  const size_t n = genuine.size();
  // misses[k]: non-matches among order[k..]
  std::vector<size_t> misses(n + 1, 0);
  for (size_t k = n; k-- > 0;) misses[k] = misses[k + 1] + (genuine[order[k]].similarity < threshold ? 1 : 0);
  for (int s = 0; s <= steps; ++s) {
    double f = max_discard * s / steps;
    size_t k = std::min(n - 1, size_t(f * double(n)));
    c.discarded.push_back(f);
    c.fnmr.push_back(double(misses[k]) / double(n - k));
  }
  for (size_t i = 1; i < c.fnmr.size(); ++i)
    c.area += (c.discarded[i] - c.discarded[i - 1]) * (c.fnmr[i] + c.fnmr[i - 1]) / 2;
  return c;
}

void check(const std::vector<QualityPair>& genuine, double max_discard, int steps) {
  if (genuine.empty()) throw Error(ErrorKind::InvalidArgument, "EDC: no genuine pairs");
  if (!(max_discard > 0 && max_discard < 1) || steps < 1)
    throw Error(ErrorKind::InvalidArgument, "EDC: max_discard must be in (0, 1) and steps >= 1");
}

}  // namespace

std::vector<QualityMeasure> quality_measures(const QualityModel& model) {
  // the components by their measurements (no clamping, so no ties where a component saturates)
  return {
      {"quality score", [model](const QualityMeasures& m) { return double(model.assess(m).score); }},
      {"size", [](const QualityMeasures& m) { return double(m.interocular); }},
      {"sharpness", [](const QualityMeasures& m) { return double(m.laplacian); }},
      {"exposure", [model](const QualityMeasures& m) { return double(model.assess(m).exposure); }},
      {"pose", [](const QualityMeasures& m) { return -double(std::max(std::abs(m.yaw), std::abs(m.pitch))); }},
      {"detector score", [](const QualityMeasures& m) { return double(m.detection); }},
  };
}

EdcCurve error_versus_discard(const std::vector<QualityPair>& genuine, double threshold, const QualityMeasure& measure,
                              double max_discard, int steps) {
  check(genuine, max_discard, steps);
  std::vector<double> q(genuine.size());
  for (size_t i = 0; i < genuine.size(); ++i)
    q[i] = std::min(measure.quality(genuine[i].a), measure.quality(genuine[i].b));
  std::vector<size_t> order(genuine.size());
  std::iota(order.begin(), order.end(), size_t(0));
  std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) { return q[x] < q[y]; });
  EdcCurve c = curve_of(genuine, order, threshold, max_discard, steps);
  c.name = measure.name;
  return c;
}

EdcCurve random_discard(const std::vector<QualityPair>& genuine, double threshold, uint64_t seed, int repeats,
                        double max_discard, int steps) {
  check(genuine, max_discard, steps);
  std::mt19937_64 rng(seed);
  EdcCurve mean;
  mean.name = "random";
  std::vector<size_t> order(genuine.size());
  for (int r = 0; r < std::max(1, repeats); ++r) {
    std::iota(order.begin(), order.end(), size_t(0));
    std::shuffle(order.begin(), order.end(), rng);
    EdcCurve c = curve_of(genuine, order, threshold, max_discard, steps);
    if (mean.fnmr.empty()) {
      mean.discarded = c.discarded;
      mean.fnmr.assign(c.fnmr.size(), 0.0);
    }
    for (size_t i = 0; i < c.fnmr.size(); ++i) mean.fnmr[i] += c.fnmr[i] / std::max(1, repeats);
    mean.area += c.area / std::max(1, repeats);
  }
  return mean;
}

QualityTrainingSet quality_training_set(const EmbeddingTable& references, const EmbeddingTable& probes,
                                        const std::map<std::string, QualityMeasures>& probe_measures,
                                        double threshold) {
  std::map<std::string, std::vector<std::string>> by_identity;
  for (const auto& [name, e] : references)
    if (e.found) by_identity[identity_of(name)].push_back(name);
  QualityTrainingSet set;
  for (const auto& [name, e] : probes) {
    auto m = probe_measures.find(name);
    if (!e.found || m == probe_measures.end()) continue;
    auto it = by_identity.find(identity_of(name));
    if (it == by_identity.end()) continue;
    size_t compared = 0, matched = 0;
    for (const auto& other : it->second) {
      if (other == name) continue;
      ++compared;
      matched += FaceAnalyzer::cosine(e.embedding, references.at(other).embedding) >= threshold ? 1 : 0;
    }
    if (compared == 0) continue;
    set.rows.push_back(QualityModel::features(m->second));
    set.outcomes.push_back(double(matched) / double(compared));
    set.images.push_back(name);
  }
  return set;
}

}  // namespace facerec
