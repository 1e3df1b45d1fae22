// The training loop: data preparation, steps, checkpoints with exact resume, validation, the
// JSON log and the HTML report (the config: config.cpp; the export: export.cpp).
#include <facerec/backend.hpp>
#include <facerec/error.hpp>
#include <facerec/eval/dataset.hpp>
#include <facerec/eval/eval.hpp>
#include <facerec/eval/report.hpp>
#include <facerec/train/trainer.hpp>
#include <facerec/version.hpp>

#include "common/fs.hpp"
#include "common/sha256.hpp"
#include "train/checkpoint.hpp"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <map>
#include <numeric>
#include <random>
#include <regex>
#include <set>
#include <sstream>

namespace facerec::train {

using json = nlohmann::json;

// ---- checkpoints (checkpoint.hpp) -------------------------------------------------------

using ckpt::checkpoint_intact;
using ckpt::checkpoint_path;
using ckpt::checkpoints;
using ckpt::mix;
using ckpt::open_archive;
using ckpt::read_part;

std::filesystem::path latest_checkpoint(const std::filesystem::path& run_dir) {
  auto all = checkpoints(run_dir);
  for (auto it = all.rbegin(); it != all.rend(); ++it)
    if (checkpoint_intact(it->second)) return it->second;
  return {};
}

void load_backbone(BackboneImpl& net, const std::filesystem::path& checkpoint) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(checkpoint, ec))
    throw Error(ErrorKind::NotFound, "no checkpoint " + checkpoint.string());
  auto ar = open_archive(checkpoint);
  read_part(checkpoint, ar, "backbone", net);
}

Backbone make_network_teacher(const std::string& spec) {
  Backbone t;
  if (spec.rfind("onnx:", 0) == 0) {
    BackboneOptions o;
    o.name = spec;
    t = make_backbone(o);
  } else {
    const std::filesystem::path ck = spec, cfg = ck.parent_path().parent_path() / "config.json";
    std::error_code ec;
    if (!std::filesystem::is_regular_file(ck, ec))
      throw Error(ErrorKind::NotFound, "teacher " + spec +
                                           ": no such checkpoint (a teacher is onnx:<file or model>, "
                                           "<run>/checkpoints/step-N.pt or embeddings:<file>)");
    if (!std::filesystem::is_regular_file(cfg, ec))
      throw Error(ErrorKind::NotFound, "teacher " + spec + ": no " + cfg.string() + " beside its run");
    TrainConfig tc;
    try {
      tc = TrainConfig::from_json(json::parse(detail::read_file(cfg)));
    } catch (const json::exception& e) {
      throw Error(ErrorKind::BadModel, cfg.string() + " is not valid JSON: " + e.what());
    }
    t = make_backbone(tc.backbone);
    load_backbone(*t, ck);
  }
  t->eval();
  for (auto& p : t->parameters()) p.set_requires_grad(false);
  return t;
}

Backbone make_teacher(const TrainConfig& c) {
  if (c.teacher.empty()) throw Error(ErrorKind::InvalidArgument, "train config: no teacher");
  if (c.teacher.rfind("embeddings:", 0) == 0)
    throw Error(ErrorKind::InvalidArgument, "train config: the teacher " + c.teacher + " is a table, not a network");
  return make_network_teacher(c.teacher);
}

std::map<std::string, std::vector<float>> load_teacher_table(const std::filesystem::path& file) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec))
    throw Error(ErrorKind::NotFound, "teacher embeddings " + file.string() + ": no such file");
  std::map<std::string, std::vector<float>> t;
  size_t dim = 0;
  for (auto& [key, e] : load_embedding_cache(file)) {
    if (!e.found) continue;
    if (dim == 0) dim = e.embedding.size();
    if (e.embedding.size() != dim)
      throw Error(ErrorKind::BadModel, "teacher embeddings " + file.string() + ": embeddings of " +
                                           std::to_string(dim) + " and " + std::to_string(e.embedding.size()) +
                                           " values");
    double n = 0;
    for (float v : e.embedding) n += double(v) * v;
    if (!(n > 0) || !std::isfinite(n)) continue;
    for (float& v : e.embedding) v = float(v / std::sqrt(n));
    t.emplace(key, std::move(e.embedding));
  }
  if (t.empty())
    throw Error(ErrorKind::BadModel, "teacher embeddings " + file.string() +
                                         ": no embedding in it (it is written by facerec data merge as "
                                         "<out>/embeddings.bin)");
  return t;
}

int64_t teacher_table_dim(const std::filesystem::path& file) {
  return int64_t(load_teacher_table(file).begin()->second.size());
}

// ---- the trainer --------------------------------------------------------------------------

