// face-api weights-manifest networks -> ONNX.
//
// face-api keeps the architecture in JavaScript and ships only weights; the graphs below follow
// the layer sequence its code defines (facts about the architecture, written here in C++):
//
// face_recognition (the dlib ResNet-29 port; 150x150 RGB, (x - mean) / 255):
//   convDown 7x7/2 valid + scale + relu (32) -> maxpool 3/2 valid
//   -> residual x3 (32) -> residualDown (64) + residual x3 -> residualDown (128) + residual x2
//   -> residualDown (256) + residual x2 -> residualDown (256) -> mean over H,W -> fc 256x128
//   residual:     relu(scale(conv3x3(relu(scale(conv3x3(x))))) + x)
//   residualDown: relu(scale(conv3x3(relu(scale(conv3x3/2 valid(x))))) [zero row/col appended at
//                 the bottom/right when smaller] + avgpool2/2(x) [zero channels appended when fewer])
//   "scale" is a per-channel multiply-add; it is folded into the convolution weights here.
//
// face_landmark_68 (112x112 RGB, (x - mean) / 255):
//   4 dense blocks (first conv of block 0 is a plain 3x3/2 conv, the others separable 3x3/2)
//   -> avgpool 7/2 valid -> flatten -> fc 256x136; output: 68 (x, y) pairs relative to the input.
//   denseBlock: o1 = relu(c0(x)); o2 = c1(o1); o3 = c2(relu(o1+o2)); o4 = c3(relu(o1+o2+o3));
//               out = relu(o1+o2+o3+o4); separable convs use TF 'same' padding.

#include "import/import_guard.hpp"
#include "import/onnx/onnx_builder.hpp"
#include "import/tfjs/weights.hpp"

#include "common/fs.hpp"

#include <facerec/error.hpp>
#include <facerec/import/import.hpp>
#include <facerec/models.hpp>
#include <facerec/tensor.hpp>

#include <nlohmann/json.hpp>

#include <set>

namespace facerec {
namespace {

using detail::OnnxBuilder;
using detail::WeightTensor;
using Shape = std::vector<int64_t>;

struct T {  // a value in NCHW, with its static shape (batch as 1)
  std::string name;
  int64_t c = 0, h = 0, w = 0;
};

class NetWriter {
 public:
  NetWriter(OnnxBuilder& b, const std::map<std::string, WeightTensor>& weights, ImportReport& report)
      : b_(b), w_(weights), report_(report) {}

  const WeightTensor& weight(const std::string& name, size_t rank) {
    auto it = w_.find(name);
    if (it == w_.end()) throw Error(ErrorKind::BadModel, "face-api weights lack '" + name + "'");
    if (it->second.shape.size() != rank || it->second.is_int)
      throw Error(ErrorKind::BadModel, "face-api weight '" + name + "' has shape " + shape_to_string(it->second.shape) +
                                           ", expected rank " + std::to_string(rank));
    used_.insert(name);
    return it->second;
  }

  void check_all_used() const {
    for (const auto& [k, v] : w_)
      if (!used_.count(k)) throw Error(ErrorKind::BadModel, "face-api weights hold an unexpected tensor '" + k + "'");
  }

