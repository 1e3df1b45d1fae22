#pragma once
// An ONNX graph parsed once for the interpreting backends (reference, oneDNN): nodes in file order
// (the importers write them topologically sorted), constant tensors, attributes. Immutable once
// loaded, so sessions share it.
#include <facerec/tensor.hpp>

#include "backend/onnx_info.hpp"

#include <onnx/onnx_pb.h>

#include <array>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace facerec::detail {

struct OnnxNode {
  std::string op, name;
  std::vector<std::string> in, out;
  std::map<std::string, const onnx::AttributeProto*> attr;

  int64_t attr_i(const char* key, int64_t fallback) const;
  float attr_f(const char* key, float fallback) const;
  std::vector<int64_t> attr_ints(const char* key, std::vector<int64_t> fallback = {}) const;
  std::string attr_s(const char* key, const std::string& fallback) const;
};

struct OnnxGraph {
  OnnxInfo info;
  std::unique_ptr<onnx::ModelProto> proto;  // owns what OnnxNode::attr points to
  // Constants: float initializers, and integer ones (int8, uint8, int32) held as exact float
  // values; int64 initializers (shapes, axes) in `ints`.
  std::map<std::string, Tensor> consts;
  std::map<std::string, int> const_types;  // onnx::TensorProto data type of each entry of consts
  std::map<std::string, std::vector<int64_t>> ints;
  std::vector<OnnxNode> nodes;

  // The constant named `name`, or nullptr.
  const Tensor* constant(const std::string& name) const;
  std::map<std::string, std::vector<size_t>> readers_of;  // value -> the nodes reading it (once per input)
  std::map<std::string, size_t> producer_of;              // value -> the node writing it
  // How many nodes read the value `name` (graph outputs count as readers).
  int readers(const std::string& name) const;
  // The only node reading `name` (its index in `index`), when there is exactly one reader and
  // `name` is not a graph output; else nullptr.
  const OnnxNode* sole_reader(const std::string& name, size_t& index) const;
};

// The output height and width of a 2-D convolution over an H x W input with a KH x KW kernel:
// (size + both pads - dilated kernel) / stride + 1 on each axis, the one formula every backend uses.
// Throws Error(BadModel) unless there are 2 strides and 2 dilations (each >= 1) and 4 pads,
// Error(InvalidArgument) ("Conv: the kernel is larger than the input") when either size is < 1.
std::array<int64_t, 2> conv_output_hw(int64_t H, int64_t W, int64_t KH, int64_t KW, const std::vector<int64_t>& strides,
                                      const std::vector<int64_t>& dilations, const std::vector<int64_t>& pads);

// The values of a float initializer. Throws Error(BadModel) when its data does not match its shape.
std::vector<float> float_values(const onnx::TensorProto& t, const std::string& who);

// Parses `path`. `who` prefixes error messages (the backend's name).
// Throws Error: what read_onnx_info throws; BadModel for initializers whose data does not match
// their shape; Unsupported for initializer data types other than float, int8, uint8, int32, int64.
std::shared_ptr<const OnnxGraph> load_onnx_graph(const std::string& path, const std::string& who);

}  // namespace facerec::detail
