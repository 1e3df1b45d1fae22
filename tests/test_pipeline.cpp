// The whole pipeline on real photos from ../shared (skips when absent): one central face per LFW
// photo, unit-norm embeddings that separate people, no face in a face-free image, group photos,
// and one FaceAnalyzer per thread giving the same answers as a single thread.
#include "test_util.hpp"

#include <facerec/analyzer.hpp>
#include <facerec/embed.hpp>
#include <facerec/error.hpp>
#include <facerec/eval/dataset.hpp>
#include <facerec/image.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <thread>

namespace facerec {
namespace {

std::filesystem::path lfw(const std::string& name, int i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "_%04d.jpg", i);
  return test::shared_dir() / "data" / "lfw" / "images" / name / (name + buf);
}

#define NEED_SHARED()                                                           \
  if (!std::filesystem::exists(test::shared_dir() / "data" / "lfw" / "images")) \
  GTEST_SKIP() << "../shared/data/lfw is absent; pipeline tests need real photos"

std::vector<float> embed_one(FaceAnalyzer& fa, const std::filesystem::path& p) {
  auto faces = fa.analyze(decode_image_file(p.string()).bgr);
  EXPECT_EQ(faces.size(), 1u) << p;
  return faces.empty() ? std::vector<float>{} : faces[0].embedding;
}

TEST(Pipeline, SeparatesPeopleOnLfw) {
  NEED_SHARED();
  FaceAnalyzer fa;  // the default: dlib-mfn-fused, 128 + 192 values
  auto a1 = embed_one(fa, lfw("Colin_Powell", 1)), a2 = embed_one(fa, lfw("Colin_Powell", 2));
  auto b1 = embed_one(fa, lfw("George_W_Bush", 1)), b2 = embed_one(fa, lfw("George_W_Bush", 2));
  ASSERT_EQ(a1.size(), 320u);
  double n = 0;
  for (float v : a1) n += v * v;
  EXPECT_NEAR(n, 1.0, 1e-5);
  float same_a = FaceAnalyzer::cosine(a1, a2), same_b = FaceAnalyzer::cosine(b1, b2);
  float diff = std::max({FaceAnalyzer::cosine(a1, b1), FaceAnalyzer::cosine(a1, b2), FaceAnalyzer::cosine(a2, b1)});
  EXPECT_GT(same_a, diff + 0.05f);
  EXPECT_GT(same_b, diff + 0.05f);
}

TEST(Pipeline, FindsTheFaceAndItsLandmarks) {
  NEED_SHARED();
  FaceAnalyzer fa;
  auto faces = fa.analyze(decode_image_file(lfw("Colin_Powell", 1).string()).bgr, false);
  ASSERT_EQ(faces.size(), 1u);
  const auto& f = faces[0];
  EXPECT_GT(f.detection.score, 0.7f);
  cv::Point2f c = (f.detection.box.tl() + f.detection.box.br()) * 0.5f;
  EXPECT_NEAR(c.x, 125, 25);  // LFW photos are centred on the face
  EXPECT_NEAR(c.y, 125, 30);
  ASSERT_EQ(f.landmarks.size(), 68u);
  EXPECT_LT(f.five[0].x, f.five[1].x);  // image-left eye first
  EXPECT_LT(f.five[0].y, f.five[3].y);  // eyes above the mouth
  EXPECT_TRUE(f.detection.box.contains(f.five[2]));
}

// Every profile builds and separates people; each chooses what README says; a bad name is a clear error.
TEST(Pipeline, EveryProfileSeparatesPeopleAndUnknownNamesAreErrors) {
  NEED_SHARED();
  EXPECT_EQ(analyzer_profiles(), (std::vector<std::string>{"accurate", "balanced", "edge"}));
  for (const auto& name : analyzer_profiles()) {
    const auto o = analyzer_profile(name);
    EXPECT_EQ(o.embedder.backend, "onednn") << name;
    EXPECT_EQ(o.detector.threads, 1) << name;
    FaceAnalyzer fa(test::manifest(), o);
    auto a1 = embed_one(fa, lfw("Colin_Powell", 1)), a2 = embed_one(fa, lfw("Colin_Powell", 2));
    auto b1 = embed_one(fa, lfw("George_W_Bush", 1));
    ASSERT_FALSE(a1.empty()) << name;
    EXPECT_GT(FaceAnalyzer::cosine(a1, a2), FaceAnalyzer::cosine(a1, b1) + 0.05f) << name;
    EXPECT_NO_THROW(fa.threshold("fmr_1e-3")) << name << ": its embedder variant has calibrated thresholds";
  }
  EXPECT_EQ(analyzer_profile("accurate").embedder.model, EmbedderOptions{}.model);
  EXPECT_EQ(analyzer_profile("accurate").detector.model, DetectorOptions{}.model);
  EXPECT_EQ(analyzer_profile("balanced").detector.model, "blazeface-front>blazeface>faceboxes");
  EXPECT_EQ(analyzer_profile("edge").detector.model, "blazeface-front>blazeface");
  EXPECT_EQ(analyzer_profile("edge").landmarker.model, "facerec-landmarks-96");
  EXPECT_FALSE(analyzer_profile("edge").embedder.flip);
  EXPECT_ERROR(analyzer_profile("fastest"), ErrorKind::InvalidArgument, "accurate, balanced, edge");
}

TEST(Pipeline, NoFaceInAFaceFreeImage) {
  cv::Mat noise(480, 640, CV_8UC3);
  cv::randu(noise, cv::Scalar::all(0), cv::Scalar::all(255));
  cv::Mat flat(480, 640, CV_8UC3, cv::Scalar(128, 128, 128));
  FaceAnalyzer fa;
  EXPECT_TRUE(fa.analyze(flat).empty());
  EXPECT_TRUE(fa.analyze(noise).empty());
}

TEST(Pipeline, OneAnalyzerPerThreadGivesTheSameAnswers) {
  NEED_SHARED();
  std::vector<std::filesystem::path> imgs = {lfw("Colin_Powell", 1), lfw("George_W_Bush", 1), lfw("Serena_Williams", 1),
                                             lfw("Angelina_Jolie", 1)};
  std::vector<std::vector<float>> seq(imgs.size()), par(imgs.size());
  {
    FaceAnalyzer fa;
    for (size_t i = 0; i < imgs.size(); ++i) seq[i] = embed_one(fa, imgs[i]);
  }
  std::vector<std::thread> ts;
  for (size_t t = 0; t < 2; ++t)
    ts.emplace_back([&, t] {
      FaceAnalyzer fa;
      for (size_t i = t; i < imgs.size(); i += 2) par[i] = embed_one(fa, imgs[i]);
    });
  for (auto& t : ts) t.join();
  // clones (one loaded pipeline, a session each) in two threads at once answer the same
  FaceAnalyzer first(test::manifest());
  std::vector<FaceAnalyzer> clones;
  clones.push_back(first.clone());
  clones.push_back(first.clone());
  std::vector<std::vector<float>> cl(imgs.size());
  ts.clear();
  for (size_t t = 0; t < 2; ++t)
    ts.emplace_back([&, t] {
      for (size_t i = t; i < imgs.size(); i += 2) cl[i] = embed_one(clones[t], imgs[i]);
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(clones[0].template_model(), first.template_model());
  EXPECT_EQ(clones[1].threshold(), first.threshold());
  for (size_t i = 0; i < imgs.size(); ++i) {
    ASSERT_EQ(seq[i].size(), par[i].size());
    ASSERT_EQ(seq[i].size(), cl[i].size());
    for (size_t k = 0; k < seq[i].size(); ++k) {
      EXPECT_NEAR(seq[i][k], par[i][k], 1e-5f);
      EXPECT_NEAR(seq[i][k], cl[i][k], 1e-5f);
    }
  }
}

// A few values of the dlib ResNet's embedding (flip + zoom) of one LFW photo, as measured when LFW
// View 2 gave 99.30% with it (README): the SDK and the evaluation share the test-time augmentation
// code, so this is what catches a change to it (or to detection, landmarks, alignment) that moves
// embeddings. (The fused default is made of this embedding and MobileFaceNet's.)
TEST(Pipeline, DlibEmbeddingOfOnePhotoIsPinned) {
  NEED_SHARED();
  AnalyzerOptions ao;
  ao.embedder.model = "face_recognition_model";
  ao.embedder.zoom = true;
  FaceAnalyzer fa(test::manifest(), ao);
  auto e = embed_one(fa, lfw("Aaron_Eckhart", 1));
  ASSERT_EQ(e.size(), 128u);
  const std::pair<size_t, float> pinned[] = {{0, -0.04891f}, {1, 0.11821f},  {3, -0.10189f},
                                             {4, -0.14836f}, {64, 0.08640f}, {127, 0.04637f}};
  for (const auto& [i, v] : pinned) EXPECT_NEAR(e[i], v, 2e-4f) << "dimension " << i;
}

// The evaluation forms its test-time augmentation variants from shared crops (one network pass
// per crop for all variants); each must equal what FaceAnalyzer ships with the same options.
TEST(Pipeline, EvaluationVariantsEqualTheSdkEmbeddings) {
  NEED_SHARED();
  const std::string rel = "Colin_Powell/Colin_Powell_0001.jpg";
  auto root = test::shared_dir() / "data" / "lfw" / "images";
  DatasetEmbedOptions opt;
  opt.variants = {{"face_recognition_model", false, false},
                  {"face_recognition_model", true, false},
                  {"face_recognition_model", false, true},
                  {"face_recognition_model", true, true}};
  opt.workers = 1;
  auto res = embed_dataset(test::manifest(), root, {rel}, opt);
  ASSERT_EQ(res.tables.size(), 4u);
  for (size_t k = 0; k < 4; ++k) {
    AnalyzerOptions ao;
    ao.embedder.model = "face_recognition_model";
    ao.embedder.flip = opt.variants[k].flip;
    ao.embedder.zoom = opt.variants[k].zoom;
    FaceAnalyzer fa(ao);
    auto sdk = embed_one(fa, root / rel);
    const auto& ev = res.tables[k].at(rel);
    ASSERT_TRUE(ev.found) << opt.variants[k].name();
    EXPECT_GT(FaceAnalyzer::cosine(sdk, ev.embedding), 0.99999f) << opt.variants[k].name();
    if (k > 0) {  // and each augmentation does change the embedding
      EXPECT_LT(FaceAnalyzer::cosine(res.tables[0].at(rel).embedding, ev.embedding), 0.9999f) << opt.variants[k].name();
    }
  }
}

TEST(Pipeline, ZoomCropEnlargesTheCentre) {
  cv::Mat crop(150, 150, CV_8UC3, cv::Scalar(0, 0, 0));
  crop(cv::Rect(45, 45, 60, 60)).setTo(cv::Scalar(255, 255, 255));  // 60 px, centred
  cv::Mat same = zoom_crop(crop, 1.0);
  EXPECT_EQ(cv::norm(same, crop, cv::NORM_INF), 0.0);
  cv::Mat z = zoom_crop(crop, 1.5);  // the square becomes 90 px: 30..119
  EXPECT_EQ(z.size(), crop.size());
  EXPECT_GT(z.at<cv::Vec3b>(75, 33)[0], 200);  // inside the enlarged square
  EXPECT_LT(z.at<cv::Vec3b>(75, 26)[0], 50);   // outside it
  EXPECT_GT(z.at<cv::Vec3b>(116, 75)[0], 200);
  EXPECT_LT(z.at<cv::Vec3b>(123, 75)[0], 50);
  EXPECT_ERROR(zoom_crop(crop, 0.9), ErrorKind::InvalidArgument);
  EXPECT_ERROR(zoom_crop(cv::Mat(), 1.2), ErrorKind::InvalidArgument);
}

TEST(Pipeline, ComparingEmbeddingsOfDifferentModelsIsAnError) {
  EXPECT_ERROR(FaceAnalyzer::cosine(std::vector<float>(128, 0.1f), std::vector<float>(256, 0.1f)),
               ErrorKind::InvalidArgument);
}

}  // namespace
}  // namespace facerec
