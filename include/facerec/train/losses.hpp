#pragma once
// facerec::train — the training toolchain on libtorch (component facerec_train, built when
// libtorch-dev is installed). This header: the classification heads and the triplet baseline.
//
// MarginHead (what it represents): the last layer of a face-recognition network in training — a
// weight row per identity, and the logits the cross-entropy loss reads:
//   softmax  W·x + b (plain);
//   CosFace  s·cos θ_j, and s·(cos θ_y − m) for the true class y (Wang et al. 2018);
//   ArcFace  s·cos θ_j, and s·cos(θ_y + m) for the true class (Deng et al. 2019); where θ_y + m
//            would pass π (cos θ_y < cos(π − m)) it is s·(cos θ_y − m·sin m) instead, so the target
//            logit keeps falling as θ_y grows (the form insightface's arcface_torch uses).
// θ_j is the angle between the embedding and row j, both L2-normalised.
// Thread safety: as torch::nn::Module (not for concurrent forward/backward on one instance).
#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

namespace facerec::train {

enum class HeadKind { Softmax, CosFace, ArcFace };
// "softmax" | "cosface" | "arcface"; throws Error(InvalidArgument) otherwise.
HeadKind parse_head_kind(const std::string& name);

struct MarginHeadOptions {
  HeadKind kind = HeadKind::ArcFace;
  int64_t classes = 0;  // identities
  int64_t dim = 0;      // embedding size
  double s = 64.0;      // scale (CosFace, ArcFace)
  double m = 0.5;       // margin: radians for ArcFace, cosine for CosFace
};

// The margin applied to cosines: `cosine` [N, C] in [-1, 1], `labels` [N] int64 in [0, C).
// Ensures: the logits [N, C] of the head kind (Softmax: s·cosine, no margin).
// Throws Error(InvalidArgument) for other shapes or a label out of range.
torch::Tensor margin_logits(const torch::Tensor& cosine, const torch::Tensor& labels, HeadKind kind, double s,
                            double m);

class MarginHeadImpl : public torch::nn::Module {
 public:
  // Requires: classes > 0, dim > 0, s > 0, 0 <= m < π/2. Throws Error(InvalidArgument) otherwise.
  explicit MarginHeadImpl(const MarginHeadOptions& options);
  // Logits [N, classes] for embeddings [N, dim] (normalised here for CosFace/ArcFace) and labels [N].
  // Throws Error(InvalidArgument) for other shapes or a label out of range.
  torch::Tensor forward(const torch::Tensor& embeddings, const torch::Tensor& labels);
  const MarginHeadOptions& options() const { return options_; }

  torch::Tensor weight;  // [classes, dim]
  torch::Tensor bias;    // [classes], softmax only (undefined otherwise)

 private:
  MarginHeadOptions options_;
};
TORCH_MODULE(MarginHead);

// The triplet baseline with batch-hard mining (Hermans et al. 2017) over a P×K batch: for every
// anchor, its farthest positive and its nearest negative (Euclidean distance between the
// L2-normalised embeddings), loss = mean over anchors of max(0, d(a, p) − d(a, n) + margin).
// Anchors without a positive or without a negative in the batch do not count.
struct TripletLoss {
  torch::Tensor loss;              // scalar (0 when no anchor counts)
  torch::Tensor hardest_positive;  // [N] int64, index in the batch (-1 when there is none)
  torch::Tensor hardest_negative;  // [N] int64 (-1 when there is none)
  int64_t anchors = 0;             // anchors that counted
};
// Requires: embeddings [N, D], labels [N] int64. Throws Error(InvalidArgument) otherwise.
TripletLoss batch_hard_triplet_loss(const torch::Tensor& embeddings, const torch::Tensor& labels, double margin);

// Embedding distillation: student and teacher embeddings [N, D], both L2-normalised; `kind`
// "cosine": mean of 1 − cos(s, t); "l2": mean of |s − t|² (= 2 − 2 cos on unit vectors). Throws
// Error(InvalidArgument) for other shapes or kinds.
torch::Tensor distillation_loss(const torch::Tensor& student, const torch::Tensor& teacher, const std::string& kind);

// Intermediate-feature distillation (after FitNets, Romero et al. 2015): for each pair of a student
// stage map s_i [N, C_i, h_i, w_i] already adapted to the teacher's channels and the teacher's stage
// map t_i [N, C_i, H_i, W_i], the teacher's map is average-pooled to the student's resolution
// (adaptive pooling, so 56 -> 32 works as 28 -> 14) and standardised per channel (mean 0, variance 1
// over the batch and positions; a constant, no gradient), and
//   loss_i = mean((s_i − standardised(pool(t_i)))²)
// so that channels and stages of any scale weigh alike; the loss is the mean over pairs.
// Requires: as many maps on both sides (>= 1), equal N and C per pair. Throws
// Error(InvalidArgument) otherwise.
torch::Tensor feature_distillation_loss(const std::vector<torch::Tensor>& student_adapted,
                                        const std::vector<torch::Tensor>& teacher);

// The adapters of feature distillation (what it represents): one 1x1 convolution (with bias) per
// stage pair, from the student's channels to the teacher's. Stages pair from the deepest: with
// `student_channels` and `teacher_channels` of different lengths the shallower extra stages of the
// longer side are not used. Thread safety: as torch::nn::Module.
class FeatureAdaptersImpl : public torch::nn::Module {
 public:
  // Requires: both lists non-empty, every count > 0. Throws Error(InvalidArgument) otherwise.
  FeatureAdaptersImpl(const std::vector<int64_t>& student_channels, const std::vector<int64_t>& teacher_channels);
  // The feature loss of the student's and teacher's stage maps (as forward_with_stages gives them,
  // all of them: the pairing above is applied here). Throws Error(InvalidArgument) for other stage
  // counts or channels than the constructor's.
  torch::Tensor forward(const std::vector<torch::Tensor>& student, const std::vector<torch::Tensor>& teacher);
  size_t pairs() const { return convs_.size(); }

 private:
  size_t student_stages_ = 0, teacher_stages_ = 0;
  std::vector<torch::nn::Conv2d> convs_;
};
TORCH_MODULE(FeatureAdapters);

// Landmark regression losses on point coordinates [N, 2K] (pixels of the network input), averaged
// over the N·2K coordinates of the difference d = prediction − target:
//   "wing" (Feng et al., CVPR 2018): w·ln(1 + |d|/ε) for |d| < w, |d| − C beyond, C = w − w·ln(1 + w/ε)
//     (continuous at |d| = w): log-like for small and medium errors, L1 for large ones;
//   "l1": |d|;  "l2": d²/2.
// Requires: prediction and target of one shape; for wing, w > 0 and ε > 0. Throws
// Error(InvalidArgument) otherwise or for another kind.
torch::Tensor landmark_loss(const torch::Tensor& prediction, const torch::Tensor& target, const std::string& kind,
                            double w = 10.0, double epsilon = 2.0);

}  // namespace facerec::train
