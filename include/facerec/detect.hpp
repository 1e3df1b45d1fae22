#pragma once
// facerec::FaceDetector — the first stage: every face in an image, as a box, a score and (for
// BlazeFace) six keypoints.
//
// What it represents: one or two detection networks (named in the manifest, family "blazeface",
// "faceboxes" or "mtcnn") with their pre- and post-processing (pyramid and tiles, anchors, NMS,
// MTCNN's three-stage cascade), and an optional verifier network. Thread safety: a detector is NOT safe to call from
// several threads at once (it owns backend sessions); create one per thread. make_detector is thread safe.
#include <facerec/face.hpp>
#include <facerec/models.hpp>

#include <opencv2/core.hpp>

#include <memory>
#include <string>
#include <vector>

namespace facerec {

struct DetectorOptions {
  // blazeface (256, full range, tiled for small faces) | blazeface-front (128, short range: one pass) | faceboxes (1024,
  // one pass; finds profiles; boxes without keypoints) | mtcnn-pnet (the MTCNN cascade: P-Net
  // pyramid down to min_face, R-Net, O-Net; five landmarks per face; score_threshold applies to
  // O-Net, at least 0.7) | "a+b": every face of a, plus the faces of b that no face of a overlaps |
  // "a>b": as "a+b", but b runs only on images where a found no face (score >= 0.75) spanning a
  // quarter of the image's shorter side (a cascade: portraits are settled by a alone; faces b
  // alone finds beside such a face are missed) | "a>b>c" = "a>(b>c)".
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
  // Requires: an 8-bit, 3-channel BGR image (any size; a tiny or very elongated one gives no face).
  // Ensures: detections sorted by descending score, at most max_faces (when > 0), boxes clipped
  //   to the image, keypoints in image pixels (empty for FaceBoxes).
  // Throws Error(InvalidArgument) for an empty or non-BGR image, Error(Internal) when the
  //   runtime fails.
  virtual std::vector<Detection> detect(const cv::Mat& bgr) = 0;
  // The same detector for another thread, over the same loaded networks
  // (InferenceBackend::session(): weights shared where the runtime allows).
  virtual std::unique_ptr<FaceDetector> clone() const = 0;
};

// The model names a detector name stands for: "a" -> {a}, "a+b" and "a>b" -> {a, b}, "a>b>c" -> {a, b, c}.
// Throws Error(InvalidArgument) for an empty part, more than three, or three not all joined by '>'.
std::vector<std::string> detector_models(const std::string& name);

// Creates the detector `options` name: a detect model of the manifest ("a+b" joins two).
// Requires: the models named (model, close_range_model, verifier) are in `manifest` and imported.
// Throws Error(InvalidArgument) for a malformed name or a model of another task, Error(NotFound)
//   for a model the manifest lacks or that is not imported yet, Error(BadModel) for a model file
//   or entry that does not fit the family.
std::unique_ptr<FaceDetector> make_detector(const Manifest& manifest, const DetectorOptions& options = {});

// The detection whose box centre is nearest the image centre (how LFW-style photos, cropped
// around one person, name their face); nullptr when there is none. Pure.
const Detection* nearest_to_centre(const std::vector<Detection>& dets, const cv::Size& image_size);

}  // namespace facerec
