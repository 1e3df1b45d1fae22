// The reference ops: a direct loop over each definition in the ONNX operator docs, written to be
// read, not to be fast. The reference backend runs every node with them; optimised backends run the
// ops they do not implement themselves with them, and are tested against them op by op
// (tests/test_ops.cpp).
#include "backend/reference/reference_ops.hpp"

#include <facerec/error.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <numeric>

namespace facerec::detail {

bool reference_has_op(const std::string& op) {
  static const char* ops[] = {"Conv",
                              "Gemm",
                              "MatMul",
                              "Add",
                              "Sub",
                              "Mul",
                              "Div",
                              "Max",
                              "Min",
                              "PRelu",
                              "Relu",
                              "Sigmoid",
                              "Tanh",
                              "Abs",
                              "Sqrt",
                              "Reciprocal",
                              "Exp",
                              "Identity",
                              "LeakyRelu",
                              "Clip",
                              "Softmax",
                              "MaxPool",
                              "AveragePool",
                              "Pad",
                              "Reshape",
                              "Flatten",
                              "Squeeze",
                              "Concat",
                              "Transpose",
                              "ReduceMean",
                              "ReduceSum",
                              "ReduceMax",
                              "Less",
                              "Greater",
                              "Cast",
                              "QuantizeLinear",
                              "DequantizeLinear"};
  return std::find(std::begin(ops), std::end(ops), op) != std::end(ops);
}

namespace {

using Shape = std::vector<int64_t>;
using Node = OnnxNode;

int64_t numel(const Shape& s) {
  int64_t n = 1;
  for (auto d : s) n *= d;
  return n;
}

Tensor unary(const Tensor& x, const std::function<float(float)>& f) {
  Tensor y = x;
  for (auto& e : y.data) e = f(e);
  return y;
}

// numpy-style broadcasting
Tensor binary(const Tensor& a, const Tensor& b, const std::function<float(float, float)>& f) {
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

Tensor conv(const Node& n, const Tensor& x, const Tensor& w, const Tensor* b) {
  if (x.shape.size() != 4 || w.shape.size() != 4) throw Error(ErrorKind::Unsupported, "reference Conv: 2-D only");
  int64_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3];
  int64_t M = w.shape[0], CG = w.shape[1], KH = w.shape[2], KW = w.shape[3];
  int64_t g = n.attr_i("group", 1);
  auto st = n.attr_ints("strides", {1, 1});
  auto dl = n.attr_ints("dilations", {1, 1});
  auto p = n.attr_ints("pads", {0, 0, 0, 0});
  if (C != CG * g)
    throw Error(ErrorKind::InvalidArgument,
                "Conv: channels " + std::to_string(C) + " != " + std::to_string(CG) + " x group " + std::to_string(g));
  const auto [OH, OW] = conv_output_hw(H, W, KH, KW, st, dl, p);
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

Tensor gemm(const Node& n, const Tensor& a, const Tensor& b, const Tensor* c) {
  if (a.shape.size() != 2 || b.shape.size() != 2)
    throw Error(ErrorKind::Unsupported, "reference Gemm/MatMul: 2-D only");
  bool ta = n.attr_i("transA", 0) != 0, tb = n.attr_i("transB", 0) != 0;
  float alpha = n.attr_f("alpha", 1.f), beta = n.attr_f("beta", 1.f);
  int64_t M = ta ? a.shape[1] : a.shape[0], K = ta ? a.shape[0] : a.shape[1];
  int64_t Kb = tb ? b.shape[1] : b.shape[0], N = tb ? b.shape[0] : b.shape[1];
  if (K != Kb) throw Error(ErrorKind::InvalidArgument, "Gemm: inner dimensions differ");
  Tensor y({M, N});
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      double acc = 0;
      for (int64_t k = 0; k < K; ++k)
        acc += double(a.data[size_t(ta ? k * M + i : i * K + k)]) * double(b.data[size_t(tb ? j * K + k : k * N + j)]);
      double bias = 0;
      if (c) bias = c->size() == 1 ? c->data[0] : c->size() == N ? c->data[size_t(j)] : c->data[size_t(i * N + j)];
      y.data[size_t(i * N + j)] = float(alpha * acc + beta * bias);
    }
  return y;
}

Tensor softmax(const Node& n, const Tensor& x) {  // opset < 13: flatten at axis
  int64_t axis = n.attr_i("axis", 1);
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

Tensor pool(const Node& n, const Tensor& x) {
  bool is_max = n.op == "MaxPool";
  auto k = n.attr_ints("kernel_shape");
  auto st = n.attr_ints("strides", {1, 1});
  auto p = n.attr_ints("pads", {0, 0, 0, 0});
  if (n.attr_i("ceil_mode", 0) != 0) throw Error(ErrorKind::Unsupported, "reference pool: ceil_mode");
  bool include_pad = n.attr_i("count_include_pad", 0) != 0;
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

Tensor pad(const Node& n, const Tensor& x) {
  auto it = n.attr.find("mode");
  if (it != n.attr.end() && it->second->s() != "constant")
    throw Error(ErrorKind::Unsupported, "reference Pad: mode " + it->second->s());
  auto p = n.attr_ints("pads");
  float value = n.attr_f("value", 0.f);
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

Tensor reshape(const OnnxGraph& g, const Node& n, const Tensor& x) {
  auto it = g.ints.find(n.in.at(1));
  if (it == g.ints.end())
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

Tensor squeeze(const Node& n, const Tensor& x) {
  auto axes = n.attr_ints("axes");
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

Tensor concat(const Node& n, const std::vector<const Tensor*>& xs) {
  int64_t r = int64_t(xs[0]->shape.size());
  int64_t axis = n.attr_i("axis", 0);
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

Tensor transpose(const Tensor& x, Shape perm) {
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

Tensor reduce(const Node& n, const Tensor& x, const std::string& op) {
  const bool mean = op == "ReduceMean", max = op == "ReduceMax";
  int64_t r = int64_t(x.shape.size());
  auto axes = n.attr_ints("axes");
  if (axes.empty())
    for (int64_t i = 0; i < r; ++i) axes.push_back(i);
  for (auto& a : axes) {
    a = a < 0 ? a + r : a;
    if (a < 0 || a >= r)
      throw Error(ErrorKind::InvalidArgument, op + ": axis out of range for rank " + std::to_string(r));
  }
  bool keep = n.attr_i("keepdims", 1) != 0;
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

// QuantizeLinear: y = saturate(round_half_even(x / scale) + zero_point), to the zero point's type
// (uint8 when absent); DequantizeLinear: y = (x - zero_point) * scale. Integers are held as exact
// float values. A 1-D scale applies along `axis` (default 1).
Tensor quantize(const OnnxGraph& g, const Node& n, const std::vector<const Tensor*>& in) {
  const bool q = n.op == "QuantizeLinear";
  const Tensor& x = *in.at(0);
  const Tensor& scale = *in.at(1);
  const Tensor* zp = in.size() > 2 ? in[2] : nullptr;
  if (zp && zp->size() != scale.size())
    throw Error(ErrorKind::BadModel, n.op + " '" + n.name + "': scale and zero point differ in size");
  float lo = 0, hi = 255;
  if (q && n.in.size() > 2) {
    auto t = g.const_types.find(n.in[2]);
    if (t == g.const_types.end())
      throw Error(ErrorKind::Unsupported, "reference QuantizeLinear: the zero point must be a constant");
    if (t->second == onnx::TensorProto::INT8) {
      lo = -128;
      hi = 127;
    } else if (t->second != onnx::TensorProto::UINT8) {
      throw Error(ErrorKind::Unsupported, "reference QuantizeLinear: zero point type " + std::to_string(t->second));
    }
  }
  int64_t r = int64_t(x.shape.size()), axis = n.attr_i("axis", 1);
  if (axis < 0) axis += r;
  int64_t channels = 1, inner = 1;
  if (scale.size() > 1) {
    if (axis < 0 || axis >= r || x.shape[size_t(axis)] != scale.size())
      throw Error(ErrorKind::BadModel, n.op + " '" + n.name + "': " + std::to_string(scale.size()) +
                                           " scales do not match axis " + std::to_string(axis) + " of " +
                                           shape_to_string(x.shape));
    channels = scale.size();
    for (int64_t d = axis + 1; d < r; ++d) inner *= x.shape[size_t(d)];
  }
  Tensor y(x.shape);
  for (int64_t k = 0; k < x.size(); ++k) {
    size_t c = size_t((k / inner) % channels);
    float s = scale.data[c], z = zp ? zp->data[c] : 0.f;
    float v = x.data[size_t(k)];
    y.data[size_t(k)] = q ? std::clamp(std::nearbyint(v / s) + z, lo, hi) : (v - z) * s;
  }
  return y;
}

}  // namespace

Tensor reference_op(const OnnxGraph& g, const Node& n, const std::vector<const Tensor*>& in) {
  if (in.size() < n.in.size())
    throw Error(ErrorKind::Internal, "reference: node '" + n.name + "' got fewer inputs than it names");
  const std::string& op = n.op;
  if (op == "Conv") return conv(n, *in.at(0), *in.at(1), in.size() > 2 ? in[2] : nullptr);
  if (op == "Gemm") return gemm(n, *in.at(0), *in.at(1), in.size() > 2 ? in[2] : nullptr);
  if (op == "MatMul") {
    Node plain = n;
    plain.attr.clear();
    return gemm(plain, *in.at(0), *in.at(1), nullptr);
  }
  if (op == "Add") return binary(*in.at(0), *in.at(1), [](float a, float b) { return a + b; });
  if (op == "Sub") return binary(*in.at(0), *in.at(1), [](float a, float b) { return a - b; });
  if (op == "Mul") return binary(*in.at(0), *in.at(1), [](float a, float b) { return a * b; });
  if (op == "Div") return binary(*in.at(0), *in.at(1), [](float a, float b) { return a / b; });
  if (op == "Max") return binary(*in.at(0), *in.at(1), [](float a, float b) { return std::max(a, b); });
  if (op == "Min") return binary(*in.at(0), *in.at(1), [](float a, float b) { return std::min(a, b); });
  if (op == "PRelu") return binary(*in.at(0), *in.at(1), [](float x, float s) { return x < 0 ? x * s : x; });
  if (op == "Relu") return unary(*in.at(0), [](float x) { return x > 0 ? x : 0.f; });
  if (op == "Sigmoid") return unary(*in.at(0), [](float x) { return 1.f / (1.f + std::exp(-x)); });
  if (op == "Tanh") return unary(*in.at(0), [](float x) { return std::tanh(x); });
  if (op == "Abs") return unary(*in.at(0), [](float x) { return std::abs(x); });
  if (op == "Sqrt") return unary(*in.at(0), [](float x) { return std::sqrt(x); });
  if (op == "Reciprocal") return unary(*in.at(0), [](float x) { return 1.f / x; });
  if (op == "Exp") return unary(*in.at(0), [](float x) { return std::exp(x); });
  if (op == "Identity") return *in.at(0);
  // Comparisons hold their booleans as float 0/1 (every value here is float), so a Cast to
  // float is the value itself; a Cast to anything else is refused.
  if (op == "Less") return binary(*in.at(0), *in.at(1), [](float a, float b) { return a < b ? 1.f : 0.f; });
  if (op == "Greater") return binary(*in.at(0), *in.at(1), [](float a, float b) { return a > b ? 1.f : 0.f; });
  if (op == "Cast") {
    if (n.attr_i("to", 0) != onnx::TensorProto::FLOAT)
      throw Error(ErrorKind::Unsupported,
                  "reference backend: Cast to type " + std::to_string(n.attr_i("to", 0)) + " (only to float)");
    return *in.at(0);
  }
  if (op == "LeakyRelu") {
    float a = n.attr_f("alpha", 0.01f);
    return unary(*in.at(0), [a](float x) { return x < 0 ? a * x : x; });
  }
  if (op == "Clip") {
    float lo = n.attr_f("min", std::numeric_limits<float>::lowest());
    float hi = n.attr_f("max", std::numeric_limits<float>::max());
    return unary(*in.at(0), [lo, hi](float x) { return std::min(std::max(x, lo), hi); });
  }
  if (op == "QuantizeLinear" || op == "DequantizeLinear") return quantize(g, n, in);
  if (op == "Softmax") return softmax(n, *in.at(0));
  if (op == "MaxPool" || op == "AveragePool") return pool(n, *in.at(0));
  if (op == "Pad") return pad(n, *in.at(0));
  if (op == "Reshape") return reshape(g, n, *in.at(0));
  if (op == "Flatten") {
    const Tensor& t = *in.at(0);
    int64_t axis = n.attr_i("axis", 1);
    if (axis < 0) axis += int64_t(t.shape.size());
    int64_t outer = 1;
    for (int64_t i = 0; i < axis; ++i) outer *= t.shape[size_t(i)];
    return Tensor({outer, outer ? t.size() / outer : 0}, t.data);
  }
  if (op == "Squeeze") return squeeze(n, *in.at(0));
  if (op == "Concat") {
    return concat(n, in);
  }
  if (op == "Transpose") return transpose(*in.at(0), n.attr_ints("perm"));
  if (op == "ReduceMean" || op == "ReduceSum" || op == "ReduceMax") return reduce(n, *in.at(0), op);
  throw Error(ErrorKind::Unsupported, "reference: op " + op);
}

}  // namespace facerec::detail
