#pragma once
// Attribute heads: demographic (or any categorical) attributes predicted from a face's embedding.
//
// What it represents: a small network on a frozen embedder's unit embedding — one shared hidden
// layer (Linear, ReLU, dropout) and one softmax head per factor (e.g. gender: male/female; race:
// UTKFace's five groups; age: five bands) — trained with cross-entropy summed over the factors.
// Used to infer labels for the demographic breakdown of evaluations (`facerec train attributes`);
// its accuracy per class is measured on held-out faces and reported beside any labels it gives.
//
// Thread safety: train() is a pure function; predict() may be called from one thread at a time.
#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace facerec::train {

// One categorical attribute and its classes, in label-index order. A plain value.
struct AttributeFactor {
  std::string name;
  std::vector<std::string> classes;
};

struct AttributeHeadsOptions {
  int hidden = 256;
  int epochs = 300;  // full-batch Adam steps
  double lr = 3e-3, weight_decay = 1e-4, dropout = 0.3;
  uint64_t seed = 20261207;
};

class AttributeHeads {
 public:
  // Trains on `rows` (embeddings, one length) with labels[f][i] the class index of row i for factor
  // f (-1: unknown, left out of that factor's loss). `progress` (may be empty) sees each epoch's loss.
  // Requires rows, factors with at least two classes each, and one label per row and factor.
  // Throws Error(InvalidArgument) otherwise.
  static AttributeHeads train(const std::vector<std::vector<float>>& rows, const std::vector<AttributeFactor>& factors,
                              const std::vector<std::vector<int>>& labels, const AttributeHeadsOptions& options = {},
                              const std::function<void(int epoch, double loss)>& progress = {});

  // Class probabilities per factor (in factors() order) for one embedding. Throws
  // Error(InvalidArgument) when its length is not the training rows'.
  std::vector<std::vector<float>> predict(const std::vector<float>& embedding) const;
  const std::vector<AttributeFactor>& factors() const { return factors_; }

 private:
  std::vector<AttributeFactor> factors_;
  int64_t dim_ = 0;
  mutable torch::nn::Sequential shared_{nullptr};  // (forward() is not const in libtorch)
  mutable std::vector<torch::nn::Linear> heads_;
};

}  // namespace facerec::train
