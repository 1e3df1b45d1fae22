#pragma once
// A TFJS graph model read from model.json: GraphDef nodes (name, op, inputs, attributes) plus
// the decoded weights of its Const nodes.
#include "import/tfjs/weights.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace facerec::detail {

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

std::string base64_decode(const std::string& in);
// "node:1" -> ("node", 1); "node" -> ("node", 0)
std::pair<std::string, int> split_ref(const std::string& ref);

}  // namespace facerec::detail
