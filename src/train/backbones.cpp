// The backbones (MobileFaceNet, IResNet) in libtorch, their multiply-add count and their ONNX
// export. Every convolution and linear layer runs through run_conv / run_linear, which count
// multiply-adds while multiply_adds() is measuring; every block writes its own inference graph.
#include <facerec/error.hpp>
#include <facerec/models.hpp>
#include <facerec/train/backbones.hpp>

#include "import/onnx/onnx_builder.hpp"

#include <cmath>

namespace facerec::train {

void record_stage(const torch::Tensor& y);  // below; also called by onnx_net.cpp

namespace {

namespace nn = torch::nn;
using detail::OnnxBuilder;

thread_local int64_t* g_madds = nullptr;                      // set while multiply_adds() runs one sample
thread_local std::vector<torch::Tensor>* g_stages = nullptr;  // set while forward_with_stages() runs

torch::Tensor run_conv(nn::Conv2dImpl& c, const torch::Tensor& x) {
  auto y = c.forward(x);
  if (g_madds) {
    const auto& o = c.options;
    *g_madds += y.numel() / y.size(0) * (o.in_channels() / o.groups()) * (*o.kernel_size())[0] * (*o.kernel_size())[1];
  }
  return y;
}

torch::Tensor run_linear(nn::LinearImpl& l, const torch::Tensor& x) {
  auto y = l.forward(x);
  if (g_madds) *g_madds += l.options.in_features() * l.options.out_features();
  return y;
}

std::vector<float> values(const torch::Tensor& t) {
  auto c = t.detach().to(torch::kFloat32).contiguous();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

// A batch norm in eval mode as y = scale·x + shift, per channel.
struct Affine {
  std::vector<float> scale, shift;
};
template <typename Bn>
Affine affine_of(const Bn& bn) {
  torch::NoGradGuard g;
  auto inv = torch::rsqrt(bn.running_var + bn.options.eps());
  auto scale = bn.options.affine() ? bn.weight * inv : inv;
  auto shift = (bn.options.affine() ? bn.bias : torch::zeros_like(bn.running_mean)) - bn.running_mean * scale;
  return {values(scale), values(shift)};
}

// Conv (bias-free) followed by `bn` folded in: W' = W·scale[out], b' = shift.
std::string emit_conv(OnnxBuilder& b, const nn::Conv2dImpl& c, const Affine& bn, const std::string& x,
                      const std::string& hint) {
  const auto& o = c.options;
  const int64_t out = o.out_channels(), k0 = (*o.kernel_size())[0], k1 = (*o.kernel_size())[1];
  auto w = values(c.weight);
  const size_t per_out = w.size() / size_t(out);
  for (int64_t i = 0; i < out; ++i)
    for (size_t j = 0; j < per_out; ++j) w[size_t(i) * per_out + j] *= bn.scale[size_t(i)];
  const auto wn = b.initializer(hint + "_w", {out, o.in_channels() / o.groups(), k0, k1}, w);
  const auto bn_ = b.initializer(hint + "_b", {out}, bn.shift);
  const auto* pad = c10::get_if<torch::ExpandingArray<2>>(&o.padding());
  const int64_t p0 = pad ? (**pad)[0] : 0, p1 = pad ? (**pad)[1] : 0;
  return b.node("Conv", {x, wn, bn_}, hint,
                {{"kernel_shape", std::vector<int64_t>{k0, k1}},
                 {"strides", std::vector<int64_t>{(*o.stride())[0], (*o.stride())[1]}},
                 {"pads", std::vector<int64_t>{p0, p1, p0, p1}},
                 {"group", o.groups()}});
}

std::string emit_affine(OnnxBuilder& b, const Affine& a, const std::string& x, const std::string& hint) {
  const int64_t c = int64_t(a.scale.size());
  auto m = b.node("Mul", {x, b.initializer(hint + "_scale", {1, c, 1, 1}, a.scale)}, hint + "_mul");
  return b.node("Add", {m, b.initializer(hint + "_shift", {1, c, 1, 1}, a.shift)}, hint + "_add");
}

std::string emit_prelu(OnnxBuilder& b, const nn::PReLUImpl& p, const std::string& x, const std::string& hint) {
  auto slope = values(p.weight);
  return b.node("PRelu", {x, b.initializer(hint + "_slope", {int64_t(slope.size()), 1, 1}, slope)}, hint);
}

int64_t channels(int64_t c, double width) {
  return std::max<int64_t>(8, int64_t(std::lround(double(c) * width / 8.0)) * 8);
}

// conv -> batch norm [-> PReLU, or ReLU with `relu` (which runtimes fuse into the convolution)]
class ConvBnImpl : public nn::Module {
 public:
  ConvBnImpl(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t groups, bool act, int64_t padding = -1,
             bool relu = false)
      : relu_(act && relu) {
    conv_ = register_module("conv", nn::Conv2d(nn::Conv2dOptions(in, out, k)
                                                   .stride(stride)
                                                   .padding(padding >= 0 ? padding : k / 2)
                                                   .groups(groups)
                                                   .bias(false)));
    bn_ = register_module("bn", nn::BatchNorm2d(out));
    if (act && !relu) prelu_ = register_module("prelu", nn::PReLU(nn::PReLUOptions().num_parameters(out)));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    auto y = bn_->forward(run_conv(*conv_, x));
    return prelu_ ? prelu_->forward(y) : relu_ ? torch::relu(y) : y;
  }
  std::string emit(OnnxBuilder& b, const std::string& x, const std::string& hint) const {
    auto y = emit_conv(b, *conv_, affine_of(*bn_), x, hint);
    if (relu_) return b.node("Relu", {y}, hint + "_relu");
    return prelu_ ? emit_prelu(b, *prelu_, y, hint + "_prelu") : y;
  }

 private:
  bool relu_;
  nn::Conv2d conv_{nullptr};
  nn::BatchNorm2d bn_{nullptr};
  nn::PReLU prelu_{nullptr};
};
TORCH_MODULE(ConvBn);

// MobileNetV2's inverted residual: expand 1x1, depthwise 3x3, project 1x1 (linear).
class BottleneckImpl : public nn::Module {
 public:
  BottleneckImpl(int64_t in, int64_t out, int64_t expansion, int64_t stride) : residual_(stride == 1 && in == out) {
    const int64_t mid = in * expansion;
    expand_ = register_module("expand", ConvBn(in, mid, 1, 1, 1, true));
    depthwise_ = register_module("depthwise", ConvBn(mid, mid, 3, stride, mid, true));
    project_ = register_module("project", ConvBn(mid, out, 1, 1, 1, false));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    auto y = project_->forward(depthwise_->forward(expand_->forward(x)));
    return residual_ ? x + y : y;
  }
  std::string emit(OnnxBuilder& b, const std::string& x, const std::string& hint) const {
    auto y =
        project_->emit(b, depthwise_->emit(b, expand_->emit(b, x, hint + "_expand"), hint + "_dw"), hint + "_project");
    return residual_ ? b.node("Add", {x, y}, hint + "_add") : y;
  }

 private:
  bool residual_;
  ConvBn expand_{nullptr}, depthwise_{nullptr}, project_{nullptr};
};
TORCH_MODULE(Bottleneck);

// IResNet's improved basic block: BN, conv 3x3, BN, PReLU, conv 3x3 (stride), BN, plus the shortcut.
class IBlockImpl : public nn::Module {
 public:
  IBlockImpl(int64_t in, int64_t planes, int64_t stride) {
    bn1_ = register_module("bn1", nn::BatchNorm2d(nn::BatchNorm2dOptions(in).eps(1e-5)));
    conv1_ = register_module("conv1", ConvBn(in, planes, 3, 1, 1, true));
    conv2_ = register_module("conv2", ConvBn(planes, planes, 3, stride, 1, false));
    if (stride != 1 || in != planes) down_ = register_module("downsample", ConvBn(in, planes, 1, stride, 1, false));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    auto y = conv2_->forward(conv1_->forward(bn1_->forward(x)));
    return y + (down_ ? down_->forward(x) : x);
  }
  std::string emit(OnnxBuilder& b, const std::string& x, const std::string& hint) const {
    // bn1 sits before a zero-padded convolution: folding it in would change the padded border
    auto y = emit_affine(b, affine_of(*bn1_), x, hint + "_bn1");
    y = conv2_->emit(b, conv1_->emit(b, y, hint + "_conv1"), hint + "_conv2");
    const auto shortcut = down_ ? down_->emit(b, x, hint + "_down") : x;
    return b.node("Add", {y, shortcut}, hint + "_add");
  }

 private:
  nn::BatchNorm2d bn1_{nullptr};
  ConvBn conv1_{nullptr}, conv2_{nullptr}, down_{nullptr};
};
TORCH_MODULE(IBlock);

void check_common(const BackboneOptions& o) {
  if (o.embedding < 1) throw Error(ErrorKind::InvalidArgument, "backbone: the embedding needs at least 1 value");
  if (o.input < 16 || o.input % 16 != 0)
    throw Error(ErrorKind::InvalidArgument,
                "backbone: the input side must be a positive multiple of 16 (got " + std::to_string(o.input) + ")");
  if (!(o.width > 0 && o.width <= 4)) throw Error(ErrorKind::InvalidArgument, "backbone: width must be in (0, 4]");
}

void check_input(const torch::Tensor& x, const BackboneOptions& o) {
  if (x.dim() != 4 || x.size(1) != 3 || x.size(2) != o.input || x.size(3) != o.input)
    throw Error(ErrorKind::InvalidArgument,
                o.name + ": expected [N, 3, " + std::to_string(o.input) + ", " + std::to_string(o.input) + "]");
}

template <typename Block, typename Fn>
void for_each_block(const nn::Sequential& s, Fn fn) {
  for (const auto& m : s->children()) fn(*std::dynamic_pointer_cast<Block>(m));
}

// A sequence of ConvBn and Bottleneck blocks ("l0", "l1", ...), then Flatten: the body of
// MobileFaceNet and LandmarkNet.
std::string emit_body(OnnxBuilder& b, const nn::Sequential& body, const std::string& input, const std::string& what) {
  std::string x = input;
  int i = 0;
  for (const auto& m : body->children()) {
    const std::string hint = "l" + std::to_string(i++);
    if (auto c = std::dynamic_pointer_cast<ConvBnImpl>(m))
      x = c->emit(b, x, hint);
    else if (auto bl = std::dynamic_pointer_cast<BottleneckImpl>(m))
      x = bl->emit(b, x, hint);
    else
      throw Error(ErrorKind::Internal, what + " export: unexpected module " + m->name());
  }
  return b.node("Flatten", {x}, "flatten", {{"axis", int64_t(1)}});
}

}  // namespace

BackboneImpl::BackboneImpl(BackboneOptions options) : options_(std::move(options)) {}

MobileFaceNetImpl::MobileFaceNetImpl(const BackboneOptions& o) : BackboneImpl(o) {
  if (o.name != "mobilefacenet")
    throw Error(ErrorKind::InvalidArgument, "backbone '" + o.name + "' is not mobilefacenet");
  check_common(o);
  const int64_t c64 = channels(64, o.width), c128 = channels(128, o.width), c512 = channels(512, o.width);
  nn::Sequential s;
  s->push_back(ConvBn(3, c64, 3, 2, 1, true));
  s->push_back(ConvBn(c64, c64, 3, 1, c64, true));
  struct Stage {
    int64_t t, c, n, s;
  };
  int64_t in = c64;
  for (const Stage& st :
       {Stage{2, c64, 5, 2}, Stage{4, c128, 1, 2}, Stage{2, c128, 6, 1}, Stage{4, c128, 1, 2}, Stage{2, c128, 2, 1}})
    for (int64_t i = 0; i < st.n; ++i) {
      s->push_back(Bottleneck(in, st.c, st.t, i == 0 ? st.s : 1));
      in = st.c;
    }
  s->push_back(ConvBn(c128, c512, 1, 1, 1, true));
  const int64_t side = o.input / 16;                          // 7 at 112
  s->push_back(ConvBn(c512, c512, side, 1, c512, false, 0));  // global depthwise (linear)
  s->push_back(ConvBn(c512, o.embedding, 1, 1, 1, false));
  body_ = register_module("body", s);
}

torch::Tensor MobileFaceNetImpl::forward(const torch::Tensor& x) {
  check_input(x, options_);
  auto y = x;
  for (auto& m : *body_) record_stage(y = m.forward(y));
  return y.flatten(1);
}

std::string MobileFaceNetImpl::emit_onnx(OnnxBuilder& b, const std::string& input) const {
  return emit_body(b, body_, input, "mobilefacenet");
}

IResNetImpl::IResNetImpl(const BackboneOptions& o) : BackboneImpl(o) {
  std::vector<int64_t> blocks;
  if (o.name == "iresnet18")
    blocks = {2, 2, 2, 2};
  else if (o.name == "iresnet34")
    blocks = {3, 4, 6, 3};
  else if (o.name == "iresnet50")
    blocks = {3, 4, 14, 3};
  else if (o.name == "iresnet100")
    blocks = {3, 13, 30, 3};
  else
    throw Error(ErrorKind::InvalidArgument, "backbone '" + o.name + "' is not iresnet18/34/50/100");
  check_common(o);
  if (!(o.dropout >= 0 && o.dropout < 1))
    throw Error(ErrorKind::InvalidArgument, "backbone: dropout must be in [0, 1)");
  const int64_t c64 = channels(64, o.width);
  stem_ = register_module("stem", nn::Sequential(ConvBn(3, c64, 3, 1, 1, true)));
  nn::Sequential st;
  int64_t in = c64;
  for (size_t s = 0; s < blocks.size(); ++s) {
    const int64_t planes = channels(int64_t(64) << s, o.width);
    for (int64_t i = 0; i < blocks[s]; ++i) {
      st->push_back(IBlock(in, planes, i == 0 ? 2 : 1));
      in = planes;
    }
  }
  stages_ = register_module("stages", st);
  const int64_t side = o.input / 16;
  bn2_ = register_module("bn2", nn::BatchNorm2d(nn::BatchNorm2dOptions(in).eps(1e-5)));
  dropout_ = register_module("dropout", nn::Dropout(nn::DropoutOptions(o.dropout)));
  fc_ = register_module("fc", nn::Linear(in * side * side, o.embedding));
  features_ = register_module("features", nn::BatchNorm1d(nn::BatchNorm1dOptions(o.embedding).eps(1e-5)));
  torch::NoGradGuard g;  // as insightface: the embedding's batch norm has no learnt scale
  features_->weight.fill_(1.0);
  features_->weight.set_requires_grad(false);
}

torch::Tensor IResNetImpl::forward(const torch::Tensor& x) {
  check_input(x, options_);
  auto y = stem_->forward(x);
  record_stage(y);
  for (auto& m : *stages_) record_stage(y = m.forward(y));
  y = bn2_->forward(y);
  y = dropout_->forward(y).flatten(1);
  return features_->forward(run_linear(*fc_, y));
}

std::string IResNetImpl::emit_onnx(OnnxBuilder& b, const std::string& input) const {
  std::string x = std::dynamic_pointer_cast<ConvBnImpl>(stem_->children().at(0))->emit(b, input, "stem");
  int i = 0;
  for_each_block<IBlockImpl>(stages_, [&](const IBlockImpl& bl) { x = bl.emit(b, x, "b" + std::to_string(i++)); });
  x = b.node("Flatten", {x}, "flatten", {{"axis", int64_t(1)}});
  // bn2 (per channel, before the flatten) and the embedding's batch norm both fold into the fc
  const Affine pre = affine_of(*bn2_), post = affine_of(*features_);
  auto w = values(fc_->weight), bias = values(fc_->bias);
  const size_t out = size_t(fc_->options.out_features()), in = size_t(fc_->options.in_features());
  const size_t per_channel = in / pre.scale.size();
  for (size_t e = 0; e < out; ++e) {
    double acc = bias[e];
    for (size_t k = 0; k < in; ++k) {
      const size_t c = k / per_channel;
      acc += double(w[e * in + k]) * pre.shift[c];
      w[e * in + k] *= pre.scale[c] * post.scale[e];
    }
    bias[e] = float(acc * post.scale[e] + post.shift[e]);
  }
  return b.node("Gemm",
                {x, b.initializer("fc_w", {int64_t(out), int64_t(in)}, w), b.initializer("fc_b", {int64_t(out)}, bias)},
                "fc", {{"transB", int64_t(1)}});
}

LandmarkNetImpl::LandmarkNetImpl(const BackboneOptions& o) : BackboneImpl(o) {
  if (o.name != "landmarknet") throw Error(ErrorKind::InvalidArgument, "backbone '" + o.name + "' is not landmarknet");
  check_common(o);
  // MobileNet-v1 style: depthwise 3x3 + pointwise 1x1 pairs, ReLU (fused by the runtimes), few
  // layers: at this size the time goes to per-layer overheads more than to multiply-adds
  nn::Sequential s;
  int64_t in = channels(16, o.width);
  s->push_back(ConvBn(3, in, 3, 2, 1, true, -1, true));
  for (const auto& [c, stride] :
       std::vector<std::pair<int64_t, int64_t>>{{32, 1}, {64, 2}, {64, 1}, {128, 2}, {128, 1}, {128, 2}, {128, 1}}) {
    const int64_t out = channels(c, o.width);
    s->push_back(ConvBn(in, in, 3, stride, in, true, -1, true));
    s->push_back(ConvBn(in, out, 1, 1, 1, true, -1, true));
    in = out;
  }
  // a 1x1 reduction before the fully connected layer keeps its weights (read on every run, from
  // memory when other networks ran in between) small
  const int64_t reduced = channels(32, o.width);
  s->push_back(ConvBn(in, reduced, 1, 1, 1, true, -1, true));
  body_ = register_module("body", s);
  const int64_t side = o.input / 16;
  fc_ = register_module("fc", nn::Linear(reduced * side * side, o.embedding));
  torch::NoGradGuard g;  // start at the crop centre with small weights: early steps do not overshoot
  fc_->weight.mul_(0.1);
  fc_->bias.fill_(0.5);
}

torch::Tensor LandmarkNetImpl::forward(const torch::Tensor& x) {
  check_input(x, options_);
  return run_linear(*fc_, body_->forward(x).flatten(1));
}

std::string LandmarkNetImpl::emit_onnx(OnnxBuilder& b, const std::string& input) const {
  const auto x = emit_body(b, body_, input, "landmarknet");
  const int64_t out = fc_->options.out_features(), in = fc_->options.in_features();
  return b.node(
      "Gemm",
      {x, b.initializer("fc_w", {out, in}, values(fc_->weight)), b.initializer("fc_b", {out}, values(fc_->bias))}, "fc",
      {{"transB", int64_t(1)}});
}

Backbone make_backbone(const BackboneOptions& o) {
  if (o.name.rfind("onnx:", 0) == 0) {
    const std::string what = o.name.substr(5);
    std::error_code ec;
    if (std::filesystem::is_regular_file(what, ec)) return std::make_shared<OnnxNetImpl>(what, o);
    if (what.find('/') != std::string::npos || std::filesystem::path(what).extension() == ".onnx")
      throw Error(ErrorKind::NotFound, "backbone " + o.name + ": no such file");
    return std::make_shared<OnnxNetImpl>(model_path(Manifest::load_default().model(what)), o);
  }
  if (o.name == "mobilefacenet") return std::make_shared<MobileFaceNetImpl>(o);
  if (o.name.rfind("iresnet", 0) == 0) return std::make_shared<IResNetImpl>(o);
  if (o.name == "landmarknet") return std::make_shared<LandmarkNetImpl>(o);
  throw Error(
      ErrorKind::InvalidArgument,
      "unknown backbone '" + o.name +
          "' (known: mobilefacenet, iresnet18, iresnet34, iresnet50, iresnet100, landmarknet, onnx:<file or model>)");
}

torch::Tensor backbone_input(const std::vector<cv::Mat>& crops) {
  const int S = crops.empty() ? 1 : crops[0].rows;
  auto x = torch::empty({int64_t(crops.size()), 3, S, S});
  auto acc = x.accessor<float, 4>();
  for (size_t i = 0; i < crops.size(); ++i)
    for (int y = 0; y < S; ++y) {
      const auto* row = crops[i].ptr<cv::Vec3b>(y);
      for (int xx = 0; xx < S; ++xx)
        for (int ch = 0; ch < 3; ++ch) acc[int64_t(i)][ch][y][xx] = (float(row[xx][2 - ch]) - 127.5f) / 128.f;
    }
  return x;
}

void add_multiply_adds(int64_t n) {
  if (g_madds) *g_madds += n;
}

void record_stage(const torch::Tensor& y) {
  if (g_stages && y.dim() == 4) g_stages->push_back(y);
}

StageForward forward_with_stages(BackboneImpl& net, const torch::Tensor& x) {
  std::vector<torch::Tensor> all;
  StageForward r;
  g_stages = &all;
  try {
    r.embedding = net.forward(x);
  } catch (...) {
    g_stages = nullptr;
    throw;
  }
  g_stages = nullptr;
  for (size_t i = 0; i < all.size(); ++i) {
    const auto& t = all[i];
    if (t.size(2) < 2 || t.size(3) < 2) continue;
    const bool last_here = i + 1 == all.size() || all[i + 1].size(2) != t.size(2) || all[i + 1].size(3) != t.size(3);
    if (last_here) r.stages.push_back(t);
  }
  return r;
}

int64_t multiply_adds(BackboneImpl& net) {
  int64_t total = 0;
  torch::NoGradGuard no_grad;
  const bool was_training = net.is_training();
  net.eval();
  g_madds = &total;
  try {
    net.forward(torch::zeros({1, 3, net.options().input, net.options().input}));
  } catch (...) {
    g_madds = nullptr;
    net.train(was_training);
    throw;
  }
  g_madds = nullptr;
  net.train(was_training);
  return total;
}

std::string export_onnx(BackboneImpl& net, const std::string& input_name, const std::string& output_name) {
  torch::NoGradGuard g;
  OnnxBuilder b(net.options().name);
  const auto& o = net.options();
  b.input(input_name, {-1, 3, o.input, o.input});
  const auto y = net.emit_onnx(b, input_name);
  b.rename_output(y, output_name);
  b.output(output_name, {-1, o.embedding});
  b.prune();
  b.set_doc("facerec train", o.name + " " + std::to_string(o.embedding) + "-d, input " + std::to_string(o.input) +
                                 ", trained with facerec");
  return b.serialize();
}

}  // namespace facerec::train
