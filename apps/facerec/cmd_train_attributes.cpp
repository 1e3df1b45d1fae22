// facerec train attributes: attribute heads (gender, race, age band) on a frozen embedder, trained
// on a labelled set (UTKFace), measured per class on held-out faces beside human-models' faceres,
// then used to label the identities of unlabelled sets (LFW, celeba-wild) by majority.
#include "commands.hpp"
#include "common/fs.hpp"
#include "eval_flags.hpp"
#include "image/preprocess.hpp"

#include <facerec/analyzer.hpp>
#include <facerec/backend.hpp>
#include <facerec/error.hpp>
#include <facerec/eval/attributes.hpp>
#include <facerec/eval/labels.hpp>
#include <facerec/eval/report.hpp>
#include <facerec/image.hpp>
#include <facerec/train/attribute_heads.hpp>

#include <nlohmann/json.hpp>

#include <cstdio>
#include <fstream>
#include <iostream>

namespace facerec::cli {
namespace {

using Json = nlohmann::ordered_json;

struct AttributeArgs {
  EvalFlags e;
  std::string labels, out;
  std::vector<std::string> label_sets;  // NAME=DIR
  double holdout = 0.2;
  int epochs = train::AttributeHeadsOptions{}.epochs;
  bool faceres = true;
};

// The classes of a factor in a fixed order where the labels module names them, else sorted.
std::vector<std::string> classes_of(const LabelTable& t, size_t f) {
  if (t.factors[f] == "gender") return {"male", "female"};
  if (t.factors[f] == "race") return {"white", "black", "asian", "indian", "other"};
  if (t.factors[f] == "age") return {"0-10", "11-20", "21-40", "41-60", "61+"};
  std::set<std::string> s;
  for (const auto& im : t.images) s.insert(im.levels[f]);
  return {s.begin(), s.end()};
}

int index_of(const std::vector<std::string>& classes, const std::string& c) {
  auto it = std::find(classes.begin(), classes.end(), c);
  return it == classes.end() ? -1 : int(it - classes.begin());
}

std::string pct(double v) {
  char s[16];
  std::snprintf(s, sizeof s, "%.1f%%", 100 * v);
  return s;
}

// Rows of a confusion table for the report: truth class, count, recall, then predicted counts.
std::vector<std::vector<std::string>> confusion_rows(const Confusion& c) {
  std::vector<std::vector<std::string>> rows;
  auto recall = c.per_class();
  for (size_t i = 0; i < c.classes.size(); ++i) {
    size_t n = 0;
    for (size_t k : c.counts[i]) n += k;
    std::vector<std::string> r{c.classes[i], std::to_string(n), std::isnan(recall[i]) ? "-" : pct(recall[i])};
    for (size_t k : c.counts[i]) r.push_back(std::to_string(k));
    rows.push_back(r);
  }
  return rows;
}

Json confusion_json(const Confusion& c) {
  return {{"classes", c.classes},
          {"counts", c.counts},
          {"accuracy", c.accuracy()},
          {"balanced_accuracy", c.balanced_accuracy()},
          {"per_class_recall", c.per_class()}};
}

int attributes(const AttributeArgs& a) {
  if (detail::under_lfw(a.labels)) throw Error(ErrorKind::InvalidArgument, "train attributes: never train on LFW");
  const LabelTable table = read_label_table(a.labels);
  std::vector<train::AttributeFactor> factors;
  for (size_t f = 0; f < table.factors.size(); ++f) factors.push_back({table.factors[f], classes_of(table, f)});
  auto variants = a.e.variants();
  if (variants.size() != 1) throw Error(ErrorKind::InvalidArgument, "train attributes: give one embedder");
  std::vector<std::string> images;
  for (const auto& im : table.images) images.push_back(im.file.generic_string());
  auto got = embed(table.root, images, a.e.options(false), "labelled faces");
  const auto& emb = got.tables[0];
  // the split: UTKFace has no identity labels, so each image is taken as its own subject
  auto held_out = [&](const std::string& f) { return double(std::hash<std::string>{}(f) % 1000) < a.holdout * 1000; };
  std::vector<std::vector<float>> rows, test_rows;
  std::vector<std::vector<int>> y(factors.size()), test_y(factors.size());
  std::vector<std::string> test_images, train_images;
  size_t no_face = 0;
  for (const auto& im : table.images) {
    const std::string name = im.file.generic_string();
    const auto& e = emb.at(name);
    if (!e.found) {
      ++no_face;
      continue;
    }
    bool test = held_out(name);
    (test ? test_rows : rows).push_back(e.embedding);
    (test ? test_images : train_images).push_back(name);
    for (size_t f = 0; f < factors.size(); ++f)
      (test ? test_y : y)[f].push_back(index_of(factors[f].classes, im.levels[f]));
  }
  std::fprintf(stderr, "training on %zu faces, %zu held out, %zu without a face\n", rows.size(), test_rows.size(),
               no_face);
  train::AttributeHeadsOptions ho;
  ho.epochs = a.epochs;
  auto heads = train::AttributeHeads::train(rows, factors, y, ho, [&](int e, double loss) {
    if (e % 50 == 0 || e == ho.epochs) std::fprintf(stderr, "epoch %d/%d  loss %.4f\n", e, ho.epochs, loss);
  });
  // held-out confusion per factor
  std::vector<std::vector<int>> pred(factors.size());
  for (const auto& r : test_rows) {
    auto p = heads.predict(r);
    for (size_t f = 0; f < factors.size(); ++f)
      pred[f].push_back(int(std::max_element(p[f].begin(), p[f].end()) - p[f].begin()));
  }
  Json report{{"title", "Attribute heads"},
              {"command", command_line()},
              {"embedder", variants[0].name()},
              {"labels", a.labels},
              {"train_faces", rows.size()},
              {"held_out_faces", test_rows.size()},
              {"no_face", no_face},
              {"split", "by a hash of the file name (UTKFace has no identity labels: each image is its own subject)"},
              {"heads", Json::object()}};
  HtmlReport html("Attribute heads on " + variants[0].name());
  html.paragraph("Trained on " + std::to_string(rows.size()) + " faces of " + a.labels + ", measured on " +
                 std::to_string(test_rows.size()) +
                 " held out (split by a hash of the file name; UTKFace has no identity labels). One hidden layer of " +
                 std::to_string(ho.hidden) + " on the frozen unit embedding, a softmax head per factor, " +
                 std::to_string(ho.epochs) + " full-batch Adam steps. Command: " + command_line());
  std::vector<Confusion> ours;
  for (size_t f = 0; f < factors.size(); ++f) {
    std::vector<int> truth, p;
    for (size_t i = 0; i < test_y[f].size(); ++i)
      if (test_y[f][i] >= 0) truth.push_back(test_y[f][i]), p.push_back(pred[f][i]);
    ours.push_back(confusion(factors[f].classes, truth, p));
    report["heads"][factors[f].name] = confusion_json(ours.back());
    std::vector<std::string> header{"true \\ predicted", "faces", "recall"};
    header.insert(header.end(), factors[f].classes.begin(), factors[f].classes.end());
    html.heading(factors[f].name + ": accuracy " + pct(ours.back().accuracy()) + ", balanced " +
                 pct(ours.back().balanced_accuracy()));
    html.table(header, confusion_rows(ours.back()));
    std::fprintf(stderr, "%s: held-out accuracy %.4f (balanced %.4f)\n", factors[f].name.c_str(),
                 ours.back().accuracy(), ours.back().balanced_accuracy());
  }
  // human-models' faceres beside it, on the same held-out faces (gender and age outputs)
  // faceres gives gender and age only: compared when the table has both
  const int gender_factor = index_of(table.factors, "gender"), age_factor = index_of(table.factors, "age");
  if (a.faceres && (gender_factor < 0 || age_factor < 0))
    std::fprintf(stderr, "faceres not compared: the label table has no gender and age columns\n");
  if (a.faceres && gender_factor >= 0 && age_factor >= 0) {
    const auto& entry = manifest().model("faceres");
    AnalyzerOptions o = a.e.options(false).pipeline;
    o.embedder.model = "faceres";
    o.embedder.flip = false;
    FaceAnalyzer fa(manifest(), o);
    auto net = load_backend(o.embedder.backend, model_path(entry).string());
    const size_t gender_out = output_index(*net, "gender_pred_Sigmoid_0"),
                 age_out = output_index(*net, "age_pred_Softmax_0");
    // (gender score, expected age) of one image's central face; nullopt without a face
    auto run = [&](const std::string& image) -> std::optional<std::pair<float, float>> {
      auto img = decode_image_file((table.root / image).string());
      auto faces = fa.analyze(img.bgr, true);
      const Face* f = largest_face(faces);
      if (!f) return std::nullopt;
      Tensor in({1, 3, entry.input.height, entry.input.width});
      detail::fill_input(in, 0, f->aligned, entry.input, false);
      auto outs = net->run({in});
      float age = 0;
      for (size_t k = 0; k < outs[age_out].data.size(); ++k) age += float(k) * outs[age_out].data[k];
      return std::pair{outs[gender_out].data[0], age};
    };
    // which end of the gender score is "female": decided on 300 training faces, not the held-out ones
    const size_t gf = size_t(gender_factor), af = size_t(age_factor);
    int agree = 0, seen = 0;
    for (size_t i = 0; i < train_images.size() && seen < 300; i += std::max<size_t>(1, train_images.size() / 300)) {
      auto r = run(train_images[i]);
      if (!r) continue;
      ++seen;
      agree += (r->first >= 0.5f) == (y[gf][i] == 1);
    }
    const bool high_is_female = agree * 2 >= seen;
    std::vector<int> g_truth, g_pred, a_truth, a_pred;
    for (size_t i = 0; i < test_images.size(); ++i) {
      auto r = run(test_images[i]);
      if (!r) continue;
      g_truth.push_back(test_y[gf][i]);
      g_pred.push_back((r->first >= 0.5f) == high_is_female ? 1 : 0);
      a_truth.push_back(test_y[af][i]);
      a_pred.push_back(index_of(factors[af].classes, label_level("age", std::to_string(int(std::lround(r->second))))));
    }
    std::fprintf(stderr, "faceres: the gender score's high end is %s (on %d training faces, %d agree)\n",
                 high_is_female ? "female" : "male", seen, agree);
    for (const auto& [name, c] : {std::pair{std::string("gender"), confusion(factors[gf].classes, g_truth, g_pred)},
                                  std::pair{std::string("age"), confusion(factors[af].classes, a_truth, a_pred)}}) {
      report["faceres"][name] = confusion_json(c);
      std::vector<std::string> header{"true \\ predicted", "faces", "recall"};
      header.insert(header.end(), c.classes.begin(), c.classes.end());
      html.heading("faceres (human-models) " + name + ": accuracy " + pct(c.accuracy()) + ", balanced " +
                   pct(c.balanced_accuracy()));
      html.table(header, confusion_rows(c));
      std::fprintf(stderr, "faceres %s: held-out accuracy %.4f (balanced %.4f) on %zu faces\n", name.c_str(),
                   c.accuracy(), c.balanced_accuracy(), c.total());
    }
  }
  // labels of unlabelled sets, by identity
  std::filesystem::create_directories(a.out);
  std::vector<size_t> class_counts;
  for (const auto& f : factors) class_counts.push_back(f.classes.size());
  for (const auto& spec : a.label_sets) {
    auto eq = spec.find('=');
    if (eq == std::string::npos) throw Error(ErrorKind::InvalidArgument, "--label takes NAME=DIR, not " + spec);
    const std::string name = spec.substr(0, eq);
    const std::filesystem::path dir = spec.substr(eq + 1);
    std::vector<std::string> all;
    for (const auto& s : read_identity_folders(dir)) all.insert(all.end(), s.images.begin(), s.images.end());
    auto set = embed(dir, all, a.e.options(false), name);
    std::map<std::string, std::vector<int>> predicted;
    for (const auto& [image, e] : set.tables[0]) {
      if (!e.found) continue;
      auto p = heads.predict(e.embedding);
      std::vector<int> l;
      for (const auto& v : p) l.push_back(int(std::max_element(v.begin(), v.end()) - v.begin()));
      predicted[image] = l;
    }
    auto labels = label_identities(predicted, class_counts);
    std::string tsv = "identity\timages";
    for (const auto& f : factors) tsv += "\t" + f.name + "\t" + f.name + "_margin";
    tsv += "\n";
    std::vector<std::map<std::string, size_t>> counts(factors.size());
    for (const auto& l : labels) {
      tsv += l.identity + "\t" + std::to_string(l.images);
      for (size_t f = 0; f < factors.size(); ++f) {
        char m[16];
        std::snprintf(m, sizeof m, "%.3f", l.margin[f]);
        tsv += "\t" + factors[f].classes[size_t(l.label[f])] + "\t" + m;
        ++counts[f][factors[f].classes[size_t(l.label[f])]];
      }
      tsv += "\n";
    }
    auto file = std::filesystem::path(a.out) / (name + "-attributes.tsv");
    detail::write_file_atomic(file, tsv);
    html.heading(name + ": " + std::to_string(labels.size()) + " identities labelled (inferred, not ground truth)");
    std::vector<std::vector<std::string>> summary;
    for (size_t f = 0; f < factors.size(); ++f)
      for (const auto& c : factors[f].classes) {
        summary.push_back({factors[f].name, c, std::to_string(counts[f][c]),
                           ours[f].per_class()[size_t(index_of(factors[f].classes, c))] >= 0
                               ? pct(ours[f].per_class()[size_t(index_of(factors[f].classes, c))])
                               : "-"});
        report["labelled"][name][factors[f].name][c] = counts[f][c];
      }
    html.table({"factor", "class", "identities", "held-out recall of that class on " + a.labels}, summary);
    std::fprintf(stderr, "%s: %zu identities labelled -> %s\n", name.c_str(), labels.size(), file.c_str());
  }
  detail::write_file_atomic(std::filesystem::path(a.out) / "report.json", report.dump(1) + "\n");
  detail::write_file_atomic(std::filesystem::path(a.out) / "report.html", html.html());
  std::cout << "wrote " << (std::filesystem::path(a.out) / "report.html").string() << "\n";
  return kOk;
}

}  // namespace

void add_train_attributes_command(CLI::App* train, Action* action) {
  auto* c = train->add_subcommand(
      "attributes",
      "Attribute heads (gender, race, age band) on a frozen embedder: train on a label table, measure "
      "per class beside faceres, label the identities of other sets by majority");
  auto a = std::make_shared<AttributeArgs>();
  a->e.add(c, false);
  c->add_option("--labels", a->labels, "Label table (file, then a column per factor), e.g. utkface/labels.tsv")
      ->required();
  c->add_option("--out", a->out, "Report, and NAME-attributes.tsv per labelled set, into this folder")->required();
  c->add_option("--label", a->label_sets, "NAME=DIR: label the identities of a folder-per-identity set");
  c->add_option("--holdout", a->holdout, "Share of images held out")
      ->capture_default_str()
      ->check(CLI::Range(0.05, 0.5));
  c->add_option("--epochs", a->epochs, "Training steps")->capture_default_str()->check(CLI::Range(1, 100000));
  c->add_flag("--faceres,!--no-faceres", a->faceres, "Measure human-models' faceres beside (default: on)");
  c->callback([=] { *action = [=] { return attributes(*a); }; });
}

}  // namespace facerec::cli
