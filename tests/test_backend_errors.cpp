// Every backend: missing, empty, truncated and garbage model files, wrong input shapes, ops it
// lacks, and unknown backend names are clear errors, never crashes.
#include "import/onnx/onnx_builder.hpp"
#include "test_util.hpp"

#include <facerec/backend.hpp>
#include <facerec/error.hpp>

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <fstream>
#include <thread>

namespace facerec {
namespace {

std::filesystem::path tiny_model(const std::filesystem::path& dir) {
  detail::OnnxBuilder b("tiny");
  b.input("x", {-1, 3});
  std::string y = b.node("Relu", {"x"}, "y");
  b.output(y, {-1, 3});
  auto p = dir / "tiny.onnx";
  std::ofstream(p, std::ios::binary) << b.serialize();
  return p;
}

class BackendErrors : public ::testing::TestWithParam<std::string> {};

TEST_P(BackendErrors, BadModelFiles) {
  auto dir = test::temp_dir("backend-errors");
  auto good = tiny_model(dir);
  std::string bytes;
  {
    std::ifstream in(good, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  std::ofstream(dir / "empty.onnx").close();
  std::ofstream(dir / "truncated.onnx", std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  std::ofstream(dir / "garbage.onnx", std::ios::binary) << "GIF89a this is not a model at all \x01\x02\x03";
  auto b = create_backend(GetParam());
  EXPECT_EQ(test::kind_of([&] { b->load((dir / "missing.onnx").string(), {}); }), ErrorKind::NotFound);
  EXPECT_EQ(test::kind_of([&] { b->load((dir / "empty.onnx").string(), {}); }), ErrorKind::BadModel);
  EXPECT_EQ(test::kind_of([&] { b->load((dir / "truncated.onnx").string(), {}); }), ErrorKind::BadModel);
  EXPECT_EQ(test::kind_of([&] { b->load((dir / "garbage.onnx").string(), {}); }), ErrorKind::BadModel);
  EXPECT_EQ(test::kind_of([&] { b->load(dir.string(), {}); }), ErrorKind::Io);
  // found by fuzz_onnx: an initializer holding fewer bytes than its shape declares made OpenCV's
  // importer read past the buffer; every backend now refuses it from the file
  {
    detail::OnnxBuilder fb("forged");
    fb.input("x", {1, 3});
    auto w = fb.initializer("w", {3, 3}, std::vector<float>(9, 0.5f));
    auto y = fb.node("MatMul", {"x", w}, "y");
    fb.output(y, {1, 3});
    onnx::ModelProto m;
    ASSERT_TRUE(m.ParseFromString(fb.serialize()));
    auto* t = m.mutable_graph()->mutable_initializer(0);
    t->set_raw_data(t->raw_data().substr(0, 12));  // 3 of 9 floats
    std::ofstream(dir / "forged.onnx", std::ios::binary) << m.SerializeAsString();
    EXPECT_EQ(test::kind_of([&] { b->load((dir / "forged.onnx").string(), {}); }), ErrorKind::BadModel);
  }
  // found by fuzz_onnx: a node reading a value nothing produces crashed OpenCV's importer (null
  // dereference); the graph's structure is checked first
  {
    detail::OnnxBuilder gb("dangling");
    gb.input("x", {1, 3});
    auto y = gb.node("Add", {"x", "nowhere"}, "y");
    gb.output(y, {1, 3});
    std::ofstream(dir / "dangling.onnx", std::ios::binary) << gb.serialize();
    EXPECT_EQ(test::kind_of([&] { b->load((dir / "dangling.onnx").string(), {}); }), ErrorKind::BadModel);
  }
  // after failed loads, a good model still loads and runs
  b->load(good.string(), {});
  auto out = b->run({Tensor({1, 3}, {-1.f, 0.f, 2.f})});
  EXPECT_EQ(out.at(0).data, (std::vector<float>{0.f, 0.f, 2.f}));
}

TEST_P(BackendErrors, WrongInputsAreRejectedWithTheExpectedShape) {
  auto dir = test::temp_dir("backend-shapes");
  auto b = load_backend(GetParam(), tiny_model(dir).string());
  try {
    b->run({Tensor({1, 4})});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::InvalidArgument);
    EXPECT_NE(std::string(e.what()).find("[?x3]"), std::string::npos) << e.what();
  }
  EXPECT_EQ(test::kind_of([&] { b->run({}); }), ErrorKind::InvalidArgument);
  EXPECT_EQ(test::kind_of([&] { b->run({Tensor({1, 3}), Tensor({1, 3})}); }), ErrorKind::InvalidArgument);
  EXPECT_EQ(test::kind_of([&] {
              b->run({Tensor({1, 3}, {1.f})});
            }),
            ErrorKind::InvalidArgument);  // data/shape mismatch
  EXPECT_EQ(test::kind_of([&] { b->run({Tensor({0, 3})}); }), ErrorKind::InvalidArgument);
  // a batch of 4 is fine: the batch dimension is dynamic
  EXPECT_EQ(b->run({Tensor({4, 3})}).at(0).shape, (std::vector<int64_t>{4, 3}));
}

TEST_P(BackendErrors, AnOpTheRuntimeLacksIsUnsupportedOrBadModel) {
  auto dir = test::temp_dir("backend-op");
  detail::OnnxBuilder g("odd");
  g.input("x", {1, 3});
  std::string y = g.node("NoSuchOperatorAnywhere", {"x"}, "y");
  g.output(y, {1, 3});
  std::ofstream(dir / "odd.onnx", std::ios::binary) << g.serialize();
  auto b = create_backend(GetParam());
  try {
    b->load((dir / "odd.onnx").string(), {});
    FAIL();
  } catch (const Error& e) {
    EXPECT_TRUE(e.kind() == ErrorKind::Unsupported || e.kind() == ErrorKind::BadModel) << to_string(e.kind());
    EXPECT_NE(std::string(e.what()).find("NoSuchOperatorAnywhere"), std::string::npos) << e.what();
  }
}

TEST_P(BackendErrors, UnsupportedPrecisionIsRefused) {
  auto dir = test::temp_dir("backend-prec");
  BackendOptions o;
  o.precision = Precision::INT8;
  auto b = create_backend(GetParam());
  EXPECT_EQ(test::kind_of([&] { b->load(tiny_model(dir).string(), o); }), ErrorKind::Unsupported);
}

// session(): another session over the same loaded network; the two run at once, in two threads,
// and give what the first gave alone. Before load() it is an error.
TEST_P(BackendErrors, SessionsOfOneNetworkRunConcurrently) {
  auto dir = test::temp_dir("backend-session-" + GetParam());
  detail::OnnxBuilder b("conv");
  b.input("x", {-1, 2, 6, 6});
  std::vector<float> w(3 * 2 * 3 * 3);
  for (size_t i = 0; i < w.size(); ++i) w[i] = float(i % 7) * 0.1f - 0.3f;
  std::string y = b.node("Conv", {"x", b.initializer("w", {3, 2, 3, 3}, w)}, "y",
                         {{"kernel_shape", std::vector<int64_t>{3, 3}}, {"pads", std::vector<int64_t>{1, 1, 1, 1}}});
  b.output(y, {});
  auto path = dir / "conv.onnx";
  std::ofstream(path, std::ios::binary) << b.serialize();
  EXPECT_ERROR(create_backend(GetParam())->session(), ErrorKind::InvalidArgument);
  auto first = load_backend(GetParam(), path.string());
  Tensor in({1, 2, 6, 6});
  for (size_t i = 0; i < in.data.size(); ++i) in.data[i] = float(i % 11) * 0.2f - 1.f;
  auto want = first->run({in}).at(0);
  auto second = first->session();
  EXPECT_EQ(second->name(), first->name());
  ASSERT_EQ(second->outputs().size(), 1u);
  std::vector<Tensor> got(2);
  std::thread t1([&] {
    for (int k = 0; k < 20; ++k) got[0] = first->run({in}).at(0);
  });
  std::thread t2([&] {
    for (int k = 0; k < 20; ++k) got[1] = second->run({in}).at(0);
  });
  t1.join();
  t2.join();
  for (const auto& g : got) {
    ASSERT_EQ(g.shape, want.shape);
    EXPECT_EQ(g.data, want.data);
  }
}

INSTANTIATE_TEST_SUITE_P(All, BackendErrors, ::testing::ValuesIn(backend_names()), [](const auto& param_info) {
  std::string s = param_info.param;
  for (auto& c : s)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return s;
});

TEST(BackendRegistry, UnknownNameListsKnownOnes) {
  try {
    create_backend("tensorrt-on-a-toaster");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::NotFound);
    EXPECT_NE(std::string(e.what()).find("opencv-dnn"), std::string::npos);
  }
}

TEST(BackendRegistry, NewRuntimesRegisterWithoutChangingCallers) {
  struct Fake : InferenceBackend {
    void load(const std::string&, const BackendOptions&) override {}
    std::vector<TensorSpec> inputs() const override { return {{"x", {1}}}; }
    std::vector<TensorSpec> outputs() const override { return {{"y", {1}}}; }
    std::vector<Tensor> run(const std::vector<Tensor>& b) override {
      check_batch(b);
      return {Tensor({1}, {42.f})};
    }
    std::string name() const override { return "fake"; }
    Precision precision() const override { return Precision::INT8; }
    std::unique_ptr<InferenceBackend> session() const override { return std::make_unique<Fake>(); }
  };
  register_backend("fake-test", [] { return std::make_unique<Fake>(); });
  auto b = load_backend("fake-test", "ignored");
  EXPECT_EQ(b->run({Tensor({1})}).at(0).data.at(0), 42.f);
  EXPECT_TRUE(unregister_backend("fake-test"));
  EXPECT_FALSE(unregister_backend("fake-test"));
  EXPECT_ERROR(create_backend("fake-test"), ErrorKind::NotFound);
}

}  // namespace
}  // namespace facerec
