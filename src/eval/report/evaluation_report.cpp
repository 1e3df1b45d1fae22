// Evaluation reports: JSON with every figure, and an HTML page rendered from that JSON.
#include <facerec/eval/evaluation.hpp>

#include "common/fs.hpp"

#include <facerec/eval/report.hpp>

#include <cmath>
#include <cstdio>
#include <set>

namespace facerec {
using Json = ReportJson;
namespace {

std::string fmt(double v, const char* f = "%.4f") {
  if (!std::isfinite(v)) return "—";
  char b[48];
  std::snprintf(b, sizeof b, f, v);
  return b;
}
std::string pct(double v, const char* f = "%.2f%%") { return std::isfinite(v) ? fmt(100 * v, f) : "—"; }

double num(const Json& j, const char* key, double fallback = std::nan("")) {
  return j.contains(key) && j[key].is_number() ? j[key].get<double>() : fallback;
}

Json curve(const std::vector<CurvePoint>& c) {
  Json a = Json::array();
  for (const auto& p : c) a.push_back({p.x, p.y, p.threshold});
  return a;
}

PlotSeries series_of(const std::string& name, const Json& pts) {
  PlotSeries s;
  s.name = name;
  for (const auto& p : pts) {
    s.x.push_back(p[0].get<double>());
    s.y.push_back(p[1].get<double>());
  }
  return s;
}

std::string value_text(const Json& v) {
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

void key_value_table(HtmlReport& h, const Json& obj) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& [k, v] : obj.items()) rows.push_back({k, value_text(v)});
  h.table({"", "value"}, rows);
}

std::string op_cell(const Json& op) {  // "95.30% (0.929)"
  return pct(num(op, "tar")) + " @ " + fmt(num(op, "threshold"));
}

std::string fnir_cell(const Json& ident, size_t k) {
  if (!ident.contains("fnir_at_fpir") || ident["fnir_at_fpir"].size() <= k) return "—";
  const auto& p = ident["fnir_at_fpir"][k];
  return pct(num(p, "fnir")) + " @ " + fmt(num(p, "threshold"));
}

void identification_rows(const Json& ident, std::vector<std::string>& row) {
  row.push_back(pct(num(ident, "rank1")));
  row.push_back(pct(num(ident, "rank5")));
  row.push_back(pct(num(ident, "rank10")));
  row.push_back(fnir_cell(ident, 0));
  row.push_back(fnir_cell(ident, 1));
}

std::string det_plot(const std::string& title, const std::vector<PlotSeries>& s) {
  PlotSpec spec{title, "FPIR (false positive identification rate)", "FNIR (false negative identification rate)", true,
                true};
  spec.x_max = 1;
  spec.y_max = 1;
  return svg_plot(spec, s);
}

std::string roc_plot(const std::string& title, const std::vector<PlotSeries>& s) {
  PlotSpec spec{title, "FMR (false match rate)", "TAR (true accept rate)", true, false};
  spec.x_max = 1;
  spec.y_max = 1;
  return svg_plot(spec, s);
}

}  // namespace

Json to_json(const PairEvaluation& e) {
  const auto& v = e.verification;
  Json j;
  j["pairs"] = v.pairs;
  j["failed_pairs"] = v.failed_pairs;
  j["mean_accuracy"] = v.mean_accuracy;
  j["std_accuracy"] = v.std_accuracy;
  j["fold_accuracy"] = v.fold_accuracy;
  j["fold_threshold"] = v.fold_threshold;
  j["auc"] = v.auc;
  j["eer"] = v.eer;
  j["genuine_pairs"] = e.genuine_pairs;
  j["impostor_pairs"] = e.impostor_pairs;
  j["best_accuracy_threshold"] = e.best_accuracy_threshold;
  auto op = [](const OperatingPoint& p) { return Json{{"threshold", p.threshold}, {"tar", p.tar}, {"fmr", p.fmr}}; };
  j["at_fmr_1e-3"] = op(e.fmr_1e3);
  j["at_fmr_1e-4"] = op(e.fmr_1e4);
  if (std::isfinite(e.fixed.threshold)) j["at_deployed_threshold"] = op(e.fixed);
  j["curves"] = {{"roc", curve(e.roc)}, {"pr", curve(e.pr)}};
  return j;
}

