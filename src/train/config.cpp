// The training configuration: its JSON form (every field listed once), its checks, the
// description of its loss and the learning-rate schedule.
#include <facerec/backend.hpp>
#include <facerec/error.hpp>
#include <facerec/eval/eval.hpp>
#include <facerec/eval/report.hpp>
#include <facerec/train/trainer.hpp>
#include <facerec/version.hpp>

#include "common/fs.hpp"
#include "common/sha256.hpp"
#include "train/config_json.hpp"

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

// ---- config -------------------------------------------------------------------------------

namespace {

// Every field of the config, in the order of its JSON: the one list to_json, from_json and the
// resume check go by (the augmentation section has its own, in augment.hpp).
template <typename C, typename F>
void for_each_config_field(C& c, F&& f) {
  f("data", c.data);
  f("data_kind", c.data_kind);
  f("cache", c.cache);
  f("alignment", c.alignment);
  f("min_images", c.split.min_images);
  f("validation_share", c.split.validation_share);
  f("max_validation_images", c.max_validation_images);
  f("sampler", c.sampler);
  f("batch", c.batch);
  f("pk_k", c.pk_k);
  f("augment", c.augment);
  f("backbone", c.backbone.name);
  f("embedding", c.backbone.embedding);
  f("input", c.backbone.input);
  f("width", c.backbone.width);
  f("dropout", c.backbone.dropout);
  f("loss", c.loss);
  f("s", c.s);
  f("m", c.m);
  f("triplet_margin", c.triplet_margin);
  f("init", c.init);
  f("teacher", c.teacher);
  f("teacher_input", c.teacher_input);
  f("distill_loss", c.distill_loss);
  f("distill_weight", c.distill_weight);
  f("feature_teacher", c.feature_teacher);
  f("feature_weight", c.feature_weight);
  f("optimizer", c.optimizer);
  f("lr", c.lr);
  f("momentum", c.momentum);
  f("weight_decay", c.weight_decay);
  f("steps", c.steps);
  f("warmup_steps", c.warmup_steps);
  f("schedule", c.schedule);
  f("milestones", c.milestones);
  f("gamma", c.gamma);
  f("clip_norm", c.clip_norm);
  f("log_every", c.log_every);
  f("validate_every", c.validate_every);
  f("checkpoint_every", c.checkpoint_every);
  f("keep_checkpoints", c.keep_checkpoints);
  f("lfw_images", c.lfw_images);
  f("lfw_pairs", c.lfw_pairs);
  f("threads", c.threads);
  f("seed", c.seed);
}

void fail(const std::string& field, const std::string& why) {
  throw Error(ErrorKind::InvalidArgument, "train config: " + field + " " + why);
}

}  // namespace

json augment_json(const AugmentOptions& a) {
  json j = json::object();
  for_each_field(a, [&](const char* k, const auto& v) { j[k] = v; });
  return j;
}

AugmentOptions augment_from(const json& j) {
  if (!j.is_object()) throw Error(ErrorKind::InvalidArgument, "train config: augmentation must be an object");
  AugmentOptions a;
  std::set<std::string> s;
  for_each_field(a, [&](const char* k, auto& v) { get(j, k, v, s, "augmentation."); });
  no_unknown(j, s, "augmentation.");
  return a;
}

json TrainConfig::to_json() const {
  json j = json::object();
  for_each_config_field(*this, [&](const char* k, const auto& v) { j[k] = v; });
  j["augmentation"] = augment_json(augmentation);
  return j;
}

TrainConfig TrainConfig::from_json(const json& j) {
  if (!j.is_object()) throw Error(ErrorKind::InvalidArgument, "train config: expected a JSON object");
  TrainConfig c;
  std::set<std::string> s;
  for_each_config_field(c, [&](const char* k, auto& v) { get(j, k, v, s, ""); });
  s.insert("augmentation");
  if (j.contains("augmentation")) c.augmentation = augment_from(j.at("augmentation"));
  no_unknown(j, s, "");
  return c;
}

