// Int8 quantisation: a small conv net quantised from a calibration set, then run on the onednn
// backend (int8 kernels) and on the reference backend (the QDQ arithmetic done exactly in float):
// they agree, and both stay close to the fp32 network.
#include "import/onnx/onnx_builder.hpp"
#include "test_util.hpp"

#include <facerec/backend.hpp>
#include <facerec/error.hpp>
#include <facerec/eval/evaluation.hpp>
#include <facerec/eval/labels.hpp>
#include <facerec/image.hpp>
#include <facerec/models.hpp>
#include <facerec/quantize.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <random>
#include <set>

namespace facerec {
namespace {

using detail::Attrs;
using detail::OnnxBuilder;
using V = std::vector<int64_t>;

std::vector<float> normal(size_t n, unsigned seed, float sd) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.f, sd);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// input [N,3,16,16] -> conv3x3 (3->8, bias) -> Relu -> depthwise 3x3 stride 2 -> PRelu -> conv1x1 (8->6)
// + a residual-free Add of a per-channel constant -> output. Signed and unsigned activations both occur.
std::filesystem::path small_net(const std::filesystem::path& dir) {
  OnnxBuilder b("qnet");
  b.input("input", {-1, 3, 16, 16});
  auto w1 = b.initializer("w1", {8, 3, 3, 3}, normal(8 * 27, 1, 0.3f));
  auto b1 = b.initializer("b1", {8}, normal(8, 2, 0.1f));
  auto y = b.node("Conv", {"input", w1, b1}, "conv1", Attrs{{"kernel_shape", V{3, 3}}, {"pads", V{1, 1, 1, 1}}});
  y = b.node("Relu", {y}, "relu1");
  auto w2 = b.initializer("w2", {8, 1, 3, 3}, normal(72, 3, 0.4f));
  y = b.node("Conv", {y, w2}, "conv2",
             Attrs{{"kernel_shape", V{3, 3}}, {"pads", V{1, 1, 1, 1}}, {"strides", V{2, 2}}, {"group", int64_t(8)}});
  auto slope = b.initializer("slope", {8, 1, 1}, std::vector<float>(8, 0.25f));
  y = b.node("PRelu", {y, slope}, "prelu2");
  auto w3 = b.initializer("w3", {6, 8, 1, 1}, normal(48, 4, 0.5f));
  auto b3 = b.initializer("b3", {6}, normal(6, 5, 0.2f));
  y = b.node("Conv", {y, w3, b3}, "conv3", Attrs{{"kernel_shape", V{1, 1}}});
  auto c = b.initializer("c", {1, 6, 1, 1}, normal(6, 6, 0.1f));
  y = b.node("Add", {y, c}, "add3");
  b.rename_output(y, "output");
  b.output("output", {-1, 6, 8, 8});
  auto p = dir / "qnet.onnx";
  std::ofstream(p, std::ios::binary) << b.serialize();
  return p;
}

std::vector<std::vector<Tensor>> batches(int count, int batch, unsigned seed) {
  std::vector<std::vector<Tensor>> out;
  for (int i = 0; i < count; ++i)
    out.push_back({Tensor({batch, 3, 16, 16}, normal(size_t(batch) * 768, seed + i, 1.f))});
  return out;
}

double cosine(const std::vector<float>& a, const std::vector<float>& b) {
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    ab += double(a[i]) * b[i];
    aa += double(a[i]) * a[i];
    bb += double(b[i]) * b[i];
  }
  return ab / std::sqrt(aa * bb);
}

