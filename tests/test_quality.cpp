// Face quality: the measurements on synthetic faces (geometry, blur, exposure), the logistic
// model (fit, predict, save/load, refusals), the error-versus-discard curves and the training rows
// on synthetic data, and the enrolment refusal.
#include "test_util.hpp"

#include <facerec/align.hpp>
#include <facerec/error.hpp>
#include <facerec/eval/attributes.hpp>
#include <facerec/eval/fairness.hpp>
#include <facerec/eval/quality_eval.hpp>
#include <facerec/gallery/enrol.hpp>
#include <facerec/quality.hpp>

#include "common/fs.hpp"

#include <gtest/gtest.h>
#include <opencv2/imgproc.hpp>

#include <cmath>
#include <random>

namespace facerec {
namespace {

// A textured 400x400 image and the ArcFace template's five points scaled by `scale` about the
// image centre, rotated by `roll_deg`, with the nose moved `nose_dx` template pixels sideways.
struct Synthetic {
  cv::Mat image;
  FivePoints five;
};
Synthetic synthetic_face(double scale = 2.0, double roll_deg = 0, float nose_dx = 0, uint64_t seed = 1) {
  Synthetic s;
  s.image = cv::Mat(400, 400, CV_8UC3);
  cv::RNG rng(seed);
  rng.fill(s.image, cv::RNG::UNIFORM, cv::Scalar::all(40), cv::Scalar::all(215));
  cv::GaussianBlur(s.image, s.image, cv::Size(0, 0), 1.0);
  const double a = roll_deg * CV_PI / 180;
  for (int i = 0; i < 5; ++i) {
    cv::Point2f p = arcface_template_112()[i] - cv::Point2f(56, 56);
    if (i == 2) p.x += nose_dx;
    p *= float(scale);
    s.five[i] = cv::Point2f(float(p.x * std::cos(a) - p.y * std::sin(a)) + 200.f,
                            float(p.x * std::sin(a) + p.y * std::cos(a)) + 200.f);
  }
  return s;
}

TEST(Quality, GeometryFromFivePoints) {
  auto frontal = measure_quality(synthetic_face().image, synthetic_face().five, 0.9f);
  EXPECT_NEAR(frontal.interocular, 2.0 * (73.5318 - 38.2946), 0.5);
  EXPECT_NEAR(frontal.yaw, 0, 2);
  EXPECT_NEAR(frontal.pitch, 0, 2);
  EXPECT_NEAR(frontal.roll, 0, 1);
  EXPECT_FLOAT_EQ(frontal.detection, 0.9f);
  auto tilted = synthetic_face(2.0, 30);
  EXPECT_NEAR(measure_quality(tilted.image, tilted.five, 1).roll, 30, 1);
  EXPECT_NEAR(measure_quality(tilted.image, tilted.five, 1).yaw, 0, 2);  // roll is not yaw
  auto turned = synthetic_face(2.0, 0, 12);                              // the nose towards the image's right
  auto t = measure_quality(turned.image, turned.five, 1);
  EXPECT_GT(t.yaw, 15);
  EXPECT_LT(t.yaw, 40);
  auto other = synthetic_face(2.0, 0, -12);
  EXPECT_NEAR(measure_quality(other.image, other.five, 1).yaw, -t.yaw, 0.5);
  QualityModel unfitted;
  EXPECT_GT(unfitted.assess(frontal).pose, unfitted.assess(t).pose);
}

TEST(Quality, BlurDarknessAndSizeLowerTheirComponents) {
  QualityModel unfitted;
  auto s = synthetic_face();
  auto sharp = unfitted.assess(measure_quality(s.image, s.five, 1));
  cv::Mat blurred, dark;
  cv::GaussianBlur(s.image, blurred, cv::Size(0, 0), 4.0);
  auto soft = unfitted.assess(measure_quality(blurred, s.five, 1));
  EXPECT_LT(soft.measures.laplacian, sharp.measures.laplacian / 10);
  EXPECT_LT(soft.sharpness, sharp.sharpness);
  s.image.convertTo(dark, -1, 0.15, 0);
  auto dim = unfitted.assess(measure_quality(dark, s.five, 1));
  EXPECT_LT(dim.measures.brightness, 0.1);
  EXPECT_LT(dim.exposure, sharp.exposure / 2);
  auto small = synthetic_face(0.4);
  EXPECT_LT(unfitted.assess(measure_quality(small.image, small.five, 1)).size, sharp.size);
  EXPECT_EQ(sharp.model, "components");
  EXPECT_GT(sharp.score, soft.score);
  FivePoints same{};
  EXPECT_ERROR(measure_quality(s.image, same, 1), ErrorKind::InvalidArgument, "coincide");
  EXPECT_ERROR(measure_quality(cv::Mat(), s.five, 1), ErrorKind::InvalidArgument, "BGR");
}

TEST(Quality, LogisticFitPredictsItsOwnModelAndSurvivesSaveLoad) {
  // outcomes drawn from a known logistic model of two of the features
  std::mt19937_64 rng(7);
  std::normal_distribution<double> n01;
  std::vector<std::vector<double>> rows;
  std::vector<double> y;
  for (int i = 0; i < 3000; ++i) {
    QualityMeasures m;
    m.interocular = float(std::exp(3.3 + 0.5 * n01(rng)));
    m.laplacian = float(std::pow(10.0, 2 + 0.6 * n01(rng)));
    m.brightness = 0.5f;
    m.contrast = 0.15f;
    m.detection = 0.9f;
    auto x = QualityModel::features(m);
    double p = 1 / (1 + std::exp(-(2.0 * (x[0] - 3.3) / 0.5 + 1.0 * (x[1] - 2) / 0.6)));
    rows.push_back(x);
    y.push_back(std::bernoulli_distribution(p)(rng) ? 1.0 : 0.0);
  }
  auto model = QualityModel::fit(rows, y);
  ASSERT_TRUE(model.fitted());
  double err = 0;
  for (size_t i = 0; i < 200; ++i) {
    double truth = 1 / (1 + std::exp(-(2.0 * (rows[i][0] - 3.3) / 0.5 + 1.0 * (rows[i][1] - 2) / 0.6)));
    err += std::abs(model.predict(rows[i]) - truth) / 200;
  }
  EXPECT_LT(err, 0.05);
  model.floor = 0.4;
  model.provenance = "test";
  auto file = test::temp_dir("quality") / "q.json";
  model.save(file);
  auto back = QualityModel::load(file);
  EXPECT_DOUBLE_EQ(back.floor, 0.4);
  EXPECT_EQ(back.provenance, "test");
  for (size_t i = 0; i < 20; ++i) EXPECT_DOUBLE_EQ(back.predict(rows[i]), model.predict(rows[i]));
  QualityMeasures m;
  m.interocular = 60;
  m.laplacian = 500;
  EXPECT_EQ(back.assess(m).model, "logistic");
  EXPECT_NEAR(back.assess(m).score, back.predict(QualityModel::features(m)), 1e-6);
  // refusals
  EXPECT_ERROR(QualityModel::load(file.parent_path() / "none.json"), ErrorKind::NotFound, "none.json");
  detail::write_file_atomic(file, "{\"format\": \"something else\"}");
  EXPECT_ERROR(QualityModel::load(file), ErrorKind::BadModel, "not a facerec quality model");
  detail::write_file_atomic(file, "{not json");
  EXPECT_ERROR(QualityModel::load(file), ErrorKind::BadModel, "not a valid quality model");
  EXPECT_ERROR(QualityModel::fit({{1.0}}, {1.0}), ErrorKind::InvalidArgument, "10 rows");
  EXPECT_ERROR(QualityModel().predict(rows[0]), ErrorKind::InvalidArgument, "not fitted");
}

TEST(Quality, ErrorVersusDiscardFallsWhenQualityExplainsTheMisses) {
  // 1000 genuine pairs: the low-quality ones (interocular 12) miss the threshold, the others match
  std::vector<QualityPair> pairs;
  for (int i = 0; i < 1000; ++i) {
    QualityPair p;
    bool low = i % 10 == 0;
    p.a.interocular = low ? 12.f : 50.f;
    p.b.interocular = p.a.interocular;
    p.similarity = low ? 0.2f : 0.9f;
    pairs.push_back(p);
  }
  QualityMeasure size{"size", [](const QualityMeasures& m) { return double(m.interocular); }};
  auto c = error_versus_discard(pairs, 0.5, size, 0.3, 30);
  ASSERT_EQ(c.fnmr.size(), 31u);
  EXPECT_DOUBLE_EQ(c.fnmr.front(), 0.1);
  EXPECT_DOUBLE_EQ(c.fnmr[10], 0.0);  // 10% discarded: every miss gone
  auto r = random_discard(pairs, 0.5, 1, 50, 0.3, 30);
  EXPECT_NEAR(r.fnmr[10], 0.1, 0.02);  // at random: no better
  EXPECT_LT(c.area, r.area);
  QualityMeasure backwards{"backwards", [](const QualityMeasures& m) { return -double(m.interocular); }};
  EXPECT_GT(error_versus_discard(pairs, 0.5, backwards, 0.3, 30).fnmr[10], 0.1);
  EXPECT_ERROR(error_versus_discard({}, 0.5, size), ErrorKind::InvalidArgument, "no genuine");
  EXPECT_ERROR(error_versus_discard(pairs, 0.5, size, 1.5), ErrorKind::InvalidArgument, "max_discard");
}

TEST(Quality, TrainingRowsCompareEachFaceWithItsIdentitysOtherReferences) {
  auto unit = [](float x, float y) {
    float n = std::sqrt(x * x + y * y);
    return ImageEmbedding{true, {x / n, y / n}};
  };
  EmbeddingTable refs = {
      {"a/1.jpg", unit(1, 0)}, {"a/2.jpg", unit(1, 0.1f)}, {"a/3.jpg", unit(0, 1)}, {"b/1.jpg", unit(1, 1)}};
  EmbeddingTable probes = {{"a/1.jpg", unit(1, 0)}, {"b/1.jpg", unit(1, 1)}, {"c/1.jpg", unit(1, 0)}};
  std::map<std::string, QualityMeasures> measures;
  for (const auto& [k, v] : probes) measures[k].interocular = 30;
  auto set = quality_training_set(refs, probes, measures, 0.9);
  // a/1 against a/2 (match) and a/3 (no match), not itself; b has no other reference; c none at all
  ASSERT_EQ(set.images, std::vector<std::string>{"a/1.jpg"});
  EXPECT_DOUBLE_EQ(set.outcomes[0], 0.5);
  EXPECT_EQ(set.rows[0], QualityModel::features(measures["a/1.jpg"]));
}

TEST(Quality, EnrolmentRefusesFacesBelowTheFloorNamingWhy) {
  Face f;
  f.quality.score = 0.2f;
  f.quality.size = 0.9f;
  f.quality.sharpness = 0.1f;
  f.quality.exposure = 0.8f;
  f.quality.pose = 0.5f;
  f.quality.measures.interocular = 33;
  auto why = enrol_refusal(f, 0.3);
  EXPECT_NE(why.find("0.20 is below the enrolment floor 0.30"), std::string::npos) << why;
  EXPECT_NE(why.find("weakest: sharpness 0.10, pose 0.50"), std::string::npos) << why;
  EXPECT_EQ(enrol_refusal(f, 0.2), "");
  f.quality.score = -1;  // not assessed
  EXPECT_EQ(enrol_refusal(f, 0.3), "");
}

// Confusion matrices and identity labels by majority, on counts worked out by hand.
TEST(Attributes, ConfusionAndMajorityLabels) {
  auto c = confusion({"a", "b", "c"}, {0, 0, 1, 1, 1, 2}, {0, 1, 1, 1, 0, 2});
  EXPECT_EQ(c.total(), 6u);
  EXPECT_EQ(c.counts[1][0], 1u);
  EXPECT_DOUBLE_EQ(c.accuracy(), 4.0 / 6);
  EXPECT_DOUBLE_EQ(c.per_class()[0], 0.5);
  EXPECT_DOUBLE_EQ(c.balanced_accuracy(), (0.5 + 2.0 / 3 + 1.0) / 3);
  EXPECT_ERROR(confusion({"a"}, {0}, {1}), ErrorKind::InvalidArgument, "out of range");
  auto labels = label_identities(
      {{"ann/1.jpg", {1, 0}}, {"ann/2.jpg", {1, 2}}, {"ann/3.jpg", {0, 2}}, {"bob/1.jpg", {0, 1}}}, {2, 3});
  ASSERT_EQ(labels.size(), 2u);
  EXPECT_EQ(labels[0].identity, "ann");
  EXPECT_EQ(labels[0].images, 3u);
  EXPECT_EQ(labels[0].label, (std::vector<int>{1, 2}));
  EXPECT_NEAR(labels[0].margin[0], 1.0 / 3, 1e-12);  // 2 votes against 1
  EXPECT_NEAR(labels[0].margin[1], 1.0 / 3, 1e-12);
  EXPECT_EQ(labels[1].label, (std::vector<int>{0, 1}));
  EXPECT_DOUBLE_EQ(labels[1].margin[0], 1.0);
  EXPECT_ERROR(label_identities({{"x/1.jpg", {0}}}, {2, 2}), ErrorKind::InvalidArgument, "one label per factor");
}

// The balanced protocol and its scoring on synthetic embeddings: group "b"'s genuine pairs are
// farther apart, so its FNMR is higher; both groups get the same numbers of pairs; a group too small
// is left out and named; 1:N finds each mate.
TEST(Fairness, BalancedGroupsAndTheirDifferentials) {
  std::map<std::string, std::vector<std::string>> people;
  std::map<std::string, std::string> group_of;
  EmbeddingTable table;
  std::mt19937_64 rng(5);
  std::normal_distribution<float> n01;
  auto unit = [](std::vector<float> v) {
    float n = 0;
    for (float x : v) n += x * x;
    for (float& x : v) x /= std::sqrt(n);
    return v;
  };
  for (int p = 0; p < 60; ++p) {
    const std::string id = "p" + std::to_string(p), g = p < 30 ? "a" : "b";
    std::vector<float> centre(32);
    for (auto& x : centre) x = n01(rng);
    const float spread = g == "a" ? 0.3f : 1.2f;  // b's photos of one person differ more
    for (int k = 0; k < 4; ++k) {
      std::vector<float> v = centre;
      for (auto& x : v) x += spread * n01(rng);
      const std::string image = id + "/" + std::to_string(k) + ".jpg";
      people[id].push_back(image);
      table[image] = ImageEmbedding{true, unit(v)};
    }
    group_of[id] = g;
  }
  people["lone"] = {"lone/0.jpg"};
  group_of["lone"] = "c";
  FairnessOptions o;
  o.min_genuine = 20;
  o.max_impostor = 400;
  o.bootstrap = 100;
  auto protocol = make_fairness_protocol(people, group_of, o);
  ASSERT_EQ(protocol.groups.size(), 2u);
  ASSERT_EQ(protocol.left_out.size(), 1u);
  EXPECT_NE(protocol.left_out[0].find("c (1 people"), std::string::npos) << protocol.left_out[0];
  EXPECT_EQ(protocol.groups[0].genuine.size(), protocol.groups[1].genuine.size());
  EXPECT_EQ(protocol.groups[0].impostor.size(), 400u);
  EXPECT_EQ(protocol.groups[1].impostor.size(), 400u);
  for (const auto& g : protocol.groups)
    for (const auto& [x, y] : g.impostor) EXPECT_NE(identity_of(x), identity_of(y));
  auto r = evaluate_fairness(protocol, table, table, 0.5, o);
  ASSERT_EQ(r.groups.size(), 2u);
  EXPECT_LT(r.groups[0].fnmr.value, r.groups[1].fnmr.value);
  EXPECT_LE(r.groups[0].fnmr.low, r.groups[0].fnmr.value);
  EXPECT_GE(r.groups[0].fnmr.high, r.groups[0].fnmr.value);
  EXPECT_EQ(r.fnmr_max_group, "b");
  EXPECT_GT(r.fnmr_ratio.value, 1.0);
  EXPECT_DOUBLE_EQ(r.groups[0].rank1.value, 1.0);  // tight clusters: every mate ranks first
  EXPECT_EQ(r.groups[0].rank1.count, 30u * 3);
  // no non-mated searches here (everyone has four photos): FNIR at a fixed FPIR cannot be measured
  EXPECT_TRUE(std::isnan(r.groups[0].fnir_at_fpir.value));
  // a missing face is an error of the comparison, never a match
  EmbeddingTable missing = table;
  for (auto& [k, v] : missing) v.found = false;
  auto m = evaluate_fairness(protocol, missing, missing, 0.5, o);
  EXPECT_DOUBLE_EQ(m.groups[0].fnmr.value, 1.0);
  EXPECT_DOUBLE_EQ(m.groups[0].fmr.value, 0.0);
  EXPECT_ERROR(make_fairness_protocol(people, {{"lone", "c"}}, o), ErrorKind::InvalidArgument, "no group");
}

}  // namespace
}  // namespace facerec
