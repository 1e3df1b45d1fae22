#pragma once
// Verification protocols and metrics (LFW View 2 and friends).
// Thread safety: pure functions, except where noted.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace facerec {

// One line of an LFW pairs file. A plain value.
struct LfwPair {
  std::string a, b;  // image paths relative to the images root: Name/Name_0001.jpg
  bool same = false;
  int fold = 0;
};

// Reads pairs.txt (header "folds n", then per fold n matched "name i j" and n mismatched
// "name1 i name2 j" lines) or the View 1 files (header "n"). Throws Error(NotFound) when the file
// cannot be read, Error(InvalidArgument) naming the line for anything malformed (or missing).
std::vector<LfwPair> read_lfw_pairs(const std::filesystem::path& file);

// What evaluate_verification measured. A plain value.
struct VerificationResult {
  int pairs = 0, failed_pairs = 0;    // failed: an image without a face; counted as wrong
  std::vector<double> fold_accuracy;  // each fold at the threshold chosen on the other folds
  std::vector<double> fold_threshold;
  double mean_accuracy = 0, std_accuracy = 0;
  double auc = 0, eer = 0;
};

// scores: cosine per pair, NaN where an image failed; folds: fold index per pair (0..k-1). Each
// fold's threshold is chosen on the other folds (on all pairs when k = 1). Throws
// Error(InvalidArgument) when the three lists differ in size or are empty.
VerificationResult evaluate_verification(const std::vector<double>& scores, const std::vector<bool>& same,
                                         const std::vector<int>& folds);

// The threshold at which the false match rate over `impostor` scores is at most `fmr`
// (the smallest t with #(s >= t) / n <= fmr). Requires a non-empty list; throws
// Error(InvalidArgument) for an empty one.
double threshold_at_fmr(std::vector<double> impostor, double fmr);
// Threshold maximising accuracy over the given scores (midpoint between neighbouring scores);
// NaN scores are left out, 0 when none is left. Requires: one `same` per score.
double best_accuracy_threshold(const std::vector<double>& scores, const std::vector<bool>& same);
// Fraction of genuine scores >= t (0 for an empty list).
double tar_at(const std::vector<double>& genuine, double t);

// One point of a curve swept over a score threshold. A plain value.
struct CurvePoint {
  double threshold = 0;
  double x = 0, y = 0;
};

// ROC over all thresholds: x = FMR (share of impostor scores >= t), y = TMR (share of genuine
// scores >= t), at FMR targets spaced logarithmically from 1/#impostors to 1 (`points` of them,
// end points included; repeated points dropped). Requires non-empty lists (throws
// Error(InvalidArgument) otherwise); NaN scores (failures) never match.
std::vector<CurvePoint> roc_curve(const std::vector<double>& genuine, const std::vector<double>& impostor,
                                  int points = 80);
// Precision-recall over the threshold, with "same person" as the positive class: x = recall,
// y = precision. Failed pairs (NaN) count as negative decisions (missed when genuine). At most
// `points` points, thresholds taken evenly over the sorted scores; none when no pair is genuine or
// every score is NaN. Throws Error(InvalidArgument) when the lists differ in size or are empty.
std::vector<CurvePoint> pr_curve(const std::vector<double>& scores, const std::vector<bool>& same, int points = 200);

// ---- 1:N identification -------------------------------------------------------------------
// One search of a probe against the gallery, reduced to what the metrics need. Gallery scores
// are aggregated per identity (the best template of each identity) before ranking. A plain value.
struct SearchOutcome {
  bool mated = false;     // the probe's identity is enrolled
  bool failed = false;    // no template for the probe (no face): no candidates returned
  int mate_rank = 0;      // 1-based rank of the mate among identities; 0 = not returned
  double mate_score = 0;  // similarity of the mate (valid when mate_rank > 0)
  double top_score = -2;  // best similarity of any identity (-2 when the gallery is empty)
};

// Ranks identities for one probe. `gallery_labels[i]` is the identity of gallery template i;
// `scores[i]` its similarity with the probe; `probe_label` -1 for a non-mated probe. Ties with the
// mate rank ahead of it (pessimistic). Throws Error(InvalidArgument) unless there is one label per score.
SearchOutcome rank_search(const std::vector<double>& scores, const std::vector<int>& gallery_labels, int probe_label);