  // TF 'same'/'valid' convolution from HWIO weights (or depthwise H W C 1), bias optional,
  // optional per-channel scale (multiply then add) folded into weights and bias.
  T conv(const T& x, const WeightTensor& f, const std::vector<float>* bias, int64_t stride, bool same, bool depthwise,
         const std::string& hint, const std::vector<float>* scale_w = nullptr,
         const std::vector<float>* scale_b = nullptr) {
    int64_t KH = f.shape[0], KW = f.shape[1], CI = f.shape[2], M = f.shape[3];
    if (CI != x.c)
      throw Error(ErrorKind::BadModel,
                  hint + ": filter expects " + std::to_string(CI) + " channels, input has " + std::to_string(x.c));
    int64_t CO = depthwise ? CI * M : M;
    std::vector<float> wt(f.f.size());
    for (int64_t h = 0; h < KH; ++h)
      for (int64_t w = 0; w < KW; ++w)
        for (int64_t c = 0; c < CI; ++c)
          for (int64_t m = 0; m < M; ++m) {
            float v = f.f[size_t(((h * KW + w) * CI + c) * M + m)];
            if (depthwise)
              wt[size_t(((c * M + m) * KH + h) * KW + w)] = v;
            else
              wt[size_t(((m * CI + c) * KH + h) * KW + w)] = v;
          }
    std::vector<float> b(size_t(CO), 0.f);
    if (bias) {
      if (int64_t(bias->size()) != CO) throw Error(ErrorKind::BadModel, hint + ": bias size mismatch");
      b = *bias;
    }
    if (scale_w) {
      size_t per = wt.size() / size_t(CO);
      for (int64_t o = 0; o < CO; ++o) {
        float s = (*scale_w)[size_t(o)];
        for (size_t q = 0; q < per; ++q) wt[size_t(o) * per + q] *= s;
        b[size_t(o)] = b[size_t(o)] * s + (*scale_b)[size_t(o)];
      }
      ++report_.folded_patterns;
    }
    auto pads = [&](int64_t in, int64_t k) -> std::pair<int64_t, int64_t> {
      if (!same) return {0, 0};
      int64_t out = (in + stride - 1) / stride;
      int64_t total = std::max<int64_t>((out - 1) * stride + k - in, 0);
      return {total / 2, total - total / 2};
    };
    auto [pt, pb] = pads(x.h, KH);
    auto [pl, pr] = pads(x.w, KW);
    std::vector<std::string> ins = {
        x.name, b_.initializer(hint + "/W", depthwise ? Shape{CO, 1, KH, KW} : Shape{CO, CI, KH, KW}, wt)};
    if (bias || scale_w) ins.push_back(b_.initializer(hint + "/B", {CO}, b));
    detail::Attrs attrs = {
        {"kernel_shape", Shape{KH, KW}}, {"strides", Shape{stride, stride}}, {"pads", Shape{pt, pl, pb, pr}}};
    if (depthwise) attrs.push_back({"group", CI});
    T y;
    y.c = CO;
    y.h = (x.h + pt + pb - KH) / stride + 1;
    y.w = (x.w + pl + pr - KW) / stride + 1;
    y.name = b_.node("Conv", ins, hint, attrs);
    return y;
  }

  T unary(const std::string& op, const T& x, const std::string& hint) {
    T y = x;
    y.name = b_.node(op, {x.name}, hint);
    return y;
  }
  T add(const T& a, const T& c, const std::string& hint) {
    if (a.c != c.c || a.h != c.h || a.w != c.w) throw Error(ErrorKind::Internal, hint + ": shapes differ");
    T y = a;
    y.name = b_.node("Add", {a.name, c.name}, hint);
    return y;
  }
  T pool(const std::string& op, const T& x, int64_t k, int64_t s, const std::string& hint) {
    T y = x;
    y.h = (x.h - k) / s + 1;
    y.w = (x.w - k) / s + 1;
    y.name = b_.node(op, {x.name}, hint,
                     {{"kernel_shape", Shape{k, k}}, {"strides", Shape{s, s}}, {"pads", Shape{0, 0, 0, 0}}});
    return y;
  }
  T pad(const T& x, int64_t c_end, int64_t h_end, int64_t w_end, const std::string& hint) {
    T y = x;
    y.c += c_end;
    y.h += h_end;
    y.w += w_end;
    y.name = b_.node(
        "Pad", {x.name}, hint,
        {{"mode", std::string("constant")}, {"pads", Shape{0, 0, 0, 0, 0, c_end, h_end, w_end}}, {"value", 0.f}});
    return y;
  }
  std::string gemm(const std::string& x, const WeightTensor& w, const std::vector<float>* bias,
                   const std::string& hint) {
    int64_t K = w.shape[0], M = w.shape[1];
    std::vector<float> t(w.f.size());
    for (int64_t k = 0; k < K; ++k)
      for (int64_t m = 0; m < M; ++m) t[size_t(m * K + k)] = w.f[size_t(k * M + m)];
    std::vector<float> b = bias ? *bias : std::vector<float>(size_t(M), 0.f);
    return b_.node("Gemm", {x, b_.initializer(hint + "/W", {M, K}, t), b_.initializer(hint + "/B", {M}, b)}, hint,
                   {{"transB", int64_t(1)}});
  }