struct Trainer::Impl {
  const Manifest& manifest;
  TrainConfig cfg;
  std::filesystem::path run;
  std::unique_ptr<FaceReader> reader;
  IdentitySplit split;
  std::unique_ptr<Sampler> sampler;
  Backbone net;
  Backbone teacher;  // frozen, eval mode; null without distillation or with a table teacher
  std::map<std::string, std::vector<float>> teacher_table;  // teacher = embeddings:<file>
  Backbone feature_net;  // the feature teacher (frozen; may be `teacher`); null without
  FeatureAdapters adapters{nullptr};
  MarginHead head{nullptr};
  std::unique_ptr<torch::optim::Optimizer> opt;
  int64_t step = 0;
  // the logging window (steps since the last log line): kept in checkpoints so a resumed run logs
  // the same averages
  double loss_sum = 0, acc_sum = 0, cos_sum = 0, feature_sum = 0;
  int64_t since_log = 0;
  // LFW View 1, aligned once
  std::unique_ptr<FolderReader> lfw_reader;
  std::vector<std::string> lfw_a, lfw_b;  // aligned keys, empty where no face
  std::vector<bool> lfw_same;

  Impl(const Manifest& m) : manifest(m) {}

  // What the run trains on (keys and labels, in order): a resumed run must see the same data.
  std::string data_fingerprint() const {
    std::string all;
    for (const auto& s : split.train) all += s.image + '\t' + std::to_string(s.label) + '\n';
    return detail::sha256_hex(all);
  }

  void log(const json& line) const {
    std::ofstream out(run / "log.jsonl", std::ios::app);
    out << line.dump() << "\n";
    if (!out) throw Error(ErrorKind::Io, "cannot write " + (run / "log.jsonl").string());
  }
};

namespace {

// The fields that may differ between the stored config and a resumed run's.
const std::set<std::string> kMayChange = {
    "steps", "log_every", "validate_every", "checkpoint_every", "keep_checkpoints", "threads"};

void prepare_data(Trainer::Impl& d, const std::function<void(const std::string&)>& say) {
  const auto& c = d.cfg;
  if (c.data_kind == "recordio") {
    std::filesystem::path rec = c.data, idx = rec;
    idx.replace_extension(".idx");
    auto r = std::make_unique<RecordIoReader>(rec, idx);
    say("reading the record headers of " + rec.string());
    d.split = split_identities(r->identities(), c.split, rec.string());
    d.reader = std::move(r);
  } else if (c.data_kind == "photos") {
    std::vector<std::string> images;
    for (const auto& s : read_identity_folders(c.data)) images.insert(images.end(), s.images.begin(), s.images.end());
    AlignOptions ao;
    ao.size = int(c.backbone.input);
    const auto t0 = std::chrono::steady_clock::now();
    ao.progress = [&](size_t done, size_t total) {
      if (done % 200 != 0 && done != total) return;
      const double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      say("aligning photos " + std::to_string(done) + "/" + std::to_string(total) + " (" +
          std::to_string(int(double(done) / std::max(1e-9, el))) + "/s, ETA " +
          std::to_string(int(el / double(done) * double(total - done))) + " s)");
    };
    const std::filesystem::path cache = c.cache.empty() ? d.run / "aligned" : std::filesystem::path(c.cache);
    auto a = align_photos(d.manifest, c.data, images, cache, ao);
    say("aligned " + std::to_string(a.aligned.size()) + " of " + std::to_string(images.size()) + " photos (" +
        std::to_string(a.computed) + " now, " + std::to_string(a.failed.size()) + " without a face) in " +
        a.folder.string());
    std::map<std::string, std::vector<std::string>> by;
    for (const auto& k : a.aligned) by[k.substr(0, k.find('/'))].push_back(k);
    std::vector<IdentityImages> ids;
    for (auto& [id, keys] : by) ids.push_back({id, std::move(keys)});
    d.split = split_identities(std::move(ids), c.split, c.data);
    d.reader = std::make_unique<FolderReader>(a.folder);
  } else {
    d.split = split_identity_folders(c.data, c.split);
    d.reader = std::make_unique<FolderReader>(c.data);
  }
  say("data: " + std::to_string(d.split.train.size()) + " images of " +
      std::to_string(d.split.train_identities.size()) + " identities to train on, " +
      std::to_string(d.split.validation.size()) + " of " + std::to_string(d.split.validation_identities.size()) +
      " held out, " + std::to_string(d.split.dropped_identities) + " identities below " +
      std::to_string(c.split.min_images) + " images left out");
  if (c.sampler == "pk")
    d.sampler = std::make_unique<PkSampler>(d.split.train, c.batch / c.pk_k, c.pk_k, c.seed);
  else if (c.sampler == "balanced")
    d.sampler = std::make_unique<BalancedSampler>(d.split.train, c.batch, c.seed);
  else
    d.sampler = std::make_unique<ShuffleSampler>(d.split.train.size(), c.batch, c.seed);

  if (!c.lfw_pairs.empty()) {
    const auto pairs = read_lfw_pairs(c.lfw_pairs);
    for (const auto& p : pairs)
      if (p.fold != 0)
        throw Error(ErrorKind::InvalidArgument, c.lfw_pairs +
                                                    " is LFW View 2 (10 folds): the test set is never used "
                                                    "in training; validate on View 1 (pairsDevTest.txt)");
    std::vector<std::string> imgs;
    for (const auto& p : pairs) imgs.insert(imgs.end(), {p.a, p.b});
    std::sort(imgs.begin(), imgs.end());
    imgs.erase(std::unique(imgs.begin(), imgs.end()), imgs.end());
    AlignOptions ao;
    ao.size = int(c.backbone.input);
    const std::filesystem::path cache = (c.cache.empty() ? d.run / "aligned" : std::filesystem::path(c.cache)) / "lfw";
    auto a = align_photos(d.manifest, c.lfw_images, imgs, cache, ao);
    std::set<std::string> ok(a.aligned.begin(), a.aligned.end());
    for (const auto& p : pairs) {
      d.lfw_a.push_back(ok.count(p.a + ".png") ? p.a + ".png" : "");
      d.lfw_b.push_back(ok.count(p.b + ".png") ? p.b + ".png" : "");
      d.lfw_same.push_back(p.same);
    }
    d.lfw_reader = std::make_unique<FolderReader>(a.folder);
    say("LFW View 1 validation: " + std::to_string(pairs.size()) + " pairs (" + std::to_string(a.failed.size()) +
        " images without a face)");
  }
}

void make_optimizer(Trainer::Impl& d) {
  std::vector<torch::Tensor> params;
  for (auto& p : d.net->parameters())
    if (p.requires_grad()) params.push_back(p);
  if (d.head)
    for (auto& p : d.head->parameters()) params.push_back(p);
  if (d.adapters)
    for (auto& p : d.adapters->parameters()) params.push_back(p);
  const auto& c = d.cfg;
  if (c.optimizer == "adamw")
    d.opt =
        std::make_unique<torch::optim::AdamW>(params, torch::optim::AdamWOptions(c.lr).weight_decay(c.weight_decay));
  else
    d.opt = std::make_unique<torch::optim::SGD>(
        params, torch::optim::SGDOptions(c.lr).momentum(c.momentum).weight_decay(c.weight_decay));
}

void set_lr(torch::optim::Optimizer& opt, double lr) {
  for (auto& g : opt.param_groups()) g.options().set_lr(lr);
}

// The key of a training image in a teacher table: the key itself, or the photo's path (an aligned
// crop's key is the photo's path + ".png").
std::string teacher_key(const std::map<std::string, std::vector<float>>& table, const std::string& key) {
  if (table.count(key)) return key;
  if (key.size() > 4 && key.compare(key.size() - 4, 4, ".png") == 0) return key.substr(0, key.size() - 4);
  return key;
}

// Embeddings (L2-normalised, [N, D]) of crops in eval mode, batches of 64 (the training mode is restored).
torch::Tensor embed_keys(Trainer& t, const FaceReader& reader, const std::vector<std::string>& keys) {
  auto& net = t.backbone();
  const bool was = net.is_training();
  net.eval();
  torch::NoGradGuard g;
  std::vector<torch::Tensor> parts;
  for (size_t i = 0; i < keys.size(); i += 64) {
    std::vector<std::string> chunk(keys.begin() + long(i), keys.begin() + long(std::min(keys.size(), i + 64)));
    parts.push_back(torch::nn::functional::normalize(net.forward(t.input_from(reader, chunk, false, 0)),
                                                     torch::nn::functional::NormalizeFuncOptions().dim(1)));
  }
  net.train(was);
  return parts.empty() ? torch::empty({0, t.config().backbone.embedding}) : torch::cat(parts);
}

}  // namespace

