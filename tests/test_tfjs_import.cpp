// The TFJS -> ONNX importer on small hand-written graphs: layout handling (NHWC in TF, NCHW in
// ONNX), TF 'SAME' padding with stride 2, fused ops, the folded patterns, and clear errors.
// Expected values are computed here directly from the TF definitions, in NHWC.
#include "test_util.hpp"

#include <facerec/backend.hpp>
#include <facerec/error.hpp>
#include <facerec/import/import.hpp>
#include <facerec/models.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <random>

namespace facerec {
namespace {

using nlohmann::json;

// base64 of the attribute strings used below
const char* kSame = "U0FNRQ==";
const char* kValid = "VkFMSUQ=";
const char* kBiasAdd = "Qmlhc0FkZA==";
const char* kRelu = "UmVsdQ==";

json ints(std::vector<int> v) {
  json a = json::array();
  for (int x : v) a.push_back(std::to_string(x));
  return {{"list", {{"i", a}}}};
}

class TfjsBuilder {
 public:
  void placeholder(const std::string& name, std::vector<int> shape) {
    json dims = json::array();
    for (int d : shape) dims.push_back({{"size", std::to_string(d)}});
    nodes_.push_back({{"name", name}, {"op", "Placeholder"}, {"attr", {{"shape", {{"shape", {{"dim", dims}}}}}}}});
  }
  void konst(const std::string& name, std::vector<int> shape, const std::vector<float>& v) {
    nodes_.push_back({{"name", name}, {"op", "Const"}, {"attr", json::object()}});
    weights_.push_back({{"name", name}, {"shape", shape}, {"dtype", "float32"}});
    shard_.append(reinterpret_cast<const char*>(v.data()), v.size() * 4);
  }
  void konst_i(const std::string& name, std::vector<int> shape, const std::vector<int32_t>& v) {
    nodes_.push_back({{"name", name}, {"op", "Const"}, {"attr", json::object()}});
    weights_.push_back({{"name", name}, {"shape", shape}, {"dtype", "int32"}});
    shard_.append(reinterpret_cast<const char*>(v.data()), v.size() * 4);
  }
  void op(const std::string& name, const std::string& op, std::vector<std::string> in, json attr = json::object()) {
    nodes_.push_back({{"name", name}, {"op", op}, {"input", in}, {"attr", attr}});
  }
  std::filesystem::path write(const std::filesystem::path& dir) {
    std::ofstream(dir / "w.bin", std::ios::binary) << shard_;
    json m = {{"format", "graph-model"},
              {"modelTopology", {{"node", nodes_}}},
              {"weightsManifest", json::array({{{"paths", {"w.bin"}}, {"weights", weights_}}})}};
    std::ofstream(dir / "model.json") << m.dump();
    return dir / "model.json";
  }

 private:
  json nodes_ = json::array(), weights_ = json::array();
  std::string shard_;
};

std::vector<float> randv(size_t n, unsigned seed, float lo = -1, float hi = 1) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// TF conv2d / depthwise in NHWC with TF 'SAME' or 'VALID' padding.
std::vector<float> conv_nhwc(const std::vector<float>& x, int H, int W, int C, const std::vector<float>& f, int K,
                             int M, int stride, bool same, bool depthwise, int& OH, int& OW) {
  int pt = 0, pl = 0;
  if (same) {
    OH = (H + stride - 1) / stride;
    OW = (W + stride - 1) / stride;
    pt = std::max((OH - 1) * stride + K - H, 0) / 2;
    pl = std::max((OW - 1) * stride + K - W, 0) / 2;
  } else {
    OH = (H - K) / stride + 1;
    OW = (W - K) / stride + 1;
  }
  int CO = depthwise ? C * M : M;
  std::vector<float> y(size_t(OH * OW * CO), 0.f);
  for (int oy = 0; oy < OH; ++oy)
    for (int ox = 0; ox < OW; ++ox)
      for (int co = 0; co < CO; ++co) {
        double acc = 0;
        for (int ky = 0; ky < K; ++ky)
          for (int kx = 0; kx < K; ++kx) {
            int iy = oy * stride - pt + ky, ix = ox * stride - pl + kx;
            if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
            if (depthwise) {
              int c = co / M, m = co % M;
              acc += x[size_t((iy * W + ix) * C + c)] * f[size_t(((ky * K + kx) * C + c) * M + m)];
            } else {
              for (int c = 0; c < C; ++c)
                acc += x[size_t((iy * W + ix) * C + c)] * f[size_t(((ky * K + kx) * C + c) * M + co)];
            }
          }
        y[size_t((oy * OW + ox) * CO + co)] = float(acc);
      }
  return y;
}

// NHWC data -> the NCHW tensor our ONNX input takes
Tensor to_nchw(const std::vector<float>& x, int H, int W, int C) {
  Tensor t({1, C, H, W});
  for (int h = 0; h < H; ++h)
    for (int w = 0; w < W; ++w)
      for (int c = 0; c < C; ++c) t.data[size_t((c * H + h) * W + w)] = x[size_t((h * W + w) * C + c)];
  return t;
}

const Tensor& output(const std::vector<Tensor>& outs, InferenceBackend& net, const std::string& name) {
  auto specs = net.outputs();
  for (size_t i = 0; i < specs.size(); ++i)
    if (specs[i].name == name) return outs[i];
  throw std::runtime_error("no output " + name);
}

// Within `fp32_tol` (a bf16 backend: test::tolerance_for).
void expect_near(const InferenceBackend& net, const std::vector<float>& got, const std::vector<float>& want,
                 float fp32_tol, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  const double tol = test::tolerance_for(net, fp32_tol, test::max_abs(want));
  for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], want[i], tol) << what << " [" << i << "]";
}

