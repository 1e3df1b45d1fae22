// The pieces of `facerec eval` as library functions: embedder variants, quality pairings,
// calibration, detection on labelled images, report headers and degradation samples.
#include <facerec/embed.hpp>
#include <facerec/error.hpp>
#include <facerec/eval/evaluation.hpp>
#include <facerec/image.hpp>
#include <facerec/landmarks.hpp>
#include <facerec/version.hpp>

#include "common/fs.hpp"
#include "common/sha256.hpp"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <fstream>
#include <numeric>
#include <sstream>

namespace facerec {

using Json = ReportJson;

std::string default_embedder_list() {
  EmbedderOptions e;
  return e.model + e.tta_suffix();
}

std::vector<EmbeddingVariant> parse_embedding_variants(const std::string& list, bool with_and_without_flip) {
  std::vector<EmbeddingVariant> v;
  for (size_t start = 0; start <= list.size();) {
    size_t end = std::min(list.find(',', start), list.size());
    std::string name = list.substr(start, end - start);
    start = end + 1;
    if (name.empty()) continue;
    const TtaName t = parse_tta_name(name);  // NAME[+flip][+zoom], in either order
    const std::string& e = t.base;
    const bool with_flip = t.flip, with_zoom = t.zoom;  // (plain names: clang 14 cannot capture bindings)
    for (bool f : {false, true})
      if ((with_and_without_flip || f == with_flip) && std::none_of(v.begin(), v.end(), [&](const EmbeddingVariant& x) {
            return x.embedder == e && x.flip == f && x.zoom == with_zoom;
          }))
        v.push_back({e, f, with_zoom});
  }
  if (v.empty()) throw Error(ErrorKind::InvalidArgument, "the embedder list '" + list + "' names no model");
  return v;
}

std::vector<std::string> models_used(const DatasetEmbedOptions& o) {
  const auto& p = o.pipeline;
  std::vector<std::string> m{p.detector.close_range_model, p.detector.verifier, p.landmarker.model};
  for (const auto& d : detector_models(p.detector.model)) m.push_back(d);
  for (const auto& v : o.variants) m.push_back(v.embedder);
  return m;
}

std::vector<QualityPairing> quality_pairings(const EmbeddingTable& high, const EmbeddingTable& low) {
  return {{"high-high", &high, &high}, {"low-high", &high, &low}, {"low-low", &low, &low}};
}

void record_calibration(Manifest& manifest, const std::vector<EmbeddingVariant>& variants,
                        const std::vector<PairEvaluation>& evaluations) {
  if (variants.size() != evaluations.size())
    throw Error(ErrorKind::InvalidArgument, "record_calibration: one evaluation per variant is required");
  for (size_t k = 0; k < variants.size(); ++k) {
    const std::string suffix = variants[k].suffix();
    manifest.set_thresholds(variants[k].embedder, {{"fmr_1e-3" + suffix, evaluations[k].fmr_1e3.threshold},
                                                   {"fmr_1e-4" + suffix, evaluations[k].fmr_1e4.threshold},
                                                   {"best_accuracy" + suffix, evaluations[k].best_accuracy_threshold}});
  }
}

double calibrated_threshold(const Manifest& manifest, const EmbeddingVariant& v, const std::string& operating_point) {
  const std::string want = operating_point + v.suffix();
  for (const auto& [k, t] : manifest.model(v.embedder).thresholds)
    if (k == want) return t;
  throw Error(ErrorKind::NotFound, v.name() + " has no calibrated " + want + " threshold in the manifest");
}

DetectionEvaluation evaluate_detection(
    FaceDetector& detector, const std::vector<LabelledImage>& labelled, const std::filesystem::path& images_dir,
    const std::function<void(const LabelledImage&, const cv::Mat&, const std::vector<Detection>&,
                             const DetectionImageResult&)>& each) {
  DetectionEvaluation out;
  auto t0 = std::chrono::steady_clock::now();
  for (const auto& li : labelled) {
    auto img = decode_image_file((images_dir / li.file).string());
    auto found = detector.detect(img.bgr);
    std::vector<Box> boxes;
    for (const auto& d : found) boxes.push_back({d.box.x, d.box.y, d.box.width, d.box.height});
    auto c = match_detections(li.boxes, boxes, 0.5);
    out.total += c;
    out.images.push_back({li.file, li.boxes.size(), boxes.size(), c});
    if (each) each(li, img.bgr, found, out.images.back());
  }
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return out;
}

double approximate_yaw(const std::vector<cv::Point2f>& p) {
  if (p.size() != 68) throw Error(ErrorKind::InvalidArgument, "approximate_yaw: needs 68 points");
  const double half = (p[16].x - p[0].x) / 2.0, mid = (p[16].x + p[0].x) / 2.0;
  if (std::abs(half) < 1e-6) return 90.0;
  const double s = std::clamp((p[30].x - mid) / half, -1.0, 1.0);
  return std::asin(s) * 180.0 / 3.14159265358979323846;
}

double landmark_nme(const std::vector<cv::Point2f>& points, const std::vector<cv::Point2f>& truth) {
  if (points.size() != 68 || truth.size() != 68)
    throw Error(ErrorKind::InvalidArgument, "landmark_nme: needs 68 points in each set");
  const double norm = cv::norm(truth[45] - truth[36]);
  if (!(norm > 0)) throw Error(ErrorKind::InvalidArgument, "landmark_nme: the reference eye corners coincide");
  double sum = 0;
  for (size_t i = 0; i < 68; ++i) sum += cv::norm(points[i] - truth[i]);
  return sum / 68 / norm;
}

std::vector<PosedFace> read_300w(const std::filesystem::path& root) {
  std::vector<PosedFace> out;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(root, ec); !ec && it != std::filesystem::end(it);
       it.increment(ec)) {
    if (it->path().extension() != ".pts") continue;
    const auto pts = it->path();
    std::ifstream in(pts);
    std::vector<cv::Point2f> points;
    for (std::string line; std::getline(in, line);) {
      std::istringstream ls(line);
      float x = 0, y = 0;
      if (ls >> x >> y) points.emplace_back(x, y);  // header lines ("version: 1", "{", "}") hold no pair
    }
    if (points.size() != 68)
      throw Error(ErrorKind::BadInput, pts.string() + ": " + std::to_string(points.size()) + " points, 68 expected");
    PosedFace f;
    for (const char* ext : {".jpg", ".png"}) {
      auto img = std::filesystem::path(pts).replace_extension(ext);
      if (std::filesystem::exists(img)) f.file = img.lexically_relative(root).string();  // symlinks kept as named
    }
    if (f.file.empty()) throw Error(ErrorKind::BadInput, pts.string() + ": no .jpg or .png beside it");
    f.points = std::move(points);
    f.yaw = approximate_yaw(f.points);
    out.push_back(std::move(f));
  }
  if (ec) throw Error(ErrorKind::NotFound, root.string() + ": " + ec.message());
  if (out.empty()) throw Error(ErrorKind::BadInput, root.string() + ": no .pts files");
  std::sort(out.begin(), out.end(), [](const PosedFace& a, const PosedFace& b) { return a.file < b.file; });
  return out;
}