Trainer::Trainer(const Manifest& manifest, TrainConfig config, std::filesystem::path run_dir, bool resume)
    : impl_(std::make_unique<Impl>(manifest)) {
  auto& d = *impl_;
  d.run = std::move(run_dir);
  config.validate();
  const auto config_file = d.run / "config.json";
  std::error_code ec;
  const bool exists = std::filesystem::exists(config_file, ec);
  if (exists && !resume)
    throw Error(ErrorKind::AlreadyExists,
                d.run.string() + " holds a run already: resume it (--resume) or choose another directory");
  if (exists) {
    json stored;
    try {
      stored = json::parse(detail::read_file(config_file));
    } catch (const json::exception& e) {
      throw Error(ErrorKind::BadModel, config_file.string() + " is not valid JSON: " + e.what());
    }
    // the stored config read with today's defaults: fields added since it was written compare equal
    // when the resumed run leaves them at their defaults
    const json now = config.to_json();
    try {
      stored = TrainConfig::from_json(stored).to_json();
    } catch (const Error& e) {
      throw Error(ErrorKind::InvalidArgument, config_file.string() + ": " + e.what());
    }
    std::string differ;
    for (const auto& [k, v] : now.items())
      if (!kMayChange.count(k) && (!stored.contains(k) || stored.at(k) != v))
        differ += (differ.empty() ? "" : ", ") + k;
    if (!differ.empty())
      throw Error(ErrorKind::InvalidArgument, "the run in " + d.run.string() +
                                                  " was started with another configuration (" + differ +
                                                  " differ); resume it with its own config.json");
  }
  d.cfg = std::move(config);
  std::filesystem::create_directories(d.run / "checkpoints");
  detail::write_file_atomic(config_file, d.cfg.to_json().dump(2) + "\n");
  if (d.cfg.threads > 0) torch::set_num_threads(d.cfg.threads);
  torch::manual_seed(d.cfg.seed);
  prepare_data(d, [](const std::string& m) { std::fprintf(stderr, "[train] %s\n", m.c_str()); });
  d.net = make_backbone(d.cfg.backbone);
  if (d.cfg.teacher.rfind("embeddings:", 0) == 0) {
    d.teacher_table = load_teacher_table(d.cfg.teacher.substr(11));
    size_t covered = 0;
    for (const auto& s : d.split.train) covered += d.teacher_table.count(teacher_key(d.teacher_table, s.image)) > 0;
    std::fprintf(stderr, "[train] teacher embeddings for %zu of %zu training images\n", covered, d.split.train.size());
    if (covered == 0)
      throw Error(ErrorKind::InvalidArgument, d.cfg.teacher +
                                                  " has no embedding of any training image (its keys are "
                                                  "image paths relative to the data folder)");
  } else if (!d.cfg.teacher.empty()) {
    d.teacher = make_teacher(d.cfg);
  }
  if (d.cfg.feature_weight > 0) {
    d.feature_net = d.cfg.feature_teacher.empty() ? d.teacher : make_network_teacher(d.cfg.feature_teacher);
    // the adapters are sized by one pass of each network
    torch::NoGradGuard g;
    const bool was = d.net->is_training();
    d.net->eval();
    const auto fs = forward_with_stages(*d.net, torch::zeros({1, 3, d.cfg.backbone.input, d.cfg.backbone.input}));
    const int64_t T = d.feature_net->options().input;
    const auto ft = forward_with_stages(*d.feature_net, torch::zeros({1, 3, T, T}));
    d.net->train(was);
    std::vector<int64_t> sc, tc;
    for (const auto& t : fs.stages) sc.push_back(t.size(1));
    for (const auto& t : ft.stages) tc.push_back(t.size(1));
    d.adapters = FeatureAdapters(sc, tc);
    std::string pairs;
    for (size_t i = 0; i < d.adapters->pairs(); ++i) {
      const auto& a = fs.stages[fs.stages.size() - d.adapters->pairs() + i];
      const auto& b = ft.stages[ft.stages.size() - d.adapters->pairs() + i];
      pairs += (i ? ", " : "") + std::to_string(a.size(1)) + "x" + std::to_string(a.size(2)) + "² -> " +
               std::to_string(b.size(1)) + "x" + std::to_string(b.size(2)) + "²";
    }
    std::fprintf(stderr, "[train] feature distillation: %zu stage pairs (%s)\n", d.adapters->pairs(), pairs.c_str());
  }
  if (d.cfg.loss != "triplet" && d.cfg.loss != "none") {
    MarginHeadOptions ho;
    ho.kind = parse_head_kind(d.cfg.loss);
    ho.classes = int64_t(d.split.train_identities.size());
    ho.dim = d.cfg.backbone.embedding;
    ho.s = d.cfg.s;
    ho.m = d.cfg.m;
    d.head = MarginHead(ho);
  }
  if (!d.cfg.init.empty()) load_backbone(*d.net, d.cfg.init);
  make_optimizer(d);
  if (resume) {
    const auto ck = latest_checkpoint(d.run);
    if (!ck.empty()) {
      auto ar = open_archive(ck);
      read_part(ck, ar, "backbone", *d.net);
      if (d.head) read_part(ck, ar, "head", *d.head);
      if (d.adapters) read_part(ck, ar, "adapters", *d.adapters);
      try {
        torch::serialize::InputArchive a;
        ar.read("optimizer", a);
        d.opt->load(a);
      } catch (const c10::Error& e) {
        throw Error(ErrorKind::BadModel, "checkpoint " + ck.string() +
                                             ": its optimiser state does not fit (libtorch: " +
                                             std::string(e.what_without_backtrace()).substr(0, 200) + ")");
      }
      auto meta = ck;
      meta.replace_extension(".json");
      const auto mj = json::parse(detail::read_file(meta));
      if (mj.contains("data_sha256") && mj["data_sha256"].get<std::string>() != d.data_fingerprint())
        throw Error(ErrorKind::InvalidArgument,
                    "the training data of " + d.run.string() + " changed since " + ck.filename().string() +
                        " (images or identities added, removed or renamed): resuming would not continue the same "
                        "run; start a new run");
      d.step = mj.at("step").get<int64_t>();
      d.loss_sum = mj.value("window_loss_sum", 0.0);
      d.acc_sum = mj.value("window_accuracy_sum", 0.0);
      d.cos_sum = mj.value("window_teacher_cosine_sum", 0.0);
      d.feature_sum = mj.value("window_feature_loss_sum", 0.0);
      d.since_log = mj.value("window_steps", int64_t(0));
      // the log keeps what happened up to the checkpoint
      std::ifstream in(d.run / "log.jsonl");
      std::string kept, line;
      while (std::getline(in, line)) {
        try {
          if (json::parse(line).at("step").get<int64_t>() <= d.step) kept += line + "\n";
        } catch (const std::exception&) {
        }
      }
      detail::write_file_atomic(d.run / "log.jsonl", kept);
      std::fprintf(stderr, "[train] resumed from %s (step %lld)\n", ck.string().c_str(),
                   static_cast<long long>(d.step));
    } else {
      std::filesystem::remove(d.run / "log.jsonl", ec);
    }
  } else {
    std::filesystem::remove(d.run / "log.jsonl", ec);
  }
}

