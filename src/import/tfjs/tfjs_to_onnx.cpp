// TF graph (from a TFJS model.json, or translated from a TFLite flatbuffer) -> ONNX (opset 10),
// written for OpenCV 4.6's importer.
//
// Layout: TF graphs are NHWC, ONNX convolutions are NCHW. Every value carries a flag saying
// whether its rank-4 data is stored as the NCHW permutation of the TF NHWC tensor. Convolutions
// and pools produce NCHW values; ops with layout-free semantics (element-wise, activations)
// keep whatever they get; ops with axis arguments (Pad, ConcatV2, Mean, Sum, Squeeze) remap the
// axes; ops whose meaning depends on memory order (Reshape, Softmax on rank 4) get the TF layout
// back through a Transpose first. The network input is NCHW; outputs are in TF layout.
//
// Patterns TF wrote in pieces are folded into single nodes:
//   relu(x) + c*(x - |x|)      -> PRelu(x, 2c)        (and x + c*(x - |x|) -> PRelu(x, 1+2c))
//   max(0, x) + g*min(0, x)    -> PRelu(x, g)
//   relu(x) + c*(-relu(-x))   -> PRelu(x, c)         (MTCNN's form)
//   min/max with scalar consts, Relu, Relu6 chains -> one Clip
//   exp(x - max(x)) / sum(exp(x - max(x))) over the last axis -> Softmax
// Comparisons (Less, Greater, LessEqual, GreaterEqual) produce float 0/1 (Less/Greater then Cast,
// the -Equal forms as 1 minus the opposite strict comparison); a Cast from bool to float is then
// the value itself.
// Anything else that is not translated exactly throws Error(Unsupported) naming op and node.

#include "import/import_guard.hpp"
#include "import/onnx/onnx_builder.hpp"
#include "import/tfjs/tfjs_graph.hpp"

#include "common/fs.hpp"

#include <facerec/error.hpp>
#include <facerec/import/import.hpp>
#include <facerec/models.hpp>
#include <facerec/tensor.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <set>

namespace facerec {
namespace {

using detail::Attrs;
using detail::OnnxBuilder;
using detail::TfGraph;
using detail::TfNode;
using detail::WeightTensor;

using Shape = std::vector<int64_t>;

const std::vector<int64_t> kToNchw = {0, 3, 1, 2};
const std::vector<int64_t> kToNhwc = {0, 2, 3, 1};

// TF NHWC axis -> position in NCHW storage
int64_t nchw_axis(int64_t a) {
  static const int64_t map[4] = {0, 2, 3, 1};
  return map[a];
}

struct Value {
  std::string onnx;                       // ONNX tensor name; empty for a Const not yet written
  Shape shape;                            // static TF-order shape; batch as 1 when dynamic
  bool nchw = false;                      // rank-4 data stored as NCHW
  std::shared_ptr<const WeightTensor> k;  // set for constants
  // Clip folding: this value equals clip(src, lo, hi) of the value named clip_src.
  std::string clip_src;
  bool clip_src_nchw = false;
  float lo = -std::numeric_limits<float>::infinity();
  float hi = std::numeric_limits<float>::infinity();
  bool boolean = false;  // a comparison's result, held as float 0/1
};

class Converter {
 public:
  Converter(const TfGraph& g, OnnxBuilder& b, ImportReport& report, bool free_spatial = false)
      : g_(g), b_(b), report_(report), free_spatial_(free_spatial) {
    for (const auto& n : g_.nodes)
      for (const auto& in : n.inputs) ++consumers_[detail::split_ref(in).first];
  }

  void run() {
    std::vector<std::pair<std::string, std::string>> outs = g_.signature_outputs;
    if (outs.empty()) {
      for (const auto& n : g_.nodes)
        if (!consumers_.count(n.name) && n.op != "Const" && n.op != "Placeholder" && n.op != "NoOp")
          outs.emplace_back(n.name, n.name);
    }
    if (outs.empty()) throw Error(ErrorKind::BadModel, "graph has no outputs");
    // Inputs first, in graph order, so the ONNX input list is stable.
    for (const auto& n : g_.nodes)
      if (n.op == "Placeholder") get(n.name);
    // Convert everything first, then name the outputs: renaming moves ONNX names around, so no
    // conversion may run after it.
    std::vector<std::pair<std::string, Value>> finals;
    for (const auto& [pub, ref] : outs) {
      Value& v = get(ref);
      if (v.k) throw Error(ErrorKind::Unsupported, "output '" + pub + "' is a constant");
      Value f = v;
      f.onnx = to_tf_layout(v, pub);
      finals.emplace_back(pub, f);
    }
    // Each output gets its own value (an Identity where two outputs share one, or where the value
    // is a graph input), first under a fresh temporary name, then under its public name: a public
    // name already held by an inner value moves that value aside, and no output is affected.
    std::map<std::string, std::string> owner;  // ONNX value -> temporary name of the output holding it
    std::vector<std::string> tmp;
    for (auto& [pub, v] : finals) {
      std::string name = v.onnx;
      if (auto it = owner.find(name); it != owner.end()) {
        name = emit("Identity", {it->second}, pub + "/identity");
      } else if (!produced_by_node_.count(name) || is_input_.count(name)) {
        name = emit("Identity", {name}, pub + "/identity");
      }
      std::string t = b_.unique("__output_" + std::to_string(tmp.size()));
      b_.rename_output(name, t);
      owner[v.onnx] = t;
      tmp.push_back(t);
    }
    for (size_t i = 0; i < finals.size(); ++i) {
      const auto& [pub, v] = finals[i];
      b_.rename_output(tmp[i], pub);
      Shape s = v.shape;
      if (!s.empty() && dynamic_batch_) s[0] = -1;
      if (free_spatial_ && s.size() == 4) s[1] = s[2] = -1;
      b_.output(pub, s);
      report_.output_names.push_back(pub);
    }
  }

 private:
  const TfGraph& g_;
  OnnxBuilder& b_;
  ImportReport& report_;
  std::map<std::string, int> consumers_;
  std::map<std::string, Value> values_;  // by tensor ref "node" or "node:k"
  std::set<std::string> produced_by_node_, is_input_;
  bool dynamic_batch_ = false;
  // Declare the input's and outputs' height and width free (rank-4 values): the graph was
  // converted at one size and is valid at others of the same divisibility (see GraphCut).
  bool free_spatial_ = false;

  [[noreturn]] void fail(const TfNode& n, const std::string& why) const {
    throw Error(ErrorKind::Unsupported, "TFJS import: op '" + n.op + "' at node '" + n.name + "': " + why);
  }

  static std::string key(const std::string& ref) {
    auto [name, idx] = detail::split_ref(ref);
    return idx == 0 ? name : name + ":" + std::to_string(idx);
  }

