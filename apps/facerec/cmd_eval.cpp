// facerec eval lfw: the LFW View 2 protocol on the full pipeline.
#include "commands.hpp"

#include <facerec/analyzer.hpp>
#include <facerec/error.hpp>
#include <facerec/eval.hpp>
#include <facerec/image.hpp>
#include <facerec/models.hpp>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <atomic>
#include <chrono>
#include <cmath>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

namespace facerec::cli {
namespace {

struct Embedded {
  bool found = false;
  std::vector<float> e;
};

std::string cache_key(const AnalyzerOptions& o, const std::string& root) {
  std::string k = o.detector.model + "+" + o.detector.close_range_model + "-fallback|" + std::to_string(o.detector.min_face) + "|" +
                  std::to_string(o.detector.score_threshold) + "|" + o.landmarker.model + "|" +
                  std::to_string(o.landmarker.crop_scale) + "|" + std::to_string(o.landmarker.passes) + "|" +
                  std::to_string(o.landmarker.refine_scale) + (o.landmarker.flip ? "|lmflip|" : "|") +
                  o.detector.verifier + "|" + std::to_string(o.detector.verify_threshold) + "|" + o.embedder.model +
                  (o.embedder.flip ? "+flip" : "") + "|" + o.detector.backend + "|" + root + "|v3";
  return std::to_string(std::hash<std::string>{}(k));
}

std::filesystem::path cache_file(const std::string& key) {
  return models_dir().parent_path() / "embeddings" / ("lfw-" + key + ".bin");
}

std::map<std::string, Embedded> load_cache(const std::filesystem::path& p) {
  std::map<std::string, Embedded> m;
  std::ifstream in(p, std::ios::binary);
  while (in) {
    uint32_t n = 0, d = 0;
    if (!in.read(reinterpret_cast<char*>(&n), 4) || n > 4096) break;
    std::string name(n, '\0');
    in.read(name.data(), n);
    if (!in.read(reinterpret_cast<char*>(&d), 4) || d > 4096) break;
    Embedded e;
    e.found = d > 0;
    e.e.resize(d);
    if (!in.read(reinterpret_cast<char*>(e.e.data()), std::streamsize(d * 4))) break;
    m[name] = std::move(e);
  }
  return m;
}

void append_cache(std::ofstream& out, const std::string& name, const Embedded& e) {
  uint32_t n = uint32_t(name.size()), d = uint32_t(e.found ? e.e.size() : 0);
  out.write(reinterpret_cast<const char*>(&n), 4);
  out.write(name.data(), n);
  out.write(reinterpret_cast<const char*>(&d), 4);
  out.write(reinterpret_cast<const char*>(e.e.data()), std::streamsize(d * 4));
}

// The face nearest the image centre (LFW photos are centred on the labelled person).
const Face* central(const std::vector<Face>& faces, const cv::Size& size) {
  const Face* best = nullptr;
  double best_d = 1e30;
  for (const auto& f : faces) {
    cv::Point2f c = (f.detection.box.tl() + f.detection.box.br()) * 0.5f;
    double d = std::hypot(c.x - size.width / 2.0, c.y - size.height / 2.0);
    if (d < best_d) {
      best_d = d;
      best = &f;
    }
  }
  return best;
}

struct LfwFlags {
  std::string images, pairs, json_out, embedder = "face_recognition_model", detector = "blazeface",
                                       landmarker = "face_landmark_68_model";
  int workers = 2;
  bool flip = false, all = false, calibrate = false, landmark_flip = true;
  float crop_scale = 1.25f, refine_scale = 1.4f;
  int passes = 2;
};

// Splits "a,b,c".
std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find(',', start);
    if (end == std::string::npos) end = s.size();
    if (end > start) out.push_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

struct Variant {
  std::string embedder;
  bool flip = false;
  std::string name() const { return embedder + (flip ? "+flip" : ""); }
  std::filesystem::path cache_path;
  std::map<std::string, Embedded> cache;
  std::ofstream out;
};

struct VariantResult {
  std::string name;
  VerificationResult r;
  size_t impostor_pairs = 0;
  double t3 = 0, t4 = 0, tbest = 0, tar3 = 0, tar4 = 0;
};

VariantResult score_variant(const Variant& v, const std::vector<LfwPair>& pairs, const std::set<std::string>& wanted) {
  VariantResult out;
  out.name = v.name();
  std::vector<double> scores, genuine;
  std::vector<bool> same;
  std::vector<int> folds;
  for (const auto& p : pairs) {
    const auto &a = v.cache.at(p.a), &b = v.cache.at(p.b);
    double s = a.found && b.found ? double(FaceAnalyzer::cosine(a.e, b.e)) : std::nan("");
    scores.push_back(s);
    same.push_back(p.same);
    folds.push_back(p.fold);
    if (p.same && !std::isnan(s)) genuine.push_back(s);
  }
  out.r = evaluate_verification(scores, same, folds);
  // Impostor distribution for the FMR thresholds: every pair of embedded images of different
  // people (deterministic stride sampling above 20 million pairs).
  std::vector<std::pair<std::string, const std::vector<float>*>> emb;
  for (const auto& w : wanted)
    if (v.cache.at(w).found) emb.emplace_back(w.substr(0, w.find('/')), &v.cache.at(w).e);
  size_t total = emb.size() * (emb.size() - 1) / 2, stride = std::max<size_t>(1, total / 20'000'000), k = 0;
  std::vector<double> impostor;
  for (size_t i = 0; i < emb.size(); ++i)
    for (size_t j = i + 1; j < emb.size(); ++j, ++k)
      if (k % stride == 0 && emb[i].first != emb[j].first) {
        const float* x = emb[i].second->data();
        const float* y = emb[j].second->data();
        float d = 0;  // float accumulation vectorises; unit vectors keep it well within float precision
        for (size_t q = 0, n = emb[i].second->size(); q < n; ++q) d += x[q] * y[q];
        impostor.push_back(double(d));
      }
  out.impostor_pairs = impostor.size();
  out.t3 = threshold_at_fmr(impostor, 1e-3);
  out.t4 = threshold_at_fmr(impostor, 1e-4);
  out.tbest = best_accuracy_threshold(scores, same);
  out.tar3 = tar_at(genuine, out.t3);
  out.tar4 = tar_at(genuine, out.t4);
  return out;
}

int eval_lfw(const LfwFlags& f) {
  auto t0 = std::chrono::steady_clock::now();
  auto pairs = read_lfw_pairs(f.pairs);
  AnalyzerOptions o;
  o.detector.model = f.detector;
  o.landmarker.model = f.landmarker;
  o.landmarker.crop_scale = f.crop_scale;
  o.landmarker.passes = f.passes;
  o.landmarker.refine_scale = f.refine_scale;
  o.landmarker.flip = f.landmark_flip;
  o.detector.threads = o.landmarker.threads = o.embedder.threads = 1;
  std::set<std::string> wanted;
  for (const auto& p : pairs) {
    wanted.insert(p.a);
    wanted.insert(p.b);
  }
  if (f.all)
    for (const auto& e : std::filesystem::recursive_directory_iterator(f.images))
      if (e.path().extension() == ".jpg") wanted.insert(std::filesystem::relative(e.path(), f.images).string());
  std::string root = std::filesystem::absolute(f.images).string();
  std::vector<std::unique_ptr<Variant>> variants;
  for (const auto& e : split_list(f.embedder))
    for (bool flip : f.flip ? std::vector<bool>{false, true} : std::vector<bool>{false}) {
      auto v = std::make_unique<Variant>();
      v->embedder = e;
      v->flip = flip;
      o.embedder.model = e;
      o.embedder.flip = flip;
      v->cache_path = cache_file(cache_key(o, root));
      std::filesystem::create_directories(v->cache_path.parent_path());
      v->cache = load_cache(v->cache_path);
      variants.push_back(std::move(v));
    }
  if (variants.empty()) throw Error(ErrorKind::InvalidArgument, "--embedder names no model");
  std::vector<std::string> todo;
  for (const auto& w : wanted) {
    bool missing = false;
    for (const auto& v : variants) missing = missing || !v->cache.count(w);
    if (missing) todo.push_back(w);
  }
  std::cerr << "lfw: " << pairs.size() << " pairs, " << wanted.size() << " images, " << todo.size()
            << " to embed (the rest cached in " << variants[0]->cache_path.parent_path().string() << ")\n";
  if (!todo.empty()) {
    for (auto& v : variants) v->out.open(v->cache_path, std::ios::binary | std::ios::app);
    std::mutex mu;
    std::atomic<size_t> next{0}, done{0};
    auto start = std::chrono::steady_clock::now();
    auto worker = [&] {
      auto det = make_detector(o.detector);
      auto lm = make_landmarker(o.landmarker);
      std::map<std::string, std::unique_ptr<FaceEmbedder>> embedders;
      for (const auto& v : variants)
        if (!embedders.count(v->embedder)) {
          EmbedderOptions eo = o.embedder;
          eo.model = v->embedder;
          eo.flip = false;
          embedders[v->embedder] = make_embedder(eo);
        }
      for (size_t i; (i = next++) < todo.size();) {
        std::vector<Embedded> results(variants.size());
        try {
          auto img = decode_image_file((std::filesystem::path(f.images) / todo[i]).string());
          std::vector<Face> faces;
          for (auto& d : det->detect(img.bgr)) faces.push_back(Face{d, {}, {}, {}, {}});
          if (const Face* c = central(faces, img.bgr.size())) {
            auto l68 = lm->landmarks(img.bgr, c->detection);
            FivePoints five = five_points(l68, c->detection);
            std::map<std::string, std::pair<std::vector<float>, std::vector<float>>> per;  // plain, mirror
            for (auto& [name, emb] : embedders) {
              cv::Mat aligned = emb->align(img.bgr, five, l68), mirrored;
              cv::flip(aligned, mirrored, 1);
              per[name] = {emb->embed(aligned), f.flip ? emb->embed(mirrored) : std::vector<float>{}};
            }
            for (size_t k = 0; k < variants.size(); ++k) {
              const auto& [plain, mirror] = per[variants[k]->embedder];
              results[k].found = true;
              results[k].e = plain;
              if (variants[k]->flip) {  // as FaceEmbedder with flip: normalised sum of unit vectors
                double n = 0;
                for (size_t q = 0; q < plain.size(); ++q) {
                  results[k].e[q] += mirror[q];
                  n += double(results[k].e[q]) * results[k].e[q];
                }
                for (auto& x : results[k].e) x = float(x / std::sqrt(n));
              }
            }
          }
        } catch (const Error& err) {
          if (err.kind() != ErrorKind::InvalidArgument && err.kind() != ErrorKind::NotFound) throw;
          std::lock_guard lock(mu);
          std::cerr << "\nlfw: " << err.what() << "\n";
        }
        std::lock_guard lock(mu);
        for (size_t k = 0; k < variants.size(); ++k) {
          variants[k]->cache[todo[i]] = results[k];
          append_cache(variants[k]->out, todo[i], results[k]);
        }
        size_t d = ++done;
        if (d % 50 == 0 || d == todo.size()) {
          double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
          std::fprintf(stderr, "\rembedding %zu/%zu  %.1f img/s  ETA %.0fs   ", d, todo.size(), double(d) / secs,
                       double(todo.size() - d) / (double(d) / secs));
        }
      }
    };
    std::vector<std::thread> threads;
    for (int w = 0; w < std::max(1, f.workers); ++w) threads.emplace_back(worker);
    for (auto& t : threads) t.join();
    std::cerr << "\n";
  }
  size_t found = 0;
  for (const auto& w : wanted) found += variants[0]->cache[w].found ? 1 : 0;
  std::vector<VariantResult> results(variants.size());
  {  // the impostor sweeps are independent: one thread per variant, at most `workers` at a time
    std::atomic<size_t> nv{0};
    std::vector<std::thread> ts;
    for (int w = 0; w < std::max(1, f.workers); ++w)
      ts.emplace_back([&] {
        for (size_t k; (k = nv++) < variants.size();) results[k] = score_variant(*variants[k], pairs, wanted);
      });
    for (auto& t : ts) t.join();
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("LFW %s: %d pairs, %zu folds (threshold of each fold chosen on the others)\n", f.pairs.c_str(),
              results[0].r.pairs, results[0].r.fold_accuracy.size());
  std::printf("pipeline: %s (verifier %s) -> %s (%d pass%s%s)\n", f.detector.c_str(), o.detector.verifier.c_str(),
              f.landmarker.c_str(), f.passes, f.passes == 1 ? "" : "es", f.landmark_flip ? ", mirrored" : "");
  std::printf("central face found: %zu / %zu images (%.3f%%)\n", found, wanted.size(),
              100.0 * double(found) / double(wanted.size()));
  std::printf("%-30s %16s %8s %6s %7s %14s %14s %10s\n", "embedder", "accuracy", "AUC", "EER", "failed", "TAR@FMR1e-3",
              "TAR@FMR1e-4", "best_thr");
  for (const auto& r : results)
    std::printf("%-30s %8.2f%% ±%5.2f %8.5f %5.2f%% %7d %6.2f%% (%.3f) %6.2f%% (%.3f) %10.4f\n", r.name.c_str(),
                100 * r.r.mean_accuracy, 100 * r.r.std_accuracy, r.r.auc, 100 * r.r.eer, r.r.failed_pairs, 100 * r.tar3,
                r.t3, 100 * r.tar4, r.t4, r.tbest);
  std::printf("FMR thresholds from %zu impostor pairs (all pairs of different people among the embedded images)\n",
              results[0].impostor_pairs);
  std::printf("time: %.0f s\n", secs);
  if (!f.json_out.empty()) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& r : results)
      arr.push_back({{"model", r.name},
                     {"detector", f.detector},
                     {"landmarker", f.landmarker},
                     {"pairs", r.r.pairs},
                     {"failed_pairs", r.r.failed_pairs},
                     {"images", wanted.size()},
                     {"faces_found", found},
                     {"mean_accuracy", r.r.mean_accuracy},
                     {"std_accuracy", r.r.std_accuracy},
                     {"fold_accuracy", r.r.fold_accuracy},
                     {"fold_threshold", r.r.fold_threshold},
                     {"auc", r.r.auc},
                     {"eer", r.r.eer},
                     {"impostor_pairs", r.impostor_pairs},
                     {"thresholds", {{"fmr_1e-3", r.t3}, {"fmr_1e-4", r.t4}, {"best_accuracy", r.tbest}}},
                     {"tar", {{"fmr_1e-3", r.tar3}, {"fmr_1e-4", r.tar4}}},
                     {"seconds", secs}});
    std::ofstream(f.json_out) << arr.dump(2) << "\n";
  }
  if (f.calibrate) {
    auto path = Manifest::load_default().path();
    auto j = nlohmann::ordered_json::parse(std::ifstream(path));
    for (size_t k = 0; k < variants.size(); ++k) {
      std::string suffix = variants[k]->flip ? "+flip" : "";
      for (auto& m : j["models"])
        if (m["name"] == variants[k]->embedder) {
          m["thresholds"]["fmr_1e-3" + suffix] = results[k].t3;
          m["thresholds"]["fmr_1e-4" + suffix] = results[k].t4;
          m["thresholds"]["best_accuracy" + suffix] = results[k].tbest;
        }
    }
    std::ofstream(path) << j.dump(2) << "\n";
    std::cerr << "thresholds written to " << path.string() << "\n";
  }
  return kOk;
}

int eval_detection(const std::string& xml, std::string images, const DetectorOptions& dopt, const std::string& draw_dir,
                   bool json) {
  auto labelled = read_dlib_xml(xml);
  if (images.empty()) images = std::filesystem::path(xml).parent_path().string();
  auto det = make_detector(dopt);
  DetectionCounts total;
  nlohmann::json per = nlohmann::json::array();
  auto t0 = std::chrono::steady_clock::now();
  for (const auto& li : labelled) {
    auto img = decode_image_file((std::filesystem::path(images) / li.file).string());
    auto found = det->detect(img.bgr);
    std::vector<Box> boxes;
    for (const auto& d : found) boxes.push_back({d.box.x, d.box.y, d.box.width, d.box.height});
    auto c = match_detections(li.boxes, boxes, 0.5);
    total.true_positives += c.true_positives;
    total.false_positives += c.false_positives;
    total.false_negatives += c.false_negatives;
    per.push_back({{"image", li.file},
                   {"truth", li.boxes.size()},
                   {"found", boxes.size()},
                   {"tp", c.true_positives},
                   {"fp", c.false_positives},
                   {"fn", c.false_negatives}});
    if (!json)
      std::printf("%-28s truth %2zu  found %2zu  tp %2d  fp %2d  fn %2d\n", li.file.c_str(), li.boxes.size(),
                  boxes.size(), c.true_positives, c.false_positives, c.false_negatives);
    if (!draw_dir.empty()) {
      std::filesystem::create_directories(draw_dir);
      cv::Mat canvas = img.bgr.clone();
      for (const auto& b : li.boxes) cv::rectangle(canvas, cv::Rect2f(b.x, b.y, b.w, b.h), cv::Scalar(255, 0, 0), 2);
      for (const auto& d : found) cv::rectangle(canvas, d.box, cv::Scalar(0, 255, 0), 1);
      cv::imwrite(
          (std::filesystem::path(draw_dir) / (std::filesystem::path(li.file).stem().string() + ".png")).string(),
          canvas);
    }
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (json) {
    std::cout << nlohmann::json{{"xml", xml},
                                {"detector", dopt.model},
                                {"verifier", dopt.verifier},
                                {"recall", total.recall()},
                                {"precision", total.precision()},
                                {"tp", total.true_positives},
                                {"fp", total.false_positives},
                                {"fn", total.false_negatives},
                                {"images", per},
                                {"seconds", secs}}
                     .dump(2)
              << "\n";
  } else {
    std::printf("detector %s (verifier %s): recall %.3f  precision %.3f  (tp %d, fp %d, fn %d; IoU >= 0.5)  %.1f s\n",
                dopt.model.c_str(), dopt.verifier.c_str(), total.recall(), total.precision(), total.true_positives,
                total.false_positives, total.false_negatives, secs);
  }
  return kOk;
}

}  // namespace

void add_eval_commands(CLI::App& app, Action* action) {
  auto* ev = app.add_subcommand("eval", "Evaluate the pipeline on standard protocols");
  ev->require_subcommand(1);
  auto* lfw =
      ev->add_subcommand("lfw", "LFW verification, 10-fold View 2 protocol (threshold from the other nine folds)");
  auto f = std::make_shared<LfwFlags>();
  lfw->add_option("--images", f->images, "LFW images root (Name/Name_0001.jpg)")
      ->required()
      ->check(CLI::ExistingDirectory);
  lfw->add_option("--pairs", f->pairs, "pairs.txt")->required()->check(CLI::ExistingFile);
  lfw->add_option("--embedder", f->embedder, "Embedding model(s), comma-separated: evaluated side by side")
      ->capture_default_str();
  lfw->add_option("--detector", f->detector, "Detector model")->capture_default_str();
  lfw->add_option("--landmarker", f->landmarker, "Landmark model or 'none'")->capture_default_str();
  lfw->add_option("--crop-scale", f->crop_scale, "Landmarker crop size relative to the detection box")
      ->capture_default_str();
  lfw->add_option("--passes", f->passes, "Landmark passes (2: re-centre on the first pass's points)")
      ->capture_default_str();
  lfw->add_option("--refine-scale", f->refine_scale, "Crop size of the refining pass relative to the points' extent")
      ->capture_default_str();
  lfw->add_flag("--landmark-flip,!--no-landmark-flip", f->landmark_flip,
                "Average the landmarks with those of the mirror image (default: on)");
  lfw->add_flag("--flip", f->flip, "Also evaluate each embedder with flip test-time augmentation");
  lfw->add_flag("--all", f->all, "Also embed every image under --images (detection rate, impostor distribution)");
  lfw->add_option("--workers", f->workers, "Parallel pipelines")->capture_default_str()->check(CLI::Range(1, 64));
  lfw->add_option("--json", f->json_out, "Write every figure as JSON to this file");
  lfw->add_flag("--calibrate", f->calibrate, "Store the thresholds in the model manifest");
  lfw->callback([=] { *action = [=] { return eval_lfw(*f); }; });

  auto* det =
      ev->add_subcommand("detection", "Detection recall and precision against dlib imglab XML boxes (IoU >= 0.5)");
  auto xml = std::make_shared<std::string>(), images = std::make_shared<std::string>(),
       draw = std::make_shared<std::string>();
  auto dopt = std::make_shared<DetectorOptions>();
  auto djson = std::make_shared<bool>(false);
  det->add_option("--xml", *xml, "dlib XML with <box> ground truth (e.g. testing.xml)")
      ->required()
      ->check(CLI::ExistingFile);
  det->add_option("--images", *images, "Image directory (default: the XML's directory)");
  det->add_option("--detector", dopt->model, "Detector model")->capture_default_str();
  det->add_option("--verifier", dopt->verifier, "Verifier model or 'none'")->capture_default_str();
  det->add_option("--score", dopt->score_threshold, "Score threshold")->capture_default_str();
  det->add_option("--min-face", dopt->min_face, "Smallest face in pixels")->capture_default_str();
  det->add_option("--draw", *draw, "Directory for images with truth (blue) and detections (green)");
  det->add_flag("--json", *djson, "JSON output");
  det->callback([=] { *action = [=] { return eval_detection(*xml, *images, *dopt, *draw, *djson); }; });
}

}  // namespace facerec::cli
