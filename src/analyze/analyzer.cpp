#include <facerec/align.hpp>
#include <facerec/analyzer.hpp>
#include <facerec/detect.hpp>
#include <facerec/embed.hpp>
#include <facerec/error.hpp>
#include <facerec/landmarks.hpp>
#include <facerec/models.hpp>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <cmath>

namespace facerec {

struct FaceAnalyzer::Impl {
  AnalyzerOptions opt;
  std::unique_ptr<FaceDetector> detector;
  std::unique_ptr<Landmarker> landmarker;
  std::unique_ptr<FaceEmbedder> embedder;
  std::vector<std::pair<std::string, double>> thresholds;
  std::string model_version;  // "<package>@<version>"
  QualityModel quality;
};

std::vector<std::string> analyzer_profiles() { return {"accurate", "balanced", "edge"}; }

AnalyzerOptions analyzer_profile(const std::string& name) {
  AnalyzerOptions o;
  if (name == "balanced" || name == "edge") {
    // the short-range BlazeFace first (0.7 ms); the full-range one (5 ms, tiled for small faces)
    // only on photos where it found nothing, then (balanced) FaceBoxes (16 ms) where both did not
    o.detector.model = name == "balanced" ? "blazeface-front>blazeface>faceboxes" : "blazeface-front>blazeface";
    o.detector.close_range_model = "none";  // first in the cascade already
    o.landmarker.model = "facerec-landmarks-96";
    o.landmarker.passes = 1;
    o.landmarker.flip = true;  // + the mirror image: 0.1 ms, chosen on LFW View 1 (README: Profiles)
    // balanced: the fused embedder without flip (chosen on LFW View 1 over MobileFaceNet with flip:
    // same accuracy, lower EER; the same two network runs); edge: MobileFaceNet alone
    o.embedder.model = name == "balanced" ? EmbedderOptions{}.model : "mobilefacenet-ms1m";
    o.embedder.flip = false;
  }
  if (name == "edge") o.detector.min_face = 40;
  if (name != "accurate" && name != "balanced" && name != "edge") {
    std::string known;
    for (const auto& p : analyzer_profiles()) known += (known.empty() ? "" : ", ") + p;
    throw Error(ErrorKind::InvalidArgument, "unknown profile '" + name + "' (known: " + known + ")");
  }
  o.detector.backend = o.landmarker.backend = o.embedder.backend = "onednn";
  o.detector.threads = o.landmarker.threads = o.embedder.threads = 1;
  return o;
}

const Face* largest_face(const std::vector<Face>& faces) {
  const Face* best = nullptr;
  for (const auto& f : faces)
    if (!best || f.detection.box.area() > best->detection.box.area()) best = &f;
  return best;
}

std::string operating_point_for_fmr(const std::string& fmr) {
  if (fmr == "best") return "best_accuracy";
  size_t used = 0;
  double rate = -1;
  try {
    rate = std::stod(fmr, &used);
  } catch (const std::exception&) {
  }
  if (used != fmr.size() || !(rate > 0 && rate < 1))
    throw Error(ErrorKind::InvalidArgument,
                "false match rate '" + fmr + "': expected 'best' or a rate such as 1e-3 or 1e-4");
  return "fmr_" + fmr;
}

FaceAnalyzer::FaceAnalyzer(const AnalyzerOptions& o) : FaceAnalyzer(Manifest::load_default(), o) {}

FaceAnalyzer::FaceAnalyzer(const Manifest& manifest, const AnalyzerOptions& o) : impl_(std::make_unique<Impl>()) {
  impl_->opt = o;
  impl_->detector = make_detector(manifest, o.detector);
  impl_->landmarker = make_landmarker(manifest, o.landmarker);
  impl_->embedder = make_embedder(manifest, o.embedder);
  impl_->quality = o.quality_model.empty()     ? QualityModel::load_default()
                   : o.quality_model == "none" ? QualityModel()
                                               : QualityModel::load(o.quality_model);
  const auto& entry = manifest.model(o.embedder.model);
  impl_->model_version = manifest.model_version(entry.name);
  // thresholds are stored per test-time augmentation variant: "fmr_1e-3" (none), "fmr_1e-3+flip",
  // "fmr_1e-3+flip+zoom", ...
  for (const auto& [k, v] : entry.thresholds) {
    auto name = parse_tta_name(k);
    if (name.flip == o.embedder.flip && name.zoom == o.embedder.zoom) impl_->thresholds.emplace_back(name.base, v);
  }
}

FaceAnalyzer::FaceAnalyzer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

FaceAnalyzer FaceAnalyzer::clone() const {
  FaceAnalyzer c(std::unique_ptr<Impl>(new Impl{impl_->opt, impl_->detector->clone(), impl_->landmarker->clone(),
                                                impl_->embedder->clone(), impl_->thresholds, impl_->model_version,
                                                impl_->quality}));
  return c;
}

const QualityModel& FaceAnalyzer::quality_model() const { return impl_->quality; }

FaceAnalyzer::~FaceAnalyzer() = default;
FaceAnalyzer::FaceAnalyzer(FaceAnalyzer&&) noexcept = default;
FaceAnalyzer& FaceAnalyzer::operator=(FaceAnalyzer&&) noexcept = default;

std::vector<Face> FaceAnalyzer::analyze(const cv::Mat& bgr, bool embed) {
  std::vector<Face> faces;
  for (auto& d : impl_->detector->detect(bgr)) {
    Face f;
    f.detection = d;
    f.landmarks = impl_->landmarker->landmarks(bgr, d);
    // without a landmarker, a face found without keypoints (FaceBoxes) cannot be aligned
    if (f.landmarks.empty() && d.keypoints.size() < 4) continue;
    f.five = five_points(f.landmarks, d);
    try {
      f.quality = impl_->quality.assess(measure_quality(bgr, f.five, d.score));
    } catch (const Error&) {
      // coinciding eye points: not assessed (score -1)
    }
    if (embed) {
      f.aligned = impl_->embedder->align(bgr, f.five, f.landmarks);
      f.embedding = impl_->embedder->embed(f.aligned);
    }
    faces.push_back(std::move(f));
  }
  return faces;
}

std::vector<std::vector<Face>> FaceAnalyzer::analyze_batch(const std::vector<cv::Mat>& images, bool embed) {
  std::vector<std::vector<Face>> out;
  out.reserve(images.size());
  for (const auto& im : images) out.push_back(analyze(im, embed));
  return out;
}

float FaceAnalyzer::cosine(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size() || a.empty())
    throw Error(ErrorKind::InvalidArgument, "cannot compare embeddings of sizes " + std::to_string(a.size()) + " and " +
                                                std::to_string(b.size()) + " (different models?)");
  double d = 0, na = 0, nb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    d += double(a[i]) * b[i];
    na += double(a[i]) * a[i];
    nb += double(b[i]) * b[i];
  }
  return na > 0 && nb > 0 ? float(d / std::sqrt(na * nb)) : 0.f;
}