  const TfNode& producer(const std::string& ref) const { return g_.node(detail::split_ref(ref).first); }
  bool single_use(const std::string& ref) const {
    auto it = consumers_.find(detail::split_ref(ref).first);
    return it != consumers_.end() && it->second == 1;
  }

  std::string emit(const std::string& op, const std::vector<std::string>& in, const std::string& hint,
                   const Attrs& attrs = {}) {
    std::string out = b_.node(op, in, hint, attrs);
    produced_by_node_.insert(out);
    return out;
  }

  // ---- constants -------------------------------------------------------------------------

  const WeightTensor* konst(const std::string& ref) {
    Value& v = get(ref);
    return v.k.get();
  }
  const WeightTensor& need_const(const TfNode& n, size_t input) {
    if (input >= n.inputs.size()) fail(n, "missing input " + std::to_string(input));
    const auto* k = konst(n.inputs[input]);
    if (!k) fail(n, "input " + std::to_string(input) + " must be a constant");
    return *k;
  }
  static std::vector<int64_t> const_ints(const WeightTensor& k) {
    if (k.is_int) return k.i;
    std::vector<int64_t> out;
    for (float f : k.f) out.push_back(int64_t(std::lround(f)));
    return out;
  }
  static bool is_scalar(const WeightTensor& k) { return !k.is_int && k.f.size() == 1; }

  // Writes a float constant to be combined element-wise with a value stored as nchw (or not).
  std::string const_for(const WeightTensor& k, const Value& other, const std::string& hint) {
    Shape s = k.shape;
    std::vector<float> data = k.f;
    if (k.is_int) throw Error(ErrorKind::Unsupported, "integer constant '" + hint + "' in arithmetic");
    int64_t n = int64_t(data.size());
    if (n == 1) return b_.initializer(hint, {1}, data);
    if (other.nchw) {
      // Broadcast along the TF channel axis: [C] or [1,1,1,C] -> [1,C,1,1]
      int64_t c = other.shape.size() == 4 ? other.shape[3] : -1;
      bool channel_vector = (s.size() == 1 || (s.size() == 4 && s[0] == 1 && s[1] == 1 && s[2] == 1)) && n == c;
      if (channel_vector) return b_.initializer(hint, {1, n, 1, 1}, data);
      if (s.size() == 4) {  // full NHWC constant: transpose its data
        std::vector<float> t(data.size());
        int64_t N = s[0], H = s[1], W = s[2], C = s[3];
        for (int64_t a = 0; a < N; ++a)
          for (int64_t h = 0; h < H; ++h)
            for (int64_t w = 0; w < W; ++w)
              for (int64_t ch = 0; ch < C; ++ch)
                t[size_t(((a * C + ch) * H + h) * W + w)] = data[size_t(((a * H + h) * W + w) * C + ch)];
        return b_.initializer(hint, {N, C, H, W}, t);
      }
      throw Error(ErrorKind::Unsupported,
                  "constant '" + hint + "' of shape " + shape_to_string(s) + " cannot broadcast against an NCHW value");
    }
    return b_.initializer(hint, s, data);
  }

  // ---- layout ----------------------------------------------------------------------------

  std::string to_nchw(Value& v, const std::string& hint) {
    if (v.nchw) return v.onnx;
    if (v.shape.size() != 4) throw Error(ErrorKind::Unsupported, "expected a rank-4 value for " + hint);
    return emit("Transpose", {v.onnx}, hint + "_nchw", {{"perm", kToNchw}});
  }
  std::string to_tf_layout(Value& v, const std::string& hint) {
    if (!v.nchw) return v.onnx;
    return emit("Transpose", {v.onnx}, hint + "_nhwc", {{"perm", kToNhwc}});
  }

  // ---- conversion ------------------------------------------------------------------------

  Value& get(const std::string& ref) {
    std::string k = key(ref);
    auto it = values_.find(k);
    if (it != values_.end()) return it->second;
    const TfNode& n = producer(ref);
    if (detail::split_ref(ref).second != 0) fail(n, "multi-output ops are not supported");
    Value v = convert(n);
    return values_[k] = std::move(v);
  }

  static Shape broadcast(const Shape& a, const Shape& b) {
    Shape out(std::max(a.size(), b.size()), 1);
    for (size_t i = 0; i < out.size(); ++i) {
      int64_t da = i < out.size() - a.size() ? 1 : a[i - (out.size() - a.size())];
      int64_t db = i < out.size() - b.size() ? 1 : b[i - (out.size() - b.size())];
      out[i] = std::max(da, db);
    }
    return out;
  }

  Value convert(const TfNode& n) {
    const std::string& op = n.op;
    if (op == "Const") {
      auto it = g_.weights.find(n.name);
      if (it == g_.weights.end()) fail(n, "no weights stored for this constant");
      Value v;
      v.k = std::make_shared<WeightTensor>(it->second);
      v.shape = it->second.shape;
      return v;
    }
    if (op == "Placeholder") return placeholder(n);
    if (op == "Identity" || op == "StopGradient") return get(n.inputs.at(0));
    if (op == "Conv2D" || op == "_FusedConv2D" || op == "DepthwiseConv2dNative" || op == "FusedDepthwiseConv2dNative")
      return conv(n);
    if (op == "MatMul" || op == "_FusedMatMul") return matmul(n);
    if (op == "BiasAdd") return binary(n, "Add");
    if (op == "Add" || op == "AddV2") {
      if (auto v = fold_prelu(n)) return *v;
      return binary(n, "Add");
    }
    if (op == "Sub") return binary(n, "Sub");
    if (op == "Mul") return binary(n, "Mul");
    if (op == "RealDiv") {
      if (auto v = fold_softmax(n)) return *v;
      return binary(n, "Div");
    }
    if (op == "Less" || op == "Greater" || op == "LessEqual" || op == "GreaterEqual") return compare(n);
    if (op == "Cast") return cast(n);
    if (op == "LeakyRelu") {
      Value& x = get(n.inputs.at(0));
      Value v = x;
      v.clip_src.clear();
      v.onnx = emit("LeakyRelu", {x.onnx}, n.name, {{"alpha", n.f("alpha", 0.2f)}});
      return v;
    }
    if (op == "Maximum" || op == "Minimum") return minmax(n);
    if (op == "Relu") return clip_value(n, get(n.inputs.at(0)), 0.f, std::numeric_limits<float>::infinity());
    if (op == "Relu6") return clip_value(n, get(n.inputs.at(0)), 0.f, 6.f);
    if (op == "Neg") return neg(n);
    if (op == "Sigmoid" || op == "Abs" || op == "Tanh" || op == "Sqrt" || op == "Exp")
      return unary(n, op == "Sigmoid" ? "Sigmoid"
                      : op == "Abs"   ? "Abs"
                      : op == "Tanh"  ? "Tanh"
                      : op == "Sqrt"  ? "Sqrt"
                                      : "Exp");
    if (op == "Rsqrt") return rsqrt(n);
    if (op == "Square") {
      Value& x = get(n.inputs.at(0));
      Value v = x;
      v.clip_src.clear();
      v.onnx = emit("Mul", {x.onnx, x.onnx}, n.name);
      return v;
    }
    if (op == "Prelu") return prelu(n, get(n.inputs.at(0)), need_const(n, 1).f, 1.f, 0.f);
    if (op == "Softmax") return softmax(n);
    if (op == "MaxPool" || op == "AvgPool") return pool(n);
    if (op == "Pad" || op == "PadV2") return pad(n);
    if (op == "Reshape") return reshape(n);
    if (op == "Squeeze") return squeeze(n);
    if (op == "ConcatV2") return concat(n);
    if (op == "Mean" || op == "Sum" || op == "Max") return reduce(n);
    fail(n, "no translation for this op");
  }

