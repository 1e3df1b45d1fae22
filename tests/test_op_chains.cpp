// Small graphs of a few ops each, in the shapes the importers emit, that exercise what a backend
// does across ops: fusion (a conv absorbing a per-channel Mul/Add and a Relu, a PRelu after a
// depthwise conv, a residual Add with its activations), layout changes (a pool, a Flatten before a
// Gemm, a Transpose, a Concat) and a value that is both a graph output and read by later ops. Every
// backend is compared with the reference at batch sizes 1 and 3 and thread counts 1 and 2.
#include "import/onnx/onnx_builder.hpp"
#include "test_util.hpp"

#include <facerec/backend.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <functional>
#include <random>

namespace facerec {
namespace {

using detail::OnnxBuilder;
using Shape = std::vector<int64_t>;
using V = std::vector<int64_t>;

std::vector<float> random(int64_t n, unsigned seed, float lo = -1.f, float hi = 1.f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = d(rng);
  return v;
}

// Builds a graph on `b` from the input "x" of shape `input` (batch free); returns nothing: the
// builder's outputs are the graph's.
struct Chain {
  std::string name;
  Shape input;  // at batch 1
  std::function<void(OnnxBuilder&, unsigned&)> build;
  std::string not_on;  // a backend that cannot run this graph at all (said in the test's output)
};

void PrintTo(const Chain& c, std::ostream* os) { *os << c.name; }

std::string weights(OnnxBuilder& b, const Shape& shape, unsigned& seed, float lo = -0.5f, float hi = 0.5f) {
  return b.initializer("w", shape, random(Tensor::element_count(shape), seed++, lo, hi));
}

std::string conv(OnnxBuilder& b, const std::string& x, int64_t in, int64_t out, int64_t k, unsigned& seed,
                 detail::Attrs extra = {}, int64_t group = 1) {
  detail::Attrs a = {{"kernel_shape", V{k, k}}};
  bool has_pads = false;
  for (const auto& e : extra) has_pads |= e.first == "pads";
  if (!has_pads) a.push_back({"pads", V{k / 2, k / 2, k / 2, k / 2}});
  if (group != 1) a.push_back({"group", group});
  a.insert(a.end(), extra.begin(), extra.end());
  return b.node("Conv", {x, weights(b, {out, in / group, k, k}, seed), weights(b, {out}, seed)}, "conv", a);
}

// The case table leaves not_on at its default on purpose.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
std::vector<Chain> chains() {
  std::vector<Chain> v;
  v.push_back({"conv_mul_add_relu", {1, 4, 7, 6}, [](OnnxBuilder& b, unsigned& s) {
                 auto y = conv(b, "x", 4, 6, 3, s);
                 y = b.node("Mul", {y, weights(b, {1, 6, 1, 1}, s, 0.5f, 1.5f)}, "bn_mul");
                 y = b.node("Add", {y, weights(b, {1, 6, 1, 1}, s)}, "bn_add");
                 y = b.node("Relu", {y}, "relu");
                 b.output(y, {});
               }});
  v.push_back({"conv_stride2_tf_same_mul_add_clip", {1, 3, 9, 8}, [](OnnxBuilder& b, unsigned& s) {
                 auto y = conv(b, "x", 3, 5, 3, s, {{"pads", V{0, 0, 1, 1}}, {"strides", V{2, 2}}});
                 y = b.node("Mul", {weights(b, {5, 1, 1}, s, 0.5f, 1.5f), y}, "bn_mul");
                 y = b.node("Add", {y, weights(b, {5, 1, 1}, s)}, "bn_add");
                 y = b.node("Clip", {y}, "relu6", {{"min", 0.f}, {"max", 0.3f}});
                 b.output(y, {});
               }});
  v.push_back({"depthwise_prelu", {1, 4, 7, 6}, [](OnnxBuilder& b, unsigned& s) {
                 auto y = conv(b, "x", 4, 4, 3, s, {}, 4);
                 y = b.node("PRelu", {y, weights(b, {4, 1, 1}, s, 0.f, 0.5f)}, "prelu");
                 y = conv(b, y, 4, 8, 1, s);
                 b.output(y, {});
               }});
  // Add(convA, Relu(convC)): each conv could take the other branch as its sum post-op (the onednn
  // backend once built convA again from convC's look-ahead and reported a cycle), in both orders
  for (bool a_first : {true, false})
    v.push_back({std::string("residual_of_two_conv_chains_") + (a_first ? "a_first" : "c_first"),
                 {1, 4, 7, 6},
                 [a_first](OnnxBuilder& b, unsigned& s) {
                   std::string a, c;
                   if (a_first) a = conv(b, "x", 4, 4, 1, s);
                   c = b.node("Relu", {conv(b, "x", 4, 4, 3, s)}, "relu_c");
                   if (!a_first) a = conv(b, "x", 4, 4, 1, s);
                   auto y = b.node("Add", {a, c}, "residual");
                   b.output(b.node("Relu", {y}, "relu"), {});
                 }});
  // a conv's output (NHWC inside xnnpack) plus a computed value of another rank, broadcast along W
  v.push_back({"conv_plus_computed_vector",
               {1, 4, 7, 6},
               [](OnnxBuilder& b, unsigned& s) {
                 auto c = conv(b, "x", 4, 4, 3, s);
                 auto m = b.node("ReduceMean", {"x"}, "mean", {{"axes", V{0, 1}}, {"keepdims", int64_t(0)}});
                 b.output(b.node("Add", {c, m}, "add"), {});
               },
               // OpenCV 4.6 DNN throws on its shape check for this broadcast
               "opencv-dnn"});
  v.push_back({"residual_add_relu_clip", {1, 4, 7, 6}, [](OnnxBuilder& b, unsigned& s) {
                 // one branch ends in a pool
                 auto c = conv(b, "x", 4, 4, 3, s);
                 c = b.node("Relu", {c}, "relu");
                 auto a = conv(b, "x", 4, 4, 1, s);
                 a = b.node("AveragePool", {a}, "avg",
                            {{"kernel_shape", V{3, 3}}, {"strides", V{1, 1}}, {"pads", V{1, 1, 1, 1}}});
                 auto y = b.node("Add", {a, c}, "residual");
                 y = b.node("Relu", {y}, "relu");
                 y = b.node("Clip", {y}, "clip", {{"min", 0.f}, {"max", 0.4f}});
                 b.output(y, {});
               }});
  v.push_back({"residual_with_the_input", {1, 4, 7, 6}, [](OnnxBuilder& b, unsigned& s) {
                 auto c = conv(b, "x", 4, 4, 3, s);
                 auto y = b.node("Add", {"x", c}, "residual");
                 y = b.node("Relu", {y}, "relu");
                 b.output(y, {});
               }});
  v.push_back(
      {"conv_maxpool", {1, 3, 9, 8}, [](OnnxBuilder& b, unsigned& s) {
         auto y = conv(b, "x", 3, 4, 3, s);
         y = b.node("MaxPool", {y}, "pool", {{"kernel_shape", V{2, 2}}, {"strides", V{2, 2}}});
         y = b.node("MaxPool", {y}, "pool", {{"kernel_shape", V{3, 3}}, {"strides", V{1, 1}}, {"pads", V{1, 1, 1, 1}}});
         b.output(y, {});
       }});
  v.push_back({"blaze_block_pad_channels", {1, 4, 8, 8}, [](OnnxBuilder& b, unsigned& s) {
                 auto c = conv(b, "x", 4, 4, 3, s, {{"pads", V{0, 0, 1, 1}}, {"strides", V{2, 2}}}, 4);
                 c = conv(b, c, 4, 6, 1, s);
                 auto p = b.node("MaxPool", {"x"}, "pool", {{"kernel_shape", V{2, 2}}, {"strides", V{2, 2}}});
                 p = b.node("Pad", {p}, "pad",
                            {{"mode", std::string("constant")}, {"pads", V{0, 0, 0, 0, 0, 2, 0, 0}}, {"value", 0.f}});
                 auto y = b.node("Add", {c, p}, "residual");
                 y = b.node("Relu", {y}, "relu");
                 b.output(y, {});
               }});
  v.push_back({"flatten_gemm_softmax", {1, 3, 6, 6}, [](OnnxBuilder& b, unsigned& s) {
                 auto y = conv(b, "x", 3, 4, 3, s, {{"strides", V{2, 2}}});
                 y = b.node("Relu", {y}, "relu");
                 y = b.node("Flatten", {y}, "flatten", {{"axis", int64_t(1)}});
                 y = b.node("Gemm", {y, weights(b, {10, 36}, s), weights(b, {10}, s)}, "fc", {{"transB", int64_t(1)}});
                 y = b.node("Relu", {y}, "relu");
                 y = b.node("Gemm", {y, weights(b, {3, 10}, s), weights(b, {3}, s)}, "fc", {{"transB", int64_t(1)}});
                 y = b.node("Softmax", {y}, "softmax", {{"axis", int64_t(1)}});
                 b.output(y, {});
               }});
  v.push_back({"output_read_by_two_ops", {1, 4, 7, 6}, [](OnnxBuilder& b, unsigned& s) {
                 auto y = conv(b, "x", 4, 5, 3, s);
                 auto r = b.node("Relu", {y}, "relu");
                 auto m = b.node("Mul", {y, weights(b, {1, 5, 1, 1}, s)}, "scale");
                 m = b.node("Sigmoid", {m}, "sigmoid");
                 b.output(y, {});
                 b.output(r, {});
                 b.output(m, {});
               }});
  v.push_back({"concat_transpose_tanh", {1, 4, 5, 6}, [](OnnxBuilder& b, unsigned& s) {
                 auto a = conv(b, "x", 4, 3, 1, s);
                 auto c = conv(b, "x", 4, 2, 3, s);
                 auto y = b.node("Concat", {a, c}, "concat", {{"axis", int64_t(1)}});
                 y = b.node("Tanh", {y}, "tanh");
                 auto t = b.node("Transpose", {y}, "nhwc", {{"perm", V{0, 2, 3, 1}}});
                 y = b.node("AveragePool", {y}, "avg", {{"kernel_shape", V{5, 6}}});
                 b.output(t, {});
                 b.output(y, {});
               }});
  return v;
}
#pragma GCC diagnostic pop

double max_abs_diff(const Tensor& a, const Tensor& b) {
  double m = 0;
  for (size_t i = 0; i < a.data.size(); ++i) m = std::max(m, std::abs(double(a.data[i]) - double(b.data[i])));
  return m;
}

class OpChains : public ::testing::TestWithParam<Chain> {};

TEST_P(OpChains, EveryBackendMatchesTheReference) {
  const Chain& c = GetParam();
  auto dir = test::temp_dir("chains-" + c.name);
  auto path = dir / (c.name + ".onnx");
  {
    OnnxBuilder b(c.name);
    Shape in = c.input;
    in[0] = -1;
    b.input("x", in);
    unsigned seed = 10;
    c.build(b, seed);
    std::ofstream(path, std::ios::binary) << b.serialize();
  }
  auto reference = load_backend("reference", path.string());
  for (int batch : {1, 3}) {
    Shape shape = c.input;
    shape[0] = batch;
    // two inputs: the first run builds a plan on one, the replay must take the other
    const std::vector<std::vector<Tensor>> inputs = {
        {Tensor(shape, random(Tensor::element_count(shape), 7u + unsigned(batch), -2.f, 2.f))},
        {Tensor(shape, random(Tensor::element_count(shape), 70u + unsigned(batch), -2.f, 2.f))}};
    const std::vector<std::vector<Tensor>> refs = {reference->run(inputs[0]), reference->run(inputs[1])};
    for (const auto& name : backend_names()) {
      if (name == "reference") continue;
      if (name == c.not_on) {
        std::printf("[chains] %s: not run on %s (it cannot run this graph)\n", c.name.c_str(), name.c_str());
        continue;
      }
      for (int threads : {1, 2}) {
        BackendOptions o;
        o.threads = threads;
        auto net = load_backend(name, path.string(), o);
        for (int again = 0; again < 2; ++again) {  // the first run builds a plan, the second replays it
          const auto& ref = refs[size_t(again)];
          auto got = net->run(inputs[size_t(again)]);
          ASSERT_EQ(got.size(), ref.size()) << name;
          for (size_t k = 0; k < ref.size(); ++k) {
            ASSERT_EQ(got[k].shape, ref[k].shape) << name << " output " << k << ": " << shape_to_string(got[k].shape)
                                                  << " vs " << shape_to_string(ref[k].shape);
            EXPECT_LE(max_abs_diff(got[k], ref[k]), test::backend_tolerance(*net, test::max_abs(ref[k].data)))
                << c.name << " on " << name << ", output " << k << ", batch " << batch << ", " << threads
                << " threads, run " << again + 1;
          }
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(All, OpChains, ::testing::ValuesIn(chains()),
                         [](const auto& param_info) { return param_info.param.name; });

}  // namespace
}  // namespace facerec
