#pragma once
// Backbones for training, as libtorch modules: an aligned 112x112 RGB crop in, an embedding out
// (not normalised: heads and the export normalise).
//
// MobileFaceNet (Chen et al. 2018, the seed's edge network): conv 3x3/2 (64), depthwise 3x3,
// bottlenecks (expansion t, channels c, repeats n, stride s) = (2,64,5,2) (4,128,1,2) (2,128,6,1)
// (4,128,1,2) (2,128,2,1), conv 1x1 (512), global depthwise 7x7 (linear), conv 1x1 to the
// embedding (linear), batch norm after every convolution, PReLU after the non-linear ones.
// Thread safety: as torch::nn::Module.
#include <torch/torch.h>

#include <cstdint>
#include <string>

namespace facerec::train {

struct BackboneOptions {
  std::string name = "mobilefacenet";  // the only one so far
  int64_t embedding = 128;
  int64_t input = 112;  // square input side; must be a multiple of 16 (the network's stride)
};

class MobileFaceNetImpl : public torch::nn::Module {
 public:
  // Throws Error(InvalidArgument) for an embedding < 1 or an input that is not a positive multiple of 16.
  explicit MobileFaceNetImpl(const BackboneOptions& options);
  // [N, 3, input, input] -> [N, embedding]. Throws Error(InvalidArgument) for another shape.
  torch::Tensor forward(const torch::Tensor& x);
  const BackboneOptions& options() const { return options_; }

 private:
  BackboneOptions options_;
  torch::nn::Sequential body_{nullptr};
};
TORCH_MODULE(MobileFaceNet);

// Multiply-accumulates of one forward pass of a backbone at its input size (convolutions only).
int64_t multiply_adds(MobileFaceNet& net);

}  // namespace facerec::train