  Value placeholder(const TfNode& n) {
    Shape s;
    if (n.attr.contains("shape") && n.attr["shape"].contains("shape") && n.attr["shape"]["shape"].contains("dim"))
      for (const auto& d : n.attr["shape"]["shape"]["dim"])
        s.push_back(d.contains("size") ? std::stoll(d["size"].get<std::string>()) : -1);
    if (s.empty()) fail(n, "input has no static shape");
    for (size_t i = 1; i < s.size(); ++i)
      if (s[i] < 0) fail(n, "input has a dynamic non-batch dimension; not supported");
    Value v;
    if (s[0] < 0) {
      dynamic_batch_ = true;
      s[0] = 1;
    }
    v.shape = s;
    Shape onnx_shape = s;
    if (s.size() == 4) {
      v.nchw = true;
      onnx_shape = {s[0], s[3], s[1], s[2]};
    }
    if (dynamic_batch_) onnx_shape[0] = -1;
    if (free_spatial_ && onnx_shape.size() == 4) onnx_shape[2] = onnx_shape[3] = -1;
    v.onnx = n.name;
    b_.input(n.name, onnx_shape);
    is_input_.insert(n.name);
    report_.input_names.push_back(n.name);
    return v;
  }

  // SAME/VALID/EXPLICIT padding -> (begin, end) for one spatial axis.
  static std::pair<int64_t, int64_t> pads_for(const std::string& mode, int64_t in, int64_t k, int64_t s, int64_t d,
                                              int64_t eb, int64_t ee) {
    if (mode == "VALID") return {0, 0};
    if (mode == "EXPLICIT") return {eb, ee};
    int64_t out = (in + s - 1) / s;
    int64_t eff = (k - 1) * d + 1;
    int64_t total = std::max<int64_t>((out - 1) * s + eff - in, 0);
    return {total / 2, total - total / 2};
  }
  static int64_t out_size(int64_t in, int64_t k, int64_t s, int64_t d, int64_t pb, int64_t pe) {
    return (in + pb + pe - ((k - 1) * d + 1)) / s + 1;
  }

  Value conv(const TfNode& n) {
    bool depthwise = n.op.find("Depthwise") != std::string::npos;
    if (n.str("data_format", "NHWC") != "NHWC") fail(n, "data_format " + n.str("data_format") + " (only NHWC)");
    Value& x = get(n.inputs.at(0));
    if (x.shape.size() != 4) fail(n, "input is not rank 4");
    const WeightTensor& w = need_const(n, 1);
    if (w.shape.size() != 4) fail(n, "filter is not rank 4");
    auto strides = n.ints("strides");
    auto dil = n.ints("dilations");
    if (strides.empty()) strides = {1, 1, 1, 1};
    if (dil.empty()) dil = {1, 1, 1, 1};
    if (strides[0] != 1 || strides[3] != 1) fail(n, "strides on batch/channel axes");
    std::string mode = n.str("padding", "VALID");
    auto ep = n.ints("explicit_paddings");
    if (mode == "EXPLICIT" && ep.size() != 8) fail(n, "explicit_paddings must have 8 values");
    int64_t KH = w.shape[0], KW = w.shape[1], CI = w.shape[2], M = w.shape[3];
    int64_t C = x.shape[3];
    int64_t CO = depthwise ? CI * M : M;
    if (CI != C && !depthwise) fail(n, "filter input channels " + std::to_string(CI) + " != " + std::to_string(C));
    if (depthwise && CI != C) fail(n, "depthwise filter channels mismatch");
    auto [pt, pb] = pads_for(mode, x.shape[1], KH, strides[1], dil[1], mode == "EXPLICIT" ? ep[2] : 0,
                             mode == "EXPLICIT" ? ep[3] : 0);
    auto [pl, pr] = pads_for(mode, x.shape[2], KW, strides[2], dil[2], mode == "EXPLICIT" ? ep[4] : 0,
                             mode == "EXPLICIT" ? ep[5] : 0);
    // HWIO -> OIHW (depthwise: H W C M -> (C*M) 1 H W, output channel c*M+m)
    std::vector<float> wt(w.f.size());
    if (depthwise) {
      for (int64_t h = 0; h < KH; ++h)
        for (int64_t ww = 0; ww < KW; ++ww)
          for (int64_t c = 0; c < CI; ++c)
            for (int64_t m = 0; m < M; ++m)
              wt[size_t(((c * M + m) * KH + h) * KW + ww)] = w.f[size_t(((h * KW + ww) * CI + c) * M + m)];
    } else {
      for (int64_t h = 0; h < KH; ++h)
        for (int64_t ww = 0; ww < KW; ++ww)
          for (int64_t c = 0; c < CI; ++c)
            for (int64_t o = 0; o < M; ++o)
              wt[size_t(((o * CI + c) * KH + h) * KW + ww)] = w.f[size_t(((h * KW + ww) * CI + c) * M + o)];
    }
    std::vector<float> bias(size_t(CO), 0.f);
    bool has_bias = false;
    std::vector<std::string> post;  // activations after the bias
    std::vector<float> prelu_alpha;
    float leaky = 0.2f;
    if (n.op == "_FusedConv2D" || n.op == "FusedDepthwiseConv2dNative") {
      auto fused = n.strings("fused_ops");
      size_t arg = 2;
      for (size_t fi = 0; fi < fused.size(); ++fi) {
        const std::string& f = fused[fi];
        if (f == "BiasAdd") {
          const WeightTensor& bt = need_const(n, arg++);
          if (int64_t(bt.f.size()) != CO) fail(n, "bias size mismatch");
          bias = bt.f;
          has_bias = true;
        } else if (f == "FusedBatchNorm") {
          const WeightTensor& scale = need_const(n, arg++);
          const WeightTensor& offset = need_const(n, arg++);
          const WeightTensor& mean = need_const(n, arg++);
          const WeightTensor& var = need_const(n, arg++);
          float eps = n.f("epsilon", 1e-3f);
          size_t per_out = wt.size() / size_t(CO);
          for (int64_t o = 0; o < CO; ++o) {
            float sc = scale.f[size_t(o)] / std::sqrt(var.f[size_t(o)] + eps);
            for (size_t q = 0; q < per_out; ++q) wt[size_t(o) * per_out + q] *= sc;
            bias[size_t(o)] = (bias[size_t(o)] - mean.f[size_t(o)]) * sc + offset.f[size_t(o)];
          }
          has_bias = true;
          ++report_.folded_patterns;
        } else if (f == "Relu" || f == "Relu6" || f == "Elu" || f == "Sigmoid" || f == "Tanh") {
          post.push_back(f);
        } else if (f == "Prelu") {
          prelu_alpha = need_const(n, arg++).f;
          post.push_back(f);
        } else if (f == "LeakyRelu") {
          leaky = n.f("leakyrelu_alpha", 0.2f);
          post.push_back(f);
        } else {
          fail(n, "fused op '" + f + "'");
        }
      }
    }
    std::string xin = to_nchw(x, n.name);
    std::string W = b_.initializer(n.name + "/W", depthwise ? Shape{CO, 1, KH, KW} : Shape{CO, CI, KH, KW}, wt);
    std::vector<std::string> ins = {xin, W};
    if (has_bias) ins.push_back(b_.initializer(n.name + "/B", {CO}, bias));
    Attrs attrs = {{"kernel_shape", std::vector<int64_t>{KH, KW}},
                   {"strides", std::vector<int64_t>{strides[1], strides[2]}},
                   {"dilations", std::vector<int64_t>{dil[1], dil[2]}},
                   {"pads", std::vector<int64_t>{pt, pl, pb, pr}}};
    if (depthwise) attrs.push_back({"group", C});
    Value v;
    v.nchw = true;
    v.shape = {x.shape[0], out_size(x.shape[1], KH, strides[1], dil[1], pt, pb),
               out_size(x.shape[2], KW, strides[2], dil[2], pl, pr), CO};
    v.onnx = emit("Conv", ins, n.name + (post.empty() ? "" : "/conv"), attrs);
    return apply_post(n, std::move(v), post, prelu_alpha, leaky);
  }