  OnnxBuilder& b() { return b_; }

 private:
  OnnxBuilder& b_;
  const std::map<std::string, WeightTensor>& w_;
  ImportReport& report_;
  std::set<std::string> used_;
};

// conv + folded scale (+ relu)
T conv_layer(NetWriter& n, const T& x, const std::string& p, int64_t stride, bool same, bool relu) {
  const auto& f = n.weight(p + "/conv/filters", 4);
  const auto& bias = n.weight(p + "/conv/bias", 1).f;
  const auto& sw = n.weight(p + "/scale/weights", 1).f;
  const auto& sb = n.weight(p + "/scale/biases", 1).f;
  T y = n.conv(x, f, &bias, stride, same, false, p, &sw, &sb);
  return relu ? n.unary("Relu", y, p + "/relu") : y;
}

T residual(NetWriter& n, const T& x, const std::string& p) {
  T o = conv_layer(n, x, p + "/conv1", 1, true, true);
  o = conv_layer(n, o, p + "/conv2", 1, true, false);
  return n.unary("Relu", n.add(o, x, p + "/add"), p + "/out");
}

T residual_down(NetWriter& n, const T& x, const std::string& p) {
  T o = conv_layer(n, x, p + "/conv1", 2, false, true);
  o = conv_layer(n, o, p + "/conv2", 1, true, false);
  T pooled = n.pool("AveragePool", x, 2, 2, p + "/pool");
  if (pooled.h != o.h || pooled.w != o.w) o = n.pad(o, 0, pooled.h - o.h, pooled.w - o.w, p + "/pad_hw");
  if (pooled.c != o.c) pooled = n.pad(pooled, o.c - pooled.c, 0, 0, p + "/pad_c");
  return n.unary("Relu", n.add(pooled, o, p + "/add"), p + "/out");
}

std::string build_face_recognition(NetWriter& n, ImportReport& report) {
  n.b().input("input", {-1, 3, 150, 150});
  report.input_names.push_back("input");
  T x{"input", 3, 150, 150};
  T out = conv_layer(n, x, "conv32_down", 2, false, true);
  out = n.pool("MaxPool", out, 3, 2, "pool");
  for (const char* p : {"conv32_1", "conv32_2", "conv32_3"}) out = residual(n, out, p);
  out = residual_down(n, out, "conv64_down");
  for (const char* p : {"conv64_1", "conv64_2", "conv64_3"}) out = residual(n, out, p);
  out = residual_down(n, out, "conv128_down");
  for (const char* p : {"conv128_1", "conv128_2"}) out = residual(n, out, p);
  out = residual_down(n, out, "conv256_down");
  for (const char* p : {"conv256_1", "conv256_2"}) out = residual(n, out, p);
  out = residual_down(n, out, "conv256_down_out");
  std::string mean =
      n.b().node("ReduceMean", {out.name}, "global_avg", {{"axes", Shape{2, 3}}, {"keepdims", int64_t(0)}});
  const auto& fc = n.weight("fc", 2);
  if (fc.shape[0] != out.c) throw Error(ErrorKind::BadModel, "fc expects " + std::to_string(fc.shape[0]) + " inputs");
  std::string y = n.gemm(mean, fc, nullptr, "fc");
  n.b().rename_output(y, "descriptor");
  n.b().output("descriptor", {-1, fc.shape[1]});
  return "descriptor";
}

T separable(NetWriter& n, const T& x, const std::string& p, int64_t stride) {
  const auto& dw = n.weight(p + "/depthwise_filter", 4);
  const auto& pw = n.weight(p + "/pointwise_filter", 4);
  const auto& bias = n.weight(p + "/bias", 1).f;
  T d = n.conv(x, dw, nullptr, stride, true, true, p + "/dw");
  return n.conv(d, pw, &bias, 1, true, false, p + "/pw");
}

T dense_block4(NetWriter& n, const T& x, const std::string& p, bool first) {
  T o1;
  if (first) {
    const auto& f = n.weight(p + "/conv0/filters", 4);
    const auto& b = n.weight(p + "/conv0/bias", 1).f;
    o1 = n.conv(x, f, &b, 2, true, false, p + "/conv0");
  } else {
    o1 = separable(n, x, p + "/conv0", 2);
  }
  o1 = n.unary("Relu", o1, p + "/relu0");
  T o2 = separable(n, o1, p + "/conv1", 1);
  T s12 = n.add(o1, o2, p + "/add12");
  T o3 = separable(n, n.unary("Relu", s12, p + "/relu1"), p + "/conv2", 1);
  T s123 = n.add(s12, o3, p + "/add123");
  T o4 = separable(n, n.unary("Relu", s123, p + "/relu2"), p + "/conv3", 1);
  return n.unary("Relu", n.add(s123, o4, p + "/add1234"), p + "/out");
}

std::string build_landmark68(NetWriter& n, ImportReport& report) {
  n.b().input("input", {-1, 3, 112, 112});
  report.input_names.push_back("input");
  T x{"input", 3, 112, 112};
  x = dense_block4(n, x, "dense0", true);
  x = dense_block4(n, x, "dense1", false);
  x = dense_block4(n, x, "dense2", false);
  x = dense_block4(n, x, "dense3", false);
  x = n.pool("AveragePool", x, 7, 2, "avgpool");
  if (x.h != 1 || x.w != 1) throw Error(ErrorKind::Internal, "landmark68: unexpected pooled size");
  std::string flat = n.b().node("Flatten", {x.name}, "flatten", {{"axis", int64_t(1)}});
  const auto& fc = n.weight("fc/weights", 2);
  const auto& fb = n.weight("fc/bias", 1).f;
  std::string y = n.gemm(flat, fc, &fb, "fc");
  n.b().rename_output(y, "landmarks");
  n.b().output("landmarks", {-1, fc.shape[1]});
  return "landmarks";
}

ImportReport import_faceapi_unguarded(const std::filesystem::path& weights_manifest, const std::string& arch,
                                      const std::filesystem::path& onnx_out) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(detail::read_file(weights_manifest));
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorKind::BadModel, weights_manifest.string() + ": not valid JSON: " + e.what());
  }
  std::map<std::string, WeightTensor> weights;
  try {
    weights = detail::load_weights(j, weights_manifest.parent_path());
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorKind::BadModel, weights_manifest.string() + ": malformed manifest: " + e.what());
  }
  ImportReport report;
  report.nodes_in = int(weights.size());
  OnnxBuilder b("faceapi_" + arch);
  NetWriter n(b, weights, report);
  std::string out;
  if (arch == "face_recognition")
    out = build_face_recognition(n, report);
  else if (arch == "face_landmark_68")
    out = build_landmark68(n, report);
  else
    throw Error(ErrorKind::Unsupported,
                "face-api architecture '" + arch + "' is not supported (face_recognition, face_landmark_68)");
  n.check_all_used();
  report.output_names.push_back(out);
  b.prune();
  b.set_doc("faceapi-weights",
            "imported by facerec from " + weights_manifest.filename().string() + " (architecture " + arch + ")");
  report.nodes_out = b.node_count();
  detail::write_file_atomic(onnx_out, b.serialize());
  return report;
}

}  // namespace

ImportReport import_faceapi(const std::filesystem::path& weights_manifest, const std::string& arch,
                            const std::filesystem::path& onnx_out) {
  return detail::guard_import(weights_manifest,
                              [&] { return import_faceapi_unguarded(weights_manifest, arch, onnx_out); });
}

}  // namespace facerec
