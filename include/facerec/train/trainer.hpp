#pragma once
// The training loop (after insightface's arcface_torch: short, configurable, resumable).
//
// A run lives in one directory: config.json (the TrainConfig, written at the start and checked on
// resume), checkpoints/step-<n>.pt (backbone, head, optimiser state) with step-<n>.json beside it
// (step, sha256 of the .pt), log.jsonl (one line per logged step and per validation) and
// report.html (curves). Everything a step draws is a pure function of (seed, step): the batch
// (samplers in data.hpp), the augmentation of each slot, and libtorch's generator (re-seeded every
// step), and the learning rate is a function of the step, so a run resumed from the checkpoint of
// step k continues exactly as the uninterrupted run (bit-identical on the same machine and thread
// count: tested).
//
// What it represents: Trainer owns one run. Thread safety: one thread at a time; it uses
// libtorch's intra-op threads (config threads).
#include <facerec/models.hpp>
#include <facerec/train/augment.hpp>
#include <facerec/train/backbones.hpp>
#include <facerec/train/data.hpp>
#include <facerec/train/losses.hpp>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace facerec::train {

struct TrainConfig {
  // data: "crops" (identity folders of aligned crops), "photos" (identity folders of photos,
  // aligned through the pipeline once and cached under `cache`), "recordio" (train.rec; the index
  // is train.idx beside it)
  std::string data;
  std::string data_kind = "crops";
  std::string cache;                  // photos: where aligned crops are kept (default <run>/aligned)
  std::string alignment = "arcface";  // what the crops are (recorded in the exported manifest entry)
  SplitOptions split;
  int max_validation_images = 2000;
  // sampling and augmentation
  std::string sampler = "shuffle";  // shuffle | balanced | pk (pk is required by the triplet loss)
  int batch = 64;
  int pk_k = 4;  // pk: images per identity (P = batch / K)
  bool augment = true;
  AugmentOptions augmentation;
  // network and loss
  BackboneOptions backbone;
  std::string loss = "arcface";  // arcface | cosface | softmax | triplet | none (distillation alone)
  double s = 64.0, m = 0.5;      // arcface (radians) / cosface (cosine)
  double triplet_margin = 0.3;
  std::string init;  // start the backbone from this checkpoint (.pt of a run) instead of random weights
  // distillation (on when `teacher` is set): a frozen network whose L2-normalised embedding the
  // student's is pulled towards, added to the loss above with `distill_weight`
  // onnx:<file or manifest model> (an imported or exported model, with its weights), or a
  // checkpoint of a run (<run>/checkpoints/step-N.pt; its architecture from <run>/config.json).
  // Its input side may differ from the student's (each gets the crop at its own size).
  // Or embeddings:<file>: the teacher's embeddings of the training images, computed beforehand by
  // any embedder of the pipeline (the fused default included): the embedding-cache records
  // `facerec data merge` writes as <out>/embeddings.bin (keyed by image path relative to the data
  // folder; photos without a face there get no distillation term).
  std::string teacher;
  std::string teacher_input = "clean";  // clean: the sample before augmentation (mirrored with it) | augmented
  std::string distill_loss = "cosine";  // cosine: 1 - cos(s, t) | l2: |s - t|^2 (both on unit vectors)
  double distill_weight = 1.0;
  // intermediate-feature distillation (on when feature_weight > 0): the stage maps of a network
  // teacher (feature_teacher, else `teacher` when it is a network) reconstructed from the student's
  // through 1x1 adapters (FeatureAdapters, losses.hpp), added with feature_weight. The teacher sees
  // the crop at its own side, as for `teacher_input`.
  std::string feature_teacher;
  double feature_weight = 0;
  // optimiser and schedule
  std::string optimizer = "sgd";  // sgd | adamw
  double lr = 0.1, momentum = 0.9, weight_decay = 5e-4;
  int64_t steps = 1000, warmup_steps = 0;
  std::string schedule = "cosine";  // cosine | step | constant (after the linear warm-up)
  std::vector<int64_t> milestones;  // step: multiply by `gamma` at each
  double gamma = 0.1;
  double clip_norm = 0;  // > 0: clip the gradients' global L2 norm to this
  // bookkeeping
  int64_t log_every = 20, validate_every = 500, checkpoint_every = 500;
  int keep_checkpoints = 2;
  std::string lfw_images, lfw_pairs;  // LFW View 1 validation (pairsDevTrain/pairsDevTest; View 2 is refused)
  int threads = 0;                    // libtorch intra-op threads; 0: all cores
  uint64_t seed = 1;

