// The detector factory (a model name, or two joined by '+'), the combination of two detectors,
// and the choice of the central face.
// Two detectors as one: every face of the first, plus the faces of the second that the first did
// not find (no box of the first overlaps it); or, joined by '>', the same but the second only on
// images where the first found no confident face spanning a quarter of the image's shorter side (a cascade:
// the expensive detector runs where it can add a face). With BlazeFace first and FaceBoxes second, BlazeFace
// keeps its boxes and keypoints and its small-face search, and FaceBoxes adds the faces BlazeFace
// misses (profiles, strongly turned or tilted heads).
#include <facerec/detect.hpp>
#include <facerec/error.hpp>
#include <facerec/face.hpp>

#include "detect/postprocess.hpp"

#include <algorithm>
#include <cmath>

namespace facerec {
namespace {

// Whether a confident detection (score >= kPortraitScore) spans at least kPortraitShare of the
// image's shorter side: a portrait (an ID photo, a selfie, an LFW-style photo), where the first
// stage of a cascade is trusted alone. (The short-range BlazeFace's false positives on dlib's
// testing.xml span up to 0.21 of the shorter side and score 0.52-0.64.)
constexpr float kPortraitShare = 0.25f, kPortraitScore = 0.75f;
bool frames_a_face(const std::vector<Detection>& dets, const cv::Size& image) {
  for (const auto& d : dets)
    if (d.score >= kPortraitScore &&
        std::max(d.box.width, d.box.height) >= kPortraitShare * float(std::min(image.width, image.height)))
      return true;
  return false;
}

// `fallback_only` ("a>b"): the second runs only on images where the first found no face that
// frames_a_face; where it runs, the first keeps its confident faces (score >= kPortraitScore) and
// the second's are added as with "a+b". A short-range model first thus settles portraits alone,
// and group photos and small faces still get the second model.
class CombinedDetector final : public FaceDetector {
 public:
  CombinedDetector(std::unique_ptr<FaceDetector> first, std::unique_ptr<FaceDetector> second, int max_faces,
                   bool fallback_only)
      : first_(std::move(first)), second_(std::move(second)), max_faces_(max_faces), fallback_only_(fallback_only) {}

  std::unique_ptr<FaceDetector> clone() const override {
    return std::make_unique<CombinedDetector>(first_->clone(), second_->clone(), max_faces_, fallback_only_);
  }

  std::vector<Detection> detect(const cv::Mat& bgr) override {
    auto out = first_->detect(bgr);
    if (fallback_only_ && frames_a_face(out, bgr.size())) {
      if (max_faces_ > 0 && int(out.size()) > max_faces_) out.resize(size_t(max_faces_));
      return out;
    }
    if (fallback_only_)  // the second model covers this photo: the first keeps only its confident faces
      out.erase(std::remove_if(out.begin(), out.end(), [](const Detection& d) { return d.score < kPortraitScore; }),
                out.end());
    const size_t n_first = out.size();
    for (auto& d : second_->detect(bgr)) {
      bool known = false;
      for (size_t i = 0; i < n_first && !known; ++i)
        known = detail::iou(out[i].box, d.box) > 0.1f ||
                (out[i].box & d.box).area() > 0.5f * std::min(out[i].box.area(), d.box.area());
      if (!known) out.push_back(std::move(d));
    }
    std::stable_sort(out.begin(), out.end(), [](const Detection& a, const Detection& b) { return a.score > b.score; });
    if (max_faces_ > 0 && int(out.size()) > max_faces_) out.resize(size_t(max_faces_));
    return out;
  }

 private:
  std::unique_ptr<FaceDetector> first_, second_;
  int max_faces_;
  bool fallback_only_;
};

}  // namespace

const Detection* nearest_to_centre(const std::vector<Detection>& dets, const cv::Size& image_size) {
  const Detection* best = nullptr;
  double best_d = 1e300;
  for (const auto& d : dets) {
    cv::Point2f c = (d.box.tl() + d.box.br()) * 0.5f;
    double dist = std::hypot(c.x - image_size.width / 2.0, c.y - image_size.height / 2.0);
    if (dist < best_d) {
      best_d = dist;
      best = &d;
    }
  }
  return best;
}

std::unique_ptr<FaceDetector> make_blazeface_detector(const Manifest& manifest, const DetectorOptions& options);
std::unique_ptr<FaceDetector> make_faceboxes_detector(const Manifest& manifest, const DetectorOptions& options);
std::unique_ptr<FaceDetector> make_mtcnn_detector(const Manifest& manifest, const DetectorOptions& options);

std::vector<std::string> detector_models(const std::string& name) {
  std::vector<std::string> parts;
  for (size_t start = 0;;) {
    size_t sep = name.find_first_of("+>", start);
    parts.push_back(name.substr(start, sep == std::string::npos ? std::string::npos : sep - start));
    if (sep == std::string::npos) break;
    start = sep + 1;
  }
  bool empty = false;
  for (const auto& p : parts) empty = empty || p.empty();
  if (empty || parts.size() > 3 || (parts.size() == 3 && name.find('+') != std::string::npos))
    throw Error(ErrorKind::InvalidArgument, "detector '" + name +
                                                "': expected one model, two joined by '+' (a+b) or '>' (a>b), or a "
                                                "cascade of three (a>b>c)");
  return parts;
}

std::unique_ptr<FaceDetector> make_detector(const Manifest& manifest, const DetectorOptions& options) {
  if (auto parts = detector_models(options.model); parts.size() > 1) {  // "a+b", "a>b", "a>b>c" = a>(b>c)
    DetectorOptions a = options, b = options;
    a.model = parts[0];
    b.model = options.model.substr(parts[0].size() + 1);
    a.max_faces = b.max_faces = 0;
    return std::make_unique<CombinedDetector>(make_detector(manifest, a), make_detector(manifest, b),
                                              options.max_faces, options.model[parts[0].size()] == '>');
  }
  const ModelEntry& entry = manifest.model(options.model);
  if (entry.family == "faceboxes") return make_faceboxes_detector(manifest, options);
  if (entry.family == "blazeface") return make_blazeface_detector(manifest, options);
  if (entry.family == "mtcnn") return make_mtcnn_detector(manifest, options);
  throw Error(ErrorKind::InvalidArgument, "model '" + options.model + "' is not a face detector (task " + entry.task +
                                              ", family '" + entry.family + "')");
}

}  // namespace facerec
