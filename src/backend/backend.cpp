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

OnnxInfo read_onnx_info(const std::string& path) {
  std::string bytes = read_file(path);
  if (bytes.empty()) throw Error(ErrorKind::BadModel, "model file is empty: " + path);
  onnx::ModelProto m;
  if (!m.ParseFromString(bytes))
    throw Error(ErrorKind::BadModel, "not an ONNX model (protobuf parse failed; truncated or garbage?): " + path);
  if (!m.has_graph() || m.graph().node_size() == 0)
    throw Error(ErrorKind::BadModel, "ONNX model has no graph nodes: " + path);
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
