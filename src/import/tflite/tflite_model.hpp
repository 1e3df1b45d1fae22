#pragma once
// A TFLite flatbuffer (schema "TFL3", float32/float16 models) read into the TF graph form the TFJS
// importer converts (tfjs_graph.hpp): every operator of subgraph 0 becomes the TF op it computes
// (CONV_2D with its bias and fused activation -> _FusedConv2D, FULLY_CONNECTED -> a flatten and
// _FusedMatMul, ...), weights are transposed to TF's layouts, float16 DEQUANTIZE of a constant is
// folded into a float constant. One converter then writes ONNX for both formats.
#include "import/tfjs/tfjs_graph.hpp"

#include <filesystem>
#include <string>

namespace facerec::detail {

struct TfliteGraph {
  TfGraph graph;
  int operators = 0;          // operators in the file's main subgraph
  std::string weights_dtype;  // float32, or float16 when any weight was stored as float16
};

// Reads and verifies `file`. With free_batch, the input's batch dimension becomes free (the file
// fixes it, e.g. at 2) and reshapes that keep the batch in front keep it free.
// Throws Error(NotFound) for a missing file, Error(Io) when it cannot be read, Error(BadModel)
// naming the file for anything that is not a well-formed TFLite model (wrong identifier, a
// flatbuffer that fails verification, indices out of range, buffers of the wrong size), and
// Error(Unsupported) naming the operator, its index and output tensor for an op, option, tensor
// type, quantisation or sparsity the importer cannot translate exactly.
TfliteGraph load_tflite_graph(const std::filesystem::path& file, bool free_batch = true);

// A tensor name as an ONNX value name facerec's manifests use: '/' and ':' become '_'.
std::string sanitize_tensor_name(const std::string& name);

}  // namespace facerec::detail
