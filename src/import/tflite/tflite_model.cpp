#include "import/tflite/tflite_model.hpp"

#include "common/fs.hpp"
#include "import/tfjs/weights.hpp"
#include "tflite_schema_generated.h"  // flatc output of tflite_schema.fbs (build tree)

#include <facerec/error.hpp>
#include <facerec/tensor.hpp>

#include <algorithm>
#include <cstring>
#include <functional>
#include <map>
#include <optional>
#include <set>

namespace facerec::detail {
namespace {

namespace fb = facerec::tflite;
using Shape = std::vector<int64_t>;

// Builtin operator codes (tensorflow/lite/schema/schema.fbs, enum BuiltinOperator), the ones named
// in messages or translated.
enum Op : int {
  kAdd = 0,
  kAveragePool2d = 1,
  kConcatenation = 2,
  kConv2d = 3,
  kDepthwiseConv2d = 4,
  kDequantize = 6,
  kFullyConnected = 9,
  kLogistic = 14,
  kMaxPool2d = 17,
  kMul = 18,
  kRelu = 19,
  kRelu6 = 21,
  kReshape = 22,
  kSoftmax = 25,
  kCustom = 32,
  kPad = 34,
  kMean = 40,
  kSub = 41,
  kDiv = 42,
  kStridedSlice = 45,
  kExp = 47,
  kCast = 53,
  kPrelu = 54,
  kMaximum = 55,
  kMinimum = 57,
  kLess = 58,
  kNeg = 59,
  kGreater = 61,
  kGreaterEqual = 62,
  kLessEqual = 63,
  kSum = 74,
  kReduceMax = 82,
  kLeakyRelu = 98,
  kAbs = 101,
  kTanh = 28,
};

std::string op_name(int code) {
  static const std::map<int, std::string> names = {
      {kAdd, "ADD"},
      {kAveragePool2d, "AVERAGE_POOL_2D"},
      {kConcatenation, "CONCATENATION"},
      {kConv2d, "CONV_2D"},
      {kDepthwiseConv2d, "DEPTHWISE_CONV_2D"},
      {5, "DEPTH_TO_SPACE"},
      {kDequantize, "DEQUANTIZE"},
      {8, "FLOOR"},
      {kFullyConnected, "FULLY_CONNECTED"},
      {11, "L2_NORMALIZATION"},
      {kLogistic, "LOGISTIC"},
      {16, "LSTM"},
      {kMaxPool2d, "MAX_POOL_2D"},
      {kMul, "MUL"},
      {kRelu, "RELU"},
      {20, "RELU_N1_TO_1"},
      {kRelu6, "RELU6"},
      {kReshape, "RESHAPE"},
      {23, "RESIZE_BILINEAR"},
      {kSoftmax, "SOFTMAX"},
      {kTanh, "TANH"},
      {kCustom, "CUSTOM"},
      {kPad, "PAD"},
      {36, "GATHER"},
      {39, "TRANSPOSE"},
      {kMean, "MEAN"},
      {kSub, "SUB"},
      {kDiv, "DIV"},
      {43, "SQUEEZE"},
      {kStridedSlice, "STRIDED_SLICE"},
      {kExp, "EXP"},
      {49, "SPLIT"},
      {kCast, "CAST"},
      {kPrelu, "PRELU"},
      {kMaximum, "MAXIMUM"},
      {kMinimum, "MINIMUM"},
      {kLess, "LESS"},
      {kNeg, "NEG"},
      {kGreater, "GREATER"},
      {kGreaterEqual, "GREATER_EQUAL"},
      {kLessEqual, "LESS_EQUAL"},
      {67, "TRANSPOSE_CONV"},
      {kSum, "SUM"},
      {75, "SQRT"},
      {76, "RSQRT"},
      {kReduceMax, "REDUCE_MAX"},
      {83, "PACK"},
      {97, "RESIZE_NEAREST_NEIGHBOR"},
      {kLeakyRelu, "LEAKY_RELU"},
      {kAbs, "ABS"},
      {114, "QUANTIZE"},
      {117, "HARD_SWISH"},
  };
  auto it = names.find(code);
  return it != names.end() ? it->second : "builtin code " + std::to_string(code);
}

const char* type_name(fb::TensorType t) {
  const char* n = fb::EnumNameTensorType(t);
  return (n && *n) ? n : "unknown type";
}

// GraphDef-style attributes, as TfNode reads them (tfjs_graph.hpp).
void set_ints(TfNode& n, const std::string& key, const std::vector<int64_t>& v) {
  nlohmann::json l = nlohmann::json::array();
  for (auto x : v) l.push_back(std::to_string(x));
  n.attr[key]["list"]["i"] = l;
}
void set_str(TfNode& n, const std::string& key, const std::string& v) { n.attr[key]["s"] = base64_encode(v); }
void set_strings(TfNode& n, const std::string& key, const std::vector<std::string>& v) {
  nlohmann::json l = nlohmann::json::array();
  for (const auto& x : v) l.push_back(base64_encode(x));
  n.attr[key]["list"]["s"] = l;
}

class Reader {
 public:
  Reader(const std::filesystem::path& file, bool free_batch) : file_(file), free_batch_(free_batch) {}

