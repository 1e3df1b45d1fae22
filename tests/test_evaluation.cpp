// The rules that have one home now: variant names, test-time augmentation, operating points, the
// quality pairings and calibration through the manifest.
#include "test_util.hpp"

#include <facerec/analyzer.hpp>
#include <facerec/embed.hpp>
#include <facerec/eval/evaluation.hpp>

#include <gtest/gtest.h>

namespace facerec {
namespace {

TEST(Evaluation, VariantNamesParseInEitherOrderAndRoundTrip) {
  auto t = parse_tta_name("face_recognition_model+zoom+flip");
  EXPECT_EQ(t.base, "face_recognition_model");
  EXPECT_TRUE(t.flip);
  EXPECT_TRUE(t.zoom);
  EXPECT_EQ(tta_suffix(t.flip, t.zoom), "+flip+zoom");
  auto k = parse_tta_name("fmr_1e-3+flip");
  EXPECT_EQ(k.base, "fmr_1e-3");
  EXPECT_TRUE(k.flip);
  EXPECT_FALSE(k.zoom);
  EXPECT_EQ(parse_tta_name("+flip").base, "+flip") << "a bare suffix is not a name";
  auto v = parse_embedding_variants("a,b+flip,,c+zoom", false);
  ASSERT_EQ(v.size(), 3u);
  EXPECT_EQ(v[1].name(), "b+flip");
  EXPECT_EQ(v[2].name(), "c+zoom");
  auto both = parse_embedding_variants("a+zoom", true);
  ASSERT_EQ(both.size(), 2u);
  EXPECT_EQ(both[0].name(), "a+zoom");
  EXPECT_EQ(both[1].name(), "a+flip+zoom");
  EXPECT_ERROR(parse_embedding_variants(",,", false), ErrorKind::InvalidArgument);
  EXPECT_EQ(default_embedder_list(), EmbedderOptions{}.model + EmbedderOptions{}.tta_suffix());
}

TEST(Evaluation, LandmarkerVariantsAndSevenPoints) {
  auto o = parse_landmarker_variant("face_landmark_68_model@2+flip");
  EXPECT_EQ(o.model, "face_landmark_68_model");
  EXPECT_EQ(o.passes, 2);
  EXPECT_TRUE(o.flip);
  o = parse_landmarker_variant("facemesh");
  EXPECT_EQ(o.model, "facemesh");
  EXPECT_EQ(o.passes, 1);
  EXPECT_FALSE(o.flip);
  for (const char* bad : {"", "@2", "m@0", "m@9", "m@12", "m+zoom", "a b"})
    EXPECT_ERROR(parse_landmarker_variant(bad), ErrorKind::InvalidArgument) << bad;
  std::vector<cv::Point2f> p68(68), p468(468);
  for (size_t i = 0; i < 68; ++i) p68[i] = cv::Point2f(float(i), 0);
  for (size_t i = 0; i < 468; ++i) p468[i] = cv::Point2f(0, float(i));
  const auto a = seven_points(p68), b = seven_points(p468);
  ASSERT_EQ(a.size(), 7u);
  EXPECT_EQ(a[0].x, 36);  // image-left eye, outer corner
  EXPECT_EQ(a[4].x, 30);  // nose tip
  EXPECT_EQ(a[6].x, 54);  // image-right mouth corner
  EXPECT_EQ(b[0].y, 33);
  EXPECT_EQ(b[3].y, 263);
  EXPECT_EQ(b[5].y, 61);
  EXPECT_ERROR(seven_points(std::vector<cv::Point2f>(5)), ErrorKind::InvalidArgument);
}

TEST(Evaluation, TestTimeAugmentationViewsAndTheirMeanDirection) {
  cv::Mat crop(8, 8, CV_8UC3, cv::Scalar(0, 0, 0));
  crop.at<cv::Vec3b>(0, 0) = cv::Vec3b(255, 255, 255);
  auto views = tta_views(crop, true, false);
  EXPECT_FALSE(views[0].empty());
  EXPECT_EQ(views[1].at<cv::Vec3b>(0, 7), cv::Vec3b(255, 255, 255)) << "view 1 is the mirror image";
  EXPECT_TRUE(views[2].empty() && views[3].empty());
  EXPECT_FALSE(tta_views(crop, true, true)[3].empty());
  std::array<std::vector<float>, 4> unit = {std::vector<float>{1, 0}, {0, 1}, {}, {}};
  auto e = combine_tta(unit, true, false);
  EXPECT_NEAR(e[0], std::sqrt(0.5), 1e-6);
  EXPECT_NEAR(e[1], std::sqrt(0.5), 1e-6);
  EXPECT_EQ(combine_tta(unit, false, false), (std::vector<float>{1, 0}));
  EXPECT_ERROR(combine_tta(unit, true, true), ErrorKind::InvalidArgument, "missing");
  std::vector<float> z = {0, 0};
  l2_normalise(z);
  EXPECT_EQ(z, (std::vector<float>{0, 0}));
}

TEST(Evaluation, OperatingPointsFromFalseMatchRates) {
  EXPECT_EQ(operating_point_for_fmr("1e-3"), "fmr_1e-3");
  EXPECT_EQ(operating_point_for_fmr("best"), "best_accuracy");
  for (const char* bad : {"", "x", "1e-3x", "0", "2", "-1e-3"})
    EXPECT_ERROR(operating_point_for_fmr(bad), ErrorKind::InvalidArgument, "false match rate") << bad;
}

TEST(Evaluation, LargestFaceAndQualityPairings) {
  std::vector<Face> faces(3);
  faces[0].detection.box = {0, 0, 10, 10};
  faces[1].detection.box = {0, 0, 30, 20};
  faces[2].detection.box = {5, 5, 20, 20};
  EXPECT_EQ(largest_face(faces), &faces[1]);
  EXPECT_EQ(largest_face({}), nullptr);
  EmbeddingTable high, low;
  auto p = quality_pairings(high, low);
  ASSERT_EQ(p.size(), 3u);
  EXPECT_EQ(p[0].name, "high-high");
  EXPECT_TRUE(p[0].gallery == &high && p[0].probe == &high);
  EXPECT_TRUE(p[1].gallery == &high && p[1].probe == &low) << "low-high: originals enrolled, degraded copies probe";
  EXPECT_TRUE(p[2].gallery == &low && p[2].probe == &low);
}

TEST(Evaluation, CalibrationIsRecordedPerVariant) {
  Manifest m = test::manifest();
  std::vector<PairEvaluation> e(2);
  e[0].fmr_1e3.threshold = 0.1;
  e[0].fmr_1e4.threshold = 0.2;
  e[0].best_accuracy_threshold = 0.3;
  e[1].fmr_1e3.threshold = 0.4;
  record_calibration(m, {{"mobilefacenet", false, false}, {"mobilefacenet", true, true}}, e);
  std::map<std::string, double> t(m.model("mobilefacenet").thresholds.begin(),
                                  m.model("mobilefacenet").thresholds.end());
  EXPECT_EQ(t["fmr_1e-3"], 0.1);
  EXPECT_EQ(t["fmr_1e-4"], 0.2);
  EXPECT_EQ(t["best_accuracy"], 0.3);
  EXPECT_EQ(t["fmr_1e-3+flip+zoom"], 0.4);
  EXPECT_ERROR(record_calibration(m, {{"mobilefacenet", false, false}}, {}), ErrorKind::InvalidArgument);
}

}  // namespace
}  // namespace facerec
