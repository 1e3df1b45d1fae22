#pragma once
// OnnxBuilder — writes an ONNX graph through libonnx's protobuf classes.
//
// Emits opset 10 only: OpenCV 4.6's importer reads Clip's min/max, Pad's pads and the Reduce/
// Squeeze axes as attributes, which is the opset-10 form (opset 11+ moves them to inputs).
#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

namespace onnx {
class ModelProto;
}

namespace facerec::detail {

using AttrValue = std::variant<int64_t, float, std::string, std::vector<int64_t>, std::vector<float>>;
using Attrs = std::vector<std::pair<std::string, AttrValue>>;

class OnnxBuilder {
 public:
  static constexpr int kOpset = 10;
  explicit OnnxBuilder(std::string graph_name);
  ~OnnxBuilder();
  OnnxBuilder(const OnnxBuilder&) = delete;
  OnnxBuilder& operator=(const OnnxBuilder&) = delete;

  // A name not used yet in the graph, derived from `hint` (characters kept as they are).
  std::string unique(const std::string& hint);

  std::string initializer(const std::string& hint, const std::vector<int64_t>& shape, const std::vector<float>& data);
  std::string initializer_i64(const std::string& hint, const std::vector<int64_t>& shape,
                              const std::vector<int64_t>& data);
  // Adds a node with one output; returns the output's name (unique, from `hint`).
  std::string node(const std::string& op, const std::vector<std::string>& inputs, const std::string& hint,
                   const Attrs& attrs = {});
  // Graph inputs and outputs; a -1 dimension becomes the symbolic dimension "batch".
  void input(const std::string& name, const std::vector<int64_t>& shape);
  void output(const std::string& name, const std::vector<int64_t>& shape);
  // Renames a value produced by a node (used to give graph outputs stable names).
  void rename_output(const std::string& from, const std::string& to);

  // Removes nodes whose outputs nothing reads (left behind by pattern folding) and unused
  // initializers. Call after all graph outputs are declared.
  void prune();

  void set_doc(const std::string& producer, const std::string& doc);
  int node_count() const;
  std::string serialize() const;

 private:
  onnx::ModelProto* model_;
  std::map<std::string, int> used_;
};

}  // namespace facerec::detail