std::vector<cv::Point2f> seven_points(const std::vector<cv::Point2f>& p) {
  static const size_t ibug[7] = {36, 39, 42, 45, 30, 48, 54}, mesh[7] = {33, 133, 362, 263, 1, 61, 291};
  if (p.size() != 68 && p.size() != 468)
    throw Error(ErrorKind::InvalidArgument, "seven_points: needs 68 or 468 points, not " + std::to_string(p.size()));
  std::vector<cv::Point2f> out;
  for (size_t i = 0; i < 7; ++i) out.push_back(p[(p.size() == 68 ? ibug : mesh)[i]]);
  return out;
}

LandmarkerOptions parse_landmarker_variant(const std::string& name) {
  LandmarkerOptions o;
  std::string rest = name;
  o.flip = false;
  if (const auto f = rest.rfind("+flip"); f != std::string::npos && f + 5 == rest.size()) {
    o.flip = true;
    rest = rest.substr(0, f);
  }
  o.passes = 1;
  if (const auto at = rest.find('@'); at != std::string::npos) {
    const std::string n = rest.substr(at + 1);
    if (n.size() != 1 || n[0] < '1' || n[0] > '4')
      throw Error(ErrorKind::InvalidArgument, "landmarker '" + name + "': passes after '@' must be 1 to 4");
    o.passes = n[0] - '0';
    rest = rest.substr(0, at);
  }
  if (rest.empty() || rest.find_first_of("@+ ") != std::string::npos)
    throw Error(ErrorKind::InvalidArgument, "landmarker '" + name + "': expected MODEL[@PASSES][+flip]");
  o.model = rest;
  return o;
}

