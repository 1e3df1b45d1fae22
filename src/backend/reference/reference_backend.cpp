// The reference backend: a plain, unoptimised ONNX interpreter for the ops facerec's importers
// emit (reference_ops.cpp), written to be read, not to be fast. Optimised backends are tested
// against it op by op (tests/test_ops.cpp). QuantizeLinear/DequantizeLinear are computed exactly
// in float, so a quantised (QDQ) model run here is the int8 arithmetic's ideal.
// Options: none (always one thread, fp32).
#include <facerec/backend.hpp>
#include <facerec/error.hpp>

#include "backend/onnx_graph.hpp"
#include "backend/reference/reference_ops.hpp"

#include <functional>
#include <map>

namespace facerec {
namespace {

using NodeHook = std::function<void(const detail::OnnxNode&, const std::vector<const Tensor*>&, const Tensor&)>;

// An int64 constant (a Reshape's shape) is read by the op from the graph; it stands here as an
// empty tensor.
const Tensor& value_of(const detail::OnnxGraph& g, const std::map<std::string, Tensor>& v, const detail::OnnxNode& n,
                       const std::string& name) {
  static const Tensor none;
  if (auto it = v.find(name); it != v.end()) return it->second;
  if (const Tensor* c = g.constant(name)) return *c;
  if (g.ints.count(name)) return none;
  throw Error(ErrorKind::BadModel, "reference: input '" + name + "' of node '" + n.name + "' is undefined");
}

// Runs the graph node by node with the reference ops; `hook` (optional) sees every node's inputs and output.
std::vector<Tensor> run_graph(const detail::OnnxGraph& g, const std::vector<Tensor>& batch, const NodeHook& hook) {
  std::map<std::string, Tensor> v;  // computed values; constants are read from the shared graph
  for (size_t i = 0; i < batch.size(); ++i) v[g.info.inputs[i].name] = batch[i];
  for (const auto& n : g.nodes) {
    std::vector<const Tensor*> in;
    for (const auto& name : n.in) in.push_back(&value_of(g, v, n, name));
    try {
      Tensor& out = v[n.out.at(0)] = detail::reference_op(g, n, in);
      if (hook) hook(n, in, out);
    } catch (const Error&) {
      throw;
    } catch (const std::exception& e) {
      throw Error(ErrorKind::Internal, "reference: node '" + n.name + "' (" + n.op + "): " + e.what());
    }
  }
  std::vector<Tensor> out;
  for (const auto& o : g.info.outputs) {
    if (auto it = v.find(o.name); it != v.end()) {
      out.push_back(std::move(it->second));
    } else if (const Tensor* c = g.constant(o.name)) {
      out.push_back(*c);
    } else {
      throw Error(ErrorKind::BadModel, "reference: output '" + o.name + "' is never computed");
    }
  }
  return out;
}

class ReferenceBackend final : public InferenceBackend {
 public:
  void load(const std::string& model_path, const BackendOptions& options) override {
    if (options.precision != Precision::FP32) throw Error(ErrorKind::Unsupported, "reference: only fp32 is supported");
    auto g = detail::load_onnx_graph(model_path, "reference");
    for (const auto& n : g->nodes)
      if (!detail::reference_has_op(n.op))
        throw Error(ErrorKind::Unsupported,
                    "reference backend: op '" + n.op + "' (node '" + n.name + "') is not implemented");
    g_ = std::move(g);
  }

  // Sessions share the parsed model (weights, graph); each run has its own values.
  std::unique_ptr<InferenceBackend> session() const override {
    if (!g_) throw Error(ErrorKind::InvalidArgument, "reference: session() before load()");
    auto s = std::make_unique<ReferenceBackend>();
    s->g_ = g_;
    return s;
  }

  std::vector<TensorSpec> inputs() const override { return g_ ? g_->info.inputs : std::vector<TensorSpec>{}; }
  std::vector<TensorSpec> outputs() const override { return g_ ? g_->info.outputs : std::vector<TensorSpec>{}; }
  std::string name() const override { return "reference"; }
  Precision precision() const override { return Precision::FP32; }

  std::vector<Tensor> run(const std::vector<Tensor>& batch) override {
    if (!g_) throw Error(ErrorKind::InvalidArgument, "reference: run() before load()");
    check_batch(batch);
    return run_graph(*g_, batch, {});
  }

 private:
  std::shared_ptr<const detail::OnnxGraph> g_;
};

}  // namespace

double count_macs(const std::string& model_path, const std::vector<Tensor>& batch) {
  auto g = detail::load_onnx_graph(model_path, "count_macs");
  for (const auto& n : g->nodes)
    if (!detail::reference_has_op(n.op))
      throw Error(ErrorKind::Unsupported, "count_macs: op '" + n.op + "' (node '" + n.name + "') is not implemented");
  if (batch.size() != g->info.inputs.size())
    throw Error(ErrorKind::InvalidArgument, "count_macs: " + std::to_string(batch.size()) +
                                                " inputs given, the network has " +
                                                std::to_string(g->info.inputs.size()));
  double macs = 0;
  run_graph(*g, batch, [&](const detail::OnnxNode& n, const std::vector<const Tensor*>& in, const Tensor& out) {
    double outputs = 1;
    for (auto d : out.shape) outputs *= double(d);
    if (n.op == "Conv" && in.size() >= 2 && in[1]->shape.size() >= 3) {
      double per_output = 1;  // Cin / group x kernel area: the weight's dimensions after the first
      for (size_t k = 1; k < in[1]->shape.size(); ++k) per_output *= double(in[1]->shape[k]);
      macs += outputs * per_output;
    } else if ((n.op == "Gemm" || n.op == "MatMul") && in.size() >= 2 && !in[0]->shape.empty()) {
      const bool trans_a = n.op == "Gemm" && n.attr_i("transA", 0);
      const auto& a = in[0]->shape;
      const double k = double(trans_a ? a[a.size() - 2] : a.back());
      macs += outputs * k;
    }
  });
  return macs;
}

void register_reference_backend() {
  register_backend("reference", [] { return std::make_unique<ReferenceBackend>(); });
}

}  // namespace facerec
