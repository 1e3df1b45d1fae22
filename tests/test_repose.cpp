// Re-posing faces (repose.hpp): a face posed at a known angle on a textured image, turned, comes
// out at the requested pose (the turned points fitted again), the same bytes every time, at the
// input's size, untouched away from the face; the hidden side comes from the mirrored half; bad
// inputs are clear errors.
#include "test_util.hpp"

#include "common/fs.hpp"

#include <facerec/error.hpp>
#include <facerec/eval/pose_strata.hpp>
#include <facerec/head_pose.hpp>
#include <facerec/repose.hpp>

#include <opencv2/imgproc.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <optional>

namespace facerec {
namespace {

// MediaPipe's canonical face (with its triangles), or none.
std::optional<FaceModel3D> mesh() {
  const auto obj = test::shared_dir() / "models" / "mesh" / "canonical_face_model.obj";
  if (!std::filesystem::exists(obj)) return std::nullopt;
  return load_face_model_obj(obj);
}

// A 256x256 image with a texture (gradients and seeded noise) that shows where pixels came from.
cv::Mat textured() {
  cv::Mat img(256, 256, CV_8UC3);
  cv::RNG rng(12);
  for (int y = 0; y < img.rows; ++y)
    for (int x = 0; x < img.cols; ++x)
      img.at<cv::Vec3b>(y, x) = cv::Vec3b(uchar(x), uchar(y), uchar((x * 3 + y * 5) % 256));
  cv::Mat noise(img.size(), CV_8UC3);
  rng.fill(noise, cv::RNG::UNIFORM, 0, 30);
  return img + noise;
}

const cv::Vec3d kAt(0, 0, 40);  // the model's origin 40 units in front of the camera

TEST(Repose, TheTurnedFaceHasTheRequestedPose) {
  const auto m = mesh();
  if (!m) GTEST_SKIP() << "the shared face mesh is absent (../shared/models/mesh/canonical_face_model.obj)";
  const auto img = textured();
  for (const auto& [yaw0, dy] : std::vector<std::pair<double, double>>{{0, 20}, {10, -30}, {-15, 35}, {30, -30}}) {
    const auto pts = project_face_model(*m, rotation_from_angles(yaw0, 5, 0), kAt, img.size());
    const auto r = repose_face(img, pts, *m, dy, 0);
    EXPECT_NEAR(r.source.yaw, yaw0, 0.2);
    EXPECT_NEAR(r.yaw, yaw0 + dy, 0.2);
    ASSERT_EQ(r.points.size(), m->vertices.size());
    const auto again = estimate_head_pose(r.points, *m, img.size());
    EXPECT_NEAR(again.yaw, yaw0 + dy, 1.0) << "from " << yaw0 << " by " << dy;
    EXPECT_NEAR(again.pitch, 5, 1.0);
    EXPECT_LT(again.reprojection_error, 0.5);
    EXPECT_EQ(r.image.size(), img.size());
    EXPECT_EQ(r.image.type(), CV_8UC3);
  }
  // pitch too
  const auto pts = project_face_model(*m, rotation_from_angles(0, 0, 0), kAt, img.size());
  const auto r = repose_face(img, pts, *m, 0, 15);
  EXPECT_NEAR(estimate_head_pose(r.points, *m, img.size()).pitch, 15, 1.0);
}

TEST(Repose, RendersDeterministicallyAndOnlyWhereTheFaceIs) {
  const auto m = mesh();
  if (!m) GTEST_SKIP() << "the shared face mesh is absent (../shared/models/mesh/canonical_face_model.obj)";
  const auto img = textured();
  const auto pts = project_face_model(*m, rotation_from_angles(10, 0, 0), kAt, img.size());
  const auto a = repose_face(img, pts, *m, 25, 0), b = repose_face(img, pts, *m, 25, 0);
  EXPECT_EQ(cv::norm(a.image, b.image, cv::NORM_INF), 0.0) << "the same bytes every time";
  // away from the face (both the old and the new one) nothing changes
  cv::Rect around = (a.face_box | cv::boundingRect(pts));
  around -= cv::Point(12, 12);
  around += cv::Size(24, 24);
  cv::Mat outside = cv::Mat::ones(img.size(), CV_8U);
  outside(around & cv::Rect(0, 0, img.cols, img.rows)).setTo(0);
  cv::Mat diff;
  cv::absdiff(a.image, img, diff);
  cv::cvtColor(diff, diff, cv::COLOR_BGR2GRAY);
  double worst = 0;
  cv::minMaxLoc(diff, nullptr, &worst, nullptr, nullptr, outside);
  EXPECT_EQ(worst, 0.0);
  // inside, the face moved
  EXPECT_GT(cv::mean(diff(a.face_box))[0], 2.0);
  // no turn: the face is drawn onto itself
  const auto same = repose_face(img, pts, *m, 0, 0);
  cv::absdiff(same.image, img, diff);
  EXPECT_LT(cv::mean(diff(same.face_box))[0], 1.5);
  EXPECT_EQ(same.mirrored_share, 0.0);
}

TEST(Repose, TheHiddenSideComesFromTheMirroredHalf) {
  const auto m = mesh();
  if (!m) GTEST_SKIP() << "the shared face mesh is absent (../shared/models/mesh/canonical_face_model.obj)";
  const auto mirror = mirror_vertices(*m);
  size_t involution = 0;
  for (size_t i = 0; i < mirror.size(); ++i) involution += size_t(mirror[size_t(mirror[i])]) == i;
  EXPECT_GT(double(involution) / double(mirror.size()), 0.95) << "left-right pairs";
  // a face turned 45° shows little of its far side: turned back to frontal, that side is filled
  const auto img = textured();
  const auto pts = project_face_model(*m, rotation_from_angles(45, 0, 0), kAt, img.size());
  const auto r = repose_face(img, pts, *m, -45, 0);
  EXPECT_GT(r.mirrored_share, 0.05);
  EXPECT_LT(r.mirrored_share, 0.5);
}

TEST(Repose, BadInputsAreClearErrors) {
  const auto m = mesh();
  if (!m) GTEST_SKIP() << "the shared face mesh is absent (../shared/models/mesh/canonical_face_model.obj)";
  const auto img = textured();
  const auto pts = project_face_model(*m, rotation_from_angles(0, 0, 0), kAt, img.size());
  EXPECT_ERROR(repose_face(cv::Mat(), pts, *m, 10), ErrorKind::InvalidArgument, "BGR");
  EXPECT_ERROR(repose_face(img, std::vector<cv::Point2f>(68), *m, 10), ErrorKind::InvalidArgument, "468");
  EXPECT_ERROR(repose_face(img, pts, *m, 120), ErrorKind::InvalidArgument, "90");
  auto scrambled = pts;
  std::reverse(scrambled.begin(), scrambled.end());
  ReposeOptions o;
  o.max_fit_px = 3;
  EXPECT_ERROR(repose_face(img, scrambled, *m, 10, 0, o), ErrorKind::BadInput, "fits");
  FaceModel3D no_triangles = *m;
  no_triangles.triangles.clear();
  EXPECT_ERROR(repose_face(img, pts, no_triangles, 10), ErrorKind::InvalidArgument, "triangles");
}

// Pairs binned by yaw difference, each decided at its fold's threshold, against a hand count.
TEST(PoseStrata, VerificationByYawDifferenceCountsByHand) {
  // fold 0 threshold 0.5, fold 1 threshold 0.7
  const std::vector<double> scores{0.9, 0.6, 0.4, 0.8, 0.6, std::nan(""), 0.2, 0.9};
  const std::vector<bool> same{true, true, false, false, true, true, false, true};
  const std::vector<int> folds{0, 1, 0, 1, 0, 0, 1, 1};
  const std::vector<double> diff{2, 3, 4, 12, 14, 25, std::nan(""), 40};
  const auto b = verification_by_yaw_difference(scores, same, folds, {0.5, 0.7}, diff, {0, 10, 20});
  ASSERT_EQ(b.size(), 3u);
  // [0, 10): 0.9 >= 0.5 genuine right; 0.6 < 0.7 genuine wrong; 0.4 < 0.5 impostor right
  EXPECT_EQ(b[0].pairs, 3u);
  EXPECT_EQ(b[0].genuine, 2u);
  EXPECT_NEAR(b[0].accuracy, 2.0 / 3, 1e-12);
  EXPECT_NEAR(b[0].fnmr, 0.5, 1e-12);
  EXPECT_NEAR(b[0].fmr, 0.0, 1e-12);
  // [10, 20): 0.8 >= 0.7 impostor accepted (wrong); 0.6 >= 0.5 genuine right
  EXPECT_EQ(b[1].pairs, 2u);
  EXPECT_NEAR(b[1].accuracy, 0.5, 1e-12);
  EXPECT_NEAR(b[1].fmr, 1.0, 1e-12);
  // >= 20: a failed pair (wrong) and 0.9 >= 0.7 genuine right; the pair without a pose left out
  EXPECT_EQ(b[2].pairs, 2u);
  EXPECT_TRUE(std::isinf(b[2].hi));
  EXPECT_NEAR(b[2].accuracy, 0.5, 1e-12);
  EXPECT_NEAR(b[2].fnmr, 0.5, 1e-12);
  EXPECT_ERROR(verification_by_yaw_difference(scores, same, folds, {0.5, 0.7}, diff, {0, 20, 10}),
               ErrorKind::InvalidArgument, "increase");
  EXPECT_ERROR(verification_by_yaw_difference(scores, same, folds, {0.5}, diff, {0}), ErrorKind::InvalidArgument,
               "fold");
  EXPECT_ERROR(verification_by_yaw_difference({0.1}, same, folds, {0.5, 0.7}, diff, {0}), ErrorKind::InvalidArgument,
               "size");
}

TEST(PoseStrata, ThePoseTableReadsBackAndRefusesMalformedLines) {
  const auto dir = test::temp_dir("pose-table");
  PoseRow r{"synthetic", "/x/a b.jpg", "p1", 12.5, -3.25, 1, 2.5, 0.125, "/x/src.jpg"};
  detail::write_file_atomic(dir / "poses.tsv", std::string(kPoseTableHeader) + "\n" + pose_table_line(r) + "\n");
  const auto rows = read_pose_table(dir / "poses.tsv");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].path, r.path);
  EXPECT_EQ(rows[0].identity, "p1");
  EXPECT_DOUBLE_EQ(rows[0].yaw, 12.5);
  EXPECT_DOUBLE_EQ(rows[0].mirrored_share, 0.125);
  EXPECT_EQ(rows[0].source, r.source);
  auto bad = [&](const std::string& body, const std::string& what) {
    detail::write_file_atomic(dir / "bad.tsv", body);
    EXPECT_ERROR(read_pose_table(dir / "bad.tsv"), ErrorKind::BadInput, what);
  };
  bad("image\tyaw\n", "not a pose table");
  bad(std::string(kPoseTableHeader) + "\nreal\t/a.jpg\tp\t1\t2\n", ":2: 9 tab-separated");
  bad(std::string(kPoseTableHeader) + "\nreal\t/a.jpg\tp\tleft\t0\t0\t0\t0\t/a.jpg\n", "not a number");
  bad(std::string(kPoseTableHeader) + "\nfake\t/a.jpg\tp\t1\t0\t0\t0\t0\t/a.jpg\n", "real or synthetic");
  EXPECT_ERROR(read_pose_table(dir / "none.tsv"), ErrorKind::NotFound, "cannot read");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace facerec
