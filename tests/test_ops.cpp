// One test per op (the ncnn way): a one-node ONNX model in the form facerec's importers emit,
// run on every backend and compared with the plain reference backend within a tolerance.
#include "backend/onnx_graph.hpp"
#include "import/onnx/onnx_builder.hpp"
#include "test_util.hpp"

#include <facerec/backend.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <random>

namespace facerec {
namespace {

using detail::Attrs;
using detail::OnnxBuilder;
using Shape = std::vector<int64_t>;

struct OpCase {
  std::string name;
  std::string op;
  std::vector<Shape> inputs;                   // runtime inputs
  std::vector<std::pair<Shape, bool>> consts;  // initializers after the inputs (shape, positive values)
  Attrs attrs;
  bool positive_inputs = false;
  Shape reshape_to;  // for Reshape: int64 shape initializer
};

std::vector<float> random(int64_t n, unsigned seed, bool positive) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(positive ? 0.1f : -2.f, 2.f);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = d(rng);
  return v;
}

// A Reshape to a fixed shape cannot take another batch size; every other case can.
bool batchable(const OpCase& c) { return c.reshape_to.empty(); }

// The case as a one-node model; with a free batch, the first dimension of every input is free.
std::filesystem::path build(const OpCase& c, const std::filesystem::path& dir) {
  OnnxBuilder b(c.name);
  std::vector<std::string> ins;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    std::string n = "in" + std::to_string(i);
    Shape s = c.inputs[i];
    if (batchable(c)) s[0] = -1;
    b.input(n, s);
    ins.push_back(n);
  }
  unsigned seed = 100;
  for (const auto& [shape, pos] : c.consts)
    ins.push_back(b.initializer("k", shape, random(Tensor::element_count(shape), seed++, pos)));
  if (!c.reshape_to.empty()) ins.push_back(b.initializer_i64("shape", {int64_t(c.reshape_to.size())}, c.reshape_to));
  std::string y = b.node(c.op, ins, "y", c.attrs);
  b.output(y, {});
  auto p = dir / (c.name + ".onnx");
  std::ofstream(p, std::ios::binary) << b.serialize();
  return p;
}

// The inputs at `batch` times the case's first dimension: the first slice is the same for every
// batch size, the others are different values.
std::vector<Tensor> inputs(const OpCase& c, int batch) {
  std::vector<Tensor> out;
  unsigned seed = 1;
  for (const auto& s : c.inputs) {
    Shape shape = s;
    shape[0] *= batch;
    auto first = random(Tensor::element_count(s), seed, c.positive_inputs);
    auto rest = random(Tensor::element_count(shape) - int64_t(first.size()), seed + 1000, c.positive_inputs);
    first.insert(first.end(), rest.begin(), rest.end());
    out.emplace_back(shape, std::move(first));
    ++seed;
  }
  return out;
}

double max_abs_diff(const Tensor& a, const Tensor& b, size_t count) {
  double m = 0;
  for (size_t i = 0; i < count; ++i) m = std::max(m, std::abs(double(a.data[i]) - double(b.data[i])));
  return m;
}

void PrintTo(const OpCase& c, std::ostream* os) { *os << c.name; }

class Ops : public ::testing::TestWithParam<OpCase> {};

