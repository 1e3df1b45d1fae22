#pragma once
// The face pipeline's data and stage interfaces: detect -> landmarks -> align -> embed.
//
// Every network-backed stage holds an InferenceBackend (by name, default "opencv-dnn") and takes
// its input spec (size, colour order, normalisation) from the model manifest.
// Thread safety: a stage object is NOT safe to use from several threads at once (it owns a
// backend session); create one per thread. Results are plain values.
#include <opencv2/core.hpp>

#include <array>
#include <memory>
#include <string>
#include <vector>

namespace facerec {

struct Detection {
  cv::Rect2f box;                      // in image pixels
  float score = 0;                     // detector confidence in [0, 1]
  std::vector<cv::Point2f> keypoints;  // BlazeFace: right eye, left eye, nose tip, mouth centre,
                                       // right ear, left ear (subject's right = image left)
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

struct DetectorOptions {
  // blazeface (256, full range, tiled for small faces) | blazeface-front (128) | faceboxes (1024,
  // one pass; finds profiles; boxes without keypoints) | "a+b": every face of a, plus the faces of
  // b that no face of a overlaps.
  std::string model = "blazeface+faceboxes";
  // Also run this short-range model once on the whole image, for faces that fill the frame
  // (selfies, ID photos), which the full-range model misses. "none" disables it.
  std::string close_range_model = "blazeface-front";
  std::string backend = "opencv-dnn";
  int threads = 0;
  float score_threshold = 0.5f;
  float nms_iou = 0.3f;
  int min_face = 20;  // smallest face (px) to look for: BlazeFace tiles down to it; smaller FaceBoxes boxes are dropped
  int max_faces = 0;  // 0: all
  // Work bound: BlazeFace runs at most this many tiles per image. A large photo whose pyramid down
  // to `min_face` would need more stops at a coarser level (its smallest faces are then missed):
  // 1920x1080 at min face 20 needs 88; a 6000x6000 photo 597, cut to 156.
  int max_tiles = 256;
  // Second opinion on every detection: FaceMesh's face-presence score on a crop around the box
  // removes BlazeFace's false positives (ears, hands, patterns) at small scales. "none" disables it.
  std::string verifier = "facemesh";
  float verify_threshold = 0.5f;
};

class FaceDetector {
 public:
  virtual ~FaceDetector() = default;
  // Requires: an 8-bit BGR image. Ensures: detections sorted by score, boxes clipped to the image.
  virtual std::vector<Detection> detect(const cv::Mat& bgr) = 0;
};
std::unique_ptr<FaceDetector> make_detector(const DetectorOptions& options = {});

// The detection whose box centre is nearest the image centre (how LFW-style photos, cropped
// around one person, name their face); nullptr when there is none.
const Detection* nearest_to_centre(const std::vector<Detection>& dets, const cv::Size& image_size);

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
  // Points in image pixels: 68 (iBUG 300-W order, face-api), 468 (FaceMesh order), or none when
  // the landmarker is "none".
  virtual std::vector<cv::Point2f> landmarks(const cv::Mat& bgr, const Detection& face) = 0;
};
std::unique_ptr<Landmarker> make_landmarker(const LandmarkerOptions& options = {});

// Five ArcFace points from whatever the landmarker gave: 68 or 468 points, else the detector's
// keypoints.
FivePoints five_points(const std::vector<cv::Point2f>& landmarks, const Detection& d);
// Five ArcFace points from 68 landmarks (eye centres, nose tip, mouth corners).
FivePoints five_from_68(const std::vector<cv::Point2f>& l68);
// Five points from BlazeFace keypoints (mouth corners estimated from the mouth centre and eyes).
FivePoints five_from_detection(const Detection& d);

struct EmbedderOptions {
  std::string model = "face_recognition_model";
  std::string backend = "opencv-dnn";
  int threads = 0;
  bool flip = true;  // test-time augmentation: mean direction of the face's and its mirror image's embeddings
  // Test-time augmentation: also embed the aligned crop zoomed in by kZoom about its centre (for
  // the dlib chip: padding 0.20 instead of 0.25), with its mirror image when flip is on; the
  // embedding is the mean direction of all. LFW: 99.23% with flip, 99.3% with flip + zoom (README).
  bool zoom = true;
  static constexpr double kZoom = 1.5 / 1.4;
  // "+flip", "+zoom", "+flip+zoom" or "": how thresholds and gallery templates name the variant.
  std::string tta_suffix() const { return std::string(flip ? "+flip" : "") + (zoom ? "+zoom" : ""); }
};

// The central 1/factor of a square crop, resized back to the crop's size (bilinear): the zoom
// test-time augmentation of EmbedderOptions. Requires: a non-empty crop, factor >= 1.
cv::Mat zoom_crop(const cv::Mat& crop, double factor);

class FaceEmbedder {
 public:
  virtual ~FaceEmbedder() = default;
  // The crop this embedder was trained on, from the image and the landmarks (68 points when
  // available, else the five points).
  virtual cv::Mat align(const cv::Mat& bgr, const FivePoints& five, const std::vector<cv::Point2f>& l68) const = 0;
  // L2-normalised embedding of an aligned crop.
  virtual std::vector<float> embed(const cv::Mat& aligned) = 0;
  virtual std::string model() const = 0;
  virtual int dimension() const = 0;
};
std::unique_ptr<FaceEmbedder> make_embedder(const EmbedderOptions& options = {});

}  // namespace facerec
