#pragma once
// Training the 68-point landmark CNN (LandmarkNet, backbones.hpp) with wing loss, L1 or L2.
//
// Data: 300-W folders (<name>.jpg beside <name>.pts, 68 points; read_300w) and, optionally, photos
// labelled by a teacher landmarker (pseudo-labels; never LFW: a folder under an "lfw" path is
// refused). Every face is framed as the pipeline frames it: the box of the configured detector
// (the detection holding the annotated face), so the network learns the crops it will be given.
// Each face is stored once as a "context" crop (2x the box side, 160 px) in <run>/data/.
//
// Training crops (96 px) are drawn from the context with the draws of (seed, step, slot): half
// framed by the detector box (side crop_scale x box, as LandmarkerOptions::crop_scale), half by
// the points' extent (side refine_scale x extent, as the landmarker's refinement pass), then
// rotated, scaled, shifted, mirrored (points re-indexed) and photometrically augmented (blur,
// JPEG, hue, brightness; augment.hpp). The loss is on point coordinates in pixels of the 96 px
// input. A seeded share of the labelled faces (validation_share) is held out; the validation NME
// is measured on it (detector framing, one pass), logged and plotted in <run>/report.html. Checkpoints are as the embedding
// trainer's (checkpoint.hpp) and a run resumes from its latest intact one exactly.
//
// What it represents: LandmarkTrainer owns one run directory. Thread safety: one thread at a
// time; libtorch uses `threads` intra-op threads.
#include <facerec/models.hpp>
#include <facerec/train/augment.hpp>
#include <facerec/train/backbones.hpp>
#include <facerec/train/trainer.hpp>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace facerec::train {

struct LandmarkTrainConfig {
  std::vector<std::string> labelled;  // 300-W folders (required, at least one)
  std::vector<std::string> pseudo;    // photo folders labelled by the teacher (optional)
  std::string teacher = "face_landmark_68_model";
  int teacher_passes = 2;
  bool teacher_flip = true;
  int max_pseudo = 4000;             // photos drawn (seeded) from the pseudo folders
  double labelled_share = 0.5;       // of each batch, when there are pseudo-labelled faces
  std::string detector = "blazeface+faceboxes";  // frames the faces (a DetectorOptions::model)
  double validation_share = 0.1;     // of the labelled faces, held out (seeded)
  BackboneOptions backbone{"landmarknet", 136, 96, 1.0, 0.0};
  std::string loss = "wing";  // wing | l1 | l2 (landmark_loss)
  double wing_w = 10, wing_epsilon = 2;
  // framing and geometric augmentation
  double crop_scale = 1.25, refine_scale = 1.4;
  double rotate_deg = 20, scale_jitter = 0.1, shift = 0.06, flip_p = 0.5;
  bool augment = true;
  // the seed's list; flip_p is ignored (mirroring is geometric here: flip_p above)
  AugmentOptions photometric = [] {
    AugmentOptions a;
    a.flip_p = 0;
    return a;
  }();
  // optimiser: AdamW, linear warm-up then cosine
  int batch = 64;
  int64_t steps = 6000, warmup_steps = 200;
  double lr = 2e-3, weight_decay = 1e-4;
  int64_t log_every = 50, validate_every = 1000, checkpoint_every = 500;
  int keep_checkpoints = 2;
  int threads = 0;
  uint64_t seed = 1;

  // Throws Error(InvalidArgument) naming the field.
  void validate() const;
  nlohmann::json to_json() const;
  // Unknown fields are an error. Throws Error(InvalidArgument) naming the field.
  static LandmarkTrainConfig from_json(const nlohmann::json& j);
};

struct LandmarkProgress {
  int64_t step = 0, steps = 0;
  double loss = 0, lr = 0, samples_per_s = 0, eta_s = 0;
  double data_share = 0;  // of the time, spent making crops (the rest: forward, backward, step)
};

class LandmarkTrainer {
 public:
  // Creates or (with `resume`) reopens the run; prepares the data on the first run (detection and
  // teacher labels, with progress on `on_message`). Throws Error(AlreadyExists) for an existing
  // run without resume, Error(InvalidArgument) for a config that differs from the stored one in
  // anything but steps, bookkeeping and threads, Error(BadInput) when no labelled face is found.
  LandmarkTrainer(const Manifest& manifest, LandmarkTrainConfig config, std::filesystem::path run_dir, bool resume,
                  const std::function<void(const std::string&)>& on_message = {});
  ~LandmarkTrainer();
  // Trains to config.steps or until keep_going(step) is false (a checkpoint is written then).
  int64_t run(const std::function<bool(int64_t)>& keep_going = {},
              const std::function<void(const LandmarkProgress&)>& on_progress = {},
              const std::function<void(const std::string&)>& on_message = {});
  // Mean NME (inter-ocular) on the held-out labelled faces, detector framing, one pass.
  double validate();
  void save_checkpoint();
  void write_report() const;  // report.html from log.jsonl: loss, held-out NME, learning rate
  int64_t step() const;
  const LandmarkTrainConfig& config() const;
  BackboneImpl& network();
  // The training crop and its 68 target points (pixels of the crop) of face `index` under the
  // draws of (step, slot); with augment false, the inference framing (detector box, no jitter).
  struct Sample {
    cv::Mat crop;  // 8-bit BGR, input x input
    std::vector<cv::Point2f> points;
  };
  Sample sample(size_t index, bool augment, int64_t step, size_t slot) const;
  size_t size() const;  // faces prepared (labelled + pseudo)

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// Exports a landmark run (its latest intact checkpoint, or `checkpoint`) as a facerec model: trained/<name>.onnx
// beside `manifest_out` and its entry there (task landmarks, family ibug68, input 96 RGB
// (x − 127.5) / 128, output "landmarks" [N, 136]); parity with libtorch is checked on the
// reference and opencv-dnn backends. Throws as export_run.
ExportResult export_landmark_run(const Manifest& base, const std::filesystem::path& run_dir, const std::string& name,
                                 const std::filesystem::path& manifest_out, const std::filesystem::path& checkpoint = {});

}  // namespace facerec::train
