#pragma once
// Presentation-attack detection evaluation (ISO/IEC 30107-3 terms): APCER, the share of attack
// presentations accepted as live; BPCER, the share of bona fide (live) presentations rejected;
// ACER, their mean. Scores are "higher = more live" (LivenessChecker); a presentation is accepted
// when its score >= the threshold. Pure functions.
#include <filesystem>
#include <string>
#include <vector>

namespace facerec {

// One image of a liveness dataset. A plain value.
struct LivenessSample {
  std::filesystem::path file;  // absolute
  bool live = false;           // bona fide (real face) or attack
  std::string subject;
};

// Reads a labels.tsv with a header naming at least the columns "file", "class" ("real" = bona fide,
// anything else an attack) and "subject"; files relative to the folder. Throws Error(NotFound)
// when the file is missing, Error(InvalidArgument) naming the line for a malformed one.
std::vector<LivenessSample> read_liveness_labels(const std::filesystem::path& labels_tsv);

// Error rates at a threshold. A plain value.
struct PadRates {
  double threshold = 0;
  double apcer = 0, bpcer = 0, acer = 0;
  int bona_fide = 0, attacks = 0;
};
PadRates pad_rates(const std::vector<double>& live, const std::vector<double>& attack, double threshold);

// The threshold where APCER and BPCER are closest (the equal-error point; among equals the lowest
// ACER, then the middle of the range), over the midpoints between neighbouring scores. Requires
// both lists non-empty (Error(InvalidArgument) otherwise).
double pad_eer_threshold(const std::vector<double>& live, const std::vector<double>& attack);

// Area under the ROC curve of live vs attack scores (probability that a live score exceeds an
// attack score, ties counted half). Requires non-empty lists.
double pad_auc(const std::vector<double>& live, const std::vector<double>& attack);

// The DET curve: (APCER, BPCER) at every distinct threshold, APCER falling.
std::vector<PadRates> pad_det_curve(const std::vector<double>& live, const std::vector<double>& attack);

}  // namespace facerec