// One open-set operating point, and the result of evaluate_identification. Plain values.
struct FpirPoint {
  double target = 0;     // the FPIR asked for
  double threshold = 0;  // the lowest threshold whose FPIR is at most the target
  double fpir = 0;       // achieved FPIR
  double fnir = 0;       // FNIR at that threshold
};
struct IdentificationResult {
  size_t mated = 0, nonmated = 0;                // searches of each kind (failed ones included)
  size_t failed_mated = 0, failed_nonmated = 0;  // probes without a template
  std::vector<double> cmc;                       // cmc[r-1]: share of mated searches with the mate at rank <= r
  std::vector<FpirPoint> points;                 // open-set operating points (none unless both kinds ran)
  std::vector<CurvePoint> det;                   // x = FPIR, y = FNIR over the threshold (empty as `points`)
};
// Closed-set CMC over the mated searches (a failed search is a miss at every rank) and open-set
// FNIR at each FPIR target: a mated search is a hit at threshold t when its mate is ranked first
// with a similarity >= t; a non-mated search is a false positive when its top similarity >= t; a
// failed non-mated search returns nothing and is never a false positive.
// Throws Error(InvalidArgument) when max_rank < 1.
IdentificationResult evaluate_identification(const std::vector<SearchOutcome>& searches, int max_rank = 10,
                                             const std::vector<double>& fpir_targets = {1e-2, 1e-3});

// A folder-per-identity dataset: root/<identity>/<image>. Identities and images sorted by name.
// A plain value.
struct Subject {
  std::string id;
  std::vector<std::string> images;  // relative to the root: "<identity>/<file>"
};
// Lists image files (jpg, jpeg, png, pgm, ppm, bmp, webp, tif, tiff, in any case); folders without
// images are left out. Throws Error(NotFound) when the root is missing (or not a folder) and
// Error(InvalidArgument) when it holds no identity folder with images.
std::vector<Subject> read_identity_folders(const std::filesystem::path& root);

// The deterministic 1:N protocol. An identity with more than `enrol` images gives its first
// `enrol` images (by name) to the gallery and the rest as mated probes; an identity with at most
// `enrol` images gives all its images as non-mated probes (distractors). With holdout_every = k >
// 0, every k-th enrollable identity (1-based, in name order) is also left out of the gallery and
// its images become non-mated probes.
// LFW 1:N: enrol = 1, holdout_every = 0 (people with one image are the distractors).
// A plain value.
struct IdentificationProtocol {
  std::vector<std::string> gallery;  // image paths
  std::vector<int> gallery_labels;   // identity index per gallery image
  std::vector<std::string> probes;
  std::vector<int> probe_labels;  // identity index, -1 for a non-mated probe
  std::vector<std::string> identities;
  size_t enrolled_identities = 0;
};
// Throws Error(InvalidArgument) when enrol < 1 or holdout_every < 0. Pure.
IdentificationProtocol make_identification_protocol(const std::vector<Subject>& subjects, int enrol = 1,
                                                    int holdout_every = 0);

// Detection matching: each ground-truth box is matched to at most one detection (greedy by IoU,
// highest first) with IoU >= min_iou. Plain values.
struct DetectionCounts {
  int true_positives = 0, false_positives = 0, false_negatives = 0;
  double recall() const;     // 1 when there is no ground truth
  double precision() const;  // 1 when nothing was found
  DetectionCounts& operator+=(const DetectionCounts& o) {
    true_positives += o.true_positives;
    false_positives += o.false_positives;
    false_negatives += o.false_negatives;
    return *this;
  }
};
struct Box {
  float x = 0, y = 0, w = 0, h = 0;  // top-left corner and size, in pixels
};
// Ensures: true positives + false negatives = truth.size(), true positives + false positives =
// found.size(). Pure; never throws.
DetectionCounts match_detections(const std::vector<Box>& truth, const std::vector<Box>& found, double min_iou = 0.5);

// One image of a dlib imglab XML file (<image file=...><box top left width height [ignore]>).
// A plain value.
struct LabelledImage {
  std::string file;
  std::vector<Box> boxes;  // boxes marked ignore='1' are left out
};
// Every <image> of the file, in file order. Throws Error(NotFound) when it cannot be read,
// Error(InvalidArgument) naming the file and the problem: an unclosed <image>, a box without
// numeric top/left/width/height, no <image> at all.
std::vector<LabelledImage> read_dlib_xml(const std::filesystem::path& file);

}  // namespace facerec
