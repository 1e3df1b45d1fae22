// The reference backend: a plain, unoptimised ONNX interpreter for the ops facerec's importers
// emit. Every op is a direct loop over the definition in the ONNX operator docs, written to be
// read, not to be fast. Optimised backends are tested against it op by op (tests/test_ops.cpp).
// Options: none (always one thread, fp32).
#include <facerec/backend.hpp>
#include <facerec/error.hpp>

#include "backend/onnx_info.hpp"
#include "common/fs.hpp"

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <numeric>

namespace facerec {
namespace {

using Shape = std::vector<int64_t>;

int64_t numel(const Shape& s) {
  int64_t n = 1;
  for (auto d : s) n *= d;
  return n;
}

struct Node {
  std::string op, name;
  std::vector<std::string> in, out;
  std::map<std::string, const onnx::AttributeProto*> attr;
};

class ReferenceBackend final : public InferenceBackend {
 public:
  void load(const std::string& model_path, const BackendOptions& options) override {
    if (options.precision != Precision::FP32) throw Error(ErrorKind::Unsupported, "reference: only fp32 is supported");
    auto m = std::make_shared<Model>();
    m->info = detail::read_onnx_info(model_path);
    std::string bytes = detail::read_file(model_path);
    m->proto = std::make_unique<onnx::ModelProto>();
    if (!m->proto->ParseFromString(bytes)) throw Error(ErrorKind::BadModel, "not an ONNX model: " + model_path);
    for (const auto& t : m->proto->graph().initializer()) load_initializer(*m, t);
    for (const auto& n : m->proto->graph().node()) {
      Node node;
      node.op = n.op_type();
      node.name = n.name();
      node.in.assign(n.input().begin(), n.input().end());
      node.out.assign(n.output().begin(), n.output().end());
      for (const auto& a : n.attribute()) node.attr[a.name()] = &a;
      if (!known(node.op))
        throw Error(ErrorKind::Unsupported,
                    "reference backend: op '" + node.op + "' (node '" + node.name + "') is not implemented");
      m->nodes.push_back(std::move(node));
    }
    m_ = std::move(m);
  }

  // Sessions share the parsed model (weights, graph); each run has its own values.
  std::unique_ptr<InferenceBackend> session() const override {
    if (!m_) throw Error(ErrorKind::InvalidArgument, "reference: session() before load()");
    auto s = std::make_unique<ReferenceBackend>();
    s->m_ = m_;
    return s;
  }

  std::vector<TensorSpec> inputs() const override { return m_ ? m_->info.inputs : std::vector<TensorSpec>{}; }
  std::vector<TensorSpec> outputs() const override { return m_ ? m_->info.outputs : std::vector<TensorSpec>{}; }
  std::string name() const override { return "reference"; }
  Precision precision() const override { return Precision::FP32; }

  std::vector<Tensor> run(const std::vector<Tensor>& batch) override {
    if (!m_) throw Error(ErrorKind::InvalidArgument, "reference: run() before load()");
    check_batch(batch);
    std::map<std::string, Tensor> v;  // computed values; constants are read from the shared model
    for (size_t i = 0; i < batch.size(); ++i) v[m_->info.inputs[i].name] = batch[i];
    for (const auto& n : m_->nodes) {
      try {
        v[n.out.at(0)] = exec(n, v);
      } catch (const Error&) {
        throw;
      } catch (const std::exception& e) {
        throw Error(ErrorKind::Internal, "reference: node '" + n.name + "' (" + n.op + "): " + e.what());
      }
    }
    std::vector<Tensor> out;
    for (const auto& o : m_->info.outputs) {
      if (auto it = v.find(o.name); it != v.end()) {
        out.push_back(std::move(it->second));
      } else if (auto c = m_->consts.find(o.name); c != m_->consts.end()) {
        out.push_back(c->second);
      } else {
        throw Error(ErrorKind::BadModel, "reference: output '" + o.name + "' is never computed");
      }
    }
    return out;
  }