void TrainConfig::validate() const {
  if (data.empty()) fail("data", "is required (a folder, or a .rec file)");
  if (data_kind != "crops" && data_kind != "photos" && data_kind != "recordio")
    fail("data_kind", "must be crops, photos or recordio");
  if (alignment != "arcface" && alignment != "arcface-tight" && alignment != "dlib-chip")
    fail("alignment", "must be arcface, arcface-tight or dlib-chip");
  if (sampler != "shuffle" && sampler != "balanced" && sampler != "pk")
    fail("sampler", "must be shuffle, balanced or pk");
  if (batch < 2 || batch > 4096) fail("batch", "must be in [2, 4096]");
  if (sampler == "pk" && (pk_k < 2 || batch % pk_k != 0 || batch / pk_k < 2))
    fail("pk_k", "must be >= 2 and divide the batch into at least 2 identities");
  if (loss != "arcface" && loss != "cosface" && loss != "softmax" && loss != "triplet" && loss != "none")
    fail("loss", "must be arcface, cosface, softmax, triplet or none");
  if (loss == "none" && teacher.empty() && feature_weight == 0)
    fail("loss", "none needs a teacher (distillation is then the only loss)");
  if (!(feature_weight >= 0)) fail("feature_weight", "must be >= 0");
  if (feature_weight > 0 && feature_teacher.empty() && (teacher.empty() || teacher.rfind("embeddings:", 0) == 0))
    fail("feature_teacher",
         "is needed for feature_weight > 0 when the teacher is not a network (onnx:<model> or a "
         "run's checkpoint)");
  if (!feature_teacher.empty() && feature_weight == 0)
    fail("feature_weight", "must be > 0 with a feature_teacher (else the teacher's features are not used)");
  if (teacher_input != "clean" && teacher_input != "augmented") fail("teacher_input", "must be clean or augmented");
  if (distill_loss != "cosine" && distill_loss != "l2") fail("distill_loss", "must be cosine or l2");
  if (!(distill_weight > 0)) fail("distill_weight", "must be > 0");

  if (loss == "triplet" && sampler != "pk") fail("sampler", "must be pk for the triplet loss (it needs positives)");
  if (!(s > 0)) fail("s", "must be > 0");
  if (!(m >= 0 && m < 1.5707963)) fail("m", "must be in [0, pi/2)");
  if (!(triplet_margin > 0)) fail("triplet_margin", "must be > 0");
  if (optimizer != "sgd" && optimizer != "adamw") fail("optimizer", "must be sgd or adamw");
  if (!(lr > 0)) fail("lr", "must be > 0");
  if (!(momentum >= 0 && momentum < 1)) fail("momentum", "must be in [0, 1)");
  if (!(weight_decay >= 0)) fail("weight_decay", "must be >= 0");
  if (steps < 1) fail("steps", "must be >= 1");
  if (warmup_steps < 0 || warmup_steps >= steps) fail("warmup_steps", "must be in [0, steps)");
  if (schedule != "cosine" && schedule != "step" && schedule != "constant")
    fail("schedule", "must be cosine, step or constant");
  if (!std::is_sorted(milestones.begin(), milestones.end())) fail("milestones", "must be increasing");
  if (!(gamma > 0 && gamma <= 1)) fail("gamma", "must be in (0, 1]");
  if (!(clip_norm >= 0)) fail("clip_norm", "must be >= 0");
  if (log_every < 1 || validate_every < 1 || checkpoint_every < 1)
    fail("log_every/validate_every/checkpoint_every", "must be >= 1");
  if (keep_checkpoints < 1) fail("keep_checkpoints", "must be >= 1");
  if (max_validation_images < 0) fail("max_validation_images", "must be >= 0");
  if (lfw_images.empty() != lfw_pairs.empty()) fail("lfw_images/lfw_pairs", "go together");
  if (threads < 0) fail("threads", "must be >= 0");
  train::validate(augmentation);
  auto net = make_backbone(backbone);  // throws on a bad name, size or width
  // an onnx: backbone has its own sizes; the config must say them (data, head and export use them)
  if (net->options().input != backbone.input)
    fail("input", "the backbone " + backbone.name + " takes " + std::to_string(net->options().input) + " px");
  if (net->options().embedding != backbone.embedding)
    fail("embedding",
         "the backbone " + backbone.name + " gives " + std::to_string(net->options().embedding) + " values");
  if (!teacher.empty()) {
    const int64_t dim = teacher.rfind("embeddings:", 0) == 0 ? teacher_table_dim(teacher.substr(11))
                                                             : make_teacher(*this)->options().embedding;
    if (dim != backbone.embedding)
      fail("teacher", teacher + " gives " + std::to_string(dim) + " values, the student " +
                          std::to_string(backbone.embedding) + ": distillation compares embeddings of one size");
  }
  if (!feature_teacher.empty()) make_network_teacher(feature_teacher);  // throws for a bad name or file
}

std::string loss_text(const TrainConfig& c) {
  std::string distill = c.teacher.empty() ? ""
                                          : c.distill_loss + " distillation from " + c.teacher +
                                                (c.teacher_input == "clean" ? " (on clean crops)" : "");
  if (c.feature_weight > 0)
    distill += (distill.empty() ? "" : " + ") + std::string("feature distillation from ") +
               (c.feature_teacher.empty() ? c.teacher : c.feature_teacher);
  if (c.loss == "none") return distill;
  return c.loss + " loss" + (distill.empty() ? "" : " + " + distill);
}

std::string clock_text(double seconds) {
  char b[32];
  const long t = long(std::max(0.0, seconds));
  if (t >= 3600)
    std::snprintf(b, sizeof b, "%ldh%02ldm", t / 3600, t / 60 % 60);
  else
    std::snprintf(b, sizeof b, "%ldm%02lds", t / 60, t % 60);
  return b;
}

double learning_rate(const TrainConfig& c, int64_t step) {
  if (step < c.warmup_steps) return c.lr * double(step + 1) / double(c.warmup_steps);
  const double t = double(step - c.warmup_steps), total = double(std::max<int64_t>(1, c.steps - c.warmup_steps));
  if (c.schedule == "cosine") return c.lr * 0.5 * (1.0 + std::cos(M_PI * std::min(1.0, t / total)));
  if (c.schedule == "step") {
    double lr = c.lr;
    for (auto ms : c.milestones)
      if (step >= ms) lr *= c.gamma;
    return lr;
  }
  return c.lr;
}

}  // namespace facerec::train