  Value apply_post(const TfNode& n, Value v, const std::vector<std::string>& post,
                   const std::vector<float>& prelu_alpha, float leaky) {
    for (const auto& f : post) {
      if (f == "Relu")
        v = clip_value(n, v, 0.f, std::numeric_limits<float>::infinity());
      else if (f == "Relu6")
        v = clip_value(n, v, 0.f, 6.f);
      else if (f == "Prelu")
        v = prelu(n, v, prelu_alpha, 1.f, 0.f);
      else if (f == "LeakyRelu") {
        v.onnx = emit("LeakyRelu", {v.onnx}, n.name, {{"alpha", leaky}});
        v.clip_src.clear();
      } else {
        v.onnx = emit(f, {v.onnx}, n.name);
        v.clip_src.clear();
      }
    }
    return v;
  }

  Value matmul(const TfNode& n) {
    Value& a = get(n.inputs.at(0));
    const WeightTensor* bk = konst(n.inputs.at(1));
    if (!bk) fail(n, "only a constant right-hand matrix is supported");
    if (a.shape.size() != 2 || bk->shape.size() != 2) fail(n, "only rank-2 operands are supported");
    if (n.b("transpose_a", false)) fail(n, "transpose_a");
    bool tb = n.b("transpose_b", false);
    int64_t K = a.shape[1];
    int64_t M = tb ? bk->shape[0] : bk->shape[1];
    if ((tb ? bk->shape[1] : bk->shape[0]) != K) fail(n, "inner dimensions differ");
    // Gemm with B given as [M, K] (transB=1), the layout OpenCV's InnerProduct expects.
    std::vector<float> bt(bk->f.size());
    if (tb)
      bt = bk->f;
    else
      for (int64_t k = 0; k < K; ++k)
        for (int64_t m = 0; m < M; ++m) bt[size_t(m * K + k)] = bk->f[size_t(k * M + m)];
    std::vector<std::string> ins = {a.onnx, b_.initializer(n.name + "/W", {M, K}, bt)};
    std::vector<std::string> post;
    std::vector<float> alpha;
    float leaky = 0.2f;
    if (n.op == "_FusedMatMul") {
      size_t arg = 2;
      for (const auto& f : n.strings("fused_ops")) {
        if (f == "BiasAdd")
          ins.push_back(b_.initializer(n.name + "/B", {M}, need_const(n, arg++).f));
        else if (f == "Relu" || f == "Relu6" || f == "Elu" || f == "Sigmoid" || f == "Tanh")
          post.push_back(f);
        else if (f == "Prelu") {
          alpha = need_const(n, arg++).f;
          post.push_back(f);
        } else if (f == "LeakyRelu") {
          leaky = n.f("leakyrelu_alpha", 0.2f);
          post.push_back(f);
        } else
          fail(n, "fused op '" + f + "'");
      }
    }
    if (ins.size() == 2) ins.push_back(b_.initializer(n.name + "/B", {M}, std::vector<float>(size_t(M), 0.f)));
    Value v;
    v.shape = {a.shape[0], M};
    v.onnx = emit("Gemm", ins, n.name + (post.empty() ? "" : "/gemm"), {{"transB", int64_t(1)}});
    return apply_post(n, std::move(v), post, alpha, leaky);
  }

  Value unary(const TfNode& n, const std::string& onnx_op) {
    Value& x = get(n.inputs.at(0));
    if (x.k) fail(n, "constant input (constant folding is not implemented)");
    Value v = x;
    v.clip_src.clear();
    v.onnx = emit(onnx_op, {x.onnx}, n.name);
    return v;
  }

  // -x as x * (-1): a Mul every backend runs (OpenCV 4.6 has no ONNX Neg).
  Value neg(const TfNode& n) {
    Value& x = get(n.inputs.at(0));
    if (x.k) fail(n, "constant input (constant folding is not implemented)");
    Value v = x;
    v.clip_src.clear();
    v.onnx = emit("Mul", {x.onnx, b_.initializer(n.name + "/minus_one", {1}, {-1.f})}, n.name);
    return v;
  }

  Value rsqrt(const TfNode& n) {
    Value& x = get(n.inputs.at(0));
    Value v = x;
    v.clip_src.clear();
    std::string s = emit("Sqrt", {x.onnx}, n.name + "/sqrt");
    v.onnx = emit("Reciprocal", {s}, n.name);
    return v;
  }