  TfliteGraph run() {
    if (!std::filesystem::exists(file_)) throw Error(ErrorKind::NotFound, "no TFLite model at " + file_.string());
    bytes_ = read_file(file_);
    if (bytes_.size() < 8 || !fb::ModelBufferHasIdentifier(bytes_.data()))
      bad("not a TFLite model (no \"TFL3\" file identifier)");
    // Limits above any real model, below what a hostile file could make the verifier walk.
    flatbuffers::Verifier verifier(reinterpret_cast<const uint8_t*>(bytes_.data()), bytes_.size(), 128, 10'000'000);
    if (!fb::VerifyModelBuffer(verifier)) bad("the flatbuffer fails verification (corrupt or truncated)");
    model_ = fb::GetModel(bytes_.data());
    if (!model_->subgraphs() || model_->subgraphs()->size() == 0) bad("the model has no subgraph");
    if (model_->subgraphs()->size() > 1)
      unsupported("the model has " + std::to_string(model_->subgraphs()->size()) +
                  " subgraphs (control flow); only single-subgraph models are imported");
    sg_ = model_->subgraphs()->Get(0);
    if (!sg_->tensors() || !sg_->operators() || !sg_->inputs() || !sg_->outputs()) bad("the subgraph is incomplete");
    out_.weights_dtype = "float32";
    out_.graph.producer = "TFLite" + (model_->description() ? " (" + model_->description()->str() + ")" : "");
    name_tensors();
    for (int32_t t : *sg_->inputs()) add_input(tensor_index(t, "subgraph input"));
    int k = 0;
    for (const fb::Operator* op : *sg_->operators()) translate(op, k++);
    out_.operators = k;
    for (int32_t t : *sg_->outputs()) {
      size_t i = tensor_index(t, "subgraph output");
      out_.graph.signature_outputs.emplace_back(names_[i], names_[i]);
    }
    for (size_t i = 0; i < out_.graph.nodes.size(); ++i) out_.graph.index[out_.graph.nodes[i].name] = i;
    return std::move(out_);
  }

 private:
  std::filesystem::path file_;
  bool free_batch_;
  std::string bytes_;
  const fb::Model* model_ = nullptr;
  const fb::SubGraph* sg_ = nullptr;
  TfliteGraph out_;
  std::vector<std::string> names_;  // node name of each tensor
  std::vector<bool> defined_;       // has a node (constant, input or operator output)
  int64_t file_batch_ = -1;         // the input's batch as the file fixes it
  std::string op_label_;

  [[noreturn]] void bad(const std::string& why) const { throw Error(ErrorKind::BadModel, file_.string() + ": " + why); }
  [[noreturn]] void unsupported(const std::string& why) const {
    throw Error(ErrorKind::Unsupported, "TFLite import of " + file_.filename().string() + ": " + why);
  }
  [[noreturn]] void fail(const std::string& why) const { unsupported(op_label_ + ": " + why); }

  size_t tensor_index(int32_t t, const char* what) const {
    if (t < 0 || size_t(t) >= sg_->tensors()->size())
      bad(std::string(what) + " refers to tensor " + std::to_string(t) + " of " +
          std::to_string(sg_->tensors()->size()));
    return size_t(t);
  }
  const fb::Tensor* tensor(size_t i) const { return sg_->tensors()->Get(flatbuffers::uoffset_t(i)); }