 private:
  // The loaded network, immutable once loaded and shared by every session() of it.
  struct Model {
    detail::OnnxInfo info;
    std::unique_ptr<onnx::ModelProto> proto;
    std::map<std::string, Tensor> consts;
    std::map<std::string, std::vector<int64_t>> ints;
    std::vector<Node> nodes;
  };
  std::shared_ptr<const Model> m_;

  static bool known(const std::string& op) {
    static const char* ops[] = {"Conv",      "Gemm",        "MatMul",    "Add",       "Sub",       "Mul",     "Div",
                                "Max",       "Min",         "PRelu",     "Relu",      "Sigmoid",   "Tanh",    "Abs",
                                "Sqrt",      "Reciprocal",  "Exp",       "Identity",  "LeakyRelu", "Clip",    "Softmax",
                                "MaxPool",   "AveragePool", "Pad",       "Reshape",   "Flatten",   "Squeeze", "Concat",
                                "Transpose", "ReduceMean",  "ReduceSum", "ReduceMax", "Less",      "Greater", "Cast"};
    return std::find(std::begin(ops), std::end(ops), op) != std::end(ops);
  }

  static void load_initializer(Model& m, const onnx::TensorProto& t) {
    Shape s(t.dims().begin(), t.dims().end());
    int64_t n = numel(s);
    if (t.data_type() == onnx::TensorProto::FLOAT) {
      Tensor x;
      x.shape = s;
      x.data.resize(size_t(n));
      if (!t.raw_data().empty()) {
        if (t.raw_data().size() != size_t(n) * 4)
          throw Error(ErrorKind::BadModel, "initializer " + t.name() + " has the wrong size");
        std::memcpy(x.data.data(), t.raw_data().data(), size_t(n) * 4);
      } else {
        if (t.float_data_size() != n)
          throw Error(ErrorKind::BadModel, "initializer " + t.name() + " has the wrong size");
        std::copy(t.float_data().begin(), t.float_data().end(), x.data.begin());
      }
      m.consts[t.name()] = std::move(x);
    } else if (t.data_type() == onnx::TensorProto::INT64) {
      std::vector<int64_t> v(static_cast<size_t>(n));
      if (!t.raw_data().empty()) {
        if (t.raw_data().size() != size_t(n) * 8)
          throw Error(ErrorKind::BadModel, "initializer " + t.name() + " has the wrong size");
        std::memcpy(v.data(), t.raw_data().data(), size_t(n) * 8);
      } else {
        v.assign(t.int64_data().begin(), t.int64_data().end());
      }
      m.ints[t.name()] = std::move(v);
    } else {
      throw Error(ErrorKind::Unsupported,
                  "reference: initializer " + t.name() + " has data type " + std::to_string(t.data_type()));
    }
  }

  // --- attribute helpers ---
  static int64_t ai(const Node& n, const char* k, int64_t d) {
    auto it = n.attr.find(k);
    return it == n.attr.end() ? d : it->second->i();
  }
  static float af(const Node& n, const char* k, float d) {
    auto it = n.attr.find(k);
    return it == n.attr.end() ? d : it->second->f();
  }
  static std::vector<int64_t> ais(const Node& n, const char* k, std::vector<int64_t> d = {}) {
    auto it = n.attr.find(k);
    if (it == n.attr.end()) return d;
    return {it->second->ints().begin(), it->second->ints().end()};
  }

  const Tensor& in(const std::map<std::string, Tensor>& v, const Node& n, size_t i) const {
    auto it = v.find(n.in.at(i));
    if (it != v.end()) return it->second;
    it = m_->consts.find(n.in.at(i));
    if (it == m_->consts.end())
      throw Error(ErrorKind::BadModel, "reference: input '" + n.in.at(i) + "' of node '" + n.name + "' is undefined");
    return it->second;
  }

