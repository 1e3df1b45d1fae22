#pragma once
// facerec::FaceAnalyzer — the whole pipeline behind one small class.
//
//   facerec::FaceAnalyzer fa;                          // default models, OpenCV DNN backend
//   auto faces = fa.analyze(facerec::decode_image_file("a.jpg").bgr);
//   auto m = fa.compare(faces[0].embedding, other.embedding);   // similarity + decision
//
// What it represents: a detector, a landmarker and an embedder chosen by model name, wired
// detect -> landmarks -> align -> embed. Thread safety: NOT safe for concurrent calls on one
// instance (each stage owns a backend session); use one FaceAnalyzer per thread. Instances are
// independent and may run in parallel.
#include <facerec/detect.hpp>
#include <facerec/embed.hpp>
#include <facerec/face.hpp>
#include <facerec/landmarks.hpp>
#include <facerec/quality.hpp>

#include <opencv2/core.hpp>

#include <optional>
#include <string>
#include <vector>

namespace facerec {

// The models and settings of the three stages, by name. A plain value.
struct AnalyzerOptions {
  DetectorOptions detector;
  LandmarkerOptions landmarker;
  EmbedderOptions embedder;
  // The face quality model (quality.hpp): a file written by `facerec quality fit`; empty: the
  // default (models/quality.json beside the default manifest, unfitted when there is none);
  // "none": unfitted (scores are the geometric mean of the components).
  std::string quality_model;
};

// Speed profiles: named AnalyzerOptions presets, as the CLI's, the service's and Python's
// `profile` select them (README "Profiles" gives each one's measured LFW accuracy and ms per photo):
//   accurate — the defaults (BlazeFace + FaceBoxes, FaceMesh check, face-api's 68 points in two
//              mirrored passes, the fused dlib + MobileFaceNet embedder with flip) on onednn;
//   balanced — detection as a cascade: the short-range BlazeFace, the full-range one only where it
//              found nothing, FaceBoxes only where both found nothing (FaceMesh check kept);
//              facerec's 96x96 landmark CNN (one pass, averaged with its mirror image); the fused
//              embedder without flip; on onednn;
//   edge     — the same without FaceBoxes, faces from 40 px, MobileFaceNet alone, on onednn.
// Every profile runs fp32 models of the default manifest, one thread per network (threads 1).
// Throws Error(InvalidArgument) for another name, listing the profiles.
AnalyzerOptions analyzer_profile(const std::string& name);
// The profile names, fastest last: {"accurate", "balanced", "edge"}.
std::vector<std::string> analyzer_profiles();

// One face analyze() found: its detection, landmarks, five points, quality and (when embedded)
// crop and embedding. A plain value.
struct Face {
  Detection detection;
  std::vector<cv::Point2f> landmarks;  // 68 points, or empty with landmarker "none"
  FivePoints five{};
  FaceQuality quality;           // score in [0, 1] and its components (quality.hpp)
  cv::Mat aligned;               // the embedder's input crop (BGR)
  std::vector<float> embedding;  // L2-normalised; empty when not embedded
};

// The outcome of compare(): a similarity and the decision at a calibrated threshold. A plain value.
struct Match {
  float similarity = 0;  // cosine, in [-1, 1]
  bool same = false;     // similarity >= threshold
  double threshold = 0;
  std::string operating_point;  // e.g. "fmr_1e-3", as calibrated in the model manifest
};

// The face with the largest box (how a photo of one person names its face when several are
// found: enrolment, compare); nullptr when there is none. Pure; the pointer is into `faces`.
const Face* largest_face(const std::vector<Face>& faces);

// The operating point a false match rate names: "1e-3" -> "fmr_1e-3", "best" -> "best_accuracy"
// (the CLI's --fmr). Throws Error(InvalidArgument) for anything but "best" or a rate in (0, 1).
std::string operating_point_for_fmr(const std::string& fmr);

class FaceAnalyzer {
 public:
  // The pipeline `options` name, with the models of Manifest::load_default().
  // Throws what make_detector / make_landmarker / make_embedder throw, and what
  // Manifest::load_default() throws when no manifest is found.
  explicit FaceAnalyzer(const AnalyzerOptions& options = {});
  // The same with the models of `manifest` (read during construction only: it need not outlive
  // the analyzer). Load the manifest once and pass it to every analyzer. Throws as above, and
  // Error(NotFound) when the embedder's package is not in the manifest; what QualityModel::load
  // throws for options.quality_model (or a default models/quality.json that is not valid).
  explicit FaceAnalyzer(const Manifest& manifest, const AnalyzerOptions& options = {});
  ~FaceAnalyzer();
  // Movable, not copyable; a moved-from analyzer may only be destroyed or assigned to.
  FaceAnalyzer(FaceAnalyzer&&) noexcept;
  // The same pipeline for another thread, over the same loaded networks (weights shared where the
  // runtime allows: FaceDetector::clone; with OpenCV DNN each network is loaded again).
  FaceAnalyzer clone() const;
  FaceAnalyzer& operator=(FaceAnalyzer&&) noexcept;