  // The tensor's shape; a dimension below -1 or above 2^24 (no real model has one, and products
  // of such would overflow) is BadModel.
  Shape shape_of(const fb::Tensor* t) const {
    Shape s;
    if (t->shape())
      for (int32_t d : *t->shape()) {
        if (d < -1 || d > (1 << 24))
          bad("tensor '" + (t->name() ? t->name()->str() : std::string()) + "' has a dimension of " +
              std::to_string(d));
        s.push_back(d);
      }
    return s;
  }

  void name_tensors() {
    std::set<std::string> used;
    size_t n = sg_->tensors()->size();
    names_.resize(n);
    defined_.assign(n, false);
    for (size_t i = 0; i < n; ++i) {
      const fb::Tensor* t = tensor(i);
      std::string base = sanitize_tensor_name(t->name() ? t->name()->str() : "");
      if (base.empty()) base = "tensor_" + std::to_string(i);
      std::string name = base;
      for (int k = 1; used.count(name); ++k) name = base + "_" + std::to_string(k);
      used.insert(name);
      names_[i] = name;
      if (t->sparsity()) unsupported("tensor '" + name + "' is sparse");
      if (t->quantization() && t->quantization()->scale() && t->quantization()->scale()->size() > 0)
        unsupported("tensor '" + name + "' is quantised (" + type_name(t->type()) +
                    " with a scale); only float32 and float16 models are imported");
      if (auto k = constant_data(i)) {
        TfNode c;
        c.name = name;
        c.op = "Const";
        out_.graph.weights[name] = std::move(*k);
        out_.graph.nodes.push_back(std::move(c));
        defined_[i] = true;
      }
    }
  }

  // The tensor's constant data; nullopt when it has no buffer data.
  std::optional<WeightTensor> constant_data(size_t i) {
    const fb::Tensor* t = tensor(i);
    const auto* buffers = model_->buffers();
    if (t->buffer() == 0) return std::nullopt;
    if (!buffers || t->buffer() >= buffers->size())
      bad("tensor '" + names_[i] + "' refers to buffer " + std::to_string(t->buffer()) + " of " +
          std::to_string(buffers ? buffers->size() : 0));
    const fb::Buffer* b = buffers->Get(t->buffer());
    if (b->offset() != 0 || b->size() != 0)
      unsupported("tensor '" + names_[i] + "' keeps its data outside the flatbuffer");
    if (!b->data() || b->data()->size() == 0) return std::nullopt;
    Shape s = shape_of(t);
    int64_t count = 1;
    for (auto d : s) {
      if (d < 0) bad("constant '" + names_[i] + "' has a negative dimension");
      count *= d;
      if (count > (int64_t(1) << 31)) bad("constant '" + names_[i] + "' is too large");
    }
    size_t elem = 0;
    std::optional<WeightTensor> w(std::in_place);
    w->shape = s;
    switch (t->type()) {
      case fb::TensorType_FLOAT32:
        elem = 4;
        w->stored_dtype = "float32";
        break;
      case fb::TensorType_FLOAT16:
        elem = 2;
        w->stored_dtype = "float16";
        break;
      case fb::TensorType_INT32:
        elem = 4;
        w->stored_dtype = "int32";
        w->is_int = true;
        break;
      case fb::TensorType_INT64:
        elem = 8;
        w->stored_dtype = "int64";
        w->is_int = true;
        break;
      default:
        unsupported("constant '" + names_[i] + "' of type " + type_name(t->type()));
    }
    if (b->data()->size() != size_t(count) * elem)
      bad("constant '" + names_[i] + "' of shape " + shape_to_string(s) + " holds " +
          std::to_string(b->data()->size()) + " bytes, not " + std::to_string(size_t(count) * elem));
    const uint8_t* p = b->data()->data();
    for (int64_t k = 0; k < count; ++k) {
      const uint8_t* q = p + size_t(k) * elem;
      if (t->type() == fb::TensorType_FLOAT32) {
        float f;
        std::memcpy(&f, q, 4);
        w->f.push_back(f);
      } else if (t->type() == fb::TensorType_FLOAT16) {
        uint16_t h;
        std::memcpy(&h, q, 2);
        w->f.push_back(half_to_float(h));
      } else if (t->type() == fb::TensorType_INT32) {
        int32_t v;
        std::memcpy(&v, q, 4);
        w->i.push_back(v);
      } else {
        int64_t v;
        std::memcpy(&v, q, 8);
        w->i.push_back(v);
      }
    }
    return w;
  }