Trainer::~Trainer() = default;

int64_t Trainer::step() const { return impl_->step; }
const TrainConfig& Trainer::config() const { return impl_->cfg; }
BackboneImpl& Trainer::backbone() { return *impl_->net; }
const IdentitySplit& Trainer::split() const { return impl_->split; }
const FaceReader& Trainer::reader() const { return *impl_->reader; }
std::filesystem::path Trainer::run_dir() const { return impl_->run; }

torch::Tensor Trainer::input(const std::vector<std::string>& keys, bool augment_, int64_t step) const {
  return input_from(*impl_->reader, keys, augment_, step);
}

namespace {

// A crop of `reader` at side S (area-averaged down, bilinear up).
cv::Mat crop_at(const FaceReader& reader, const std::string& key, int S) {
  cv::Mat img = reader.read(key);
  if (img.cols != S || img.rows != S)
    cv::resize(img, img, cv::Size(S, S), 0, 0, img.cols > S ? cv::INTER_AREA : cv::INTER_LINEAR);
  return img;
}

}  // namespace

torch::Tensor Trainer::input_from(const FaceReader& reader, const std::vector<std::string>& keys, bool augment_,
                                  int64_t step) const {
  const auto& c = impl_->cfg;
  std::vector<cv::Mat> crops;
  for (size_t i = 0; i < keys.size(); ++i) {
    cv::Mat img = crop_at(reader, keys[i], int(c.backbone.input));
    crops.push_back(augment_ ? augment(img, c.augmentation, mix(mix(c.seed, uint64_t(step)), i)) : img);
  }
  return backbone_input(crops);
}

