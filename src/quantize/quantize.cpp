// Post-training int8 quantisation (see include/facerec/quantize.hpp).
#include <facerec/backend.hpp>
#include <facerec/error.hpp>
#include <facerec/quantize.hpp>

#include "backend/onnx_graph.hpp"
#include "common/fs.hpp"

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>

namespace facerec {
namespace {

constexpr int kBins = 4096;

// Range statistics of one activation over the calibration set.
struct Stats {
  double lo = 0, hi = 0, amax = 0;
  bool seen = false;
  std::vector<double> hist;  // of |x| over [0, amax] (second pass)

  void range(const std::vector<float>& v) {
    for (float x : v) {
      if (!std::isfinite(x)) continue;
      if (!seen) {
        lo = hi = x;
        seen = true;
      }
      lo = std::min(lo, double(x));
      hi = std::max(hi, double(x));
    }
    amax = std::max(std::abs(lo), std::abs(hi));
  }
  void histogram(const std::vector<float>& v) {
    if (hist.empty()) hist.assign(kBins, 0.0);
    if (amax <= 0) return;
    for (float x : v) {
      if (!std::isfinite(x)) continue;
      int b = std::min(kBins - 1, int(std::abs(double(x)) / amax * kBins));
      hist[size_t(b)] += 1;
    }
  }
  // The |x| below which `p` percent of the values lie (the upper edge of that bin).
  double percentile(double p) const {
    double total = 0;
    for (double h : hist) total += h;
    if (total <= 0) return amax;
    double want = total * p / 100.0, acc = 0;
    for (int b = 0; b < kBins; ++b) {
      acc += hist[size_t(b)];
      if (acc >= want) return amax * double(b + 1) / kBins;
    }
    return amax;
  }
  // The clip c of least expected squared quantisation error over the |x| histogram, with `steps`
  // grid steps in [0, c]: values below c are rounded (error step^2 / 12), values above are clipped
  // to c (error (|x| - c)^2, at each bin's centre). Candidates: the upper edges of the bins from
  // the 1/64th up.
  double mse_clip(int steps) const {
    double total = 0;
    for (double h : hist) total += h;
    if (total <= 0 || amax <= 0) return amax;
    double best = amax, best_err = std::numeric_limits<double>::infinity();
    const double w = amax / kBins;
    for (int k = kBins / 64; k <= kBins; ++k) {
      const double c = w * k, step = c / steps;
      double err = 0;
      for (int b = 0; b < kBins; ++b) {
        const double h = hist[size_t(b)];
        if (h == 0) continue;
        const double x = w * (b + 0.5);
        err += h * (x <= c ? step * step / 12 : (x - c) * (x - c));
      }
      if (err < best_err) {
        best_err = err;
        best = c;
      }
    }
    return best;
  }
};

void scalar(onnx::GraphProto& g, const std::string& name, int type, const void* bytes, size_t size,
            const std::vector<int64_t>& dims = {}) {
  auto* t = g.add_initializer();
  t->set_name(name);
  t->set_data_type(type);
  for (auto d : dims) t->add_dims(d);
  t->set_raw_data(std::string(static_cast<const char*>(bytes), size));
}

onnx::NodeProto node(const std::string& op, const std::string& name, std::vector<std::string> in,
                     const std::string& out) {
  onnx::NodeProto n;
  n.set_op_type(op);
  n.set_name(name);
  for (auto& i : in) n.add_input(i);
  n.add_output(out);
  return n;
}

int64_t group_of(const onnx::NodeProto& n) {
  for (const auto& a : n.attribute())
    if (a.name() == "group") return a.i();
  return 1;
}

bool weighted(const onnx::NodeProto& n) {
  return n.op_type() == "Conv" || n.op_type() == "Gemm" || n.op_type() == "MatMul";
}

// The heads: the convs and fully connected layers whose output reaches a graph output through no
// other such layer, by node index.
std::set<int> last_layers(const onnx::GraphProto& g) {
  std::map<std::string, int> producer;
  for (int i = 0; i < g.node_size(); ++i)
    for (const auto& o : g.node(i).output()) producer[o] = i;
  std::set<int> out, seen;
  std::vector<std::string> todo;
  for (const auto& o : g.output()) todo.push_back(o.name());
  while (!todo.empty()) {
    const std::string v = todo.back();
    todo.pop_back();
    auto it = producer.find(v);
    if (it == producer.end() || !seen.insert(it->second).second) continue;
    const auto& n = g.node(it->second);
    if (weighted(n)) {
      out.insert(it->second);
    } else {
      for (const auto& x : n.input()) todo.push_back(x);
    }
  }
  return out;
}

}  // namespace

QuantizeResult quantize_model(const std::filesystem::path& model, const std::vector<std::vector<Tensor>>& calibration,
                              const QuantizeOptions& options, const std::function<void(size_t, size_t)>& progress) {
  if (calibration.empty()) throw Error(ErrorKind::InvalidArgument, "quantize: the calibration set is empty");
  if (options.method != "minmax" && options.method != "percentile" && options.method != "mse")
    throw Error(ErrorKind::InvalidArgument,
                "quantize: method must be minmax, percentile or mse, not '" + options.method + "'");
  if (options.method == "percentile" && !(options.percentile > 50 && options.percentile <= 100))
    throw Error(ErrorKind::InvalidArgument, "quantize: the percentile must be in (50, 100]");
  onnx::ModelProto m;
  if (!m.ParseFromString(detail::read_file(model.string())))
    throw Error(ErrorKind::BadModel, "quantize: not an ONNX model: " + model.string());
  const auto& g = m.graph();
  std::map<std::string, const onnx::TensorProto*> inits;
  for (const auto& t : g.initializer()) inits[t.name()] = &t;
  std::set<std::string> graph_inputs;
  for (const auto& v : g.input())
    if (!inits.count(v.name())) graph_inputs.insert(v.name());
  for (const auto& n : g.node())
    if (n.op_type() == "QuantizeLinear" || n.op_type() == "DequantizeLinear")
      throw Error(ErrorKind::InvalidArgument, "quantize: " + model.string() + " is already quantised");

  // Which convolutions become int8.
  QuantizeResult result;
  std::vector<int> convs;  // node indices of the convs to quantise
  std::set<std::string> keep(options.keep_fp32.begin(), options.keep_fp32.end());
  const std::set<int> last = keep.count("last") ? last_layers(g) : std::set<int>{};
  bool first = true;
  std::set<std::string> conv_names;
  std::map<int, size_t> dense;  // Gemm/MatMul nodes whose weights are stored int8 -> their layer
  for (int i = 0; i < g.node_size(); ++i) {
    const auto& n = g.node(i);
    if ((n.op_type() == "Gemm" || n.op_type() == "MatMul") && n.input_size() > 1) {
      // fully connected: int8 weights stored, dequantised once at load (fp32 compute): the size
      conv_names.insert(n.name());
      auto w = inits.find(n.input(1));
      if (w == inits.end() || w->second->data_type() != onnx::TensorProto::FLOAT || w->second->dims_size() != 2)
        continue;  // not a constant matrix: nothing to store
      QuantizedLayer L;
      L.node = n.name();
      L.input = n.input(0);
      if (keep.count(n.name())) {
        L.why = "kept in fp32 (keep_fp32)";
      } else if (last.count(i)) {
        L.why =
            "a last layer (its output reaches a graph output through no other conv or fully connected "
            "layer), kept in fp32 (keep_fp32 last)";
      } else {
        L.weights_only = true;
        dense[i] = result.layers.size();
      }
      result.layers.push_back(L);
      continue;
    }
    if (n.op_type() != "Conv") continue;
    conv_names.insert(n.name());
    QuantizedLayer L;
    L.node = n.name();
    L.input = n.input(0);
    auto w = n.input_size() > 1 ? inits.find(n.input(1)) : inits.end();
    if (w == inits.end() || w->second->data_type() != onnx::TensorProto::FLOAT || w->second->dims_size() != 4) {
      L.why = "weights are not a constant fp32 4-D tensor";
    } else if (keep.count(n.name()) || (first && keep.count("first"))) {
      L.why = "kept in fp32 (keep_fp32)";
    } else if (last.count(i)) {
      L.why =
          "a last layer (its output reaches a graph output through no other conv or fully connected layer), "
          "kept in fp32 (keep_fp32 last)";
    } else if (keep.count("depthwise") && group_of(n) > 1) {
      L.why = "grouped/depthwise, kept in fp32 (keep_fp32 depthwise)";
    } else {
      L.int8 = true;
      convs.push_back(i);
    }
    first = false;
    result.layers.push_back(L);
  }
  for (const auto& k : keep)
    if (k != "first" && k != "last" && k != "depthwise" && !conv_names.count(k))
      throw Error(ErrorKind::InvalidArgument,
                  "quantize: keep_fp32 names '" + k + "', which is no Conv, Gemm or MatMul of the model");

  // Calibration: the fp32 model with every quantised conv's input as an extra output.
  std::vector<std::string> watched;
  for (int i : convs) {
    const std::string& x = g.node(i).input(0);
    if (!graph_inputs.count(x) && std::find(watched.begin(), watched.end(), x) == watched.end()) watched.push_back(x);
  }
  onnx::ModelProto probe = m;
  std::set<std::string> outputs;
  for (const auto& o : g.output()) outputs.insert(o.name());
  for (const auto& x : watched) {
    if (outputs.count(x)) continue;
    auto* o = probe.mutable_graph()->add_output();
    o->set_name(x);
    o->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
  }
  auto tmp = std::filesystem::temp_directory_path() /
             ("facerec-quantize-" + std::to_string(std::hash<std::string>{}(model.string())) + ".onnx");
  detail::write_file_atomic(tmp, probe.SerializeAsString());
  BackendOptions bo;
  bo.threads = options.threads;
  std::unique_ptr<InferenceBackend> net;
  try {
    net = load_backend("onednn", tmp.string(), bo);
  } catch (...) {
    std::filesystem::remove(tmp);
    throw;
  }
  std::filesystem::remove(tmp);
  std::map<std::string, size_t> out_index;
  auto outs = net->outputs();
  for (size_t k = 0; k < outs.size(); ++k) out_index[outs[k].name] = k;
  std::vector<std::string> input_names;
  for (const auto& s : net->inputs()) input_names.push_back(s.name);
  std::map<std::string, Stats> stats;
  const int passes = options.method == "minmax" ? 1 : 2;  // percentile and mse read a histogram
  for (int pass = 0; pass < passes; ++pass)
    for (size_t b = 0; b < calibration.size(); ++b) {
      const auto& batch = calibration[b];
      auto y = net->run(batch);
      auto take = [&](const std::string& name, const std::vector<float>& v) {
        if (pass == 0)
          stats[name].range(v);
        else
          stats[name].histogram(v);
      };
      for (size_t k = 0; k < input_names.size() && k < batch.size(); ++k) take(input_names[k], batch[k].data);
      for (const auto& x : watched) take(x, y.at(out_index.at(x)).data);
      if (progress) progress(pass * calibration.size() + b + 1, passes * calibration.size());
    }
  result.calibration_batches = calibration.size();

  // Rewrite: Q/DQ per activation (once, shared by its convs), DQ per weight, int8 weights.
  onnx::ModelProto q = m;
  auto* qg = q.mutable_graph();
  qg->clear_node();
  std::map<std::string, std::string> dq_of;  // activation -> its dequantised name
  std::set<std::string> replaced_weights;
  std::map<std::string, QuantizedLayer*> layer_of;
  for (auto& L : result.layers) layer_of[L.node] = &L;
  std::set<int> todo(convs.begin(), convs.end());
  // Writes int8 weights `wq` (shape `dims`) with their scales (one per slice along `axis`, or one
  // for the tensor when axis < 0) and a DequantizeLinear; returns the dequantised value's name. A
  // weight read by several nodes is written once per grid (`grid` names it in the value names).
  std::map<std::string, std::string> emitted;  // weight + grid -> its dequantised name
  auto emit_weight = [&](const std::string& weight, const std::string& grid, const std::vector<int8_t>& wq,
                         const std::vector<int64_t>& dims, const std::vector<float>& ws, int axis,
                         int64_t fp32_values) {
    const std::string base = weight + "/" + grid;
    if (auto it = emitted.find(base); it != emitted.end()) return it->second;
    const std::string wn = base, wsn = base + "/scale", wzn = base + "/zero", wdn = base + "/dequantized";
    scalar(*qg, wn, onnx::TensorProto::INT8, wq.data(), wq.size(), dims);
    std::vector<int8_t> zeros(ws.size(), 0);
    if (axis >= 0) {
      scalar(*qg, wsn, onnx::TensorProto::FLOAT, ws.data(), ws.size() * 4, {int64_t(ws.size())});
      scalar(*qg, wzn, onnx::TensorProto::INT8, zeros.data(), zeros.size(), {int64_t(ws.size())});
    } else {
      scalar(*qg, wsn, onnx::TensorProto::FLOAT, ws.data(), 4);
      scalar(*qg, wzn, onnx::TensorProto::INT8, zeros.data(), 1);
    }
    auto dqw = node("DequantizeLinear", base + "/dequantize", {wn, wsn, wzn}, wdn);
    if (axis >= 0) {
      auto* a = dqw.add_attribute();
      a->set_name("axis");
      a->set_type(onnx::AttributeProto::INT);
      a->set_i(axis);
    }
    *qg->add_node() = dqw;
    result.fp32_weight_bytes += fp32_values * 4;
    result.int8_weight_bytes += int64_t(wq.size()) + int64_t(ws.size()) * 5;
    replaced_weights.insert(weight);
    emitted[base] = wdn;
    return wdn;
  };
  for (int i = 0; i < g.node_size(); ++i) {
    onnx::NodeProto n = g.node(i);
    if (auto d = dense.find(i); d != dense.end()) {
      QuantizedLayer& L = result.layers[d->second];
      const onnx::TensorProto& wt = *inits.at(n.input(1));
      const auto w = detail::float_values(wt, "quantize");
      // the output channel: Gemm's weight is [N, K] with transB, else [K, N]; MatMul's [K, N]
      bool trans_b = false;
      for (const auto& a : n.attribute())
        if (a.name() == "transB") trans_b = a.i() != 0;
      const int axis = n.op_type() == "Gemm" && trans_b ? 0 : 1;
      const int64_t R = wt.dims(0), C = wt.dims(1), channels = axis == 0 ? R : C;
      std::vector<float> ws(size_t(channels), 0.f);
      for (int64_t r = 0; r < R; ++r)
        for (int64_t c = 0; c < C; ++c) {
          float& top = ws[size_t(axis == 0 ? r : c)];
          top = std::max(top, std::abs(w[size_t(r * C + c)]));
        }
      for (auto& v : ws) v = v > 0 ? v / 127.f : 1.f;  // 8-bit, symmetric: no kernel reads these integers
      std::vector<int8_t> wq(w.size());
      double worst = 0;
      for (int64_t r = 0; r < R; ++r)
        for (int64_t c = 0; c < C; ++c) {
          const float sc = ws[size_t(axis == 0 ? r : c)], v = w[size_t(r * C + c)];
          const float level = std::clamp(std::nearbyint(v / sc), -127.f, 127.f);
          wq[size_t(r * C + c)] = int8_t(level);
          worst = std::max(worst, double(std::abs(v - level * sc) / (sc * 127.f)));
        }
      L.weight_error = worst;
      n.set_input(1, emit_weight(n.input(1), "int8", wq, {R, C}, ws, axis, int64_t(w.size())));
      *qg->add_node() = n;
      continue;
    }
    if (!todo.count(i)) {
      *qg->add_node() = n;
      continue;
    }
    QuantizedLayer& L = *layer_of.at(n.name());
    const std::string x = n.input(0);
    const Stats& s = stats[x];
    if (!s.seen) throw Error(ErrorKind::Internal, "quantize: no calibration values for '" + x + "'");
    const bool unsigned_ = s.lo >= 0;
    const double range = options.method == "minmax"       ? s.amax
                         : options.method == "percentile" ? s.percentile(options.percentile)
                                                          : s.mse_clip(unsigned_ ? 255 : 127);
    float scale = float(std::max(range, 1e-8) / (unsigned_ ? 255.0 : 127.0));
    L.input_type = unsigned_ ? "uint8" : "int8";
    L.input_max = s.amax;
    L.input_range = range;
    L.input_scale = scale;
    if (!dq_of.count(x)) {
      const std::string sn = x + "/q_scale", zn = x + "/q_zero", qn = x + "/quantized", dn = x + "/dequantized";
      scalar(*qg, sn, onnx::TensorProto::FLOAT, &scale, 4);
      uint8_t zero = 0;
      scalar(*qg, zn, unsigned_ ? onnx::TensorProto::UINT8 : onnx::TensorProto::INT8, &zero, 1);
      *qg->add_node() = node("QuantizeLinear", x + "/quantize", {x, sn, zn}, qn);
      *qg->add_node() = node("DequantizeLinear", x + "/dequantize", {qn, sn, zn}, dn);
      dq_of[x] = dn;
    }
    // weights
    const onnx::TensorProto& wt = *inits.at(n.input(1));
    auto w = detail::float_values(wt, "quantize");
    const int64_t M = wt.dims(0), per = int64_t(w.size()) / std::max<int64_t>(M, 1);
    const int64_t groups = options.per_channel ? M : 1, len = options.per_channel ? per : int64_t(w.size());
    std::vector<float> ws(static_cast<size_t>(groups));
    std::vector<int8_t> wq(w.size());
    double worst = 0;
    // 7-bit weights, on a grid that int8 kernels without VNNI compute exactly: x86's u8 x s8 pair sums
    // (vpmaddubsw) are int16, which 255 * 63 * 2 cannot overflow; with an int8 input oneDNN shifts it
    // to u8 and halves the weights, which is exact for even values in [-126, 126].
    const float top = unsigned_ ? 63.f : 126.f, step = unsigned_ ? 1.f : 2.f;
    for (int64_t c = 0; c < groups; ++c) {
      float mx = 0;
      for (int64_t k = 0; k < len; ++k) mx = std::max(mx, std::abs(w[size_t(c * len + k)]));
      ws[size_t(c)] = mx > 0 ? mx / top : 1.f;
      for (int64_t k = 0; k < len; ++k) {
        float v = w[size_t(c * len + k)];
        float r = std::clamp(step * std::nearbyint(v / ws[size_t(c)] / step), -top, top);
        wq[size_t(c * len + k)] = int8_t(r);
        if (mx > 0) worst = std::max(worst, double(std::abs(v - r * ws[size_t(c)]) / mx));
      }
    }
    L.weight_error = worst;
    std::vector<int64_t> dims(wt.dims().begin(), wt.dims().end());
    const std::string grid = unsigned_ ? "int7" : "int8even";  // the two grids above
    n.set_input(0, dq_of[x]);
    n.set_input(1, emit_weight(n.input(1), grid, wq, dims, ws, options.per_channel ? 0 : -1, int64_t(w.size())));
    *qg->add_node() = n;
  }
  // drop the fp32 weights nothing reads any more
  std::set<std::string> read;
  for (const auto& n : qg->node())
    for (const auto& i : n.input()) read.insert(i);
  auto* init = qg->mutable_initializer();
  for (int k = init->size() - 1; k >= 0; --k)
    if (replaced_weights.count(init->Get(k).name()) && !read.count(init->Get(k).name())) init->DeleteSubrange(k, 1);
  auto* ins = qg->mutable_input();
  for (int k = ins->size() - 1; k >= 0; --k)
    if (replaced_weights.count(ins->Get(k).name()) && !read.count(ins->Get(k).name())) ins->DeleteSubrange(k, 1);
  result.onnx = q.SerializeAsString();
  return result;
}

}  // namespace facerec
