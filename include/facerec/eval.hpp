#pragma once
// Verification protocols and metrics (LFW View 2 and friends).
// Thread safety: pure functions, except where noted.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace facerec {

struct LfwPair {
  std::string a, b;  // image paths relative to the images root: Name/Name_0001.jpg
  bool same = false;
  int fold = 0;
};

// Reads pairs.txt (header "folds n", then per fold n matched "name i j" and n mismatched
// "name1 i name2 j" lines) or the View 1 files (header "n"). Throws Error(InvalidArgument)
// naming the line for anything malformed.
std::vector<LfwPair> read_lfw_pairs(const std::filesystem::path& file);

struct VerificationResult {
  int pairs = 0, failed_pairs = 0;    // failed: an image without a face; counted as wrong
  std::vector<double> fold_accuracy;  // each fold at the threshold chosen on the other folds
  std::vector<double> fold_threshold;
  double mean_accuracy = 0, std_accuracy = 0;
  double auc = 0, eer = 0;
};

// scores: cosine per pair, NaN where an image failed; folds: fold index per pair (0..k-1).
VerificationResult evaluate_verification(const std::vector<double>& scores, const std::vector<bool>& same,
                                         const std::vector<int>& folds);

// The threshold at which the false match rate over `impostor` scores is at most `fmr`
// (the smallest t with #(s >= t) / n <= fmr). Requires a non-empty list.
double threshold_at_fmr(std::vector<double> impostor, double fmr);
// Threshold maximising accuracy over the given scores (midpoint between neighbouring scores).
double best_accuracy_threshold(const std::vector<double>& scores, const std::vector<bool>& same);
// Fraction of genuine scores >= t.
double tar_at(const std::vector<double>& genuine, double t);

// Detection matching: each ground-truth box is matched to at most one detection (greedy by IoU,
// highest first) with IoU >= min_iou.
struct DetectionCounts {
  int true_positives = 0, false_positives = 0, false_negatives = 0;
  double recall() const;
  double precision() const;
};
struct Box {
  float x = 0, y = 0, w = 0, h = 0;
};
DetectionCounts match_detections(const std::vector<Box>& truth, const std::vector<Box>& found, double min_iou = 0.5);

// One image of a dlib imglab XML file (<image file=...><box top left width height [ignore]>).
struct LabelledImage {
  std::string file;
  std::vector<Box> boxes;  // boxes marked ignore='1' are left out
};
// Throws Error(NotFound | InvalidArgument) naming the file and the problem.
std::vector<LabelledImage> read_dlib_xml(const std::filesystem::path& file);

}  // namespace facerec