Json to_json(const IdentificationResult& r) {
  Json j;
  j["mated_searches"] = r.mated;
  j["nonmated_searches"] = r.nonmated;
  j["failed_mated"] = r.failed_mated;
  j["failed_nonmated"] = r.failed_nonmated;
  if (!r.cmc.empty()) j["rank1"] = r.cmc[0];
  if (r.cmc.size() >= 5) j["rank5"] = r.cmc[4];
  if (r.cmc.size() >= 10) j["rank10"] = r.cmc[9];
  j["cmc"] = r.cmc;
  Json pts = Json::array();
  for (const auto& p : r.points) {
    char name[16];
    std::snprintf(name, sizeof name, "%g", p.target);
    pts.push_back({{"name", std::string("fpir_") + name},
                   {"target", p.target},
                   {"threshold", p.threshold},
                   {"fpir", p.fpir},
                   {"fnir", p.fnir}});
  }
  j["fnir_at_fpir"] = pts;
  j["curves"] = {{"det", curve(r.det)}};
  return j;
}

Json to_json(const DegradationRanges& r) {
  return Json{{"seed", r.seed},
              {"interocular_px", {r.iod_min, r.iod_max}},
              {"motion_blur_share", r.motion_share},
              {"gaussian_sigma_px", {r.gaussian_sigma_min, r.gaussian_sigma_max}},
              {"motion_length_px", {r.motion_length_min, r.motion_length_max}},
              {"exposure_gain", {r.gain_min, r.gain_max}},
              {"gamma", {r.gamma_min, r.gamma_max}},
              {"noise_sigma", {r.noise_min, r.noise_max}},
              {"jpeg_quality", {r.jpeg_min, r.jpeg_max}}};
}

