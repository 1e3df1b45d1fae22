// The committed model manifest is valid and complete; malformed manifests are clear errors.
#include "test_util.hpp"

#include <facerec/error.hpp>
#include <facerec/models.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>

#include <fstream>
#include <set>

namespace facerec {
namespace {

TEST(Manifest, CommittedManifestDescribesEveryRequiredModel) {
  auto m = Manifest::load(test::source_dir() / "models" / "manifest.json");
  std::set<std::string> names;
  for (const auto& e : m.models()) {
    names.insert(e.name);
    EXPECT_FALSE(e.licence.empty()) << e.name;
    if (e.format == "fused") {  // no network of its own: components the manifest has, weights summing to 1
      double sum = 0;
      for (const auto& c : e.fuse) {
        EXPECT_EQ(m.model(c.model).task, "embed") << e.name << ": " << c.model;
        EXPECT_GT(c.weight, 0.0) << e.name << ": " << c.model;
        sum += c.weight;
      }
      EXPECT_GE(e.fuse.size(), 2u) << e.name;
      EXPECT_NEAR(sum, 1.0, 1e-6) << e.name;
      continue;
    }
    EXPECT_GT(e.input.width, 0) << e.name;
    EXPECT_GT(e.input.height, 0) << e.name;
    EXPECT_FALSE(e.licence.empty()) << e.name;
    EXPECT_FALSE(e.outputs.empty()) << e.name << ": output spec missing";
    for (float s : e.input.scale) EXPECT_GT(s, 0.f) << e.name;
  }
  for (const char* required :
       {"blazeface", "blazeface-front", "faceboxes", "facemesh", "faceres", "mobileface", "mobilefacenet", "antispoof",
        "liveness", "face_recognition_model", "face_landmark_68_model", "mobilefacenet-ms1m", "mtcnn-pnet",
        "mtcnn-rnet", "mtcnn-onet", "face-anti-spoofing"})
    EXPECT_TRUE(names.count(required)) << required;
  for (const auto& p : m.packages()) EXPECT_EQ(p.sha256.size(), 64u) << p.name;
}

TEST(Manifest, MalformedManifestsNameTheProblem) {
  auto dir = test::temp_dir("manifest");
  auto write = [&](const std::string& text) {
    std::ofstream(dir / "m.json") << text;
    return dir / "m.json";
  };
  auto message = [&](const std::string& text) -> std::string {
    try {
      Manifest::load(write(text));
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_NE(message("{").find("not valid JSON"), std::string::npos);
  EXPECT_NE(message(R"({"models": []})").find("packages"), std::string::npos);
  EXPECT_NE(message(R"({"packages": [{"name": "p", "version": "1", "sha256": "abc"}], "models": []})").find("sha256"),
            std::string::npos);
  std::string pkg = R"({"name": "p", "version": "1", "sha256": ")" + std::string(64, 'a') + R"("})";
  EXPECT_NE(message(R"({"packages": [)" + pkg + R"(], "models": [{"name": "m", "task": "embed", "package": "q"}]})")
                .find("no package 'q'"),
            std::string::npos);
  EXPECT_EQ(message(R"({"packages": [)" + pkg + R"(], "models": []})"), "");
  // a graph cut needs [name, tensor] output pairs and a tfjs graph
  std::string model =
      R"({"name": "m", "task": "detect", "family": "blazeface", "package": "p", "format": "tfjs-graph", "files": ["m.json"],
      "weights_dtype": "float32", "licence": "MIT", "input": {"name": "x", "width": 8, "height": 8, "mean": [0,0,0],
      "scale": [1,1,1]}, "outputs": [{"name": "y", "shape": [1]}], )";
  auto with_cut = [&](const std::string& cut) {
    return message(R"({"packages": [)" + pkg + R"(], "models": [)" + model + R"("cut": )" + cut + "}]}");
  };
  EXPECT_EQ(with_cut(R"({"input": "a", "outputs": [["y", "b/c"]]})"), "");
  EXPECT_NE(with_cut(R"({"input": "a", "outputs": ["y"]})").find("[name, tensor] pairs"), std::string::npos);
  EXPECT_NE(with_cut(R"({"input": "a", "outputs": []})").find("cut.outputs is empty"), std::string::npos);
  EXPECT_NE(with_cut(R"({"outputs": [["y", "b"]]})").find("input"), std::string::npos);
  // the roles the pipeline reads are named in the manifest: a family per detector and landmarker,
  // an alignment and exactly one embedding output per embedder
  auto entry = [&](const std::string& task_etc, const std::string& outputs) {
    return message(R"({"packages": [)" + pkg + R"(], "models": [{"name": "m", )" + task_etc +
                   R"(, "package": "p", "format": "tfjs-graph", "files": ["m.json"], "weights_dtype": "float32",
      "licence": "MIT", "input": {"name": "x", "width": 8, "height": 8}, "outputs": )" +
                   outputs + "}]}");
  };
  const std::string one = R"([{"name": "y", "shape": [-1, 4], "role": "embedding"}])";
  EXPECT_EQ(entry(R"("task": "embed", "alignment": "arcface")", one), "");
  EXPECT_NE(entry(R"("task": "embed")", one).find("m.alignment"), std::string::npos);
  EXPECT_NE(entry(R"("task": "embed", "alignment": "dlib")", one).find("m.alignment 'dlib'"), std::string::npos);
  EXPECT_NE(entry(R"("task": "embed", "alignment": "arcface")", R"([{"name": "y", "shape": [-1, 4]}])")
                .find("exactly one output with role \"embedding\""),
            std::string::npos);
  EXPECT_NE(entry(R"("task": "detect", "family": "yolo")", one).find("m.family 'yolo'"), std::string::npos);
  EXPECT_NE(entry(R"("task": "landmarks")", one).find("m.family ''"), std::string::npos);
}

// Calibration goes through Manifest: set_thresholds + save keep every other field and its order.
TEST(Manifest, SavedThresholdsRoundTripAndKeepEverythingElse) {
  auto dir = test::temp_dir("manifest-save");
  auto src = test::source_dir() / "models" / "manifest.json";
  Manifest m = Manifest::load(src);
  m.set_thresholds("mobilefacenet", {{"fmr_1e-3", 0.25}, {"fmr_1e-4", 0.5}});
  m.set_thresholds("face_recognition_model", {{"fmr_1e-3", 0.75}});
  m.save(dir / "m.json");
  Manifest back = Manifest::load(dir / "m.json");
  auto value = [](const ModelEntry& e, const std::string& k) {
    for (const auto& [name, v] : e.thresholds)
      if (name == k) return v;
    return -1.0;
  };
  EXPECT_EQ(value(back.model("mobilefacenet"), "fmr_1e-3"), 0.25);
  EXPECT_EQ(value(back.model("mobilefacenet"), "fmr_1e-4"), 0.5);
  EXPECT_EQ(value(back.model("face_recognition_model"), "fmr_1e-3"), 0.75);
  const auto& before = test::manifest().model("face_recognition_model");
  EXPECT_EQ(back.model("face_recognition_model").thresholds.size(), before.thresholds.size()) << "replaced, not added";
  EXPECT_EQ(value(back.model("face_recognition_model"), "fmr_1e-4"), value(before, "fmr_1e-4"));
  // nothing else changed: the same JSON once the thresholds are put back
  Manifest restored = back;
  restored.set_thresholds("face_recognition_model", before.thresholds);
  restored.save(dir / "restored.json");
  Manifest mobile_before = Manifest::load(src);
  auto strip = [](const std::filesystem::path& p) {
    auto j = nlohmann::ordered_json::parse(std::ifstream(p));
    for (auto& e : j["models"])
      if (e["name"] == "mobilefacenet") e.erase("thresholds");
    return j.dump();
  };
  EXPECT_EQ(strip(dir / "restored.json"), strip(src));
  EXPECT_ERROR(m.set_thresholds("no-such-model", {}), ErrorKind::NotFound, "no-such-model");
}

// The library finds the manifest relative to itself: share/facerec/models in the build tree (a
// link to models/) as in an installation, unless FACEREC_MANIFEST names one.
TEST(Manifest, DefaultPathIsFoundBesideTheLibrary) {
  const char* env = std::getenv("FACEREC_MANIFEST");
  std::string saved = env ? env : "";
  ::unsetenv("FACEREC_MANIFEST");
  auto p = Manifest::default_path();
  EXPECT_EQ(std::filesystem::canonical(p), std::filesystem::canonical(test::source_dir() / "models" / "manifest.json"));
  ::setenv("FACEREC_MANIFEST", "/nonexistent/m.json", 1);
  EXPECT_EQ(Manifest::default_path(), std::filesystem::path("/nonexistent/m.json"));
  EXPECT_ERROR(Manifest::load_default(), ErrorKind::NotFound, "/nonexistent/m.json");
  if (env)
    ::setenv("FACEREC_MANIFEST", saved.c_str(), 1);
  else
    ::unsetenv("FACEREC_MANIFEST");
}

TEST(Manifest, UnknownModelListsTheKnownOnes) {
  auto m = Manifest::load_default();
  try {
    m.model("no-such-model");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::NotFound);
    EXPECT_NE(std::string(e.what()).find("blazeface"), std::string::npos);
  }
}

}  // namespace
}  // namespace facerec
