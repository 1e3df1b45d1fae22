// Head pose by perspective n-point against a 3D face model (see head_pose.hpp).
#include <facerec/error.hpp>
#include <facerec/head_pose.hpp>

#include <opencv2/calib3d.hpp>

#include <cmath>
#include <fstream>
#include <sstream>
#include <string>

namespace facerec {
namespace {

constexpr double kDeg = 3.14159265358979323846 / 180.0;

cv::Matx33d camera_matrix(cv::Size image, double focal_px) {
  const double f = focal_px > 0 ? focal_px : double(std::max(image.width, image.height));
  return {f, 0, image.width / 2.0, 0, f, image.height / 2.0, 0, 0, 1};
}

}  // namespace

FaceModel3D load_face_model_obj(const std::filesystem::path& obj) {
  std::ifstream in(obj);
  if (!in) throw Error(ErrorKind::NotFound, "face model: cannot read " + obj.string());
  FaceModel3D m;
  std::vector<std::array<int, 3>> faces;
  int n = 0;
  for (std::string line; std::getline(in, line);) {
    ++n;
    std::istringstream ls(line);
    std::string tag;
    ls >> tag;
    auto bad = [&] {
      return Error(ErrorKind::BadInput,
                   obj.string() + " line " + std::to_string(n) + ": malformed '" + tag + "' record");
    };
    if (tag == "v") {
      float x, y, z;
      if (!(ls >> x >> y >> z) || !std::isfinite(x) || !std::isfinite(y) || !std::isfinite(z)) throw bad();
      m.vertices.emplace_back(x, -y, -z);  // y up, +z to the viewer -> y down, z away from the camera
    } else if (tag == "f") {
      std::array<int, 3> t{};
      for (auto& v : t) {
        std::string ref;
        if (!(ls >> ref)) throw bad();
        try {
          v = std::stoi(ref.substr(0, ref.find('/'))) - 1;  // "v/vt" or "v"
        } catch (const std::exception&) {
          throw bad();
        }
      }
      faces.push_back(t);
    }
  }
  if (m.vertices.empty()) throw Error(ErrorKind::BadInput, obj.string() + ": no vertices");
  for (const auto& t : faces)
    for (int v : t)
      if (v < 0 || v >= int(m.vertices.size()))
        throw Error(ErrorKind::BadInput, obj.string() + ": a triangle names vertex " + std::to_string(v + 1) + " of " +
                                             std::to_string(m.vertices.size()));
  m.triangles = std::move(faces);
  return m;
}

cv::Matx33d rotation_from_angles(double yaw, double pitch, double roll) {
  const double a = -yaw * kDeg, b = pitch * kDeg, c = roll * kDeg;
  const cv::Matx33d ry(std::cos(a), 0, std::sin(a), 0, 1, 0, -std::sin(a), 0, std::cos(a));
  const cv::Matx33d rx(1, 0, 0, 0, std::cos(b), -std::sin(b), 0, std::sin(b), std::cos(b));
  const cv::Matx33d rz(std::cos(c), -std::sin(c), 0, std::sin(c), std::cos(c), 0, 0, 0, 1);
  return ry * rx * rz;
}

std::vector<cv::Point2f> project_face_model(const FaceModel3D& model, const cv::Matx33d& rotation,
                                            const cv::Vec3d& translation, cv::Size image, double focal_px) {
  const auto k = camera_matrix(image, focal_px);
  std::vector<cv::Point2f> out;
  out.reserve(model.vertices.size());
  for (const auto& v : model.vertices) {
    const cv::Vec3d p = rotation * cv::Vec3d(v.x, v.y, v.z) + translation;
    out.emplace_back(float(k(0, 0) * p[0] / p[2] + k(0, 2)), float(k(1, 1) * p[1] / p[2] + k(1, 2)));
  }
  return out;
}

HeadPose estimate_head_pose(const std::vector<cv::Point2f>& points, const FaceModel3D& model, cv::Size image,
                            double focal_px) {
  if (model.vertices.size() < 6 || points.size() != model.vertices.size())
    throw Error(ErrorKind::InvalidArgument, "head pose: " + std::to_string(points.size()) + " points for a model of " +
                                                std::to_string(model.vertices.size()) + " vertices (6 or more)");
  if (image.width <= 0 || image.height <= 0) throw Error(ErrorKind::InvalidArgument, "head pose: empty image size");
  for (const auto& p : points)
    if (!std::isfinite(p.x) || !std::isfinite(p.y))
      throw Error(ErrorKind::InvalidArgument, "head pose: a point is not finite");
  const auto k = camera_matrix(image, focal_px);
  cv::Mat rvec, tvec;
  // start from a frontal face at a distance that makes the model as wide as the points
  float lo = points[0].x, hi = points[0].x, mlo = model.vertices[0].x, mhi = model.vertices[0].x;
  cv::Point2f c(0, 0);
  for (size_t i = 0; i < points.size(); ++i) {
    lo = std::min(lo, points[i].x), hi = std::max(hi, points[i].x);
    mlo = std::min(mlo, model.vertices[i].x), mhi = std::max(mhi, model.vertices[i].x);
    c += points[i];
  }
  c *= 1.0f / float(points.size());
  const double z = k(0, 0) * double(mhi - mlo) / std::max(1.0, double(hi - lo));
  rvec = cv::Mat::zeros(3, 1, CV_64F);
  tvec = (cv::Mat_<double>(3, 1) << (c.x - k(0, 2)) * z / k(0, 0), (c.y - k(1, 2)) * z / k(1, 1), z);
  cv::solvePnP(model.vertices, points, cv::Mat(k), cv::noArray(), rvec, tvec, true, cv::SOLVEPNP_ITERATIVE);
  HeadPose h;
  cv::Mat r;
  cv::Rodrigues(rvec, r);
  h.rotation = cv::Matx33d(r);
  h.translation = cv::Vec3d(tvec.at<double>(0), tvec.at<double>(1), tvec.at<double>(2));
  // R = Ry(a) Rx(b) Rz(c): R(1,2) = -sin b, R(0,2)/R(2,2) = tan a, R(1,0)/R(1,1) = tan c
  const auto& R = h.rotation;
  const double b = std::asin(std::clamp(-R(1, 2), -1.0, 1.0));
  h.yaw = -std::atan2(R(0, 2), R(2, 2)) / kDeg;
  h.pitch = b / kDeg;
  h.roll = std::atan2(R(1, 0), R(1, 1)) / kDeg;
  const auto proj = project_face_model(model, h.rotation, h.translation, image, focal_px);
  double se = 0;
  for (size_t i = 0; i < proj.size(); ++i) {
    const cv::Point2f d = proj[i] - points[i];
    se += double(d.x) * d.x + double(d.y) * d.y;
  }
  h.reprojection_error = std::sqrt(se / double(proj.size()));
  return h;
}

}  // namespace facerec
