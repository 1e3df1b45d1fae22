#include <facerec/backend.hpp>
#include <facerec/error.hpp>

#include "backend/onnx_info.hpp"
#include "common/fs.hpp"

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <mutex>
#include <set>
#include <sstream>

namespace facerec {

Tensor::Tensor(std::vector<int64_t> s) : shape(std::move(s)), data(size_t(element_count(shape)), 0.f) {}

int64_t Tensor::element_count(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (auto d : shape) {
    if (d < 0) throw Error(ErrorKind::InvalidArgument, "negative dimension in shape " + shape_to_string(shape));
    n *= d;
  }
  return n;
}

std::string shape_to_string(const std::vector<int64_t>& shape) {
  std::ostringstream s;
  s << "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s << (i ? "x" : "") << (shape[i] < 0 ? std::string("?") : std::to_string(shape[i]));
  s << "]";
  return s.str();
}

const char* to_string(Precision p) noexcept {
  switch (p) {
    case Precision::FP32:
      return "fp32";
    case Precision::FP16:
      return "fp16";
    case Precision::INT8:
      return "int8";
    case Precision::BF16:
      return "bf16";
  }
  return "?";
}

void InferenceBackend::check_batch(const std::vector<Tensor>& batch) const {
  auto specs = inputs();
  if (batch.size() != specs.size())
    throw Error(ErrorKind::InvalidArgument, name() + ": expected " + std::to_string(specs.size()) +
                                                " input tensor(s), got " + std::to_string(batch.size()));
  int64_t batch_size = -1;
  for (size_t i = 0; i < specs.size(); ++i) {
    const auto& t = batch[i];
    const auto& s = specs[i];
    bool ok = t.shape.size() == s.shape.size();
    for (size_t d = 0; ok && d < s.shape.size(); ++d)
      ok = t.shape[d] > 0 && (s.shape[d] < 0 || s.shape[d] == t.shape[d]);
    if (!ok)
      throw Error(ErrorKind::InvalidArgument, name() + ": input '" + s.name + "' must have shape " +
                                                  shape_to_string(s.shape) + ", got " + shape_to_string(t.shape));
    if (t.size() != Tensor::element_count(t.shape))
      throw Error(ErrorKind::InvalidArgument, name() + ": input '" + s.name + "' holds " + std::to_string(t.size()) +
                                                  " values, its shape needs " +
                                                  std::to_string(Tensor::element_count(t.shape)));
    if (!t.shape.empty()) {
      if (batch_size >= 0 && t.shape[0] != batch_size)
        throw Error(ErrorKind::InvalidArgument, name() + ": inputs disagree on the batch size");
      batch_size = t.shape[0];
    }
  }
}

namespace {
struct Registry {
  std::mutex mu;
  std::map<std::string, BackendFactory> factories;
};
Registry& registry() {
  static Registry r;
  return r;
}
}  // namespace

// Defined by each built-in backend's translation unit.
void register_builtin_backends();

void register_backend(const std::string& name, BackendFactory factory) {
  auto& r = registry();
  std::lock_guard lock(r.mu);
  r.factories[name] = std::move(factory);
}

static void ensure_builtins();

bool unregister_backend(const std::string& name) {
  ensure_builtins();
  auto& r = registry();
  std::lock_guard lock(r.mu);
  return r.factories.erase(name) > 0;
}

static void ensure_builtins() {
  static std::once_flag once;
  std::call_once(once, [] { register_builtin_backends(); });
}

std::unique_ptr<InferenceBackend> create_backend(const std::string& name) {
  ensure_builtins();
  auto& r = registry();
  BackendFactory f;
  {
    std::lock_guard lock(r.mu);
    auto it = r.factories.find(name);
    if (it != r.factories.end()) f = it->second;
  }
  if (!f) {
    std::string known;
    for (const auto& n : backend_names()) known += (known.empty() ? "" : ", ") + n;
    throw Error(ErrorKind::NotFound, "unknown inference backend '" + name + "' (known: " + known + ")");
  }
  return f();
}

std::vector<std::string> backend_names() {
  ensure_builtins();
  auto& r = registry();
  std::lock_guard lock(r.mu);
  std::vector<std::string> out;
  for (const auto& [k, v] : r.factories) out.push_back(k);
  return out;
}

size_t output_index(const InferenceBackend& net, const std::string& name) {
  auto outs = net.outputs();
  std::string names;
  for (size_t i = 0; i < outs.size(); ++i) {
    if (outs[i].name == name) return i;
    names += (names.empty() ? "" : ", ") + outs[i].name;
  }
  throw Error(ErrorKind::BadModel, "the network has no output '" + name + "' (it has: " + names + ")");
}

std::unique_ptr<InferenceBackend> load_backend(const std::string& name, const std::string& model_path,
                                               const BackendOptions& options) {
  auto b = create_backend(name);
  b->load(model_path, options);
  return b;
}

namespace detail {

static TensorSpec spec_of(const onnx::ValueInfoProto& v) {
  TensorSpec s;
  s.name = v.name();
  if (v.type().has_tensor_type() && v.type().tensor_type().has_shape())
    for (const auto& d : v.type().tensor_type().shape().dim())
      s.shape.push_back(d.has_dim_value() ? d.dim_value() : -1);
  return s;
}

namespace {

// Every tensor stored in the file must hold exactly the data its type and shape declare: runtimes
// (OpenCV's importer among them) copy shape-sized blocks out of these fields without checking.
void check_tensor(const onnx::TensorProto& t, const std::string& where) {
  auto bad = [&](const std::string& why) {
    throw Error(ErrorKind::BadModel, where + ": tensor '" + t.name().substr(0, 80) + "' " + why);
  };
  if (t.data_location() == onnx::TensorProto::EXTERNAL || t.external_data_size() > 0)
    throw Error(ErrorKind::Unsupported,
                where + ": tensor '" + t.name().substr(0, 80) + "' keeps its data outside the file");
  int64_t n = 1;
  for (auto d : t.dims()) {
    if (d < 0 || d > (int64_t(1) << 31)) bad("has a dimension of " + std::to_string(d));
    n *= d;
    if (n > (int64_t(1) << 31)) bad("is larger than 2^31 elements");
  }
  int64_t elem = 0, typed = -1;
  switch (t.data_type()) {
    case onnx::TensorProto::FLOAT:
      elem = 4, typed = t.float_data_size();
      break;
    case onnx::TensorProto::DOUBLE:
      elem = 8, typed = t.double_data_size();
      break;
    case onnx::TensorProto::INT64:
      elem = 8, typed = t.int64_data_size();
      break;
    case onnx::TensorProto::UINT64:
      elem = 8, typed = t.uint64_data_size();
      break;
    case onnx::TensorProto::INT32:
      elem = 4, typed = t.int32_data_size();
      break;
    case onnx::TensorProto::UINT32:
      elem = 4, typed = t.uint64_data_size();
      break;
    case onnx::TensorProto::INT16:
    case onnx::TensorProto::UINT16:
    case onnx::TensorProto::FLOAT16:
    case onnx::TensorProto::BFLOAT16:
      elem = 2, typed = t.int32_data_size();
      break;
    case onnx::TensorProto::INT8:
    case onnx::TensorProto::UINT8:
    case onnx::TensorProto::BOOL:
      elem = 1, typed = t.int32_data_size();
      break;
    default:
      bad("has data type " + std::to_string(t.data_type()) + ", which no backend here reads");
  }
  int64_t have = t.has_raw_data() ? int64_t(t.raw_data().size()) / elem : typed;
  if (t.has_raw_data() && int64_t(t.raw_data().size()) % elem != 0) bad("has a partial element of raw data");
  if (have != n)
    bad("declares " + std::to_string(n) + " elements but holds " + std::to_string(have) + " (truncated or forged)");
}

// The graph must be well formed: every value a node reads is a graph input, an initializer or the
// output of an earlier node (topological order), no value is produced twice, every node has a
// type and an output, and every graph output is produced. Runtimes look values up by name and
// dereference what they find (OpenCV's importer crashed on a dangling name).
void check_graph_structure(const onnx::GraphProto& g, const std::string& where, std::set<std::string> known) {
  auto bad = [&](const std::string& why) { throw Error(ErrorKind::BadModel, where + ": " + why); };
  for (const auto& v : g.input()) {
    if (v.name().empty()) bad("a graph input has no name");
    known.insert(v.name());
  }
  for (const auto& t : g.initializer()) {
    if (t.name().empty()) bad("an initializer has no name");
    known.insert(t.name());
  }
  for (const auto& n : g.node()) {
    if (n.op_type().empty()) bad("a node has no op type");
    if (n.output_size() == 0) bad("node '" + n.name().substr(0, 80) + "' (" + n.op_type() + ") has no output");
    for (const auto& in : n.input())
      if (!in.empty() && !known.count(in))
        bad("node '" + n.name().substr(0, 80) + "' (" + n.op_type() + ") reads '" + in.substr(0, 80) +
            "', which nothing before it produces");
    for (const auto& out : n.output()) {
      if (out.empty()) continue;  // an omitted optional output
      if (!known.insert(out).second) bad("value '" + out.substr(0, 80) + "' is produced twice");
    }
  }
  for (const auto& v : g.output())
    if (!known.count(v.name())) bad("graph output '" + v.name().substr(0, 80) + "' is produced by no node");
}

void check_graph_tensors(const onnx::GraphProto& g, const std::string& where, int depth = 0) {
  if (depth > 8) throw Error(ErrorKind::BadModel, where + ": sub-graphs nested too deeply");
  if (depth == 0) check_graph_structure(g, where, {});
  for (const auto& t : g.initializer()) check_tensor(t, where);
  for (const auto& n : g.node())
    for (const auto& a : n.attribute()) {
      if (a.has_t()) check_tensor(a.t(), where);
      for (const auto& t : a.tensors()) check_tensor(t, where);
      if (a.has_g()) check_graph_tensors(a.g(), where, depth + 1);
      for (const auto& sg : a.graphs()) check_graph_tensors(sg, where, depth + 1);
    }
}

}  // namespace

OnnxInfo read_onnx_info(const std::string& path) {
  std::string bytes = read_file(path);
  if (bytes.empty()) throw Error(ErrorKind::BadModel, "model file is empty: " + path);
  onnx::ModelProto m;
  if (!m.ParseFromString(bytes))
    throw Error(ErrorKind::BadModel, "not an ONNX model (protobuf parse failed; truncated or garbage?): " + path);
  if (!m.has_graph() || m.graph().node_size() == 0)
    throw Error(ErrorKind::BadModel, "ONNX model has no graph nodes: " + path);
  check_graph_tensors(m.graph(), path);
  OnnxInfo info;
  for (const auto& op : m.opset_import())
    if (op.domain().empty() || op.domain() == "ai.onnx") info.opset = int(op.version());
  std::set<std::string> inits;
  for (const auto& t : m.graph().initializer()) inits.insert(t.name());
  for (const auto& v : m.graph().input())
    if (!inits.count(v.name())) info.inputs.push_back(spec_of(v));
  for (const auto& v : m.graph().output()) info.outputs.push_back(spec_of(v));
  if (info.inputs.empty() || info.outputs.empty())
    throw Error(ErrorKind::BadModel, "ONNX model declares no inputs or no outputs: " + path);
  return info;
}

}  // namespace detail
}  // namespace facerec