LandmarkEvaluation evaluate_landmarks(const Manifest& manifest, const DetectorOptions& dopt,
                                      const std::vector<std::string>& names, const std::string& backend, int threads,
                                      const std::filesystem::path& root, size_t max_faces,
                                      const std::function<void(size_t, size_t)>& progress) {
  auto faces = read_300w(root);
  if (max_faces > 0 && faces.size() > max_faces) faces.resize(max_faces);
  auto det = make_detector(manifest, dopt);
  std::vector<std::unique_ptr<Landmarker>> lms;
  for (const auto& n : names) {
    auto o = parse_landmarker_variant(n);
    o.backend = backend;
    o.threads = threads;
    lms.push_back(make_landmarker(manifest, o));
  }
  LandmarkEvaluation ev;
  ev.images = faces.size();
  std::vector<std::vector<double>> nme68(names.size()), nme7(names.size());
  std::vector<double> seconds(names.size(), 0);
  for (size_t i = 0; i < faces.size(); ++i) {
    const auto& f = faces[i];
    const auto img = decode_image_file((root / f.file).string());
    const auto found = det->detect(img.bgr);
    const Detection* d = nullptr;
    for (const auto& x : found)
      if (!d && detects_face({x}, f.points)) d = &x;
    if (d) {
      ++ev.found;
      const double norm = cv::norm(f.points[45] - f.points[36]);
      const auto truth7 = seven_points(f.points);
      for (size_t k = 0; k < lms.size(); ++k) {
        const auto t0 = std::chrono::steady_clock::now();
        const auto pts = lms[k]->landmarks(img.bgr, *d);
        seconds[k] += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (pts.size() == 68) nme68[k].push_back(landmark_nme(pts, f.points));
        if (pts.size() == 68 || pts.size() == 468) {
          const auto p7 = seven_points(pts);
          double sum = 0;
          for (size_t j = 0; j < 7; ++j) sum += cv::norm(p7[j] - truth7[j]);
          nme7[k].push_back(sum / 7 / norm);
        }
      }
    }
    if (progress) progress(i + 1, faces.size());
  }
  auto mean = [](const std::vector<double>& v) {
    return v.empty() ? std::nan("") : std::accumulate(v.begin(), v.end(), 0.0) / double(v.size());
  };
  for (size_t k = 0; k < names.size(); ++k) {
    LandmarkScore sc;
    sc.landmarker = names[k];
    sc.faces = ev.found;
    sc.nme68 = mean(nme68[k]);
    sc.nme7 = mean(nme7[k]);
    sc.ms_per_face = ev.found ? 1e3 * seconds[k] / double(ev.found) : std::nan("");
    sc.per_face68 = nme68[k];
    sc.per_face7 = nme7[k];
    if (nme68[k].empty()) {
      sc.median68 = sc.failures = std::nan("");
    } else {
      auto v = nme68[k];
      std::nth_element(v.begin(), v.begin() + long(v.size() / 2), v.end());
      sc.median68 = v[v.size() / 2];
      sc.failures = double(std::count_if(v.begin(), v.end(), [](double x) { return x > 0.08; })) / double(v.size());
    }
    ev.scores.push_back(sc);
  }
  return ev;
}

bool detects_face(const std::vector<Detection>& found, const std::vector<cv::Point2f>& points) {
  if (points.empty()) return false;
  const cv::Rect2f r = cv::boundingRect(points);
  const cv::Point2f c(r.x + r.width / 2, r.y + r.height / 2);
  return std::any_of(found.begin(), found.end(), [&](const Detection& d) {
    return d.box.contains(c) && d.box.width >= 0.5f * r.width && d.box.width <= 2.5f * r.width;
  });
}