  Tensor exec(const Node& n, const std::map<std::string, Tensor>& v) {
    const std::string& op = n.op;
    if (op == "Conv") return conv(n, in(v, n, 0), in(v, n, 1), n.in.size() > 2 ? &in(v, n, 2) : nullptr);
    if (op == "Gemm") return gemm(n, in(v, n, 0), in(v, n, 1), n.in.size() > 2 ? &in(v, n, 2) : nullptr);
    if (op == "MatMul") {
      Node g = n;
      g.attr.clear();
      return gemm(g, in(v, n, 0), in(v, n, 1), nullptr);
    }
    if (op == "Add") return binary(in(v, n, 0), in(v, n, 1), [](float a, float b) { return a + b; });
    if (op == "Sub") return binary(in(v, n, 0), in(v, n, 1), [](float a, float b) { return a - b; });
    if (op == "Mul") return binary(in(v, n, 0), in(v, n, 1), [](float a, float b) { return a * b; });
    if (op == "Div") return binary(in(v, n, 0), in(v, n, 1), [](float a, float b) { return a / b; });
    if (op == "Max") return binary(in(v, n, 0), in(v, n, 1), [](float a, float b) { return std::max(a, b); });
    if (op == "Min") return binary(in(v, n, 0), in(v, n, 1), [](float a, float b) { return std::min(a, b); });
    if (op == "PRelu") return binary(in(v, n, 0), in(v, n, 1), [](float x, float s) { return x < 0 ? x * s : x; });
    if (op == "Relu") return unary(in(v, n, 0), [](float x) { return x > 0 ? x : 0.f; });
    if (op == "Sigmoid") return unary(in(v, n, 0), [](float x) { return 1.f / (1.f + std::exp(-x)); });
    if (op == "Tanh") return unary(in(v, n, 0), [](float x) { return std::tanh(x); });
    if (op == "Abs") return unary(in(v, n, 0), [](float x) { return std::abs(x); });
    if (op == "Sqrt") return unary(in(v, n, 0), [](float x) { return std::sqrt(x); });
    if (op == "Reciprocal") return unary(in(v, n, 0), [](float x) { return 1.f / x; });
    if (op == "Exp") return unary(in(v, n, 0), [](float x) { return std::exp(x); });
    if (op == "Identity") return in(v, n, 0);
    // Comparisons hold their booleans as float 0/1 (every value here is float), so a Cast to
    // float is the value itself; a Cast to anything else is refused.
    if (op == "Less") return binary(in(v, n, 0), in(v, n, 1), [](float a, float b) { return a < b ? 1.f : 0.f; });
    if (op == "Greater") return binary(in(v, n, 0), in(v, n, 1), [](float a, float b) { return a > b ? 1.f : 0.f; });
    if (op == "Cast") {
      if (ai(n, "to", 0) != onnx::TensorProto::FLOAT)
        throw Error(ErrorKind::Unsupported,
                    "reference backend: Cast to type " + std::to_string(ai(n, "to", 0)) + " (only to float)");
      return in(v, n, 0);
    }
    if (op == "LeakyRelu") {
      float a = af(n, "alpha", 0.01f);
      return unary(in(v, n, 0), [a](float x) { return x < 0 ? a * x : x; });
    }
    if (op == "Clip") {
      float lo = af(n, "min", std::numeric_limits<float>::lowest());
      float hi = af(n, "max", std::numeric_limits<float>::max());
      return unary(in(v, n, 0), [lo, hi](float x) { return std::min(std::max(x, lo), hi); });
    }
    if (op == "Softmax") return softmax(n, in(v, n, 0));
    if (op == "MaxPool" || op == "AveragePool") return pool(n, in(v, n, 0));
    if (op == "Pad") return pad(n, in(v, n, 0));
    if (op == "Reshape") return reshape(n, in(v, n, 0));
    if (op == "Flatten") {
      const Tensor& x = in(v, n, 0);
      int64_t axis = ai(n, "axis", 1);
      if (axis < 0) axis += int64_t(x.shape.size());
      int64_t outer = 1;
      for (int64_t i = 0; i < axis; ++i) outer *= x.shape[size_t(i)];
      return Tensor({outer, outer ? x.size() / outer : 0}, x.data);
    }
    if (op == "Squeeze") return squeeze(n, in(v, n, 0));
    if (op == "Concat") {
      std::vector<const Tensor*> xs;
      for (size_t i = 0; i < n.in.size(); ++i) xs.push_back(&in(v, n, i));
      return concat(n, xs);
    }
    if (op == "Transpose") return transpose(in(v, n, 0), ais(n, "perm"));
    if (op == "ReduceMean" || op == "ReduceSum" || op == "ReduceMax") return reduce(n, in(v, n, 0), op);
    throw Error(ErrorKind::Unsupported, "reference: op " + op);
  }