TEST(Quantize, Int8KernelsMatchTheExactQdqArithmeticAndStayNearFp32) {
  auto dir = test::temp_dir("quantize");
  auto fp32 = small_net(dir);
  for (bool per_channel : {true, false}) {
    QuantizeOptions o;
    o.method = "minmax";
    o.per_channel = per_channel;
    auto r = quantize_model(fp32, batches(8, 2, 100), o);
    ASSERT_EQ(r.layers.size(), 3u);
    for (const auto& L : r.layers) EXPECT_TRUE(L.int8) << L.node << ": " << L.why;
    EXPECT_EQ(r.layers[0].input_type, "int8");   // the image is signed
    EXPECT_EQ(r.layers[1].input_type, "uint8");  // after the ReLU
    EXPECT_EQ(r.layers[2].input_type, "int8");   // after the PReLU
    EXPECT_GT(r.fp32_weight_bytes, 3 * r.int8_weight_bytes);
    auto int8 = dir / "qnet-int8.onnx";
    std::ofstream(int8, std::ios::binary) << r.onnx;
    auto ref_fp32 = load_backend("reference", fp32.string());
    auto ref_int8 = load_backend("reference", int8.string());
    for (int threads : {1, 2}) {
      BackendOptions bo;
      bo.threads = threads;
      auto fast = load_backend("onednn", int8.string(), bo);
      EXPECT_EQ(fast->precision(), Precision::INT8);
      for (int batch : {1, 3}) {
        auto in = batches(1, batch, 900 + unsigned(batch))[0];  // not the calibration data
        auto exact = ref_int8->run(in)[0];
        auto first = fast->run(in)[0];       // builds the plan
        fast->run(batches(1, batch, 5)[0]);  // other values through the same plan
        auto got = fast->run(in)[0];         // replays it
        ASSERT_EQ(got.data, first.data) << "a replayed plan differs from its first run";
        auto want = ref_fp32->run(in)[0];
        ASSERT_EQ(got.shape, exact.shape);
        double scale = 0, diff = 0;
        for (size_t i = 0; i < exact.data.size(); ++i) {
          scale = std::max(scale, double(std::abs(exact.data[i])));
          diff = std::max(diff, double(std::abs(got.data[i] - exact.data[i])));
        }
        // the same integers: only float rounding of the scaled sums may differ
        EXPECT_LE(diff, 1e-4 * scale) << "per_channel " << per_channel << " threads " << threads << " batch " << batch;
        EXPECT_GT(cosine(exact.data, want.data), 0.995) << "int8 drifted from fp32";
      }
    }
  }
}

TEST(Quantize, PercentileClipsAndKeepFp32IsHonoured) {
  auto dir = test::temp_dir("quantize-keep");
  auto fp32 = small_net(dir);
  QuantizeOptions o;
  o.method = "percentile";
  o.percentile = 99.9;
  o.keep_fp32 = {"first"};
  auto r = quantize_model(fp32, batches(4, 2, 7), o);
  EXPECT_FALSE(r.layers[0].int8);
  EXPECT_TRUE(r.layers[1].int8);
  EXPECT_LT(r.layers[1].input_range, r.layers[1].input_max);  // clipped below the largest value
  auto int8 = dir / "keep.onnx";
  std::ofstream(int8, std::ios::binary) << r.onnx;
  auto y = load_backend("onednn", int8.string())->run(batches(1, 1, 5)[0])[0];
  auto want = load_backend("reference", fp32.string())->run(batches(1, 1, 5)[0])[0];
  EXPECT_GT(cosine(y.data, want.data), 0.99);
}

// "last" keeps the heads — convs whose output reaches a graph output through no other conv (conv3,
// through the Add) — and "depthwise" the grouped conv; the others are int8.
TEST(Quantize, LastAndDepthwiseKeepTheirConvsInFp32) {
  auto dir = test::temp_dir("quantize-last");
  auto fp32 = small_net(dir);
  QuantizeOptions o;
  o.keep_fp32 = {"last"};
  auto r = quantize_model(fp32, batches(2, 1, 3), o);
  ASSERT_EQ(r.layers.size(), 3u);
  EXPECT_TRUE(r.layers[0].int8);
  EXPECT_TRUE(r.layers[1].int8);
  EXPECT_FALSE(r.layers[2].int8) << r.layers[2].why;
  o.keep_fp32 = {"depthwise"};
  r = quantize_model(fp32, batches(2, 1, 3), o);
  EXPECT_TRUE(r.layers[0].int8);
  EXPECT_FALSE(r.layers[1].int8) << r.layers[1].why;
  EXPECT_TRUE(r.layers[2].int8);
}

// Multiply-accumulates of Conv/Gemm counted from the shapes of a reference run: conv1 3x3 3->8 at
// 16x16 (2048 outputs x 27), depthwise 3x3 stride 2 (512 x 9), conv3 1x1 8->6 at 8x8 (384 x 8).
TEST(Quantize, MacsAreCountedFromTheRunShapes) {
  auto dir = test::temp_dir("count-macs");
  auto fp32 = small_net(dir);
  EXPECT_DOUBLE_EQ(count_macs(fp32.string(), batches(1, 1, 1)[0]), 2048.0 * 27 + 512.0 * 9 + 384.0 * 8);
  EXPECT_DOUBLE_EQ(count_macs(fp32.string(), batches(1, 3, 1)[0]), 3 * (2048.0 * 27 + 512.0 * 9 + 384.0 * 8));
  EXPECT_TRUE(test::throws_error([&] { count_macs(fp32.string(), {}); }, ErrorKind::InvalidArgument));
  __builtin_cpu_init();
  const bool avx2_fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  for (Precision p : {Precision::FP32, Precision::INT8}) {
    const auto peak = measured_peak(p, 1);
    EXPECT_TRUE(std::isfinite(peak.gops)) << to_string(p);
    EXPECT_EQ(peak.gops > 0, avx2_fma) << to_string(p) << ": " << peak.gops << " (" << peak.kernel << ")";
    EXPECT_EQ(peak.gops > 0, !peak.kernel.empty()) << to_string(p);
  }
  EXPECT_EQ(measured_peak(Precision::FP16, 1).gops, 0.0);
}