  // Throws Error(InvalidArgument) naming the field for a value out of range or an unknown name.
  void validate() const;
  nlohmann::json to_json() const;
  // Fields not given keep their defaults; an unknown field is an error (a typo must not train
  // silently with a default). Throws Error(InvalidArgument) naming the field.
  static TrainConfig from_json(const nlohmann::json& j);
};

// The frozen teacher `config.teacher` names, in eval mode with its weights. Throws
// Error(InvalidArgument) when there is none, Error(NotFound) / Error(BadModel) for a missing or
// corrupt file, and as make_backbone.
Backbone make_teacher(const TrainConfig& config);
// A frozen network teacher named as `teacher` is (onnx:... or a run's checkpoint), in eval mode.
// Throws as make_teacher.
Backbone make_network_teacher(const std::string& spec);
// Teacher embeddings of training images (embeddings:<file>): image key -> embedding (L2-normalised
// here). Throws Error(NotFound) for a missing file, Error(BadModel) for a file with no embedding or
// embeddings of different lengths.
std::map<std::string, std::vector<float>> load_teacher_table(const std::filesystem::path& file);
// The embedding length of such a file (as load_teacher_table, which it calls).
int64_t teacher_table_dim(const std::filesystem::path& file);

// What the run minimises, in words ("arcface loss + cosine distillation from onnx:m"), for reports.
std::string loss_text(const TrainConfig& config);

// A duration for progress lines: "1h02m" from an hour, else "3m05s" (negative: "0m00s").
std::string clock_text(double seconds);
// The learning rate at `step` (0-based): linear warm-up from lr/warmup to lr, then the schedule.
double learning_rate(const TrainConfig& c, int64_t step);

// One validation: verification over pairs of held-out identities and (if configured) LFW View 1.
struct Validation {
  int64_t step = 0;
  double heldout_accuracy = 0, heldout_auc = 0;  // 10-fold accuracy over the held-out pairs
  size_t heldout_pairs = 0;
  double lfw_accuracy = -1;  // -1: not configured
  size_t lfw_pairs = 0, lfw_failed = 0;
};

struct TrainProgress {
  int64_t step = 0, steps = 0;
  double loss = 0, accuracy = 0, lr = 0, samples_per_s = 0, eta_s = 0;
  double teacher_cosine = 0;  // distillation: mean cos(student, teacher) over the window (NaN without a teacher)
  double feature_loss = 0;    // feature distillation: the mean feature loss over the window (NaN without)
};

class Trainer {
 public:
  // Creates the run directory, or reopens it: with `resume`, the latest valid checkpoint is loaded
  // (a config different from the stored one is an error naming the fields, except steps,
  // bookkeeping intervals and threads, which may change). Prepares the data (aligning photos on the
  // first run). Throws Error(AlreadyExists) when `run_dir` holds a run and resume is false,
  // Error(BadModel) for a corrupt checkpoint (naming the file), what the readers throw.
  Trainer(const Manifest& manifest, TrainConfig config, std::filesystem::path run_dir, bool resume);
  ~Trainer();

  // Trains from the current step to config.steps, or until `keep_going` returns false (checked
  // after every step; a checkpoint is written before returning then). Progress goes to
  // `on_progress` every log_every steps and to the log; validation every validate_every steps and
  // at the end. Returns the last step done.
  int64_t run(const std::function<bool(int64_t step)>& keep_going = {},
              const std::function<void(const TrainProgress&)>& on_progress = {},
              const std::function<void(const std::string&)>& on_message = {});