  void add_input(size_t i) {
    const fb::Tensor* t = tensor(i);
    if (t->type() != fb::TensorType_FLOAT32) unsupported("input '" + names_[i] + "' is " + type_name(t->type()));
    if (defined_[i]) bad("input '" + names_[i] + "' is also a constant");
    Shape s = shape_of(t);
    if (s.empty()) unsupported("input '" + names_[i] + "' has no static shape");
    file_batch_ = s[0];
    TfNode n;
    n.name = names_[i];
    n.op = "Placeholder";
    nlohmann::json dims = nlohmann::json::array();
    for (size_t k = 0; k < s.size(); ++k)
      dims.push_back(nlohmann::json{{"size", std::to_string(k == 0 && free_batch_ ? int64_t(-1) : s[k])}});
    n.attr["shape"]["shape"]["dim"] = dims;
    out_.graph.nodes.push_back(std::move(n));
    defined_[i] = true;
  }

  // ---- operators ------------------------------------------------------------------------

  const WeightTensor& weights(size_t i, const char* what) const {
    auto it = out_.graph.weights.find(names_[i]);
    if (it == out_.graph.weights.end()) fail(std::string(what) + " '" + names_[i] + "' must be a constant");
    return it->second;
  }

  std::string add_const(const std::string& hint, WeightTensor w) {
    std::string name = hint;
    for (int k = 1; out_.graph.weights.count(name) || std::find(names_.begin(), names_.end(), name) != names_.end();
         ++k)
      name = hint + "_" + std::to_string(k);
    TfNode c;
    c.name = name;
    c.op = "Const";
    out_.graph.weights[name] = std::move(w);
    out_.graph.nodes.push_back(std::move(c));
    return name;
  }
  std::string add_int_const(const std::string& hint, const std::vector<int64_t>& v) {
    WeightTensor w;
    w.shape = {int64_t(v.size())};
    w.is_int = true;
    w.i = v;
    w.stored_dtype = "int32";
    return add_const(hint, std::move(w));
  }

  TfNode& emit(const std::string& name, const std::string& op, std::vector<std::string> inputs) {
    TfNode n;
    n.name = name;
    n.op = op;
    n.inputs = std::move(inputs);
    out_.graph.nodes.push_back(std::move(n));
    return out_.graph.nodes.back();
  }

  // The TF op of a fused activation, "" for none.
  std::string activation(fb::ActivationFunctionType a) const {
    switch (a) {
      case fb::ActivationFunctionType_NONE:
        return "";
      case fb::ActivationFunctionType_RELU:
        return "Relu";
      case fb::ActivationFunctionType_RELU6:
        return "Relu6";
      case fb::ActivationFunctionType_TANH:
        return "Tanh";
      default:
        fail(std::string("fused activation ") + fb::EnumNameActivationFunctionType(a));
    }
  }

  // `op` producing `out`, then its fused activation (when any) under `out`'s name; `attrs` sets
  // the op node's attributes (before the activation node is added, which may move it).
  void with_activation(const std::string& out, const std::string& op, std::vector<std::string> inputs,
                       fb::ActivationFunctionType act, const std::function<void(TfNode&)>& attrs = {}) {
    const std::string a = activation(act);
    const std::string pre = a.empty() ? out : out + "/pre_activation";
    TfNode& n = emit(pre, op, std::move(inputs));
    if (attrs) attrs(n);
    if (!a.empty()) emit(out, a, {pre});
  }

  template <class T>
  const T* options(const fb::Operator* op, fb::BuiltinOptions type) const {
    if (op->builtin_options_type() != type || !op->builtin_options())
      fail("its options are missing or of another kind");
    return static_cast<const T*>(op->builtin_options());
  }