std::string render_html(const Json& r, const std::vector<DegradationSample>& samples) {
  HtmlReport h("facerec evaluation report");
  h.paragraph("facerec " + r.value("version", std::string("?")) + ", " + r.value("date", std::string("?")) + ", " +
              fmt(num(r, "seconds"), "%.0f") + " s on this machine. Command:");
  h.preformatted(r.value("command", std::string()));
  if (r.contains("data")) {
    h.heading("Data");
    key_value_table(h, r["data"]);
  }
  if (r.contains("pipeline")) {
    h.heading("Pipeline");
    key_value_table(h, r["pipeline"]);
  }
  if (r.contains("lfw")) {
    const auto& l = r["lfw"];
    h.heading("LFW verification (View 2, 10 folds)");
    h.paragraph(
        "Accuracy: each fold at the threshold that maximises accuracy on the other nine; a pair with an image "
        "without a face counts as wrong. TAR at FMR: the threshold where the share of impostor pairs (every pair of "
        "images of different people among the embedded images) at or above it is at most the FMR; TAR over the "
        "pairs file's matched pairs.");
    std::vector<std::vector<std::string>> rows;
    std::vector<PlotSeries> roc, pr;
    for (const auto& v : l["variants"]) {
      rows.push_back({v["name"].get<std::string>(), pct(num(v, "mean_accuracy")) + " ± " + pct(num(v, "std_accuracy")),
                      fmt(num(v, "auc"), "%.5f"), pct(num(v, "eer")), op_cell(v["at_fmr_1e-3"]),
                      op_cell(v["at_fmr_1e-4"]), std::to_string(v["failed_pairs"].get<int>()),
                      std::to_string(v["impostor_pairs"].get<size_t>())});
      roc.push_back(series_of(v["name"], v["curves"]["roc"]));
      pr.push_back(series_of(v["name"], v["curves"]["pr"]));
    }
    h.table({"embedder", "accuracy ± std", "AUC", "EER", "TAR @ FMR 1e-3 (threshold)", "TAR @ FMR 1e-4 (threshold)",
             "failed pairs", "impostor pairs"},
            rows);
    PlotSpec prs{"LFW precision-recall (pairs file)", "recall", "precision"};
    prs.x_min = 0;
    prs.x_max = 1;
    h.figures({roc_plot("LFW ROC", roc), svg_plot(prs, pr)});
  }
  if (r.contains("identification")) {
    const auto& id = r["identification"];
    h.heading("1:N identification");
    if (id.contains("protocol")) h.paragraph(id["protocol"].value("description", std::string()));
    if (id.contains("protocol")) key_value_table(h, id["protocol"]);
    std::vector<std::vector<std::string>> rows;
    std::vector<PlotSeries> cmc, det;
    for (const auto& v : id["variants"]) {
      std::vector<std::string> row{v["name"].get<std::string>()};
      identification_rows(v, row);
      row.push_back(std::to_string(v["mated_searches"].get<size_t>()) + " (" +
                    std::to_string(v["failed_mated"].get<size_t>()) + ")");
      row.push_back(std::to_string(v["nonmated_searches"].get<size_t>()) + " (" +
                    std::to_string(v["failed_nonmated"].get<size_t>()) + ")");
      rows.push_back(row);
      PlotSeries s{v["name"], {}, {}};
      for (size_t k = 0; k < v["cmc"].size(); ++k) {
        s.x.push_back(double(k + 1));
        s.y.push_back(v["cmc"][k].get<double>());
      }
      cmc.push_back(s);
      det.push_back(series_of(v["name"], v["curves"]["det"]));
    }
    h.table({"embedder", "rank-1", "rank-5", "rank-10", "FNIR @ FPIR 1e-2 (threshold)", "FNIR @ FPIR 1e-3 (threshold)",
             "mated searches (failed)", "non-mated searches (failed)"},
            rows);
    PlotSpec cs{"CMC (closed set)", "rank", "identification rate"};
    cs.x_min = 1;
    std::vector<std::string> figs{svg_plot(cs, cmc)};
    if (!det.empty() && !det[0].x.empty()) figs.push_back(det_plot("DET (open set)", det));
    h.figures(figs);
  }
  if (r.contains("quality")) {
    const auto& q = r["quality"];
    h.heading("Quality pairs: high vs high, low vs high, low vs low");
    h.paragraph(
        "Low-quality copies are made per image by a seeded, deterministic camera model: downscale so the eyes are "
        "`interocular_px` apart (measured on the original's detection), Gaussian or motion blur, under-exposure "
        "(gain and gamma), Gaussian sensor noise, JPEG compression, then back up to the original size. Each "
        "parameter is drawn from the ranges below per image. low-vs-high: the pair's second image (or the probe) "
        "is degraded and the first (or the gallery) is not. 'At deployed threshold': the high-high FMR 1e-3 "
        "threshold of this run applied to every pairing, as a product would.");
    key_value_table(h, q["degradation"]);
    if (!samples.empty()) {
      std::vector<std::string> imgs;
      for (const auto& s : samples) {
        char cap[200];
        std::snprintf(cap, sizeof cap, "iod %.0f px, %s %.1f, gain %.2f, gamma %.2f, noise %.1f, JPEG %d",
                      double(s.params.iod), s.params.motion ? "motion" : "gauss",
                      double(s.params.motion ? s.params.motion_length : s.params.gaussian_sigma), double(s.params.gain),
                      double(s.params.gamma), double(s.params.noise_sigma), s.params.jpeg_quality);
        imgs.push_back("<img src=\"data:image/jpeg;base64," + base64(s.original_jpeg) +
                       "\"> <img src=\"data:image/jpeg;base64," + base64(s.degraded_jpeg) + "\"><figcaption>" +
                       html_escape(s.image) + "<br>" + html_escape(cap) + "</figcaption>");
      }
      h.figures(imgs);
    }
    for (const auto& v : q["variants"]) {
      h.heading(v["name"].get<std::string>(), 3);
      std::vector<std::vector<std::string>> rows;
      std::vector<PlotSeries> roc, det;
      bool has_ver = false, has_id = false;
      for (const auto& p : v["pairings"]) {
        std::vector<std::string> row{p["name"].get<std::string>()};
        if (p.contains("verification")) {
          has_ver = true;
          const auto& ve = p["verification"];
          row.push_back(pct(num(ve, "mean_accuracy")) + " ± " + pct(num(ve, "std_accuracy")));
          row.push_back(fmt(num(ve, "auc"), "%.5f"));
          row.push_back(op_cell(ve["at_fmr_1e-3"]));
          if (ve.contains("at_deployed_threshold")) {
            row.push_back(pct(num(ve["at_deployed_threshold"], "tar")));
            row.push_back(fmt(num(ve["at_deployed_threshold"], "fmr"), "%.2e"));
          } else {
            row.push_back("—");
            row.push_back("—");
          }
          row.push_back(std::to_string(ve["failed_pairs"].get<int>()));
          roc.push_back(series_of(p["name"], ve["curves"]["roc"]));
        }
        if (p.contains("identification")) {
          has_id = true;
          identification_rows(p["identification"], row);
          det.push_back(series_of(p["name"], p["identification"]["curves"]["det"]));
        }
        rows.push_back(row);
      }
      std::vector<std::string> head{"pairing"};
      if (has_ver)
        for (const char* c : {"accuracy ± std", "AUC", "TAR @ FMR 1e-3 (own threshold)", "TAR @ deployed threshold",
                              "FMR @ deployed threshold", "failed pairs"})
          head.push_back(c);
      if (has_id)
        for (const char* c : {"rank-1", "rank-5", "rank-10", "FNIR @ FPIR 1e-2", "FNIR @ FPIR 1e-3"}) head.push_back(c);
      h.table(head, rows);
      std::vector<std::string> figs;
      if (!roc.empty()) figs.push_back(roc_plot("ROC by quality pairing", roc));
      if (!det.empty() && !det[0].x.empty()) figs.push_back(det_plot("DET by quality pairing", det));
      h.figures(figs);
    }
  }
  if (r.contains("models")) {
    h.heading("Models");
    std::vector<std::vector<std::string>> rows;
    for (const auto& m : r["models"])
      rows.push_back({m.value("name", ""), m.value("package", ""), m.value("origin", ""), m.value("licence", "")});
    h.table({"model", "package", "origin", "licence"}, rows);
    h.paragraph("The full model manifest (input specs, calibrated thresholds, package checksums) is in report.json.");
  }
  return h.html();
}