TEST(TfjsImport, ConvSameStride2FusedReluMeanAndNhwcFlattenMatchTfSemantics) {
  const int H = 7, W = 6, C = 2, K = 3, M = 3;
  auto xin = randv(H * W * C, 1);
  auto f = randv(K * K * C * M, 2);
  auto bias = randv(M, 3);
  auto dwf = randv(K * K * C * 2, 4);
  TfjsBuilder b;
  b.placeholder("x", {1, H, W, C});
  b.konst("f", {K, K, C, M}, f);
  b.konst("bias", {M}, bias);
  b.op("conv", "_FusedConv2D", {"x", "f", "bias"},
       {{"strides", ints({1, 2, 2, 1})},
        {"padding", {{"s", kSame}}},
        {"fused_ops", {{"list", {{"s", {kBiasAdd, kRelu}}}}}},
        {"num_args", {{"i", "1"}}}});
  b.konst_i("axes", {2}, {1, 2});
  b.op("mean", "Mean", {"conv", "axes"}, {{"keep_dims", {{"b", false}}}});
  b.konst("dwf", {K, K, C, 2}, dwf);
  b.op("dw", "DepthwiseConv2dNative", {"x", "dwf"}, {{"strides", ints({1, 1, 1, 1})}, {"padding", {{"s", kValid}}}});
  b.konst_i("shape", {2}, {1, -1});
  b.op("flat", "Reshape", {"dw", "shape"});
  auto dir = test::temp_dir("tfjs-conv");
  auto report = import_tfjs_graph(b.write(dir), dir / "m.onnx");
  EXPECT_EQ(report.output_names, (std::vector<std::string>{"mean", "flat"}));

  int OH, OW, DH, DW;
  auto conv = conv_nhwc(xin, H, W, C, f, K, M, 2, true, false, OH, OW);
  std::vector<float> mean(M, 0.f);
  for (int i = 0; i < OH * OW; ++i)
    for (int m = 0; m < M; ++m)
      mean[size_t(m)] += std::max(conv[size_t(i * M + m)] + bias[size_t(m)], 0.f) / float(OH * OW);
  auto flat = conv_nhwc(xin, H, W, C, dwf, K, 2, 1, false, true, DH, DW);  // NHWC order is the flatten order

  for (const auto& backend : backend_names()) {
    auto net = load_backend(backend, (dir / "m.onnx").string());
    auto outs = net->run({to_nchw(xin, H, W, C)});
    expect_near(*net, output(outs, *net, "mean").data, mean, 1e-5f, backend + " mean");
    expect_near(*net, output(outs, *net, "flat").data, flat, 1e-5f, backend + " flat");
  }
}

// A Cast is translated only when its types say float -> float (or a comparison's bool -> float);
// a cast to an integer type, or one without its type attributes, is refused rather than guessed.
TEST(TfjsImport, CastToAnotherTypeIsRefused) {
  auto dir = test::temp_dir("tfjs_cast");
  for (const json& attr : {json{{"SrcT", {{"type", "DT_FLOAT"}}}, {"DstT", {{"type", "DT_INT32"}}}}, json::object()}) {
    TfjsBuilder b;
    b.placeholder("x", {1, 4});
    b.op("c", "Cast", {"x"}, attr);
    EXPECT_ERROR(import_tfjs_graph(b.write(dir), dir / "m.onnx"), ErrorKind::Unsupported, "op 'Cast'");
  }
  TfjsBuilder b;
  b.placeholder("x", {1, 4});
  b.op("c", "Cast", {"x"}, {{"SrcT", {{"type", "DT_FLOAT"}}}, {"DstT", {{"type", "DT_FLOAT"}}}});
  EXPECT_NO_THROW(import_tfjs_graph(b.write(dir), dir / "m.onnx"));
}

