// Landmarkers: face-api's 68-point network on a square crop around the detection, and the
// five-point derivations used for alignment.
#include <facerec/backend.hpp>
#include <facerec/error.hpp>
#include <facerec/face.hpp>
#include <facerec/models.hpp>

#include "image/preprocess.hpp"

namespace facerec {
namespace {

class FaceApi68 final : public Landmarker {
 public:
  explicit FaceApi68(const LandmarkerOptions& o) : opt_(o) {
    entry_ = Manifest::load_default().model(o.model);
    if (entry_.task != "landmarks" || entry_.outputs.empty() || entry_.outputs[0].shape.back() != 136)
      throw Error(ErrorKind::InvalidArgument, "model '" + o.model + "' is not a 68-point landmarker");
    BackendOptions bo;
    bo.threads = o.threads;
    net_ = load_backend(o.backend, model_path(entry_).string(), bo);
  }

  std::vector<cv::Point2f> landmarks(const cv::Mat& bgr, const Detection& face) override {
    const int S = entry_.input.width;
    float side = opt_.crop_scale * std::max(face.box.width, face.box.height);
    float x0 = face.box.x + face.box.width / 2 - side / 2, y0 = face.box.y + face.box.height / 2 - side / 2;
    double k = double(side) / S;
    cv::Mat m = (cv::Mat_<double>(2, 3) << k, 0, x0, 0, k, y0);
    cv::Mat crop = detail::warp_crop(bgr, m, cv::Size(S, S));
    Tensor in({1, 3, S, S});
    detail::fill_input(in, 0, crop, entry_.input);
    auto out = net_->run({in});
    const auto& v = out.at(0).data;
    std::vector<cv::Point2f> pts(68);
    for (size_t i = 0; i < 68; ++i) pts[i] = cv::Point2f(x0 + v[2 * i] * side, y0 + v[2 * i + 1] * side);
    return pts;
  }

 private:
  LandmarkerOptions opt_;
  ModelEntry entry_;
  std::unique_ptr<InferenceBackend> net_;
};

class NoLandmarks final : public Landmarker {
 public:
  std::vector<cv::Point2f> landmarks(const cv::Mat&, const Detection&) override { return {}; }
};

cv::Point2f mean_of(const std::vector<cv::Point2f>& p, size_t a, size_t b) {
  cv::Point2f s(0, 0);
  for (size_t i = a; i <= b; ++i) s += p[i];
  return s * (1.f / float(b - a + 1));
}

}  // namespace

std::unique_ptr<Landmarker> make_landmarker(const LandmarkerOptions& options) {
  if (options.model == "none") return std::make_unique<NoLandmarks>();
  return std::make_unique<FaceApi68>(options);
}

FivePoints five_from_68(const std::vector<cv::Point2f>& l) {
  if (l.size() != 68) throw Error(ErrorKind::InvalidArgument, "five_from_68 needs 68 points");
  // iBUG 68: 36-41 the image-left eye, 42-47 the image-right eye, 30 nose tip, 48/54 mouth corners
  return {mean_of(l, 36, 41), mean_of(l, 42, 47), l[30], l[48], l[54]};
}

FivePoints five_from_detection(const Detection& d) {
  if (d.keypoints.size() < 4) throw Error(ErrorKind::InvalidArgument, "detection has no keypoints");
  // BlazeFace gives the mouth centre; in the ArcFace template the mouth corners sit half the mouth
  // width (29.18 px) apart from the centre along the eye line, the eyes 35.24 px apart: 0.414 each.
  cv::Point2f le = d.keypoints[0], re = d.keypoints[1], nose = d.keypoints[2], mouth = d.keypoints[3];
  cv::Point2f eye_dir = re - le;
  const float half = 0.5f * (70.7299f - 41.5493f) / (73.5318f - 38.2946f);
  return {le, re, nose, mouth - eye_dir * half, mouth + eye_dir * half};
}

}  // namespace facerec
