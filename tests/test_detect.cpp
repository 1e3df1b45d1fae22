// Detector post-processing: MediaPipe anchors and weighted NMS.
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
