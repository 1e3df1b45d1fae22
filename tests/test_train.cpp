// The training heads and losses against hand computations: ArcFace / CosFace logits (with
// ArcFace's branch beyond θ + m = π), a finite-difference check of the head's gradients, and
// batch-hard triplet mining on a batch whose hardest pairs are known.
#include "test_util.hpp"

#include <facerec/error.hpp>
#include <facerec/train/attribute_heads.hpp>
#include <facerec/train/augment.hpp>
#include <facerec/train/backbones.hpp>
#include <facerec/train/data.hpp>
#include <facerec/train/landmark_trainer.hpp>
#include <facerec/train/losses.hpp>

#include <opencv2/imgproc.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>

namespace facerec::train {
namespace {

torch::Tensor i64(std::vector<int64_t> v) { return torch::tensor(v, torch::kInt64); }

// Attribute heads learn two factors that depend on different coordinates of the embedding, and
// refuse what they cannot train on.
TEST(AttributeHeads, LearnSeparableFactorsAndRefuseBadInput) {
  std::mt19937_64 rng(3);
  std::normal_distribution<float> n01;
  std::vector<std::vector<float>> rows;
  std::vector<std::vector<int>> labels(2);
  for (int i = 0; i < 400; ++i) {
    std::vector<float> v(8);
    for (auto& x : v) x = n01(rng);
    rows.push_back(v);
    labels[0].push_back(v[0] > 0 ? 1 : 0);                        // two classes by coordinate 0
    labels[1].push_back(v[1] < -0.5f ? 0 : v[1] < 0.5f ? 1 : 2);  // three by coordinate 1
  }
  labels[1][7] = -1;  // unknown: left out of that factor's loss
  std::vector<AttributeFactor> factors = {{"sign", {"neg", "pos"}}, {"band", {"low", "mid", "high"}}};
  AttributeHeadsOptions o;
  o.epochs = 200;
  auto heads = AttributeHeads::train(rows, factors, labels, o);
  int right[2] = {0, 0};
  for (size_t i = 0; i < rows.size(); ++i) {
    auto p = heads.predict(rows[i]);
    ASSERT_EQ(p.size(), 2u);
    ASSERT_EQ(p[1].size(), 3u);
    EXPECT_NEAR(p[1][0] + p[1][1] + p[1][2], 1.0f, 1e-5f);
    for (int f = 0; f < 2; ++f)
      right[f] += int(std::max_element(p[size_t(f)].begin(), p[size_t(f)].end()) - p[size_t(f)].begin()) ==
                  labels[size_t(f)][i];
  }
  EXPECT_GT(right[0], 380);
  EXPECT_GT(right[1], 360);
  EXPECT_ERROR(heads.predict(std::vector<float>(5)), ErrorKind::InvalidArgument, "trained on 8");
  EXPECT_ERROR(AttributeHeads::train({}, factors, labels, o), ErrorKind::InvalidArgument, "no rows");
  EXPECT_ERROR(AttributeHeads::train(rows, {{"one", {"x"}}}, {labels[0]}, o), ErrorKind::InvalidArgument,
               "two classes");
  auto bad = labels;
  bad[0][0] = 5;
  EXPECT_ERROR(AttributeHeads::train(rows, factors, bad, o), ErrorKind::InvalidArgument, "out of range");
}

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
  EXPECT_EQ(test::kind_of([&] { head->forward(x, i64({0, 3})); }), ErrorKind::InvalidArgument);
  EXPECT_EQ(test::kind_of([&] { head->forward(x, i64({0})); }), ErrorKind::InvalidArgument);
  EXPECT_EQ(test::kind_of([&] { head->forward(torch::randn({2, 5}), i64({0, 1})); }), ErrorKind::InvalidArgument);
  EXPECT_EQ(test::kind_of([&] { head->forward(x, torch::zeros({2}, torch::kInt32)); }), ErrorKind::InvalidArgument);
  EXPECT_EQ(test::kind_of([&] { MarginHead(MarginHeadOptions{HeadKind::ArcFace, 0, 4}); }), ErrorKind::InvalidArgument);
  EXPECT_EQ(test::kind_of([&] {
              MarginHead(MarginHeadOptions{HeadKind::ArcFace, 3, 4, 64, 2.0});
            }),
            ErrorKind::InvalidArgument);
  EXPECT_EQ(test::kind_of([] { parse_head_kind("sphereface"); }), ErrorKind::InvalidArgument);
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

// A sharp, colourful test card: edges for blur and JPEG to soften, hues to shift.
cv::Mat card() {
  cv::Mat m(112, 112, CV_8UC3, cv::Scalar(60, 120, 200));
  for (int i = 0; i < 112; i += 8) cv::line(m, {i, 0}, {i, 111}, cv::Scalar(250, 250, 250), 1);
  cv::circle(m, {40, 60}, 20, cv::Scalar(20, 200, 40), -1);
  cv::rectangle(m, {70, 10}, {100, 40}, cv::Scalar(200, 30, 30), -1);
  return m;
}

double sharpness(const cv::Mat& bgr) {  // mean absolute Laplacian of the grey image
  cv::Mat g, l;
  cv::cvtColor(bgr, g, cv::COLOR_BGR2GRAY);
  cv::Laplacian(g, l, CV_32F);
  return cv::mean(cv::abs(l))[0];
}

TEST(TrainAugment, SameSeedSameImageOtherSeedOtherImage) {
  AugmentOptions o;
  o.flip_p = o.jpeg_p = o.blur_p = o.hue_p = o.tone_p = o.lowres_p = 0.5;
  auto a = augment(card(), o, 42), b = augment(card(), o, 42);
  EXPECT_EQ(cv::norm(a, b, cv::NORM_INF), 0.0);
  int differ = 0;
  for (uint64_t seed = 1; seed <= 10; ++seed) differ += cv::norm(augment(card(), o, seed), a, cv::NORM_INF) > 0;
  EXPECT_GE(differ, 9);
  // changing one probability leaves the other operations' draws alone
  AugmentRecord r1, r2;
  AugmentOptions o2 = o;
  o2.flip_p = 0;
  augment(card(), o, 7, &r1);
  augment(card(), o2, 7, &r2);
  EXPECT_FALSE(r2.flip);
  EXPECT_EQ(r1.jpeg_quality, r2.jpeg_quality);
  EXPECT_EQ(r1.lowres, r2.lowres);
  EXPECT_EQ(r1.hue_deg, r2.hue_deg);
}

TEST(TrainAugment, EachOperationStaysInItsRangeAndDoesWhatItSays) {
  const cv::Mat in = card();
  AugmentOptions none;
  none.flip_p = none.jpeg_p = none.blur_p = none.hue_p = none.tone_p = none.lowres_p = 0;
  AugmentRecord r;
  EXPECT_EQ(cv::norm(augment(in, none, 3, &r), in, cv::NORM_INF), 0.0) << "all probabilities 0: unchanged";
  EXPECT_EQ(r.describe(), "none");

  AugmentOptions flip = none;
  flip.flip_p = 1;
  cv::Mat mirrored;
  cv::flip(in, mirrored, 1);
  EXPECT_EQ(cv::norm(augment(in, flip, 3), mirrored, cv::NORM_INF), 0.0);

  AugmentOptions all;
  all.flip_p = all.jpeg_p = all.blur_p = all.hue_p = all.tone_p = all.lowres_p = 1;
  for (uint64_t seed = 0; seed < 50; ++seed) {
    cv::Mat out = augment(in, all, seed, &r);
    ASSERT_EQ(out.size(), in.size());
    ASSERT_EQ(out.type(), in.type());
    EXPECT_TRUE(r.flip);
    EXPECT_GE(r.jpeg_quality, all.jpeg_quality_min);
    EXPECT_LE(r.jpeg_quality, all.jpeg_quality_max);
    EXPECT_TRUE((r.gaussian_sigma >= all.gaussian_sigma_min && r.gaussian_sigma <= all.gaussian_sigma_max) !=
                (r.motion_length >= all.motion_length_min && r.motion_length <= all.motion_length_max))
        << "exactly one blur: " << r.describe();
    EXPECT_LE(std::abs(r.hue_deg), all.hue_max_deg + 1.5);  // hue is quantised to 360/256 degrees
    EXPECT_LE(std::abs(r.brightness), all.brightness_max);
    EXPECT_GE(r.contrast, all.contrast_min);
    EXPECT_LE(r.contrast, all.contrast_max);
    EXPECT_GE(r.lowres, all.lowres_min);
    EXPECT_LE(r.lowres, all.lowres_max);
  }
  // blur and low resolution soften: each alone lowers the sharpness
  for (auto set : {+[](AugmentOptions& x) { x.blur_p = 1; }, +[](AugmentOptions& x) { x.lowres_p = 1; }}) {
    AugmentOptions one = none;
    set(one);
    EXPECT_LT(sharpness(augment(in, one, 5, &r)), 0.9 * sharpness(in)) << r.describe();
  }
  // JPEG changes the image, more at low quality than at high
  auto jpeg_error = [&](int lo, int hi) {
    AugmentOptions j = none;
    j.jpeg_p = 1;
    j.jpeg_quality_min = lo;
    j.jpeg_quality_max = hi;
    cv::Mat d;
    cv::absdiff(augment(in, j, 5), in, d);
    return cv::mean(d)[0];
  };
  EXPECT_GT(jpeg_error(20, 30), 1.5 * jpeg_error(95, 100));
  EXPECT_GT(jpeg_error(95, 100), 0.0);
  // a hue shift moves the green disc's hue by the recorded amount
  AugmentOptions hue = none;
  hue.hue_p = 1;
  hue.hue_max_deg = 30;
  cv::Mat shifted = augment(in, hue, 11, &r), h0, h1;
  ASSERT_NE(r.hue_deg, 0);
  cv::cvtColor(in, h0, cv::COLOR_BGR2HSV_FULL);
  cv::cvtColor(shifted, h1, cv::COLOR_BGR2HSV_FULL);
  double moved = (int(h1.at<cv::Vec3b>(60, 40)[0]) - int(h0.at<cv::Vec3b>(60, 40)[0])) * 360.0 / 256.0;
  EXPECT_NEAR(moved, r.hue_deg, 3.0);
}

// The camera effects added after the seed's list: under-exposure maps each level by the recorded
// gain and gamma; sensor noise has the recorded spread; both are off by default and leave the
// other operations' draws alone.
TEST(TrainAugment, ExposureAndNoiseDoWhatTheySayAndAreOffByDefault) {
  AugmentOptions none;
  none.flip_p = none.jpeg_p = none.blur_p = none.hue_p = none.tone_p = none.lowres_p = 0;
  EXPECT_EQ(AugmentOptions{}.exposure_p, 0.0);
  EXPECT_EQ(AugmentOptions{}.noise_p, 0.0);
  const cv::Mat grey(64, 64, CV_8UC3, cv::Scalar::all(160));
  AugmentRecord r;
  AugmentOptions ex = none;
  ex.exposure_p = 1;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    const cv::Mat out = augment(grey, ex, seed, &r);
    ASSERT_GE(r.gain, ex.gain_min);
    ASSERT_LE(r.gain, ex.gain_max);
    ASSERT_GE(r.gamma, ex.gamma_min);
    ASSERT_LE(r.gamma, ex.gamma_max);
    const double expect = 255.0 * r.gain * std::pow(160.0 / 255.0, r.gamma);
    EXPECT_NEAR(out.at<cv::Vec3b>(10, 10)[1], expect, 0.51) << r.describe();
    EXPECT_LT(out.at<cv::Vec3b>(10, 10)[1], 160) << "under-exposure darkens";
  }
  AugmentOptions no = none;
  no.noise_p = 1;
  no.noise_sigma_min = no.noise_sigma_max = 6;
  cv::Mat noisy = augment(grey, no, 3, &r), mean, sd;
  EXPECT_EQ(r.noise_sigma, 6.0);
  cv::meanStdDev(noisy.reshape(1), mean, sd);
  EXPECT_NEAR(sd.at<double>(0), 6.0, 0.5);
  EXPECT_NEAR(mean.at<double>(0), 160.0, 0.5);
  EXPECT_NE(r.describe().find("noise=6.0"), std::string::npos) << r.describe();
  // turning them on changes none of the other draws
  AugmentOptions base;
  base.flip_p = base.jpeg_p = base.blur_p = base.hue_p = base.tone_p = base.lowres_p = 0.5;
  AugmentOptions more = base;
  more.exposure_p = more.noise_p = 1;
  for (uint64_t seed = 0; seed < 10; ++seed) {
    AugmentRecord a, b;
    augment(card(), base, seed, &a);
    augment(card(), more, seed, &b);
    EXPECT_EQ(a.flip, b.flip);
    EXPECT_EQ(a.jpeg_quality, b.jpeg_quality);
    EXPECT_EQ(a.lowres, b.lowres);
    EXPECT_EQ(a.gaussian_sigma, b.gaussian_sigma);
    EXPECT_EQ(a.hue_deg, b.hue_deg);
    EXPECT_EQ(a.gain, 1.0);
    EXPECT_NE(b.gain, 1.0);
  }
  AugmentOptions bad;
  bad.gain_min = 0.9;
  bad.gain_max = 0.5;
  EXPECT_ERROR(validate(bad), ErrorKind::InvalidArgument, "gain");
  bad = {};
  bad.noise_p = -0.1;
  EXPECT_ERROR(validate(bad), ErrorKind::InvalidArgument, "noise_p");
}

// The distillation losses against a hand computation on unit vectors.
TEST(TrainDistill, CosineAndL2LossesMatchAHandComputation) {
  auto s = torch::tensor({{1.f, 0.f}, {0.6f, 0.8f}}), t = torch::tensor({{0.f, 1.f}, {0.6f, 0.8f}});
  // cosines 0 and 1: cosine loss mean(1, 0) = 0.5; l2 mean(2, 0) = 1
  EXPECT_NEAR(distillation_loss(s, t, "cosine").item<double>(), 0.5, 1e-6);
  EXPECT_NEAR(distillation_loss(s, t, "l2").item<double>(), 1.0, 1e-6);
  EXPECT_NEAR(distillation_loss(t, t, "cosine").item<double>(), 0.0, 1e-6);
  EXPECT_ERROR(distillation_loss(s, t, "kl"), ErrorKind::InvalidArgument, "cosine or l2");
  EXPECT_ERROR(distillation_loss(s, torch::ones({2, 3}), "cosine"), ErrorKind::InvalidArgument, "[N, D]");
}

// The feature loss: the teacher's map average-pooled to the student's resolution, the relative
// squared error per pair, the mean over pairs; the adapters pair stages from the deepest.
TEST(TrainDistill, FeatureLossMatchesAHandComputationAndAdaptersPairTheDeepestStages) {
  // teacher 1x1x4x4 of 2x2 blocks with values 1, 2, 3, 4: pooled to 2x2 it is [[1, 2], [3, 4]],
  // standardised (mean 2.5, variance 1.25) [[-1.5, -0.5], [0.5, 1.5]] / sqrt(1.25)
  auto t = torch::tensor({1.f, 1.f, 2.f, 2.f, 1.f, 1.f, 2.f, 2.f, 3.f, 3.f, 4.f, 4.f, 3.f, 3.f, 4.f, 4.f})
               .reshape({1, 1, 4, 4});
  const float k = 1.f / std::sqrt(1.25f + 1e-5f);
  auto same = torch::tensor({-1.5f * k, -0.5f * k, 0.5f * k, 1.5f * k}).reshape({1, 1, 2, 2});
  auto s = same + torch::tensor({0.f, 0.f, 0.f, 2.f}).reshape({1, 1, 2, 2});  // off by 2 in one of 4 cells
  EXPECT_NEAR(feature_distillation_loss({same}, {t}).item<double>(), 0.0, 1e-6);
  EXPECT_NEAR(feature_distillation_loss({s}, {t}).item<double>(), 1.0, 1e-5);  // 2² / 4
  EXPECT_NEAR(feature_distillation_loss({s, s}, {t, t}).item<double>(), 1.0, 1e-5) << "mean over pairs";
  EXPECT_NEAR(feature_distillation_loss({same, s}, {t, t}).item<double>(), 0.5, 1e-5);
  // the teacher's scale and offset do not matter
  EXPECT_NEAR(feature_distillation_loss({s}, {t * 10 + 3}).item<double>(), 1.0, 1e-4);
  // the gradient reaches the student only
  auto sg = s.clone().requires_grad_(true), tg = t.clone().requires_grad_(true);
  feature_distillation_loss({sg}, {tg}).backward();
  EXPECT_GT(sg.grad().abs().sum().item<double>(), 0.0);
  EXPECT_FALSE(tg.grad().defined() && tg.grad().abs().sum().item<double>() > 0) << "the teacher is a target";
  EXPECT_ERROR(feature_distillation_loss({}, {}), ErrorKind::InvalidArgument, "as many");
  EXPECT_ERROR(feature_distillation_loss({s}, {t, t}), ErrorKind::InvalidArgument, "as many");
  EXPECT_ERROR(feature_distillation_loss({s}, {torch::zeros({1, 2, 4, 4})}), ErrorKind::InvalidArgument, "one N and C");

  // three student stages (8, 16, 32 channels), two teacher stages (24, 48): the deepest two pair
  FeatureAdapters a(std::vector<int64_t>{8, 16, 32}, std::vector<int64_t>{24, 48});
  EXPECT_EQ(a->pairs(), 2u);
  std::vector<torch::Tensor> st{torch::rand({2, 8, 16, 16}), torch::rand({2, 16, 8, 8}), torch::rand({2, 32, 4, 4})};
  std::vector<torch::Tensor> te{torch::rand({2, 24, 14, 14}), torch::rand({2, 48, 7, 7})};
  const auto l = a->forward(st, te);
  EXPECT_EQ(l.dim(), 0);
  EXPECT_GT(l.item<double>(), 0.0);
  // trained alone, the adapters fit a teacher that is a 1x1 map of the student's stages
  using torch::indexing::Slice;
  std::vector<torch::Tensor> target{
      torch::cat({st[1], -st[1].index({Slice(), Slice(0, 8)})}, 1).detach(),                 // 24 channels
      torch::cat({st[2] * 3 + 1, st[2].index({Slice(), Slice(0, 16)}) * 0.5}, 1).detach()};  // 48 channels
  torch::optim::Adam opt(a->parameters(), torch::optim::AdamOptions(0.05));
  const double first = a->forward(st, target).item<double>();
  double last = first;
  for (int i = 0; i < 200; ++i) {
    opt.zero_grad();
    auto li = a->forward(st, target);
    li.backward();
    opt.step();
    last = li.item<double>();
  }
  EXPECT_LT(last, 0.01 * first) << "a linear map of the student's channels is learnable";
  EXPECT_ERROR(a->forward({st[1], st[2]}, te), ErrorKind::InvalidArgument, "made for 3");
  EXPECT_ERROR(a->forward({st[0], st[0], st[0]}, te), ErrorKind::InvalidArgument, "channels");
  EXPECT_ERROR(FeatureAdapters(std::vector<int64_t>{}, std::vector<int64_t>{4}), ErrorKind::InvalidArgument, "stage");
}

// The stage features a backbone gives for feature distillation: the last map at each resolution.
TEST(TrainBackbones, StageFeaturesAreTheLastMapAtEachResolution) {
  torch::manual_seed(3);
  for (const auto& [name, width] :
       std::vector<std::pair<std::string, double>>{{"mobilefacenet", 0.5}, {"iresnet18", 0.25}}) {
    auto net = make_backbone({name, 64, 64, width, 0.0});
    net->eval();
    torch::NoGradGuard g;
    const auto x = torch::rand({2, 3, 64, 64});
    const auto r = forward_with_stages(*net, x);
    EXPECT_TRUE(torch::allclose(r.embedding, net->forward(x))) << name << ": the embedding is forward's";
    std::vector<int64_t> sides;
    for (const auto& t : r.stages) {
      EXPECT_EQ(t.size(0), 2);
      sides.push_back(t.size(2));
    }
    // MobileFaceNet halves four times from 64 (stride 2 stem: 32, 16, 8, 4); IResNet keeps 64 in its
    // stem, then four stride-2 stages: 64, 32, 16, 8, 4
    const std::vector<int64_t> want =
        name == "mobilefacenet" ? std::vector<int64_t>{32, 16, 8, 4} : std::vector<int64_t>{64, 32, 16, 8, 4};
    EXPECT_EQ(sides, want) << name;
  }
}

TEST(TrainLandmarks, WingL1AndL2LossesMatchAHandComputation) {
  const auto pred = torch::tensor({0.5f, -5.f, 15.f, 0.f}).reshape({1, 4}), target = torch::zeros({1, 4});
  const double w = 10, e = 2, c = w - w * std::log(1 + w / e);
  const double wing = (w * std::log(1 + 0.5 / e) + w * std::log(1 + 5 / e) + (15 - c) + 0) / 4;
  EXPECT_NEAR(landmark_loss(pred, target, "wing", w, e).item<double>(), wing, 1e-5);
  EXPECT_NEAR(landmark_loss(pred, target, "l1").item<double>(), (0.5 + 5 + 15) / 4, 1e-6);
  EXPECT_NEAR(landmark_loss(pred, target, "l2").item<double>(), 0.5 * (0.25 + 25 + 225) / 4, 1e-5);
  // continuous where the log part meets the linear part, and linear (slope 1) beyond it
  auto at = [&](float d) {
    return landmark_loss(torch::tensor({d}).reshape({1, 1}), torch::zeros({1, 1}), "wing").item<double>();
  };
  EXPECT_NEAR(at(9.9999f), at(10.0001f), 1e-3);
  EXPECT_NEAR(at(21.f) - at(20.f), 1.0, 1e-5);
  EXPECT_ERROR(landmark_loss(pred, target, "huber"), ErrorKind::InvalidArgument);
  EXPECT_ERROR(landmark_loss(pred, torch::zeros({1, 3}), "wing"), ErrorKind::InvalidArgument);
  EXPECT_ERROR(landmark_loss(pred, target, "wing", 0, 2), ErrorKind::InvalidArgument);
}

TEST(TrainLandmarks, LandmarkNetIsAQuarterOfFaceApisNetAndStartsAtTheCentre) {
  auto net = make_backbone({"landmarknet", 136, 96, 1.0, 0.0});
  const int64_t madds = multiply_adds(net);
  EXPECT_GT(madds, 10'000'000);
  EXPECT_LT(madds, 25'000'000);  // face-api's 68-point net: 52 M
  net->eval();
  torch::NoGradGuard g;
  const auto y = net->forward(torch::zeros({2, 3, 96, 96}));
  ASSERT_EQ(y.sizes().vec(), (std::vector<int64_t>{2, 136}));
  EXPECT_NEAR(y.mean().item<double>(), 0.5, 0.1);
  EXPECT_ERROR(make_backbone({"landmarknet", 136, 90, 1.0, 0.0}), ErrorKind::InvalidArgument);
}

TEST(TrainLandmarks, ConfigIsCheckedAndRefusesLfw) {
  LandmarkTrainConfig c;
  c.labelled = {"/data/300w/helen_train"};
  EXPECT_NO_THROW(c.validate());
  auto back = LandmarkTrainConfig::from_json(c.to_json());
  EXPECT_EQ(back.to_json(), c.to_json());
  auto j = c.to_json();
  j["wing_omega"] = 3;
  EXPECT_ERROR(LandmarkTrainConfig::from_json(j), ErrorKind::InvalidArgument, "wing_omega");
  auto bad = c;
  bad.pseudo = {"../shared/data/lfw/images"};
  EXPECT_ERROR(bad.validate(), ErrorKind::InvalidArgument, "LFW");
  bad.pseudo = {"/data/LFW-deepfunneled"};
  EXPECT_ERROR(bad.validate(), ErrorKind::InvalidArgument, "LFW");
  bad.pseudo = {"/home/alfwood/photos"};  // a name that merely contains the letters
  EXPECT_NO_THROW(bad.validate());
  bad = c;
  bad.loss = "huber";
  EXPECT_ERROR(bad.validate(), ErrorKind::InvalidArgument, "loss");
  bad = c;
  bad.labelled.clear();
  EXPECT_ERROR(bad.validate(), ErrorKind::InvalidArgument, "labelled");
  bad = c;
  bad.backbone.embedding = 10;
  EXPECT_ERROR(bad.validate(), ErrorKind::InvalidArgument, "outputs");
}

TEST(TrainAugment, BadOptionsAndImagesAreClearErrors) {
  AugmentOptions o;
  o.flip_p = 1.5;
  EXPECT_ERROR(validate(o), ErrorKind::InvalidArgument);
  o = {};
  o.jpeg_quality_min = 95;
  o.jpeg_quality_max = 20;
  EXPECT_ERROR(augment(card(), o, 1), ErrorKind::InvalidArgument, "jpeg_quality");
  EXPECT_ERROR(augment(cv::Mat(10, 10, CV_8UC1), AugmentOptions{}, 1), ErrorKind::InvalidArgument);
}

// The paper's figures (Chen et al. 2018, table 2 / section 4): 0.99 M parameters and 221 M
// multiply-adds at 112x112 with a 128-d embedding.
TEST(TrainBackbones, MobileFaceNetHasThePapersSizeAndShape) {
  torch::manual_seed(1);
  MobileFaceNet net(BackboneOptions{});
  int64_t params = 0;
  for (const auto& p : net->parameters()) params += p.numel();
  EXPECT_GT(params, 900'000);
  EXPECT_LT(params, 1'100'000) << params;
  const int64_t madds = multiply_adds(net);
  EXPECT_NEAR(double(madds), 221e6, 0.08 * 221e6) << madds;
  auto x = torch::randn({2, 3, 112, 112});
  auto y = net->forward(x);
  EXPECT_EQ(y.sizes(), (std::vector<int64_t>{2, 128}));
  y.sum().backward();
  for (const auto& p : net->parameters())
    ASSERT_TRUE(p.grad().defined() && torch::isfinite(p.grad()).all().item<bool>());
  MobileFaceNet wide(BackboneOptions{"mobilefacenet", 192, 128});
  EXPECT_EQ(wide->forward(torch::randn({2, 3, 128, 128})).sizes(), (std::vector<int64_t>{2, 192}));
  EXPECT_ERROR(net->forward(torch::randn({1, 3, 96, 96})), ErrorKind::InvalidArgument);
  EXPECT_ERROR(MobileFaceNet(BackboneOptions{"mobilefacenet", 128, 100}), ErrorKind::InvalidArgument);
  EXPECT_ERROR(MobileFaceNet(BackboneOptions{"resnet", 128, 112}), ErrorKind::InvalidArgument);
}

// A dataset of empty image files: identity i has i images (0..9), so min_images filters by index.
std::filesystem::path toy_dataset() {
  auto root = test::temp_dir("train-data");
  for (int i = 0; i < 10; ++i) {
    auto d = root / ("id" + std::to_string(i));
    std::filesystem::create_directories(d);
    for (int j = 0; j < i; ++j) std::ofstream(d / (std::to_string(j) + ".jpg")).put('x');
  }
  return root;
}

TEST(TrainData, SplitByIdentityIsFilteredDisjointAndSeeded) {
  auto root = toy_dataset();
  SplitOptions o;
  o.min_images = 3;  // id3 .. id9 stay (7 identities)
  o.validation_share = 0.3;
  auto a = split_identity_folders(root, o), b = split_identity_folders(root, o);
  EXPECT_EQ(a.dropped_identities, 2u);  // id1, id2 (id0 has no images: not an identity folder)
  EXPECT_EQ(a.train_identities.size() + a.validation_identities.size(), 7u);
  EXPECT_EQ(a.validation_identities.size(), 2u);  // floor(7 * 0.3)
  EXPECT_EQ(a.train_identities, b.train_identities);
  for (const auto& v : a.validation_identities)
    EXPECT_EQ(std::count(a.train_identities.begin(), a.train_identities.end(), v), 0) << v;
  for (const auto& s : a.train) EXPECT_EQ(s.image.substr(0, s.image.find('/')), a.train_identities.at(size_t(s.label)));
  size_t images = a.train.size() + a.validation.size();
  EXPECT_EQ(images, size_t(3 + 4 + 5 + 6 + 7 + 8 + 9));
  o.seed = 2;
  bool differs = false;
  for (uint64_t seed = 2; seed < 12 && !differs; ++seed) {
    o.seed = seed;
    differs = split_identity_folders(root, o).validation_identities != a.validation_identities;
  }
  EXPECT_TRUE(differs) << "the seed chooses the validation identities";
  o.min_images = 100;
  EXPECT_ERROR(split_identity_folders(root, o), ErrorKind::InvalidArgument);
  o.min_images = 2;
  o.validation_share = 1.0;
  EXPECT_ERROR(split_identity_folders(root, o), ErrorKind::InvalidArgument);
  std::filesystem::remove_all(root);
}

TEST(TrainData, PkBatchesHavePIdentitiesOfKAndDependOnlyOnSeedAndIndex) {
  auto root = toy_dataset();
  SplitOptions o;
  o.min_images = 1;
  o.validation_share = 0;
  auto split = split_identity_folders(root, o);  // id1 .. id9: 1 .. 9 images
  PkSampler pk(split.train, 4, 3, 99);
  EXPECT_EQ(pk.identities(), 9u);
  for (uint64_t b = 0; b < 50; ++b) {
    auto idx = pk.batch(b);
    ASSERT_EQ(idx.size(), 12u);
    std::map<int64_t, std::vector<size_t>> per;
    for (size_t i : idx) per[split.train.at(i).label].push_back(i);
    ASSERT_EQ(per.size(), 4u) << "P distinct identities";
    for (const auto& [label, v] : per) {
      EXPECT_EQ(v.size(), 3u);
      std::set<size_t> distinct(v.begin(), v.end());
      size_t have = 0;
      for (const auto& s : split.train) have += s.label == label;
      if (have >= 3)
        EXPECT_EQ(distinct.size(), 3u) << "without replacement when there are K images";
      else
        EXPECT_LE(distinct.size(), have) << "with replacement below K";
    }
    EXPECT_EQ(idx, PkSampler(split.train, 4, 3, 99).batch(b)) << "a resumed run draws the same batch";
  }
  EXPECT_NE(pk.batch(0), pk.batch(1));
  EXPECT_ERROR(PkSampler(split.train, 10, 2, 1), ErrorKind::InvalidArgument);
  EXPECT_ERROR(PkSampler(split.train, 2, 0, 1), ErrorKind::InvalidArgument);
  std::filesystem::remove_all(root);
}

}  // namespace
}  // namespace facerec::train
