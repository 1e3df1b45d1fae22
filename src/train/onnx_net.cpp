// A backbone made from an imported ONNX model (OnnxNetImpl): its graph interpreted with libtorch
// ops, its float initializers trainable parameters, written back to ONNX with their current values.
#include <facerec/error.hpp>
#include <facerec/models.hpp>
#include <facerec/train/backbones.hpp>

#include "backend/onnx_info.hpp"
#include "common/fs.hpp"
#include "import/onnx/onnx_builder.hpp"

#include <onnx/onnx_pb.h>

#include <cstring>
#include <map>
#include <set>

namespace facerec::train {

// Counts multiply-adds while multiply_adds() measures (backbones.cpp).
void add_multiply_adds(int64_t n);
void record_stage(const torch::Tensor& y);

namespace {

// The ops OnnxNetImpl runs (what facerec's importers write for embedding networks).
const std::set<std::string> kOps = {"Conv",    "PRelu",   "Relu",      "Add",  "Sub",   "Mul",
                                    "Reshape", "Flatten", "Transpose", "Gemm", "MatMul"};

std::vector<int64_t> ints(const onnx::AttributeProto& a) { return {a.ints().begin(), a.ints().end()}; }

}  // namespace

struct OnnxNetImpl::Graph {
  struct Node {
    std::string op, name;
    std::vector<std::string> inputs;
    std::string output;
    detail::Attrs attrs;
  };
  std::string input, output;
  std::vector<Node> nodes;
  std::map<std::string, std::vector<int64_t>> int_consts;  // int64 initializers (Reshape shapes)
};

OnnxNetImpl::OnnxNetImpl(const std::filesystem::path& file, const BackboneOptions& o)
    : BackboneImpl(o), graph_(std::make_shared<Graph>()) {
  const auto info = detail::read_onnx_info(file.string());  // checks the file's tensors against their shapes
  if (info.inputs.size() != 1 || info.outputs.size() != 1)
    throw Error(ErrorKind::BadModel, file.string() + ": a backbone needs one input and one output");
  const auto& in = info.inputs[0].shape;
  const auto& out = info.outputs[0].shape;
  if (in.size() != 4 || in[1] != 3 || in[2] != in[3] || in[2] <= 0 || out.size() != 2 || out[1] <= 0)
    throw Error(ErrorKind::BadModel, file.string() + ": a backbone takes [N, 3, S, S] and gives [N, D]");
  options_.input = in[2];
  options_.embedding = out[1];
  onnx::ModelProto m;
  if (!m.ParseFromString(detail::read_file(file))) throw Error(ErrorKind::BadModel, file.string() + ": not ONNX");
  const auto& g = m.graph();
  graph_->input = info.inputs[0].name;
  graph_->output = info.outputs[0].name;
  for (const auto& t : g.initializer()) {
    std::vector<int64_t> shape(t.dims().begin(), t.dims().end());
    int64_t n = 1;
    for (auto d : shape) n *= d;
    if (t.data_type() == onnx::TensorProto::FLOAT) {
      auto p = torch::empty(shape, torch::kFloat32);
      if (!t.raw_data().empty())
        std::memcpy(p.data_ptr<float>(), t.raw_data().data(), size_t(n) * 4);  // sizes checked by read_onnx_info
      else
        std::copy(t.float_data().begin(), t.float_data().end(), p.data_ptr<float>());
      std::string key = t.name();  // parameter names may not hold dots
      for (auto& ch : key)
        if (ch == '.') ch = '_';
      params_[t.name()] = register_parameter(key, p);
    } else if (t.data_type() == onnx::TensorProto::INT64) {
      std::vector<int64_t> v(static_cast<size_t>(n));
      if (!t.raw_data().empty())
        std::memcpy(v.data(), t.raw_data().data(), size_t(n) * 8);
      else
        v.assign(t.int64_data().begin(), t.int64_data().end());
      graph_->int_consts[t.name()] = v;
    } else {
      throw Error(ErrorKind::Unsupported, file.string() + ": initializer " + t.name() + " is neither float nor int64");
    }
  }
  for (const auto& n : g.node()) {
    if (!kOps.count(n.op_type()))
      throw Error(ErrorKind::Unsupported, file.string() + ": op " + n.op_type() + " (node " + n.name() +
                                              ") cannot be trained here (supported: Conv, PRelu, Relu, Add, Sub, Mul, "
                                              "Reshape, Flatten, Transpose, Gemm, MatMul)");
    if (n.output_size() != 1) throw Error(ErrorKind::BadModel, file.string() + ": node " + n.name() + " has 2 outputs");
    Graph::Node node{n.op_type(), n.name(), {n.input().begin(), n.input().end()}, n.output(0), {}};
    for (const auto& a : n.attribute()) {
      if (a.type() == onnx::AttributeProto::INT)
        node.attrs.emplace_back(a.name(), int64_t(a.i()));
      else if (a.type() == onnx::AttributeProto::FLOAT)
        node.attrs.emplace_back(a.name(), a.f());
      else if (a.type() == onnx::AttributeProto::INTS)
        node.attrs.emplace_back(a.name(), ints(a));
      else if (a.type() == onnx::AttributeProto::STRING)
        node.attrs.emplace_back(a.name(), a.s());
      else
        throw Error(ErrorKind::Unsupported, file.string() + ": attribute " + a.name() + " of node " + n.name());
    }
    graph_->nodes.push_back(std::move(node));
  }
}

namespace {

const detail::AttrValue* attr(const detail::Attrs& attrs, const std::string& name) {
  for (const auto& [k, v] : attrs)
    if (k == name) return &v;
  return nullptr;
}
int64_t attr_int(const detail::Attrs& a, const std::string& name, int64_t dflt) {
  auto* v = attr(a, name);
  return v && std::holds_alternative<int64_t>(*v) ? std::get<int64_t>(*v) : dflt;
}
float attr_float(const detail::Attrs& a, const std::string& name, float dflt) {
  auto* v = attr(a, name);
  return v && std::holds_alternative<float>(*v) ? std::get<float>(*v) : dflt;
}
std::vector<int64_t> attr_ints(const detail::Attrs& a, const std::string& name, std::vector<int64_t> dflt) {
  auto* v = attr(a, name);
  return v && std::holds_alternative<std::vector<int64_t>>(*v) ? std::get<std::vector<int64_t>>(*v) : dflt;
}

}  // namespace

torch::Tensor OnnxNetImpl::forward(const torch::Tensor& x) {
  const auto& o = options_;
  if (x.dim() != 4 || x.size(1) != 3 || x.size(2) != o.input || x.size(3) != o.input)
    throw Error(ErrorKind::InvalidArgument,
                "backbone: expected [N, 3, " + std::to_string(o.input) + ", " + std::to_string(o.input) + "] input");
  std::map<std::string, torch::Tensor> v{{graph_->input, x}};
  for (const auto& [name, p] : params_) v[name] = p;
  auto get = [&](const std::string& name) -> const torch::Tensor& {
    auto it = v.find(name);
    if (it == v.end()) throw Error(ErrorKind::BadModel, "onnx backbone: value " + name + " is used before it is made");
    return it->second;
  };
  for (const auto& n : graph_->nodes) {
    torch::Tensor y;
    if (n.op == "Conv") {
      auto pads = attr_ints(n.attrs, "pads", {0, 0, 0, 0});
      auto strides = attr_ints(n.attrs, "strides", {1, 1});
      auto dil = attr_ints(n.attrs, "dilations", {1, 1});
      const int64_t group = attr_int(n.attrs, "group", 1);
      torch::Tensor in = get(n.inputs[0]);
      // ONNX pads [top, left, bottom, right] may be asymmetric (TF "SAME" at stride 2)
      std::vector<int64_t> sym{0, 0};
      if (pads.size() == 4 && (pads[0] != pads[2] || pads[1] != pads[3]))
        in = torch::constant_pad_nd(in, {pads[1], pads[3], pads[0], pads[2]});
      else if (pads.size() == 4)
        sym = {pads[0], pads[1]};
      const auto& w = get(n.inputs[1]);
      y = torch::conv2d(in, w, n.inputs.size() > 2 ? get(n.inputs[2]) : torch::Tensor(), strides, sym, dil, group);
      add_multiply_adds(y.numel() / y.size(0) * w.size(1) * w.size(2) * w.size(3));
    } else if (n.op == "PRelu") {
      const auto& a = get(n.inputs[0]);
      y = torch::clamp_min(a, 0) + get(n.inputs[1]) * torch::clamp_max(a, 0);
    } else if (n.op == "Relu") {
      y = torch::relu(get(n.inputs[0]));
    } else if (n.op == "Add") {
      y = get(n.inputs[0]) + get(n.inputs[1]);
    } else if (n.op == "Sub") {
      y = get(n.inputs[0]) - get(n.inputs[1]);
    } else if (n.op == "Mul") {
      y = get(n.inputs[0]) * get(n.inputs[1]);
    } else if (n.op == "Transpose") {
      y = get(n.inputs[0]).permute(attr_ints(n.attrs, "perm", {}));
    } else if (n.op == "Reshape") {
      const auto& a = get(n.inputs[0]);
      auto it = graph_->int_consts.find(n.inputs[1]);
      if (it == graph_->int_consts.end())
        throw Error(ErrorKind::Unsupported, "onnx backbone: Reshape " + n.name + " with a computed shape");
      std::vector<int64_t> shape = it->second;
      for (size_t k = 0; k < shape.size(); ++k)
        if (shape[k] == 0) shape[k] = a.size(int64_t(k));  // ONNX: 0 copies the input's dimension
      y = a.reshape(shape);
    } else if (n.op == "Flatten") {
      y = get(n.inputs[0]).flatten(attr_int(n.attrs, "axis", 1));
    } else if (n.op == "Gemm") {
      auto a = get(n.inputs[0]), b = get(n.inputs[1]);
      if (attr_int(n.attrs, "transA", 0)) a = a.t();
      if (attr_int(n.attrs, "transB", 0)) b = b.t();
      y = attr_float(n.attrs, "alpha", 1.f) * torch::matmul(a, b);
      add_multiply_adds(b.size(0) * b.size(1));
      if (n.inputs.size() > 2) y = y + attr_float(n.attrs, "beta", 1.f) * get(n.inputs[2]);
    } else {  // MatMul
      const auto& b = get(n.inputs[1]);
      y = torch::matmul(get(n.inputs[0]), b);
      add_multiply_adds(b.numel());
    }
    record_stage(y);
    v[n.output] = y;
  }
  return get(graph_->output);
}

std::string OnnxNetImpl::emit_onnx(detail::OnnxBuilder& b, const std::string& input) const {
  torch::NoGradGuard g;
  std::map<std::string, std::string> name{{graph_->input, input}};  // this graph's names -> b's
  for (const auto& [n, p] : params_) {
    auto c = p.detach().contiguous();
    name[n] = b.initializer(n, {c.sizes().begin(), c.sizes().end()},
                            std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel()));
  }
  for (const auto& [n, v] : graph_->int_consts) name[n] = b.initializer_i64(n, {int64_t(v.size())}, v);
  for (const auto& n : graph_->nodes) {
    std::vector<std::string> in;
    for (const auto& i : n.inputs) in.push_back(name.at(i));
    name[n.output] = b.node(n.op, in, n.output, n.attrs);
  }
  return name.at(graph_->output);
}

}  // namespace facerec::train
