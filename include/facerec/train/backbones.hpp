#pragma once
// Backbones for training, as libtorch modules: an aligned square RGB crop in (normalised as the
// exported model's manifest entry says: (x − 127.5) / 128), an embedding out (not normalised:
// heads and the export normalise).
//
// MobileFaceNet (Chen et al. 2018, the seed's edge network): conv 3x3/2 (64), depthwise 3x3,
// bottlenecks (expansion t, channels c, repeats n, stride s) = (2,64,5,2) (4,128,1,2) (2,128,6,1)
// (4,128,1,2) (2,128,2,1), conv 1x1 (512), global depthwise (linear), conv 1x1 to the embedding
// (linear), batch norm after every convolution, PReLU after the non-linear ones. `width` scales
// every channel count (64, 128, 512).
//
// IResNet-18/34/50/100 (Deng et al. 2019, insightface's iresnet family): conv 3x3 (64), BN, PReLU,
// four stages of improved residual blocks (BN, conv 3x3, BN, PReLU, conv 3x3 with the stage's
// stride 2, BN; a 1x1 conv + BN on the shortcut of each stage's first block) with 64/128/256/512
// channels (times `width`) and 2-2-2-2 / 3-4-6-3 / 3-4-14-3 / 3-13-30-3 blocks, then BN, dropout,
// a fully connected layer to the embedding and a BN on it.
//
// LandmarkNet (facerec's 68-point landmark CNN, the seed's 96x96 one): conv 3x3/2 (16), then seven
// depthwise 3x3 + pointwise 1x1 pairs (channels, stride) = (32,1) (64,2) (64,1) (128,2) (128,1)
// (128,2) (128,1), a 1x1 reduction to 32 channels, batch norm and ReLU after every convolution,
// flatten, a fully connected layer to `embedding` values (136: the 68 points' (x, y) as fractions
// of the crop side). `width` scales every channel count. About 11 M multiply-adds in 16
// convolutions and 0.4 M weights at 96x96 (face-api's 68-point net: 52 M and 0.36 M): few, wide
// layers and a small fully connected layer, because at this size per-layer overheads and reading
// the weights cost more than arithmetic.
//
// Thread safety: as torch::nn::Module (not for concurrent forward/backward on one instance).
// export_onnx and multiply_adds only read the module.
#include <torch/torch.h>
#include <opencv2/core.hpp>

#include <filesystem>
#include <map>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace facerec::detail {
class OnnxBuilder;
}

namespace facerec::train {

struct BackboneOptions {
  std::string name = "mobilefacenet";  // mobilefacenet | iresnet18/34/50/100 | landmarknet | onnx:<file or model>
  int64_t embedding = 128;
  int64_t input = 112;   // square input side; must be a positive multiple of 16 (the network's stride)
  double width = 1.0;    // channel multiplier, in (0, 4]; counts are rounded to multiples of 8
  double dropout = 0.0;  // iresnet: before the fully connected layer (training only)
};

// The interface every backbone implements. What it represents: a trainable embedding network.
class BackboneImpl : public torch::nn::Module {
 public:
  // [N, 3, input, input] -> [N, embedding]. Throws Error(InvalidArgument) for another shape.
  virtual torch::Tensor forward(const torch::Tensor& x) = 0;
  const BackboneOptions& options() const { return options_; }
  // Appends the inference (eval-mode) graph to `b`: batch norms folded into the convolution or
  // fully connected layer before them where that is exact, else written as Mul + Add. Returns the
  // name of the embedding. Used by export_onnx.
  virtual std::string emit_onnx(detail::OnnxBuilder& b, const std::string& input) const = 0;

 protected:
  explicit BackboneImpl(BackboneOptions options);
  BackboneOptions options_;
};
using Backbone = std::shared_ptr<BackboneImpl>;

class MobileFaceNetImpl : public BackboneImpl {
 public:
  // Throws Error(InvalidArgument) for an embedding < 1, an input that is not a positive multiple
  // of 16, a width outside (0, 4] or another name than mobilefacenet.
  explicit MobileFaceNetImpl(const BackboneOptions& options);
  torch::Tensor forward(const torch::Tensor& x) override;
  std::string emit_onnx(detail::OnnxBuilder& b, const std::string& input) const override;

