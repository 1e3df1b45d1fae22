// facerec eval fairness: per-group verification and identification error rates at one global
// threshold, with bootstrap intervals and max/min differentials, for each embedder and quality
// pairing (include/facerec/eval/fairness.hpp). Groups come from an identity label table such as
// `facerec train attributes` writes (inferred labels: the report says so).
#include "commands.hpp"
#include "common/fs.hpp"
#include "eval_flags.hpp"

#include <facerec/error.hpp>
#include <facerec/eval/evaluation.hpp>
#include <facerec/eval/fairness.hpp>
#include <facerec/eval/labels.hpp>
#include <facerec/eval/report.hpp>

#include <nlohmann/json.hpp>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

namespace facerec::cli {
namespace {

using Json = nlohmann::ordered_json;

struct FairnessArgs {
  EvalFlags e;
  std::string images, labels, groups = "gender,race";
  double min_margin = 0;
  FairnessOptions o;
};

// identity -> group name ("female/black") from a label table with a header: identity, images, then
// factor and factor_margin columns. People whose margin is below `min_margin` in a factor are left out.
std::map<std::string, std::string> read_groups(const std::string& file, const std::vector<std::string>& factors,
                                               double min_margin, size_t& dropped) {
  std::ifstream in(file);
  if (!in) throw Error(ErrorKind::NotFound, "cannot read the identity labels " + file);
  std::string line;
  std::getline(in, line);
  auto header = split_tabs(line);
  std::vector<size_t> col, margin_col;
  for (const auto& f : factors) {
    auto it = std::find(header.begin(), header.end(), f);
    if (header.empty() || header[0] != "identity" || it == header.end())
      throw Error(ErrorKind::BadInput, file + ": expected a header 'identity ... " + f + " " + f + "_margin ...'");
    col.push_back(size_t(it - header.begin()));
    auto m = std::find(header.begin(), header.end(), f + "_margin");
    margin_col.push_back(m == header.end() ? 0 : size_t(m - header.begin()));
  }
  std::map<std::string, std::string> out;
  dropped = 0;
  for (size_t n = 2; std::getline(in, line); ++n) {
    if (line.empty()) continue;
    auto f = split_tabs(line);
    if (f.size() != header.size())
      throw Error(ErrorKind::BadInput, file + ":" + std::to_string(n) + ": wrong field count");
    std::string g;
    bool sure = true;
    for (size_t k = 0; k < col.size(); ++k) {
      g += (k ? "/" : "") + f[col[k]];
      if (margin_col[k] && std::atof(f[margin_col[k]].c_str()) < min_margin) sure = false;
    }
    if (sure)
      out[f[0]] = g;
    else
      ++dropped;
  }
  return out;
}

std::string ci(const RateCI& r, int digits = 4) {
  if (std::isnan(r.value)) return "-";
  char s[96];
  std::snprintf(s, sizeof s, "%.*f [%.*f, %.*f]", digits, r.value, digits, r.low, digits, r.high);
  return s;
}

Json ci_json(const RateCI& r) { return {{"value", r.value}, {"low", r.low}, {"high", r.high}, {"count", r.count}}; }

int fairness(const FairnessArgs& a) {
  size_t dropped = 0;
  auto group_of = read_groups(a.labels, split_list(a.groups), a.min_margin, dropped);
  std::map<std::string, std::vector<std::string>> people;
  for (const auto& s : read_identity_folders(a.images)) people[s.id] = s.images;
  auto protocol = make_fairness_protocol(people, group_of, a.o);
  std::vector<std::string> images;
  for (const auto& g : protocol.groups) {
    for (const auto& [x, y] : g.genuine) images.insert(images.end(), {x, y});
    for (const auto& [x, y] : g.impostor) images.insert(images.end(), {x, y});
    for (const auto& gi : g.gallery) images.push_back(gi.second);
    for (const auto& m : g.mated) images.push_back(m.second);
    images.insert(images.end(), g.nonmated.begin(), g.nonmated.end());
  }
  auto variants = a.e.variants();
  auto clean = embed(a.images, images, a.e.options(false), "originals");
  DatasetEmbedResult low;
  if (a.e.quality) low = embed(a.images, images, a.e.options(true), "degraded copies");
  Json report{{"title", "Demographic differentials"},
              {"command", command_line()},
              {"images", a.images},
              {"labels", a.labels},
              {"label_note", "groups from inferred identity labels (facerec train attributes), not ground truth"},
              {"groups_by", a.groups},
              {"min_margin", a.min_margin},
              {"people_below_margin", dropped},
              {"genuine_per_group", protocol.genuine_per_group},
              {"impostor_per_group", protocol.impostor_per_group},
              {"left_out", protocol.left_out},
              {"fairness", Json::object()}};
  HtmlReport html("Demographic differentials: " + a.images);
  html.paragraph("Groups by " + a.groups + " from " + a.labels +
                 " — inferred labels (facerec train attributes), not ground truth; their per-class accuracy is in "
                 "that command's report. Balanced protocol: " +
                 std::to_string(protocol.genuine_per_group) + " genuine and " +
                 std::to_string(protocol.impostor_per_group) +
                 " impostor pairs per group (impostors within the group), 1:N within each group. Left out (too "
                 "few pairs): " +
                 (protocol.left_out.empty() ? std::string("none") : [&] {
                   std::string s;
                   for (const auto& l : protocol.left_out) s += (s.empty() ? "" : "; ") + l;
                   return s;
                 }()) +
                 ". Intervals: bootstrap 95% (" + std::to_string(a.o.bootstrap) + " resamples). Command: " +
                 command_line());
  for (size_t k = 0; k < variants.size(); ++k) {
    const double t = calibrated_threshold(manifest(), variants[k]);
    struct Pairing {
      std::string name;
      const EmbeddingTable *a, *b;
    };
    std::vector<Pairing> pairings{{"high-high", &clean.tables[k], &clean.tables[k]}};
    if (a.e.quality) {
      pairings.push_back({"low-high", &clean.tables[k], &low.tables[k]});
      pairings.push_back({"low-low", &low.tables[k], &low.tables[k]});
    }
    for (const auto& p : pairings) {
      auto r = evaluate_fairness(protocol, *p.a, *p.b, t, a.o);
      Json jr{{"threshold", t},
              {"fnmr_ratio", ci_json(r.fnmr_ratio)},
              {"fnmr_max_group", r.fnmr_max_group},
              {"fnmr_min_group", r.fnmr_min_group},
              {"fmr_ratio", ci_json(r.fmr_ratio)},
              {"fmr_max_group", r.fmr_max_group},
              {"fmr_min_group", r.fmr_min_group},
              {"groups", Json::object()}};
      std::vector<std::vector<std::string>> rows;
      std::vector<double> xs, fnmr, fmr;
      for (size_t g = 0; g < r.groups.size(); ++g) {
        const auto& gr = r.groups[g];
        jr["groups"][gr.group] = Json{{"identities", gr.identities},
                                      {"fnmr", ci_json(gr.fnmr)},
                                      {"fmr", ci_json(gr.fmr)},
                                      {"rank1", ci_json(gr.rank1)},
                                      {"fnir", ci_json(gr.fnir)},
                                      {"fpir", ci_json(gr.fpir)},
                                      {"fnir_at_fpir", ci_json(gr.fnir_at_fpir)},
                                      {"fpir_threshold", gr.fpir_threshold},
                                      {"failed", gr.failed}};
        rows.push_back({gr.group, std::to_string(gr.identities), std::to_string(gr.fnmr.count), ci(gr.fnmr),
                        std::to_string(gr.fmr.count), ci(gr.fmr, 5), std::to_string(gr.rank1.count), ci(gr.rank1, 3),
                        ci(gr.fnir, 3), std::to_string(gr.fpir.count), ci(gr.fpir, 3), ci(gr.fnir_at_fpir, 3),
                        std::to_string(gr.failed)});
        xs.push_back(double(g));
        fnmr.push_back(gr.fnmr.value);
        fmr.push_back(gr.fmr.value);
      }
      report["fairness"][variants[k].name()][p.name] = jr;  // by name, so that `eval compare` pairs them
      html.heading(variants[k].name() + ", " + p.name + " (threshold " + std::to_string(t) + ")");
      html.table({"group", "people", "genuine", "FNMR [95%]", "impostor", "FMR [95%]", "mated searches", "rank-1",
                  "FNIR", "non-mated", "FPIR", "FNIR @ FPIR " + std::to_string(a.o.fpir).substr(0, 4), "failed"},
                 rows);
      html.paragraph("FNMR max/min " + ci(r.fnmr_ratio, 2) + " (" + r.fnmr_max_group + " / " + r.fnmr_min_group +
                     "); FMR max/min " + ci(r.fmr_ratio, 2) + " (" + r.fmr_max_group + " / " + r.fmr_min_group +
                     "). A zero rate counts as half an error in its count, so a ratio stays finite.");
      PlotSpec spec{variants[k].name() + ", " + p.name, "group (in the table's order)", "rate at the threshold"};
      spec.y_min = 0;
      html.figures({svg_plot(spec, {{"FNMR", xs, fnmr}, {"FMR", xs, fmr}})});
      std::fprintf(stderr, "%s %s: FNMR max/min %.2f (%s / %s), FMR max/min %.2f (%s / %s)\n",
                   variants[k].name().c_str(), p.name.c_str(), r.fnmr_ratio.value, r.fnmr_max_group.c_str(),
                   r.fnmr_min_group.c_str(), r.fmr_ratio.value, r.fmr_max_group.c_str(), r.fmr_min_group.c_str());
    }
  }
  std::filesystem::create_directories(a.e.report_dir);
  detail::write_file_atomic(std::filesystem::path(a.e.report_dir) / "report.json", report.dump(1) + "\n");
  detail::write_file_atomic(std::filesystem::path(a.e.report_dir) / "report.html", html.html());
  std::cout << "wrote " << (std::filesystem::path(a.e.report_dir) / "report.html").string() << "\n";
  return kOk;
}

}  // namespace

void add_fairness_command(CLI::App* eval, Action* action) {
  auto* c =
      eval->add_subcommand("fairness",
                           "Error rates per demographic group at one threshold (balanced pairs, 1:N within groups), "
                           "with bootstrap intervals and max/min differentials");
  auto a = std::make_shared<FairnessArgs>();
  a->e.add(c, true);
  c->add_option("--images", a->images, "Folder per identity (LFW's images/, celeba-wild)")->required();
  c->add_option("--labels", a->labels,
                "Identity labels (identity, images, factor, factor_margin, ...), e.g. "
                "runs/attributes/lfw-attributes.tsv from `facerec train attributes`")
      ->required();
  c->add_option("--groups", a->groups, "Factors that make a group, comma-separated")->capture_default_str();
  c->add_option("--min-margin", a->min_margin, "Leave out people whose label margin is below this")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  c->add_option("--genuine", a->o.max_genuine, "Genuine pairs per group, at most")->capture_default_str();
  c->add_option("--impostor", a->o.max_impostor, "Impostor pairs per group, at most")->capture_default_str();
  c->add_option("--min-genuine", a->o.min_genuine, "Leave out groups with fewer genuine pairs")->capture_default_str();
  c->add_option("--fpir", a->o.fpir, "FNIR is also given at this FPIR, each group at its own threshold")
      ->capture_default_str()
      ->check(CLI::Range(0.001, 0.5));
  c->add_option("--bootstrap", a->o.bootstrap, "Bootstrap resamples")
      ->capture_default_str()
      ->check(CLI::Range(0, 100000));
  c->callback([=] {
    if (a->e.report_dir.empty()) throw CLI::ValidationError("--report DIR is required");
    *action = [=] { return fairness(*a); };
  });
}

}  // namespace facerec::cli
