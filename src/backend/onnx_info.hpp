#pragma once
// Reads the declared inputs and outputs of an ONNX file (shared by every backend that loads ONNX).
#include <facerec/tensor.hpp>

#include <string>
#include <vector>

namespace facerec::detail {

struct OnnxInfo {
  std::vector<TensorSpec> inputs;  // graph inputs that are not initializers
  std::vector<TensorSpec> outputs;
  int opset = 0;
};

// Throws Error(NotFound) when the file is missing, Error(BadModel) when it is empty, not a
// protobuf ModelProto, has no graph inputs/outputs, or holds a tensor whose data does not match its
// type and shape (runtimes copy shape-sized blocks without checking); Error(Unsupported) for
// tensors kept in external files.
OnnxInfo read_onnx_info(const std::string& path);

}  // namespace facerec::detail
