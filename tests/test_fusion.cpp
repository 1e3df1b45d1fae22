// Fused embedders: the fusion arithmetic (cosine of fused = weighted sum of centred cosines), the
// manifest's checks of a fused entry, the SDK's fused embedder against its components, the
// evaluation's fused variants against the SDK, and the weight search on synthetic tables.
#include "test_util.hpp"

#include <facerec/analyzer.hpp>
#include <facerec/embed.hpp>
#include <facerec/error.hpp>
#include <facerec/eval/dataset.hpp>
#include <facerec/eval/fusion.hpp>
#include <facerec/image.hpp>
#include <facerec/models.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <random>

namespace facerec {
namespace {

std::vector<float> random_unit(std::mt19937& rng, size_t n) {
  std::normal_distribution<float> g;
  std::vector<float> v(n);
  for (auto& x : v) x = g(rng);
  l2_normalise(v);
  return v;
}

double centred_cosine(const std::vector<float>& a, const std::vector<float>& b, const std::vector<float>& mean) {
  auto ca = a, cb = b;
  for (size_t q = 0; q < a.size(); ++q) ca[q] -= mean[q], cb[q] -= mean[q];
  return FaceAnalyzer::cosine(ca, cb);
}

TEST(Fusion, CosineOfFusedIsTheWeightedSumOfCentredCosines) {
  std::mt19937 rng(7);
  std::vector<FusionComponent> fuse{{"a", 0.3, random_unit(rng, 8)}, {"b", 0.7, random_unit(rng, 5)}};
  for (auto& x : fuse[0].mean) x *= 0.5f;
  for (int t = 0; t < 20; ++t) {
    auto a1 = random_unit(rng, 8), a2 = random_unit(rng, 8), b1 = random_unit(rng, 5), b2 = random_unit(rng, 5);
    auto f1 = fuse_embeddings(fuse, {a1, b1}), f2 = fuse_embeddings(fuse, {a2, b2});
    ASSERT_EQ(f1.size(), 13u);
    double n = 0;
    for (float x : f1) n += double(x) * x;
    EXPECT_NEAR(n, 1.0, 1e-5);
    double expected = 0.3 * centred_cosine(a1, a2, fuse[0].mean) + 0.7 * centred_cosine(b1, b2, fuse[1].mean);
    EXPECT_NEAR(FaceAnalyzer::cosine(f1, f2), expected, 1e-5);
  }
  EXPECT_TRUE(test::throws_error([&] { fuse_embeddings(fuse, {random_unit(rng, 8)}); }, ErrorKind::InvalidArgument));
  EXPECT_TRUE(test::throws_error(
      [&] {
        fuse_embeddings(fuse, {random_unit(rng, 8), random_unit(rng, 4)});
      },
      ErrorKind::InvalidArgument, "b gave 4 values"));
}

// The committed manifest with one more entry (nothing written).
Manifest with_entry(const std::string& json) {
  Manifest m = test::manifest();
  m.add_model(json, test::source_dir() / "models");
  return m;
}

std::string fused_json(double w1, double w2, size_t mean1 = 128, size_t mean2 = 192,
                       const std::string& second = "mobilefacenet-ms1m") {
  return fused_model_entry("test-fused",
                           {{"face_recognition_model", w1, std::vector<float>(mean1, 0.01f)},
                            {second, w2, std::vector<float>(mean2, -0.02f)}},
                           "test");
}

TEST(Fusion, ManifestChecksAFusedEntry) {
  auto m = with_entry(fused_json(0.4, 0.6));
  const auto& e = m.model("test-fused");
  EXPECT_EQ(e.format, "fused");
  ASSERT_EQ(e.fuse.size(), 2u);
  EXPECT_EQ(e.fuse[1].model, "mobilefacenet-ms1m");
  EXPECT_DOUBLE_EQ(e.fuse[0].weight, 0.4);
  EXPECT_EQ(e.fuse[1].mean.size(), 192u);
  EXPECT_TRUE(test::throws_error([&] { model_path(e); }, ErrorKind::InvalidArgument, "fused"));
  // the version names both packages and the recipe: another recipe is another model
  const auto v = m.model_version("test-fused");
  EXPECT_NE(v.find(m.model_version("face_recognition_model")), std::string::npos) << v;
  EXPECT_NE(v.find(m.model_version("mobilefacenet-ms1m")), std::string::npos) << v;
  EXPECT_NE(v.find("+fuse:"), std::string::npos) << v;
  EXPECT_NE(with_entry(fused_json(0.5, 0.5)).model_version("test-fused"), v);

  auto bad = [&](const std::string& json, const std::string& text) {
    Manifest c = test::manifest();
    EXPECT_TRUE(
        test::throws_error([&] { c.add_model(json, test::source_dir() / "models"); }, ErrorKind::BadModel, text))
        << json.substr(0, 200);
    EXPECT_THROW(c.model("test-fused"), Error) << "a refused entry must leave the manifest unchanged";
  };
  bad(fused_json(0.5, 0.6), "sum to 1");
  bad(fused_json(0.5, 0.5, 127), "127 values");
  bad(fused_json(0.5, 0.5, 128, 192, "no-such-model"), "no such model");
  bad(fused_json(0.5, 0.5, 128, 192, "blazeface"), "plain embedder");
  bad(R"({"name":"test-fused","task":"detect","format":"fused","fuse":[]})", "only embedders");
  bad(R"({"name":"test-fused","task":"embed","format":"fused","fuse":[{"model":"face_recognition_model",)"
      R"("weight":1,"mean":[]}]})",
      "at least two");
  bad(R"({"name":"test-fused","task":"embed","format":"fused","fuse":[{"model":"face_recognition_model",)"
      R"("weight":0,"mean":[]},{"model":"mobilefacenet-ms1m","weight":1,"mean":[]}]})",
      "weight must be in (0, 1]");
}

#define NEED_MODELS()                                                             \
  if (!std::filesystem::exists(test::shared_dir() / "data" / "lfw" / "images") || \
      !std::filesystem::exists(models_dir() / "mobilefacenet-ms1m.onnx"))         \
  GTEST_SKIP() << "needs ../shared/data/lfw and the imported models (`facerec models fetch`)"

// The SDK's fused embedder is its components side by side: one composite crop, one embedding equal
// to fuse_embeddings of what each component gives on its own crop; clones agree; a crop of
// another size is refused.
TEST(Fusion, SdkEmbedderIsItsComponentsFused) {
  NEED_MODELS();
  auto m = with_entry(fused_json(0.4, 0.6));
  const auto& entry = m.model("test-fused");
  auto img = decode_image_file(
      (test::shared_dir() / "data" / "lfw" / "images" / "Colin_Powell" / "Colin_Powell_0001.jpg").string());
  AnalyzerOptions ao;
  ao.embedder.model = "test-fused";
  ao.embedder.flip = true;
  ao.embedder.zoom = false;
  FaceAnalyzer fa(m, ao);
  auto faces = fa.analyze(img.bgr);
  ASSERT_EQ(faces.size(), 1u);
  const auto& f = faces[0];
  EXPECT_EQ(f.aligned.cols, 150 + 112);
  EXPECT_EQ(f.aligned.rows, 150);
  ASSERT_EQ(f.embedding.size(), 128u + 192u);
  EXPECT_EQ(fa.embedder_model(), "test-fused+flip");
  EXPECT_EQ(fa.template_model(), "test-fused+flip|" + m.model_version("test-fused"));

  std::vector<std::vector<float>> parts;
  for (const auto& c : entry.fuse) {
    EmbedderOptions eo = ao.embedder;
    eo.model = c.model;
    auto e = make_embedder(m, eo);
    parts.push_back(e->embed(e->align(img.bgr, f.five, f.landmarks)));
  }
  auto expected = fuse_embeddings(entry.fuse, parts);
  EXPECT_GT(FaceAnalyzer::cosine(expected, f.embedding), 0.99999f);

  EmbedderOptions eo = ao.embedder;
  auto fused = make_embedder(m, eo);
  auto copy = fused->clone();
  EXPECT_EQ(copy->dimension(), 320);
  EXPECT_GT(FaceAnalyzer::cosine(copy->embed(f.aligned), f.embedding), 0.99999f);
  EXPECT_TRUE(test::throws_error([&] { fused->embed(cv::Mat(150, 150, CV_8UC3, cv::Scalar::all(0))); },
                                 ErrorKind::InvalidArgument, "262x150"));
  // a stored crop re-embeds with the fused model like any other
  auto again = fa.embed_crop(fa.face_crop(img.bgr, f));
  EXPECT_GT(FaceAnalyzer::cosine(again, f.embedding), 0.97f);
}

// The evaluation forms a fused variant from its components' cached embeddings; it equals the SDK's.
TEST(Fusion, EvaluationFusedVariantEqualsTheSdk) {
  NEED_MODELS();
  auto m = with_entry(fused_json(0.4, 0.6));
  const std::string rel = "Colin_Powell/Colin_Powell_0001.jpg";
  auto root = test::shared_dir() / "data" / "lfw" / "images";
  DatasetEmbedOptions opt;
  opt.variants = {{"test-fused", true, false}, {"face_recognition_model", true, false}};
  opt.workers = 1;
  opt.cache_dir = test::temp_dir("fusion-cache");
  auto res = embed_dataset(m, root, {rel}, opt);
  ASSERT_EQ(res.tables.size(), 2u);
  EXPECT_EQ(res.cache_files.size(), 2u) << "the components are cached, the fused variant is not";
  AnalyzerOptions ao;
  ao.embedder.model = "test-fused";
  ao.embedder.zoom = false;
  FaceAnalyzer fa(m, ao);
  auto faces = fa.analyze(decode_image_file((root / rel).string()).bgr);
  ASSERT_EQ(faces.size(), 1u);
  ASSERT_TRUE(res.tables[0].at(rel).found);
  EXPECT_GT(FaceAnalyzer::cosine(res.tables[0].at(rel).embedding, faces[0].embedding), 0.99999f);
  // another recipe over the same cache: nothing embedded again
  auto m2 = with_entry(fused_json(0.7, 0.3));
  auto res2 = embed_dataset(m2, root, {rel}, opt);
  EXPECT_EQ(res2.computed, 0u);
  EXPECT_LT(FaceAnalyzer::cosine(res2.tables[0].at(rel).embedding, res.tables[0].at(rel).embedding), 0.9999f);
  std::filesystem::remove_all(opt.cache_dir);
}

// Synthetic pairs: component "good" separates people, "noise" does not; the search must put the
// weight on "good" and list every grid point.
TEST(Fusion, SearchPutsTheWeightWhereTheSignalIs) {
  std::mt19937 rng(3);
  const int people = 400;
  std::vector<std::vector<float>> id(people);
  for (auto& v : id) v = random_unit(rng, 16);
  EmbeddingTable good, noise;
  std::vector<std::string> images;
  std::normal_distribution<float> g(0, 0.35f);  // enough that "good" alone is not perfect
  for (int p = 0; p < people; ++p)
    for (int i = 0; i < 2; ++i) {
      std::string name = "p" + std::to_string(p) + "/" + std::to_string(i);
      auto v = id[size_t(p)];
      for (auto& x : v) x += g(rng);
      l2_normalise(v);
      good[name] = {true, v};
      noise[name] = {true, random_unit(rng, 16)};
      images.push_back(name);
    }
  std::vector<LfwPair> pairs;
  for (int p = 0; p + 1 < people; p += 2) {
    pairs.push_back({"p" + std::to_string(p) + "/0", "p" + std::to_string(p) + "/1", true, (p / 2) % 10});
    pairs.push_back({"p" + std::to_string(p) + "/0", "p" + std::to_string(p + 1) + "/1", false, (p / 2) % 10});
  }
  std::vector<float> zero(16, 0.f);
  FusionSearchOptions so;
  so.steps = 4;
  so.threads = 1;
  auto r = search_fusion({"good", "noise"}, {zero, zero}, {good, noise}, pairs, images, so);
  ASSERT_EQ(r.candidates.size(), 5u);
  EXPECT_DOUBLE_EQ(r.candidates[0].weights[0], 1.0);
  EXPECT_DOUBLE_EQ(r.candidates[4].weights[1], 1.0);
  EXPECT_GE(r.components[0].weight, 0.75) << "most of the weight on the model that separates people";
  EXPECT_EQ(r.candidates[r.best].weights, r.candidates[r.best].shares) << "no spreads given: weights are the shares";
  EXPECT_GT(r.candidates[r.best].evaluation.verification.mean_accuracy,
            r.candidates[4].evaluation.verification.mean_accuracy + 0.2);
  EXPECT_TRUE(
      test::throws_error([&] { search_fusion({"good"}, {zero}, {good}, pairs, images); }, ErrorKind::InvalidArgument));
  EXPECT_TRUE(test::throws_error([&] { mean_embedding(EmbeddingTable{}); }, ErrorKind::InvalidArgument));
}

// The embedding cache follows what a model is, not only its name: the same name with another
// file (a model re-quantised or re-trained) gets another cache file.
TEST(EmbeddingCache, KeyFollowsTheModelVersion) {
  const auto doc = nlohmann::json::parse(std::ifstream(test::source_dir() / "models" / "manifest.json"));
  nlohmann::json e;
  for (const auto& m : doc["models"])
    if (m["name"] == "mobilefacenet-ms1m") e = m;
  ASSERT_TRUE(e.is_object());
  for (const char* k : {"package", "files", "free_size", "thresholds"}) e.erase(k);
  e["name"] = "cache-test-model";
  e["format"] = "onnx";
  e["files"] = {"trained/cache-test-model.onnx"};
  DatasetEmbedOptions o;
  o.variants = {EmbeddingVariant{"cache-test-model", true}};
  o.cache_dir = "/tmp/cache-key-test";
  e["sha256"] = std::string(64, 'a');
  const auto a = embedding_cache_file(with_entry(e.dump()), "/data/faces", o, 0);
  e["sha256"] = std::string(64, 'b');
  const auto b = embedding_cache_file(with_entry(e.dump()), "/data/faces", o, 0);
  EXPECT_NE(a, b);
  EXPECT_EQ(b, embedding_cache_file(with_entry(e.dump()), "/data/faces", o, 0));  // and stable
}

}  // namespace
}  // namespace facerec
