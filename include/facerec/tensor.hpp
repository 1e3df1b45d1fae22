#pragma once
// facerec::Tensor — a dense float32 tensor, row-major, with its shape.
//
// What it represents: the data exchanged with an InferenceBackend (inputs and outputs). It owns
// its data. Requires: data.size() == product of shape. Thread safety: a value type; distinct
// objects may be used from distinct threads freely.

#include <cstdint>
#include <string>
#include <vector>

namespace facerec {

struct Tensor {
  std::vector<int64_t> shape;
  std::vector<float> data;

  Tensor() = default;
  Tensor(std::vector<int64_t> s, std::vector<float> d) : shape(std::move(s)), data(std::move(d)) {}
  explicit Tensor(std::vector<int64_t> s);  // zero-filled

  // Number of elements the shape describes (1 for a scalar). Throws Error on negative dims.
  static int64_t element_count(const std::vector<int64_t>& shape);
  int64_t size() const { return static_cast<int64_t>(data.size()); }
};

// Describes one input or output of a loaded network. A dimension of -1 is dynamic (usually the
// batch). `name` is the tensor name inside the model file.
struct TensorSpec {
  std::string name;
  std::vector<int64_t> shape;
};

// "1x3x112x112" style formatting of a shape, for messages.
std::string shape_to_string(const std::vector<int64_t>& shape);

}  // namespace facerec