Trainer::Inputs Trainer::inputs(const std::vector<std::string>& keys, int64_t step) const {
  const auto& d = *impl_;
  const auto& c = d.cfg;
  const int S = int(c.backbone.input);
  const bool own_features = d.feature_net && d.feature_net != d.teacher;
  std::vector<cv::Mat> student, teacher, features;
  // a teacher's view: the crop at its own side T, mirrored as the student's copy was (clean), or
  // the student's augmented copy
  auto view = [&](const std::string& key, const cv::Mat& img, const cv::Mat& aug, const AugmentRecord& rec, int T) {
    cv::Mat t = c.teacher_input == "augmented" ? aug : (T == S ? img : crop_at(*d.reader, key, T));
    if (c.teacher_input == "clean" && rec.flip) cv::flip(t, t, 1);
    if (t.rows != T) cv::resize(t, t, cv::Size(T, T), 0, 0, t.rows > T ? cv::INTER_AREA : cv::INTER_LINEAR);
    return t;
  };
  for (size_t i = 0; i < keys.size(); ++i) {
    cv::Mat img = crop_at(*d.reader, keys[i], S);
    AugmentRecord rec;
    cv::Mat aug = c.augment ? augment(img, c.augmentation, mix(mix(c.seed, uint64_t(step)), i), &rec) : img;
    if (d.teacher) teacher.push_back(view(keys[i], img, aug, rec, int(d.teacher->options().input)));
    if (own_features) features.push_back(view(keys[i], img, aug, rec, int(d.feature_net->options().input)));
    student.push_back(aug);
  }
  Inputs r;
  r.student = backbone_input(student);
  if (d.teacher) r.teacher = backbone_input(teacher);
  if (own_features) r.feature_teacher = backbone_input(features);
  return r;
}

void Trainer::save_checkpoint() {
  auto& d = *impl_;
  const auto pt = checkpoint_path(d.run, d.step);
  torch::serialize::OutputArchive ar, bb, hd, op, ad;
  d.net->save(bb);
  ar.write("backbone", bb);
  if (d.head) {
    d.head->save(hd);
    ar.write("head", hd);
  }
  if (d.adapters) {
    d.adapters->save(ad);
    ar.write("adapters", ad);
  }
  d.opt->save(op);
  ar.write("optimizer", op);
  ckpt::write_checkpoint(pt, ar,
                         json{{"step", d.step},
                              {"backbone", d.cfg.backbone.name},
                              {"data_sha256", d.data_fingerprint()},
                              {"window_loss_sum", d.loss_sum},
                              {"window_accuracy_sum", d.acc_sum},
                              {"window_teacher_cosine_sum", d.cos_sum},
                              {"window_feature_loss_sum", d.feature_sum},
                              {"window_steps", d.since_log},
                              {"facerec", version()}},
                         d.cfg.keep_checkpoints);
}