  Validation validate();   // at the current weights
  void save_checkpoint();  // the current step (atomic; older ones beyond keep_checkpoints removed)
  int64_t step() const;
  const TrainConfig& config() const;
  BackboneImpl& backbone();
  const IdentitySplit& split() const;
  const FaceReader& reader() const;
  // A batch of crops as the network's input [N, 3, S, S] ((RGB − 127.5) / 128), augmented with the
  // draws of (step, slot) when `augment`.
  torch::Tensor input(const std::vector<std::string>& keys, bool augment, int64_t step) const;
  // The same from another reader (validation sets).
  torch::Tensor input_from(const FaceReader& reader, const std::vector<std::string>& keys, bool augment,
                           int64_t step) const;
  // A training batch: the student's input (augmented as `input(keys, config.augment, step)`) and,
  // with a teacher, the teacher's [N, 3, T, T] (config.teacher_input: the crops before augmentation,
  // mirrored where the student's copy was, or the augmented copies; at the teacher's side T).
  struct Inputs {
    torch::Tensor student, teacher;  // teacher: for a network teacher (undefined without one)
    torch::Tensor feature_teacher;   // for the feature teacher when it is another network
  };
  Inputs inputs(const std::vector<std::string>& keys, int64_t step) const;
  std::filesystem::path run_dir() const;
  void write_report() const;  // report.html from log.jsonl

  struct Impl;  // the run's state (defined in trainer.cpp)

 private:
  std::unique_ptr<Impl> impl_;
};

// The latest checkpoint of a run whose .pt matches its recorded sha256 (empty when there is none).
std::filesystem::path latest_checkpoint(const std::filesystem::path& run_dir);

// Loads the backbone weights of a checkpoint into `net` (same architecture). Throws
// Error(BadModel) naming the file for a corrupt or truncated checkpoint or another architecture.
void load_backbone(BackboneImpl& net, const std::filesystem::path& checkpoint);

// Exports a run's backbone (its latest checkpoint, or `checkpoint`) as a facerec model: writes
// trained/<name>.onnx beside the manifest at `manifest_out` and adds or replaces its entry there
// (format "onnx", the file relative to the manifest, its sha256, the run's config; the manifest is
// created from `base` when it does not exist). Checks parity
// of the ONNX on the reference and opencv-dnn backends against libtorch on validation crops
// (max |difference| <= 1e-4 x max(1, max |embedding|)) and throws Error(Internal) otherwise.
struct ExportResult {
  std::filesystem::path onnx;
  std::string sha256;
  double max_diff_reference = 0, max_diff_opencv = 0;
  int64_t parameters = 0, multiply_adds = 0;
};
// The backbone's ONNX (export_onnx, output named `output`) written to `file` (atomic), its sha256,
// parameter and multiply-add counts, and its parity with libtorch on the reference and opencv-dnn
// backends (3 seeded inputs in [-1, 1]; max |difference| <= 1e-4 x max(1, max |output|), else
// Error(Internal)). The one export path of export_run and export_landmark_run.
ExportResult write_checked_onnx(BackboneImpl& net, const std::string& output, const std::filesystem::path& file,
                                uint64_t seed);
// A run's config.json. Throws what reading the file throws, Error(BadModel) when it is not valid JSON.
nlohmann::json read_run_config(const std::filesystem::path& run_dir);
// The backbone `options` names with the weights of `checkpoint`, in eval mode. Throws
// Error(NotFound) naming the run for an empty checkpoint (none intact), and as load_backbone.
Backbone load_run_network(const BackboneOptions& options, const std::filesystem::path& run_dir,
                          const std::filesystem::path& checkpoint);
// Adds `entry` (name, task and what is particular to the model) to the manifest at `manifest_out`
// (created from `base` when missing), completed with what every network trained here shares:
// format "onnx", the file relative to the manifest and its sha256 (from `onnx`), float32 weights,
// and the input spec (input_side square, NCHW RGB, (x − 127.5) / 128). The one home of that entry
// for export_run and export_landmark_run. Throws what Manifest::load / add_model / save throw.
void add_trained_model(const Manifest& base, const std::filesystem::path& manifest_out, const ExportResult& onnx,
                       int64_t input_side, nlohmann::json entry);
ExportResult export_run(const Manifest& base, const std::filesystem::path& run_dir, const std::string& name,
                        const std::filesystem::path& manifest_out, const std::filesystem::path& checkpoint = {});

}  // namespace facerec::train
