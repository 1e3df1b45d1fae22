#include "backend/onnx_graph.hpp"

#include <facerec/error.hpp>

#include "common/fs.hpp"

#include <cstring>

namespace facerec::detail {

int64_t OnnxNode::attr_i(const char* key, int64_t fallback) const {
  auto it = attr.find(key);
  return it == attr.end() ? fallback : it->second->i();
}
float OnnxNode::attr_f(const char* key, float fallback) const {
  auto it = attr.find(key);
  return it == attr.end() ? fallback : it->second->f();
}
std::vector<int64_t> OnnxNode::attr_ints(const char* key, std::vector<int64_t> fallback) const {
  auto it = attr.find(key);
  if (it == attr.end()) return fallback;
  return {it->second->ints().begin(), it->second->ints().end()};
}
std::string OnnxNode::attr_s(const char* key, const std::string& fallback) const {
  auto it = attr.find(key);
  return it == attr.end() ? fallback : it->second->s();
}

const Tensor* OnnxGraph::constant(const std::string& name) const {
  auto it = consts.find(name);
  return it == consts.end() ? nullptr : &it->second;
}

int OnnxGraph::readers(const std::string& name) const {
  auto it = readers_of.find(name);
  int n = it == readers_of.end() ? 0 : int(it->second.size());
  for (const auto& o : info.outputs) n += o.name == name;
  return n;
}

const OnnxNode* OnnxGraph::sole_reader(const std::string& name, size_t& index) const {
  if (readers(name) != 1) return nullptr;
  auto it = readers_of.find(name);
  if (it == readers_of.end()) return nullptr;  // its one reader is the graph's output
  index = it->second.front();
  return &nodes[index];
}

std::array<int64_t, 2> conv_output_hw(int64_t H, int64_t W, int64_t KH, int64_t KW, const std::vector<int64_t>& st,
                                      const std::vector<int64_t>& dl, const std::vector<int64_t>& pads) {
  if (st.size() != 2 || dl.size() != 2 || pads.size() != 4 || st[0] < 1 || st[1] < 1 || dl[0] < 1 || dl[1] < 1)
    throw Error(ErrorKind::BadModel, "Conv: strides and dilations must be 2 values >= 1, pads 4 values");
  const int64_t OH = (H + pads[0] + pads[2] - ((KH - 1) * dl[0] + 1)) / st[0] + 1;
  const int64_t OW = (W + pads[1] + pads[3] - ((KW - 1) * dl[1] + 1)) / st[1] + 1;
  if (OH <= 0 || OW <= 0) throw Error(ErrorKind::InvalidArgument, "Conv: the kernel is larger than the input");
  return {OH, OW};
}

std::vector<float> float_values(const onnx::TensorProto& t, const std::string& who) {
  const int64_t n = Tensor::element_count({t.dims().begin(), t.dims().end()});
  std::vector<float> v(static_cast<size_t>(n));
  if (!t.raw_data().empty()) {
    if (t.raw_data().size() != size_t(n) * 4)
      throw Error(ErrorKind::BadModel, who + ": initializer " + t.name() + " has the wrong size");
    std::memcpy(v.data(), t.raw_data().data(), size_t(n) * 4);
  } else {
    if (t.float_data_size() != n)
      throw Error(ErrorKind::BadModel, who + ": initializer " + t.name() + " has the wrong size");
    std::copy(t.float_data().begin(), t.float_data().end(), v.begin());
  }
  return v;
}

namespace {

template <typename T>
void integers_as_float(const onnx::TensorProto& t, int64_t n, Tensor& x, const std::string& who) {
  if (!t.raw_data().empty()) {
    if (t.raw_data().size() != size_t(n) * sizeof(T))
      throw Error(ErrorKind::BadModel, who + ": initializer " + t.name() + " has the wrong size");
    const auto* p = reinterpret_cast<const T*>(t.raw_data().data());
    for (int64_t i = 0; i < n; ++i) x.data[size_t(i)] = float(p[i]);
  } else {  // int8, uint8 and int32 values are kept in int32_data
    if (t.int32_data_size() != n)
      throw Error(ErrorKind::BadModel, who + ": initializer " + t.name() + " has the wrong size");
    for (int64_t i = 0; i < n; ++i) x.data[size_t(i)] = float(t.int32_data(int(i)));
  }
}

void load_initializer(OnnxGraph& g, const onnx::TensorProto& t, const std::string& who) {
  std::vector<int64_t> s(t.dims().begin(), t.dims().end());
  int64_t n = Tensor::element_count(s);
  const int type = t.data_type();
  if (type == onnx::TensorProto::INT64) {
    std::vector<int64_t> v(static_cast<size_t>(n));
    if (!t.raw_data().empty()) {
      if (t.raw_data().size() != size_t(n) * 8)
        throw Error(ErrorKind::BadModel, who + ": initializer " + t.name() + " has the wrong size");
      std::memcpy(v.data(), t.raw_data().data(), size_t(n) * 8);
    } else {
      if (t.int64_data_size() != n)
        throw Error(ErrorKind::BadModel, who + ": initializer " + t.name() + " has the wrong size");
      v.assign(t.int64_data().begin(), t.int64_data().end());
    }
    g.ints[t.name()] = std::move(v);
    return;
  }
  Tensor x(s);
  if (type == onnx::TensorProto::FLOAT) {
    x.data = float_values(t, who);
  } else if (type == onnx::TensorProto::INT8) {
    integers_as_float<int8_t>(t, n, x, who);
  } else if (type == onnx::TensorProto::UINT8) {
    integers_as_float<uint8_t>(t, n, x, who);
  } else if (type == onnx::TensorProto::INT32) {
    integers_as_float<int32_t>(t, n, x, who);
  } else {
    throw Error(ErrorKind::Unsupported, who + ": initializer " + t.name() + " has data type " + std::to_string(type));
  }
  g.consts[t.name()] = std::move(x);
  g.const_types[t.name()] = type;
}

}  // namespace

std::shared_ptr<const OnnxGraph> load_onnx_graph(const std::string& path, const std::string& who) {
  auto g = std::make_shared<OnnxGraph>();
  g->info = read_onnx_info(path);
  std::string bytes = read_file(path);
  g->proto = std::make_unique<onnx::ModelProto>();
  if (!g->proto->ParseFromString(bytes)) throw Error(ErrorKind::BadModel, who + ": not an ONNX model: " + path);
  for (const auto& t : g->proto->graph().initializer()) load_initializer(*g, t, who);
  for (const auto& n : g->proto->graph().node()) {
    OnnxNode node;
    node.op = n.op_type();
    node.name = n.name();
    node.in.assign(n.input().begin(), n.input().end());
    node.out.assign(n.output().begin(), n.output().end());
    if (node.out.empty()) throw Error(ErrorKind::BadModel, who + ": node '" + node.name + "' has no output");
    if (node.in.empty() || node.in[0].empty())  // every op facerec runs reads a first input
      throw Error(ErrorKind::BadModel, who + ": node '" + node.name + "' (" + node.op + ") has no first input");
    for (const auto& a : n.attribute()) node.attr[a.name()] = &a;
    g->nodes.push_back(std::move(node));
  }
  // who reads each value (graph outputs count as readers): sole_reader's index
  for (size_t i = 0; i < g->nodes.size(); ++i) {
    for (const auto& in : g->nodes[i].in)
      if (!in.empty()) g->readers_of[in].push_back(i);
    for (const auto& o : g->nodes[i].out) g->producer_of[o] = i;
  }
  return g;
}

}  // namespace facerec::detail