// mse picks the clip of least squared quantisation error: quantising the calibration values of the
// network's input (a signed tensor) at its range errs no more than at minmax's or percentile's
// range (up to the histogram's bin width), and the int8 model stays close to fp32.
TEST(Quantize, MseRangeHasTheLeastQuantisationError) {
  auto dir = test::temp_dir("quantize-mse");
  auto fp32 = small_net(dir);
  auto calib = batches(6, 2, 11);
  for (auto& b : calib)  // a heavier tail than the normal's
    for (size_t i = 0; i < b[0].data.size(); i += 31) b[0].data[i] *= 6.f;
  auto error_at = [&](double range) {  // signed int8 grid, zero point 0
    const double step = range / 127;
    double e = 0;
    for (const auto& b : calib)
      for (float x : b[0].data) {
        const double q = std::clamp(std::round(x / step), -127.0, 127.0) * step;
        e += (x - q) * (x - q);
      }
    return e;
  };
  std::map<std::string, double> err;
  for (const char* method : {"mse", "minmax", "percentile"}) {
    QuantizeOptions o;
    o.method = method;
    o.percentile = 99.9;
    const auto r = quantize_model(fp32, calib, o);
    ASSERT_EQ(r.layers[0].input_type, "int8");
    err[method] = error_at(r.layers[0].input_range);
    if (std::string(method) == "mse") {
      EXPECT_LT(r.layers[0].input_range, r.layers[0].input_max);  // this tail is worth clipping
      auto p = dir / "mse.onnx";
      std::ofstream(p, std::ios::binary) << r.onnx;
      const auto probe = batches(1, 4, 99)[0];
      EXPECT_GT(cosine(load_backend("reference", p.string())->run(probe)[0].data,
                       load_backend("reference", fp32.string())->run(probe)[0].data),
                0.99);
    }
  }
  EXPECT_LE(err["mse"], err["minmax"] * 1.01) << err["mse"] << " vs " << err["minmax"];
  EXPECT_LE(err["mse"], err["percentile"] * 1.01) << err["mse"] << " vs " << err["percentile"];
}

// An int8 model asked for a float-only backend runs on onednn; other requests are kept.
TEST(Quantize, Int8ModelsRunOnOnednnWhicheverFloatBackendIsAsked) {
  ModelEntry m;
  m.weights_dtype = "int8";
  for (const char* b : {"opencv-dnn", "xnnpack", "onednn-bf16"}) EXPECT_EQ(backend_for(m, b), "onednn") << b;
  EXPECT_EQ(backend_for(m, "reference"), "reference");  // the exact QDQ arithmetic
  m.weights_dtype = "float32";
  EXPECT_EQ(backend_for(m, "xnnpack"), "xnnpack");
}