  std::vector<float> bias_or_zeros(const std::vector<size_t>& in, size_t at, int64_t n) const {
    if (in.size() > at && in[at] != SIZE_MAX) {
      const WeightTensor& b = weights(in[at], "bias");
      if (b.is_int || b.count() != n) fail("bias of " + std::to_string(b.count()) + " values for " + std::to_string(n));
      return b.f;
    }
    return std::vector<float>(size_t(n), 0.f);
  }

  void translate(const fb::Operator* op, int k) {
    const auto* codes = model_->operator_codes();
    if (!codes || op->opcode_index() >= codes->size())
      bad("operator #" + std::to_string(k) + " refers to operator code " + std::to_string(op->opcode_index()));
    const fb::OperatorCode* oc = codes->Get(op->opcode_index());
    int code = std::max<int>(oc->deprecated_builtin_code(), oc->builtin_code());
    if (!op->outputs() || op->outputs()->size() != 1)
      bad("operator #" + std::to_string(k) + " (" + op_name(code) + ") has " +
          std::to_string(op->outputs() ? op->outputs()->size() : 0) + " outputs; the importer handles one");
    size_t out_i = tensor_index(op->outputs()->Get(0), "operator output");
    const std::string out = names_[out_i];
    op_label_ = "op '" + op_name(code) + "' (operator #" + std::to_string(k) + ", output '" + out + "')";
    if (code == kCustom)
      fail("custom operator '" + std::string(oc->custom_code() ? oc->custom_code()->str() : "") + "'");
    if (defined_[out_i]) bad(op_label_ + " writes a tensor that is already defined");
    std::vector<size_t> in;
    if (op->inputs())
      for (int32_t t : *op->inputs()) {
        if (t == -1) {
          in.push_back(SIZE_MAX);  // optional input left out
          continue;
        }
        size_t i = tensor_index(t, "operator input");
        if (!defined_[i]) bad(op_label_ + " reads '" + names_[i] + "' before anything writes it");
        in.push_back(i);
      }
    auto need = [&](size_t n) {
      if (in.size() < n) fail("expects " + std::to_string(n) + " inputs, has " + std::to_string(in.size()));
      for (size_t a = 0; a < n; ++a)
        if (in[a] == SIZE_MAX) fail("input " + std::to_string(a) + " is left out");
    };
    auto name = [&](size_t a) { return names_[in.at(a)]; };
    const fb::Tensor* t_out = tensor(out_i);
    if (t_out->type() != fb::TensorType_FLOAT32 && t_out->type() != fb::TensorType_BOOL)
      fail(std::string("output of type ") + type_name(t_out->type()));

    switch (code) {
      case kConv2d:
      case kDepthwiseConv2d: {
        need(2);
        bool dw = code == kDepthwiseConv2d;
        const WeightTensor& w = weights(in[1], "filter");
        if (w.is_int || w.shape.size() != 4) fail("the filter is not a rank-4 float constant");
        int64_t KH = w.shape[1], KW = w.shape[2];
        WeightTensor tf;  // TF layout: HWIO (conv), H W C M (depthwise)
        tf.stored_dtype = w.stored_dtype;
        int64_t CO;
        if (dw) {
          // TFLite [1, H, W, C*M] holds the same order as TF's [H, W, C, M]
          const auto* o = options<fb::DepthwiseConv2DOptions>(op, fb::BuiltinOptions_DepthwiseConv2DOptions);
          const Shape xs = shape_of(tensor(in[0]));
          if (w.shape[0] != 1 || xs.size() != 4 || xs[3] <= 0 || w.shape[3] % xs[3] != 0)
            fail("depthwise filter " + shape_to_string(w.shape) + " does not fit input " + shape_to_string(xs));
          CO = w.shape[3];
          tf.shape = {KH, KW, xs[3], CO / xs[3]};
          tf.f = w.f;
          conv_node(out, "FusedDepthwiseConv2dNative", name(0), add_const(out + "/filter", std::move(tf)),
                    bias_or_zeros(in, 2, CO), o->padding(), o->stride_h(), o->stride_w(), o->dilation_h_factor(),
                    o->dilation_w_factor(), o->fused_activation_function());
        } else {
          const auto* o = options<fb::Conv2DOptions>(op, fb::BuiltinOptions_Conv2DOptions);
          CO = w.shape[0];
          int64_t CI = w.shape[3];
          tf.shape = {KH, KW, CI, CO};
          tf.f.resize(w.f.size());
          for (int64_t oo = 0; oo < CO; ++oo)
            for (int64_t h = 0; h < KH; ++h)
              for (int64_t ww = 0; ww < KW; ++ww)
                for (int64_t c = 0; c < CI; ++c)
                  tf.f[size_t(((h * KW + ww) * CI + c) * CO + oo)] = w.f[size_t(((oo * KH + h) * KW + ww) * CI + c)];
          conv_node(out, "_FusedConv2D", name(0), add_const(out + "/filter", std::move(tf)), bias_or_zeros(in, 2, CO),
                    o->padding(), o->stride_h(), o->stride_w(), o->dilation_h_factor(), o->dilation_w_factor(),
                    o->fused_activation_function());
        }
        break;
      }
      case kFullyConnected: {
        need(2);
        const auto* o = options<fb::FullyConnectedOptions>(op, fb::BuiltinOptions_FullyConnectedOptions);
        if (o->weights_format() != 0) fail("shuffled weights");
        if (o->keep_num_dims()) fail("keep_num_dims");
        const WeightTensor& w = weights(in[1], "weights");
        if (w.is_int || w.shape.size() != 2) fail("the weights are not a rank-2 float constant");
        int64_t O = w.shape[0], K = w.shape[1];
        std::string x = name(0);
        if (shape_of(tensor(in[0])).size() != 2) {  // TFLite flattens the input to [-1, K]
          x = out + "/flatten";
          emit(x, "Reshape", {name(0), add_int_const(out + "/flatten_shape", {-1, K})});
        }
        std::string wn = add_const(out + "/weights", w);
        WeightTensor b;
        b.shape = {O};
        b.f = bias_or_zeros(in, 2, O);
        TfNode& n = emit(out, "_FusedMatMul", {x, wn, add_const(out + "/bias", std::move(b))});
        n.attr["transpose_b"]["b"] = true;
        std::vector<std::string> fused = {"BiasAdd"};
        if (auto a = activation(o->fused_activation_function()); !a.empty()) fused.push_back(a);
        set_strings(n, "fused_ops", fused);
        break;
      }
      case kAdd:
        need(2);
        with_activation(out, "AddV2", {name(0), name(1)},
                        options<fb::AddOptions>(op, fb::BuiltinOptions_AddOptions)->fused_activation_function());
        break;
      case kSub:
        need(2);
        with_activation(out, "Sub", {name(0), name(1)},
                        optional_activation<fb::SubOptions>(op, fb::BuiltinOptions_SubOptions));
        break;
      case kMul:
        need(2);
        with_activation(out, "Mul", {name(0), name(1)},
                        optional_activation<fb::MulOptions>(op, fb::BuiltinOptions_MulOptions));
        break;
      case kDiv:
        need(2);
        with_activation(out, "RealDiv", {name(0), name(1)},
                        optional_activation<fb::DivOptions>(op, fb::BuiltinOptions_DivOptions));
        break;
      case kMaximum:
      case kMinimum:
        need(2);
        emit(out, code == kMaximum ? "Maximum" : "Minimum", {name(0), name(1)});
        break;
      case kRelu:
      case kRelu6:
      case kLogistic:
      case kTanh:
      case kAbs:
      case kNeg:
      case kExp: {
        need(1);
        static const std::map<int, std::string> tf = {{kRelu, "Relu"}, {kRelu6, "Relu6"}, {kLogistic, "Sigmoid"},
                                                      {kTanh, "Tanh"}, {kAbs, "Abs"},     {kNeg, "Neg"},
                                                      {kExp, "Exp"}};
        emit(out, tf.at(code), {name(0)});
        break;
      }
      case kLeakyRelu: {
        need(1);
        TfNode& n = emit(out, "LeakyRelu", {name(0)});
        n.attr["alpha"]["f"] = options<fb::LeakyReluOptions>(op, fb::BuiltinOptions_LeakyReluOptions)->alpha();
        break;
      }
      case kPrelu:
        need(2);
        emit(out, "Prelu", {name(0), name(1)});
        break;
      case kSoftmax: {
        need(1);
        float beta = options<fb::SoftmaxOptions>(op, fb::BuiltinOptions_SoftmaxOptions)->beta();
        if (beta != 1.f) fail("softmax with beta " + std::to_string(beta));
        emit(out, "Softmax", {name(0)});
        break;
      }
      case kMaxPool2d:
      case kAveragePool2d: {
        need(1);
        const auto* o = options<fb::Pool2DOptions>(op, fb::BuiltinOptions_Pool2DOptions);
        with_activation(out, code == kMaxPool2d ? "MaxPool" : "AvgPool", {name(0)}, o->fused_activation_function(),
                        [&](TfNode& n) {
                          set_ints(n, "ksize", {1, o->filter_height(), o->filter_width(), 1});
                          set_ints(n, "strides", {1, o->stride_h(), o->stride_w(), 1});
                          set_str(n, "padding", o->padding() == fb::Padding_SAME ? "SAME" : "VALID");
                        });
        break;
      }
      case kReshape:
        reshape(op, in, out);
        break;
      case kConcatenation: {
        const auto* o = options<fb::ConcatenationOptions>(op, fb::BuiltinOptions_ConcatenationOptions);
        if (in.empty()) fail("no inputs");
        std::vector<std::string> ins;
        for (size_t a = 0; a < in.size(); ++a) ins.push_back(name(a));
        ins.push_back(add_int_const(out + "/axis", {o->axis()}));
        with_activation(out, "ConcatV2", ins, o->fused_activation_function());
        break;
      }
      case kSum:
      case kReduceMax:
      case kMean: {
        need(2);
        bool keep = options<fb::ReducerOptions>(op, fb::BuiltinOptions_ReducerOptions)->keep_dims();
        const WeightTensor& axes = weights(in[1], "axes");
        if (!axes.is_int) fail("axes are not integers");
        TfNode& n = emit(out, code == kSum ? "Sum" : code == kMean ? "Mean" : "Max", {name(0), name(1)});
        n.attr["keep_dims"]["b"] = keep;
        break;
      }
      case kPad:
        need(2);
        emit(out, "Pad", {name(0), name(1)});
        break;
      case kStridedSlice:
        strided_slice(op, in, out);
        break;
      case kLess:
      case kGreater:
      case kLessEqual:
      case kGreaterEqual: {
        need(2);
        static const std::map<int, std::string> tf = {
            {kLess, "Less"}, {kGreater, "Greater"}, {kLessEqual, "LessEqual"}, {kGreaterEqual, "GreaterEqual"}};
        emit(out, tf.at(code), {name(0), name(1)});
        break;
      }
      case kCast: {
        need(1);
        fb::TensorType src = tensor(in[0])->type(), dst = t_out->type();
        auto tf_type = [&](fb::TensorType t) -> std::string {
          if (t == fb::TensorType_FLOAT32) return "DT_FLOAT";
          if (t == fb::TensorType_BOOL) return "DT_BOOL";
          fail(std::string("cast involving ") + type_name(t));
        };
        TfNode& n = emit(out, "Cast", {name(0)});
        n.attr["SrcT"]["type"] = tf_type(src);
        n.attr["DstT"]["type"] = tf_type(dst);
        break;
      }
      case kDequantize: {
        need(1);
        const fb::Tensor* src = tensor(in[0]);
        if (src->type() != fb::TensorType_FLOAT16) fail(std::string("dequantising ") + type_name(src->type()));
        auto it = out_.graph.weights.find(name(0));
        if (it == out_.graph.weights.end()) fail("dequantising a tensor that is not a constant");
        WeightTensor w = it->second;  // already decoded from float16
        TfNode c;
        c.name = out;
        c.op = "Const";
        out_.graph.weights[out] = std::move(w);
        out_.graph.nodes.push_back(std::move(c));
        out_.weights_dtype = "float16";
        break;
      }
      default:
        fail("no translation for this op");
    }
    defined_[out_i] = true;
  }