  Value binary(const TfNode& n, const std::string& onnx_op) {
    if (n.inputs.size() != 2) fail(n, "expects two inputs");
    Value& a = get(n.inputs[0]);
    Value& c = get(n.inputs[1]);
    if (a.k && c.k) fail(n, "both inputs constant (constant folding is not implemented)");
    Value v;
    if (a.k || c.k) {
      Value& x = a.k ? c : a;
      const WeightTensor& k = a.k ? *a.k : *c.k;
      std::string kn = const_for(k, x, n.name + "/const");
      v = x;
      v.clip_src.clear();
      v.shape = broadcast(x.shape, k.shape);
      if (a.k && (onnx_op == "Sub" || onnx_op == "Div")) {
        // c - x and c / x: keep operand order
        v.onnx = emit(onnx_op, {kn, x.onnx}, n.name);
      } else {
        v.onnx = emit(onnx_op, {x.onnx, kn}, n.name);
      }
      return v;
    }
    std::string an = a.onnx, cn = c.onnx;
    bool nchw = false;
    if (a.nchw != c.nchw) {
      if (a.shape.size() == 4 && c.shape.size() == 4) {
        an = to_nchw(a, n.name + "/a");
        cn = to_nchw(c, n.name + "/b");
        nchw = true;
      } else {
        an = to_tf_layout(a, n.name + "/a");
        cn = to_tf_layout(c, n.name + "/b");
      }
    } else {
      nchw = a.nchw;
    }
    v.shape = broadcast(a.shape, c.shape);
    v.nchw = nchw;
    // OpenCV 4.6 cannot broadcast [N,C] (op) [N,1] between two computed tensors (e.g. the
    // x * rsqrt(sum(x^2)) of an L2 normalisation): widen the [N,1] side with a Gemm against ones.
    if (!nchw && a.shape.size() == 2 && c.shape.size() == 2 && a.shape[0] == c.shape[0] && a.shape[1] != c.shape[1] &&
        (a.shape[1] == 1 || c.shape[1] == 1)) {
      bool widen_a = a.shape[1] == 1;
      int64_t C = widen_a ? c.shape[1] : a.shape[1];
      std::string ones = b_.initializer(n.name + "/ones", {C, 1}, std::vector<float>(size_t(C), 1.f));
      std::string zeros = b_.initializer(n.name + "/zeros", {C}, std::vector<float>(size_t(C), 0.f));
      std::string& narrow = widen_a ? an : cn;
      narrow = emit("Gemm", {narrow, ones, zeros}, n.name + "/broadcast", {{"transB", int64_t(1)}});
      ++report_.folded_patterns;
    }
    v.onnx = emit(onnx_op, {an, cn}, n.name);
    return v;
  }

  // Relu, Relu6, and min/max against scalars: one Clip, merged with a Clip feeding it.
  Value clip_value(const TfNode& n, const Value& x, float lo, float hi) {
    std::string src = x.onnx;
    bool src_nchw = x.nchw;
    if (!x.clip_src.empty()) {  // clip(clip(s, a, b), lo, hi) == clip(s, max(a,lo), min(b,hi)) when ranges overlap
      float nlo = std::max(x.lo, lo), nhi = std::min(x.hi, hi);
      if (nlo <= nhi) {
        src = x.clip_src;
        src_nchw = x.clip_src_nchw;
        lo = nlo;
        hi = nhi;
        ++report_.folded_patterns;
      }
    }
    Value v = x;
    v.nchw = src_nchw;
    if (lo == 0.f && std::isinf(hi)) {
      v.onnx = emit("Relu", {src}, n.name);
    } else {
      Attrs attrs;
      attrs.push_back({"min", std::isinf(lo) ? std::numeric_limits<float>::lowest() : lo});
      attrs.push_back({"max", std::isinf(hi) ? std::numeric_limits<float>::max() : hi});
      v.onnx = emit("Clip", {src}, n.name, attrs);
    }
    v.clip_src = src;
    v.clip_src_nchw = src_nchw;
    v.lo = lo;
    v.hi = hi;
    return v;
  }

  Value minmax(const TfNode& n) {
    Value& a = get(n.inputs.at(0));
    Value& c = get(n.inputs.at(1));
    bool is_max = n.op == "Maximum";
    if ((a.k && is_scalar(*a.k)) || (c.k && is_scalar(*c.k))) {
      const Value& x = a.k ? c : a;
      float s = a.k ? a.k->f[0] : c.k->f[0];
      return is_max ? clip_value(n, x, s, std::numeric_limits<float>::infinity())
                    : clip_value(n, x, -std::numeric_limits<float>::infinity(), s);
    }
    if (a.k || c.k) {
      // OpenCV 4.6 has no Max/Min against a constant tensor; use the identities
      //   max(x, c) = relu(x - c) + c      min(x, c) = x - relu(x - c)
      Value& x = a.k ? c : a;
      const WeightTensor& k = a.k ? *a.k : *c.k;
      std::string kn = const_for(k, x, n.name + "/const");
      std::string d = emit("Sub", {x.onnx, kn}, n.name + "/diff");
      std::string r = emit("Relu", {d}, n.name + "/relu");
      Value v = x;
      v.clip_src.clear();
      v.shape = broadcast(x.shape, k.shape);
      v.onnx = is_max ? emit("Add", {r, kn}, n.name) : emit("Sub", {x.onnx, r}, n.name);
      return v;
    }
    return binary(n, is_max ? "Max" : "Min");
  }

  Value prelu(const TfNode& n, const Value& x, const std::vector<float>& alpha, float mul, float add) {
    std::vector<float> slope(alpha.size());
    for (size_t i = 0; i < alpha.size(); ++i) slope[i] = alpha[i] * mul + add;
    WeightTensor k;
    k.shape = {int64_t(slope.size())};
    k.f = slope;
    Value v = x;
    v.clip_src.clear();
    if (slope.size() != 1 && !(x.nchw && int64_t(slope.size()) == x.shape[3]) &&
        !(!x.nchw && !x.shape.empty() && int64_t(slope.size()) == x.shape.back()))
      fail(n, "PReLU slope size " + std::to_string(slope.size()) + " does not match the channels");
    std::string kn = slope.size() == 1
                         ? b_.initializer(n.name + "/slope", {1}, slope)
                         : (x.nchw ? b_.initializer(n.name + "/slope", {int64_t(slope.size()), 1, 1}, slope)
                                   : b_.initializer(n.name + "/slope", {int64_t(slope.size())}, slope));
    v.onnx = emit("PRelu", {x.onnx, kn}, n.name);
    return v;
  }

