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
  // Takes shape and data as given (not checked against each other: the caller keeps the invariant).
  Tensor(std::vector<int64_t> s, std::vector<float> d) : shape(std::move(s)), data(std::move(d)) {}
  // Zero-filled, element_count(s) values. Throws Error(InvalidArgument) on negative dims.
  explicit Tensor(std::vector<int64_t> s);

  // Number of elements the shape describes (1 for a scalar). Throws Error(InvalidArgument) on
  // negative dims (a dynamic -1 included).
  static int64_t element_count(const std::vector<int64_t>& shape);
  // Number of values held (data.size()), whatever the shape says.
  int64_t size() const { return static_cast<int64_t>(data.size()); }
};

// Describes one input or output of a loaded network. A dimension of -1 is dynamic (usually the
// batch). `name` is the tensor name inside the model file. A plain value.
struct TensorSpec {
  std::string name;
  std::vector<int64_t> shape;
};

// "[1x3x112x112]" style formatting of a shape, for messages; a negative (dynamic) dimension
// prints as "?" ("[?x3x112x112]").
std::string shape_to_string(const std::vector<int64_t>& shape);

}  // namespace facerec