  // The fused activation of an op whose options table T may be left out (then none).
  template <class T>
  fb::ActivationFunctionType optional_activation(const fb::Operator* op, fb::BuiltinOptions type) const {
    return op->builtin_options_type() == type ? options<T>(op, type)->fused_activation_function()
                                              : fb::ActivationFunctionType_NONE;
  }

  void conv_node(const std::string& out, const std::string& op, const std::string& x, const std::string& filter,
                 std::vector<float> bias, fb::Padding padding, int sh, int sw, int dh, int dw,
                 fb::ActivationFunctionType act) {
    if (sh <= 0 || sw <= 0 || dh <= 0 || dw <= 0) fail("strides and dilations must be positive");
    WeightTensor b;
    b.shape = {int64_t(bias.size())};
    b.f = std::move(bias);
    TfNode& n = emit(out, op, {x, filter, add_const(out + "/bias", std::move(b))});
    set_ints(n, "strides", {1, sh, sw, 1});
    set_ints(n, "dilations", {1, dh, dw, 1});
    set_str(n, "padding", padding == fb::Padding_SAME ? "SAME" : "VALID");
    std::vector<std::string> fused = {"BiasAdd"};
    if (auto a = activation(act); !a.empty()) fused.push_back(a);
    set_strings(n, "fused_ops", fused);
  }

