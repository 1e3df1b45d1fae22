// Landmarkers: face-api's 68-point network on a square crop around the detection, and the
// five-point derivations used for alignment.
#include <facerec/backend.hpp>
#include <facerec/error.hpp>
#include <facerec/face.hpp>
#include <facerec/landmarks.hpp>
#include <facerec/models.hpp>

#include "backend/session.hpp"
#include "image/preprocess.hpp"

#include <opencv2/imgproc.hpp>

namespace facerec {
namespace {

class FaceApi68 final : public Landmarker {
 public:
  std::unique_ptr<Landmarker> clone() const override { return std::make_unique<FaceApi68>(*this); }

  FaceApi68(const Manifest& manifest, const LandmarkerOptions& o) : opt_(o) {
    entry_ = manifest.model(o.model);
    if (entry_.task != "landmarks" || entry_.output_with_role("landmarks").shape.back() != 136)
      throw Error(ErrorKind::InvalidArgument, "model '" + o.model + "' is not a 68-point landmarker");
    BackendOptions bo;
    bo.threads = o.threads;
    net_ = load_backend(backend_for(entry_, o.backend), model_path(entry_).string(), bo);
    out_ = output_index(*net_, entry_.output_with_role("landmarks").name);
  }

  std::vector<cv::Point2f> landmarks(const cv::Mat& bgr, const Detection& face) override {
    auto pts =
        run(bgr, (face.box.tl() + face.box.br()) * 0.5f, opt_.crop_scale * std::max(face.box.width, face.box.height));
    for (int pass = 1; pass < opt_.passes; ++pass) {
      // re-centre on the points found: a crop framed like the ones the network was trained on
      float x0 = pts[0].x, y0 = pts[0].y, x1 = x0, y1 = y0;
      for (const auto& p : pts) {
        x0 = std::min(x0, p.x), y0 = std::min(y0, p.y), x1 = std::max(x1, p.x), y1 = std::max(y1, p.y);
      }
      cv::Rect2f b(x0, y0, x1 - x0, y1 - y0);
      pts = run(bgr, (b.tl() + b.br()) * 0.5f, opt_.refine_scale * std::max(b.width, b.height));
    }
    return pts;
  }

 private:
  std::vector<cv::Point2f> run(const cv::Mat& bgr, cv::Point2f centre, float side) {
    const int S = entry_.input.width;
    float x0 = centre.x - side / 2, y0 = centre.y - side / 2;
    double k = double(side) / S;
    cv::Mat m = (cv::Mat_<double>(2, 3) << k, 0, x0, 0, k, y0);
    cv::Mat crop = detail::warp_crop(bgr, m, cv::Size(S, S));
    Tensor in({1, 3, S, S});
    detail::fill_input(in, 0, crop, entry_.input);
    auto v = net_->run({in}).at(out_).data;
    if (opt_.flip) {  // average with the points found on the mirror image, mirrored back
      detail::fill_input(in, 0, crop, entry_.input, true);
      auto mv = net_->run({in}).at(out_).data;
      for (size_t i = 0; i < 68; ++i) {
        size_t j = ibug68_mirror(i);
        v[2 * i] = 0.5f * (v[2 * i] + (1.f - mv[2 * j]));
        v[2 * i + 1] = 0.5f * (v[2 * i + 1] + mv[2 * j + 1]);
      }
    }
    std::vector<cv::Point2f> pts(68);
    for (size_t i = 0; i < 68; ++i) pts[i] = cv::Point2f(x0 + v[2 * i] * side, y0 + v[2 * i + 1] * side);
    return pts;
  }

  LandmarkerOptions opt_;
  ModelEntry entry_;
  detail::SessionPtr net_;
  size_t out_ = 0;
};

// MediaPipe FaceMesh on an upright crop: 1.5x the detection box around its centre, rotated so that
// the detector's eye keypoints are level (as MediaPipe frames its region of interest).
class FaceMesh final : public Landmarker {
 public:
  std::unique_ptr<Landmarker> clone() const override { return std::make_unique<FaceMesh>(*this); }

  FaceMesh(const Manifest& manifest, const LandmarkerOptions& o) {
    entry_ = manifest.model(o.model);
    BackendOptions bo;
    bo.threads = o.threads;
    net_ = load_backend(backend_for(entry_, o.backend), model_path(entry_).string(), bo);
    mesh_ = output_index(*net_, entry_.output_with_role("mesh").name);
  }