  // Every face in the image, by detector score. Requires: 8-bit BGR.
  // Ensures: with landmarker "none", faces found without keypoints (FaceBoxes) are left out;
  //   with embed false, `aligned` and `embedding` stay empty.
  // Throws what the stages throw: Error(InvalidArgument) for an empty or non-BGR image,
  //   Error(Internal) when the runtime fails.
  std::vector<Face> analyze(const cv::Mat& bgr, bool embed = true);
  // analyze() on each image in turn (one result per image, in order); requires and throws as analyze().
  std::vector<std::vector<Face>> analyze_batch(const std::vector<cv::Mat>& images, bool embed = true);

  // Cosine similarity and the decision at `operating_point` ("fmr_1e-3", "fmr_1e-4",
  // "best_accuracy"), using the threshold calibrated for the embedder in the manifest.
  // Throws Error(InvalidArgument) as cosine(), Error(NotFound) when the manifest has no such
  // threshold for this model and test-time augmentation variant.
  Match compare(const std::vector<float>& a, const std::vector<float>& b,
                const std::string& operating_point = "fmr_1e-3") const;
  // The calibrated threshold at `operating_point`; throws Error(NotFound) when there is none.
  double threshold(const std::string& operating_point = "fmr_1e-3") const;
  // The model that scores each face's quality (Face::quality), with its enrolment floor.
  const QualityModel& quality_model() const;
  // Cosine similarity in [-1, 1] (0 when either vector is zero). Pure.
  // Throws Error(InvalidArgument) when the sizes differ or the vectors are empty.
  static float cosine(const std::vector<float>& a, const std::vector<float>& b);

  // The crop a gallery keeps to re-embed this face with another model later (FaceCrop).
  // Requires: the image the face was found in. Ensures: a kSize x kSize JPEG and the face's
  //   landmarks (its five points when it has none) in crop pixels.
  // Throws Error(InvalidArgument) when the face's five points coincide.
  FaceCrop face_crop(const cv::Mat& bgr, const Face& face) const;
  // This analyzer's embedding of a stored crop (the embedder's own alignment is redone from the
  // crop's landmarks). Throws Error(InvalidArgument) for an undecodable or empty crop, or a
  // landmark count other than 5, 68 or 468 points.
  std::vector<float> embed_crop(const FaceCrop& crop);

  // The embedder's model name with its test-time augmentation suffix (FaceEmbedder::model()).
  std::string embedder_model() const;
  // The embedding model's name and version as galleries record it with every template:
  // "<model>[+flip][+zoom]|<Manifest::model_version>", e.g. "<model>+flip+zoom|<npm package>@<version>"
  // (templates of another variant or version are refused).
  std::string template_model() const;
  // The options the analyzer was created with.
  const AnalyzerOptions& options() const;

 private:
  struct Impl;
  explicit FaceAnalyzer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace facerec