  void reshape(const fb::Operator* op, const std::vector<size_t>& in, const std::string& out) {
    if (in.empty() || in[0] == SIZE_MAX) fail("no input");
    std::vector<int64_t> target;
    if (in.size() > 1 && in[1] != SIZE_MAX) {
      const WeightTensor& s = weights(in[1], "shape");
      if (!s.is_int) fail("the shape is not integers");
      target = s.i;
    } else if (op->builtin_options_type() == fb::BuiltinOptions_ReshapeOptions &&
               op->builtin_options_as_ReshapeOptions()->new_shape()) {
      for (int32_t d : *op->builtin_options_as_ReshapeOptions()->new_shape()) target.push_back(d);
    } else {
      fail("no target shape");
    }
    // With a free batch, a reshape that keeps the file's batch in front keeps it free: its other
    // dimensions are made explicit and the first becomes -1.
    const Shape xs = shape_of(tensor(in[0]));
    if (free_batch_ && !xs.empty() && !target.empty() && xs[0] == file_batch_ && target[0] == file_batch_) {
      int64_t total = 1, known = 1;
      for (auto d : xs) total *= d;
      for (auto d : target) known *= d == -1 ? 1 : d;
      for (auto& d : target)
        if (d == -1) d = known ? total / known : 0;
      target[0] = -1;
    }
    emit(out, "Reshape", {names_[in[0]], add_int_const(out + "/shape", target)});
  }

