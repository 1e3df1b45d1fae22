// Liveness: the ISO/IEC 30107-3 error rates and threshold choice (pure), the labels reader, and
// the checker's crop, scores and errors on real images (skips without ../shared).
#include "test_util.hpp"

#include <facerec/error.hpp>
#include <facerec/eval/liveness.hpp>
#include <facerec/image.hpp>
#include <facerec/liveness.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

namespace facerec {
namespace {

TEST(Liveness, ErrorRatesCountAcceptedAttacksAndRejectedLiveFaces) {
  const std::vector<double> live = {0.9, 0.8, 0.7, 0.2}, attack = {0.1, 0.3, 0.75};
  PadRates r = pad_rates(live, attack, 0.5);
  EXPECT_DOUBLE_EQ(r.bpcer, 0.25);       // 0.2 rejected
  EXPECT_DOUBLE_EQ(r.apcer, 1.0 / 3.0);  // 0.75 accepted
  EXPECT_DOUBLE_EQ(r.acer, (0.25 + 1.0 / 3.0) / 2);
  EXPECT_EQ(r.bona_fide, 4);
  EXPECT_EQ(r.attacks, 3);
  EXPECT_DOUBLE_EQ(pad_rates(live, attack, 0.7).bpcer, 0.25) << "a score equal to the threshold is accepted";
  // separable scores: the equal-error threshold separates them, AUC 1
  const std::vector<double> l2 = {0.6, 0.7, 0.9}, a2 = {0.1, 0.2, 0.4};
  double t = pad_eer_threshold(l2, a2);
  EXPECT_GT(t, 0.4);
  EXPECT_LT(t, 0.6);
  EXPECT_DOUBLE_EQ(pad_rates(l2, a2, t).acer, 0.0);
  EXPECT_DOUBLE_EQ(pad_auc(l2, a2), 1.0);
  EXPECT_DOUBLE_EQ(pad_auc(a2, l2), 0.0);
  EXPECT_DOUBLE_EQ(pad_auc({0.5}, {0.5}), 0.5) << "ties count half";
  auto det = pad_det_curve(live, attack);
  ASSERT_GE(det.size(), 2u);
  EXPECT_DOUBLE_EQ(det.front().apcer, 1.0);
  EXPECT_DOUBLE_EQ(det.back().apcer, 0.0);
  for (size_t i = 1; i < det.size(); ++i) EXPECT_LE(det[i].apcer, det[i - 1].apcer);
  EXPECT_ERROR(pad_eer_threshold({}, attack), ErrorKind::InvalidArgument);
}

TEST(Liveness, LabelsReaderNamesBadLines) {
  auto dir = test::temp_dir("liveness_labels");
  std::ofstream(dir / "labels.tsv") << "file\tclass\tsubject\nreal/a.jpg\treal\t0001\nprint/b.jpg\tprint\t0002\n";
  auto s = read_liveness_labels(dir / "labels.tsv");
  ASSERT_EQ(s.size(), 2u);
  EXPECT_TRUE(s[0].live);
  EXPECT_FALSE(s[1].live);
  EXPECT_EQ(s[1].subject, "0002");
  EXPECT_EQ(s[0].file, dir / "real/a.jpg");
  std::ofstream(dir / "bad.tsv") << "file\tclass\tsubject\nreal/a.jpg\treal\n";
  EXPECT_ERROR(read_liveness_labels(dir / "bad.tsv"), ErrorKind::InvalidArgument, "bad.tsv:2");
  std::ofstream(dir / "nocol.tsv") << "file\tsubject\n";
  EXPECT_ERROR(read_liveness_labels(dir / "nocol.tsv"), ErrorKind::InvalidArgument, "'class'");
  EXPECT_ERROR(read_liveness_labels(dir / "missing.tsv"), ErrorKind::NotFound);
}

TEST(Liveness, CheckerCropsScoresAndRefusesBadInput) {
  auto img_path = test::shared_dir() / "data" / "lfw" / "images" / "Serena_Williams" / "Serena_Williams_0001.jpg";
  if (!std::filesystem::exists(img_path)) GTEST_SKIP() << img_path << " is absent; this test needs ../shared/data";
  cv::Mat bgr = decode_image_file(img_path.string()).bgr;
  const cv::Rect2f face(75, 70, 100, 110);
  for (const char* model : {"face-anti-spoofing", "antispoof", "liveness"}) {
    LivenessOptions o;
    o.model = model;
    auto c = make_liveness_checker(test::manifest(), o);
    const auto& e = test::manifest().model(model);
    cv::Mat crop = c->crop(bgr, face);
    EXPECT_EQ(crop.cols, e.input.width) << model;
    EXPECT_EQ(crop.rows, e.input.height) << model;
    float s = c->score(bgr, face);
    EXPECT_TRUE(std::isfinite(s)) << model;
    EXPECT_EQ(c->clone()->score(bgr, face), s) << model << ": a clone scores the same";
    ASSERT_NO_THROW(c->threshold()) << model << ": calibrated on NUAA (`facerec eval liveness --calibrate`)";
    LivenessResult r = c->check(bgr, face);
    EXPECT_EQ(r.threshold, c->threshold());
    EXPECT_EQ(r.score, s);
    EXPECT_EQ(r.live, s >= r.threshold);
    EXPECT_EQ(e.crop_scale, 1.5) << model << ": the crop chosen on the calibration subjects";
    EXPECT_ERROR(c->score(cv::Mat(), face), ErrorKind::InvalidArgument);
    EXPECT_ERROR(c->score(bgr, cv::Rect2f(10, 10, 0, 5)), ErrorKind::InvalidArgument);
    // a box partly outside the image is fine (black outside)
    EXPECT_TRUE(std::isfinite(c->score(bgr, cv::Rect2f(-50, -50, 120, 120)))) << model;
  }
  LivenessOptions bad;
  bad.model = "mobilefacenet-ms1m";
  EXPECT_ERROR(make_liveness_checker(test::manifest(), bad), ErrorKind::InvalidArgument, "not a liveness model");
  bad.model = "face-anti-spoofing";
  bad.crop_scale = -1;
  EXPECT_ERROR(make_liveness_checker(test::manifest(), bad), ErrorKind::InvalidArgument);
}

}  // namespace
}  // namespace facerec