// Every backend against the reference, at batch sizes 1 and 3 and thread counts 1 and 2: the same
// shape and the same values within 1e-4 (bf16 backends: test::backend_tolerance); and the reference itself gives the
// batch-1 result as the first slice of the batch-3 result.
TEST_P(Ops, EveryBackendMatchesTheReference) {
  const OpCase& c = GetParam();
  auto dir = test::temp_dir("ops-" + c.name);
  auto path = build(c, dir);
  std::vector<std::string> others;
  for (const auto& name : backend_names())
    if (name != "reference") others.push_back(name);
  ASSERT_FALSE(others.empty()) << "only the reference backend is registered: nothing is compared";
  auto reference = load_backend("reference", path.string());
  Tensor ref1;
  for (int batch : {1, 3}) {
    if (batch > 1 && !batchable(c)) continue;
    auto in = inputs(c, batch);
    auto ref = reference->run(in);
    ASSERT_EQ(ref.size(), 1u);
    if (batch == 1) {
      ref1 = ref[0];
    } else {
      ASSERT_EQ(ref[0].shape[0], ref1.shape[0] * batch) << shape_to_string(ref[0].shape);
      ASSERT_EQ(Shape(ref[0].shape.begin() + 1, ref[0].shape.end()), Shape(ref1.shape.begin() + 1, ref1.shape.end()));
      EXPECT_LE(max_abs_diff(ref[0], ref1, ref1.data.size()), 1e-6) << "the batch's first item changed with batch size";
    }
    for (const auto& name : others)
      for (int threads : {1, 2}) {
        BackendOptions o;
        o.threads = threads;
        auto net = load_backend(name, path.string(), o);
        auto got = net->run(in);
        ASSERT_EQ(got.size(), 1u);
        ASSERT_EQ(got[0].shape, ref[0].shape) << name << " gives " << shape_to_string(got[0].shape) << ", reference "
                                              << shape_to_string(ref[0].shape) << " (batch " << batch << ")";
        EXPECT_LE(max_abs_diff(got[0], ref[0], ref[0].data.size()),
                  test::backend_tolerance(*net, test::max_abs(ref[0].data)))
            << c.name << " on " << name << ", batch " << batch << ", " << threads << " threads";
      }
  }
}

const Shape X = {1, 4, 7, 6};