PoseRecall evaluate_pose_recall(FaceDetector& detector, const std::filesystem::path& root,
                                const std::vector<PosedFace>& faces, const std::vector<double>& edges,
                                const std::function<void(size_t, size_t)>& progress) {
  if (edges.size() < 2) throw Error(ErrorKind::InvalidArgument, "evaluate_pose_recall: needs two or more band edges");
  PoseRecall r;
  for (size_t i = 0; i + 1 < edges.size(); ++i) r.bands.push_back({edges[i], edges[i + 1], 0, 0});
  auto t0 = std::chrono::steady_clock::now();
  for (size_t i = 0; i < faces.size(); ++i) {
    const auto& f = faces[i];
    const bool hit = detects_face(detector.detect(decode_image_file((root / f.file).string()).bgr), f.points);
    ++r.faces;
    r.found += hit;
    if (!hit) r.missed.push_back(f.file);
    const double a = std::abs(f.yaw);
    for (auto& b : r.bands)
      if (a >= b.from && (a < b.to || (&b == &r.bands.back() && a <= b.to))) {
        ++b.faces;
        b.found += hit;
      }
    if (progress) progress(i + 1, faces.size());
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

Json to_json(const DetectionEvaluation& e) {
  Json per = Json::array();
  for (const auto& i : e.images)
    per.push_back({{"image", i.file},
                   {"truth", i.truth},
                   {"found", i.found},
                   {"tp", i.counts.true_positives},
                   {"fp", i.counts.false_positives},
                   {"fn", i.counts.false_negatives}});
  return Json{{"recall", e.total.recall()},    {"precision", e.total.precision()}, {"tp", e.total.true_positives},
              {"fp", e.total.false_positives}, {"fn", e.total.false_negatives},    {"images", per},
              {"seconds", e.seconds}};
}

Json pipeline_json(const DatasetEmbedOptions& options, const std::string& embedder_list, bool flip_variants) {
  const auto& o = options.pipeline;
  return Json{{"detector", o.detector.model},
              {"close_range_detector", o.detector.close_range_model},
              {"verifier", o.detector.verifier},
              {"verify_threshold", o.detector.verify_threshold},
              {"min_face", o.detector.min_face},
              {"score_threshold", o.detector.score_threshold},
              {"landmarker", o.landmarker.model},
              {"landmark_crop_scale", o.landmarker.crop_scale},
              {"landmark_passes", o.landmarker.passes},
              {"landmark_refine_scale", o.landmarker.refine_scale},
              {"landmark_mirror", o.landmarker.flip},
              {"embedders", embedder_list},
              {"flip_tta_variants", flip_variants},
              {"backend", o.detector.backend},
              {"face", "the detection nearest the image centre"}};
}

Json protocol_json(const IdentificationProtocol& p, const std::string& description) {
  return Json{
      {"description", description},
      {"identities", p.identities.size()},
      {"enrolled_identities", p.enrolled_identities},
      {"gallery_images", p.gallery.size()},
      {"probes", p.probes.size()},
      {"mated_probes", std::count_if(p.probe_labels.begin(), p.probe_labels.end(), [](int l) { return l >= 0; })},
      {"nonmated_probes", std::count_if(p.probe_labels.begin(), p.probe_labels.end(), [](int l) { return l < 0; })}};
}

Json report_header(const Manifest& manifest, const Json& pipeline, const std::vector<std::string>& model_names,
                   const std::string& command) {
  Json r;
  r["report"] = "facerec evaluation";
  r["version"] = version();
  r["command"] = command;
  std::time_t t = std::time(nullptr);
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  r["date"] = date;
  r["pipeline"] = pipeline;
  r["manifest"] = Json::parse(detail::read_file(manifest.path()));
  Json models = Json::array();
  std::vector<std::string> names = model_names;  // with the components of fused embedders
  for (const auto& m : manifest.models())
    if (std::find(model_names.begin(), model_names.end(), m.name) != model_names.end())
      for (const auto& c : m.fuse) names.push_back(c.model);
  for (const auto& m : manifest.models())
    if (std::find(names.begin(), names.end(), m.name) != names.end())
      models.push_back({{"name", m.name}, {"package", m.package}, {"origin", m.origin}, {"licence", m.licence}});
  r["models"] = models;
  return r;
}

std::string images_digest(const std::filesystem::path& root, const std::vector<std::string>& images) {
  detail::Sha256 h;
  for (const auto& img : images) {
    std::string line = img + '\0' + detail::sha256_file(root / img) + "\n";
    h.update(line.data(), line.size());
  }
  return h.hex_digest();
}

std::vector<DegradationSample> degradation_samples(FaceDetector& det, const std::filesystem::path& root,
                                                   const std::vector<std::string>& images,
                                                   const DegradationRanges& ranges) {
  std::vector<DegradationSample> out;
  if (images.empty()) return out;
  for (size_t k = 0; k < 6 && out.size() < 4; ++k) {
    const auto& img = images[(k * 7919) % images.size()];
    try {
      auto d = decode_image_file((root / img).string());
      auto dets = det.detect(d.bgr);
      if (dets.empty() || dets[0].keypoints.size() < 2) continue;
      DegradationSample s;
      s.image = img;
      s.params = draw_degradation(ranges, img);
      cv::Mat low = degrade(d.bgr, float(cv::norm(dets[0].keypoints[0] - dets[0].keypoints[1])), s.params);
      cv::imencode(".jpg", d.bgr, s.original_jpeg, {cv::IMWRITE_JPEG_QUALITY, 90});
      cv::imencode(".jpg", low, s.degraded_jpeg, {cv::IMWRITE_JPEG_QUALITY, 90});
      out.push_back(std::move(s));
    } catch (const Error&) {  // an unreadable image makes no sample; the report does without it
    }
  }
  return out;
}

}  // namespace facerec
