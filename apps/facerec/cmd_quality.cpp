// facerec quality IMG... | quality fit DIR | quality edc: face quality scores, fitting the quality
// model, and its error-versus-discard evaluation (include/facerec/quality.hpp, eval/quality_eval.hpp).
#include "commands.hpp"
#include "common/fs.hpp"
#include "each_image.hpp"
#include "eval_flags.hpp"
#include "pipeline_flags.hpp"
#include "quality_json.hpp"

#include <facerec/analyzer.hpp>
#include <facerec/error.hpp>
#include <facerec/eval/evaluation.hpp>
#include <facerec/eval/quality_eval.hpp>
#include <facerec/eval/report.hpp>
#include <facerec/image.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <random>
#include <set>

namespace facerec::cli {
namespace {

using Json = nlohmann::ordered_json;

int assess(const std::vector<std::string>& images, const PipelineFlags& pf, const std::string& model, bool json) {
  AnalyzerOptions o = pf.options();
  if (!model.empty()) o.quality_model = model;
  FaceAnalyzer fa(manifest(), o);
  return for_each_image(
      images, fa, false, [&](const std::string& path, const DecodedImage&, const std::vector<Face>& faces) {
        if (json) {
          Json arr = Json::array();
          for (size_t i = 0; i < faces.size(); ++i) {
            const auto& b = faces[i].detection.box;
            arr.push_back(
                {{"face", i}, {"box", {b.x, b.y, b.width, b.height}}, {"quality", quality_json(faces[i].quality)}});
          }
          std::cout << Json{{"image", path}, {"faces", arr}}.dump() << "\n";
          return;
        }
        std::cout << path << "\t" << faces.size() << " face(s)\n";
        for (size_t i = 0; i < faces.size(); ++i) {
          const auto& q = faces[i].quality;
          std::printf(
              "  %zu\tquality %.2f\tsize %.2f  sharpness %.2f  exposure %.2f  pose %.2f\t"
              "(%.0f px between the eyes, yaw %+.0f, pitch %+.0f, detector %.2f)\n",
              i, double(q.score), double(q.size), double(q.sharpness), double(q.exposure), double(q.pose),
              double(q.measures.interocular), double(q.measures.yaw), double(q.measures.pitch),
              double(q.measures.detection));
        }
        std::fflush(stdout);
      });
}

// The images of identities with at least two, at most `limit` of them in all (whole identities).
std::vector<std::string> paired_images(const std::filesystem::path& root, size_t limit) {
  std::vector<std::string> out;
  for (const auto& s : read_identity_folders(root)) {
    if (s.images.size() < 2) continue;
    if (out.size() + s.images.size() > limit) break;
    out.insert(out.end(), s.images.begin(), s.images.end());
  }
  if (out.empty()) throw Error(ErrorKind::InvalidArgument, root.string() + " has no identity with two images");
  return out;
}

struct FitFlags {
  EvalFlags e;
  std::string dir, out;
  double floor = QualityModel{}.floor, holdout = 0.2;
  size_t limit = 6000;
};

// Area under the ROC curve of `score` separating outcome >= 0.5 from outcome < 0.5.
double auc(const std::vector<double>& score, const std::vector<double>& outcome) {
  std::vector<size_t> idx(score.size());
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  std::sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return score[a] < score[b]; });
  double pos = 0, neg = 0, rank_sum = 0;
  for (size_t r = 0; r < idx.size(); ++r)
    if (outcome[idx[r]] >= 0.5) {
      pos += 1;
      rank_sum += double(r + 1);
    } else {
      neg += 1;
    }
  return pos > 0 && neg > 0 ? (rank_sum - pos * (pos + 1) / 2) / (pos * neg) : std::nan("");
}

