// facerec eval: LFW verification, 1:N identification, quality pairs, detection, report comparison.
#include "commands.hpp"
#include "common/fs.hpp"
#include "common/sha256.hpp"
#include "eval_flags.hpp"

#include <facerec/analyzer.hpp>
#include <facerec/detect.hpp>
#include <facerec/error.hpp>
#include <facerec/eval/dataset.hpp>
#include <facerec/eval/degrade.hpp>
#include <facerec/eval/eval.hpp>
#include <facerec/eval/evaluation.hpp>
#include <facerec/eval/fusion.hpp>
#include <facerec/eval/report.hpp>
#include <facerec/eval/scales.hpp>
#include <facerec/image.hpp>
#include <facerec/landmarks.hpp>
#include <facerec/models.hpp>
#include <facerec/version.hpp>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <set>

#include <unistd.h>

namespace facerec::cli {
namespace {

using Clock = std::chrono::steady_clock;
using Json = ReportJson;

// {"name": name, ...body}: report entries are matched by name when reports are compared.
Json named(const std::string& name, const Json& body) {
  Json j{{"name", name}};
  j.update(body);
  return j;
}

Json header(const EvalFlags& f) {
  return report_header(manifest(), f.pipeline(), models_used(f.options(false)), command_line());
}

void print_pairs(const std::string& name, const PairEvaluation& e) {
  const auto& v = e.verification;
  std::printf("%-34s %7.2f%% ±%5.2f %8.5f %5.2f%% %7d %7.2f%% (%.4f) %7.2f%% (%.4f) %9.4f\n", name.c_str(),
              100 * v.mean_accuracy, 100 * v.std_accuracy, v.auc, 100 * v.eer, v.failed_pairs, 100 * e.fmr_1e3.tar,
              e.fmr_1e3.threshold, 100 * e.fmr_1e4.tar, e.fmr_1e4.threshold, e.best_accuracy_threshold);
}
void print_pairs_header() {
  std::printf("%-34s %16s %8s %6s %7s %18s %18s %9s\n", "embedder", "accuracy", "AUC", "EER", "failed",
              "TAR@FMR1e-3 (thr)", "TAR@FMR1e-4 (thr)", "best_thr");
}
void print_ident(const std::string& name, const IdentificationResult& r) {
  auto fnir = [&](size_t k) {
    char b[48];
    if (k >= r.points.size()) return std::string("—");
    std::snprintf(b, sizeof b, "%.2f%% (%.4f)", 100 * r.points[k].fnir, r.points[k].threshold);
    return std::string(b);
  };
  std::printf("%-34s %7.2f%% %7.2f%% %7.2f%% %18s %18s %6zu/%-4zu %6zu/%-4zu\n", name.c_str(),
              r.cmc.empty() ? 0 : 100 * r.cmc[0], r.cmc.size() > 4 ? 100 * r.cmc[4] : 0.0,
              r.cmc.size() > 9 ? 100 * r.cmc[9] : 0.0, fnir(0).c_str(), fnir(1).c_str(), r.mated, r.failed_mated,
              r.nonmated, r.failed_nonmated);
}
void print_ident_header() {
  std::printf("%-34s %8s %8s %8s %18s %18s %11s %11s\n", "embedder", "rank-1", "rank-5", "rank-10", "FNIR@FPIR1e-2",
              "FNIR@FPIR1e-3", "mated/fail", "nonmat/fail");
}

void finish_report(const EvalFlags& f, Json& report, const std::filesystem::path& root,
                   const std::vector<std::string>& images, Clock::time_point t0) {
  if (f.json_out.empty() && f.report_dir.empty()) return;
  std::fprintf(stderr, "checksumming %zu images for the report...\n", images.size());
  report["data"]["images_sha256"] = images_digest(root, images);
  report["seconds"] = std::chrono::duration<double>(Clock::now() - t0).count();
  if (!f.json_out.empty()) detail::write_file_atomic(f.json_out, report.dump(2) + "\n");
  if (!f.report_dir.empty()) {
    std::vector<DegradationSample> samples;
    if (f.quality) {
      DegradationRanges ranges;
      ranges.seed = f.seed;
      samples =
          degradation_samples(*make_detector(manifest(), f.options(false).pipeline.detector), root, images, ranges);
    }
    auto html = write_report(f.report_dir, report, samples);
    std::fprintf(stderr, "report: %s (and report.json beside it)\n", html.string().c_str());
  }
}

struct LfwOptions {
  std::string images, pairs;
  bool all = false, identification = false, calibrate = false;
  EvalFlags f;
};

const char* kLfwProtocol =
    "LFW 1:N: every person with two or more images enrols the first (by file name) and searches with each of the "
    "others (mated searches); every person with one image searches as a non-mated probe (distractor). Scores are "
    "aggregated per identity; a mated search is a hit at threshold t when the mate ranks first with a similarity of "
    "at least t. A probe without a face returns no candidates.";

int eval_lfw(const LfwOptions& lo) {
  auto t0 = Clock::now();
  const auto& f = lo.f;
  auto pairs = read_lfw_pairs(lo.pairs);
  std::set<std::string> wanted;
  for (const auto& p : pairs) {
    wanted.insert(p.a);
    wanted.insert(p.b);
  }
  IdentificationProtocol protocol;
  if (lo.identification) {
    protocol = make_identification_protocol(read_identity_folders(lo.images), 1, 0);
    wanted.insert(protocol.gallery.begin(), protocol.gallery.end());
    wanted.insert(protocol.probes.begin(), protocol.probes.end());
  }
  if (lo.all)
    for (const auto& e : std::filesystem::recursive_directory_iterator(lo.images))
      if (e.path().extension() == ".jpg") wanted.insert(e.path().lexically_relative(lo.images).string());
  std::vector<std::string> images(wanted.begin(), wanted.end());
  auto variants = f.variants();
  std::fprintf(stderr, "lfw: %zu pairs, %zu images, %zu variant(s)\n", pairs.size(), images.size(), variants.size());
  auto high = embed(lo.images, images, f.options(false), "embedding originals");
  DatasetEmbedResult low;
  if (f.quality) low = embed(lo.images, images, f.options(true), "embedding degraded copies");

  Json report = header(f);
  report["data"] = {{"images_root", std::filesystem::absolute(lo.images).string()},
                    {"pairs_file", std::filesystem::absolute(lo.pairs).string()},
                    {"pairs_sha256", detail::sha256_file(lo.pairs)},
                    {"pairs", pairs.size()},
                    {"images", images.size()}};
  size_t found = 0;
  for (const auto& img : images) found += high.tables[0].at(img).found ? 1 : 0;
  report["data"]["central_face_found"] = found;

  std::printf("LFW %s: %zu pairs, %d folds (threshold of each fold chosen on the others)\n", lo.pairs.c_str(),
              pairs.size(), pairs.empty() ? 0 : pairs.back().fold + 1);
  std::printf("central face found: %zu / %zu images (%.3f%%)\n", found, images.size(),
              100.0 * double(found) / double(images.size()));
  print_pairs_header();
  Json lfw_variants = Json::array();
  std::vector<PairEvaluation> hh(variants.size());
  for (size_t k = 0; k < variants.size(); ++k) {
    hh[k] = evaluate_pairs(high.tables[k], high.tables[k], pairs, images, std::nan(""), f.workers);
    print_pairs(variants[k].name(), hh[k]);
    lfw_variants.push_back(named(variants[k].name(), to_json(hh[k])));
  }
  std::printf("FMR thresholds from %zu impostor pairs (pairs of different people among the embedded images)\n",
              hh[0].impostor_pairs);
  report["lfw"] = {{"variants", lfw_variants}};

  if (lo.identification) {
    std::printf("\nLFW 1:N: %zu identities enrolled (1 image each), %zu probes\n", protocol.enrolled_identities,
                protocol.probes.size());
    print_ident_header();
    Json iv = Json::array();
    for (size_t k = 0; k < variants.size(); ++k) {
      auto r = evaluate_identification(protocol, high.tables[k], high.tables[k]);
      print_ident(variants[k].name(), r);
      iv.push_back(named(variants[k].name(), to_json(r)));
    }
    report["identification"] = {{"protocol", protocol_json(protocol, kLfwProtocol)}, {"variants", iv}};
  }

  if (f.quality) {
    DegradationRanges ranges;
    ranges.seed = f.seed;
    Json qv = Json::array();
    std::printf("\nquality pairs (seed %llu): deployed threshold = high-high FMR 1e-3 threshold\n",
                static_cast<unsigned long long>(f.seed));
    for (size_t k = 0; k < variants.size(); ++k) {
      Json pv = Json::array();
      double deployed = hh[k].fmr_1e3.threshold;
      std::printf("%s\n%-10s %16s %8s %18s %12s %12s %7s", variants[k].name().c_str(), "pairing", "accuracy", "AUC",
                  "TAR@FMR1e-3 (thr)", "TAR@deploy", "FMR@deploy", "failed");
      if (lo.identification) std::printf(" %8s %14s %14s", "rank-1", "FNIR@FPIR1e-2", "FNIR@FPIR1e-3");
      std::printf("\n");
      for (const auto& p : quality_pairings(high.tables[k], low.tables[k])) {
        auto e = evaluate_pairs(*p.gallery, *p.probe, pairs, images, deployed, f.workers);
        const auto& v = e.verification;
        std::printf("%-10s %7.2f%% ±%5.2f %8.5f %8.2f%% (%.4f) %11.2f%% %12.2e %7d", p.name.c_str(),
                    100 * v.mean_accuracy, 100 * v.std_accuracy, v.auc, 100 * e.fmr_1e3.tar, e.fmr_1e3.threshold,
                    100 * e.fixed.tar, e.fixed.fmr, v.failed_pairs);
        Json pj{{"name", p.name}, {"verification", to_json(e)}};
        if (lo.identification) {
          auto r = evaluate_identification(protocol, *p.gallery, *p.probe);
          std::printf(" %7.2f%% %13.2f%% %13.2f%%", 100 * r.cmc[0], r.points.size() > 0 ? 100 * r.points[0].fnir : 0.0,
                      r.points.size() > 1 ? 100 * r.points[1].fnir : 0.0);
          pj["identification"] = to_json(r);
        }
        std::printf("\n");
        pv.push_back(pj);
      }
      qv.push_back({{"name", variants[k].name()}, {"pairings", pv}});
    }
    report["quality"] = {{"degradation", to_json(ranges)}, {"variants", qv}};
  }
  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  std::printf("time: %.0f s\n", secs);

  if (lo.calibrate) {
    Manifest calibrated = Manifest::load(manifest().path());  // as it is now: keep what others wrote meanwhile
    record_calibration(calibrated, variants, hh);
    calibrated.save(calibrated.path());
    std::cerr << "thresholds written to " << calibrated.path().string() << "\n";
  }
  finish_report(f, report, lo.images, images, t0);
  return kOk;
}

struct IdentOptions {
  std::string dataset;
  int enrol = 1, holdout = 0;
  EvalFlags f;
};

int eval_identification(const IdentOptions& io) {
  auto t0 = Clock::now();
  const auto& f = io.f;
  auto subjects = read_identity_folders(io.dataset);
  auto protocol = make_identification_protocol(subjects, io.enrol, io.holdout);
  if (protocol.gallery.empty())
    throw Error(ErrorKind::InvalidArgument, io.dataset + ": no identity has more than " + std::to_string(io.enrol) +
                                                " image(s), so nobody can be enrolled");
  std::set<std::string> wanted(protocol.gallery.begin(), protocol.gallery.end());
  wanted.insert(protocol.probes.begin(), protocol.probes.end());
  std::vector<std::string> images(wanted.begin(), wanted.end());
  auto variants = f.variants();
  auto high = embed(io.dataset, images, f.options(false), "embedding originals");
  DatasetEmbedResult low;
  if (f.quality) low = embed(io.dataset, images, f.options(true), "embedding degraded copies");
  std::string description =
      "Folder-per-identity 1:N: every identity with more than " + std::to_string(io.enrol) +
      " image(s) enrols its first " + std::to_string(io.enrol) +
      " (by file name) and searches with the rest (mated); identities with fewer images" +
      (io.holdout > 0 ? " and every " + std::to_string(io.holdout) + "-th enrollable identity" : std::string()) +
      " search as non-mated probes. Scores aggregated per identity (best template); a probe without a face returns "
      "no candidates.";
  Json report = header(f);
  report["data"] = {{"dataset", std::filesystem::absolute(io.dataset).string()},
                    {"identities", subjects.size()},
                    {"images", images.size()}};
  std::printf("%s: %zu identities, %zu enrolled (%d image(s) each), %zu probes\n", io.dataset.c_str(), subjects.size(),
              protocol.enrolled_identities, io.enrol, protocol.probes.size());
  print_ident_header();
  Json iv = Json::array(), qv = Json::array();
  for (size_t k = 0; k < variants.size(); ++k) {
    auto r = evaluate_identification(protocol, high.tables[k], high.tables[k]);
    print_ident(variants[k].name(), r);
    iv.push_back(named(variants[k].name(), to_json(r)));
    if (f.quality) {
      Json pv = Json::array();
      for (const auto& p : quality_pairings(high.tables[k], low.tables[k])) {
        auto q = evaluate_identification(protocol, *p.gallery, *p.probe);
        print_ident("  " + p.name, q);
        pv.push_back({{"name", p.name}, {"identification", to_json(q)}});
      }
      qv.push_back({{"name", variants[k].name()}, {"pairings", pv}});
    }
  }
  report["identification"] = {{"protocol", protocol_json(protocol, description)}, {"variants", iv}};
  if (f.quality) {
    DegradationRanges ranges;
    ranges.seed = f.seed;
    report["quality"] = {{"degradation", to_json(ranges)}, {"variants", qv}};
  }
  std::printf("time: %.0f s\n", std::chrono::duration<double>(Clock::now() - t0).count());
  finish_report(f, report, io.dataset, images, t0);
  return kOk;
}

int eval_compare(const std::string& a, const std::string& b, const std::string& html, bool all) {
  std::string ja = detail::read_file(a), jb = detail::read_file(b);
  std::cout << compare_text(a, b, ja, jb, all);
  if (!html.empty()) {
    detail::write_file_atomic(html, compare_html(a, b, ja, jb, all));
    std::cerr << "comparison: " << html << "\n";
  }
  return kOk;
}

int eval_detection(const std::string& xml, std::string images, const DetectorOptions& dopt, const std::string& draw_dir,
                   bool json) {
  auto labelled = read_dlib_xml(xml);
  if (images.empty()) images = std::filesystem::path(xml).parent_path().string();
  auto det = make_detector(manifest(), dopt);
  if (!draw_dir.empty()) std::filesystem::create_directories(draw_dir);
  auto each = [&](const LabelledImage& li, const cv::Mat& bgr, const std::vector<Detection>& found,
                  const DetectionImageResult& i) {
    if (!json)
      std::printf("%-28s truth %2zu  found %2zu  tp %2d  fp %2d  fn %2d\n", i.file.c_str(), i.truth, i.found,
                  i.counts.true_positives, i.counts.false_positives, i.counts.false_negatives);
    if (draw_dir.empty()) return;
    cv::Mat canvas = bgr.clone();
    for (const auto& b : li.boxes) cv::rectangle(canvas, cv::Rect2f(b.x, b.y, b.w, b.h), cv::Scalar(255, 0, 0), 2);
    for (const auto& d : found) cv::rectangle(canvas, d.box, cv::Scalar(0, 255, 0), 1);
    cv::imwrite((std::filesystem::path(draw_dir) / (std::filesystem::path(li.file).stem().string() + ".png")).string(),
                canvas);
  };
  auto e = evaluate_detection(*det, labelled, images, each);
  const auto& total = e.total;
  const double secs = e.seconds;
  if (json) {
    Json j{{"xml", xml}, {"detector", dopt.model}, {"verifier", dopt.verifier}};
    j.update(to_json(e));
    std::cout << j.dump(2) << "\n";
  } else {
    std::printf("detector %s (verifier %s): recall %.3f  precision %.3f  (tp %d, fp %d, fn %d; IoU >= 0.5)  %.1f s\n",
                dopt.model.c_str(), dopt.verifier.c_str(), total.recall(), total.precision(), total.true_positives,
                total.false_positives, total.false_negatives, secs);
  }
  return kOk;
}

struct PoseArgs {
  std::string root;
  std::vector<std::string> detectors = {DetectorOptions{}.model};
  int min_face = DetectorOptions{}.min_face;
  bool json = false;
};

// Recall of the annotated face by approximate yaw, several detectors side by side.
int eval_pose(const PoseArgs& a) {
  auto faces = read_300w(a.root);
  Json out = Json::array();
  if (!a.json)
    std::printf("%zu annotated faces under %s; yaw approximated from the 68 points (approximate_yaw)\n", faces.size(),
                a.root.c_str());
  std::vector<PoseRecall> results;
  for (const auto& name : a.detectors) {
    DetectorOptions o;
    o.model = name;
    o.min_face = a.min_face;
    auto det = make_detector(manifest(), o);
    results.push_back(evaluate_pose_recall(*det, a.root, faces, {0, 15, 30, 45, 90}, progress_printer(name)));
  }
  if (!a.json) {
    std::printf("%-24s %-14s", "detector", "all");
    for (const auto& b : results[0].bands) {
      char h[32];
      std::snprintf(h, sizeof h, "|yaw| %g-%g", b.from, b.to);
      std::printf(" %-16s", h);
    }
    std::printf(" %8s\n", "ms/img");
  }
  for (size_t d = 0; d < results.size(); ++d) {
    const auto& r = results[d];
    auto cell = [](size_t found, size_t n) {
      char b[48];
      std::snprintf(b, sizeof b, "%.3f (%zu/%zu)", n ? double(found) / double(n) : 0.0, found, n);
      return std::string(b);
    };
    Json bands = Json::array();
    for (const auto& b : r.bands)
      bands.push_back({{"from", b.from}, {"to", b.to}, {"faces", b.faces}, {"found", b.found}});
    out.push_back({{"detector", a.detectors[d]},
                   {"faces", r.faces},
                   {"found", r.found},
                   {"bands", bands},
                   {"missed", r.missed},
                   {"seconds", r.seconds}});
    if (a.json) continue;
    std::printf("%-24s %-14s", a.detectors[d].c_str(), cell(r.found, r.faces).c_str());
    for (const auto& b : r.bands) std::printf(" %-16s", cell(b.found, b.faces).c_str());
    std::printf(" %8.1f\n", 1000.0 * r.seconds / double(std::max<size_t>(1, r.faces)));
  }
  if (a.json) std::cout << out.dump(2) << "\n";
  return kOk;
}

struct ScalesArgs {
  std::string images, reference = "blazeface+faceboxes", widths, canvas = "1920x1080", draw;
  DetectorOptions detector;
  int samples = 100, faces = 24;
  uint32_t seed = 20261128;
  bool json = false;
};

int eval_scales(const ScalesArgs& a) {
  ScaleSweepOptions o;
  o.faces_per_width = a.faces;
  o.seed = a.seed;
  if (!a.widths.empty()) {
    o.widths.clear();
    for (const auto& w : split_list(a.widths)) {
      try {
        o.widths.push_back(std::stoi(w));
      } catch (const std::exception&) {
        throw Error(ErrorKind::InvalidArgument, "--widths: '" + w + "' is not a number");
      }
    }
  }
  if (int w = 0, h = 0; std::sscanf(a.canvas.c_str(), "%dx%d", &w, &h) == 2 && w > 0 && h > 0)
    o.canvas = cv::Size(w, h);
  else
    throw Error(ErrorKind::InvalidArgument, "--canvas: expected WIDTHxHEIGHT, got '" + a.canvas + "'");

  DetectorOptions ro = a.detector;
  ro.model = a.reference;
  auto reference = make_detector(manifest(), ro);
  auto samples =
      load_face_samples(a.images, a.samples, a.seed, *reference, [](const std::string& f, const std::string& why) {
        std::fprintf(stderr, "%s: %s (skipped)\n", f.c_str(), why.c_str());
      });
  std::fprintf(stderr, "scales: %zu sample photos, faces located by %s; detector %s on %dx%d canvases\n",
               samples.size(), a.reference.c_str(), a.detector.model.c_str(), o.canvas.width, o.canvas.height);
  auto det = make_detector(manifest(), a.detector);
  auto print = progress_printer("canvases", "canvas/s", 1);
  auto progress = [&](int d, int n) { print(size_t(d), size_t(n)); };
  std::function<void(int, int, const cv::Mat&, const std::vector<Detection>&)> draw;
  if (!a.draw.empty()) {
    std::filesystem::create_directories(a.draw);
    draw = [&](int width, int k, const cv::Mat& canvas, const std::vector<Detection>& dets) {
      if (k > 1) return;  // the first canvas of each width
      cv::Mat c = canvas.clone();
      for (const auto& d : dets) cv::rectangle(c, d.box, cv::Scalar(0, 255, 0), 1);
      cv::imwrite((std::filesystem::path(a.draw) / ("width" + std::to_string(width) + ".jpg")).string(), c);
    };
  }
  auto rows = detection_scale_sweep(*det, samples, o, progress, draw);
  nlohmann::json jr = nlohmann::json::array();
  if (!a.json)
    std::printf("detector %s, %dx%d canvases (face found: a detection holds its centre, size within 2x)\n",
                a.detector.model.c_str(), o.canvas.width, o.canvas.height);
  if (!a.json)
    std::printf("%8s %7s %7s %8s %7s %9s %12s\n", "width", "faces", "found", "recall", "other", "canvases",
                "ms/canvas");
  for (const auto& r : rows) {
    jr.push_back({{"width", r.width},
                  {"faces", r.faces},
                  {"found", r.found},
                  {"recall", r.recall()},
                  {"other", r.other},
                  {"canvases", r.canvases},
                  {"ms_per_canvas", 1000 * r.seconds / std::max(1, r.canvases)}});
    if (!a.json)
      std::printf("%8d %7d %7d %8.3f %7d %9d %12.0f\n", r.width, r.faces, r.found, r.recall(), r.other, r.canvases,
                  1000 * r.seconds / std::max(1, r.canvases));
  }
  if (a.json)
    std::cout << nlohmann::json{{"detector", a.detector.model},
                                {"min_face", a.detector.min_face},
                                {"reference", a.reference},
                                {"canvas", a.canvas},
                                {"samples", samples.size()},
                                {"seed", a.seed},
                                {"rows", jr}}
                     .dump(2)
              << "\n";
  return kOk;
}

struct FusionArgs {
  std::string images, pairs, means, name;
  int steps = 20;
  bool write = false, centre = false;
  EvalFlags f;
};

// Every image file under `root`, relative to it, sorted.
std::vector<std::string> image_files(const std::filesystem::path& root) {
  std::vector<std::string> out;
  for (const auto& f : list_image_files(root)) out.push_back(f.string());
  return out;
}

int eval_fusion(const FusionArgs& a) {
  auto t0 = Clock::now();
  const auto& f = a.f;
  if (f.quality || f.flip)
    throw Error(ErrorKind::InvalidArgument,
                "eval fusion: --quality and --flip do not apply (name the test-time "
                "augmentation with the components: NAME+flip+zoom)");
  auto variants = f.variants();
  if (variants.size() < 2) throw Error(ErrorKind::InvalidArgument, "eval fusion: --embedder needs two or more models");
  std::vector<std::string> components;
  for (const auto& v : variants) {
    if (v.flip != variants[0].flip || v.zoom != variants[0].zoom)
      throw Error(ErrorKind::InvalidArgument, "eval fusion: every component takes the same test-time augmentation (" +
                                                  variants[0].name() + " vs " + v.name() + ")");
    if (manifest().model(v.embedder).format == "fused")
      throw Error(ErrorKind::InvalidArgument, "eval fusion: " + v.embedder + " is fused already");
    components.push_back(v.embedder);
  }
  const std::string name = a.name.empty() ? components[0] + "+" + components[1] + "-fused" : a.name;
  auto mean_images = image_files(a.means);
  if (mean_images.empty()) throw Error(ErrorKind::InvalidArgument, a.means + ": no .jpg or .png images");
  std::fprintf(stderr, "fusion: means over %zu images of %s\n", mean_images.size(), a.means.c_str());
  auto ref = embed(a.means, mean_images, f.options(false), "embedding the reference set");
  std::vector<std::vector<float>> means;
  std::vector<double> spreads;
  size_t used = 0;
  for (const auto& t : ref.tables) {
    auto mean = mean_embedding(t, &used);
    means.push_back(a.centre ? mean : std::vector<float>{});
    spreads.push_back(impostor_spread(t, means.back()));
  }

  auto pairs = read_lfw_pairs(a.pairs);
  std::set<std::string> wanted;
  for (const auto& p : pairs) wanted.insert({p.a, p.b});
  std::vector<std::string> images(wanted.begin(), wanted.end());
  auto got = embed(a.images, images, f.options(false), "embedding the pairs' images");
  FusionSearchOptions so;
  so.steps = a.steps;
  so.threads = f.workers;
  so.spreads = spreads;
  so.progress = progress_printer("weights", "recipes/s", 1);
  auto r = search_fusion(components, means, got.tables, pairs, images, so);

  std::string list, spread_list;
  for (size_t k = 0; k < components.size(); ++k) {
    char b[32];
    std::snprintf(b, sizeof b, "%.4f", spreads[k]);
    list += (list.empty() ? "" : ", ") + components[k];
    spread_list += (spread_list.empty() ? "" : ", ") + std::string(b);
  }
  std::printf(
      "fusion of %s (%s); over %zu faces of %s: impostor score spreads %s%s; pairs %s (%zu pairs, %zu "
      "impostor pairs in the sweep)\n",
      list.c_str(), tta_suffix(variants[0].flip, variants[0].zoom).c_str(), used, a.means.c_str(), spread_list.c_str(),
      a.centre ? " (centred on their means)" : "", a.pairs.c_str(), pairs.size(),
      r.candidates.empty() ? size_t(0) : r.candidates[0].evaluation.impostor_pairs);
  std::printf("u: each model's share of the normalised score; w: the weights that gives\n");
  print_pairs_header();
  Json cands = Json::array();
  auto join = [](const std::vector<double>& v) {
    std::string out;
    for (size_t k = 0; k < v.size(); ++k) {
      char b[16];
      std::snprintf(b, sizeof b, "%s%.2f", k ? "/" : "", v[k]);
      out += b;
    }
    return out;
  };
  for (size_t g = 0; g < r.candidates.size(); ++g) {
    const auto& c = r.candidates[g];
    print_pairs("u=" + join(c.shares) + " w=" + join(c.weights) + (g == r.best ? " *" : ""), c.evaluation);
    cands.push_back({{"shares", c.shares}, {"weights", c.weights}, {"verification", to_json(c.evaluation)}});
  }
  std::printf("* chosen: highest TAR at FMR 1e-3, then accuracy%s\n",
              r.fused ? "" : "; it gives one model all the weight, so fusing does not help here");
  if (!f.json_out.empty() || !f.report_dir.empty()) {
    Json report = header(f);
    report["data"] = {{"images_root", std::filesystem::absolute(a.images).string()},
                      {"pairs_file", std::filesystem::absolute(a.pairs).string()},
                      {"pairs_sha256", detail::sha256_file(a.pairs)},
                      {"means_root", std::filesystem::absolute(a.means).string()},
                      {"mean_faces", used}};
    report["fusion"] = {{"components", components},
                        {"spreads", spreads},
                        {"centred", a.centre},
                        {"candidates", cands},
                        {"best", r.best}};
    finish_report(f, report, a.images, images, t0);
  }
  if (a.write) {
    if (!r.fused) {
      std::fprintf(stderr, "nothing written: the best recipe is a single model\n");
      return kFailure;
    }
    std::vector<FusionComponent> kept;
    for (const auto& c : r.components)
      if (c.weight > 0) kept.push_back(c);
    Manifest m = Manifest::load(manifest().path());  // as it is now: keep what others wrote meanwhile
    const std::string notes = std::string("score spreads") + (a.centre ? " and means" : "") + " over " +
                              std::to_string(used) + " faces of " + std::filesystem::path(a.means).filename().string() +
                              "; shares chosen on " + std::filesystem::path(a.pairs).filename().string() +
                              " (TAR at FMR 1e-3, then accuracy, grid of 1/" + std::to_string(a.steps) +
                              "); made by: " + command_line();
    m.add_model(fused_model_entry(name, kept, notes), m.path().parent_path());
    m.save(m.path());
    std::fprintf(stderr,
                 "model %s written to %s (calibrate its thresholds with `facerec eval lfw --embedder %s%s "
                 "--calibrate` on View 1)\n",
                 name.c_str(), m.path().string().c_str(), name.c_str(),
                 tta_suffix(variants[0].flip, variants[0].zoom).c_str());
  }
  return kOk;
}

struct LandmarkArgs {
  std::vector<std::string> folders, landmarkers;
  DetectorOptions detector;
  std::string backend = "onednn";
  int threads = 1;
  size_t max_faces = 0;
  bool json = false;
  std::string report_dir;
};

// The cumulative error distribution: the share of faces with NME <= x, for x in [0, 0.15].
PlotSeries ced(const std::string& name, std::vector<double> v) {
  PlotSeries s{name, {}, {}};
  std::sort(v.begin(), v.end());
  for (int i = 0; i <= 150; ++i) {
    const double x = i / 1000.0;
    s.x.push_back(x);
    s.y.push_back(v.empty() ? std::nan("")
                            : double(std::upper_bound(v.begin(), v.end(), x) - v.begin()) / double(v.size()));
  }
  return s;
}

int eval_landmarks(const LandmarkArgs& a) {
  Json all = Json::array();
  HtmlReport report("Landmark accuracy");
  report.paragraph(
      "NME: mean point-to-point error over the distance between the outer eye corners (iBUG 36, 45). "
      "NME-7: the same over the eye corners, nose tip and mouth corners, which FaceMesh also gives. "
      "Each landmarker runs on the detector box holding the annotated face, " +
      std::to_string(a.threads) + " thread(s) on " + a.backend + ". facerec " + version() + ".");
  for (const auto& folder : a.folders) {
    DetectorOptions d = a.detector;
    d.backend = a.backend;
    d.threads = a.threads;
    const auto ev = evaluate_landmarks(manifest(), d, a.landmarkers, a.backend, a.threads, folder, a.max_faces,
                                       progress_printer("landmarks " + folder, "img/s"));
    {
      std::vector<std::vector<std::string>> rows;
      std::vector<PlotSeries> c68, c7;
      auto f4 = [](double v) {
        char b[32];
        std::snprintf(b, sizeof b, "%.4f", v);
        return std::string(b);
      };
      for (const auto& s : ev.scores) {
        rows.push_back({s.landmarker, f4(s.nme68), f4(s.median68), f4(s.failures), f4(s.nme7), f4(s.ms_per_face)});
        if (!s.per_face68.empty()) c68.push_back(ced(s.landmarker, s.per_face68));
        c7.push_back(ced(s.landmarker, s.per_face7));
      }
      report.heading(folder + ": " + std::to_string(ev.found) + " of " + std::to_string(ev.images) +
                     " annotated faces found by " + d.model);
      report.table({"landmarker", "NME68", "median", "share > 0.08", "NME-7", "ms per face"}, rows);
      report.figures({svg_plot({"Cumulative error, 68 points", "NME", "share of faces"}, c68),
                      svg_plot({"Cumulative error, 7 points", "NME-7", "share of faces"}, c7)});
    }
    if (a.json) {
      Json rows = Json::array();
      for (const auto& s : ev.scores)
        rows.push_back({{"landmarker", s.landmarker},
                        {"faces", s.faces},
                        {"nme68", s.nme68},
                        {"median68", s.median68},
                        {"failures_0.08", s.failures},
                        {"nme7", s.nme7},
                        {"ms_per_face", s.ms_per_face}});
      all.push_back({{"folder", folder},
                     {"images", ev.images},
                     {"found", ev.found},
                     {"detector", d.model},
                     {"backend", a.backend},
                     {"threads", a.threads},
                     {"scores", rows}});
      continue;
    }
    std::printf("%s: %zu annotated faces, %zu found by %s (%s, %d thread(s))\n", folder.c_str(), ev.images, ev.found,
                d.model.c_str(), a.backend.c_str(), a.threads);
    std::printf("  %-36s %8s %8s %8s %8s %8s\n", "LANDMARKER", "NME68", "MEDIAN", "FAIL>.08", "NME7", "MS/FACE");
    for (const auto& s : ev.scores)
      std::printf("  %-36s %8.4f %8.4f %8.3f %8.4f %8.3f\n", s.landmarker.c_str(), s.nme68, s.median68, s.failures,
                  s.nme7, s.ms_per_face);
  }
  if (a.json) std::printf("%s\n", all.dump(2).c_str());
  if (!a.report_dir.empty()) {
    std::filesystem::create_directories(a.report_dir);
    const auto f = std::filesystem::path(a.report_dir) / "landmarks.html";
    detail::write_file_atomic(f, report.html());
    std::fprintf(stderr, "report: %s\n", f.string().c_str());
  }
  return kOk;
}

}  // namespace

void add_eval_commands(CLI::App& app, Action* action) {
  auto* ev = app.add_subcommand("eval", "Evaluate the pipeline on standard protocols");
  add_liveness_commands(app, *ev, action);
  add_fairness_command(ev, action);
  ev->require_subcommand(1);
  auto* lfw = ev->add_subcommand(
      "lfw", "LFW verification (10-fold View 2), optionally 1:N identification and quality pairs, with a report");
  auto lo = std::make_shared<LfwOptions>();
  lfw->add_option("--images", lo->images, "LFW images root (Name/Name_0001.jpg)")
      ->required()
      ->check(CLI::ExistingDirectory);
  lfw->add_option("--pairs", lo->pairs, "pairs.txt")->required()->check(CLI::ExistingFile);
  lfw->add_flag("--identification", lo->identification,
                "Also run the LFW 1:N protocol over every image (people with one image are distractors)");
  lfw->add_flag("--all", lo->all, "Embed every image under --images (detection rate, impostor distribution)");
  lfw->add_flag("--calibrate", lo->calibrate, "Store the thresholds in the model manifest");
  lo->f.add(lfw);
  lfw->callback([=] { *action = [=] { return eval_lfw(*lo); }; });

  auto* id = ev->add_subcommand(
      "identification", "1:N identification on a folder-per-identity dataset (closed-set CMC, open-set FNIR@FPIR)");
  auto io = std::make_shared<IdentOptions>();
  id->add_option("--dataset", io->dataset, "Root folder: <identity>/<image>")
      ->required()
      ->check(CLI::ExistingDirectory);
  id->add_option("--enrol", io->enrol, "Images enrolled per identity (the first by name)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  id->add_option("--holdout", io->holdout, "Leave every k-th enrollable identity out as non-mated probes (0: none)")
      ->capture_default_str()
      ->check(CLI::Range(0, 1000000));
  io->f.add(id);
  id->callback([=] { *action = [=] { return eval_identification(*io); }; });

  auto* cmp = ev->add_subcommand("compare", "Compare two report JSON files side by side (B - A)");
  auto ca = std::make_shared<std::string>(), cb = std::make_shared<std::string>(),
       chtml = std::make_shared<std::string>();
  auto call = std::make_shared<bool>(false);
  cmp->add_option("A", *ca, "report.json")->required()->check(CLI::ExistingFile);
  cmp->add_option("B", *cb, "report.json")->required()->check(CLI::ExistingFile);
  cmp->add_option("--html", *chtml, "Also write the table as HTML");
  cmp->add_flag("--all", *call, "Every number (options, per-fold figures), not only the results");
  cmp->callback([=] { *action = [=] { return eval_compare(*ca, *cb, *chtml, *call); }; });

  auto* fu = ev->add_subcommand(
      "fusion", "Choose a fused embedder's recipe: score spreads over reference faces, shares on a pairs file");
  auto fa = std::make_shared<FusionArgs>();
  fu->add_option("--images", fa->images, "Images root of the pairs (Name/Name_0001.jpg)")
      ->required()
      ->check(CLI::ExistingDirectory);
  fu->add_option("--pairs", fa->pairs, "Pairs file to choose the weights on (LFW View 1: pairsDevTrain.txt)")
      ->required()
      ->check(CLI::ExistingFile);
  fu->add_option("--means", fa->means,
                 "Folder of face photos, one folder per identity (not the test set), the models' score spreads (and "
                 "with --centre their mean embeddings) are taken over")
      ->required()
      ->check(CLI::ExistingDirectory);
  fu->add_option("--name", fa->name, "Name of the fused model (default: <first>+<second>-fused)");
  fu->add_option("--steps", fa->steps, "Weight grid: multiples of 1/steps")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  fu->add_flag("--centre", fa->centre, "Centre each model's embeddings on their mean over the --means faces");
  fu->add_flag("--write", fa->write, "Add (or replace) the fused model in the manifest with the chosen recipe");
  fa->f.embedder = "face_recognition_model+flip,mobilefacenet-ms1m+flip";
  fa->f.add(fu);
  fu->callback([=] { *action = [=] { return eval_fusion(*fa); }; });

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

  auto* po = ev->add_subcommand(
      "pose",
      "Detection recall by head pose on 68-point markup (300-W: <name>.jpg + <name>.pts), detectors side by side");
  auto pa = std::make_shared<PoseArgs>();
  po->add_option("--images", pa->root, "Root folder of the images and .pts files (e.g. ../shared/data/300w)")
      ->required()
      ->check(CLI::ExistingDirectory);
  po->add_option("--detector", pa->detectors, "Detector model(s) (a or a+b), several side by side")
      ->delimiter(',')
      ->capture_default_str();
  po->add_option("--min-face", pa->min_face, "Smallest face to look for, in pixels")->capture_default_str();
  po->add_flag("--json", pa->json, "JSON output (with the images whose face was missed)");
  po->callback([=] { *action = [=] { return eval_pose(*pa); }; });

  auto* lmk = ev->add_subcommand(
      "landmarks",
      "Landmark accuracy (NME, inter-ocular) and ms per face on 300-W folders, landmarkers side by side on the same "
      "detector boxes");
  auto la = std::make_shared<LandmarkArgs>();
  lmk->add_option("folders", la->folders, "300-W folders (<name>.jpg beside <name>.pts)")
      ->required()
      ->check(CLI::ExistingDirectory);
  lmk->add_option("--landmarker", la->landmarkers,
                  "Landmarkers, comma-separated: MODEL[@PASSES][+flip] (e.g. face_landmark_68_model@2+flip, "
                  "facerec-landmarks-96, facemesh)")
      ->delimiter(',')
      ->required();
  lmk->add_option("--detector", la->detector.model, "Detector framing the faces")->capture_default_str();
  lmk->add_option("--backend", la->backend, backend_help())->capture_default_str();
  lmk->add_option("--threads", la->threads, "Threads per network")->capture_default_str();
  lmk->add_option("--max-faces", la->max_faces, "At most this many faces per folder (0: all)")->capture_default_str();
  lmk->add_flag("--json", la->json, "JSON output");
  lmk->add_option("--report", la->report_dir,
                  "Write landmarks.html (tables, cumulative error curves) into this directory");
  lmk->callback([=] { *action = [=] { return eval_landmarks(*la); }; });

  auto* sc = ev->add_subcommand(
      "scales", "Detection recall by face width: sample faces pasted at chosen widths into large canvases");
  auto sa = std::make_shared<ScalesArgs>();
  sc->add_option("--images", sa->images, "Folder of face photos (e.g. LFW)")->required()->check(CLI::ExistingDirectory);
  sc->add_option("--detector", sa->detector.model, "Detector model(s) to measure (a or a+b)")->capture_default_str();
  sc->add_option("--reference", sa->reference, "Detector that locates each sample photo's face")->capture_default_str();
  sc->add_option("--min-face", sa->detector.min_face, "Smallest face to look for, in pixels")->capture_default_str();
  sc->add_option("--verifier", sa->detector.verifier, "Verifier model or 'none'")->capture_default_str();
  sc->add_option("--widths", sa->widths, "Face widths in pixels, comma-separated (default 16..768)");
  sc->add_option("--canvas", sa->canvas, "Canvas size WIDTHxHEIGHT")->capture_default_str();
  sc->add_option("--samples", sa->samples, "Sample photos to draw faces from")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  sc->add_option("--faces", sa->faces, "Faces pasted per width")->capture_default_str()->check(CLI::Range(1, 100000));
  sc->add_option("--seed", sa->seed, "Seed of the sample choice and canvases")->capture_default_str();
  sc->add_option("--draw", sa->draw, "Directory for the first canvas of each width with the detections drawn");
  sc->add_flag("--json", sa->json, "JSON output");
  sc->callback([=] { *action = [=] { return eval_scales(*sa); }; });
}

}  // namespace facerec::cli