  // Recognises PReLU written in pieces at an Add/AddV2 node; nullopt when it is not one.
  std::optional<Value> fold_prelu(const TfNode& n) {
    if (n.inputs.size() != 2) return std::nullopt;
    for (int order = 0; order < 2; ++order) {
      const std::string& lhs = n.inputs[size_t(order)];
      const std::string& rhs = n.inputs[size_t(1 - order)];
      const TfNode& L = producer(lhs);
      const TfNode& R = producer(rhs);
      if (R.op != "Mul" || R.inputs.size() != 2 || !single_use(rhs)) continue;
      // Form A: relu(x) + c * (x - |x|)   or   x + c * (x - |x|)
      for (int mo = 0; mo < 2; ++mo) {
        const TfNode& S = producer(R.inputs[size_t(mo)]);
        const TfNode& Cn = producer(R.inputs[size_t(1 - mo)]);
        if (Cn.op != "Const") continue;
        if (S.op == "Sub" && S.inputs.size() == 2) {
          const TfNode& Ab = producer(S.inputs[1]);
          if (Ab.op != "Abs") continue;
          std::string x = key(S.inputs[0]);
          if (key(Ab.inputs.at(0)) != x) continue;
          const auto& c = get(R.inputs[size_t(1 - mo)]).k->f;
          if (L.op == "Relu" && key(L.inputs.at(0)) == x) {
            ++report_.folded_patterns;
            return prelu(n, get(x), c, 2.f, 0.f);
          }
          if (key(lhs) == x) {
            ++report_.folded_patterns;
            return prelu(n, get(x), c, 2.f, 1.f);
          }
        }
        // Form C: relu(x) + c * neg(relu(neg(x)))
        if (S.op == "Neg" && L.op == "Relu" && single_use(R.inputs[size_t(mo)])) {
          const TfNode& R2 = producer(S.inputs.at(0));
          if (R2.op == "Relu" && single_use(S.inputs.at(0))) {
            const TfNode& N2 = producer(R2.inputs.at(0));
            if (N2.op == "Neg" && key(N2.inputs.at(0)) == key(L.inputs.at(0))) {
              ++report_.folded_patterns;
              return prelu(n, get(L.inputs.at(0)), get(R.inputs[size_t(1 - mo)]).k->f, 1.f, 0.f);
            }
          }
        }
        // Form B: max(0, x) + g * min(0, x)
        if (S.op == "Minimum" && S.inputs.size() == 2) {
          auto zero_and_x = [&](const TfNode& m) -> std::optional<std::string> {
            for (int z = 0; z < 2; ++z) {
              const TfNode& zc = producer(m.inputs[size_t(z)]);
              if (zc.op != "Const") continue;
              const auto* k = konst(m.inputs[size_t(z)]);
              if (k && is_scalar(*k) && k->f[0] == 0.f) return key(m.inputs[size_t(1 - z)]);
            }
            return std::nullopt;
          };
          auto xm = zero_and_x(S);
          if (!xm) continue;
          std::optional<std::string> xl;
          if (L.op == "Maximum" && L.inputs.size() == 2)
            xl = zero_and_x(L);
          else if (L.op == "Relu")
            xl = key(L.inputs.at(0));
          if (!xl || *xl != *xm) continue;
          ++report_.folded_patterns;
          return prelu(n, get(*xm), get(R.inputs[size_t(1 - mo)]).k->f, 1.f, 0.f);
        }
      }
    }
    return std::nullopt;
  }

  Value softmax(const TfNode& n) { return softmax_of(n, get(n.inputs.at(0))); }

  Value softmax_of(const TfNode& n, Value& x) {
    std::string in = to_tf_layout(x, n.name);
    Value v = x;
    v.clip_src.clear();
    v.nchw = false;
    v.onnx = emit("Softmax", {in}, n.name, {{"axis", int64_t(x.shape.size()) - 1}});
    return v;
  }

  // Whether node r is the reduction `op` over exactly the last axis of its input, with keep_dims.
  bool reduces_last_axis(const TfNode& r, const char* op) {
    if (r.op != op || r.inputs.size() != 2 || !r.b("keep_dims", false)) return false;
    const WeightTensor* axes = konst(r.inputs[1]);
    Value& x = get(r.inputs[0]);
    if (!axes || axes->count() != 1) return false;
    int64_t a = const_ints(*axes)[0], rank = int64_t(x.shape.size());
    return a == -1 || a == rank - 1;
  }

  // Softmax written in pieces, recognised at its RealDiv: exp(x - max(x)) / sum(exp(x - max(x))),
  // both reductions over the last axis with keep_dims; nullopt when it is not one.
  std::optional<Value> fold_softmax(const TfNode& n) {
    if (n.inputs.size() != 2) return std::nullopt;
    const TfNode& E = producer(n.inputs[0]);
    const TfNode& S = producer(n.inputs[1]);
    if (E.op != "Exp" || !reduces_last_axis(S, "Sum") || key(S.inputs[0]) != key(n.inputs[0])) return std::nullopt;
    const TfNode& D = producer(E.inputs.at(0));
    if (D.op != "Sub" || D.inputs.size() != 2 || !single_use(E.inputs.at(0))) return std::nullopt;
    const TfNode& M = producer(D.inputs[1]);
    if (!reduces_last_axis(M, "Max") || key(M.inputs[0]) != key(D.inputs[0]) || !single_use(D.inputs[1]))
      return std::nullopt;
    auto e_uses = consumers_.find(detail::split_ref(n.inputs[0]).first);
    if (e_uses == consumers_.end() || e_uses->second != 2) return std::nullopt;  // read by the Sum and the Div only
    ++report_.folded_patterns;
    return softmax_of(n, get(D.inputs[0]));
  }

  Value compare(const TfNode& n) {
    if (n.inputs.size() != 2) fail(n, "expects two inputs");
    // x <= c is not (x > c), x >= c is not (x < c): ONNX opset 10 has only the strict forms.
    // (They differ only for NaN inputs, where TF's -Equal forms give false and these give 1.)
    bool negate = n.op == "LessEqual" || n.op == "GreaterEqual";
    bool less = n.op == "Less" || n.op == "GreaterEqual";
    TfNode as_strict = n;
    if (konst(n.inputs[0])) {  // c < x is x > c: the constant goes second
      std::swap(as_strict.inputs[0], as_strict.inputs[1]);
      less = !less;
    }
    std::string strict = less ? "Less" : "Greater";
    as_strict.name = n.name + (negate ? "/strict" : "/bool");
    Value v = binary(as_strict, strict);
    v.clip_src.clear();
    v.onnx = emit("Cast", {v.onnx}, n.name + (negate ? "/strict_float" : ""), {{"to", int64_t(1)}});
    if (negate) v.onnx = emit("Sub", {b_.initializer(n.name + "/one", {1}, {1.f}), v.onnx}, n.name);
    v.boolean = true;
    return v;
  }