TEST(TfjsImport, PreluWrittenInPiecesIsFoldedAndExact) {
  // relu(x) + c * (x - |x|)  ==  PReLU(x, 2c)
  TfjsBuilder b;
  b.placeholder("x", {1, 2, 2, 3});
  b.konst("c", {3}, {0.05f, 0.1f, -0.2f});
  b.op("relu", "Relu", {"x"});
  b.op("abs", "Abs", {"x"});
  b.op("sub", "Sub", {"x", "abs"});
  b.op("mul", "Mul", {"sub", "c"});
  b.op("prelu", "AddV2", {"relu", "mul"});
  auto dir = test::temp_dir("tfjs-prelu");
  auto report = import_tfjs_graph(b.write(dir), dir / "m.onnx");
  EXPECT_GE(report.folded_patterns, 1);
  EXPECT_EQ(report.nodes_out, 2);  // PRelu + the final transpose back to NHWC
  auto xin = randv(12, 5);
  std::vector<float> want(12);
  float c[3] = {0.05f, 0.1f, -0.2f};
  for (int i = 0; i < 12; ++i) want[size_t(i)] = xin[size_t(i)] > 0 ? xin[size_t(i)] : 2 * c[i % 3] * xin[size_t(i)];
  for (const auto& backend : backend_names()) {
    auto net = load_backend(backend, (dir / "m.onnx").string());
    auto outs = net->run({to_nchw(xin, 2, 2, 3)});
    expect_near(*net, outs[0].data, want, 1e-6f, backend);
  }
}

TEST(TfjsImport, Relu6ChainBecomesOneClip) {
  TfjsBuilder b;
  b.placeholder("x", {1, 4});
  b.konst("six", {}, {6.f});
  b.konst("zero", {}, {0.f});
  b.op("relu", "Relu", {"x"});
  b.op("min", "Minimum", {"relu", "six"});
  b.op("max", "Maximum", {"min", "zero"});
  auto dir = test::temp_dir("tfjs-relu6");
  auto report = import_tfjs_graph(b.write(dir), dir / "m.onnx");
  EXPECT_EQ(report.nodes_out, 1);
  for (const auto& backend : backend_names()) {
    auto net = load_backend(backend, (dir / "m.onnx").string());
    auto outs = net->run({Tensor({1, 4}, {-3.f, 2.5f, 7.f, 6.f})});
    expect_near(*net, outs[0].data, {0.f, 2.5f, 6.f, 6.f}, 0.f, backend);
  }
}

