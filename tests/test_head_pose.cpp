// Head pose (head_pose.hpp): a 3D face model posed at known angles and projected by a pinhole
// camera gives back its angles; the signs mean what the header says; noise costs little; bad
// models and inputs are clear errors.
#include "test_util.hpp"

#include <facerec/error.hpp>
#include <facerec/head_pose.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <random>

namespace facerec {
namespace {

// A face-sized point cloud (cm), nose towards the camera (smallest z), when the shared mesh is absent.
FaceModel3D synthetic_model() {
  FaceModel3D m;
  std::mt19937 rng(4);
  std::uniform_real_distribution<float> u(-1, 1);
  for (int i = 0; i < 80; ++i) {
    const float x = 7 * u(rng), y = 9 * u(rng);
    m.vertices.emplace_back(x, y, -5 * std::cos(x / 9) * std::cos(y / 12) + 0.3f * u(rng));
  }
  m.vertices.emplace_back(0, 0, -7.5f);  // the nose tip
  return m;
}

FaceModel3D model() {
  const auto obj = test::shared_dir() / "models" / "mesh" / "canonical_face_model.obj";
  if (std::filesystem::exists(obj)) return load_face_model_obj(obj);
  return synthetic_model();
}

size_t nose(const FaceModel3D& m) {
  size_t best = 0;
  for (size_t i = 0; i < m.vertices.size(); ++i)
    if (m.vertices[i].z < m.vertices[best].z) best = i;
  return best;
}

cv::Point2f centroid(const std::vector<cv::Point2f>& p) {
  cv::Point2f c(0, 0);
  for (const auto& q : p) c += q;
  return c * (1.0f / float(p.size()));
}

TEST(HeadPose, KnownAnglesComeBack) {
  for (const auto& m : {model(), synthetic_model()}) {
    const cv::Size image(640, 480);
    const cv::Vec3d t(3, -2, 60);  // 60 cm in front, a little off centre
    double worst = 0;
    int n = 0;
    for (double yaw = -60; yaw <= 60; yaw += 20)
      for (double pitch = -30; pitch <= 30; pitch += 15)
        for (double roll = -20; roll <= 20; roll += 10) {
          const auto pts = project_face_model(m, rotation_from_angles(yaw, pitch, roll), t, image);
          const auto h = estimate_head_pose(pts, m, image);
          worst = std::max({worst, std::abs(h.yaw - yaw), std::abs(h.pitch - pitch), std::abs(h.roll - roll)});
          EXPECT_LT(h.reprojection_error, 0.05) << yaw << " " << pitch << " " << roll;
          EXPECT_NEAR(h.translation[2], 60, 0.5);
          ++n;
        }
    EXPECT_EQ(n, 7 * 5 * 5);
    EXPECT_LT(worst, 0.1) << "degrees, over every pose (" << m.vertices.size() << " vertices)";
  }
}

TEST(HeadPose, SignsAreTheImagesAndNoiseCostsLittle) {
  const auto m = model();
  const cv::Size image(640, 480);
  const cv::Vec3d t(0, 0, 60);
  const size_t tip = nose(m);
  auto pose = [&](double y, double p, double r) {
    return project_face_model(m, rotation_from_angles(y, p, r), t, image);
  };
  const auto front = pose(0, 0, 0);
  EXPECT_GT(pose(30, 0, 0)[tip].x - centroid(pose(30, 0, 0)).x, front[tip].x - centroid(front).x + 5)
      << "yaw > 0: the nose turns toward the image's right";
  EXPECT_GT(pose(0, 20, 0)[tip].y - centroid(pose(0, 20, 0)).y, front[tip].y - centroid(front).y + 5)
      << "pitch > 0: the face tilts down";
  size_t right = 0;  // the vertex furthest to the image's right
  for (size_t i = 0; i < m.vertices.size(); ++i)
    if (m.vertices[i].x > m.vertices[right].x) right = i;
  EXPECT_GT(pose(0, 0, 20)[right].y, front[right].y + 5) << "roll > 0: clockwise in the image";

  std::mt19937 rng(9);
  std::normal_distribution<float> g(0, 1.0f);  // 1 px of landmark noise on a face about 170 px wide
  for (double yaw : {-45.0, 0.0, 30.0}) {
    auto pts = pose(yaw, 10, -5);
    for (auto& p : pts) p += cv::Point2f(g(rng), g(rng));
    const auto h = estimate_head_pose(pts, m, image);
    EXPECT_NEAR(h.yaw, yaw, 3.0);
    EXPECT_NEAR(h.pitch, 10, 3.0);
    EXPECT_NEAR(h.roll, -5, 1.5);
    EXPECT_GT(h.reprojection_error, 0.5);
    EXPECT_LT(h.reprojection_error, 2.0);
  }
}

TEST(HeadPose, BadModelsAndInputsAreClearErrors) {
  const auto m = synthetic_model();
  const cv::Size image(640, 480);
  auto pts = project_face_model(m, rotation_from_angles(0, 0, 0), {0, 0, 60}, image);
  EXPECT_ERROR(estimate_head_pose({pts.begin(), pts.begin() + 10}, m, image), ErrorKind::InvalidArgument, "points");
  EXPECT_ERROR(estimate_head_pose(pts, m, {0, 0}), ErrorKind::InvalidArgument, "image");
  pts[3].x = std::nanf("");
  EXPECT_ERROR(estimate_head_pose(pts, m, image), ErrorKind::InvalidArgument, "finite");

  const auto d = test::temp_dir("head-pose");
  std::filesystem::create_directories(d);
  EXPECT_ERROR(load_face_model_obj(d / "missing.obj"), ErrorKind::NotFound);
  std::ofstream(d / "a.obj") << "v 0 1 2\nv 1 2 3\nv 2 3 x\n";
  EXPECT_ERROR(load_face_model_obj(d / "a.obj"), ErrorKind::BadInput, "line 3");
  std::ofstream(d / "b.obj") << "v 0 1 2\nv 1 2 3\nv 2 3 4\nf 1/1 2/2 4/3\n";
  EXPECT_ERROR(load_face_model_obj(d / "b.obj"), ErrorKind::BadInput, "vertex 4");
  std::ofstream(d / "c.obj") << "# nothing\nvt 0 0\n";
  EXPECT_ERROR(load_face_model_obj(d / "c.obj"), ErrorKind::BadInput, "no vertices");
  std::ofstream(d / "ok.obj") << "v 0 1 2\nv 1 2 3\nvt 0.5 0.5\nv 2 3 4\nf 1/1 2/2 3/1\n";
  const auto ok = load_face_model_obj(d / "ok.obj");
  ASSERT_EQ(ok.vertices.size(), 3u);
  EXPECT_EQ(ok.vertices[1], cv::Point3f(1, -2, -3)) << "y up, z to the viewer -> camera coordinates";
  ASSERT_EQ(ok.triangles.size(), 1u);
  EXPECT_EQ(ok.triangles[0], (std::array<int, 3>{0, 1, 2}));
  const auto shared = test::shared_dir() / "models" / "mesh" / "canonical_face_model.obj";
  if (std::filesystem::exists(shared)) {
    const auto mesh = load_face_model_obj(shared);
    EXPECT_EQ(mesh.vertices.size(), 468u);
    EXPECT_EQ(mesh.triangles.size(), 898u);
  }
  std::filesystem::remove_all(d);
}

}  // namespace
}  // namespace facerec
