// Face quality: measurements on the face, fixed component mappings, and the logistic model that
// turns the measurements into a score (include/facerec/quality.hpp).
#include "common/fs.hpp"

#include <facerec/align.hpp>
#include <facerec/error.hpp>
#include <facerec/models.hpp>
#include <facerec/quality.hpp>

#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>

namespace facerec {
namespace {

using Json = nlohmann::ordered_json;

float clamp01(double v) { return float(std::clamp(v, 0.0, 1.0)); }
constexpr double kDegrees = 180.0 / 3.14159265358979323846;

// In the ArcFace template: the nose tip lies this far (as a share of the eye-to-mouth distance)
// below the eyes' midpoint, and about 0.6 inter-ocular distances in front of the eyes' plane.
constexpr double kNoseDown = 0.495, kNoseDepth = 0.6;

}  // namespace

std::array<float, QualityMeasures::kCount> QualityMeasures::values() const {
  return {interocular, laplacian, brightness, contrast, clipped, yaw, pitch, roll, detection};
}

QualityMeasures QualityMeasures::from_values(const std::array<float, kCount>& v) {
  QualityMeasures m;
  m.interocular = v[0];
  m.laplacian = v[1];
  m.brightness = v[2];
  m.contrast = v[3];
  m.clipped = v[4];
  m.yaw = v[5];
  m.pitch = v[6];
  m.roll = v[7];
  m.detection = v[8];
  return m;
}

const std::array<const char*, QualityMeasures::kCount>& QualityMeasures::names() {
  static const std::array<const char*, kCount> n = {"interocular", "laplacian", "brightness", "contrast", "clipped",
                                                    "yaw",         "pitch",     "roll",       "detection"};
  return n;
}

std::vector<std::pair<std::string, double>> FaceQuality::fields() const {
  std::vector<std::pair<std::string, double>> f = {
      {"score", score}, {"size", size}, {"sharpness", sharpness}, {"exposure", exposure}, {"pose", pose}};
  auto v = measures.values();
  for (size_t i = 0; i < v.size(); ++i) f.emplace_back(QualityMeasures::names()[i], v[i]);
  return f;
}

QualityMeasures measure_quality(const cv::Mat& bgr, const FivePoints& five, float detection_score) {
  if (bgr.empty() || bgr.type() != CV_8UC3)
    throw Error(ErrorKind::InvalidArgument, "quality: needs an 8-bit BGR image");
  QualityMeasures m;
  m.detection = detection_score;
  // geometry: eyes, nose tip and the mouth's centre
  const cv::Point2f eye_l = five[0], eye_r = five[1], nose = five[2], mouth = (five[3] + five[4]) * 0.5f;
  const cv::Point2f eyes = (eye_l + eye_r) * 0.5f;
  const double iod = cv::norm(eye_r - eye_l);
  if (!(iod > 1e-3)) throw Error(ErrorKind::InvalidArgument, "quality: the eye points coincide");
  m.interocular = float(iod);
  m.roll = float(std::atan2(eye_r.y - eye_l.y, eye_r.x - eye_l.x) * kDegrees);
  // the face's vertical axis (eyes -> mouth) and the nose tip's offsets from it
  cv::Point2d axis(mouth.x - eyes.x, mouth.y - eyes.y);
  double em = std::max(cv::norm(axis), 1e-3);
  axis *= 1.0 / em;
  const cv::Point2d across(-axis.y, axis.x);  // points to the image's left for an upright face
  const cv::Point2d n(nose.x - eyes.x, nose.y - eyes.y);
  double side = -(n.x * across.x + n.y * across.y);  // > 0: the nose is right of the axis in the image
  double down = (n.x * axis.x + n.y * axis.y) / em;  // share of the eye-to-mouth distance
  m.yaw = float(std::atan2(side, kNoseDepth * iod) * kDegrees);
  m.pitch = float(std::atan2((down - kNoseDown) * em, kNoseDepth * iod) * kDegrees);
  // photometry on the standard aligned crop
  cv::Mat crop = warp_to_template(bgr, five, 112), grey;
  cv::cvtColor(crop, grey, cv::COLOR_BGR2GRAY);
  cv::Mat lap;
  cv::Laplacian(grey, lap, CV_32F, 3);
  cv::Scalar lm, ls;
  cv::meanStdDev(lap(cv::Rect(16, 16, 80, 80)), lm, ls);  // inside the face, away from the crop's edges
  m.laplacian = float(ls[0] * ls[0]);
  cv::Mat centre = grey(cv::Rect(24, 24, 64, 72));
  cv::Scalar gm, gs;
  cv::meanStdDev(centre, gm, gs);
  m.brightness = float(gm[0] / 255.0);
  m.contrast = float(gs[0] / 255.0);
  int clipped = cv::countNonZero(centre <= 5) + cv::countNonZero(centre >= 250);
  m.clipped = float(clipped) / float(centre.total());
  return m;
}

std::vector<double> QualityModel::features(const QualityMeasures& m) {
  return {std::log(std::max(double(m.interocular), 4.0)),
          std::log10(1.0 + std::max(double(m.laplacian), 0.0)),
          std::pow(double(m.brightness) - 0.5, 2),
          double(m.brightness),
          double(m.contrast),
          double(m.clipped),
          std::abs(double(m.yaw)) / 45.0,
          std::abs(double(m.pitch)) / 45.0,
          std::abs(double(m.roll)) / 45.0,
          double(m.detection)};
}

const std::vector<std::string>& QualityModel::feature_names() {
  static const std::vector<std::string> n = {"log_interocular", "log10_laplacian", "brightness_deviation_sq",
                                             "brightness",      "contrast",        "clipped",
                                             "abs_yaw",         "abs_pitch",       "abs_roll",
                                             "detection"};
  return n;
}

FaceQuality QualityModel::assess(const QualityMeasures& m) const {
  FaceQuality q;
  q.measures = m;
  q.size = clamp01((m.interocular - 10.0) / 30.0);
  q.sharpness = clamp01((std::log10(std::max(double(m.laplacian), 1e-6)) - 1.0) / 1.5);
  q.exposure = clamp01((1.0 - std::abs(m.brightness - 0.5) / 0.5) * (1.0 - m.clipped) *
                       std::min(1.0, double(m.contrast) / 0.12));
  q.pose = clamp01(1.0 - std::max(std::abs(m.yaw), std::abs(m.pitch)) / 60.0);
  if (fitted_) {
    q.score = float(predict(features(m)));
    q.model = "logistic";
  } else {
    q.score = float(std::pow(double(q.size) * q.sharpness * q.exposure * q.pose, 0.25));  // geometric mean
    q.model = "components";
  }
  return q;
}

double QualityModel::predict(const std::vector<double>& x) const {
  if (!fitted_) throw Error(ErrorKind::InvalidArgument, "quality model: not fitted");
  if (x.size() != weights_.size()) throw Error(ErrorKind::InvalidArgument, "quality model: wrong feature count");
  double z = bias_;
  for (size_t i = 0; i < x.size(); ++i) z += weights_[i] * (x[i] - mean_[i]) / scale_[i];
  return 1.0 / (1.0 + std::exp(-z));
}

QualityModel QualityModel::fit(const std::vector<std::vector<double>>& rows, const std::vector<double>& y, double l2) {
  const size_t n = rows.size();
  if (n < 10 || y.size() != n)
    throw Error(ErrorKind::InvalidArgument, "quality fit: needs >= 10 rows, one outcome each");
  const size_t d = rows[0].size();
  QualityModel qm;
  qm.mean_.assign(d, 0);
  qm.scale_.assign(d, 0);
  for (const auto& r : rows) {
    if (r.size() != d) throw Error(ErrorKind::InvalidArgument, "quality fit: rows of different lengths");
    for (size_t j = 0; j < d; ++j) qm.mean_[j] += r[j] / double(n);
  }
  for (const auto& r : rows)
    for (size_t j = 0; j < d; ++j) qm.scale_[j] += (r[j] - qm.mean_[j]) * (r[j] - qm.mean_[j]) / double(n);
  for (auto& s : qm.scale_) s = s > 1e-12 ? std::sqrt(s) : 1.0;
  // Newton's method on w = (bias, weights): gradient and Hessian of the mean cross-entropy + l2 |weights|^2 / 2
  std::vector<double> w(d + 1, 0.0);
  for (int it = 0; it < 50; ++it) {
    cv::Mat H = cv::Mat::zeros(int(d + 1), int(d + 1), CV_64F), g = cv::Mat::zeros(int(d + 1), 1, CV_64F);
    std::vector<double> x(d + 1, 1.0);
    for (size_t i = 0; i < n; ++i) {
      for (size_t j = 0; j < d; ++j) x[j + 1] = (rows[i][j] - qm.mean_[j]) / qm.scale_[j];
      double z = 0;
      for (size_t j = 0; j <= d; ++j) z += w[j] * x[j];
      double p = 1.0 / (1.0 + std::exp(-z)), s = std::max(p * (1 - p), 1e-9);
      for (size_t a = 0; a <= d; ++a) {
        g.at<double>(int(a)) += (p - y[i]) * x[a] / double(n);
        for (size_t b = 0; b <= d; ++b) H.at<double>(int(a), int(b)) += s * x[a] * x[b] / double(n);
      }
    }
    for (size_t j = 1; j <= d; ++j) {
      g.at<double>(int(j)) += l2 * w[j];
      H.at<double>(int(j), int(j)) += l2;
    }
    cv::Mat step;
    cv::solve(H, g, step, cv::DECOMP_CHOLESKY);
    double largest = 0;
    for (size_t j = 0; j <= d; ++j) {
      w[j] -= step.at<double>(int(j));
      largest = std::max(largest, std::abs(step.at<double>(int(j))));
    }
    if (largest < 1e-8) break;
  }
  qm.bias_ = w[0];
  qm.weights_.assign(w.begin() + 1, w.end());
  qm.fitted_ = true;
  return qm;
}

void QualityModel::save(const std::filesystem::path& file) const {
  Json j;
  j["format"] = "facerec-quality-logistic-1";
  j["provenance"] = provenance;
  j["floor"] = floor;
  j["features"] = feature_names();
  j["mean"] = mean_;
  j["scale"] = scale_;
  j["weights"] = weights_;
  j["bias"] = bias_;
  detail::write_file_atomic(file, j.dump(2) + "\n");
}

QualityModel QualityModel::load(const std::filesystem::path& file) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec))
    throw Error(ErrorKind::NotFound, "no quality model " + file.string());
  QualityModel qm;
  try {
    auto j = Json::parse(detail::read_file(file));
    if (j.value("format", "") != "facerec-quality-logistic-1")
      throw Error(ErrorKind::BadModel, file.string() + " is not a facerec quality model");
    if (j.at("features").get<std::vector<std::string>>() != feature_names())
      throw Error(ErrorKind::BadModel, file.string() + ": its features are not this version's");
    qm.mean_ = j.at("mean").get<std::vector<double>>();
    qm.scale_ = j.at("scale").get<std::vector<double>>();
    qm.weights_ = j.at("weights").get<std::vector<double>>();
    qm.bias_ = j.at("bias").get<double>();
    qm.floor = j.at("floor").get<double>();
    qm.provenance = j.value("provenance", "");
    const size_t d = feature_names().size();
    if (qm.mean_.size() != d || qm.scale_.size() != d || qm.weights_.size() != d)
      throw Error(ErrorKind::BadModel, file.string() + ": wrong number of coefficients");
    for (double s : qm.scale_)
      if (!(s > 0) || !std::isfinite(s)) throw Error(ErrorKind::BadModel, file.string() + ": a scale is not positive");
    if (!(qm.floor >= 0 && qm.floor <= 1)) throw Error(ErrorKind::BadModel, file.string() + ": floor outside [0, 1]");
  } catch (const Json::exception& e) {
    throw Error(ErrorKind::BadModel, file.string() + " is not a valid quality model: " + e.what());
  }
  qm.fitted_ = true;
  return qm;
}

QualityModel QualityModel::load_default() {
  std::filesystem::path file;
  try {
    file = Manifest::default_path().parent_path() / "quality.json";
  } catch (const Error&) {
    return QualityModel();  // no default manifest (a caller's own): no default quality model either
  }
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) return QualityModel();
  return load(file);
}

}  // namespace facerec
