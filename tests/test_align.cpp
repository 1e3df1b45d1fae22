// Alignment: the similarity fit is exact on exactly similar point sets and least-squares otherwise;
// warps put the five points on the template.
#include "test_util.hpp"

#include <facerec/align.hpp>
#include <facerec/error.hpp>

#include <gtest/gtest.h>
#include <opencv2/imgproc.hpp>

#include <cmath>

namespace facerec {
namespace {

std::vector<cv::Point2f> map_points(const cv::Mat& m, const std::vector<cv::Point2f>& pts) {
  std::vector<cv::Point2f> out;
  for (const auto& p : pts)
    out.emplace_back(float(m.at<double>(0, 0) * p.x + m.at<double>(0, 1) * p.y + m.at<double>(0, 2)),
                     float(m.at<double>(1, 0) * p.x + m.at<double>(1, 1) * p.y + m.at<double>(1, 2)));
  return out;
}

TEST(Align, RecoversAKnownSimilarity) {
  const auto& t = arcface_template_112();
  std::vector<cv::Point2f> from(t.begin(), t.end());
  double angle = 0.3, scale = 2.5, tx = 40, ty = -7;
  cv::Mat truth = (cv::Mat_<double>(2, 3) << scale * std::cos(angle), -scale * std::sin(angle), tx,
                   scale * std::sin(angle), scale * std::cos(angle), ty);
  auto to = map_points(truth, from);
  cv::Mat m = similarity_transform(from, to);
  for (int r = 0; r < 2; ++r)
    for (int c = 0; c < 3; ++c) EXPECT_NEAR(m.at<double>(r, c), truth.at<double>(r, c), 1e-4);
}

TEST(Align, LeastSquaresIsNotPulledByOneNoisyPointAlone) {
  std::vector<cv::Point2f> from = {{0, 0}, {10, 0}, {0, 10}, {10, 10}};
  std::vector<cv::Point2f> to = {{0, 0}, {10, 0}, {0, 10}, {12, 10}};  // one point off by 2
  cv::Mat m = similarity_transform(from, to);
  auto got = map_points(m, from);
  double err = 0;
  for (size_t i = 0; i < got.size(); ++i) err += cv::norm(got[i] - to[i]) * cv::norm(got[i] - to[i]);
  EXPECT_LT(err, 4.0);  // better than fitting the three exact points and missing the fourth by 2
  EXPECT_ERROR(similarity_transform({{1, 1}, {1, 1}}, {{0, 0}, {3, 3}}), ErrorKind::InvalidArgument);
  EXPECT_ERROR(similarity_transform({{1, 1}}, {{0, 0}}), ErrorKind::InvalidArgument);
}

TEST(Align, WarpPutsTheFivePointsOnTheTemplate) {
  // draw five dots at a rotated, scaled copy of the template, warp back, find the dots
  const auto& t = arcface_template_112();
  cv::Mat truth = (cv::Mat_<double>(2, 3) << 2.0 * std::cos(0.2), -2.0 * std::sin(0.2), 60, 2.0 * std::sin(0.2),
                   2.0 * std::cos(0.2), 30);
  auto pts = map_points(truth, {t.begin(), t.end()});
  cv::Mat img(400, 400, CV_8UC3, cv::Scalar(0, 0, 0));
  for (const auto& p : pts) cv::circle(img, p, 3, cv::Scalar(255, 255, 255), -1);
  FivePoints five;
  for (int i = 0; i < 5; ++i) five[size_t(i)] = pts[size_t(i)];
  cv::Mat crop = warp_to_template(img, five, 112);
  ASSERT_EQ(crop.size(), cv::Size(112, 112));
  for (const auto& p : t) {
    cv::Vec3b v = crop.at<cv::Vec3b>(int(std::lround(p.y)), int(std::lround(p.x)));
    EXPECT_GT(v[0], 200) << "no dot at template point " << p;
  }
  cv::Mat big = warp_to_template(img, five, 224);  // other sizes scale the template
  cv::Vec3b v = big.at<cv::Vec3b>(int(std::lround(t[2].y * 2)), int(std::lround(t[2].x * 2)));
  EXPECT_GT(v[0], 200);
}

}  // namespace
}  // namespace facerec
