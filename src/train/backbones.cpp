// MobileFaceNet in libtorch: the layer table of the paper, built from three blocks.
#include <facerec/error.hpp>
#include <facerec/train/backbones.hpp>

namespace facerec::train {

namespace {

namespace nn = torch::nn;

// conv -> batch norm [-> PReLU]
class ConvBnImpl : public nn::Module {
 public:
  ConvBnImpl(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t groups, bool act) {
    conv_ = register_module(
        "conv",
        nn::Conv2d(nn::Conv2dOptions(in, out, k).stride(stride).padding(k == 3 ? 1 : 0).groups(groups).bias(false)));
    bn_ = register_module("bn", nn::BatchNorm2d(out));
    if (act) prelu_ = register_module("prelu", nn::PReLU(nn::PReLUOptions().num_parameters(out)));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    auto y = bn_->forward(conv_->forward(x));
    return prelu_ ? prelu_->forward(y) : y;
  }

 private:
  nn::Conv2d conv_{nullptr};
  nn::BatchNorm2d bn_{nullptr};
  nn::PReLU prelu_{nullptr};
};
TORCH_MODULE(ConvBn);

class BottleneckImpl : public nn::Module {
 public:
  BottleneckImpl(int64_t in, int64_t out, int64_t expansion, int64_t stride) : residual_(stride == 1 && in == out) {
    const int64_t mid = in * expansion;
    body_ =
        register_module("body", nn::Sequential(ConvBn(in, mid, 1, 1, 1, true), ConvBn(mid, mid, 3, stride, mid, true),
                                               ConvBn(mid, out, 1, 1, 1, false)));
  }
  torch::Tensor forward(const torch::Tensor& x) { return residual_ ? x + body_->forward(x) : body_->forward(x); }

 private:
  bool residual_;
  nn::Sequential body_{nullptr};
};
TORCH_MODULE(Bottleneck);

}  // namespace

MobileFaceNetImpl::MobileFaceNetImpl(const BackboneOptions& o) : options_(o) {
  if (o.name != "mobilefacenet")
    throw Error(ErrorKind::InvalidArgument, "backbone '" + o.name + "': only mobilefacenet is built so far");
  if (o.embedding < 1) throw Error(ErrorKind::InvalidArgument, "backbone: the embedding needs at least 1 value");
  if (o.input < 16 || o.input % 16 != 0)
    throw Error(ErrorKind::InvalidArgument, "backbone: the input side must be a positive multiple of 16");
  nn::Sequential s;
  s->push_back(ConvBn(3, 64, 3, 2, 1, true));
  s->push_back(ConvBn(64, 64, 3, 1, 64, true));
  struct Stage {
    int64_t t, c, n, s;
  };
  int64_t in = 64;
  for (const Stage& st :
       {Stage{2, 64, 5, 2}, Stage{4, 128, 1, 2}, Stage{2, 128, 6, 1}, Stage{4, 128, 1, 2}, Stage{2, 128, 2, 1}})
    for (int64_t i = 0; i < st.n; ++i) {
      s->push_back(Bottleneck(in, st.c, st.t, i == 0 ? st.s : 1));
      in = st.c;
    }
  s->push_back(ConvBn(128, 512, 1, 1, 1, true));
  const int64_t side = o.input / 16;                                                    // 7 at 112
  s->push_back(nn::Conv2d(nn::Conv2dOptions(512, 512, side).groups(512).bias(false)));  // global depthwise
  s->push_back(nn::BatchNorm2d(512));
  s->push_back(ConvBn(512, o.embedding, 1, 1, 1, false));
  s->push_back(nn::Flatten());
  body_ = register_module("body", s);
}

torch::Tensor MobileFaceNetImpl::forward(const torch::Tensor& x) {
  if (x.dim() != 4 || x.size(1) != 3 || x.size(2) != options_.input || x.size(3) != options_.input)
    throw Error(ErrorKind::InvalidArgument, "mobilefacenet: expected [N, 3, " + std::to_string(options_.input) + ", " +
                                                std::to_string(options_.input) + "]");
  return body_->forward(x);
}

int64_t multiply_adds(MobileFaceNet& net) {
  // run one sample and add, for every convolution, output elements x (input channels / groups) x k²
  int64_t total = 0;
  torch::NoGradGuard no_grad;
  const bool was_training = net->is_training();
  net->eval();
  auto x = torch::zeros({1, 3, net->options().input, net->options().input});
  std::function<torch::Tensor(const std::shared_ptr<nn::Module>&, torch::Tensor)> walk;
  walk = [&](const std::shared_ptr<nn::Module>& m, torch::Tensor t) -> torch::Tensor {
    if (auto conv = std::dynamic_pointer_cast<nn::Conv2dImpl>(m)) {
      auto y = conv->forward(t);
      const auto& o = conv->options;
      total += y.numel() * (o.in_channels() / o.groups()) * (*o.kernel_size())[0] * (*o.kernel_size())[1];
      return y;
    }
    if (std::dynamic_pointer_cast<nn::SequentialImpl>(m) || std::dynamic_pointer_cast<ConvBnImpl>(m)) {
      for (const auto& child : m->children()) t = walk(child, t);  // in order, as their forward() runs them
      return t;
    }
    if (auto b = std::dynamic_pointer_cast<BottleneckImpl>(m)) {
      auto body = b->children().at(0);
      auto y = walk(body, t);
      return y.sizes() == t.sizes() ? t + y : y;  // the residual as forward() adds it
    }
    // batch norm, PReLU, flatten: run as they are
    if (auto bn = std::dynamic_pointer_cast<nn::BatchNorm2dImpl>(m)) return bn->forward(t);
    if (auto pr = std::dynamic_pointer_cast<nn::PReLUImpl>(m)) return pr->forward(t);
    if (auto fl = std::dynamic_pointer_cast<nn::FlattenImpl>(m)) return fl->forward(t);
    throw Error(ErrorKind::Internal, "multiply_adds: unknown module " + m->name());
  };
  for (const auto& child : net->children()) x = walk(child, x);
  if (was_training) net->train();
  return total;
}

}  // namespace facerec::train
