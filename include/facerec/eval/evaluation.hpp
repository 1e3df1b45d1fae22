#pragma once
// facerec evaluations beyond the metrics (eval.hpp): the pieces `facerec eval` is made of, so
// that a program runs the same evaluation the CLI runs — embedder variants by name, the quality
// pairings, degradation samples, detection evaluation on labelled images, calibration into the
// manifest, and reports (figures -> JSON -> one self-contained HTML page; two reports compared).
//
// Thread safety: pure functions, except that evaluate_detection and degradation_samples use the
// detector they are given (not safe concurrently with other uses of it).
#include <facerec/detect.hpp>
#include <facerec/eval/dataset.hpp>
#include <facerec/eval/degrade.hpp>
#include <facerec/eval/eval.hpp>
#include <facerec/landmarks.hpp>
#include <facerec/models.hpp>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace facerec {

using ReportJson = nlohmann::ordered_json;

// ---- what is evaluated -----------------------------------------------------------------------
// The embedder list evaluated by default: the analyzer's default embedder with its default
// test-time augmentation ("dlib-mfn-fused+flip").
std::string default_embedder_list();
// "a,b+flip,c+zoom+flip" -> variants; with_and_without_flip adds each embedder's other flip
// setting. Throws Error(InvalidArgument) when the list names no model.
std::vector<EmbeddingVariant> parse_embedding_variants(const std::string& comma_list, bool with_and_without_flip);
// Every model the embedding of a dataset runs (detectors, verifier, landmarker, embedders).
std::vector<std::string> models_used(const DatasetEmbedOptions& options);

// The seed's quality pairings of one variant: high-high (originals with originals), low-high
// (originals enrolled, degraded copies probing), low-low. The tables must outlive the result.
struct QualityPairing {
  std::string name;
  const EmbeddingTable* gallery;
  const EmbeddingTable* probe;
};
std::vector<QualityPairing> quality_pairings(const EmbeddingTable& high, const EmbeddingTable& low);

// ---- calibration -----------------------------------------------------------------------------
// Records each variant's fmr_1e-3, fmr_1e-4 and best_accuracy thresholds (named with the
// variant's suffix) in `manifest`; save() it to keep them. Requires one evaluation per variant.
void record_calibration(Manifest& manifest, const std::vector<EmbeddingVariant>& variants,
                        const std::vector<PairEvaluation>& evaluations);
// The threshold record_calibration recorded for `variant` at `operating_point` (its name with the
// variant's suffix, e.g. "fmr_1e-3+flip"). Throws Error(NotFound) when the manifest has none.
double calibrated_threshold(const Manifest& manifest, const EmbeddingVariant& variant,
                            const std::string& operating_point = "fmr_1e-3");

// ---- detection on labelled images ------------------------------------------------------------
struct DetectionImageResult {
  std::string file;
  size_t truth = 0, found = 0;
  DetectionCounts counts;
};
struct DetectionEvaluation {
  DetectionCounts total;
  std::vector<DetectionImageResult> images;
  double seconds = 0;
};
// Runs `detector` on every labelled image under `images_dir` and matches its boxes with the truth
// (IoU >= 0.5). `each` (may be empty) sees every image as it is done: its truth, what was found
// and the counts.
// Throws what decoding and the detector throw (a missing or bad image is an error).
DetectionEvaluation evaluate_detection(
    FaceDetector& detector, const std::vector<LabelledImage>& labelled, const std::filesystem::path& images_dir,
    const std::function<void(const LabelledImage&, const cv::Mat&, const std::vector<Detection>&,
                             const DetectionImageResult&)>& each = {});