  std::vector<cv::Point2f> landmarks(const cv::Mat& bgr, const Detection& face) override {
    const int S = entry_.input.width;
    cv::Point2f c = (face.box.tl() + face.box.br()) * 0.5f;
    float side = 1.5f * std::max(face.box.width, face.box.height);
    double angle = 0;
    if (face.keypoints.size() >= 2) {
      cv::Point2f d = face.keypoints[1] - face.keypoints[0];
      angle = std::atan2(double(d.y), double(d.x));
    }
    // crop (u, v) -> image: centre + R(angle) * ((u, v) - S/2) * side / S
    double k = double(side) / S, ca = std::cos(angle) * k, sa = std::sin(angle) * k;
    cv::Mat m =
        (cv::Mat_<double>(2, 3) << ca, -sa, c.x - ca * S / 2 + sa * S / 2, sa, ca, c.y - sa * S / 2 - ca * S / 2);
    cv::Mat crop = detail::warp_crop(bgr, m, cv::Size(S, S));
    Tensor in({1, 3, S, S});
    detail::fill_input(in, 0, crop, entry_.input);
    auto outs = net_->run({in});
    const auto& v = outs.at(mesh_).data;
    std::vector<cv::Point2f> pts(468);
    for (size_t i = 0; i < 468; ++i) {
      double u = v[3 * i], w = v[3 * i + 1];
      pts[i] = cv::Point2f(float(m.at<double>(0, 0) * u + m.at<double>(0, 1) * w + m.at<double>(0, 2)),
                           float(m.at<double>(1, 0) * u + m.at<double>(1, 1) * w + m.at<double>(1, 2)));
    }
    return pts;
  }

 private:
  ModelEntry entry_;
  detail::SessionPtr net_;
  size_t mesh_ = 0;
};

class NoLandmarks final : public Landmarker {
 public:
  std::vector<cv::Point2f> landmarks(const cv::Mat&, const Detection&) override { return {}; }
  std::unique_ptr<Landmarker> clone() const override { return std::make_unique<NoLandmarks>(); }
};

cv::Point2f mean_of(const std::vector<cv::Point2f>& p, size_t a, size_t b) {
  cv::Point2f s(0, 0);
  for (size_t i = a; i <= b; ++i) s += p[i];
  return s * (1.f / float(b - a + 1));
}

}  // namespace

std::unique_ptr<Landmarker> make_landmarker(const Manifest& manifest, const LandmarkerOptions& options) {
  if (options.model == "none") return std::make_unique<NoLandmarks>();
  const ModelEntry& entry = manifest.model(options.model);
  if (entry.task == "landmarks" && entry.family == "facemesh") return std::make_unique<FaceMesh>(manifest, options);
  if (entry.task == "landmarks" && entry.family == "ibug68") return std::make_unique<FaceApi68>(manifest, options);
  throw Error(ErrorKind::InvalidArgument,
              "model '" + options.model + "' is not a landmarker (task " + entry.task + ")");
}

// The iBUG 68-point index of each point's mirror image (left and right swap).
size_t ibug68_mirror(size_t i) {
  if (i >= 68) throw Error(ErrorKind::InvalidArgument, "ibug68_mirror: index " + std::to_string(i) + " is not below 68");
  static const int m[68] = {16, 15, 14, 13, 12, 11, 10, 9,  8,  7,  6,  5,  4,  3,  2,  1,  0,  26, 25, 24, 23, 22, 21,
                            20, 19, 18, 17, 27, 28, 29, 30, 35, 34, 33, 32, 31, 45, 44, 43, 42, 47, 46, 39, 38, 37, 36,
                            41, 40, 54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55, 64, 63, 62, 61, 60, 67, 66, 65};
  return size_t(m[i]);
}

FivePoints five_from_68(const std::vector<cv::Point2f>& l) {
  if (l.size() != 68) throw Error(ErrorKind::InvalidArgument, "five_from_68 needs 68 points");
  // iBUG 68: 36-41 the image-left eye, 42-47 the image-right eye, 30 nose tip, 48/54 mouth corners
  return {mean_of(l, 36, 41), mean_of(l, 42, 47), l[30], l[48], l[54]};
}

FivePoints five_points(const std::vector<cv::Point2f>& l, const Detection& d) {
  if (l.size() == 68) return five_from_68(l);
  if (l.size() == 468) {
    // FaceMesh: eye corners 33/133 (image-left eye) and 362/263, nose tip 1, mouth corners 61/291
    return {(l[33] + l[133]) * 0.5f, (l[362] + l[263]) * 0.5f, l[1], l[61], l[291]};
  }
  return five_from_detection(d);
}

FivePoints five_from_detection(const Detection& d) {
  if (d.keypoints.size() == 5)  // MTCNN: the five points in ArcFace order
    return {d.keypoints[0], d.keypoints[1], d.keypoints[2], d.keypoints[3], d.keypoints[4]};
  if (d.keypoints.size() < 4) throw Error(ErrorKind::InvalidArgument, "detection has no keypoints");
  // BlazeFace gives the mouth centre; in the ArcFace template the mouth corners sit half the mouth
  // width (29.18 px) apart from the centre along the eye line, the eyes 35.24 px apart: 0.414 each.
  cv::Point2f le = d.keypoints[0], re = d.keypoints[1], nose = d.keypoints[2], mouth = d.keypoints[3];
  cv::Point2f eye_dir = re - le;
  const float half = 0.5f * (70.7299f - 41.5493f) / (73.5318f - 38.2946f);
  return {le, re, nose, mouth - eye_dir * half, mouth + eye_dir * half};
}

}  // namespace facerec