 private:
  torch::nn::Sequential body_{nullptr};
};
TORCH_MODULE(MobileFaceNet);

class IResNetImpl : public BackboneImpl {
 public:
  // Throws as MobileFaceNetImpl, and for a name other than iresnet18/34/50/100 or a dropout
  // outside [0, 1).
  explicit IResNetImpl(const BackboneOptions& options);
  torch::Tensor forward(const torch::Tensor& x) override;
  std::string emit_onnx(detail::OnnxBuilder& b, const std::string& input) const override;

 private:
  torch::nn::Sequential stem_{nullptr}, stages_{nullptr};
  torch::nn::BatchNorm2d bn2_{nullptr};
  torch::nn::Dropout dropout_{nullptr};
  torch::nn::Linear fc_{nullptr};
  torch::nn::BatchNorm1d features_{nullptr};
};
TORCH_MODULE(IResNet);

class LandmarkNetImpl : public BackboneImpl {
 public:
  // Throws as MobileFaceNetImpl, and for another name than landmarknet.
  explicit LandmarkNetImpl(const BackboneOptions& options);
  torch::Tensor forward(const torch::Tensor& x) override;
  std::string emit_onnx(detail::OnnxBuilder& b, const std::string& input) const override;

 private:
  torch::nn::Sequential body_{nullptr};
  torch::nn::Linear fc_{nullptr};
};
TORCH_MODULE(LandmarkNet);

// A backbone made from an ONNX file — a model facerec imported (the MS1M MobileFaceNet, the dlib
// ResNet's graph) — so that fine-tuning starts from its weights: the graph run with libtorch ops
// (Conv, PRelu, Relu, Add, Sub, Mul, Reshape, Flatten, Transpose, Gemm, MatMul), every float
// initializer a trainable parameter; emit_onnx writes the same graph with the current values.
// The input side and the embedding size are the file's (options().input, options().embedding).
// Thread safety: as any torch module.
class OnnxNetImpl : public BackboneImpl {
 public:
  // Throws Error(NotFound) for a missing file, Error(BadModel) for a file that is not an ONNX
  // backbone ([N, 3, S, S] -> [N, D], one input and output), Error(Unsupported) naming an op or
  // initializer type it cannot train.
  OnnxNetImpl(const std::filesystem::path& file, const BackboneOptions& options);
  torch::Tensor forward(const torch::Tensor& x) override;
  std::string emit_onnx(detail::OnnxBuilder& b, const std::string& input) const override;

 private:
  struct Graph;
  std::shared_ptr<Graph> graph_;
  std::map<std::string, torch::Tensor> params_;  // initializer name -> parameter
};
TORCH_MODULE(OnnxNet);

// The backbone `options.name` names: mobilefacenet, iresnet18/34/50/100, landmarknet, or "onnx:<file or
// manifest model>" (OnnxNetImpl; a name that is not a file is looked up in the default manifest
// and must be imported). Throws Error(InvalidArgument) for an unknown name (listing the known
// ones) and as the constructors.
Backbone make_backbone(const BackboneOptions& options);

// A batch of square 8-bit BGR crops (all of one size) as a backbone's input [N, 3, S, S]: RGB,
// (x − 127.5) / 128, the normalisation every backbone here and its exported manifest entry use.
torch::Tensor backbone_input(const std::vector<cv::Mat>& bgr_crops);

// Multiply-accumulates of one forward pass at the backbone's input size (convolutions and fully
// connected layers), counted while running one sample.
int64_t multiply_adds(BackboneImpl& net);
inline int64_t multiply_adds(const Backbone& net) { return multiply_adds(*net); }
inline int64_t multiply_adds(MobileFaceNet& net) { return multiply_adds(*net.ptr()); }

// A forward pass that also returns the network's stage features, for intermediate-feature
// distillation: the last feature map [N, C, h, w] at each spatial resolution the network passes
// through (h, w >= 2), in order (for MobileFaceNet at 112: 56, 28, 14, 7; for an imported ONNX
// network, the last node output at each resolution). Gradients flow as in forward.
struct StageForward {
  torch::Tensor embedding;            // as forward
  std::vector<torch::Tensor> stages;  // largest resolution first
};
// Throws as net.forward.
StageForward forward_with_stages(BackboneImpl& net, const torch::Tensor& x);

// The serialised ONNX model (opset 10) of the backbone in eval mode: input `input_name`
// [batch, 3, input, input] float, output `output_name` [batch, embedding] (not normalised: the
// pipeline normalises embeddings). Loadable by every facerec backend; the module is left as it was.
std::string export_onnx(BackboneImpl& net, const std::string& input_name = "input",
                        const std::string& output_name = "embedding");

}  // namespace facerec::train
