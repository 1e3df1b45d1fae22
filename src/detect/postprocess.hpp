#pragma once
// Detector post-processing shared by SSD-style detectors: anchors and non-maximum suppression.
#include <facerec/face.hpp>

#include <vector>

namespace facerec::detail {

struct Anchor {
  float cx, cy;  // centre, in [0, 1] of the input
};

// MediaPipe SSD anchors with fixed size and offset 0.5: consecutive layers of equal stride share
// one grid with 2 anchors per layer per cell.
std::vector<Anchor> make_anchors(int input, const std::vector<int>& strides);

// FaceBoxes anchors for an input of width x height (src/detect/faceboxes.cpp describes the
// layout), in input pixels, clipped to the input, in the order of the network's outputs.
std::vector<cv::Rect2f> faceboxes_anchors(int width, int height);

float iou(const cv::Rect2f& a, const cv::Rect2f& b);

// Weighted NMS (clusters with IoU >= thr become their score-weighted mean), and drops a box lying
// mostly (> 60%) inside a kept, higher-scored box. Output sorted by score.
std::vector<Detection> weighted_nms(std::vector<Detection> dets, float thr);

}  // namespace facerec::detail