// Fully connected layers store int8 weights (per output channel, Gemm with transB and MatMul
// alike) behind a DequantizeLinear that backends fold at load: outputs stay within the 8-bit
// weight error of fp32 on onednn and the reference, and the weights take a quarter of the bytes.
TEST(Quantize, FullyConnectedWeightsAreStoredInt8) {
  auto dir = test::temp_dir("quantize-dense");
  OnnxBuilder b("dense");
  b.input("input", {-1, 16});
  auto w1 = b.initializer("w1", {12, 16}, normal(12 * 16, 21, 0.4f));
  auto b1 = b.initializer("b1", {12}, normal(12, 22, 0.1f));
  auto y = b.node("Gemm", {"input", w1, b1}, "fc1", Attrs{{"transB", int64_t(1)}});
  y = b.node("Relu", {y}, "relu1");
  auto w2 = b.initializer("w2", {12, 5}, normal(60, 23, 0.5f));
  y = b.node("MatMul", {y, w2}, "fc2");
  b.rename_output(y, "output");
  b.output("output", {-1, 5});
  const auto fp32 = dir / "dense.onnx";
  std::ofstream(fp32, std::ios::binary) << b.serialize();
  std::vector<std::vector<Tensor>> calib = {{Tensor({2, 16}, normal(32, 24, 1.f))}};
  const auto r = quantize_model(fp32, calib);
  ASSERT_EQ(r.layers.size(), 2u);
  for (const auto& L : r.layers) {
    EXPECT_TRUE(L.weights_only) << L.node;
    EXPECT_FALSE(L.int8) << L.node;
    EXPECT_LT(L.weight_error, 0.5 / 127 + 1e-6) << L.node;  // half a step of the channel's grid
  }
  EXPECT_EQ(r.fp32_weight_bytes, (12 * 16 + 12 * 5) * 4);
  EXPECT_EQ(r.int8_weight_bytes, 12 * 16 + 12 * 5 + (12 + 5) * 5);
  const auto q = dir / "dense-int8.onnx";
  std::ofstream(q, std::ios::binary) << r.onnx;
  const auto probe = std::vector<Tensor>{Tensor({3, 16}, normal(48, 25, 1.f))};
  const auto want = load_backend("reference", fp32.string())->run(probe)[0].data;
  for (const char* backend : {"reference", "onednn"}) {
    const auto got = load_backend(backend, q.string())->run(probe)[0].data;
    ASSERT_EQ(got.size(), want.size()) << backend;
    EXPECT_GT(cosine(got, want), 0.9999) << backend;
  }
  QuantizeOptions keep;
  keep.keep_fp32 = {"fc2"};
  const auto k = quantize_model(fp32, calib, keep);
  EXPECT_TRUE(k.layers[0].weights_only);
  EXPECT_FALSE(k.layers[1].weights_only);
}

TEST(Quantize, RequirementsAreChecked) {
  auto dir = test::temp_dir("quantize-errors");
  auto fp32 = small_net(dir);
  EXPECT_THROW(quantize_model(fp32, {}), Error);
  QuantizeOptions bad;
  bad.method = "entropy?";
  EXPECT_THROW(quantize_model(fp32, batches(1, 1, 1), bad), Error);
  QuantizeOptions keep;
  keep.keep_fp32 = {"no_such_conv"};
  EXPECT_THROW(quantize_model(fp32, batches(1, 1, 1), keep), Error);
  // an fp32 model asked for int8 on onednn is refused with a pointer to the quantiser
  BackendOptions int8;
  int8.precision = Precision::INT8;
  try {
    load_backend("onednn", fp32.string(), int8);
    FAIL() << "int8 on an fp32 model was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Unsupported);
    EXPECT_NE(std::string(e.what()).find("quantize"), std::string::npos) << e.what();
  }
  // quantising twice is refused
  auto r = quantize_model(fp32, batches(2, 1, 1));
  auto q = dir / "q.onnx";
  std::ofstream(q, std::ios::binary) << r.onnx;
  EXPECT_THROW(quantize_model(q, batches(1, 1, 1)), Error);
}

// A pool where 90% are "a" in factor 0 and 80% "x" in factor 1: the balanced sample takes the scarce
// levels first, so each factor's levels come out as even as the pool allows.
TEST(Quantize, BalancedSampleSpreadsEveryFactor) {
  std::vector<CalibrationCandidate> pool;
  for (int i = 0; i < 1000; ++i)
    pool.push_back(
        {"img" + std::to_string(i), {i % 10 == 0 ? "b" : "a", i % 5 == 0 ? "y" : "x", std::to_string(i % 3)}});
  auto chosen = balanced_sample(pool, 60, 1);
  ASSERT_EQ(chosen.size(), 60u);
  EXPECT_EQ(std::set<size_t>(chosen.begin(), chosen.end()).size(), 60u);
  auto c = level_counts(pool, chosen);
  // a random sample of 60 would hold about 6 "b" and 12 "y"
  auto near = [](size_t got, size_t want) { return got + 3 >= want && got <= want + 3; };
  EXPECT_TRUE(near(c[0]["b"], 30)) << c[0]["b"];
  EXPECT_TRUE(near(c[1]["y"], 30)) << c[1]["y"];
  for (const char* l : {"0", "1", "2"}) EXPECT_TRUE(near(c[2][l], 20)) << l << ": " << c[2][l];
  EXPECT_EQ(balanced_sample(pool, 5000, 1).size(), pool.size());  // at most the pool
  pool.push_back({"ragged", {"a"}});
  EXPECT_THROW(balanced_sample(pool, 10, 1), Error);
}

