#pragma once
// facerec::LivenessChecker — presentation-attack detection: is the face in front of the camera a
// live person or a printed (or replayed) photo of one?
//
// What it represents: a liveness network (a manifest entry of task "liveness") with the crop it
// reads — the detection box made square, `crop_scale` box sizes wide, black outside the image,
// resized to the network's input — and the rule that turns its outputs into one score, higher for
// a live face: the output of role "live_probability" as it is, or for a deep-tree network
// (outputs of roles "leaf_scores" and "leaf_mask") 1 - sum_i |score_i| * mask_i. The decision
// threshold is the manifest's threshold "live" (calibrated with `facerec eval liveness`).
// Thread safety: NOT safe to call from several threads at once (it owns a backend session); one
// per thread (clone()). make_liveness_checker is thread safe.
#include <facerec/models.hpp>

#include <opencv2/core.hpp>

#include <memory>
#include <string>

namespace facerec {

struct LivenessOptions {
  std::string model = "face-anti-spoofing";
  std::string backend = "opencv-dnn";
  int threads = 0;
  double crop_scale = 0;  // 0: the manifest's (the crop the network was trained on)
};

struct LivenessResult {
  float score = 0;       // higher: more likely live (the model's own scale)
  double threshold = 0;  // the manifest's "live" threshold
  bool live = false;     // score >= threshold
};

class LivenessChecker {
 public:
  virtual ~LivenessChecker() = default;
  // The network's input crop for the face in `box`. Requires an 8-bit BGR image and a box of
  // positive size (Error(InvalidArgument) otherwise). Pure.
  virtual cv::Mat crop(const cv::Mat& bgr, const cv::Rect2f& box) const = 0;
  // The liveness score of the face in `box` (throws as crop, and Error(Internal) when the runtime
  // fails or Error(BadModel) when its outputs do not fit the manifest).
  virtual float score(const cv::Mat& bgr, const cv::Rect2f& box) = 0;
  // score() against the manifest's threshold. Throws Error(NotFound) when the model has no
  // calibrated "live" threshold, and what score() throws.
  virtual LivenessResult check(const cv::Mat& bgr, const cv::Rect2f& box) = 0;
  // The manifest's calibrated "live" threshold. Throws Error(NotFound) when the model has none.
  virtual double threshold() const = 0;
  virtual std::string model() const = 0;
  virtual std::unique_ptr<LivenessChecker> clone() const = 0;
};

// Creates the checker `options` names. Throws Error(InvalidArgument) for a model of another task
// or crop_scale < 0, Error(NotFound) for one the manifest lacks or that is not imported,
// Error(BadModel) when the entry has neither a "live_probability" output nor the two deep-tree
// outputs.
std::unique_ptr<LivenessChecker> make_liveness_checker(const Manifest& manifest, const LivenessOptions& options = {});

}  // namespace facerec