  Value cast(const TfNode& n) {
    Value& x = get(n.inputs.at(0));
    // GraphDef type attributes ({"type": "DT_FLOAT"}), as TFJS writes them and the TFLite reader
    // translates CAST; a Cast without them is refused, never guessed.
    auto type = [&](const char* k) -> std::string {
      if (!n.attr.is_object() || !n.attr.contains(k) || !n.attr[k].contains("type")) return "";
      return n.attr[k]["type"].get<std::string>();
    };
    const std::string src = type("SrcT"), dst = type("DstT");
    if (dst != "DT_FLOAT") fail(n, "cast to " + (dst.empty() ? "an unstated type" : dst) + " (only to DT_FLOAT)");
    if (x.k) fail(n, "constant input (constant folding is not implemented)");
    if (x.boolean && src == "DT_BOOL") {  // comparison results are float 0/1 already
      Value v = x;
      v.boolean = false;
      return v;
    }
    if (src == "DT_FLOAT" && !x.boolean) return x;
    fail(n, "cast from " + (src.empty() ? "an unstated type" : src) + " to " + dst);
  }

  Value pool(const TfNode& n) {
    if (n.str("data_format", "NHWC") != "NHWC") fail(n, "data_format (only NHWC)");
    Value& x = get(n.inputs.at(0));
    if (x.shape.size() != 4) fail(n, "input is not rank 4");
    auto k = n.ints("ksize");
    auto s = n.ints("strides");
    if (k.size() != 4 || s.size() != 4 || k[0] != 1 || k[3] != 1 || s[0] != 1 || s[3] != 1)
      fail(n, "pooling must be spatial only");
    std::string mode = n.str("padding", "VALID");
    if (mode == "EXPLICIT") fail(n, "explicit padding for pooling");
    auto [pt, pb] = pads_for(mode, x.shape[1], k[1], s[1], 1, 0, 0);
    auto [pl, pr] = pads_for(mode, x.shape[2], k[2], s[2], 1, 0, 0);
    Attrs attrs = {{"kernel_shape", std::vector<int64_t>{k[1], k[2]}},
                   {"strides", std::vector<int64_t>{s[1], s[2]}},
                   {"pads", std::vector<int64_t>{pt, pl, pb, pr}}};
    // TF's AvgPool leaves padded cells out of the average: count_include_pad = 0 (the default)
    Value v;
    v.nchw = true;
    v.shape = {x.shape[0], out_size(x.shape[1], k[1], s[1], 1, pt, pb), out_size(x.shape[2], k[2], s[2], 1, pl, pr),
               x.shape[3]};
    v.onnx = emit(n.op == "MaxPool" ? "MaxPool" : "AveragePool", {to_nchw(x, n.name)}, n.name, attrs);
    return v;
  }

  Value pad(const TfNode& n) {
    Value& x = get(n.inputs.at(0));
    auto p = const_ints(need_const(n, 1));
    size_t r = x.shape.size();
    if (p.size() != 2 * r) fail(n, "paddings do not match the input rank");
    float value = 0.f;
    if (n.op == "PadV2") {
      const auto& cv = need_const(n, 2);
      if (!is_scalar(cv)) fail(n, "pad value must be a scalar");
      value = cv.f[0];
    }
    std::vector<int64_t> pads(2 * r);
    Value v = x;
    v.clip_src.clear();
    for (size_t a = 0; a < r; ++a) {
      size_t pos = x.nchw ? size_t(nchw_axis(int64_t(a))) : a;
      pads[pos] = p[2 * a];
      pads[r + pos] = p[2 * a + 1];
      v.shape[a] += p[2 * a] + p[2 * a + 1];
    }
    v.onnx = emit("Pad", {x.onnx}, n.name, {{"mode", std::string("constant")}, {"pads", pads}, {"value", value}});
    return v;
  }

  Value reshape(const TfNode& n) {
    Value& x = get(n.inputs.at(0));
    auto target = const_ints(need_const(n, 1));
    int64_t total = 1;
    for (auto d : x.shape) total *= d;
    int64_t known = 1, unknown = -1;
    for (size_t i = 0; i < target.size(); ++i) {
      if (target[i] == -1) {
        if (unknown >= 0) fail(n, "more than one -1 in the target shape");
        unknown = int64_t(i);
      } else {
        known *= target[i];
      }
    }
    Shape out = target;
    if (unknown >= 0) out[size_t(unknown)] = known ? total / known : 0;
    int64_t check = 1;
    for (auto d : out) check *= d;
    if (check != total) fail(n, "target shape does not hold " + std::to_string(total) + " elements");
    Value v;
    v.shape = out;
    std::string in = to_tf_layout(x, n.name);
    v.onnx = emit("Reshape", {in, b_.initializer_i64(n.name + "/shape", {int64_t(target.size())}, target)}, n.name);
    return v;
  }

  // Drops `axes` (TF order) from x; keeps NCHW storage when the remaining order is still TF order.
  Value drop_axes(const TfNode& n, Value& x, std::vector<int64_t> axes, const std::string& op, const Attrs& extra) {
    int64_t r = int64_t(x.shape.size());
    for (auto& a : axes) {
      if (a < 0) a += r;
      if (a < 0 || a >= r) fail(n, "axis out of range");
    }
    std::sort(axes.begin(), axes.end());
    axes.erase(std::unique(axes.begin(), axes.end()), axes.end());
    std::string in = x.onnx;
    bool nchw = x.nchw;
    if (nchw) {
      std::vector<int64_t> remain;  // TF axes in storage order, without the dropped ones
      for (int64_t pos : kToNchw)
        if (!std::binary_search(axes.begin(), axes.end(), pos)) remain.push_back(pos);
      if (!std::is_sorted(remain.begin(), remain.end())) {
        in = to_tf_layout(x, n.name);
        nchw = false;
      }
    }
    std::vector<int64_t> onnx_axes;
    for (auto a : axes) onnx_axes.push_back(nchw ? nchw_axis(a) : a);
    std::sort(onnx_axes.begin(), onnx_axes.end());
    Attrs attrs = extra;
    attrs.push_back({"axes", onnx_axes});
    Value v;
    for (int64_t a = 0; a < r; ++a)
      if (!std::binary_search(axes.begin(), axes.end(), a)) v.shape.push_back(x.shape[size_t(a)]);
    v.nchw = false;  // rank < 4 now, and storage order equals TF order
    v.onnx = emit(op, {in}, n.name, attrs);
    return v;
  }