double FaceAnalyzer::threshold(const std::string& op) const {
  for (const auto& [k, v] : impl_->thresholds)
    if (k == op) return v;
  throw Error(ErrorKind::NotFound, "no calibrated threshold '" + op + "' for model " + embedder_model() +
                                       " in the manifest (calibrate with `facerec eval lfw --calibrate`)");
}

Match FaceAnalyzer::compare(const std::vector<float>& a, const std::vector<float>& b, const std::string& op) const {
  Match m;
  m.similarity = cosine(a, b);
  m.operating_point = op;
  m.threshold = threshold(op);
  m.same = m.similarity >= m.threshold;
  return m;
}

FaceCrop FaceAnalyzer::face_crop(const cv::Mat& bgr, const Face& face) const {
  // the ArcFace template, scaled and centred in the crop
  const auto& t = arcface_template_112();
  const float scale = float(FaceCrop::kSize) * (1 - FaceCrop::kMargin) / 112.f;
  std::vector<cv::Point2f> from(face.five.begin(), face.five.end()), to;
  for (const auto& p : t)
    to.push_back((p - cv::Point2f(56, 56)) * scale + cv::Point2f(FaceCrop::kSize / 2.f, FaceCrop::kSize / 2.f));
  cv::Mat m = similarity_transform(from, to);
  cv::Mat crop;
  cv::warpAffine(bgr, crop, m, cv::Size(FaceCrop::kSize, FaceCrop::kSize), cv::INTER_LINEAR, cv::BORDER_REPLICATE);
  FaceCrop c;
  std::vector<uchar> buf;
  cv::imencode(".jpg", crop, buf, {cv::IMWRITE_JPEG_QUALITY, 95});
  c.jpeg.assign(buf.begin(), buf.end());
  std::vector<cv::Point2f> pts = face.landmarks.empty() ? from : face.landmarks, mapped;
  cv::transform(pts, mapped, m);
  for (const auto& p : mapped) {
    c.landmarks.push_back(p.x);
    c.landmarks.push_back(p.y);
  }
  return c;
}

std::vector<float> FaceAnalyzer::embed_crop(const FaceCrop& c) {
  std::vector<uchar> buf(c.jpeg.begin(), c.jpeg.end());
  cv::Mat crop = buf.empty() ? cv::Mat() : cv::imdecode(buf, cv::IMREAD_COLOR);
  if (crop.empty()) throw Error(ErrorKind::InvalidArgument, "stored face crop cannot be decoded");
  size_t n = c.landmarks.size() / 2;
  if (c.landmarks.size() % 2 || (n != 5 && n != 68 && n != 468))
    throw Error(ErrorKind::InvalidArgument,
                "stored face crop has " + std::to_string(n) + " landmarks (5, 68 or 468 expected)");
  std::vector<cv::Point2f> pts;
  for (size_t i = 0; i < n; ++i) pts.emplace_back(c.landmarks[2 * i], c.landmarks[2 * i + 1]);
  FivePoints five{};
  std::vector<cv::Point2f> landmarks;
  if (n == 5) {
    std::copy(pts.begin(), pts.end(), five.begin());
  } else {
    landmarks = pts;
    five = five_points(landmarks, Detection{});
  }
  return impl_->embedder->embed(impl_->embedder->align(crop, five, landmarks));
}

std::string FaceAnalyzer::template_model() const { return embedder_model() + "|" + impl_->model_version; }

std::string FaceAnalyzer::embedder_model() const { return impl_->embedder->model(); }
const AnalyzerOptions& FaceAnalyzer::options() const { return impl_->opt; }

}  // namespace facerec