// The case table leaves trailing fields at their defaults on purpose.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
std::vector<OpCase> cases() {
  using V = std::vector<int64_t>;
  std::vector<OpCase> v;
  v.push_back({"conv3x3_pad1",
               "Conv",
               {X},
               {{{5, 4, 3, 3}, false}, {{5}, false}},
               {{"kernel_shape", V{3, 3}}, {"pads", V{1, 1, 1, 1}}, {"strides", V{1, 1}}}});
  v.push_back({"conv3x3_stride2_asymmetric_pads",
               "Conv",
               {X},
               {{{5, 4, 3, 3}, false}, {{5}, false}},
               {{"kernel_shape", V{3, 3}}, {"pads", V{0, 0, 1, 1}}, {"strides", V{2, 2}}}});
  v.push_back({"conv7x7_stride2_valid",
               "Conv",
               {{1, 3, 17, 16}},
               {{{4, 3, 7, 7}, false}},
               {{"kernel_shape", V{7, 7}}, {"pads", V{0, 0, 0, 0}}, {"strides", V{2, 2}}}});
  v.push_back({"conv_dilated",
               "Conv",
               {X},
               {{{2, 4, 3, 3}, false}},
               {{"kernel_shape", V{3, 3}}, {"pads", V{2, 2, 2, 2}}, {"dilations", V{2, 2}}}});
  v.push_back({"conv_depthwise_multiplier2",
               "Conv",
               {X},
               {{{8, 1, 3, 3}, false}, {{8}, false}},
               {{"kernel_shape", V{3, 3}}, {"pads", V{1, 1, 1, 1}}, {"group", int64_t(4)}}});
  v.push_back({"conv1x1", "Conv", {X}, {{{6, 4, 1, 1}, false}}, {{"kernel_shape", V{1, 1}}}});
  v.push_back({"conv_depthwise_stride2",
               "Conv",
               {X},
               {{{4, 1, 3, 3}, false}, {{4}, false}},
               {{"kernel_shape", V{3, 3}}, {"pads", V{1, 1, 1, 1}}, {"strides", V{2, 2}}, {"group", int64_t(4)}}});
  v.push_back({"conv_grouped2",
               "Conv",
               {X},
               {{{6, 2, 3, 3}, false}, {{6}, false}},
               {{"kernel_shape", V{3, 3}}, {"pads", V{1, 1, 1, 1}}, {"group", int64_t(2)}}});
  // top, left, bottom, right all different: catches a backend that orders them otherwise
  v.push_back({"conv_pads_all_different",
               "Conv",
               {X},
               {{{3, 4, 3, 3}, false}, {{3}, false}},
               {{"kernel_shape", V{3, 3}}, {"pads", V{1, 0, 2, 1}}, {"strides", V{1, 1}}}});
  v.push_back({"conv5x3_stride2_tf_same",
               "Conv",
               {{1, 3, 9, 8}},
               {{{4, 3, 5, 3}, false}, {{4}, false}},
               {{"kernel_shape", V{5, 3}}, {"pads", V{1, 0, 2, 1}}, {"strides", V{2, 2}}}});
  v.push_back({"gemm_transB_bias", "Gemm", {{3, 10}}, {{{7, 10}, false}, {{7}, false}}, {{"transB", int64_t(1)}}});
  v.push_back({"matmul_const", "MatMul", {{3, 10}}, {{{10, 4}, false}}, {}});
  v.push_back({"gemm_widen_column", "Gemm", {{3, 1}}, {{{5, 1}, true}, {{5}, false}}, {{"transB", int64_t(1)}}});
  // the importers use Max/Min between computed tensors only (constants go through Clip or Relu)
  for (const char* op : {"Add", "Sub", "Mul", "Div", "Max", "Min"}) {
    std::string o = op;
    bool div = o == "Div";
    if (o != "Max" && o != "Min") {
      v.push_back({o + "_channel_const", op, {X}, {{{1, 4, 1, 1}, div}}, {}});
      v.push_back({o + "_scalar_const", op, {X}, {{{1}, div}}, {}});
    }
    v.push_back({o + "_two_tensors", op, {X, X}, {}, {}, div});
  }
  v.push_back({"Add_rank2", "Add", {{3, 5}, {3, 5}}, {}, {}});
  v.push_back({"Mul_channel_const_rank3", "Mul", {X}, {{{4, 1, 1}, false}}, {}});
  v.push_back({"Add_channel_const_rank3", "Add", {X}, {{{4, 1, 1}, false}}, {}});
  v.push_back({"PRelu_channel", "PRelu", {X}, {{{4, 1, 1}, false}}, {}});
  v.push_back({"PRelu_rank2", "PRelu", {{2, 5}}, {{{5}, false}}, {}});
  for (const char* op : {"Relu", "Sigmoid", "Tanh", "Abs", "Exp", "Identity"}) v.push_back({op, op, {X}, {}, {}});
  v.push_back({"Sqrt", "Sqrt", {X}, {}, {}, true});
  v.push_back({"Reciprocal", "Reciprocal", {X}, {}, {}, true});
  v.push_back({"LeakyRelu", "LeakyRelu", {X}, {}, {{"alpha", 0.2f}}});
  v.push_back({"Clip_relu6", "Clip", {X}, {}, {{"min", 0.f}, {"max", 0.6f}}});
  v.push_back({"Clip_min_only", "Clip", {X}, {}, {{"min", -0.5f}, {"max", 3.4e38f}}});
  v.push_back({"Softmax_rank2", "Softmax", {{3, 10}}, {}, {{"axis", int64_t(1)}}});
  v.push_back({"Softmax_rank3_last", "Softmax", {{1, 6, 4}}, {}, {{"axis", int64_t(2)}}});
  v.push_back({"MaxPool3_s2_valid",
               "MaxPool",
               {X},
               {},
               {{"kernel_shape", V{3, 3}}, {"strides", V{2, 2}}, {"pads", V{0, 0, 0, 0}}}});
  v.push_back({"MaxPool2_s2_pad_end",
               "MaxPool",
               {X},
               {},
               {{"kernel_shape", V{2, 2}}, {"strides", V{2, 2}}, {"pads", V{0, 0, 1, 0}}}});
  v.push_back({"MaxPool3_s1_pads1",
               "MaxPool",
               {X},
               {},
               {{"kernel_shape", V{3, 3}}, {"strides", V{1, 1}}, {"pads", V{1, 1, 1, 1}}}});
  v.push_back({"AvgPool2_s2_valid",
               "AveragePool",
               {X},
               {},
               {{"kernel_shape", V{2, 2}}, {"strides", V{2, 2}}, {"pads", V{0, 0, 0, 0}}}});
  v.push_back({"AvgPool3_s1_pads_excluded",
               "AveragePool",
               {X},
               {},
               {{"kernel_shape", V{3, 3}}, {"strides", V{1, 1}}, {"pads", V{1, 1, 1, 1}}}});
  v.push_back({"AvgPool7_s2_global",
               "AveragePool",
               {{1, 3, 7, 7}},
               {},
               {{"kernel_shape", V{7, 7}}, {"strides", V{2, 2}}, {"pads", V{0, 0, 0, 0}}}});
  v.push_back({"Pad_channels",
               "Pad",
               {X},
               {},
               {{"mode", std::string("constant")}, {"pads", V{0, 0, 0, 0, 0, 4, 0, 0}}, {"value", 0.f}}});
  v.push_back({"Pad_spatial",
               "Pad",
               {X},
               {},
               {{"mode", std::string("constant")}, {"pads", V{0, 0, 1, 2, 0, 0, 2, 1}}, {"value", 0.f}}});
  v.push_back({"Reshape_flatten", "Reshape", {X}, {}, {}, false, {1, -1}});
  v.push_back({"Reshape_split", "Reshape", {{1, 6, 4, 2}}, {}, {}, false, {1, 24, 2}});
  v.push_back({"Flatten", "Flatten", {X}, {}, {{"axis", int64_t(1)}}});
  v.push_back({"Squeeze", "Squeeze", {{1, 5, 1, 1}}, {}, {{"axes", V{2, 3}}}});
  v.push_back({"Concat_channels", "Concat", {X, X}, {}, {{"axis", int64_t(1)}}});
  v.push_back({"Concat_rank3", "Concat", {{1, 6, 4}, {1, 5, 4}}, {}, {{"axis", int64_t(1)}}});
  v.push_back({"Transpose_to_nhwc", "Transpose", {X}, {}, {{"perm", V{0, 2, 3, 1}}}});
  v.push_back({"Transpose_to_nchw", "Transpose", {{1, 7, 6, 4}}, {}, {{"perm", V{0, 3, 1, 2}}}});
  v.push_back({"ReduceMean_hw", "ReduceMean", {X}, {}, {{"axes", V{2, 3}}, {"keepdims", int64_t(0)}}});
  v.push_back({"ReduceSum_keepdims", "ReduceSum", {{2, 9}}, {}, {{"axes", V{1}}, {"keepdims", int64_t(1)}}});
  return v;
}
#pragma GCC diagnostic pop

