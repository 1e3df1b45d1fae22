#pragma once
// facerec::Landmarker — the second stage: facial landmarks for a detected face, and the five
// ArcFace points the aligner uses.
//
// What it represents: a landmark network (manifest family "ibug68": 68 points; "facemesh": 468)
// with its crop framing, or "none" (the detector's keypoints). Thread safety: NOT safe to call
// from several threads at once (it owns a backend session); one per thread. The free functions
// are pure.
#include <facerec/face.hpp>
#include <facerec/models.hpp>

#include <opencv2/core.hpp>

#include <memory>
#include <string>
#include <vector>

namespace facerec {

struct LandmarkerOptions {
  // "face_landmark_68_model", "facemesh" (468 points), or "none": the detector's keypoints
  // (FaceAnalyzer then leaves out faces found without keypoints, as FaceBoxes finds them).
  std::string model = "face_landmark_68_model";
  std::string backend = "opencv-dnn";
  int threads = 0;
  float crop_scale = 1.25f;   // square crop side = crop_scale * max(box w, h)
  int passes = 2;             // >1: re-run on a crop framed by the previous pass's points
  float refine_scale = 1.4f;  // crop side = refine_scale * max(extent of the points)
  bool flip = true;           // average with the points found on the mirror image (as evaluated on LFW)
};

class Landmarker {
 public:
  virtual ~Landmarker() = default;
  // Requires: the 8-bit BGR image `face` was detected in.
  // Ensures: points in image pixels: 68 (iBUG 300-W order), 468 (FaceMesh order), or none when
  //   the landmarker is "none".
  // Throws Error(InvalidArgument) for a non-BGR image, Error(Internal) when the runtime fails.
  virtual std::vector<cv::Point2f> landmarks(const cv::Mat& bgr, const Detection& face) = 0;
  // The same landmarker for another thread, over the same loaded network (see FaceDetector::clone).
  virtual std::unique_ptr<Landmarker> clone() const = 0;
};

// Creates the landmarker `options` names ("none", or a landmarks model of the manifest).
// Throws Error(NotFound) for a model the manifest lacks or that is not imported, Error(BadModel)
//   when the entry does not fit its family (no 136-value output, no "mesh" output).
std::unique_ptr<Landmarker> make_landmarker(const Manifest& manifest, const LandmarkerOptions& options = {});

// Five ArcFace points from whatever the landmarker gave: 68 or 468 points, else the detector's
// keypoints. Throws Error(InvalidArgument) when there are neither landmarks nor 4 keypoints.
FivePoints five_points(const std::vector<cv::Point2f>& landmarks, const Detection& d);
// The iBUG 68-point index of point i's mirror image (left and right swapped: 0 <-> 16, 36 <-> 45, ...):
// how points are re-indexed when a face is mirrored. Throws Error(InvalidArgument) for i >= 68.
size_t ibug68_mirror(size_t i);
// Five ArcFace points from 68 landmarks (eye centres, nose tip, mouth corners).
// Throws Error(InvalidArgument) unless there are exactly 68 points.
FivePoints five_from_68(const std::vector<cv::Point2f>& l68);
// Five points from BlazeFace keypoints (mouth corners estimated from the mouth centre and eyes).
// Throws Error(InvalidArgument) with fewer than 4 keypoints.
FivePoints five_from_detection(const Detection& d);

}  // namespace facerec
