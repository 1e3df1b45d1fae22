// The committed model manifest is valid and complete; malformed manifests are clear errors.
#include "test_util.hpp"

#include <facerec/error.hpp>
#include <facerec/models.hpp>

#include <gtest/gtest.h>

#include <fstream>
#include <set>

namespace facerec {
namespace {

TEST(Manifest, CommittedManifestDescribesEveryRequiredModel) {
  auto m = Manifest::load(test::source_dir() / "models" / "manifest.json");
  std::set<std::string> names;
  for (const auto& e : m.models()) {
    names.insert(e.name);
    EXPECT_GT(e.input.width, 0) << e.name;
    EXPECT_GT(e.input.height, 0) << e.name;
    EXPECT_FALSE(e.licence.empty()) << e.name;
    EXPECT_FALSE(e.outputs.empty()) << e.name << ": output spec missing";
    for (float s : e.input.scale) EXPECT_GT(s, 0.f) << e.name;
  }
  for (const char* required :
       {"blazeface", "blazeface-front", "faceboxes", "facemesh", "faceres", "mobileface", "mobilefacenet", "antispoof",
        "liveness", "face_recognition_model", "face_landmark_68_model"})
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
  std::string model = R"({"name": "m", "task": "detect", "package": "p", "format": "tfjs-graph", "files": ["m.json"],
      "weights_dtype": "float32", "licence": "MIT", "input": {"name": "x", "width": 8, "height": 8, "mean": [0,0,0],
      "scale": [1,1,1]}, "outputs": [{"name": "y", "shape": [1]}], )";
  auto with_cut = [&](const std::string& cut) {
    return message(R"({"packages": [)" + pkg + R"(], "models": [)" + model + R"("cut": )" + cut + "}]}");
  };
  EXPECT_EQ(with_cut(R"({"input": "a", "outputs": [["y", "b/c"]]})"), "");
  EXPECT_NE(with_cut(R"({"input": "a", "outputs": ["y"]})").find("[name, tensor] pairs"), std::string::npos);
  EXPECT_NE(with_cut(R"({"input": "a", "outputs": []})").find("cut.outputs is empty"), std::string::npos);
  EXPECT_NE(with_cut(R"({"outputs": [["y", "b"]]})").find("input"), std::string::npos);
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