// ---- detection by head pose (300-W markup) --------------------------------------------------
// One annotated face of a 300-W set (../shared/data/300w: <name>.jpg beside <name>.pts, 68 "x y"
// lines, optionally in the pts format's braces). A plain value.
struct PosedFace {
  std::string file;                 // the image, relative to the root
  std::vector<cv::Point2f> points;  // the 68 points (iBUG order)
  double yaw = 0;                   // approximate_yaw(points)
};
// An approximate head yaw in degrees from 68 points: asin of the nose tip's (point 30) offset from
// the middle of the jaw ends (points 0 and 16), in half the jaw width — a cylinder-head proxy, not
// a calibrated pose estimate; positive when the nose is right of the middle (in the image).
// Requires 68 points (Error(InvalidArgument) otherwise).
double approximate_yaw(const std::vector<cv::Point2f>& points);
// Every .pts file under `root` (recursively) with its image (.jpg or .png), sorted by path.
// Throws Error(BadInput) naming a .pts file that does not hold 68 points or has no image, and for
// a root without .pts files; Error(NotFound) when the root cannot be listed.
std::vector<PosedFace> read_300w(const std::filesystem::path& root);
// Normalised mean error of 68 landmarks: the mean distance between `points` and `truth`, point by
// point, over the distance between the outer eye corners of `truth` (iBUG points 36 and 45, the
// 300-W "inter-ocular" normalisation). Requires 68 points in each (Error(InvalidArgument)
// otherwise) and distinct eye corners.
double landmark_nme(const std::vector<cv::Point2f>& points, const std::vector<cv::Point2f>& truth);
// Whether `found` holds the annotated face: a box containing the points' centre whose width is
// 0.5 to 2.5 times the points' width (a detector's box spans brows to chin or more; 300-W points
// do not reach the forehead). Pure.
bool detects_face(const std::vector<Detection>& found, const std::vector<cv::Point2f>& points);
// ---- landmark accuracy (300-W markup) -------------------------------------------------------
// The seven points every landmarker gives in some form: the eye corners (iBUG 36, 39, 42, 45), the
// nose tip (30) and the mouth corners (48, 54); from 468 FaceMesh points, their counterparts
// (33, 133, 362, 263, 1, 61, 291). Throws Error(InvalidArgument) for another count than 68 or 468.
std::vector<cv::Point2f> seven_points(const std::vector<cv::Point2f>& points);
// A landmarker to evaluate and its name in reports: "MODEL[@PASSES][+flip]" (passes default 1,
// flip default off), e.g. "face_landmark_68_model@2+flip". Throws Error(InvalidArgument) for a
// malformed name.
LandmarkerOptions parse_landmarker_variant(const std::string& name);
// One landmarker's accuracy and speed on a 300-W folder. A plain value.
struct LandmarkScore {
  std::string landmarker;  // as given
  size_t faces = 0;        // annotated faces the detector found (the others are not scored)
  double nme68 = 0;        // mean landmark_nme (NaN when the landmarker does not give 68 points)
  double median68 = 0;
  double failures = 0;     // share of faces with NME68 > 0.08 (NaN as nme68)
  double nme7 = 0;         // mean NME over seven_points (same normalisation): comparable across landmarkers
  double ms_per_face = 0;  // wall time of Landmarker::landmarks, mean
  std::vector<double> per_face68, per_face7;  // every scored face's NME, in file order (68: empty as nme68 NaN)
};
struct LandmarkEvaluation {
  size_t images = 0, found = 0;  // annotated faces, and those the detector found
  std::vector<LandmarkScore> scores;
};
// Runs `detector` once per image of `root` (read_300w) and every landmarker on the box that holds
// the annotated face (detects_face), all on the same crops. `progress` (may be empty) sees (done,
// total). Throws what read_300w, decoding and the stages throw.
LandmarkEvaluation evaluate_landmarks(const Manifest& manifest, const DetectorOptions& detector,
                                      const std::vector<std::string>& landmarkers, const std::string& backend,
                                      int threads, const std::filesystem::path& root, size_t max_faces = 0,
                                      const std::function<void(size_t, size_t)>& progress = {});
// Recall per yaw band: faces and found faces with |yaw| in [edges[i], edges[i+1]). A plain value.
struct PoseRecallBand {
  double from = 0, to = 0;
  size_t faces = 0, found = 0;
};
struct PoseRecall {
  std::vector<PoseRecallBand> bands;
  size_t faces = 0, found = 0;
  std::vector<std::string> missed;  // files whose face was not found
  double seconds = 0;
};
// Runs `detector` on every face's image. `progress` (may be empty) sees (done, total).
// Throws what decoding and the detector throw; Error(InvalidArgument) for fewer than two edges.
PoseRecall evaluate_pose_recall(FaceDetector& detector, const std::filesystem::path& root,
                                const std::vector<PosedFace>& faces,
                                const std::vector<double>& edges = {0, 15, 30, 45, 90},
                                const std::function<void(size_t, size_t)>& progress = {});

// ---- reports ---------------------------------------------------------------------------------
ReportJson to_json(const PairEvaluation& e);
ReportJson to_json(const IdentificationResult& r);
ReportJson to_json(const DegradationRanges& r);
ReportJson to_json(const DetectionEvaluation& e);
// The pipeline an embedding ran (detector, verifier, landmarker and its framing, embedders).
ReportJson pipeline_json(const DatasetEmbedOptions& options, const std::string& embedder_list, bool flip_variants);
ReportJson protocol_json(const IdentificationProtocol& protocol, const std::string& description);
// The report skeleton: what ran (version, command, date), the pipeline, the manifest, and the
// entries (package, origin, licence) of the models used.
ReportJson report_header(const Manifest& manifest, const ReportJson& pipeline, const std::vector<std::string>& models,
                         const std::string& command);
// sha256 over "path NUL sha256(file) LF" of every image, in the order given (sort first).
std::string images_digest(const std::filesystem::path& root, const std::vector<std::string>& images);

// An original and its degraded copy, shown in the report's quality section.
struct DegradationSample {
  std::string image;
  Degradation params;
  std::vector<unsigned char> original_jpeg, degraded_jpeg;
};
// Up to four such samples from `images` (seeded picks; images without a face are passed over).
std::vector<DegradationSample> degradation_samples(FaceDetector& detector, const std::filesystem::path& root,
                                                   const std::vector<std::string>& images,
                                                   const DegradationRanges& ranges);

// Renders the report JSON (as written by `facerec eval lfw|identification`) as one HTML page.
std::string render_html(const ReportJson& report, const std::vector<DegradationSample>& samples = {});
// Writes DIR/report.json and DIR/report.html (each atomically); returns the HTML path.
std::filesystem::path write_report(const std::filesystem::path& dir, const ReportJson& report,
                                   const std::vector<DegradationSample>& samples = {});
// Comparison table of two reports (text and HTML). Throws Error(InvalidArgument) for a file that is not
// JSON.
std::string compare_text(const std::string& name_a, const std::string& name_b, const std::string& json_a,
                         const std::string& json_b, bool all);
std::string compare_html(const std::string& name_a, const std::string& name_b, const std::string& json_a,
                         const std::string& json_b, bool all);

}  // namespace facerec