Validation Trainer::validate() {
  auto& d = *impl_;
  Validation v;
  v.step = d.step;
  // held-out identities: every genuine pair, as many impostor pairs drawn by the seed
  std::vector<std::string> keys;
  std::vector<int64_t> labels;
  for (const auto& s : d.split.validation) {
    if (int(keys.size()) >= d.cfg.max_validation_images) break;
    keys.push_back(s.image);
    labels.push_back(s.label);
  }
  if (keys.size() >= 2) {
    auto e = embed_keys(*this, *d.reader, keys);
    auto sim = torch::mm(e, e.t());
    auto a = sim.accessor<float, 2>();
    std::vector<double> scores;
    std::vector<bool> same;
    for (size_t i = 0; i < keys.size(); ++i)
      for (size_t j = i + 1; j < keys.size() && labels[j] == labels[i]; ++j) {
        scores.push_back(a[long(i)][long(j)]);
        same.push_back(true);
      }
    const size_t genuine = scores.size();
    std::mt19937_64 rng(d.cfg.seed ^ 0x7a11ULL);
    std::uniform_int_distribution<size_t> pick(0, keys.size() - 1);
    for (size_t n = 0, tries = 0; n < std::max<size_t>(genuine, 1) && tries < 100 * (genuine + 1); ++tries) {
      const size_t i = pick(rng), j = pick(rng);
      if (labels[i] == labels[j]) continue;
      scores.push_back(a[long(i)][long(j)]);
      same.push_back(false);
      ++n;
    }
    if (genuine > 0 && scores.size() > genuine) {
      std::vector<int> folds(scores.size());
      for (size_t i = 0; i < folds.size(); ++i) folds[i] = int(i % 10);
      const auto r = evaluate_verification(scores, same, folds);
      v.heldout_accuracy = r.mean_accuracy;
      v.heldout_auc = r.auc;
      v.heldout_pairs = scores.size();
    }
  }
  if (d.lfw_reader) {
    std::vector<std::string> all;
    for (size_t i = 0; i < d.lfw_a.size(); ++i) {
      if (!d.lfw_a[i].empty()) all.push_back(d.lfw_a[i]);
      if (!d.lfw_b[i].empty()) all.push_back(d.lfw_b[i]);
    }
    std::sort(all.begin(), all.end());
    all.erase(std::unique(all.begin(), all.end()), all.end());
    const auto rows = embed_keys(*this, *d.lfw_reader, all);
    std::map<std::string, torch::Tensor> emb;
    for (size_t k = 0; k < all.size(); ++k) emb[all[k]] = rows[long(k)];
    std::vector<double> scores;
    std::vector<int> folds;
    for (size_t i = 0; i < d.lfw_a.size(); ++i) {
      const bool ok = !d.lfw_a[i].empty() && !d.lfw_b[i].empty();
      scores.push_back(ok ? (emb[d.lfw_a[i]] * emb[d.lfw_b[i]]).sum().item<double>() : std::nan(""));
      v.lfw_failed += !ok;
      folds.push_back(int(i % 10));
    }
    v.lfw_accuracy = evaluate_verification(scores, d.lfw_same, folds).mean_accuracy;
    v.lfw_pairs = scores.size();
  }
  d.log(json{{"step", v.step},
             {"validation",
              {{"heldout_accuracy", v.heldout_accuracy},
               {"heldout_auc", v.heldout_auc},
               {"heldout_pairs", v.heldout_pairs},
               {"lfw_view1_accuracy", v.lfw_accuracy},
               {"lfw_pairs", v.lfw_pairs},
               {"lfw_failed", v.lfw_failed}}}});
  return v;
}