int fit(const FitFlags& f) {
  if (detail::under_lfw(f.dir))
    throw Error(ErrorKind::InvalidArgument, "quality fit: " + f.dir + " is LFW, the test set; fit on other data");
  auto images = paired_images(f.dir, f.limit);
  auto variants = f.e.variants();
  if (variants.size() != 1) throw Error(ErrorKind::InvalidArgument, "quality fit: give one embedder");
  const double threshold = calibrated_threshold(manifest(), variants[0]);
  auto clean_opt = f.e.options(false), low_opt = f.e.options(true);
  clean_opt.quality = low_opt.quality = true;
  auto clean = embed(f.dir, images, clean_opt, "originals");
  auto low = embed(f.dir, images, low_opt, "degraded copies");
  // identities split by a hash of their name: the held-out share checks the fit
  auto held_out = [&](const std::string& image) {
    return double(std::hash<std::string>{}(identity_of(image)) % 1000) < f.holdout * 1000;
  };
  QualityTrainingSet all[2] = {quality_training_set(clean.tables[0], clean.tables[0], clean.quality, threshold),
                               quality_training_set(clean.tables[0], low.tables[0], low.quality, threshold)};
  std::vector<std::vector<double>> rows, test_rows;
  std::vector<double> y, test_y;
  std::vector<const QualityMeasures*> test_measures;
  for (int k = 0; k < 2; ++k)
    for (size_t i = 0; i < all[k].rows.size(); ++i) {
      bool test = held_out(all[k].images[i]);
      (test ? test_rows : rows).push_back(all[k].rows[i]);
      (test ? test_y : y).push_back(all[k].outcomes[i]);
      if (test) test_measures.push_back(&(k == 0 ? clean.quality : low.quality).at(all[k].images[i]));
    }
  std::fprintf(stderr, "fitting on %zu faces (%zu originals, %zu degraded copies), %zu held out\n", rows.size(),
               all[0].rows.size(), all[1].rows.size(), test_rows.size());
  QualityModel m = QualityModel::fit(rows, y);
  m.floor = f.floor;
  std::vector<double> pred;
  double loss = 0;
  for (size_t i = 0; i < test_rows.size(); ++i) {
    double p = std::clamp(m.predict(test_rows[i]), 1e-6, 1 - 1e-6);
    pred.push_back(p);
    loss -= (test_y[i] * std::log(p) + (1 - test_y[i]) * std::log(1 - p)) / double(test_rows.size());
  }
  // the same held-out faces ranked by each single measure, for comparison
  Json measures_auc;
  for (const auto& qm : quality_measures(m)) {
    std::vector<double> s;
    for (const auto* t : test_measures) s.push_back(qm.quality(*t));
    measures_auc[qm.name] = auc(s, test_y);
  }
  double base = 0;
  for (double v : y) base += v / double(y.size());
  char text[512];
  std::snprintf(text, sizeof text,
                "facerec quality fit on %s (%s, fmr_1e-3 threshold %.4f): %zu faces of %zu images (originals and "
                "seeded degraded copies), identities split by name hash, %.0f%% held out; held-out log-loss %.4f, "
                "AUC %.4f (matches at least half of the references vs not); mean outcome %.3f",
                f.dir.c_str(), variants[0].name().c_str(), threshold, rows.size(), images.size(), f.holdout * 100, loss,
                auc(pred, test_y), base);
  m.provenance = std::string(text) + "; command: " + command_line();
  m.save(f.out);
  std::cout << text << "\nheld-out AUC of each measure alone: " << measures_auc.dump() << "\nwrote " << f.out << "\n";
  return kOk;
}

struct EdcFlags {
  EvalFlags e;
  std::string lfw, model, report;
  std::vector<std::string> datasets;
  double max_discard = 0.3;
};

// Genuine pairs of one pairing with their measurements.
std::vector<QualityPair> genuine_pairs(const std::vector<std::pair<std::string, std::string>>& pairs,
                                       const EmbeddingTable& a_side, const std::map<std::string, QualityMeasures>& a_q,
                                       const EmbeddingTable& b_side,
                                       const std::map<std::string, QualityMeasures>& b_q) {
  std::vector<QualityPair> out;
  for (const auto& [a, b] : pairs) {
    auto ea = a_side.find(a), eb = b_side.find(b);
    auto qa = a_q.find(a), qb = b_q.find(b);
    if (ea == a_side.end() || eb == b_side.end() || !ea->second.found || !eb->second.found || qa == a_q.end() ||
        qb == b_q.end())
      continue;  // a face not found is not a comparison
    out.push_back({FaceAnalyzer::cosine(ea->second.embedding, eb->second.embedding), qa->second, qb->second});
  }
  return out;
}

// FMR at `threshold` over impostor pairs.
double fmr_at(const std::vector<std::pair<std::string, std::string>>& pairs, const EmbeddingTable& a,
              const EmbeddingTable& b, double threshold, size_t& counted) {
  size_t over = 0;
  counted = 0;
  for (const auto& [x, y] : pairs) {
    auto ex = a.find(x), ey = b.find(y);
    if (ex == a.end() || ey == b.end() || !ex->second.found || !ey->second.found) continue;
    ++counted;
    over += FaceAnalyzer::cosine(ex->second.embedding, ey->second.embedding) >= threshold;
  }
  return counted ? double(over) / double(counted) : std::nan("");
}

