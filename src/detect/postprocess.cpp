#include "detect/postprocess.hpp"

#include <algorithm>

namespace facerec::detail {

std::vector<Anchor> make_anchors(int input, const std::vector<int>& strides) {
  std::vector<Anchor> out;
  size_t i = 0;
  while (i < strides.size()) {
    int stride = strides[i];
    int per_cell = 0;
    while (i < strides.size() && strides[i] == stride) {
      per_cell += 2;
      ++i;
    }
    int fm = (input + stride - 1) / stride;
    for (int y = 0; y < fm; ++y)
      for (int x = 0; x < fm; ++x)
        for (int a = 0; a < per_cell; ++a)
          out.push_back({(float(x) + 0.5f) / float(fm), (float(y) + 0.5f) / float(fm)});
  }
  return out;
}

float iou(const cv::Rect2f& a, const cv::Rect2f& b) {
  float inter = (a & b).area();
  float uni = a.area() + b.area() - inter;
  return uni > 0 ? inter / uni : 0.f;
}

namespace {
// Intersection over the area of the smaller box.
float containment(const cv::Rect2f& a, const cv::Rect2f& b) {
  float small = std::min(a.area(), b.area());
  return small > 0 ? (a & b).area() / small : 0.f;
}
}  // namespace

// MediaPipe's weighted NMS: each cluster of overlapping detections becomes their score-weighted
// mean. A lower-scored box lying mostly inside a kept one (a part of a face found by a finer tile)
// is dropped.
std::vector<Detection> weighted_nms(std::vector<Detection> dets, float thr) {
  std::sort(dets.begin(), dets.end(), [](const auto& a, const auto& b) { return a.score > b.score; });
  std::vector<Detection> out;
  std::vector<bool> used(dets.size(), false);
  for (size_t i = 0; i < dets.size(); ++i) {
    if (used[i]) continue;
    double wsum = 0, x = 0, y = 0, w = 0, h = 0;
    std::vector<cv::Point2d> kp(dets[i].keypoints.size());
    for (size_t j = i; j < dets.size(); ++j) {
      if (used[j] || iou(dets[i].box, dets[j].box) < thr) continue;
      used[j] = true;
      double s = dets[j].score;
      wsum += s;
      x += s * dets[j].box.x;
      y += s * dets[j].box.y;
      w += s * dets[j].box.width;
      h += s * dets[j].box.height;
      for (size_t k = 0; k < kp.size(); ++k) kp[k] += s * cv::Point2d(dets[j].keypoints[k]);
    }
    Detection d = dets[i];
    d.box = cv::Rect2f(float(x / wsum), float(y / wsum), float(w / wsum), float(h / wsum));
    for (size_t k = 0; k < kp.size(); ++k) d.keypoints[k] = cv::Point2f(float(kp[k].x / wsum), float(kp[k].y / wsum));
    bool part_of_kept = false;
    for (const auto& k : out) part_of_kept = part_of_kept || containment(k.box, d.box) > 0.6f;
    if (!part_of_kept) out.push_back(d);
  }
  return out;
}

}  // namespace facerec::detail
