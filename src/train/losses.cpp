// Classification heads with angular / cosine margins, and the batch-hard triplet loss.
#include <facerec/error.hpp>
#include <facerec/train/losses.hpp>

#include <algorithm>
#include <cmath>

namespace facerec::train {

namespace {

void check_labels(const torch::Tensor& labels, int64_t n, int64_t classes, const char* what) {
  if (labels.dim() != 1 || labels.size(0) != n || labels.scalar_type() != torch::kInt64)
    throw Error(ErrorKind::InvalidArgument,
                std::string(what) + ": labels must be one int64 per row (" + std::to_string(n) + ")");
  if (n > 0 && classes > 0 && (labels.min().item<int64_t>() < 0 || labels.max().item<int64_t>() >= classes))
    throw Error(ErrorKind::InvalidArgument,
                std::string(what) + ": a label is outside [0, " + std::to_string(classes) + ")");
}

}  // namespace

HeadKind parse_head_kind(const std::string& name) {
  if (name == "softmax") return HeadKind::Softmax;
  if (name == "cosface") return HeadKind::CosFace;
  if (name == "arcface") return HeadKind::ArcFace;
  throw Error(ErrorKind::InvalidArgument, "head '" + name + "': expected softmax, cosface or arcface");
}

torch::Tensor margin_logits(const torch::Tensor& cosine, const torch::Tensor& labels, HeadKind kind, double s,
                            double m) {
  if (cosine.dim() != 2) throw Error(ErrorKind::InvalidArgument, "margin_logits: cosines must be [N, classes]");
  check_labels(labels, cosine.size(0), cosine.size(1), "margin_logits");
  if (kind == HeadKind::Softmax) return cosine * s;
  auto target = cosine.gather(1, labels.unsqueeze(1));  // [N, 1]
  torch::Tensor with_margin;
  if (kind == HeadKind::CosFace) {
    with_margin = target - m;
  } else {
    // cos(θ + m) = cos θ cos m − sin θ sin m, while θ + m <= π; beyond: cos θ − m sin m
    auto sine = torch::sqrt(torch::clamp_min(1.0 - target * target, 1e-12));
    auto phi = target * std::cos(m) - sine * std::sin(m);
    with_margin = torch::where(target > std::cos(M_PI - m), phi, target - m * std::sin(m));
  }
  return cosine.scatter(1, labels.unsqueeze(1), with_margin) * s;
}

MarginHeadImpl::MarginHeadImpl(const MarginHeadOptions& o) : options_(o) {
  if (o.classes <= 0 || o.dim <= 0) throw Error(ErrorKind::InvalidArgument, "margin head: classes and dim must be > 0");
  if (!(o.s > 0) || !(o.m >= 0 && o.m < M_PI / 2))
    throw Error(ErrorKind::InvalidArgument, "margin head: needs s > 0 and 0 <= m < pi/2");
  weight = register_parameter("weight", torch::randn({o.classes, o.dim}) * 0.01);
  if (o.kind == HeadKind::Softmax) bias = register_parameter("bias", torch::zeros({o.classes}));
}

torch::Tensor MarginHeadImpl::forward(const torch::Tensor& x, const torch::Tensor& labels) {
  if (x.dim() != 2 || x.size(1) != options_.dim)
    throw Error(ErrorKind::InvalidArgument,
                "margin head: embeddings must be [N, " + std::to_string(options_.dim) + "]");
  check_labels(labels, x.size(0), options_.classes, "margin head");
  if (options_.kind == HeadKind::Softmax) return torch::nn::functional::linear(x, weight, bias);
  namespace F = torch::nn::functional;
  auto cosine = F::linear(F::normalize(x, F::NormalizeFuncOptions().dim(1)),
                          F::normalize(weight, F::NormalizeFuncOptions().dim(1)))
                    .clamp(-1.0, 1.0);
  return margin_logits(cosine, labels, options_.kind, options_.s, options_.m);
}

TripletLoss batch_hard_triplet_loss(const torch::Tensor& embeddings, const torch::Tensor& labels, double margin) {
  if (embeddings.dim() != 2) throw Error(ErrorKind::InvalidArgument, "triplet loss: embeddings must be [N, D]");
  const int64_t n = embeddings.size(0);
  check_labels(labels, n, 0, "triplet loss");
  namespace F = torch::nn::functional;
  auto e = F::normalize(embeddings, F::NormalizeFuncOptions().dim(1));
  // squared distances from the Gram matrix; the root is kept away from 0 (its gradient)
  auto gram = e.matmul(e.t());
  auto sq = gram.diag().unsqueeze(0) + gram.diag().unsqueeze(1) - 2 * gram;
  auto dist = torch::sqrt(torch::clamp_min(sq, 1e-12));
  auto same = labels.unsqueeze(0) == labels.unsqueeze(1);
  auto eye = torch::eye(n, torch::TensorOptions().dtype(torch::kBool));
  auto positive = same & ~eye, negative = ~same;
  const double big = 1e9;
  auto pos_d = torch::where(positive, dist, torch::full_like(dist, -big));
  auto neg_d = torch::where(negative, dist, torch::full_like(dist, big));
  auto [hp_d, hp_i] = pos_d.max(1);
  auto [hn_d, hn_i] = neg_d.min(1);
  auto has_pos = positive.any(1), has_neg = negative.any(1);
  auto valid = has_pos & has_neg;
  TripletLoss out;
  out.hardest_positive = torch::where(has_pos, hp_i, torch::full_like(hp_i, -1));
  out.hardest_negative = torch::where(has_neg, hn_i, torch::full_like(hn_i, -1));
  out.anchors = valid.sum().item<int64_t>();
  auto per = torch::relu(hp_d - hn_d + margin);
  out.loss = out.anchors > 0 ? per.masked_select(valid).mean() : (embeddings.sum() * 0.0);
  return out;
}

torch::Tensor distillation_loss(const torch::Tensor& student, const torch::Tensor& teacher, const std::string& kind) {
  if (student.dim() != 2 || !student.sizes().equals(teacher.sizes()))
    throw Error(ErrorKind::InvalidArgument, "distillation: student and teacher embeddings must both be [N, D]");
  if (kind == "cosine") return (1 - (student * teacher).sum(1)).mean();
  if (kind == "l2") return (student - teacher).pow(2).sum(1).mean();
  throw Error(ErrorKind::InvalidArgument, "distillation: the loss is cosine or l2, not " + kind);
}

torch::Tensor feature_distillation_loss(const std::vector<torch::Tensor>& student,
                                        const std::vector<torch::Tensor>& teacher) {
  if (student.empty() || student.size() != teacher.size())
    throw Error(ErrorKind::InvalidArgument, "feature distillation: as many student as teacher maps (>= 1) needed");
  torch::Tensor total;
  for (size_t i = 0; i < student.size(); ++i) {
    const auto &s = student[i], &t = teacher[i];
    if (s.dim() != 4 || t.dim() != 4 || s.size(0) != t.size(0) || s.size(1) != t.size(1))
      throw Error(ErrorKind::InvalidArgument, "feature distillation: pair " + std::to_string(i) +
                                                  " needs maps [N, C, h, w] of one N and C on both sides");
    auto tp =
        t.size(2) == s.size(2) && t.size(3) == s.size(3) ? t : torch::adaptive_avg_pool2d(t, {s.size(2), s.size(3)});
    // standardised per channel over the batch and positions: every channel and stage weighs alike
    tp = tp.detach();
    const auto mean = tp.mean({0, 2, 3}, true);
    const auto var = (tp - mean).pow(2).mean({0, 2, 3}, true);
    const auto l = (s - (tp - mean) / (var + 1e-5).sqrt()).pow(2).mean();
    total = i == 0 ? l : total + l;
  }
  return total / double(student.size());
}

FeatureAdaptersImpl::FeatureAdaptersImpl(const std::vector<int64_t>& sc, const std::vector<int64_t>& tc)
    : student_stages_(sc.size()), teacher_stages_(tc.size()) {
  if (sc.empty() || tc.empty())
    throw Error(ErrorKind::InvalidArgument, "feature adapters: both networks need at least one stage");
  const size_t n = std::min(sc.size(), tc.size());
  for (size_t i = 0; i < n; ++i) {
    const int64_t in = sc[sc.size() - n + i], out = tc[tc.size() - n + i];
    if (in < 1 || out < 1) throw Error(ErrorKind::InvalidArgument, "feature adapters: channel counts must be > 0");
    convs_.push_back(
        register_module("a" + std::to_string(i), torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 1).bias(true))));
  }
}

