// Detectors on real photos from ../shared (skips when absent) and the combination of two
// detectors (first's faces kept, second's added where the first found none).
#include "test_util.hpp"

#include <facerec/detect.hpp>
#include <facerec/error.hpp>
#include <facerec/eval/eval.hpp>
#include <facerec/eval/scales.hpp>
#include <facerec/face.hpp>
#include <facerec/image.hpp>

#include <gtest/gtest.h>

namespace facerec {
namespace {

#define NEED(path) \
  if (!std::filesystem::exists(path)) GTEST_SKIP() << (path) << " is absent; this test needs ../shared/data"

std::filesystem::path group(int i) {
  return test::shared_dir() / "data" / "samples" / "group-photos" / ("sample" + std::to_string(i) + ".jpg");
}

int faces_with_centre_in(const std::vector<Detection>& dets, const cv::Rect2f& region) {
  int n = 0;
  for (const auto& d : dets) n += region.contains((d.box.tl() + d.box.br()) * 0.5f) ? 1 : 0;
  return n;
}

// The detector's matches against the boxes of a dlib imglab XML file (IoU >= 0.5).
DetectionCounts counts_on_xml(const std::string& model, const std::filesystem::path& xml) {
  DetectorOptions o;
  o.model = model;
  auto det = make_detector(test::manifest(), o);
  DetectionCounts total;
  for (const auto& li : read_dlib_xml(xml)) {
    auto found = det->detect(decode_image_file((xml.parent_path() / li.file).string()).bgr);
    std::vector<Box> boxes;
    for (const auto& d : found) boxes.push_back({d.box.x, d.box.y, d.box.width, d.box.height});
    total += match_detections(li.boxes, boxes, 0.5);
  }
  return total;
}

// sample2: three women on a sofa; the one on the left is in profile (her face around x 360-530,
// y 110-420 of the 1920x1367 photo). BlazeFace misses her; FaceBoxes finds her.
const cv::Rect2f kProfile(330, 100, 230, 330);

TEST(Detectors, FaceBoxesFindsTheProfileFace) {
  NEED(group(2));
  DetectorOptions o;
  o.model = "faceboxes";
  auto dets = make_detector(test::manifest(), o)->detect(decode_image_file(group(2).string()).bgr);
  EXPECT_EQ(dets.size(), 3u);
  EXPECT_EQ(faces_with_centre_in(dets, kProfile), 1);
  for (const auto& d : dets) {
    EXPECT_TRUE(d.keypoints.empty());  // FaceBoxes gives boxes only
    EXPECT_GT(d.score, 0.5f);
  }
}

TEST(Detectors, DefaultDetectorFindsEveryFaceOfSample2) {
  NEED(group(2));
  auto dets = make_detector(test::manifest())->detect(decode_image_file(group(2).string()).bgr);
  EXPECT_EQ(dets.size(), 3u);
  EXPECT_EQ(faces_with_centre_in(dets, kProfile), 1);
}

TEST(Detectors, FaceBoxesOnDlibTestingXml) {
  auto xml = test::shared_dir() / "data" / "samples" / "dlib-faces" / "testing.xml";
  NEED(xml);
  DetectionCounts total = counts_on_xml("faceboxes", xml);
  EXPECT_EQ(total.true_positives, 25);
  EXPECT_EQ(total.false_negatives, 0);
  EXPECT_EQ(total.false_positives, 0);
}

// MTCNN (the cascade named by its P-Net entry): sample1's three faces, each with five points in
// ArcFace order inside its box (eyes above the mouth for the upright face on the left).
TEST(Detectors, MtcnnFindsSample1WithFivePoints) {
  NEED(group(1));
  DetectorOptions o;
  o.model = "mtcnn-pnet";
  auto dets = make_detector(test::manifest(), o)->detect(decode_image_file(group(1).string()).bgr);
  ASSERT_EQ(dets.size(), 3u);
  for (const auto& d : dets) {
    EXPECT_GT(d.score, 0.9f);
    ASSERT_EQ(d.keypoints.size(), 5u);
    for (const auto& p : d.keypoints) EXPECT_TRUE(d.box.contains(p)) << p << " outside " << d.box;
  }
  const auto& left = *std::min_element(dets.begin(), dets.end(),
                                       [](const Detection& a, const Detection& b) { return a.box.x < b.box.x; });
  const auto& k = left.keypoints;
  EXPECT_LT(k[0].x, k[1].x) << "image-left eye first";
  EXPECT_LT(k[3].x, k[4].x) << "image-left mouth corner first";
  EXPECT_LT(std::max(k[0].y, k[1].y), k[2].y) << "eyes above the nose";
  EXPECT_LT(k[2].y, std::min(k[3].y, k[4].y)) << "nose above the mouth";
}

TEST(Detectors, MtcnnOnDlibTestingXml) {
  auto xml = test::shared_dir() / "data" / "samples" / "dlib-faces" / "testing.xml";
  NEED(xml);
  DetectionCounts total = counts_on_xml("mtcnn-pnet", xml);
  std::printf("[mtcnn] dlib testing.xml: %d TP, %d FN, %d FP\n", total.true_positives, total.false_negatives,
              total.false_positives);
  EXPECT_EQ(total.true_positives, 25);
  EXPECT_EQ(total.false_negatives, 0);
  EXPECT_EQ(total.false_positives, 0);
}

TEST(Detectors, MtcnnStagesAndBadImagesAreClearErrors) {
  DetectorOptions o;
  o.model = "mtcnn-rnet";  // a refinement stage, not a detector by itself
  EXPECT_ERROR(make_detector(test::manifest(), o), ErrorKind::InvalidArgument, "cascade");
  o.model = "mtcnn-pnet";
  auto det = make_detector(test::manifest(), o);
  EXPECT_ERROR(det->detect(cv::Mat()), ErrorKind::InvalidArgument);
  EXPECT_ERROR(det->detect(cv::Mat(64, 64, CV_8UC1, cv::Scalar(0))), ErrorKind::InvalidArgument);
  EXPECT_TRUE(det->detect(cv::Mat(1, 1, CV_8UC3, cv::Scalar(0, 0, 0))).empty());
  EXPECT_TRUE(det->detect(cv::Mat(4, 3000, CV_8UC3, cv::Scalar(90, 90, 90))).empty());
  EXPECT_TRUE(det->detect(cv::Mat(300, 300, CV_8UC3, cv::Scalar(90, 90, 90))).empty()) << "a flat grey image";
  auto other = det->clone();
  EXPECT_TRUE(other->detect(cv::Mat(64, 64, CV_8UC3, cv::Scalar(0, 0, 0))).empty());
}

// "a>b": b runs only where a found no confident face spanning a quarter of the photo. On sample2 (a
// group photo: faces under a quarter of its height) the cascade is the union and keeps the profile
// FaceBoxes adds; on a portrait (an LFW photo) it is the first model's faces alone.
TEST(Detectors, CascadeRunsTheSecondOnlyWhereTheFirstFoundNoPortrait) {
  NEED(group(2));
  const auto img = decode_image_file(group(2).string()).bgr;
  DetectorOptions cascade, chain;
  cascade.model = "blazeface>faceboxes";
  const auto both = make_detector(test::manifest(), cascade)->detect(img);
  EXPECT_EQ(both.size(), 3u);
  EXPECT_EQ(faces_with_centre_in(both, kProfile), 1);
  chain.model = "blazeface-front>blazeface>faceboxes";
  EXPECT_EQ(faces_with_centre_in(make_detector(test::manifest(), chain)->detect(img), kProfile), 1);

  const auto portrait = test::shared_dir() / "data" / "lfw" / "images" / "Colin_Powell" / "Colin_Powell_0001.jpg";
  NEED(portrait);
  const auto p = decode_image_file(portrait.string()).bgr;
  DetectorOptions front;
  front.model = "blazeface-front";
  const auto alone = make_detector(test::manifest(), front)->detect(p);
  const auto cas = make_detector(test::manifest(), chain)->detect(p);
  ASSERT_FALSE(alone.empty());
  ASSERT_EQ(cas.size(), alone.size());
  for (size_t i = 0; i < cas.size(); ++i) EXPECT_EQ(cas[i].box, alone[i].box);
  EXPECT_EQ(detector_models("blazeface>faceboxes"), (std::vector<std::string>{"blazeface", "faceboxes"}));
  EXPECT_EQ(detector_models("blazeface-front>blazeface>faceboxes"),
            (std::vector<std::string>{"blazeface-front", "blazeface", "faceboxes"}));
}

TEST(Detectors, BadDetectorNamesAreClearErrors) {
  DetectorOptions o;
  o.model = "blazeface+";
  EXPECT_ERROR(make_detector(test::manifest(), o), ErrorKind::InvalidArgument);
  o.model = "blazeface+faceboxes+blazeface-front";
  EXPECT_ERROR(make_detector(test::manifest(), o), ErrorKind::InvalidArgument);
  o.model = "blazeface>faceboxes>mtcnn-pnet>blazeface-front";
  EXPECT_ERROR(make_detector(test::manifest(), o), ErrorKind::InvalidArgument);
  o.model = "blazeface>faceboxes+mtcnn-pnet";
  EXPECT_ERROR(make_detector(test::manifest(), o), ErrorKind::InvalidArgument);
  o.model = ">faceboxes";
  EXPECT_ERROR(make_detector(test::manifest(), o), ErrorKind::InvalidArgument);
  o.model = "no-such-detector";
  EXPECT_ERROR(make_detector(test::manifest(), o), ErrorKind::NotFound);
}

TEST(Detectors, FaceBoxesRejectsNonBgrImages) {
  DetectorOptions o;
  o.model = "faceboxes";
  auto det = make_detector(test::manifest(), o);
  EXPECT_ERROR(det->detect(cv::Mat()), ErrorKind::InvalidArgument);
  EXPECT_ERROR(det->detect(cv::Mat(64, 64, CV_8UC1, cv::Scalar(0))), ErrorKind::InvalidArgument);
  // a tiny and a very elongated image are fine (no face)
  EXPECT_TRUE(det->detect(cv::Mat(1, 1, CV_8UC3, cv::Scalar(0, 0, 0))).empty());
  EXPECT_TRUE(det->detect(cv::Mat(4, 3000, CV_8UC3, cv::Scalar(90, 90, 90))).empty());
}

// The scale sweep on a small canvas: every pasted face of a comfortable width is found, the
// counts add up, and bad options are refused.
TEST(Detectors, ScaleSweepCountsPastedFaces) {
  auto photo = test::shared_dir() / "data" / "lfw" / "images" / "Aaron_Eckhart" / "Aaron_Eckhart_0001.jpg";
  NEED(photo);
  auto img = decode_image_file(photo.string()).bgr;
  DetectorOptions o;
  auto det = make_detector(test::manifest(), o);
  auto faces = det->detect(img);
  ASSERT_FALSE(faces.empty());
  std::vector<FaceSample> samples{{img, faces[0].box}};
  ScaleSweepOptions so;
  so.canvas = cv::Size(640, 480);
  so.widths = {80, 160};
  so.faces_per_width = 3;
  int calls = 0;
  auto rows = detection_scale_sweep(*det, samples, so, [&](int, int) { ++calls; });
  ASSERT_EQ(rows.size(), 2u);
  for (const auto& r : rows) {
    EXPECT_EQ(r.faces, 3) << r.width;
    EXPECT_EQ(r.found, 3) << r.width;
    EXPECT_GE(r.canvases, 1);
  }
  EXPECT_EQ(calls, rows[0].canvases + rows[1].canvases);
  // seeded: the same canvases, so the same counts, every run (detectors are compared on them)
  std::vector<std::pair<int, cv::Scalar>> first, second;
  auto record = [](std::vector<std::pair<int, cv::Scalar>>& out) {
    return [&out](int w, int, const cv::Mat& canvas, const std::vector<Detection>&) {
      out.emplace_back(w, cv::mean(canvas));
    };
  };
  detection_scale_sweep(*det, samples, so, {}, record(first));
  detection_scale_sweep(*det, samples, so, {}, record(second));
  ASSERT_EQ(first.size(), size_t(calls)) << "every canvas is seen once per sweep";
  ASSERT_EQ(first.size(), second.size());
  for (size_t i = 0; i < first.size(); ++i) EXPECT_EQ(first[i].second, second[i].second) << i;
  so.widths = {0};
  EXPECT_ERROR(detection_scale_sweep(*det, samples, so), ErrorKind::InvalidArgument);
  so.widths = {80};
  EXPECT_ERROR(detection_scale_sweep(*det, {}, so), ErrorKind::InvalidArgument);
}

}  // namespace
}  // namespace facerec
