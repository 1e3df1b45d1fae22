// Re-posing a face: the 3D mesh lifted from its FaceMesh points, turned, re-rendered (see repose.hpp).
#include <facerec/error.hpp>
#include <facerec/repose.hpp>

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <numeric>
#include <string>

namespace facerec {
namespace {

// Twice the signed area of the triangle (a, b, c) in the image plane.
double signed_area2(const cv::Point2d& a, const cv::Point2d& b, const cv::Point2d& c) {
  return (b.x - a.x) * (c.y - a.y) - (c.x - a.x) * (b.y - a.y);
}

// Warps the triangle `src` of `from` onto the triangle `dst` of `to` (affine), marking `cover`.
void warp_triangle(const cv::Mat& from, cv::Mat& to, cv::Mat& cover, const std::array<cv::Point2f, 3>& src,
                   const std::array<cv::Point2f, 3>& dst) {
  const cv::Rect box =
      cv::boundingRect(std::vector<cv::Point2f>(dst.begin(), dst.end())) & cv::Rect(0, 0, to.cols, to.rows);
  if (box.width <= 0 || box.height <= 0) return;
  std::array<cv::Point2f, 3> local;
  std::array<cv::Point, 3> poly;
  for (int k = 0; k < 3; ++k) {
    local[size_t(k)] = dst[size_t(k)] - cv::Point2f(float(box.x), float(box.y));
    poly[size_t(k)] = cv::Point(int(std::lround(local[size_t(k)].x)), int(std::lround(local[size_t(k)].y)));
  }
  const cv::Mat m = cv::getAffineTransform(src.data(), local.data());
  cv::Mat patch;
  cv::warpAffine(from, patch, m, box.size(), cv::INTER_LINEAR, cv::BORDER_REFLECT_101);
  cv::Mat mask = cv::Mat::zeros(box.size(), CV_8U);
  cv::fillConvexPoly(mask, poly.data(), 3, cv::Scalar(255), cv::LINE_8);
  patch.copyTo(to(box), mask);
  cover(box).setTo(cv::Scalar(255), mask);
}

// The image and points turn() needs. Throws Error(InvalidArgument) naming what is wrong.
void check_face(const cv::Mat& bgr, const std::vector<cv::Point2f>& points, const FaceModel3D& model) {
  if (bgr.empty() || bgr.type() != CV_8UC3)
    throw Error(ErrorKind::InvalidArgument, "repose: needs a non-empty 8-bit BGR image");
  if (points.size() != model.vertices.size())
    throw Error(ErrorKind::InvalidArgument, "repose: " + std::to_string(points.size()) + " points for a model of " +
                                                std::to_string(model.vertices.size()) +
                                                " vertices (FaceMesh's 468 are needed)");
}

}  // namespace

std::vector<int> mirror_vertices(const FaceModel3D& model) {
  if (model.vertices.empty()) throw Error(ErrorKind::InvalidArgument, "mirror_vertices: an empty model");
  double mx = 0;
  for (const auto& v : model.vertices) mx += v.x;
  mx /= double(model.vertices.size());
  std::vector<int> mirror(model.vertices.size());
  for (size_t i = 0; i < model.vertices.size(); ++i) {
    const cv::Point3d r(2 * mx - model.vertices[i].x, model.vertices[i].y, model.vertices[i].z);
    double best = 1e300;
    for (size_t j = 0; j < model.vertices.size(); ++j) {
      const cv::Point3d d = cv::Point3d(model.vertices[j]) - r;
      const double dd = d.dot(d);
      if (dd < best) {
        best = dd;
        mirror[i] = int(j);
      }
    }
  }
  return mirror;
}

FaceReposer::FaceReposer(FaceModel3D model) : model_(std::move(model)) {
  if (model_.vertices.size() < 6)
    throw Error(ErrorKind::InvalidArgument, "repose: the face model has under 6 vertices");
  if (model_.triangles.empty()) throw Error(ErrorKind::InvalidArgument, "repose: the face model has no triangles");
  for (const auto& t : model_.triangles)
    for (int v : t)
      if (v < 0 || size_t(v) >= model_.vertices.size())
        throw Error(ErrorKind::InvalidArgument, "repose: a triangle names a missing vertex");
  mirror_ = mirror_vertices(model_);
  // which way a triangle facing the camera winds: as most of the frontal model's do
  double frontal = 0;
  for (const auto& t : model_.triangles) {
    const auto &a = model_.vertices[size_t(t[0])], &b = model_.vertices[size_t(t[1])],
               &c = model_.vertices[size_t(t[2])];
    frontal += signed_area2({a.x, a.y}, {b.x, b.y}, {c.x, c.y});
  }
  facing_ = frontal >= 0 ? 1.0 : -1.0;
}

ReposedFace repose_face(const cv::Mat& bgr, const std::vector<cv::Point2f>& points, const FaceModel3D& model,
                        double yaw_delta, double pitch_delta, const ReposeOptions& options) {
  const FaceReposer r(model);
  check_face(bgr, points, model);  // before the fit, which would say less
  return r.turn(bgr, points, estimate_head_pose(points, model, bgr.size(), options.focal_px), yaw_delta, pitch_delta,
                options);
}

ReposedFace FaceReposer::turn(const cv::Mat& bgr, const std::vector<cv::Point2f>& points, const HeadPose& source,
                              double yaw_delta, double pitch_delta, const ReposeOptions& options) const {
  const FaceModel3D& model = model_;
  check_face(bgr, points, model);
  if (!(std::abs(yaw_delta) <= 90 && std::abs(pitch_delta) <= 90))
    throw Error(ErrorKind::InvalidArgument, "repose: turns of at most 90 degrees");

  ReposedFace out;
  const cv::Size size = bgr.size();
  out.source = source;
  const auto& h = out.source;
  if (options.max_fit_px > 0 && h.reprojection_error > options.max_fit_px)
    throw Error(ErrorKind::BadInput, "repose: the face model fits the points to " +
                                         std::to_string(h.reprojection_error) + " px (more than " +
                                         std::to_string(options.max_fit_px) + ")");
  const double f = options.focal_px > 0 ? options.focal_px : double(std::max(size.width, size.height));
  const double cx = size.width / 2.0, cy = size.height / 2.0;
  out.yaw = h.yaw + yaw_delta;
  out.pitch = h.pitch + pitch_delta;

  // lift: each point at its image position with its vertex's depth in the fitted model; then turn
  // about the model's origin
  const cv::Matx33d turn = rotation_from_angles(out.yaw, out.pitch, h.roll) * h.rotation.t();
  const size_t n = points.size();
  std::vector<cv::Point2f> target(n);
  std::vector<double> depth(n);
  for (size_t i = 0; i < n; ++i) {
    const cv::Vec3d v =
        h.rotation * cv::Vec3d(model.vertices[i].x, model.vertices[i].y, model.vertices[i].z) + h.translation;
    const double z = std::max(v[2], 1e-6);
    const cv::Vec3d p((points[i].x - cx) * z / f, (points[i].y - cy) * z / f, z);
    const cv::Vec3d w = h.translation + turn * (p - h.translation);
    if (!(w[2] > 1e-6)) throw Error(ErrorKind::InvalidArgument, "repose: the turned face passes behind the camera");
    depth[i] = w[2];
    target[i] = cv::Point2f(float(f * w[0] / w[2] + cx), float(f * w[1] / w[2] + cy));
  }

  const double facing = facing_;
  auto area = [&](const std::vector<cv::Point2f>& p, int a, int b, int c) {
    return facing * signed_area2(p[size_t(a)], p[size_t(b)], p[size_t(c)]);
  };
  const auto& mirror = mirror_;

  // far to near
  std::vector<size_t> order(model.triangles.size());
  std::iota(order.begin(), order.end(), size_t(0));
  auto mean_depth = [&](size_t k) {
    const auto& t = model.triangles[k];
    return depth[size_t(t[0])] + depth[size_t(t[1])] + depth[size_t(t[2])];
  };
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return mean_depth(a) > mean_depth(b); });

  cv::Mat render = bgr.clone(), cover = cv::Mat::zeros(size, CV_8U);
  double drawn = 0, mirrored = 0;
  for (size_t k : order) {
    const auto& t = model.triangles[k];
    const double dst_area = area(target, t[0], t[1], t[2]);
    if (dst_area <= 1e-6) continue;  // faces away after the turn (or degenerate)
    std::array<cv::Point2f, 3> src, dst;
    for (int j = 0; j < 3; ++j) dst[size_t(j)] = target[size_t(t[size_t(j)])];
    if (area(points, t[0], t[1], t[2]) > 1e-6) {
      for (int j = 0; j < 3; ++j) src[size_t(j)] = points[size_t(t[size_t(j)])];
    } else {
      // the photo shows this triangle from behind: its mirror triangle's texture, reflected (the
      // reflection reverses the winding, so a mirror triangle facing the camera has negative area)
      const int a = mirror[size_t(t[0])], b = mirror[size_t(t[1])], c = mirror[size_t(t[2])];
      if (!(area(points, a, b, c) < -1e-6)) continue;
      src = {points[size_t(a)], points[size_t(b)], points[size_t(c)]};
      mirrored += dst_area;
    }
    drawn += dst_area;
    warp_triangle(bgr, render, cover, src, dst);
  }
  out.mirrored_share = drawn > 0 ? mirrored / drawn : 0;
  out.face_box = cv::boundingRect(target) & cv::Rect(0, 0, size.width, size.height);
  out.points = target;

  // blend through the feathered coverage
  const double feather = options.feather_px > 0 ? options.feather_px : std::max(1.0, 0.02 * out.face_box.width);
  const int e = std::max(1, int(std::lround(feather)));
  cv::Mat alpha;
  cv::erode(cover, alpha, cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(2 * e + 1, 2 * e + 1)));
  alpha.convertTo(alpha, CV_32F, 1.0 / 255);
  cv::GaussianBlur(alpha, alpha, cv::Size(0, 0), feather / 2 + 0.5);
  cv::Mat a3, src32, dst32;
  cv::merge(std::vector<cv::Mat>{alpha, alpha, alpha}, a3);
  render.convertTo(src32, CV_32FC3);
  bgr.convertTo(dst32, CV_32FC3);
  cv::Mat blended = src32.mul(a3) + dst32.mul(cv::Scalar::all(1.0) - a3);
  blended.convertTo(out.image, CV_8UC3);
  return out;
}

}  // namespace facerec