torch::Tensor FeatureAdaptersImpl::forward(const std::vector<torch::Tensor>& student,
                                           const std::vector<torch::Tensor>& teacher) {
  if (student.size() != student_stages_ || teacher.size() != teacher_stages_)
    throw Error(ErrorKind::InvalidArgument, "feature adapters: made for " + std::to_string(student_stages_) +
                                                " student and " + std::to_string(teacher_stages_) +
                                                " teacher stages, given " + std::to_string(student.size()) + " and " +
                                                std::to_string(teacher.size()));
  const size_t n = convs_.size();
  std::vector<torch::Tensor> s, t;
  for (size_t i = 0; i < n; ++i) {
    const auto& x = student[student.size() - n + i];
    if (x.size(1) != convs_[i]->options.in_channels())
      throw Error(ErrorKind::InvalidArgument, "feature adapters: stage " + std::to_string(i) + " has " +
                                                  std::to_string(x.size(1)) + " channels, the adapter takes " +
                                                  std::to_string(convs_[i]->options.in_channels()));
    s.push_back(convs_[i]->forward(x));
    t.push_back(teacher[teacher.size() - n + i]);
  }
  return feature_distillation_loss(s, t);
}

torch::Tensor landmark_loss(const torch::Tensor& prediction, const torch::Tensor& target, const std::string& kind,
                            double w, double epsilon) {
  if (!prediction.sizes().equals(target.sizes()) || prediction.numel() == 0)
    throw Error(ErrorKind::InvalidArgument, "landmark_loss: prediction and target need one non-empty shape");
  const auto d = prediction - target;
  if (kind == "l1") return d.abs().mean();
  if (kind == "l2") return (0.5 * d * d).mean();
  if (kind != "wing")
    throw Error(ErrorKind::InvalidArgument, "landmark_loss: unknown kind '" + kind + "' (wing, l1, l2)");
  if (!(w > 0 && epsilon > 0))
    throw Error(ErrorKind::InvalidArgument, "landmark_loss: wing needs w > 0 and epsilon > 0");
  const double c = w - w * std::log(1.0 + w / epsilon);
  const auto a = d.abs();
  return torch::where(a < w, w * torch::log1p(a / epsilon), a - c).mean();
}

}  // namespace facerec::train
