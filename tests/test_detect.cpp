// Detector post-processing: MediaPipe and FaceBoxes anchors, weighted NMS.
#include "detect/postprocess.hpp"

#include <gtest/gtest.h>

namespace facerec::detail {
namespace {

TEST(Anchors, MediaPipeLayoutsGive896) {
  auto front = make_anchors(128, {8, 16, 16, 16});
  auto back = make_anchors(256, {16, 32, 32, 32});
  ASSERT_EQ(front.size(), 896u);
  ASSERT_EQ(back.size(), 896u);
  // first grid 16x16 with 2 anchors per cell, then 8x8 with 6
  EXPECT_FLOAT_EQ(front[0].cx, 0.5f / 16);
  EXPECT_FLOAT_EQ(front[1].cx, 0.5f / 16);
  EXPECT_FLOAT_EQ(front[2].cx, 1.5f / 16);
  EXPECT_FLOAT_EQ(front[511].cy, 15.5f / 16);
  EXPECT_FLOAT_EQ(front[512].cx, 0.5f / 8);
  EXPECT_FLOAT_EQ(front[517].cx, 0.5f / 8);
  EXPECT_FLOAT_EQ(front[518].cx, 1.5f / 8);
  EXPECT_FLOAT_EQ(front[895].cy, 7.5f / 8);
}

// Values read from the TFJS FaceBoxes graph's own anchor tensor ("concatenate/clip_by_value", run
// by @tensorflow/tfjs 4.22 on a 1920x1367 photo, which the graph pads to 1920x1408), in pixels
// (x0, y0, x1, y1). All 56265 anchors were compared when the generator was written (max error
// 1.4e-7 of the input size); these cover each anchor kind, clipped and unclipped.
TEST(Anchors, FaceBoxesLayoutMatchesTheTfjsGraph) {
  auto a = faceboxes_anchors(1920, 1408);
  ASSERT_EQ(a.size(), 56265u);  // 60x44 cells x 21 + 30x22 + 15x11
  struct Want {
    size_t i;
    float x0, y0, x1, y1;
  };
  const Want want[] = {
      {1, 0, 0, 20, 28},               // size 32, 4x4 dense, first column, second row; clipped
      {17, 0, 0, 32, 64},              // size 64, 2x2 dense
      {20, 0, 0, 80, 80},              // size 128
      {1286, 28, 28, 60, 60},          // cell (1, 1), size 32, unclipped
      {1299, 32, 0, 96, 64},           // cell (1, 1), size 64
      {1301, 0, 0, 112, 112},          // cell (1, 1), size 128
      {45377, 0, 1152, 32, 1216},      // size 64 near the bottom
      {52000, 508, 1300, 540, 1332},   // size 32
      {55440, 0, 0, 160, 160},         // first size-256 anchor (stride 64)
      {55928, 416, 928, 672, 1184},    // size 256
      {56264, 1600, 1088, 1920, 1408}  // last size-512 anchor (stride 128), clipped
  };
  for (const auto& w : want) {
    const auto& r = a[w.i];
    EXPECT_NEAR(r.x, w.x0, 1e-3) << w.i;
    EXPECT_NEAR(r.y, w.y0, 1e-3) << w.i;
    EXPECT_NEAR(r.x + r.width, w.x1, 1e-3) << w.i;
    EXPECT_NEAR(r.y + r.height, w.y1, 1e-3) << w.i;
  }
}

Detection det(float x, float y, float w, float score) {
  Detection d;
  d.box = cv::Rect2f(x, y, w, w);
  d.score = score;
  d.keypoints = {cv::Point2f(x, y)};
  return d;
}

TEST(Nms, WeightedMeanOfACluster) {
  auto out = weighted_nms({det(0, 0, 10, 0.9f), det(2, 0, 10, 0.3f), det(100, 100, 10, 0.8f)}, 0.3f);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_FLOAT_EQ(out[0].score, 0.9f);
  EXPECT_NEAR(out[0].box.x, (0 * 0.9 + 2 * 0.3) / 1.2, 1e-5);
  EXPECT_NEAR(out[0].keypoints[0].x, (0 * 0.9 + 2 * 0.3) / 1.2, 1e-5);
  EXPECT_FLOAT_EQ(out[1].box.x, 100.f);
}

TEST(Nms, DropsAPartOfAKeptFaceButKeepsNeighbours) {
  auto out = weighted_nms({det(0, 0, 100, 0.9f), det(50, 20, 40, 0.6f), det(95, 0, 100, 0.8f)}, 0.3f);
  ASSERT_EQ(out.size(), 2u);  // the 40-px box inside the first is a part of it; the neighbour stays
  EXPECT_FLOAT_EQ(out[1].box.x, 95.f);
}

}  // namespace
}  // namespace facerec::detail