int edc(const EdcFlags& f) {
  QualityModel model = f.model.empty() ? QualityModel::load_default() : QualityModel::load(f.model);
  auto variants = f.e.variants();
  if (variants.size() != 1) throw Error(ErrorKind::InvalidArgument, "quality edc: give one embedder");
  const double threshold = calibrated_threshold(manifest(), variants[0]);
  Json report{{"title", "Face quality: error versus discard"},
              {"command", command_line()},
              {"embedder", variants[0].name()},
              {"threshold", threshold},
              {"quality_model", model.fitted() ? model.provenance : "unfitted (geometric mean of the components)"},
              {"datasets", Json::object()}};
  HtmlReport html("Face quality: error versus discard (ISO/IEC 29794-1)");
  html.paragraph("Genuine comparisons ranked by pair quality (the lower of the two faces'); FNMR of the rest at the " +
                 variants[0].name() + " fmr_1e-3 threshold " + std::to_string(threshold) +
                 " as the lowest-quality share is discarded. Quality model: " +
                 std::string(report["quality_model"].get<std::string>()) + ". Command: " + command_line());
  std::vector<std::vector<std::string>> table;
  auto run = [&](const std::string& name, const std::filesystem::path& root,
                 const std::vector<std::pair<std::string, std::string>>& genuine,
                 const std::vector<std::pair<std::string, std::string>>& impostor) {
    std::vector<std::string> images;
    for (const auto* list : {&genuine, &impostor})
      for (const auto& [a, b] : *list) images.insert(images.end(), {a, b});
    auto clean_opt = f.e.options(false), low_opt = f.e.options(true);
    clean_opt.quality = low_opt.quality = true;
    auto clean = embed(root, images, clean_opt, name + " originals");
    auto low = embed(root, images, low_opt, name + " degraded copies");
    struct Pairing {
      std::string name;
      const DatasetEmbedResult *a, *b;
    };
    std::vector<std::string> svgs;
    for (const Pairing& p :
         {Pairing{"high-high", &clean, &clean}, Pairing{"low-high", &clean, &low}, Pairing{"low-low", &low, &low}}) {
      auto pairs = genuine_pairs(genuine, p.a->tables[0], p.a->quality, p.b->tables[0], p.b->quality);
      if (pairs.empty()) continue;
      size_t impostors = 0;
      double fmr = fmr_at(impostor, p.a->tables[0], p.b->tables[0], threshold, impostors);
      Json jp{{"genuine_pairs", pairs.size()}, {"impostor_pairs", impostors}, {"fmr_at_threshold", fmr}};
      std::vector<EdcCurve> curves;
      for (const auto& m : quality_measures(model))
        curves.push_back(error_versus_discard(pairs, threshold, m, f.max_discard, 60));
      curves.push_back(random_discard(pairs, threshold, 20261207, 50, f.max_discard, 60));
      std::vector<PlotSeries> series;
      Json jc = Json::array();
      for (const auto& c : curves) {
        series.push_back({c.name, c.discarded, c.fnmr});
        jc.push_back({{"measure", c.name},
                      {"area", c.area},
                      {"fnmr_0", c.fnmr.front()},
                      {"fnmr_10pct", c.fnmr[size_t(std::lround(0.1 / f.max_discard * 60))]},
                      {"discarded", c.discarded},
                      {"fnmr", c.fnmr}});
        char area[32], f10[32];
        std::snprintf(area, sizeof area, "%.5f", c.area);
        std::snprintf(f10, sizeof f10, "%.4f", c.fnmr[size_t(std::lround(0.1 / f.max_discard * 60))]);
        table.push_back(
            {name, p.name, c.name, std::to_string(pairs.size()), std::to_string(c.fnmr.front()), f10, area});
      }
      jp["curves"] = jc;
      report["datasets"][name][p.name] = jp;
      PlotSpec spec{name + ", " + p.name + " (" + std::to_string(pairs.size()) + " genuine pairs)",
                    "share of genuine pairs discarded (lowest quality first)", "FNMR at the fmr_1e-3 threshold"};
      spec.x_min = 0;
      spec.x_max = f.max_discard;
      spec.y_min = 0;
      svgs.push_back(svg_plot(spec, series));
      std::fprintf(stderr,
                   "%s %s: %zu genuine pairs, FNMR %.4f -> %.4f at 10%% discarded by quality score (random %.4f)"
                   "; FMR at the threshold %.5f over %zu impostor pairs\n",
                   name.c_str(), p.name.c_str(), pairs.size(), curves[0].fnmr.front(),
                   curves[0].fnmr[size_t(std::lround(0.1 / f.max_discard * 60))],
                   curves.back().fnmr[size_t(std::lround(0.1 / f.max_discard * 60))], fmr, impostors);
    }
    html.heading(name);
    html.figures(svgs);
  };
  if (!f.lfw.empty()) {
    auto pairs = read_lfw_pairs(std::filesystem::path(f.lfw) / "pairs.txt");
    std::vector<std::pair<std::string, std::string>> genuine, impostor;
    for (const auto& p : pairs) (p.same ? genuine : impostor).emplace_back(p.a, p.b);
    run("LFW View 2", std::filesystem::path(f.lfw) / "images", genuine, impostor);
  }
  for (const auto& d : f.datasets) {
    // every pair of images within an identity; impostors: each image with the next identity's first
    auto subjects = read_identity_folders(d);
    std::vector<std::pair<std::string, std::string>> genuine, impostor;
    for (size_t s = 0; s < subjects.size(); ++s) {
      const auto& im = subjects[s].images;
      for (size_t i = 0; i < im.size(); ++i)
        for (size_t j = i + 1; j < im.size(); ++j) genuine.emplace_back(im[i], im[j]);
      for (size_t t = s + 1; t < subjects.size(); ++t)
        for (const auto& a : im)
          impostor.emplace_back(a, subjects[t].images[std::hash<std::string>{}(a) % subjects[t].images.size()]);
    }
    run(std::filesystem::path(d).lexically_normal().filename().string(), d, genuine, impostor);
  }
  html.heading("Summary");
  html.table({"dataset", "pairing", "measure", "genuine pairs", "FNMR (none discarded)", "FNMR (10% discarded)",
              "area under EDC (0.." + std::to_string(f.max_discard).substr(0, 4) + ")"},
             table);
  std::filesystem::create_directories(f.report);
  detail::write_file_atomic(std::filesystem::path(f.report) / "report.json", report.dump(1) + "\n");
  detail::write_file_atomic(std::filesystem::path(f.report) / "report.html", html.html());
  std::cout << "wrote " << (std::filesystem::path(f.report) / "report.html").string() << "\n";
  return kOk;
}

}  // namespace

