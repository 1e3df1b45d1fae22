#pragma once
// Evaluating face quality: the error-versus-discard characteristic (ISO/IEC 29794-1) of a quality
// measure, and the rows the quality model is fitted on.
//
// EDC: the genuine comparisons are ranked by pair quality (the lower of the two faces' qualities);
// as the lowest-quality share `discarded` of them is set aside, the false non-match rate of the
// rest at a threshold fixed beforehand is recorded. A useful quality measure makes the curve fall;
// discarding at random leaves it flat (in expectation).
//
// Thread safety: pure functions.
#include <facerec/eval/dataset.hpp>
#include <facerec/quality.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace facerec {

// A genuine comparison: its similarity and both faces' measurements. A plain value.
struct QualityPair {
  float similarity = 0;
  QualityMeasures a, b;
};

// A quality measure on measurements (higher: better), with its name.
struct QualityMeasure {
  std::string name;
  std::function<double(const QualityMeasures&)> quality;
};
// The measures an EDC compares: the model's score, each component (size as the inter-ocular
// distance, sharpness as the Laplacian's variance, exposure, pose as -max(|yaw|, |pitch|): the
// measurements, unclamped, so that no ties form where a component saturates) and the detector's
// score.
std::vector<QualityMeasure> quality_measures(const QualityModel& model);

// One error-versus-discard curve. A plain value.
struct EdcCurve {
  std::string name;
  std::vector<double> discarded;  // share of genuine pairs set aside, 0 .. max_discard
  std::vector<double> fnmr;       // FNMR of the rest at the threshold
  double area = 0;                // the area under the curve over [0, max_discard] (lower is better)
};

// The EDC of `measure`. Requires non-empty `genuine`, 0 < max_discard < 1, steps >= 1.
// Throws Error(InvalidArgument) otherwise.
EdcCurve error_versus_discard(const std::vector<QualityPair>& genuine, double threshold, const QualityMeasure& measure,
                              double max_discard = 0.5, int steps = 50);
// The EDC of discarding at random: the mean over `repeats` seeded random orders.
EdcCurve random_discard(const std::vector<QualityPair>& genuine, double threshold, uint64_t seed, int repeats = 50,
                        double max_discard = 0.5, int steps = 50);

// The rows the quality model is fitted on (QualityModel::fit): for each face of `probes` (an
// image name -> embedding and measurements) whose identity (identity_of) has at least one other
// image in `references`, its features and the share of those other reference images it matches
// (cosine >= threshold). A probe is never compared with its own reference image (a degraded copy
// keeps its original's name). A plain value.
struct QualityTrainingSet {
  std::vector<std::vector<double>> rows;
  std::vector<double> outcomes;
  std::vector<std::string> images;
};
QualityTrainingSet quality_training_set(const EmbeddingTable& references, const EmbeddingTable& probes,
                                        const std::map<std::string, QualityMeasures>& probe_measures, double threshold);

}  // namespace facerec
