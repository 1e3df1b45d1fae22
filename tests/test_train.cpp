// The training heads and losses against hand computations: ArcFace / CosFace logits (with
// ArcFace's branch beyond θ + m = π), a finite-difference check of the head's gradients, and
// batch-hard triplet mining on a batch whose hardest pairs are known.
#include <facerec/error.hpp>
#include <facerec/train/losses.hpp>

#include <gtest/gtest.h>

#include <cmath>

namespace facerec::train {
namespace {

torch::Tensor i64(std::vector<int64_t> v) { return torch::tensor(v, torch::kInt64); }

TEST(TrainHeads, ArcFaceAndCosFaceLogitsMatchAHandComputation) {
  const double s = 2.0, m = 0.5;
  // row 0: θ_y = acos(0.5) = 1.047, θ_y + m = 1.547 < π; row 1: θ_y = acos(-0.95) = 2.825, + m > π
  auto cosine = torch::tensor({0.5, 0.2, -0.3, -0.95, 0.1, 0.4}, torch::kFloat64).reshape({2, 3});
  auto labels = i64({0, 0});
  auto arc = margin_logits(cosine, labels, HeadKind::ArcFace, s, m);
  EXPECT_NEAR(arc[0][0].item<double>(), s * std::cos(std::acos(0.5) + m), 1e-12);
  EXPECT_NEAR(arc[1][0].item<double>(), s * (-0.95 - m * std::sin(m)), 1e-12) << "the branch beyond pi";
  EXPECT_NEAR(arc[0][1].item<double>(), s * 0.2, 1e-12) << "other classes get no margin";
  EXPECT_NEAR(arc[1][2].item<double>(), s * 0.4, 1e-12);
  auto cos = margin_logits(cosine, labels, HeadKind::CosFace, s, 0.35);
  EXPECT_NEAR(cos[0][0].item<double>(), s * (0.5 - 0.35), 1e-12);
  EXPECT_NEAR(cos[1][1].item<double>(), s * 0.1, 1e-12);
  auto plain = margin_logits(cosine, labels, HeadKind::Softmax, s, m);
  EXPECT_NEAR(plain[1][0].item<double>(), s * -0.95, 1e-12);
}

// The target logit must keep falling as the angle grows, across the switch at θ = π − m (where it
// steps down by cos m + m sin m − 1, as arcface_torch's form does: never up).
TEST(TrainHeads, ArcFaceTargetLogitFallsWithTheAngleEverywhere) {
  const double m = 0.5;
  auto theta = torch::linspace(0, M_PI, 2001, torch::kFloat64);
  auto cosine = torch::cos(theta).unsqueeze(1);  // one class
  auto logit = margin_logits(cosine, torch::zeros({2001}, torch::kInt64), HeadKind::ArcFace, 1.0, m).squeeze(1);
  auto diff = logit.slice(0, 1) - logit.slice(0, 0, -1);
  EXPECT_LE(diff.max().item<double>(), 1e-12);
  EXPECT_NEAR(diff.min().item<double>(), -(std::cos(m) + m * std::sin(m) - 1), 0.01) << "the one step, at pi - m";
}

// Autograd against central differences for the ArcFace and CosFace heads' weights and inputs.
TEST(TrainHeads, GradientsMatchFiniteDifferences) {
  torch::manual_seed(7);
  for (HeadKind kind : {HeadKind::ArcFace, HeadKind::CosFace, HeadKind::Softmax}) {
    MarginHead head(MarginHeadOptions{kind, 5, 4, 8.0, 0.3});
    head->to(torch::kFloat64);
    auto x = torch::randn({6, 4}, torch::kFloat64).requires_grad_(true);
    auto y = i64({0, 1, 2, 3, 4, 0});
    auto loss_of = [&] { return torch::nn::functional::cross_entropy(head->forward(x, y), y); };
    head->zero_grad();
    loss_of().backward();
    auto gw = head->weight.grad().clone(), gx = x.grad().clone();
    torch::NoGradGuard no_grad;
    const double eps = 1e-6;
    for (auto* p : {&head->weight, &x}) {
      const auto& g = p == &x ? gx : gw;
      for (int64_t i = 0; i < p->numel(); i += 3) {
        auto flat = p->view({-1});
        double old = flat[i].item<double>();
        flat[i] = old + eps;
        double up = loss_of().item<double>();
        flat[i] = old - eps;
        double down = loss_of().item<double>();
        flat[i] = old;
        double numeric = (up - down) / (2 * eps), analytic = g.view({-1})[i].item<double>();
        EXPECT_NEAR(analytic, numeric, 1e-6 + 1e-5 * std::abs(numeric))
            << "head " << int(kind) << (p == &x ? " input " : " weight ") << i;
      }
    }
  }
}

TEST(TrainHeads, BadShapesAndLabelsAreClearErrors) {
  MarginHead head(MarginHeadOptions{HeadKind::ArcFace, 3, 4});
  auto x = torch::randn({2, 4});
  auto kind_of = [](auto f) {
    try {
      f();
    } catch (const Error& e) {
      return e.kind();
    }
    return ErrorKind::Internal;
  };
  EXPECT_EQ(kind_of([&] { head->forward(x, i64({0, 3})); }), ErrorKind::InvalidArgument);
  EXPECT_EQ(kind_of([&] { head->forward(x, i64({0})); }), ErrorKind::InvalidArgument);
  EXPECT_EQ(kind_of([&] { head->forward(torch::randn({2, 5}), i64({0, 1})); }), ErrorKind::InvalidArgument);
  EXPECT_EQ(kind_of([&] { head->forward(x, torch::zeros({2}, torch::kInt32)); }), ErrorKind::InvalidArgument);
  EXPECT_EQ(kind_of([&] { MarginHead(MarginHeadOptions{HeadKind::ArcFace, 0, 4}); }), ErrorKind::InvalidArgument);
  EXPECT_EQ(kind_of([&] {
              MarginHead(MarginHeadOptions{HeadKind::ArcFace, 3, 4, 64, 2.0});
            }),
            ErrorKind::InvalidArgument);
  EXPECT_EQ(kind_of([] { parse_head_kind("sphereface"); }), ErrorKind::InvalidArgument);
  EXPECT_EQ(parse_head_kind("cosface"), HeadKind::CosFace);
}

// Six points on a circle (angles in degrees), labels A A B B C C: the hardest positive and
// negative of each anchor are known by construction.
TEST(TrainTriplet, BatchHardMiningPicksTheHardestPairs) {
  const double deg[] = {0, 40, 10, 100, 170, 200};
  std::vector<float> v;
  for (double d : deg) {
    v.push_back(float(std::cos(d * M_PI / 180)));
    v.push_back(float(std::sin(d * M_PI / 180)));
  }
  auto e = torch::tensor(v).reshape({6, 2});
  auto labels = i64({0, 0, 1, 1, 2, 2});
  auto r = batch_hard_triplet_loss(e, labels, 0.2);
  EXPECT_EQ(r.anchors, 6);
  // positives: each anchor has exactly one
  for (int64_t i = 0; i < 6; ++i) EXPECT_EQ(r.hardest_positive[i].item<int64_t>(), i ^ 1) << i;
  // nearest other-label point on the circle
  const int64_t want_neg[] = {2, 2, 0, 1, 3, 3};
  for (int64_t i = 0; i < 6; ++i) EXPECT_EQ(r.hardest_negative[i].item<int64_t>(), want_neg[i]) << i;
  // the loss by hand: chord length 2 sin(Δ/2)
  auto chord = [](double a, double b) { return 2 * std::sin(std::abs(a - b) * M_PI / 360); };
  double sum = 0;
  for (int64_t i = 0; i < 6; ++i)
    sum += std::max(0.0, chord(deg[i], deg[i ^ 1]) - chord(deg[i], deg[want_neg[i]]) + 0.2);
  EXPECT_NEAR(r.loss.item<double>(), sum / 6, 1e-5);
  // an anchor alone in its class counts neither way
  auto lone = batch_hard_triplet_loss(e, i64({0, 0, 1, 1, 2, 3}), 0.2);
  EXPECT_EQ(lone.anchors, 4);
  EXPECT_EQ(lone.hardest_positive[5].item<int64_t>(), -1);
  // gradients flow and are finite, identical embeddings included
  auto x = torch::ones({4, 3}).requires_grad_(true);
  batch_hard_triplet_loss(x, i64({0, 0, 1, 1}), 0.2).loss.backward();
  EXPECT_TRUE(torch::isfinite(x.grad()).all().item<bool>());
}

}  // namespace
}  // namespace facerec::train