  static Tensor unary(const Tensor& x, const std::function<float(float)>& f) {
    Tensor y = x;
    for (auto& e : y.data) e = f(e);
    return y;
  }

  // numpy-style broadcasting
  static Tensor binary(const Tensor& a, const Tensor& b, const std::function<float(float, float)>& f) {
    size_t r = std::max(a.shape.size(), b.shape.size());
    Shape sa(r, 1), sb(r, 1), so(r, 1);
    std::copy(a.shape.begin(), a.shape.end(), sa.begin() + long(r - a.shape.size()));
    std::copy(b.shape.begin(), b.shape.end(), sb.begin() + long(r - b.shape.size()));
    for (size_t i = 0; i < r; ++i) {
      if (sa[i] != sb[i] && sa[i] != 1 && sb[i] != 1)
        throw Error(ErrorKind::InvalidArgument,
                    "shapes " + shape_to_string(a.shape) + " and " + shape_to_string(b.shape) + " do not broadcast");
      so[i] = std::max(sa[i], sb[i]);
    }
    Tensor y(so);
    Shape idx(r, 0);
    int64_t total = numel(so);
    for (int64_t k = 0; k < total; ++k) {
      int64_t rem = k, ia = 0, ib = 0, stride_a = 1, stride_b = 1;
      for (size_t d = r; d-- > 0;) {
        int64_t i = rem % so[d];
        rem /= so[d];
        ia += (sa[d] == 1 ? 0 : i) * stride_a;
        ib += (sb[d] == 1 ? 0 : i) * stride_b;
        stride_a *= sa[d];
        stride_b *= sb[d];
      }
      y.data[size_t(k)] = f(a.data[size_t(ia)], b.data[size_t(ib)]);
    }
    return y;
  }

  static Tensor conv(const Node& n, const Tensor& x, const Tensor& w, const Tensor* b) {
    if (x.shape.size() != 4 || w.shape.size() != 4) throw Error(ErrorKind::Unsupported, "reference Conv: 2-D only");
    int64_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3];
    int64_t M = w.shape[0], CG = w.shape[1], KH = w.shape[2], KW = w.shape[3];
    int64_t g = ai(n, "group", 1);
    auto st = ais(n, "strides", {1, 1});
    auto dl = ais(n, "dilations", {1, 1});
    auto p = ais(n, "pads", {0, 0, 0, 0});
    if (C != CG * g)
      throw Error(ErrorKind::InvalidArgument, "Conv: channels " + std::to_string(C) + " != " + std::to_string(CG) +
                                                  " x group " + std::to_string(g));
    int64_t OH = (H + p[0] + p[2] - ((KH - 1) * dl[0] + 1)) / st[0] + 1;
    int64_t OW = (W + p[1] + p[3] - ((KW - 1) * dl[1] + 1)) / st[1] + 1;
    Tensor y({N, M, OH, OW});
    int64_t MG = M / g;
    for (int64_t nn = 0; nn < N; ++nn)
      for (int64_t m = 0; m < M; ++m) {
        int64_t grp = m / MG;
        for (int64_t oy = 0; oy < OH; ++oy)
          for (int64_t ox = 0; ox < OW; ++ox) {
            double acc = b ? b->data[size_t(m)] : 0.0;
            for (int64_t c = 0; c < CG; ++c)
              for (int64_t ky = 0; ky < KH; ++ky) {
                int64_t iy = oy * st[0] - p[0] + ky * dl[0];
                if (iy < 0 || iy >= H) continue;
                for (int64_t kx = 0; kx < KW; ++kx) {
                  int64_t ix = ox * st[1] - p[1] + kx * dl[1];
                  if (ix < 0 || ix >= W) continue;
                  acc += double(x.data[size_t(((nn * C + grp * CG + c) * H + iy) * W + ix)]) *
                         double(w.data[size_t(((m * CG + c) * KH + ky) * KW + kx)]);
                }
              }
            y.data[size_t(((nn * M + m) * OH + oy) * OW + ox)] = float(acc);
          }
      }
    return y;
  }

