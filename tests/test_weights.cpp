// The TFJS weight-manifest decoder: dtypes, quantisation and malformed shards.
#include "import/tfjs/weights.hpp"
#include "test_util.hpp"

#include <facerec/error.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstring>
#include <fstream>

namespace facerec::detail {
namespace {

void write_bytes(const std::filesystem::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary) << bytes;
}

template <typename T>
std::string bytes_of(std::initializer_list<T> v) {
  std::string s;
  for (T x : v) s.append(reinterpret_cast<const char*>(&x), sizeof x);
  return s;
}

TEST(Weights, HalfToFloat) {
  EXPECT_EQ(half_to_float(0x3C00), 1.0f);
  EXPECT_EQ(half_to_float(0xC000), -2.0f);
  EXPECT_EQ(half_to_float(0x7BFF), 65504.0f);
  EXPECT_EQ(half_to_float(0x0000), 0.0f);
  EXPECT_FLOAT_EQ(half_to_float(0x0001), 5.9604645e-8f);  // smallest subnormal
  EXPECT_FLOAT_EQ(half_to_float(0x3555), 0.333251953125f);
  EXPECT_TRUE(std::isinf(half_to_float(0x7C00)));
}

TEST(Weights, DecodesEveryDtypeInOrder) {
  auto dir = test::temp_dir("weights");
  std::string shard = bytes_of<float>({1.5f, -2.f}) + bytes_of<uint16_t>({0x3C00, 0xC000}) +
                      bytes_of<uint8_t>({0, 4, 255}) + bytes_of<int32_t>({7, -3});
  // split over two shard files: the decoder must concatenate them
  write_bytes(dir / "a.bin", shard.substr(0, 5));
  write_bytes(dir / "b.bin", shard.substr(5));
  auto m = nlohmann::json::parse(R"([{"paths": ["a.bin", "b.bin"], "weights": [
    {"name": "f", "shape": [2], "dtype": "float32"},
    {"name": "h", "shape": [2], "dtype": "float32", "quantization": {"dtype": "float16"}},
    {"name": "q", "shape": [3], "dtype": "float32", "quantization": {"dtype": "uint8", "scale": 0.5, "min": -1}},
    {"name": "i", "shape": [2], "dtype": "int32"}]}])");
  auto w = load_weights(m, dir);
  EXPECT_EQ(w.at("f").f, (std::vector<float>{1.5f, -2.f}));
  EXPECT_EQ(w.at("h").f, (std::vector<float>{1.f, -2.f}));
  EXPECT_EQ(w.at("h").stored_dtype, "float16");
  EXPECT_EQ(w.at("q").f, (std::vector<float>{-1.f, 1.f, 126.5f}));
  EXPECT_TRUE(w.at("i").is_int);
  EXPECT_EQ(w.at("i").i, (std::vector<int64_t>{7, -3}));
}

TEST(Weights, ShortShardIsAClearError) {
  auto dir = test::temp_dir("weights-short");
  write_bytes(dir / "a.bin", bytes_of<float>({1.f}));
  auto m = nlohmann::json::parse(
      R"([{"paths": ["a.bin"], "weights": [{"name": "big", "shape": [4], "dtype": "float32"}]}])");
  try {
    load_weights(m, dir);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::BadModel);
    EXPECT_NE(std::string(e.what()).find("big"), std::string::npos) << e.what();
  }
}

TEST(Weights, MissingShardAndExtraBytesAndUnknownDtype) {
  auto dir = test::temp_dir("weights-bad");
  auto missing = nlohmann::json::parse(R"([{"paths": ["nope.bin"], "weights": []}])");
  EXPECT_ERROR(load_weights(missing, dir), ErrorKind::NotFound);
  write_bytes(dir / "a.bin", bytes_of<float>({1.f, 2.f}));
  auto extra =
      nlohmann::json::parse(R"([{"paths": ["a.bin"], "weights": [{"name": "x", "shape": [1], "dtype": "float32"}]}])");
  EXPECT_ERROR(load_weights(extra, dir), ErrorKind::BadModel);
  auto str =
      nlohmann::json::parse(R"([{"paths": ["a.bin"], "weights": [{"name": "s", "shape": [1], "dtype": "string"}]}])");
  try {
    load_weights(str, dir);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Unsupported);
  }
}

}  // namespace
}  // namespace facerec::detail
