// Quality degradations: deterministic per (seed, key), within their ranges, and actually degrading.
#include "test_util.hpp"

#include <facerec/error.hpp>
#include <facerec/eval/degrade.hpp>

#include <gtest/gtest.h>
#include <opencv2/imgproc.hpp>

namespace facerec {
namespace {

cv::Mat pattern() {  // a sharp, bright test card
  cv::Mat m(240, 240, CV_8UC3, cv::Scalar(200, 190, 180));
  for (int i = 0; i < 240; i += 8) {
    cv::line(m, {i, 0}, {i, 239}, cv::Scalar(20, 30, 40), 2);
    cv::line(m, {0, i}, {239, i}, cv::Scalar(250, 250, 250), 1);
  }
  cv::circle(m, {120, 120}, 50, cv::Scalar(0, 0, 255), -1);
  return m;
}

double sharpness(const cv::Mat& bgr) {
  cv::Mat g, lap;
  cv::cvtColor(bgr, g, cv::COLOR_BGR2GRAY);
  cv::Laplacian(g, lap, CV_64F);
  cv::Scalar mean, sd;
  cv::meanStdDev(lap, mean, sd);
  return sd[0] * sd[0];
}

TEST(Degrade, SameKeySameImageOtherKeyOtherDraw) {
  DegradationRanges r;
  auto a = draw_degradation(r, "Alice/Alice_0001.jpg"), b = draw_degradation(r, "Alice/Alice_0001.jpg"),
       c = draw_degradation(r, "Bob/Bob_0001.jpg");
  EXPECT_EQ(a.iod, b.iod);
  EXPECT_EQ(a.noise_seed, b.noise_seed);
  EXPECT_NE(a.noise_seed, c.noise_seed);
  cv::Mat img = pattern();
  cv::Mat x = degrade(img, 60, a), y = degrade(img, 60, b);
  EXPECT_EQ(cv::norm(x, y, cv::NORM_INF), 0.0);
  r.seed += 1;  // another seed, another draw
  EXPECT_NE(draw_degradation(r, "Alice/Alice_0001.jpg").noise_seed, a.noise_seed);
}

TEST(Degrade, DrawsStayInTheirRanges) {
  DegradationRanges r;
  int motion = 0;
  for (int i = 0; i < 500; ++i) {
    auto d = draw_degradation(r, "img" + std::to_string(i));
    EXPECT_GE(d.iod, r.iod_min);
    EXPECT_LE(d.iod, r.iod_max);
    EXPECT_GE(d.gain, r.gain_min);
    EXPECT_LE(d.gain, r.gain_max);
    EXPECT_GE(d.gamma, r.gamma_min);
    EXPECT_LE(d.gamma, r.gamma_max);
    EXPECT_GE(d.noise_sigma, r.noise_min);
    EXPECT_LE(d.noise_sigma, r.noise_max);
    EXPECT_GE(d.jpeg_quality, r.jpeg_min);
    EXPECT_LE(d.jpeg_quality, r.jpeg_max);
    motion += d.motion;
  }
  EXPECT_GT(motion, 175);  // about half of 500 use motion blur
  EXPECT_LT(motion, 325);
  DegradationRanges bad;
  bad.gain_min = 2;
  EXPECT_ERROR(draw_degradation(bad, "x"), ErrorKind::InvalidArgument);
  bad = {};
  bad.jpeg_max = 101;
  EXPECT_ERROR(draw_degradation(bad, "x"), ErrorKind::InvalidArgument);
}

TEST(Degrade, LosesDetailAndLightKeepsSize) {
  cv::Mat img = pattern();
  DegradationRanges r;
  for (const char* key : {"a", "b", "c", "d"}) {
    auto d = draw_degradation(r, key);
    cv::Mat low = degrade(img, 64, d);  // eyes 64 px apart -> scaled by d.iod / 64 <= 0.5
    ASSERT_EQ(low.size(), img.size());
    ASSERT_EQ(low.type(), CV_8UC3);
    EXPECT_LT(sharpness(low), 0.5 * sharpness(img)) << key;
    EXPECT_LT(cv::mean(low)[2], cv::mean(img)[2]) << key;  // under-exposed
  }
  EXPECT_ERROR(degrade(img, 0, Degradation{}), ErrorKind::InvalidArgument);
  EXPECT_ERROR(degrade(cv::Mat(), 30, Degradation{}), ErrorKind::InvalidArgument);
  cv::Mat grey(10, 10, CV_8UC1, cv::Scalar(0));
  EXPECT_ERROR(degrade(grey, 30, Degradation{}), ErrorKind::InvalidArgument);
}

}  // namespace
}  // namespace facerec
