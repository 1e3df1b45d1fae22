// facerec liveness | eval liveness
#include "commands.hpp"
#include "pipeline_flags.hpp"

#include <facerec/detect.hpp>
#include <facerec/error.hpp>
#include <facerec/eval/liveness.hpp>
#include <facerec/eval/report.hpp>
#include <facerec/image.hpp>
#include <facerec/liveness.hpp>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <optional>

namespace facerec::cli {
namespace {

struct LivenessFlags {
  std::string model = LivenessOptions{}.model;
};

int liveness(const std::vector<std::string>& images, const PipelineFlags& pf, const LivenessFlags& lf, bool json) {
  AnalyzerOptions o = pf.options();
  auto det = make_detector(manifest(), o.detector);
  LivenessOptions lo;
  lo.model = lf.model;
  lo.backend = o.detector.backend;
  lo.threads = o.detector.threads;
  auto checker = make_liveness_checker(manifest(), lo);
  checker->threshold();  // throws NotFound, before any image, when the model is not calibrated
  int bad = 0;
  for (const auto& path : images) {
    try {
      DecodedImage img = decode_image_file(path);
      auto faces = det->detect(img.bgr);
      nlohmann::json out = {{"image", path}, {"model", checker->model()}, {"faces", nlohmann::json::array()}};
      if (!json) std::printf("%s\t%zu face(s)\n", path.c_str(), faces.size());
      for (size_t i = 0; i < faces.size(); ++i) {
        LivenessResult r = checker->check(img.bgr, faces[i].box);
        const auto& b = faces[i].box;
        out["faces"].push_back({{"face", i},
                                {"box", {b.x, b.y, b.width, b.height}},
                                {"score", r.score},
                                {"threshold", r.threshold},
                                {"live", r.live}});
        if (!json)
          std::printf("  %zu\tbox %.0f,%.0f %.0fx%.0f\tliveness %.4f (threshold %.4f)  %s\n", i, double(b.x),
                      double(b.y), double(b.width), double(b.height), double(r.score), r.threshold,
                      r.live ? "LIVE" : "ATTACK");
      }
      if (json) std::cout << out.dump() << "\n";
    } catch (const Error& e) {
      std::cerr << "facerec: " << path << ": " << e.what() << "\n";
      ++bad;
    }
  }
  return bad ? kBadInput : kOk;
}

struct EvalFlags {
  std::string labels, models = "face-anti-spoofing,antispoof,liveness", scales = "1.0,1.5", report;
  std::string calibration_subjects = "0001-0009";
  bool calibrate = false;
};

// "0001-0009" -> [lo, hi] as strings compared by value
std::pair<int, int> subject_range(const std::string& s) {
  auto dash = s.find('-');
  if (dash == std::string::npos) throw Error(ErrorKind::InvalidArgument, "--calibration-subjects: expected A-B");
  try {
    return {std::stoi(s.substr(0, dash)), std::stoi(s.substr(dash + 1))};
  } catch (const std::logic_error&) {
    throw Error(ErrorKind::InvalidArgument, "--calibration-subjects: expected two numbers A-B, not '" + s + "'");
  }
}

std::string pct(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.2f%%", 100 * v);
  return b;
}

int eval_liveness(const EvalFlags& f, const PipelineFlags& pf) {
  auto samples = read_liveness_labels(f.labels);
  auto [lo_s, hi_s] = subject_range(f.calibration_subjects);
  AnalyzerOptions o = pf.options();
  auto det = make_detector(manifest(), o.detector);
  // 1. the face of each image: the largest detection
  // subjects as numbers, for the calibration range
  std::vector<int> subject(samples.size());
  for (size_t i = 0; i < samples.size(); ++i) {
    const std::string& sj = samples[i].subject;
    if (sj.empty() || sj.size() > 9 || sj.find_first_not_of("0123456789") != std::string::npos)
      throw Error(ErrorKind::InvalidArgument,
                  f.labels + ": subject '" + sj + "' of " + samples[i].file.string() + " is not a number");
    subject[i] = std::stoi(sj);
  }
  std::vector<std::optional<cv::Rect2f>> boxes(samples.size());
  int no_face = 0;
  auto t0 = std::chrono::steady_clock::now();
  for (size_t i = 0; i < samples.size(); ++i) {
    auto d = det->detect(decode_image_file(samples[i].file.string()).bgr);
    if (d.empty()) {
      ++no_face;
    } else {
      auto it = std::max_element(d.begin(), d.end(),
                                 [](const Detection& a, const Detection& b) { return a.box.area() < b.box.area(); });
      boxes[i] = it->box;
    }
    if ((i + 1) % 150 == 0 || i + 1 == samples.size()) {
      double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::fprintf(stderr, "detecting %zu/%zu  %.1f img/s  ETA %.0f s   \r", i + 1, samples.size(), double(i + 1) / s,
                   double(samples.size() - i - 1) / (double(i + 1) / s));
    }
  }
  std::fprintf(stderr, "\n");
  nlohmann::ordered_json report = {{"labels", f.labels},
                                   {"images", samples.size()},
                                   {"no_face", no_face},
                                   {"calibration_subjects", f.calibration_subjects},
                                   {"detector", o.detector.model},
                                   {"command", command_line()},
                                   {"models", nlohmann::ordered_json::array()}};
  HtmlReport html("Liveness (presentation-attack detection) on " + f.labels);
  html.paragraph("Threshold and crop chosen on subjects " + f.calibration_subjects +
                 " (equal-error point); APCER, BPCER and ACER (ISO/IEC 30107-3) measured on the other subjects. " +
                 "An image without a detected face is left out (" + std::to_string(no_face) + " of " +
                 std::to_string(samples.size()) + "). Detector: " + o.detector.model + ".");
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> svgs;
  std::vector<PlotSeries> det_series;
  Manifest calibrated = f.calibrate ? Manifest::load(manifest().path()) : manifest();
  for (const auto& model : split_list(f.models)) {
    struct Choice {
      double scale = 0, threshold = 0;
      PadRates calib;
      std::vector<double> test_live, test_attack;
    } best;
    bool have = false;
    for (const auto& sc : split_list(f.scales)) {
      LivenessOptions lo;
      lo.model = model;
      lo.backend = o.detector.backend;
      lo.threads = o.detector.threads;
      lo.crop_scale = std::stod(sc);
      auto checker = make_liveness_checker(manifest(), lo);
      std::vector<double> cl, ca, tl, ta;
      for (size_t i = 0; i < samples.size(); ++i) {
        if (!boxes[i]) continue;
        double s = checker->score(decode_image_file(samples[i].file.string()).bgr, *boxes[i]);
        bool calib = subject[i] >= lo_s && subject[i] <= hi_s;
        (samples[i].live ? (calib ? cl : tl) : (calib ? ca : ta)).push_back(s);
      }
      if (cl.empty() || ca.empty() || tl.empty() || ta.empty())
        throw Error(ErrorKind::InvalidArgument, "liveness evaluation: both parts need live and attack images");
      double t = pad_eer_threshold(cl, ca);
      PadRates c = pad_rates(cl, ca, t);
      std::fprintf(stderr, "%-20s crop %.2f: calibration ACER %s (APCER %s, BPCER %s, AUC %.4f)\n", model.c_str(),
                   lo.crop_scale, pct(c.acer).c_str(), pct(c.apcer).c_str(), pct(c.bpcer).c_str(), pad_auc(cl, ca));
      if (!have || c.acer < best.calib.acer) {
        best = {lo.crop_scale, t, c, tl, ta};
        have = true;
      }
    }
    PadRates r = pad_rates(best.test_live, best.test_attack, best.threshold);
    double auc = pad_auc(best.test_live, best.test_attack);
    rows.push_back({model, std::to_string(best.scale).substr(0, 4), std::to_string(best.threshold),
                    pct(best.calib.acer), pct(r.apcer), pct(r.bpcer), pct(r.acer), std::to_string(auc).substr(0, 6),
                    std::to_string(r.bona_fide) + " / " + std::to_string(r.attacks)});
    PlotSeries s{model, {}, {}};
    for (const auto& p : pad_det_curve(best.test_live, best.test_attack)) {
      s.x.push_back(p.apcer);
      s.y.push_back(p.bpcer);
    }
    det_series.push_back(s);
    report["models"].push_back(
        {{"model", model},
         {"crop_scale", best.scale},
         {"threshold", best.threshold},
         {"calibration", {{"apcer", best.calib.apcer}, {"bpcer", best.calib.bpcer}, {"acer", best.calib.acer}}},
         {"test",
          {{"apcer", r.apcer},
           {"bpcer", r.bpcer},
           {"acer", r.acer},
           {"auc", auc},
           {"bona_fide", r.bona_fide},
           {"attacks", r.attacks}}}});
    if (f.calibrate) {
      calibrated.set_thresholds(model, {{"live", best.threshold}});
      calibrated.set_crop_scale(model, best.scale);
    }
  }
  const std::vector<std::string> header = {"model",      "crop",      "threshold", "calib. ACER",       "test APCER",
                                           "test BPCER", "test ACER", "test AUC",  "test live / attack"};
  std::printf("%-20s %5s %10s %12s %11s %11s %10s %8s %s\n", "model", "crop", "threshold", "calib.ACER", "APCER",
              "BPCER", "ACER", "AUC", "live/attack");
  for (const auto& row : rows)
    std::printf("%-20s %5s %10.6s %12s %11s %11s %10s %8s %s\n", row[0].c_str(), row[1].c_str(), row[2].c_str(),
                row[3].c_str(), row[4].c_str(), row[5].c_str(), row[6].c_str(), row[7].c_str(), row[8].c_str());
  html.table(header, rows);
  PlotSpec det_spec{"DET on the test subjects", "APCER (attacks accepted)", "BPCER (live faces rejected)"};
  det_spec.log_x = det_spec.log_y = true;
  det_spec.x_min = det_spec.y_min = 1e-3;
  det_spec.x_max = det_spec.y_max = 1;
  svgs.push_back(svg_plot(det_spec, det_series));
  html.figures(svgs);
  if (f.calibrate) {
    calibrated.save(calibrated.path());
    std::cerr << "liveness thresholds and crops written to " << calibrated.path().string() << "\n";
  }
  if (!f.report.empty()) {
    std::filesystem::create_directories(f.report);
    std::ofstream(std::filesystem::path(f.report) / "report.json") << report.dump(2) << "\n";
    std::ofstream(std::filesystem::path(f.report) / "report.html") << html.html();
    std::cerr << "report: " << (std::filesystem::path(f.report) / "report.html").string() << "\n";
  }
  return kOk;
}

}  // namespace

void add_liveness_commands(CLI::App& app, CLI::App& eval, Action* action) {
  {
    auto* cmd = app.add_subcommand("liveness", "Liveness (live face or photo attack) of every face in images");
    auto images = std::make_shared<std::vector<std::string>>();
    auto pf = std::make_shared<PipelineFlags>();
    auto lf = std::make_shared<LivenessFlags>();
    auto json = std::make_shared<bool>(false);
    cmd->add_option("images", *images, "Image files")->required();
    cmd->add_option("--model", lf->model, "Liveness model (task liveness in the manifest)")->capture_default_str();
    cmd->add_flag("--json", *json, "One JSON object per image");
    pf->add(cmd, false);
    cmd->callback([=] { *action = [=] { return liveness(*images, *pf, *lf, *json); }; });
  }
  {
    auto* cmd = eval.add_subcommand(
        "liveness", "Presentation-attack detection: threshold on calibration subjects, APCER/BPCER/ACER on the rest");
    auto f = std::make_shared<EvalFlags>();
    auto pf = std::make_shared<PipelineFlags>();
    cmd->add_option("--labels", f->labels, "labels.tsv (columns file, class, subject), e.g. ../shared/data/nuaa")
        ->required()
        ->check(CLI::ExistingFile);
    cmd->add_option("--models", f->models, "Liveness models, comma-separated")->capture_default_str();
    cmd->add_option("--crop-scales", f->scales, "Crop sizes (box sizes) to choose from on the calibration subjects")
        ->capture_default_str();
    cmd->add_option("--calibration-subjects", f->calibration_subjects, "Subjects (A-B) the threshold is chosen on")
        ->capture_default_str();
    cmd->add_flag("--calibrate", f->calibrate, "Store each model's threshold and crop in the model manifest");
    cmd->add_option("--report", f->report, "Write report.json and report.html into this directory");
    pf->add(cmd, false);
    cmd->callback([=] { *action = [=] { return eval_liveness(*f, *pf); }; });
  }
}

}  // namespace facerec::cli