// A cut: the graph's pre-processing (an op the importer cannot translate) and a dangling
// post-processing branch are left out; the cut node's value becomes the input; Neg (CReLU's half)
// is exact on every backend.
TEST(TfjsImport, GraphCutImportsThePartBetweenInputAndOutputs) {
  TfjsBuilder b;
  b.placeholder("image_tensor", {-1, -1, -1, 3});
  b.konst_i("axis", {}, {1});
  b.op("pre/cumsum", "Cumsum", {"image_tensor", "axis"});  // not importable: must be cut away
  b.konst("half", {}, {0.5f});
  b.op("standardize", "Mul", {"pre/cumsum", "half"});
  b.op("neg", "Neg", {"standardize"});
  b.konst("cat_axis", {}, {3.f});
  b.op("crelu", "ConcatV2", {"standardize", "neg", "cat_axis"});
  b.op("relu", "Relu", {"crelu"});
  b.op("post/weird", "Cumsum", {"relu", "axis"});  // after the outputs: not reached
  auto dir = test::temp_dir("tfjs-cut");
  auto model = b.write(dir);
  EXPECT_ERROR(import_tfjs_graph(model, dir / "whole.onnx"),
               ErrorKind::Unsupported);  // the whole graph is not importable
  GraphCut cut;
  cut.input = "standardize";
  cut.outputs = {{"features", "relu"}};
  auto report = import_tfjs_graph(model, dir / "m.onnx", &cut, "image", 3, 2);
  ASSERT_EQ(report.input_names, std::vector<std::string>{"image"});
  ASSERT_EQ(report.output_names, std::vector<std::string>{"features"});
  auto xin = randv(2 * 3 * 3, 11);  // NHWC 1x2x3x3
  std::vector<float> want;          // NHWC 1x2x3x6: relu(x), relu(-x)
  for (int p = 0; p < 6; ++p) {
    for (int c = 0; c < 3; ++c) want.push_back(std::max(0.f, xin[size_t(p * 3 + c)]));
    for (int c = 0; c < 3; ++c) want.push_back(std::max(0.f, -xin[size_t(p * 3 + c)]));
  }
  for (const auto& backend : backend_names()) {
    auto net = load_backend(backend, (dir / "m.onnx").string());
    auto outs = net->run({to_nchw(xin, 2, 3, 3)});
    expect_near(*net, outs[0].data, want, 1e-6f, backend);
  }
  // free_size: converted at 3x2, run at 5x4 (an element-wise graph is valid at any size)
  GraphCut free = cut;
  free.free_size = true;
  import_tfjs_graph(model, dir / "free.onnx", &free, "image", 3, 2);
  auto xbig = randv(4 * 5 * 3, 12);
  std::vector<float> want_big;
  for (int p = 0; p < 20; ++p) {
    for (int c = 0; c < 3; ++c) want_big.push_back(std::max(0.f, xbig[size_t(p * 3 + c)]));
    for (int c = 0; c < 3; ++c) want_big.push_back(std::max(0.f, -xbig[size_t(p * 3 + c)]));
  }
  for (const auto& backend : backend_names()) {
    auto net = load_backend(backend, (dir / "free.onnx").string());
    EXPECT_EQ(net->inputs().at(0).shape, (std::vector<int64_t>{1, 3, -1, -1})) << backend;
    auto outs = net->run({to_nchw(xbig, 4, 5, 3)});
    expect_near(*net, outs[0].data, want_big, 1e-6f, backend + " at 5x4");
  }
  GraphCut bad = cut;
  bad.input = "no/such/node";
  EXPECT_ERROR(import_tfjs_graph(model, dir / "bad.onnx", &bad, "image", 3, 2), ErrorKind::BadModel);
  bad = cut;
  bad.outputs = {{"features", "no/such/node"}};
  EXPECT_ERROR(import_tfjs_graph(model, dir / "bad.onnx", &bad, "image", 3, 2), ErrorKind::BadModel);
  EXPECT_ERROR(import_tfjs_graph(model, dir / "bad.onnx", &cut, "", 3, 2), ErrorKind::BadModel);
}

TEST(TfjsImport, UnsupportedOpNamesOpAndNode) {
  TfjsBuilder b;
  b.placeholder("x", {1, 4});
  b.konst_i("axis", {}, {1});
  b.op("stage/weird_cumsum", "Cumsum", {"x", "axis"});
  auto dir = test::temp_dir("tfjs-unsupported");
  try {
    import_tfjs_graph(b.write(dir), dir / "m.onnx");
    FAIL() << "expected Unsupported";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Unsupported);
    std::string what = e.what();
    EXPECT_NE(what.find("Cumsum"), std::string::npos) << what;
    EXPECT_NE(what.find("stage/weird_cumsum"), std::string::npos) << what;
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "m.onnx")) << "no partial model may be written";
}

TEST(TfjsImport, MalformedInputsAreClearErrors) {
  auto dir = test::temp_dir("tfjs-bad");
  std::ofstream(dir / "garbage.json") << "{ this is not json";
  EXPECT_ERROR(import_tfjs_graph(dir / "garbage.json", dir / "m.onnx"), ErrorKind::BadModel);
  std::ofstream(dir / "layers.json") << R"({"modelTopology": {"class_name": "Sequential"}, "weightsManifest": []})";
  try {
    import_tfjs_graph(dir / "layers.json", dir / "m.onnx");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::BadModel);
  }
  try {
    import_tfjs_graph(dir / "missing.json", dir / "m.onnx");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::NotFound);
  }
  // a node refers to a node that does not exist
  TfjsBuilder b;
  b.placeholder("x", {1, 4});
  b.op("y", "Relu", {"ghost"});
  try {
    import_tfjs_graph(b.write(dir), dir / "m.onnx");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("ghost"), std::string::npos) << e.what();
  }
  // found by fuzz_tfjs: a weights entry without "name" escaped as a JSON library exception
  std::ofstream(dir / "noname.json") << R"({"format": "graph-model", "modelTopology": {"node": [
    {"name": "x", "op": "Placeholder", "attr": {}}]}, "weightsManifest": [{"paths": ["w.bin"],
    "weights": [{"shape": [2], "dtype": "float32"}]}]})";
  std::ofstream(dir / "w.bin", std::ios::binary) << std::string(8, '\0');
  try {
    import_tfjs_graph(dir / "noname.json", dir / "m.onnx");
    FAIL() << "a malformed weights manifest was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::BadModel) << e.what();
    EXPECT_NE(std::string(e.what()).find("noname.json"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace facerec
