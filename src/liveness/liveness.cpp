#include <facerec/backend.hpp>
#include <facerec/error.hpp>
#include <facerec/liveness.hpp>

#include "backend/session.hpp"
#include "image/preprocess.hpp"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <optional>

namespace facerec {
namespace {

class Checker final : public LivenessChecker {
 public:
  Checker(const Manifest& manifest, const LivenessOptions& o) : opt_(o), entry_(manifest.model(o.model)) {
    if (entry_.task != "liveness")
      throw Error(ErrorKind::InvalidArgument,
                  "model '" + o.model + "' is not a liveness model (task " + entry_.task + ")");
    if (o.crop_scale < 0) throw Error(ErrorKind::InvalidArgument, "liveness: crop_scale must be >= 0");
    scale_ = o.crop_scale > 0 ? o.crop_scale : entry_.crop_scale;
    for (size_t i = 0; i < entry_.outputs.size(); ++i) {
      const auto& r = entry_.outputs[i].role;
      if (r == "live_probability") live_ = int(i);
      if (r == "leaf_scores") leaf_scores_ = int(i);
      if (r == "leaf_mask") leaf_mask_ = int(i);
    }
    if (live_ < 0 && (leaf_scores_ < 0 || leaf_mask_ < 0))
      throw Error(ErrorKind::BadModel, "liveness model '" + o.model +
                                           "' has neither a \"live_probability\" output nor \"leaf_scores\" and "
                                           "\"leaf_mask\" outputs");
    for (const auto& [k, v] : entry_.thresholds)
      if (k == "live") threshold_ = v;
    BackendOptions bo;
    bo.threads = o.threads;
    net_ = load_backend(backend_for(entry_, o.backend), model_path(entry_).string(), bo);
  }

  cv::Mat crop(const cv::Mat& bgr, const cv::Rect2f& box) const override {
    if (bgr.empty() || bgr.type() != CV_8UC3)
      throw Error(ErrorKind::InvalidArgument, "liveness: expected an 8-bit BGR image");
    if (!(box.width > 0 && box.height > 0) || !std::isfinite(box.x) || !std::isfinite(box.y))
      throw Error(ErrorKind::InvalidArgument, "liveness: the face box must have a positive size");
    const double side = scale_ * std::max(box.width, box.height);
    const double cx = box.x + box.width / 2.0, cy = box.y + box.height / 2.0;
    const int S = entry_.input.width;
    const double k = side / S;  // image pixels per crop pixel
    cv::Mat m = (cv::Mat_<double>(2, 3) << k, 0, cx - side / 2 + 0.5 * k - 0.5, 0, k, cy - side / 2 + 0.5 * k - 0.5);
    // a large face shrinks: smooth first so that the bilinear samples do not alias
    if (k > 2) {
      cv::Mat small;
      const double f = 2 / k;
      cv::resize(bgr, small, cv::Size(), f, f, cv::INTER_AREA);
      m.at<double>(0, 0) = m.at<double>(1, 1) = k * f;
      m.at<double>(0, 2) = (m.at<double>(0, 2) + 0.5) * f - 0.5;
      m.at<double>(1, 2) = (m.at<double>(1, 2) + 0.5) * f - 0.5;
      return detail::warp_crop(small, m, cv::Size(S, entry_.input.height));
    }
    return detail::warp_crop(bgr, m, cv::Size(S, entry_.input.height));
  }

  float score(const cv::Mat& bgr, const cv::Rect2f& box) override {
    cv::Mat c = crop(bgr, box);
    Tensor in({1, 3, entry_.input.height, entry_.input.width});
    detail::fill_input(in, 0, c, entry_.input);
    auto outs = net_->run({in});
    if (live_ >= 0) {
      const size_t at = size_t(entry_.outputs[size_t(live_)].index);
      if (size_t(live_) >= outs.size() || outs[size_t(live_)].data.size() <= at)
        throw Error(ErrorKind::BadModel, "liveness model '" + entry_.name + "' gave no live probability");
      return outs[size_t(live_)].data[at];
    }
    if (size_t(std::max(leaf_scores_, leaf_mask_)) >= outs.size() ||
        outs[size_t(leaf_scores_)].data.size() != outs[size_t(leaf_mask_)].data.size())
      throw Error(ErrorKind::BadModel, "liveness model '" + entry_.name + "': leaf outputs do not match");
    double spoof = 0;
    const auto& s = outs[size_t(leaf_scores_)].data;
    const auto& m = outs[size_t(leaf_mask_)].data;
    for (size_t i = 0; i < s.size(); ++i) spoof += std::abs(double(s[i])) * m[i];
    return float(1 - spoof);
  }

  LivenessResult check(const cv::Mat& bgr, const cv::Rect2f& box) override {
    LivenessResult r;
    r.threshold = threshold();
    r.score = score(bgr, box);
    r.live = r.score >= r.threshold;
    return r;
  }

  double threshold() const override {
    if (!threshold_)
      throw Error(ErrorKind::NotFound, "no calibrated \"live\" threshold for liveness model " + entry_.name +
                                           " in the manifest (calibrate with `facerec eval liveness --calibrate`)");
    return *threshold_;
  }
  std::string model() const override { return entry_.name; }
  std::unique_ptr<LivenessChecker> clone() const override { return std::make_unique<Checker>(*this); }

 private:
  LivenessOptions opt_;
  ModelEntry entry_;
  double scale_ = 1;
  int live_ = -1, leaf_scores_ = -1, leaf_mask_ = -1;
  std::optional<double> threshold_;
  detail::SessionPtr net_;
};

}  // namespace

std::unique_ptr<LivenessChecker> make_liveness_checker(const Manifest& manifest, const LivenessOptions& options) {
  return std::make_unique<Checker>(manifest, options);
}

}  // namespace facerec