std::filesystem::path write_report(const std::filesystem::path& dir, const Json& report,
                                   const std::vector<DegradationSample>& samples) {
  std::filesystem::create_directories(dir);
  detail::write_file_atomic(dir / "report.json", report.dump(2) + "\n");
  detail::write_file_atomic(dir / "report.html", render_html(report, samples));
  return dir / "report.html";
}

namespace {
std::vector<ReportDifference> selected(const std::string& a, const std::string& b, bool all) {
  auto diffs = compare_reports(a, b);
  if (all) return diffs;
  std::vector<ReportDifference> out;
  for (const auto& d : diffs) {
    bool figure = d.key.rfind("lfw/", 0) == 0 || d.key.rfind("identification/", 0) == 0 ||
                  d.key.rfind("quality/", 0) == 0 || d.key.rfind("fairness/", 0) == 0 || d.key == "seconds";
    bool per_fold = d.key.find("fold_") != std::string::npos || d.key.find("/cmc/") != std::string::npos;
    if (figure && !per_fold) out.push_back(d);
  }
  return out;
}
std::string cell(bool present, double v) { return present ? fmt(v, "%.6g") : "—"; }
}  // namespace

std::string compare_text(const std::string& name_a, const std::string& name_b, const std::string& a,
                         const std::string& b, bool all) {
  std::string out;
  char line[512];
  std::snprintf(line, sizeof line, "%-64s %14s %14s %14s\n", "figure", "A", "B", "B - A");
  out += "A: " + name_a + "\nB: " + name_b + "\n" + line;
  for (const auto& d : selected(a, b, all)) {
    std::string diff = d.in_a && d.in_b ? fmt(d.b - d.a, "%+.6g") : "—";
    std::snprintf(line, sizeof line, "%-64s %14s %14s %14s\n", d.key.c_str(), cell(d.in_a, d.a).c_str(),
                  cell(d.in_b, d.b).c_str(), diff.c_str());
    out += line;
  }
  return out;
}

std::string compare_html(const std::string& name_a, const std::string& name_b, const std::string& a,
                         const std::string& b, bool all) {
  HtmlReport h("facerec report comparison");
  h.paragraph("A: " + name_a);
  h.paragraph("B: " + name_b);
  std::vector<std::vector<std::string>> rows;
  for (const auto& d : selected(a, b, all))
    rows.push_back({d.key, cell(d.in_a, d.a), cell(d.in_b, d.b), d.in_a && d.in_b ? fmt(d.b - d.a, "%+.6g") : "—"});
  h.table({"figure", "A", "B", "B − A"}, rows);
  return h.html();
}

}  // namespace facerec