  Value squeeze(const TfNode& n) {
    Value& x = get(n.inputs.at(0));
    auto axes = n.ints("squeeze_dims");
    if (axes.empty()) axes = n.ints("axis");
    if (axes.empty())
      for (size_t a = 0; a < x.shape.size(); ++a)
        if (x.shape[a] == 1) axes.push_back(int64_t(a));
    for (auto a : axes)
      if (x.shape[size_t(a < 0 ? a + int64_t(x.shape.size()) : a)] != 1) fail(n, "squeezing a dimension that is not 1");
    return drop_axes(n, x, axes, "Squeeze", {});
  }

  Value reduce(const TfNode& n) {
    Value& x = get(n.inputs.at(0));
    auto axes = const_ints(need_const(n, 1));
    bool keep = n.b("keep_dims", false);
    std::string op = n.op == "Mean" ? "ReduceMean" : n.op == "Max" ? "ReduceMax" : "ReduceSum";
    if (!keep) return drop_axes(n, x, axes, op, {{"keepdims", int64_t(0)}});
    int64_t r = int64_t(x.shape.size());
    std::vector<int64_t> onnx_axes;
    Value v = x;
    v.clip_src.clear();
    for (auto a : axes) {
      if (a < 0) a += r;
      onnx_axes.push_back(x.nchw ? nchw_axis(a) : a);
      v.shape[size_t(a)] = 1;
    }
    v.onnx = emit(op, {x.onnx}, n.name, {{"axes", onnx_axes}, {"keepdims", int64_t(1)}});
    return v;
  }

  Value concat(const TfNode& n) {
    if (n.inputs.size() < 2) fail(n, "needs inputs and an axis");
    auto axis_v = const_ints(need_const(n, n.inputs.size() - 1));
    if (axis_v.size() != 1) fail(n, "axis must be a scalar");
    std::vector<Value*> xs;
    for (size_t i = 0; i + 1 < n.inputs.size(); ++i) {
      Value& x = get(n.inputs[i]);
      if (x.k) fail(n, "constant inputs to concat are not supported");
      xs.push_back(&x);
    }
    int64_t r = int64_t(xs[0]->shape.size());
    int64_t axis = axis_v[0] < 0 ? axis_v[0] + r : axis_v[0];
    bool all_nchw = true;
    for (auto* x : xs) all_nchw = all_nchw && x->nchw;
    std::vector<std::string> ins;
    for (auto* x : xs) ins.push_back(all_nchw ? x->onnx : to_tf_layout(*x, n.name));
    Value v;
    v.shape = xs[0]->shape;
    v.shape[size_t(axis)] = 0;
    for (auto* x : xs) v.shape[size_t(axis)] += x->shape[size_t(axis)];
    v.nchw = all_nchw;
    v.onnx = emit("Concat", ins, n.name, {{"axis", all_nchw ? nchw_axis(axis) : axis}});
    return v;
  }
};

}  // namespace

namespace detail {
void tf_graph_to_onnx(const TfGraph& g, OnnxBuilder& b, ImportReport& report, bool free_spatial) {
  Converter c(g, b, report, free_spatial);
  c.run();
  b.prune();
}
}  // namespace detail

namespace {

// Keeps the part of `g` between cut.input (which becomes a Placeholder named `input_name` of NHWC
// shape [1, height, width, 3]) and cut.outputs; every node that does not feed them is dropped.
void cut_graph(detail::TfGraph& g, const GraphCut& cut, const std::string& input_name, int width, int height) {
  if (input_name.empty() || width <= 0 || height <= 0)
    throw Error(ErrorKind::BadModel, "graph cut: the input needs a name and a size");
  const std::string old_input = g.node(cut.input).name;
  auto rename = [&](const std::string& ref) {
    auto [node, idx] = detail::split_ref(ref);
    if (node != old_input) return ref;
    if (idx != 0) throw Error(ErrorKind::BadModel, "graph cut: input '" + ref + "' is not the node's first output");
    return input_name;
  };
  std::vector<std::string> outputs;
  for (const auto& [name, ref] : cut.outputs) {
    g.node(detail::split_ref(ref).first);  // must exist
    outputs.push_back(rename(ref));
  }
  std::set<std::string> keep;
  std::vector<std::string> stack;
  for (const auto& o : outputs) stack.push_back(detail::split_ref(o).first);
  while (!stack.empty()) {
    std::string n = stack.back();
    stack.pop_back();
    if (!keep.insert(n).second || n == input_name) continue;
    for (const auto& in : g.node(n).inputs) stack.push_back(detail::split_ref(rename(in)).first);
  }
  std::vector<detail::TfNode> nodes;
  detail::TfNode in;
  in.name = input_name;
  in.op = "Placeholder";
  in.attr["shape"]["shape"]["dim"] = nlohmann::json::array(
      {{{"size", "1"}}, {{"size", std::to_string(height)}}, {{"size", std::to_string(width)}}, {{"size", "3"}}});
  nodes.push_back(in);
  for (auto& n : g.nodes) {
    if (!keep.count(n.name) || n.name == input_name) continue;
    if (n.name == old_input) continue;
    for (auto& r : n.inputs) r = rename(r);
    nodes.push_back(std::move(n));
  }
  g.nodes = std::move(nodes);
  g.index.clear();
  for (size_t i = 0; i < g.nodes.size(); ++i) g.index[g.nodes[i].name] = i;
  g.signature_outputs.clear();
  for (size_t i = 0; i < outputs.size(); ++i) g.signature_outputs.emplace_back(cut.outputs[i].first, outputs[i]);
}

ImportReport import_tfjs_unguarded(const std::filesystem::path& model_json, const std::filesystem::path& onnx_out,
                                   const GraphCut* cut, const std::string& input_name, int input_width,
                                   int input_height) {
  detail::TfGraph g = detail::load_tfjs_graph(model_json);
  if (cut) cut_graph(g, *cut, input_name, input_width, input_height);
  ImportReport report;
  report.nodes_in = int(g.nodes.size());
  OnnxBuilder b(model_json.stem().string());
  detail::tf_graph_to_onnx(g, b, report, cut && cut->free_size);
  b.set_doc("tfjs-graph", "imported by facerec from " + model_json.filename().string() +
                              (g.producer.empty() ? "" : " (converted by " + g.producer + ")"));
  report.nodes_out = b.node_count();
  detail::write_file_atomic(onnx_out, b.serialize());
  return report;
}

}  // namespace

ImportReport import_tfjs_graph(const std::filesystem::path& model_json, const std::filesystem::path& onnx_out,
                               const GraphCut* cut, const std::string& input_name, int input_width, int input_height) {
  return detail::guard_import(model_json, [&] {
    return import_tfjs_unguarded(model_json, onnx_out, cut, input_name, input_width, input_height);
  });
}

}  // namespace facerec
