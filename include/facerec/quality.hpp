#pragma once
// Face quality: how well a face is likely to be recognised, as one score in [0, 1], with the
// components it is made of.
//
// What it represents: measurements of a detected face that recognition depends on — its size
// (inter-ocular distance in the image), sharpness (variance of the Laplacian of a standard
// 112x112 ArcFace-aligned grey crop), exposure (mean grey level, contrast and clipped share of
// that crop), head pose (yaw, pitch, roll, approximated from the five points) and the detector's
// confidence — turned into components in [0, 1] by fixed mappings (documented below; 1 is good),
// and into the score by a QualityModel: a logistic regression over the measurements, fitted by
// `facerec quality fit` on faces that are not LFW's, so that the score estimates the probability
// that this face, compared with a good photo of the same person, matches at the fmr_1e-3
// threshold of the embedder it was fitted with. Without a fitted model the score is the geometric
// mean of the components (an uncalibrated ranking, and said so in FaceQuality::model).
//
// Thread safety: plain values and pure functions; QualityModel is immutable after loading.
#include <facerec/face.hpp>

#include <opencv2/core.hpp>

#include <array>
#include <filesystem>
#include <string>
#include <vector>

namespace facerec {

// What is measured on a face (not yet a judgement). A plain value.
struct QualityMeasures {
  float interocular = 0;               // distance between the eye centres, image pixels
  float laplacian = 0;                 // variance of the Laplacian of the 112x112 aligned grey crop (grey levels^2)
  float brightness = 0;                // mean grey level of the crop's central region, [0, 1]
  float contrast = 0;                  // standard deviation of those grey levels, [0, 1]
  float clipped = 0;                   // share of those pixels at <= 5 or >= 250
  float yaw = 0, pitch = 0, roll = 0;  // degrees, approximate, in head_pose.hpp's conventions
  float detection = 0;                 // the detector's score

  static constexpr int kCount = 9;
  std::array<float, kCount> values() const;  // in the order above
  static QualityMeasures from_values(const std::array<float, kCount>& v);
  static const std::array<const char*, kCount>& names();  // "interocular", "laplacian", ...
};

// A face's quality: the score and its components. A plain value.
struct FaceQuality {
  float score = -1;  // [0, 1]; -1: not assessed (no five points)
  // components in [0, 1], 1 good:
  float size = 0;       // (interocular - 10) / (40 - 10), clamped: 40 px between the eyes is enough
  float sharpness = 0;  // (log10(laplacian) - 1) / 1.5, clamped: 10 is a blur, 316 and more is sharp
  float exposure = 0;   // (1 - |brightness - 0.5| / 0.5) * (1 - clipped) * min(1, contrast / 0.12)
  float pose = 0;       // 1 - max(|yaw|, |pitch|) / 60, clamped
  QualityMeasures measures;
  std::string model;  // "logistic" (a fitted QualityModel) or "components" (the geometric mean)

  // The components and measures by name, as the CLI's and the service's JSON name them: score,
  // size, sharpness, exposure, pose, then QualityMeasures::names().
  std::vector<std::pair<std::string, double>> fields() const;
};

// The measurements of a face of `bgr` (8-bit BGR) from its five points and detector score.
// Pure. Throws Error(InvalidArgument) for an empty image or coinciding eye points.
QualityMeasures measure_quality(const cv::Mat& bgr, const FivePoints& five, float detection_score);

// The logistic model that turns measurements into a score; see the file comment.
class QualityModel {
 public:
  // No fitted model: scores are the geometric mean of the components.
  QualityModel() = default;
  // Reads a model written by save(). Throws Error(NotFound) when the file is missing and
  // Error(BadModel) when it is not such a model.
  static QualityModel load(const std::filesystem::path& file);
  // models/quality.json beside the default manifest (Manifest::default_path()), or an unfitted
  // model when there is none.
  static QualityModel load_default();
  // Writes the model as JSON (atomically), with `provenance` (how it was made) kept in it.
  void save(const std::filesystem::path& file) const;

  bool fitted() const { return fitted_; }
  // The features the logistic regression sees, from the measurements (a fixed transformation:
  // log sizes, squared exposure deviation, absolute angles, ...), and their names.
  static std::vector<double> features(const QualityMeasures& m);
  static const std::vector<std::string>& feature_names();
  // Fits weights to (features, outcome in [0, 1]) by L2-regularised logistic regression (Newton's
  // method on standardised features). Requires as many outcomes as rows, at least 10 rows.
  // Throws Error(InvalidArgument) otherwise.
  static QualityModel fit(const std::vector<std::vector<double>>& rows, const std::vector<double>& outcomes,
                          double l2 = 1e-3);

  FaceQuality assess(const QualityMeasures& m) const;
  // The probability the model gives for a row of features (requires fitted()).
  double predict(const std::vector<double>& features) const;

  // The enrolment floor: faces below it are refused unless forced (FaceQuality::score).
  double floor = 0.3;
  std::string provenance;  // how the model was made (command, data); empty for an unfitted model

 private:
  bool fitted_ = false;
  std::vector<double> mean_, scale_, weights_;
  double bias_ = 0;
};

}  // namespace facerec