int64_t Trainer::run(const std::function<bool(int64_t)>& keep_going,
                     const std::function<void(const TrainProgress&)>& on_progress,
                     const std::function<void(const std::string&)>& on_message) {
  auto& d = *impl_;
  const auto& c = d.cfg;
  auto say = [&](const std::string& m) {
    if (on_message) on_message(m);
  };
  d.net->train();
  if (d.head) d.head->train();
  std::vector<torch::Tensor> params;
  for (auto& g : d.opt->param_groups())
    for (auto& p : g.params()) params.push_back(p);
  auto t0 = std::chrono::steady_clock::now();
  int64_t steps_timed = 0;
  double& loss_sum = d.loss_sum;
  double& acc_sum = d.acc_sum;
  double& cos_sum = d.cos_sum;
  double& feature_sum = d.feature_sum;
  int64_t& since_log = d.since_log;
  while (d.step < c.steps) {
    const auto idx = d.sampler->batch(uint64_t(d.step));
    std::vector<std::string> keys;
    std::vector<int64_t> lab;
    for (size_t i : idx) {
      keys.push_back(d.split.train[i].image);
      lab.push_back(d.split.train[i].label);
    }
    torch::manual_seed(mix(c.seed, uint64_t(d.step) + 1));  // dropout and anything else libtorch draws
    const auto in = inputs(keys, d.step);
    auto labels = torch::tensor(lab, torch::kInt64);
    torch::Tensor emb;
    std::vector<torch::Tensor> student_stages;
    if (d.adapters) {
      auto f = forward_with_stages(*d.net, in.student);
      emb = f.embedding;
      student_stages = std::move(f.stages);
    } else {
      emb = d.net->forward(in.student);
    }
    torch::Tensor loss = torch::zeros({});
    double acc = 0, cosine = 0;
    if (c.loss == "triplet") {
      auto r = batch_hard_triplet_loss(emb, labels, c.triplet_margin);
      loss = r.loss;
      torch::NoGradGuard g;
      auto e = torch::nn::functional::normalize(emb, torch::nn::functional::NormalizeFuncOptions().dim(1));
      auto dist = torch::cdist(e, e);
      int64_t right = 0, counted = 0;
      auto hp = r.hardest_positive.accessor<int64_t, 1>(), hn = r.hardest_negative.accessor<int64_t, 1>();
      auto da = dist.accessor<float, 2>();
      for (int64_t i = 0; i < emb.size(0); ++i)
        if (hp[i] >= 0 && hn[i] >= 0) {
          ++counted;
          right += da[i][hp[i]] < da[i][hn[i]];
        }
      acc = counted ? double(right) / double(counted) : 0;
    } else if (d.head) {
      auto logits = d.head->forward(emb, labels);
      loss = torch::nn::functional::cross_entropy(logits, labels);
      acc = (logits.argmax(1) == labels).to(torch::kFloat64).mean().item<double>();
    }
    torch::Tensor t, e, rows;  // teacher and student unit embeddings of the rows that have a teacher
    std::vector<torch::Tensor> teacher_stages;
    if (d.teacher) {
      torch::NoGradGuard g;
      torch::Tensor te;
      if (d.adapters && d.feature_net == d.teacher) {  // one pass gives both
        auto f = forward_with_stages(*d.teacher, in.teacher);
        te = f.embedding;
        teacher_stages = std::move(f.stages);
      } else {
        te = d.teacher->forward(in.teacher);
      }
      t = torch::nn::functional::normalize(te, torch::nn::functional::NormalizeFuncOptions().dim(1));
    } else if (!d.teacher_table.empty()) {
      std::vector<int64_t> have;
      std::vector<float> values;
      for (size_t i = 0; i < keys.size(); ++i) {
        const auto it = d.teacher_table.find(teacher_key(d.teacher_table, keys[i]));
        if (it == d.teacher_table.end()) continue;
        have.push_back(int64_t(i));
        values.insert(values.end(), it->second.begin(), it->second.end());
      }
      if (!have.empty()) {
        rows = torch::tensor(have, torch::kInt64);
        t = torch::from_blob(values.data(), {int64_t(have.size()), c.backbone.embedding}, torch::kFloat32).clone();
      }
    }
    if (t.defined()) {
      e = torch::nn::functional::normalize(rows.defined() ? emb.index_select(0, rows) : emb,
                                           torch::nn::functional::NormalizeFuncOptions().dim(1));
      loss = loss + c.distill_weight * distillation_loss(e, t, c.distill_loss);
      cosine = (e * t).sum(1).mean().item<double>();
    }
    double feature = 0;
    if (d.adapters) {
      if (teacher_stages.empty()) {
        torch::NoGradGuard g;
        teacher_stages = forward_with_stages(*d.feature_net, in.feature_teacher).stages;
      }
      const auto fl = d.adapters->forward(student_stages, teacher_stages);
      loss = loss + c.feature_weight * fl;
      feature = fl.item<double>();
    }
    const double lv = loss.item<double>();
    if (!std::isfinite(lv))
      throw Error(ErrorKind::Internal, "training diverged at step " + std::to_string(d.step) + " (loss " +
                                           std::to_string(lv) + "): lower lr or raise warmup_steps");
    d.opt->zero_grad();
    loss.backward();
    if (c.clip_norm > 0) torch::nn::utils::clip_grad_norm_(params, c.clip_norm);
    const double lr = learning_rate(c, d.step);
    set_lr(*d.opt, lr);
    d.opt->step();
    ++d.step;
    ++steps_timed;
    ++since_log;
    loss_sum += lv;
    acc_sum += acc;
    cos_sum += cosine;
    feature_sum += feature;
    if (d.step % c.log_every == 0 || d.step == c.steps) {
      const double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      TrainProgress p;
      p.step = d.step;
      p.steps = c.steps;
      p.loss = loss_sum / double(since_log);
      p.accuracy = acc_sum / double(since_log);
      const bool embedding_teacher = d.teacher || !d.teacher_table.empty();
      p.teacher_cosine = embedding_teacher ? cos_sum / double(since_log) : std::nan("");
      p.feature_loss = d.adapters ? feature_sum / double(since_log) : std::nan("");
      p.lr = lr;
      p.samples_per_s = double(steps_timed * c.batch) / std::max(el, 1e-9);
      p.eta_s = el / double(steps_timed) * double(c.steps - d.step);
      json line{
          {"step", p.step}, {"loss", p.loss}, {"accuracy", p.accuracy}, {"lr", lr}, {"samples_per_s", p.samples_per_s}};
      if (embedding_teacher) line["teacher_cosine"] = p.teacher_cosine;
      if (d.adapters) line["feature_loss"] = p.feature_loss;
      d.log(line);
      if (on_progress) on_progress(p);
      loss_sum = acc_sum = cos_sum = feature_sum = 0;
      since_log = 0;
    }
    const bool stop = keep_going && !keep_going(d.step);
    if (d.step % c.validate_every == 0 || d.step == c.steps) {
      const auto v = validate();
      char buf[200];
      std::snprintf(buf, sizeof buf, "validation at step %lld: held-out %.4f (AUC %.4f, %zu pairs)%s",
                    static_cast<long long>(d.step), v.heldout_accuracy, v.heldout_auc, v.heldout_pairs,
                    v.lfw_accuracy >= 0 ? (", LFW View 1 " + std::to_string(v.lfw_accuracy)).c_str() : "");
      say(buf);
    }
    if (d.step % c.checkpoint_every == 0 || d.step == c.steps || stop) {
      save_checkpoint();
      write_report();
    }
    if (stop) break;
  }
  return d.step;
}

