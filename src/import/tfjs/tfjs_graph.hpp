#pragma once
// A TF graph: GraphDef nodes (name, op, inputs, attributes) plus the decoded weights of its Const
// nodes — read from a TFJS model.json, or translated from a TFLite flatbuffer (tflite_model.hpp);
// tf_graph_to_onnx converts either.
#include "import/tfjs/weights.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace facerec {
struct ImportReport;
}

namespace facerec::detail {

class OnnxBuilder;

struct TfNode {
  std::string name;
  std::string op;
  std::vector<std::string> inputs;  // "node" or "node:k"; control inputs ("^x") dropped
  nlohmann::json attr;              // the GraphDef attribute map, as written in model.json

  bool has_attr(const std::string& key) const { return attr.contains(key); }
  std::vector<int64_t> ints(const std::string& key) const;                          // attr list of i
  std::vector<std::string> strings(const std::string& key) const;                   // attr list of s, decoded
  std::string str(const std::string& key, const std::string& fallback = "") const;  // attr s, decoded
  int64_t i(const std::string& key, int64_t fallback) const;
  float f(const std::string& key, float fallback) const;
  bool b(const std::string& key, bool fallback) const;
};

struct TfGraph {
  std::vector<TfNode> nodes;
  std::map<std::string, size_t> index;          // node name -> position in nodes
  std::map<std::string, WeightTensor> weights;  // by Const node name
  // Declared outputs (signature) as (public name, tensor ref); empty when the model has none.
  std::vector<std::pair<std::string, std::string>> signature_outputs;
  std::string producer;

  const TfNode& node(const std::string& name) const;  // throws BadModel
};

TfGraph load_tfjs_graph(const std::filesystem::path& model_json);

// Writes g into b as ONNX (then prunes b); with free_spatial, rank-4 inputs and outputs get free
// height and width. Throws Error(Unsupported) naming op and node for anything it cannot translate
// exactly, Error(BadModel) for an inconsistent graph.
void tf_graph_to_onnx(const TfGraph& g, OnnxBuilder& b, ImportReport& report, bool free_spatial);

std::string base64_decode(const std::string& in);
std::string base64_encode(const std::string& in);  // standard alphabet, '=' padding
// "node:1" -> ("node", 1); "node" -> ("node", 0)
std::pair<std::string, int> split_ref(const std::string& ref);

}  // namespace facerec::detail
