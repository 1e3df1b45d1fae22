#pragma once
// Face alignment: least-squares similarity transforms and warps to canonical crops.
// Thread safety: pure functions.
#include <facerec/face.hpp>

#include <opencv2/core.hpp>

#include <vector>

namespace facerec {

// The standard 112x112 five-point ArcFace template (image-left eye first). Never throws.
const FivePoints& arcface_template_112();

// Least-squares similarity (rotation, uniform scale, translation; Umeyama 1991) mapping `from`
// onto `to`. Requires: at least 2 point pairs, not all coincident. Returns a 2x3 CV_64F matrix.
// Throws Error(InvalidArgument) when the sizes differ, there are fewer than 2 pairs, or the
// `from` points coincide.
cv::Mat similarity_transform(const std::vector<cv::Point2f>& from, const std::vector<cv::Point2f>& to);

// Warps the face to the ArcFace template scaled to size x size (bilinear; outside the image is
// black). Requires: a non-empty 8-bit BGR image, size > 0. Ensures: a size x size crop of its type.
cv::Mat warp_to_template(const cv::Mat& bgr, const FivePoints& five, int size = 112);

// dlib's face chip (get_face_chip_details): 68 landmarks onto dlib's mean face shape, with
// `padding` around it, size x size. Downscales first when the face is much larger than the chip.
// Requires: a non-empty 8-bit BGR image, size > 0. Throws Error(InvalidArgument) unless there
// are exactly 68 landmarks.
cv::Mat dlib_face_chip(const cv::Mat& bgr, const std::vector<cv::Point2f>& l68, int size = 150, double padding = 0.25);

// The same chip from five points (ArcFace order) fitted to the matching points of dlib's mean face.
// Requires as above.
cv::Mat dlib_face_chip(const cv::Mat& bgr, const FivePoints& five, int size = 150, double padding = 0.25);

}  // namespace facerec