// UTKFace's codes read by name, ages in bands, other columns as they are; malformed tables refused.
TEST(Labels, TableReadsLevelsAndRefusesMalformedLines) {
  auto d = test::temp_dir("labels");
  {
    std::ofstream(d / "labels.tsv") << "file\tage\tgender\trace\tsite\n"
                                    << "images/a.jpg\t7\t0\t2\tnorth\n\n"
                                    << "images/b.jpg\t64\t1\t1\tsouth\r\n";
  }
  const auto t = read_label_table(d / "labels.tsv");
  EXPECT_EQ(t.root, d);
  EXPECT_EQ(t.factors, (std::vector<std::string>{"age", "gender", "race", "site"}));
  ASSERT_EQ(t.images.size(), 2u);
  EXPECT_EQ(t.images[0].file, std::filesystem::path("images/a.jpg"));
  EXPECT_EQ(t.images[0].levels, (std::vector<std::string>{"0-10", "male", "asian", "north"}));
  EXPECT_EQ(t.images[1].levels, (std::vector<std::string>{"61+", "female", "black", "south"}));
  EXPECT_EQ(t.factor_index("race"), 2u);
  EXPECT_TRUE(test::throws_error([&] { (void)t.factor_index("height"); }, ErrorKind::NotFound));
  EXPECT_EQ(label_level("race", "7"), "7");  // not a UTKFace code: kept as it is
  EXPECT_EQ(label_level("age", "40"), "21-40");
  { std::ofstream(d / "ragged.tsv") << "file\tage\nx.jpg\t3\ty\n"; }
  EXPECT_TRUE(test::throws_error([&] { read_label_table(d / "ragged.tsv"); }, ErrorKind::BadInput));
  { std::ofstream(d / "twice.tsv") << "file\tage\nx.jpg\t3\nx.jpg\t4\n"; }
  EXPECT_TRUE(test::throws_error([&] { read_label_table(d / "twice.tsv"); }, ErrorKind::BadInput, "listed twice"));
  { std::ofstream(d / "noheader.tsv") << "x.jpg\t3\n"; }
  EXPECT_TRUE(test::throws_error([&] { read_label_table(d / "noheader.tsv"); }, ErrorKind::BadInput));
  { std::ofstream(d / "empty.tsv") << "file\tage\n"; }
  EXPECT_TRUE(test::throws_error([&] { read_label_table(d / "empty.tsv"); }, ErrorKind::BadInput));
  EXPECT_TRUE(test::throws_error([&] { read_label_table(d / "missing.tsv"); }, ErrorKind::NotFound));
}

// The image lister: recursive, case-blind extensions, relative names as listed (symlinks kept), sorted.
TEST(Labels, ImageFilesAreListedRelativeAndSorted) {
  auto d = test::temp_dir("list-images");
  std::filesystem::create_directories(d / "b" / "c");
  for (const char* f : {"b/c/z.JPG", "a.png", "b/notes.txt", "b/y.jpeg"}) std::ofstream(d / f) << "x";
  std::filesystem::create_symlink(d / "a.png", d / "b" / "link.png");
  const auto files = list_image_files(d);
  EXPECT_EQ(files, (std::vector<std::filesystem::path>{"a.png", "b/c/z.JPG", "b/link.png", "b/y.jpeg"}));
  EXPECT_TRUE(test::throws_error([&] { list_image_files(d / "a.png"); }, ErrorKind::NotFound));
}

// NME: the mean point distance over the outer-eye-corner distance (iBUG 36, 45) of the reference.
TEST(Labels, LandmarkNmeIsNormalisedByTheOuterEyeCorners) {
  std::vector<cv::Point2f> truth(68, cv::Point2f(0, 0)), moved;
  truth[36] = {10, 20};
  truth[45] = {50, 20};  // 40 px apart
  moved = truth;
  for (auto& p : moved) p.x += 2;  // every point 2 px off
  EXPECT_NEAR(landmark_nme(moved, truth), 2.0 / 40, 1e-9);
  EXPECT_NEAR(landmark_nme(truth, truth), 0.0, 1e-12);
  EXPECT_TRUE(
      test::throws_error([&] { landmark_nme(std::vector<cv::Point2f>(5), truth); }, ErrorKind::InvalidArgument));
  EXPECT_TRUE(test::throws_error([&] { landmark_nme(truth, std::vector<cv::Point2f>(68)); }, ErrorKind::InvalidArgument,
                                 "eye corners"));
}

}  // namespace
}  // namespace facerec