void Trainer::write_report() const {
  const auto& d = *impl_;
  PlotSeries loss{"loss", {}, {}}, acc{"training accuracy", {}, {}}, lr{"learning rate", {}, {}},
      held{"held-out identities", {}, {}}, lfw{"LFW View 1", {}, {}}, rate{"samples/s", {}, {}},
      tcos{"cos(student, teacher)", {}, {}}, feat{"feature loss", {}, {}};
  json last_val;
  for (const auto& j : ckpt::read_log(d.run / "log.jsonl")) {
    const double s = j.value("step", 0.0);
    if (j.contains("validation")) {
      const auto& v = j["validation"];
      last_val = j;
      held.x.push_back(s);
      held.y.push_back(v.value("heldout_accuracy", 0.0));
      if (v.value("lfw_view1_accuracy", -1.0) >= 0) {
        lfw.x.push_back(s);
        lfw.y.push_back(v.value("lfw_view1_accuracy", 0.0));
      }
    } else {
      loss.x.push_back(s);
      loss.y.push_back(j.value("loss", 0.0));
      acc.x.push_back(s);
      acc.y.push_back(j.value("accuracy", 0.0));
      lr.x.push_back(s);
      lr.y.push_back(j.value("lr", 0.0));
      rate.x.push_back(s);
      rate.y.push_back(j.value("samples_per_s", 0.0));
      if (j.contains("teacher_cosine")) {
        tcos.x.push_back(s);
        tcos.y.push_back(j.value("teacher_cosine", 0.0));
      }
      if (j.contains("feature_loss")) {
        feat.x.push_back(s);
        feat.y.push_back(j.value("feature_loss", 0.0));
      }
    }
  }
  const auto& c = d.cfg;
  HtmlReport r("Training report: " + d.run.filename().string());
  r.paragraph(c.backbone.name + " (" + std::to_string(c.backbone.embedding) + "-d, input " +
              std::to_string(c.backbone.input) + ") with the " + loss_text(c) + " on " + c.data + " (" + c.data_kind +
              "): " + std::to_string(d.split.train.size()) + " images of " +
              std::to_string(d.split.train_identities.size()) + " identities; step " + std::to_string(d.step) + " of " +
              std::to_string(c.steps) + ". facerec " + version() + ".");
  PlotSpec ls{"Loss", "step", loss_text(c)};
  PlotSpec as{"Training accuracy", "step",
              c.loss == "triplet" ? "anchors with d(a,p) < d(a,n)" : "top-1 (with margin)"};
  as.y_min = 0;
  as.y_max = 1;
  PlotSpec vs{"Validation (10-fold verification accuracy)", "step", "accuracy"};
  vs.y_min = 0.5;
  vs.y_max = 1;
  PlotSpec lrs{"Learning rate", "step", "lr"};
  std::vector<std::string> figs{svg_plot(ls, {loss})};
  if (c.loss != "none") figs.push_back(svg_plot(as, {acc}));
  if (!tcos.x.empty()) {
    PlotSpec ts{"Agreement with the teacher", "step", "mean cos(student, teacher)"};
    ts.y_max = 1;
    figs.push_back(svg_plot(ts, {tcos}));
  }
  if (!feat.x.empty()) {
    PlotSpec fs{"Intermediate features", "step", "relative squared error to the teacher's stages"};
    fs.y_min = 0;
    figs.push_back(svg_plot(fs, {feat}));
  }
  figs.push_back(svg_plot(vs, {held, lfw}));
  figs.push_back(svg_plot(lrs, {lr}));
  r.figures(figs);
  if (!last_val.is_null()) r.preformatted("last validation: " + last_val.dump(2));
  r.heading("Configuration");
  r.preformatted(c.to_json().dump(2));
  detail::write_file_atomic(d.run / "report.html", r.html());
}

}  // namespace facerec::train