  static Tensor gemm(const Node& n, const Tensor& a, const Tensor& b, const Tensor* c) {
    if (a.shape.size() != 2 || b.shape.size() != 2)
      throw Error(ErrorKind::Unsupported, "reference Gemm/MatMul: 2-D only");
    bool ta = ai(n, "transA", 0) != 0, tb = ai(n, "transB", 0) != 0;
    float alpha = af(n, "alpha", 1.f), beta = af(n, "beta", 1.f);
    int64_t M = ta ? a.shape[1] : a.shape[0], K = ta ? a.shape[0] : a.shape[1];
    int64_t Kb = tb ? b.shape[1] : b.shape[0], N = tb ? b.shape[0] : b.shape[1];
    if (K != Kb) throw Error(ErrorKind::InvalidArgument, "Gemm: inner dimensions differ");
    Tensor y({M, N});
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) {
        double acc = 0;
        for (int64_t k = 0; k < K; ++k)
          acc +=
              double(a.data[size_t(ta ? k * M + i : i * K + k)]) * double(b.data[size_t(tb ? j * K + k : k * N + j)]);
        double bias = 0;
        if (c) bias = c->size() == 1 ? c->data[0] : c->size() == N ? c->data[size_t(j)] : c->data[size_t(i * N + j)];
        y.data[size_t(i * N + j)] = float(alpha * acc + beta * bias);
      }
    return y;
  }

  static Tensor softmax(const Node& n, const Tensor& x) {  // opset < 13: flatten at axis
    int64_t axis = ai(n, "axis", 1);
    if (axis < 0) axis += int64_t(x.shape.size());
    int64_t outer = 1;
    for (int64_t i = 0; i < axis; ++i) outer *= x.shape[size_t(i)];
    int64_t inner = outer ? x.size() / outer : 0;
    Tensor y = x;
    for (int64_t o = 0; o < outer; ++o) {
      float* p = y.data.data() + o * inner;
      float mx = *std::max_element(p, p + inner);
      double s = 0;
      for (int64_t i = 0; i < inner; ++i) s += std::exp(double(p[i] - mx));
      for (int64_t i = 0; i < inner; ++i) p[i] = float(std::exp(double(p[i] - mx)) / s);
    }
    return y;
  }