void add_quality_commands(CLI::App& app, Action* action) {
  auto* cmd = app.add_subcommand("quality", "Face quality: a score in [0, 1] per face, with its components");
  {
    auto pf = std::make_shared<PipelineFlags>();
    auto images = std::make_shared<std::vector<std::string>>();
    auto json = std::make_shared<bool>(false);
    auto model = std::make_shared<std::string>();
    pf->add(cmd, false);
    cmd->add_option("images", *images, "Images");
    cmd->add_flag("--json", *json, "One JSON line per image");
    cmd->add_option("--quality-model", *model, "Quality model (default: models/quality.json; 'none': unfitted)");
    cmd->callback([=] {
      if (cmd->get_subcommands().empty()) {
        if (images->empty()) throw CLI::RequiredError("images");
        *action = [=] { return assess(*images, *pf, *model, *json); };
      }
    });
  }
  {
    auto* c = cmd->add_subcommand("fit", "Fit the quality model on folder-per-identity photos (not LFW)");
    auto f = std::make_shared<FitFlags>();
    f->e.add(c, false);
    c->add_option("dir", f->dir, "Folder per identity (identities with one image are skipped)")->required();
    c->add_option("--out", f->out, "Where to write the model (JSON)")->required();
    c->add_option("--floor", f->floor, "Enrolment floor kept in the model")
        ->capture_default_str()
        ->check(CLI::Range(0.0, 1.0));
    c->add_option("--limit", f->limit, "At most this many images (whole identities, in folder order)")
        ->capture_default_str();
    c->add_option("--holdout", f->holdout, "Share of identities held out to check the fit")
        ->capture_default_str()
        ->check(CLI::Range(0.0, 0.9));
    c->callback([=] { *action = [=] { return fit(*f); }; });
  }
  {
    auto* c = cmd->add_subcommand("edc", "Error-versus-discard evaluation of the quality score and its components");
    auto f = std::make_shared<EdcFlags>();
    f->e.add(c, false);
    c->add_option("--lfw", f->lfw,
                  "LFW folder (images/ and pairs.txt): View 2's genuine pairs in three quality pairings");
    c->add_option("--dataset", f->datasets, "Folder-per-identity sets: every genuine pair within an identity");
    c->add_option("--quality-model", f->model, "Quality model (default: models/quality.json)");
    c->add_option("--max-discard", f->max_discard, "Largest share discarded")
        ->capture_default_str()
        ->check(CLI::Range(0.05, 0.9));
    c->add_option("--report", f->report, "Write report.json and report.html here")->required();
    c->callback([=] {
      if (f->lfw.empty() && f->datasets.empty()) throw CLI::ValidationError("give --lfw and/or --dataset");
      *action = [=] { return edc(*f); };
    });
  }
}

}  // namespace facerec::cli
