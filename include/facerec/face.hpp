#pragma once
// The face pipeline's data: what the stages (detect.hpp, landmarks.hpp, embed.hpp) pass on.
// Thread safety: plain values.
#include <opencv2/core.hpp>

#include <array>
#include <string>
#include <vector>

namespace facerec {

struct Detection {
  cv::Rect2f box;                      // in image pixels
  float score = 0;                     // detector confidence in [0, 1]
  std::vector<cv::Point2f> keypoints;  // BlazeFace: right eye, left eye, nose tip, mouth centre,
                                       // right ear, left ear (subject's right = image left);
                                       // MTCNN: the five points of FivePoints, in its order
};

// Five points in ArcFace order: image-left eye, image-right eye, nose tip, image-left mouth
// corner, image-right mouth corner.
using FivePoints = std::array<cv::Point2f, 5>;

// A face kept for later re-embedding (galleries): the face warped to the ArcFace five-point
// template scaled into a kSize x kSize crop whose centre (1 - kMargin) holds the 112-px template
// region, as JPEG, with the landmarks found on the original image mapped into the crop.
struct FaceCrop {
  static constexpr int kSize = 256;
  static constexpr float kMargin = 0.4f;
  std::string jpeg;              // empty: not kept
  std::vector<float> landmarks;  // x0, y0, x1, y1, ... in crop pixels: 68, 468 or 5 points
};

}  // namespace facerec