  static Tensor pool(const Node& n, const Tensor& x) {
    bool is_max = n.op == "MaxPool";
    auto k = ais(n, "kernel_shape");
    auto st = ais(n, "strides", {1, 1});
    auto p = ais(n, "pads", {0, 0, 0, 0});
    if (ai(n, "ceil_mode", 0) != 0) throw Error(ErrorKind::Unsupported, "reference pool: ceil_mode");
    bool include_pad = ai(n, "count_include_pad", 0) != 0;
    int64_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3];
    int64_t OH = (H + p[0] + p[2] - k[0]) / st[0] + 1, OW = (W + p[1] + p[3] - k[1]) / st[1] + 1;
    Tensor y({N, C, OH, OW});
    for (int64_t nc = 0; nc < N * C; ++nc)
      for (int64_t oy = 0; oy < OH; ++oy)
        for (int64_t ox = 0; ox < OW; ++ox) {
          double acc = is_max ? -std::numeric_limits<double>::infinity() : 0.0;
          int64_t count = 0;
          for (int64_t ky = 0; ky < k[0]; ++ky)
            for (int64_t kx = 0; kx < k[1]; ++kx) {
              int64_t iy = oy * st[0] - p[0] + ky, ix = ox * st[1] - p[1] + kx;
              if (iy < 0 || iy >= H || ix < 0 || ix >= W) {
                if (include_pad) ++count;
                continue;
              }
              float v = x.data[size_t((nc * H + iy) * W + ix)];
              acc = is_max ? std::max(acc, double(v)) : acc + v;
              ++count;
            }
          y.data[size_t((nc * OH + oy) * OW + ox)] = float(is_max ? acc : (count ? acc / double(count) : 0.0));
        }
    return y;
  }

  static Tensor pad(const Node& n, const Tensor& x) {
    auto it = n.attr.find("mode");
    if (it != n.attr.end() && it->second->s() != "constant")
      throw Error(ErrorKind::Unsupported, "reference Pad: mode " + it->second->s());
    auto p = ais(n, "pads");
    float value = af(n, "value", 0.f);
    size_t r = x.shape.size();
    if (p.size() != 2 * r) throw Error(ErrorKind::InvalidArgument, "Pad: pads size");
    Shape so(r);
    for (size_t d = 0; d < r; ++d) so[d] = x.shape[d] + p[d] + p[r + d];
    Tensor y(so);
    std::fill(y.data.begin(), y.data.end(), value);
    int64_t total = x.size();
    for (int64_t k = 0; k < total; ++k) {
      int64_t rem = k, off = 0, stride = 1;
      for (size_t d = r; d-- > 0;) {
        int64_t i = rem % x.shape[d];
        rem /= x.shape[d];
        off += (i + p[d]) * stride;
        stride *= so[d];
      }
      y.data[size_t(off)] = x.data[size_t(k)];
    }
    return y;
  }

  Tensor reshape(const Node& n, const Tensor& x) {
    auto it = m_->ints.find(n.in.at(1));
    if (it == m_->ints.end())
      throw Error(ErrorKind::Unsupported, "reference Reshape: the shape must be an int64 initializer");
    Shape s = it->second;
    int64_t known = 1, unknown = -1;
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] == 0) s[i] = x.shape.at(i);
      if (s[i] == -1)
        unknown = int64_t(i);
      else
        known *= s[i];
    }
    if (unknown >= 0) s[size_t(unknown)] = known ? x.size() / known : 0;
    if (numel(s) != x.size())
      throw Error(ErrorKind::InvalidArgument, "Reshape: " + shape_to_string(x.shape) + " to " + shape_to_string(s));
    return Tensor(s, x.data);
  }

  static Tensor squeeze(const Node& n, const Tensor& x) {
    auto axes = ais(n, "axes");
    int64_t r = int64_t(x.shape.size());
    for (auto& a : axes) a = a < 0 ? a + r : a;
    Shape s;
    for (int64_t i = 0; i < r; ++i) {
      bool drop = axes.empty() ? x.shape[size_t(i)] == 1 : std::find(axes.begin(), axes.end(), i) != axes.end();
      if (drop && x.shape[size_t(i)] != 1)
        throw Error(ErrorKind::InvalidArgument, "Squeeze of a dimension that is not 1");
      if (!drop) s.push_back(x.shape[size_t(i)]);
    }
    return Tensor(s, x.data);
  }

  static Tensor concat(const Node& n, const std::vector<const Tensor*>& xs) {
    int64_t r = int64_t(xs[0]->shape.size());
    int64_t axis = ai(n, "axis", 0);
    if (axis < 0) axis += r;
    Shape so = xs[0]->shape;
    so[size_t(axis)] = 0;
    for (auto* x : xs) so[size_t(axis)] += x->shape[size_t(axis)];
    int64_t outer = 1, inner = 1;
    for (int64_t i = 0; i < axis; ++i) outer *= so[size_t(i)];
    for (int64_t i = axis + 1; i < r; ++i) inner *= so[size_t(i)];
    Tensor y(so);
    int64_t off = 0;
    for (auto* x : xs) {
      int64_t len = x->shape[size_t(axis)] * inner;
      for (int64_t o = 0; o < outer; ++o)
        std::copy_n(x->data.begin() + o * len, len, y.data.begin() + o * so[size_t(axis)] * inner + off);
      off += len;
    }
    return y;
  }

  static Tensor transpose(const Tensor& x, Shape perm) {
    size_t r = x.shape.size();
    if (perm.empty()) {
      perm.resize(r);
      for (size_t i = 0; i < r; ++i) perm[i] = int64_t(r - 1 - i);
    }
    Shape so(r), stride_in(r, 1);
    for (size_t i = r - 1; i-- > 0;) stride_in[i] = stride_in[i + 1] * x.shape[i + 1];
    for (size_t i = 0; i < r; ++i) so[i] = x.shape[size_t(perm[i])];
    Tensor y(so);
    int64_t total = x.size();
    for (int64_t k = 0; k < total; ++k) {
      int64_t rem = k, src = 0;
      for (size_t d = r; d-- > 0;) {
        int64_t i = rem % so[d];
        rem /= so[d];
        src += i * stride_in[size_t(perm[d])];
      }
      y.data[size_t(k)] = x.data[size_t(src)];
    }
    return y;
  }

  static Tensor reduce(const Node& n, const Tensor& x, const std::string& op) {
    const bool mean = op == "ReduceMean", max = op == "ReduceMax";
    int64_t r = int64_t(x.shape.size());
    auto axes = ais(n, "axes");
    if (axes.empty())
      for (int64_t i = 0; i < r; ++i) axes.push_back(i);
    for (auto& a : axes) a = a < 0 ? a + r : a;
    bool keep = ai(n, "keepdims", 1) != 0;
    Shape kept = x.shape;
    for (auto a : axes) kept[size_t(a)] = 1;
    Tensor y(kept);
    std::vector<double> acc(size_t(numel(kept)), max ? -std::numeric_limits<double>::infinity() : 0.0);
    int64_t total = x.size();
    for (int64_t k = 0; k < total; ++k) {
      int64_t rem = k, dst = 0, stride = 1;
      for (int64_t d = r; d-- > 0;) {
        int64_t i = rem % x.shape[size_t(d)];
        rem /= x.shape[size_t(d)];
        dst += (kept[size_t(d)] == 1 ? 0 : i) * stride;
        stride *= kept[size_t(d)];
      }
      if (max)
        acc[size_t(dst)] = std::max(acc[size_t(dst)], double(x.data[size_t(k)]));
      else
        acc[size_t(dst)] += x.data[size_t(k)];
    }
    double count = double(x.size()) / double(std::max<int64_t>(numel(kept), 1));
    for (size_t i = 0; i < acc.size(); ++i) y.data[i] = float(mean ? acc[i] / count : acc[i]);
    if (!keep) {
      Shape s;
      for (int64_t i = 0; i < r; ++i)
        if (std::find(axes.begin(), axes.end(), i) == axes.end()) s.push_back(x.shape[size_t(i)]);
      y.shape = s;
    }
    return y;
  }
};

}  // namespace

void register_reference_backend() {
  register_backend("reference", [] { return std::make_unique<ReferenceBackend>(); });
}

}  // namespace facerec