  // Only the full-range slice (a copy), which Keras writes for `x[:, :]`; anything else is refused.
  void strided_slice(const fb::Operator* op, const std::vector<size_t>& in, const std::string& out) {
    if (in.size() != 4) fail("expects input, begin, end and strides");
    const auto* o = options<fb::StridedSliceOptions>(op, fb::BuiltinOptions_StridedSliceOptions);
    const WeightTensor& b = weights(in[1], "begin");
    const WeightTensor& e = weights(in[2], "end");
    const WeightTensor& s = weights(in[3], "strides");
    const Shape xs = shape_of(tensor(in[0]));
    if (!b.is_int || !e.is_int || !s.is_int || b.i.size() != xs.size() || e.i.size() != xs.size() ||
        s.i.size() != xs.size())
      fail("begin, end and strides must be integer constants of the input's rank");
    if (o->ellipsis_mask() || o->new_axis_mask() || o->shrink_axis_mask() || o->offset())
      fail("ellipsis, new-axis, shrink-axis masks or offsets");
    for (size_t a = 0; a < xs.size(); ++a) {
      bool from_start = (o->begin_mask() >> a & 1) || b.i[a] == 0;
      bool to_end = (o->end_mask() >> a & 1) || e.i[a] >= xs[a];
      if (s.i[a] != 1 || !from_start || !to_end) fail("a slice other than the full range (not translated)");
    }
    emit(out, "Identity", {names_[in[0]]});
  }
};

}  // namespace

std::string sanitize_tensor_name(const std::string& name) {
  std::string s = name;
  for (auto& c : s)
    if (c == '/' || c == ':') c = '_';
  return s;
}

TfliteGraph load_tflite_graph(const std::filesystem::path& file, bool free_batch) {
  return Reader(file, free_batch).run();
}

}  // namespace facerec::detail