INSTANTIATE_TEST_SUITE_P(All, Ops, ::testing::ValuesIn(cases()),
                         [](const auto& param_info) { return param_info.param.name; });

// The one conv size formula: ONNX's floor((size + pads - dilated kernel) / stride) + 1; malformed
// attributes are BadModel (a zero stride would divide by zero), a kernel larger than the padded
// input InvalidArgument.
TEST(ConvOutputSize, FormulaAndRefusals) {
  using detail::conv_output_hw;
  EXPECT_EQ(conv_output_hw(7, 6, 3, 3, {1, 1}, {1, 1}, {1, 1, 1, 1}), (std::array<int64_t, 2>{7, 6}));
  EXPECT_EQ(conv_output_hw(112, 112, 3, 3, {2, 2}, {1, 1}, {0, 0, 1, 1}), (std::array<int64_t, 2>{56, 56}));
  EXPECT_EQ(conv_output_hw(9, 9, 3, 3, {1, 1}, {2, 2}, {0, 0, 0, 0}), (std::array<int64_t, 2>{5, 5}));
  EXPECT_TRUE(test::throws_error(
      [] {
        conv_output_hw(7, 6, 3, 3, {0, 1}, {1, 1}, {0, 0, 0, 0});
      },
      ErrorKind::BadModel));
  EXPECT_TRUE(test::throws_error([] { conv_output_hw(7, 6, 3, 3, {1, 1}, {1, 1}, {0, 0}); }, ErrorKind::BadModel));
  EXPECT_TRUE(test::throws_error(
      [] {
        conv_output_hw(2, 6, 5, 3, {1, 1}, {1, 1}, {0, 0, 0, 0});
      },
      ErrorKind::InvalidArgument, "larger than the input"));
}

}  // namespace
}  // namespace facerec
