// The oneDNN backend ("onednn"): runs an ONNX graph with oneDNN 2.6 primitives (Debian's libdnnl,
// OpenMP runtime, JIT kernels picked for the CPU at run time: avx2 here, avx512/VNNI/AMX elsewhere).
//
// How it runs a graph: the first run() at a given set of input shapes traces the graph node by
// node and builds a plan — primitives created once, every value's memory allocated once in the
// layout oneDNN chose (blocked, e.g. nChw8c, between convolutions), weights reordered once; later
// runs at those shapes replay the plan. A convolution absorbs the ops that follow it when its output
// has no other reader: ReLU/LeakyReLU/Clip/Sigmoid/Tanh (eltwise post-ops), PReLU (prelu post-op),
// Add/Mul by a per-channel or scalar constant (binary post-op) and the residual Add of a tensor
// already computed (sum post-op). When oneDNN would run a fusion only with its slow reference
// kernel, the conv is created without it and the op runs on its own.
//
// Native ops: Conv, Gemm/MatMul with constant weights (inner product), the eltwise ops, PRelu,
// Add/Sub/Mul/Div/Max/Min (binary, the second input broadcast), MaxPool/AveragePool, Concat,
// Identity. Int8: a QDQ model (DequantizeLinear on int8 weights, QuantizeLinear→DequantizeLinear on
// a conv's input, as `facerec models quantize` writes them) runs those convs as u8/s8 x s8 int8
// convolutions with fp32 output. Every other op (Reshape, Flatten, Pad, Softmax, Transpose, …) and
// every case a native op does not cover (a broadcast first input, transA, …) runs with the
// reference ops on plain tensors — correct, unoptimised; `onednn.fallbacks` in the trace log names
// them.
//
// Options: threads (0 = OpenMP's default; the count is set for the calling thread around each run
// and restored after, so it holds per instance); precision FP32, or BF16 — convolutions and inner
// products take bf16 inputs and weights (the input reordered to bf16 before each), accumulate and
// write fp32, everything else stays fp32; a conv shape without a native bf16 kernel stays fp32.
// BF16 needs AVX512-BF16 (read at run time; Unsupported elsewhere); the name "onednn-bf16" is this
// backend with BF16 forced, registered only on such CPUs. An int8 model is int8 whatever is asked;
// INT8 on an fp32 model is Unsupported: quantise it first. extra["verbose"]="1" prints the plan
// (kernel chosen per primitive) to stderr when it is built.
// Thread safety: as InferenceBackend; sessions share the parsed graph and build their own plans.
#include <facerec/backend.hpp>
#include <facerec/error.hpp>

#include "backend/onnx_graph.hpp"
#include "backend/plan_cache.hpp"
#include "backend/reference/reference_ops.hpp"

#include <omp.h>
#include <oneapi/dnnl/dnnl.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <deque>
#include <functional>
#include <list>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>

namespace facerec {
namespace {

using detail::OnnxGraph;
using detail::OnnxNode;
using Shape = std::vector<int64_t>;
using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;

dnnl::engine& cpu() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

tag plain_tag(size_t rank) {
  switch (rank) {
    case 1:
      return tag::a;
    case 2:
      return tag::ab;
    case 3:
      return tag::abc;
    case 4:
      return tag::abcd;
    case 5:
      return tag::abcde;
    default:
      throw Error(ErrorKind::Unsupported, "onednn: tensors of rank " + std::to_string(rank));
  }
}

dnnl::memory::desc plain_md(const Shape& s, dt type = dt::f32) {
  return dnnl::memory::desc(dnnl::memory::dims(s.begin(), s.end()), type, plain_tag(s.size()));
}

bool is_eltwise(const std::string& op) {
  static const std::set<std::string> ops = {"Relu", "LeakyRelu", "Clip", "Sigmoid",   "Tanh",
                                            "Abs",  "Sqrt",      "Exp",  "Reciprocal"};
  return ops.count(op) > 0;
}

bool native(const std::string& op) {
  static const std::set<std::string> ops = {"Conv",     "Gemm",    "MatMul",      "PRelu",  "Add",
                                            "Sub",      "Mul",     "Div",         "Max",    "Min",
                                            "Identity", "MaxPool", "AveragePool", "Concat", "Pad"};
  return ops.count(op) > 0 || is_eltwise(op);
}

// oneDNN's eltwise algorithm and parameters for an ONNX activation.
void eltwise_of(const OnnxNode& n, dnnl::algorithm& alg, float& alpha, float& beta) {
  alpha = 0.f;
  beta = 0.f;
  const std::string& op = n.op;
  if (op == "Relu") {
    alg = dnnl::algorithm::eltwise_relu;
  } else if (op == "LeakyRelu") {
    alg = dnnl::algorithm::eltwise_relu;
    alpha = n.attr_f("alpha", 0.01f);
  } else if (op == "Clip") {
    alg = dnnl::algorithm::eltwise_clip;
    alpha = n.attr_f("min", std::numeric_limits<float>::lowest());
    beta = n.attr_f("max", std::numeric_limits<float>::max());
  } else if (op == "Sigmoid") {
    alg = dnnl::algorithm::eltwise_logistic;
  } else if (op == "Tanh") {
    alg = dnnl::algorithm::eltwise_tanh;
  } else if (op == "Abs") {
    alg = dnnl::algorithm::eltwise_abs;
  } else if (op == "Sqrt") {
    alg = dnnl::algorithm::eltwise_sqrt;
  } else if (op == "Exp") {
    alg = dnnl::algorithm::eltwise_exp;
  } else if (op == "Reciprocal") {
    alg = dnnl::algorithm::eltwise_pow;
    alpha = 1.f;
    beta = -1.f;
  } else {
    throw Error(ErrorKind::Internal, "onednn: " + op + " is not an eltwise op");
  }
}

// Which 4-D layout of those this backend's own loops handle `md` is: plain (abcd), nChw8c, nChw16c
// or nhwc; nullopt for any other.
std::optional<tag> layout_4d(const dnnl::memory::desc& md, const Shape& s) {
  if (s.size() != 4) return std::nullopt;
  for (tag t : {tag::abcd, tag::nChw8c, tag::nChw16c, tag::nhwc})
    if (md == dnnl::memory::desc({s.begin(), s.end()}, dt::f32, t)) return t;
  return std::nullopt;
}

// A value in a plan: its memory (owned, allocated once) and its logical shape.
struct Slot {
  dnnl::memory mem;
  Shape shape;
};

// One step of a plan: a primitive with bound arguments, or a reference op on plain copies.
struct Step {
  dnnl::primitive prim;
  std::unordered_map<int, dnnl::memory> args;
  const OnnxNode* node = nullptr;  // reference step
  std::vector<int> in;             // reference step: input slots (-1: a constant, see consts)
  std::vector<const Tensor*> consts;
  int out = -1;
  std::function<void()> kernel;  // a kernel of this backend's own (PReLU), on fixed buffers
};

// Whether this CPU runs bf16 convolutions natively (AVX512-BF16; AMX-BF16 implies it).
bool cpu_has_bf16() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512bf16") != 0;
#else
  return false;  // oneDNN's bf16 path is used here only where x86 has it natively
#endif
}

class OneDnnBackend final : public InferenceBackend {
 public:
  explicit OneDnnBackend(bool bf16 = false) : force_bf16_(bf16) {}

  void load(const std::string& model_path, const BackendOptions& options) override {
    if (options.threads < 0) throw Error(ErrorKind::InvalidArgument, "onednn: threads must be >= 0");
    auto g = detail::load_onnx_graph(model_path, "onednn");
    bool quantised = false;
    for (const auto& n : g->nodes) {
      if (!native(n.op) && !detail::reference_has_op(n.op))
        throw Error(ErrorKind::Unsupported,
                    "onednn backend: op '" + n.op + "' (node '" + n.name + "') is not implemented");
      quantised |= n.op == "QuantizeLinear";  // int8 compute; a DequantizeLinear of weights alone is folded
    }
    if (options.precision == Precision::FP16)
      throw Error(ErrorKind::Unsupported, "onednn: fp16 is not supported (ask for bf16 on a CPU with AVX512-BF16)");
    if (options.precision == Precision::INT8 && !quantised)
      throw Error(
          ErrorKind::Unsupported,
          "onednn: int8 needs a quantised model (facerec models quantize writes one); " + model_path + " is fp32");
    const bool want_bf16 = force_bf16_ || options.precision == Precision::BF16;
    if (want_bf16 && !cpu_has_bf16())
      throw Error(ErrorKind::Unsupported,
                  "onednn: bf16 needs a CPU with AVX512-BF16 (or AMX); this one has none (use fp32 or an int8 model)");
    opt_ = options;
    g_ = std::move(g);
    int8_ = quantised;
    bf16_ = want_bf16 && !quantised;  // an int8 model runs int8 whatever is asked
    folded_ = fold(*g_);
    plans_.clear();
  }

  std::unique_ptr<InferenceBackend> session() const override {
    if (!g_) throw Error(ErrorKind::InvalidArgument, "onednn: session() before load()");
    auto s = std::make_unique<OneDnnBackend>(force_bf16_);
    s->g_ = g_;
    s->opt_ = opt_;
    s->int8_ = int8_;
    s->bf16_ = bf16_;
    s->folded_ = folded_;
    return s;
  }

  std::vector<TensorSpec> inputs() const override { return g_ ? g_->info.inputs : std::vector<TensorSpec>{}; }
  std::vector<TensorSpec> outputs() const override { return g_ ? g_->info.outputs : std::vector<TensorSpec>{}; }
  std::string name() const override { return force_bf16_ ? "onednn-bf16" : "onednn"; }
  Precision precision() const override { return int8_ ? Precision::INT8 : bf16_ ? Precision::BF16 : Precision::FP32; }

  std::vector<Tensor> run(const std::vector<Tensor>& batch) override {
    if (!g_) throw Error(ErrorKind::InvalidArgument, "onednn: run() before load()");
    check_batch(batch);
    ThreadScope threads(opt_.threads);
    try {
      return outputs_of(plans_.run(
          batch, [&](Plan& p) { trace(p, batch); }, [&](Plan& p) { replay(p, batch); }));
    } catch (const dnnl::error& e) {
      throw Error(ErrorKind::Internal, std::string("onednn: ") + e.what());
    }
  }

 private:
  struct Plan {
    std::deque<Slot> slots;  // a deque: references stay valid as slots are added
    std::vector<Step> steps;
    std::vector<int> inputs, outputs;
    dnnl::stream stream{cpu()};
    std::list<std::vector<float>> keep;  // constant buffers the memories point into
  };

  // Sets OpenMP's thread count for this thread during a run and restores it afterwards.
  struct ThreadScope {
    int saved = 0, wanted = 0;
    explicit ThreadScope(int n) : wanted(n) {
      if (wanted > 0) {
        saved = omp_get_max_threads();
        omp_set_num_threads(wanted);
      }
    }
    ~ThreadScope() {
      if (wanted > 0) omp_set_num_threads(saved);
    }
    ThreadScope(const ThreadScope&) = delete;
    ThreadScope& operator=(const ThreadScope&) = delete;
  };

  std::shared_ptr<const OnnxGraph> g_;
  std::shared_ptr<const std::map<std::string, Tensor>> folded_;  // DequantizeLinear of constants, once
  BackendOptions opt_;
  bool int8_ = false;
  bool bf16_ = false;        // convolutions and inner products in bf16 (fp32 accumulation and output)
  bool force_bf16_ = false;  // registered as "onednn-bf16": bf16 whatever the options ask
  detail::PlanCache<Plan> plans_;

  // --- tracing state (valid during trace) ---
  Plan* p_ = nullptr;
  std::map<std::string, int> where_;  // value name -> slot
  std::set<size_t> fused_;            // nodes absorbed into an earlier primitive
  std::set<size_t> building_;         // nodes being built (a cycle check)
  std::vector<std::string> fallbacks_;

  // Every DequantizeLinear whose inputs are constants (quantised weights), computed once: an fp32
  // consumer reads the folded weights; an int8 conv reads the int8 values behind it.
  static std::shared_ptr<const std::map<std::string, Tensor>> fold(const OnnxGraph& g) {
    auto out = std::make_shared<std::map<std::string, Tensor>>();
    for (const auto& n : g.nodes) {
      if (n.op != "DequantizeLinear") continue;
      std::vector<const Tensor*> in;
      for (const auto& name : n.in) in.push_back(g.constant(name));
      if (in.empty() || std::find(in.begin(), in.end(), nullptr) != in.end()) continue;
      (*out)[n.out.at(0)] = detail::reference_op(g, n, in);
    }
    return out;
  }

  static bool deferred(const OnnxNode& n) { return n.op == "QuantizeLinear" || n.op == "DequantizeLinear"; }

  bool verbose() const {
    auto it = opt_.extra.find("verbose");
    return it != opt_.extra.end() && it->second == "1";
  }

  int new_slot(const dnnl::memory::desc& md, const Shape& shape) {
    p_->slots.push_back({dnnl::memory(md, cpu()), shape});
    return int(p_->slots.size() - 1);
  }

  // Runs a primitive now (trace) and records it (replay).
  void add(dnnl::primitive prim, std::unordered_map<int, dnnl::memory> args, const std::string& what) {
    prim.execute(p_->stream, args);
    if (verbose()) {
      auto pd = prim.get_primitive_desc();
      const char* impl = nullptr;
      dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl);
      std::fprintf(stderr, "onednn: %-28s %s\n", what.c_str(), impl ? impl : "?");
    }
    p_->steps.push_back({std::move(prim), std::move(args), nullptr, {}, {}, -1, {}});
  }

  // The slot of `name` in layout `md` (a reorder step when it is held in another layout).
  int as(int slot, const dnnl::memory::desc& md) {
    const auto& s = p_->slots[size_t(slot)];
    if (s.mem.get_desc() == md) return slot;
    int r = new_slot(md, s.shape);
    add(dnnl::reorder(s.mem, p_->slots[size_t(r)].mem),
        {{DNNL_ARG_FROM, p_->slots[size_t(slot)].mem}, {DNNL_ARG_TO, p_->slots[size_t(r)].mem}}, "reorder");
    return r;
  }

  int plain(int slot) { return as(slot, plain_md(p_->slots[size_t(slot)].shape)); }

  dnnl::memory const_mem(const Tensor& t, const Shape& shape) {
    p_->keep.push_back(t.data);
    return dnnl::memory(plain_md(shape), cpu(), p_->keep.back().data());
  }

  const Tensor* constant(const std::string& name) const {
    if (const Tensor* c = g_->constant(name)) return c;
    auto it = folded_->find(name);
    return it == folded_->end() ? nullptr : &it->second;
  }
  const Tensor* constant(const OnnxNode& n, size_t i) const { return i < n.in.size() ? constant(n.in[i]) : nullptr; }

  // True when `name` has a slot, building its producer first when it has not run yet: the trace is
  // demand-driven, so a conv can take the residual branch it adds to as a sum post-op even when that
  // branch comes later in the file, and QuantizeLinear/DequantizeLinear nodes (which the trace skips:
  // an int8 conv reads past them) run only when something needs their value.
  bool computed(const std::string& name) {
    if (where_.count(name)) return true;
    auto it = g_->producer_of.find(name);
    if (it == g_->producer_of.end() || folded_->count(name) || fused_.count(it->second)) return false;
    if (!building_.insert(it->second).second)
      throw Error(ErrorKind::BadModel,
                  "onednn: the graph has a cycle through node '" + g_->nodes[it->second].name + "'");
    build_node(it->second);
    building_.erase(it->second);
    return where_.count(name) > 0;
  }

  // Whether computing `name` now would need a node that is being built further up the stack
  // (directly or through values not computed yet): such a value cannot be a sum post-op's operand
  // of the conv being built. Add(convA, Relu(convC)): while convC looks ahead to convA, convA must
  // not look ahead to Relu(convC).
  bool depends_on_building(const std::string& name) const {
    std::set<size_t> seen;
    std::vector<std::string> todo = {name};
    while (!todo.empty()) {
      const std::string v = todo.back();
      todo.pop_back();
      if (where_.count(v)) continue;
      auto it = g_->producer_of.find(v);
      if (it == g_->producer_of.end() || !seen.insert(it->second).second) continue;
      if (building_.count(it->second)) return true;
      for (const auto& in : g_->nodes[it->second].in)
        if (!in.empty()) todo.push_back(in);
    }
    return false;
  }

  void build_node(size_t i) {
    const OnnxNode& n = g_->nodes[i];
    // A node reached by a look-ahead (a conv's sum post-op asking for its other operand) may be
    // absorbed into its own input's chain while that input is built (Relu(convC) becomes convC's
    // post-op): build the inputs first, then build the node only if it is still to be done. Convs
    // are chain heads and read past QDQ nodes, which must stay unbuilt unless something needs them.
    if (n.op != "Conv") {
      try {
        for (const auto& in : n.in)
          if (!in.empty() && !constant(in)) computed(in);
      } catch (const dnnl::error& e) {
        throw Error(ErrorKind::Internal, "onednn: an input of node '" + n.name + "' (" + n.op + "): " + e.what());
      }
      if (fused_.count(i) || where_.count(n.out.at(0))) return;
    }
    try {
      if (!build_native(i)) build_reference(n);
    } catch (const Error&) {
      throw;
    } catch (const dnnl::error& e) {
      throw Error(ErrorKind::Internal, "onednn: node '" + n.name + "' (" + n.op + "): " + e.what());
    }
  }
  int slot_of(const OnnxNode& n, size_t i) {
    computed(n.in.at(i));
    auto it = where_.find(n.in.at(i));
    if (it == where_.end())
      throw Error(ErrorKind::BadModel, "onednn: input '" + n.in.at(i) + "' of node '" + n.name + "' is undefined");
    return it->second;
  }

  const OnnxNode* sole_reader(const std::string& name, size_t& index) const { return g_->sole_reader(name, index); }

  // --- building ---
  void trace(Plan& plan, const std::vector<Tensor>& batch) {
    p_ = &plan;
    where_.clear();
    fused_.clear();
    fallbacks_.clear();
    building_.clear();
    for (size_t i = 0; i < batch.size(); ++i) {
      int s = new_slot(plain_md(batch[i].shape), batch[i].shape);
      where_[g_->info.inputs[i].name] = s;
      plan.inputs.push_back(s);
    }
    write_inputs(plan, batch);
    for (size_t i = 0; i < g_->nodes.size(); ++i)
      if (!fused_.count(i) && !deferred(g_->nodes[i]) && !where_.count(g_->nodes[i].out.at(0))) {
        building_.insert(i);
        build_node(i);
        building_.erase(i);
      }
    for (const auto& o : g_->info.outputs) {
      computed(o.name);
      auto it = where_.find(o.name);
      if (it == where_.end()) {
        const Tensor* c = constant(o.name);
        if (!c) throw Error(ErrorKind::BadModel, "onednn: output '" + o.name + "' is never computed");
        int s = new_slot(plain_md(c->shape), c->shape);
        std::memcpy(plan.slots[size_t(s)].mem.get_data_handle(), c->data.data(), c->data.size() * 4);
        plan.outputs.push_back(s);
      } else {
        plan.outputs.push_back(plain(it->second));
      }
    }
    plan.stream.wait();
    if (verbose() && !fallbacks_.empty()) {
      std::string s;
      for (const auto& f : fallbacks_) s += " " + f;
      std::fprintf(stderr, "onednn.fallbacks (reference ops):%s\n", s.c_str());
    }
    p_ = nullptr;
  }

  static void write_inputs(Plan& plan, const std::vector<Tensor>& batch) {
    for (size_t i = 0; i < batch.size(); ++i)
      std::memcpy(plan.slots[size_t(plan.inputs[i])].mem.get_data_handle(), batch[i].data.data(),
                  batch[i].data.size() * sizeof(float));
  }

  void replay(Plan& plan, const std::vector<Tensor>& batch) {
    write_inputs(plan, batch);
    for (auto& s : plan.steps) {
      if (s.kernel) {
        plan.stream.wait();
        s.kernel();
      } else if (!s.node) {
        s.prim.execute(plan.stream, s.args);
      } else {
        plan.stream.wait();
        run_reference(plan, s);
      }
    }
    plan.stream.wait();
  }

  static std::vector<Tensor> outputs_of(Plan& plan) {
    std::vector<Tensor> out;
    for (int s : plan.outputs) out.push_back(read_plain(plan.slots[size_t(s)]));
    return out;
  }

  static Tensor read_plain(const Slot& s) {
    Tensor t(s.shape);
    std::memcpy(t.data.data(), s.mem.get_data_handle(), t.data.size() * sizeof(float));
    return t;
  }

  // The reference op of step `s` on plain copies of its input slots (and its constants).
  Tensor reference_result(const Plan& plan, const Step& s) const {
    std::vector<Tensor> held;
    held.reserve(s.in.size());
    std::vector<const Tensor*> in;
    for (size_t i = 0; i < s.in.size(); ++i) {
      if (s.in[i] < 0) {
        in.push_back(s.consts[i]);
      } else {
        held.push_back(read_plain(plan.slots[size_t(s.in[i])]));
        in.push_back(&held.back());
      }
    }
    try {
      return detail::reference_op(*g_, *s.node, in);
    } catch (const Error&) {
      throw;
    } catch (const std::exception& e) {
      throw Error(ErrorKind::Internal, "onednn: node '" + s.node->name + "' (" + s.node->op + "): " + e.what());
    }
  }

  void run_reference(Plan& plan, const Step& s) const {
    Tensor y = reference_result(plan, s);
    Slot& out = plan.slots[size_t(s.out)];
    if (y.shape != out.shape)
      throw Error(ErrorKind::Internal, "onednn: node '" + s.node->name + "' changed its output shape between runs");
    std::memcpy(out.mem.get_data_handle(), y.data.data(), y.data.size() * sizeof(float));
  }

  void build_reference(const OnnxNode& n) {
    static const Tensor none;
    Step s;
    s.node = &n;
    for (size_t i = 0; i < n.in.size(); ++i) {
      if (const Tensor* c = constant(n.in[i])) {
        s.in.push_back(-1);
        s.consts.push_back(c);
      } else if (computed(n.in[i])) {
        s.in.push_back(plain(where_.at(n.in[i])));
        s.consts.push_back(nullptr);
      } else if (g_->ints.count(n.in[i])) {
        s.in.push_back(-1);
        s.consts.push_back(&none);
      } else {
        throw Error(ErrorKind::BadModel, "onednn: input '" + n.in[i] + "' of node '" + n.name + "' is undefined");
      }
    }
    // Run it once to learn the output shape, then give the output a slot.
    p_->stream.wait();
    Tensor y = reference_result(*p_, s);
    s.out = new_slot(plain_md(y.shape), y.shape);
    std::memcpy(p_->slots[size_t(s.out)].mem.get_data_handle(), y.data.data(), y.data.size() * sizeof(float));
    where_[n.out.at(0)] = s.out;
    fallbacks_.push_back(n.op + "(" + n.name + ")");
    p_->steps.push_back(std::move(s));
  }

  // Builds node i natively; false when this case is left to the reference ops.
  bool build_native(size_t i) {
    const OnnxNode& n = g_->nodes[i];
    if (!native(n.op)) return false;
    if (n.op == "Identity") {
      if (!computed(n.in.at(0))) return false;
      where_[n.out.at(0)] = slot_of(n, 0);
      return true;
    }
    if (n.op == "Conv") return conv(i);
    if (n.op == "Gemm" || n.op == "MatMul") return inner_product(n);
    if (is_eltwise(n.op)) return eltwise(n);
    if (n.op == "PRelu") return prelu(i);
    if (n.op == "MaxPool" || n.op == "AveragePool") return pool(n);
    if (n.op == "Concat") return concat(n);
    if (n.op == "Pad") return pad(n);
    return binary(i);
  }

  bool eltwise(const OnnxNode& n) {
    if (!computed(n.in.at(0))) return false;
    int x = slot_of(n, 0);
    dnnl::algorithm alg;
    float a, b;
    eltwise_of(n, alg, a, b);
    auto md = p_->slots[size_t(x)].mem.get_desc();
    dnnl::eltwise_forward::primitive_desc pd({dnnl::prop_kind::forward_inference, alg, md, a, b}, cpu());
    int y = new_slot(pd.dst_desc(), p_->slots[size_t(x)].shape);
    add(dnnl::eltwise_forward(pd), {{DNNL_ARG_SRC, p_->slots[size_t(x)].mem}, {DNNL_ARG_DST, p_->slots[size_t(y)].mem}},
        n.op);
    where_[n.out.at(0)] = y;
    return true;
  }

  // The slope of a PRelu as the {1, C, 1, ...} broadcast shape of a tensor of `rank`, or empty when
  // it is not per-channel or scalar.
  static Shape channel_shape(const Tensor& c, const Shape& x) {
    Shape s(x.size(), 1);
    if (c.size() == 1) return s;
    if (x.size() < 2 || c.shape.size() > x.size()) return {};
    size_t off = x.size() - c.shape.size();  // numpy broadcasting aligns the last dimensions
    for (size_t j = 0; j < c.shape.size(); ++j)
      if (c.shape[j] != 1 && (off + j != 1 || c.shape[j] != x[1])) return {};
    s[1] = x[1];
    return s;
  }

  // PReLU with a per-channel (or one) slope: oneDNN 2.6 has it only as a reference kernel (and as a
  // conv post-op only with the reference conv) on avx2, so it is a loop of this backend's own, in the
  // layout the value is in (plain, nhwc, nChw8c, nChw16c), in place when nothing else reads the input.
  bool prelu(size_t i) {
    const OnnxNode& n = g_->nodes[i];
    const Tensor* slope = constant(n, 1);
    if (!slope || !computed(n.in.at(0))) return false;
    int x = slot_of(n, 0);
    const Shape xs = p_->slots[size_t(x)].shape;
    if (channel_shape(*slope, xs).empty()) return false;
    const int64_t N = xs.at(0), C = xs.size() > 1 ? xs[1] : 1;
    int64_t spatial = 1;
    for (size_t d = 2; d < xs.size(); ++d) spatial *= xs[d];
    auto md = p_->slots[size_t(x)].mem.get_desc();
    int64_t block = 0;  // 0: plain (channel-major), -1: channel-last, 8/16: nChw8c/nChw16c
    if (md != plain_md(xs)) {
      const auto t = layout_4d(md, xs);
      if (!t)
        x = plain(x);
      else
        block = *t == tag::nChw8c ? 8 : *t == tag::nChw16c ? 16 : -1;
    }
    int y = x;
    const auto aliases = std::count_if(where_.begin(), where_.end(), [x](const auto& kv) { return kv.second == x; });
    if (g_->readers(n.in[0]) != 1 || aliases != 1 ||
        std::find(p_->inputs.begin(), p_->inputs.end(), x) != p_->inputs.end()) {
      y = new_slot(p_->slots[size_t(x)].mem.get_desc(), xs);
      add(dnnl::reorder(p_->slots[size_t(x)].mem, p_->slots[size_t(y)].mem),
          {{DNNL_ARG_FROM, p_->slots[size_t(x)].mem}, {DNNL_ARG_TO, p_->slots[size_t(y)].mem}}, "copy");
    }
    const int64_t lanes = block > 0 ? block : 1, CB = (C + lanes - 1) / lanes;
    std::vector<float> a(size_t(CB * lanes), 0.f);  // the slope per (padded) channel
    for (int64_t c = 0; c < C; ++c) a[size_t(c)] = slope->data[slope->size() == 1 ? 0 : size_t(c)];
    float* v = static_cast<float*>(p_->slots[size_t(y)].mem.get_data_handle());
    Step st;
    st.kernel = [v, a = std::move(a), N, C, CB, spatial, block] {
      // branch-free, on restrict pointers: the compiler vectorises the inner loops
      auto row = [](float* __restrict p, const float* __restrict s, int64_t len) {
        for (int64_t l = 0; l < len; ++l) p[l] = std::max(p[l], 0.f) + s[l] * std::min(p[l], 0.f);
      };
      if (block == -1) {  // channel-last: ... c
#pragma omp parallel for
        for (int64_t k = 0; k < N * spatial; ++k) row(v + k * C, a.data(), C);
      } else if (block > 0) {  // blocked: n, channel block, h, w, lane
#pragma omp parallel for
        for (int64_t k = 0; k < N * CB; ++k) {
          const float* s = a.data() + (k % CB) * block;
          float* p = v + k * spatial * block;
          for (int64_t q = 0; q < spatial; ++q, p += block) row(p, s, block);
        }
      } else {  // plain: n, c, spatial
#pragma omp parallel for
        for (int64_t k = 0; k < N * C; ++k) {
          const float s = a[size_t(k % C)];
          float* __restrict p = v + k * spatial;
          for (int64_t q = 0; q < spatial; ++q) p[q] = std::max(p[q], 0.f) + s * std::min(p[q], 0.f);
        }
      }
    };
    p_->stream.wait();
    st.kernel();
    p_->steps.push_back(std::move(st));
    where_[n.out.at(0)] = y;
    return true;
  }

  static bool binary_alg(const std::string& op, dnnl::algorithm& alg) {
    if (op == "Add")
      alg = dnnl::algorithm::binary_add;
    else if (op == "Sub")
      alg = dnnl::algorithm::binary_sub;
    else if (op == "Mul")
      alg = dnnl::algorithm::binary_mul;
    else if (op == "Div")
      alg = dnnl::algorithm::binary_div;
    else if (op == "Max")
      alg = dnnl::algorithm::binary_max;
    else if (op == "Min")
      alg = dnnl::algorithm::binary_min;
    else
      return false;
    return true;
  }

  // The first input full-sized, the second a value of the same shape or a constant that broadcasts
  // (numpy rules, right-aligned) to it; commutative ops swap a constant first input.
  bool binary(size_t i) {
    const OnnxNode& n = g_->nodes[i];
    dnnl::algorithm alg;
    if (!binary_alg(n.op, alg) || n.in.size() != 2) return false;
    size_t a = 0, b = 1;
    bool commutative = n.op == "Add" || n.op == "Mul" || n.op == "Max" || n.op == "Min";
    if (!computed(n.in[0]) && commutative) std::swap(a, b);
    if (!computed(n.in[a])) return false;
    int x = slot_of(n, a);
    const Shape& xs = p_->slots[size_t(x)].shape;
    auto md0 = p_->slots[size_t(x)].mem.get_desc();
    dnnl::memory m1;
    if (const Tensor* c = constant(n, b);
        c && c->size() == 1 && c->shape.size() <= xs.size() && n.op != "Div" && n.op != "Max" && n.op != "Min") {
      // by a scalar: eltwise linear, alpha * x + beta (oneDNN's binary broadcasts a scalar slowly)
      float k = c->data[0];
      float alpha = n.op == "Mul" ? k : n.op == "Sub" && a == 1 ? -1.f : 1.f;
      float beta = n.op == "Add" ? k : n.op == "Sub" ? (a == 0 ? -k : k) : 0.f;
      auto md = p_->slots[size_t(x)].mem.get_desc();
      dnnl::eltwise_forward::primitive_desc pd(
          {dnnl::prop_kind::forward_inference, dnnl::algorithm::eltwise_linear, md, alpha, beta}, cpu());
      int out = new_slot(pd.dst_desc(), xs);
      add(dnnl::eltwise_forward(pd),
          {{DNNL_ARG_SRC, p_->slots[size_t(x)].mem}, {DNNL_ARG_DST, p_->slots[size_t(out)].mem}}, n.op + " scalar");
      where_[n.out.at(0)] = out;
      return true;
    }
    if (const Tensor* c = constant(n, b)) {
      if (c->shape.size() > xs.size()) return false;
      Shape bs(xs.size(), 1);
      std::copy(c->shape.begin(), c->shape.end(), bs.begin() + long(xs.size() - c->shape.size()));
      for (size_t d = 0; d < xs.size(); ++d)
        if (bs[d] != 1 && bs[d] != xs[d]) return false;
      m1 = const_mem(*c, bs);
    } else if (computed(n.in[b])) {
      int y = slot_of(n, b);
      if (p_->slots[size_t(y)].shape != xs) return false;
      m1 = p_->slots[size_t(as(y, md0))].mem;
    } else {
      return false;
    }
    // activations that follow (a residual Add then ReLU) run as eltwise post-ops of the binary
    dnnl::post_ops ops;
    std::string last = n.out.at(0), what = n.op;
    std::vector<size_t> absorbed;
    for (size_t r = 0;;) {
      const OnnxNode* m = sole_reader(last, r);
      if (!m || r <= i || !is_eltwise(m->op)) break;
      dnnl::algorithm ealg;
      float a0, b0;
      eltwise_of(*m, ealg, a0, b0);
      ops.append_eltwise(1.f, ealg, a0, b0);
      absorbed.push_back(r);
      last = m->out.at(0);
      what += "+" + m->op;
    }
    dnnl::primitive_attr attr;
    attr.set_post_ops(ops);
    dnnl::binary::primitive_desc pd({alg, md0, m1.get_desc(), md0}, attr, cpu());
    int out = new_slot(pd.dst_desc(), xs);
    add(dnnl::binary(pd),
        {{DNNL_ARG_SRC_0, p_->slots[size_t(x)].mem}, {DNNL_ARG_SRC_1, m1}, {DNNL_ARG_DST, p_->slots[size_t(out)].mem}},
        what);
    fused_.insert(absorbed.begin(), absorbed.end());
    where_[last] = out;
    return true;
  }

  // Constant Pad (pads as an attribute): the output keeps the input's layout, is filled with the
  // value once, and each run reorders the input into its interior (a sub-memory view). A blocked
  // layout needs value 0 (its channel padding must stay zero) and a channel offset on a block edge;
  // otherwise the plain layout is used.
  bool pad(const OnnxNode& n) {
    if (n.attr_s("mode", "constant") != "constant" || n.in.size() != 1 || !computed(n.in[0])) return false;
    int x = slot_of(n, 0);
    const Shape xs = p_->slots[size_t(x)].shape;
    auto p = n.attr_ints("pads");
    const size_t r = xs.size();
    if (p.size() != 2 * r || std::any_of(p.begin(), p.end(), [](int64_t v) { return v < 0; })) return false;
    const float value = n.attr_f("value", 0.f);
    Shape ys(r);
    dnnl::memory::dims offsets(r);
    for (size_t d = 0; d < r; ++d) {
      ys[d] = xs[d] + p[d] + p[r + d];
      offsets[d] = p[d];
    }
    auto src = p_->slots[size_t(x)].mem.get_desc();
    dnnl::memory::desc dst = plain_md(ys);
    if (const auto t = layout_4d(src, xs); value == 0.f && t && *t != tag::abcd) {
      const int64_t block = *t == tag::nChw8c ? 8 : *t == tag::nChw16c ? 16 : 1;
      if (p[1] % block == 0) dst = dnnl::memory::desc({ys.begin(), ys.end()}, dt::f32, *t);
    }
    dnnl::memory::desc inner_md;
    try {
      inner_md = dst.submemory_desc({xs.begin(), xs.end()}, offsets);
    } catch (const dnnl::error&) {  // oneDNN cannot view a part of a block: use the plain layout
      dst = plain_md(ys);
      inner_md = dst.submemory_desc({xs.begin(), xs.end()}, offsets);
    }
    int y = new_slot(dst, ys);
    auto& ym = p_->slots[size_t(y)].mem;
    float* buf = static_cast<float*>(ym.get_data_handle());
    std::fill(buf, buf + dst.get_size() / sizeof(float), value);
    dnnl::memory inner(inner_md, cpu(), ym.get_data_handle());
    auto& xm = p_->slots[size_t(x)].mem;
    add(dnnl::reorder(xm, inner), {{DNNL_ARG_FROM, xm}, {DNNL_ARG_TO, inner}}, "Pad");
    where_[n.out.at(0)] = y;
    return true;
  }

  bool pool(const OnnxNode& n) {
    if (!computed(n.in.at(0)) || n.attr_i("ceil_mode", 0) != 0) return false;
    int x = slot_of(n, 0);
    const Shape& xs = p_->slots[size_t(x)].shape;
    if (xs.size() != 4) return false;
    auto k = n.attr_ints("kernel_shape");
    auto st = n.attr_ints("strides", {1, 1});
    auto pads = n.attr_ints("pads", {0, 0, 0, 0});
    if (k.size() != 2 || st.size() != 2 || pads.size() != 4) return false;
    int64_t oh = (xs[2] + pads[0] + pads[2] - k[0]) / st[0] + 1, ow = (xs[3] + pads[1] + pads[3] - k[1]) / st[1] + 1;
    if (oh <= 0 || ow <= 0) return false;
    Shape ys = {xs[0], xs[1], oh, ow};
    auto alg = n.op == "MaxPool"                       ? dnnl::algorithm::pooling_max
               : n.attr_i("count_include_pad", 0) != 0 ? dnnl::algorithm::pooling_avg_include_padding
                                                       : dnnl::algorithm::pooling_avg_exclude_padding;
    auto src = p_->slots[size_t(x)].mem.get_desc();
    dnnl::memory::desc dst({ys.begin(), ys.end()}, dt::f32, tag::any);
    dnnl::pooling_forward::primitive_desc pd({dnnl::prop_kind::forward_inference,
                                              alg,
                                              src,
                                              dst,
                                              {st[0], st[1]},
                                              {k[0], k[1]},
                                              {pads[0], pads[1]},
                                              {pads[2], pads[3]}},
                                             cpu());
    int y = new_slot(pd.dst_desc(), ys);
    add(dnnl::pooling_forward(pd), {{DNNL_ARG_SRC, p_->slots[size_t(x)].mem}, {DNNL_ARG_DST, p_->slots[size_t(y)].mem}},
        n.op);
    where_[n.out.at(0)] = y;
    return true;
  }

  bool concat(const OnnxNode& n) {
    std::vector<int> xs;
    for (const auto& name : n.in) {
      if (!computed(name)) return false;
      xs.push_back(where_.at(name));
    }
    const Shape& s0 = p_->slots[size_t(xs[0])].shape;
    int64_t axis = n.attr_i("axis", 0);
    if (axis < 0) axis += int64_t(s0.size());
    if (axis < 0 || axis >= int64_t(s0.size())) return false;
    Shape ys = s0;
    ys[size_t(axis)] = 0;
    std::vector<dnnl::memory::desc> mds;
    for (int x : xs) {
      const Shape& s = p_->slots[size_t(x)].shape;
      if (s.size() != s0.size()) return false;
      for (size_t d = 0; d < s.size(); ++d)
        if (int64_t(d) != axis && s[d] != s0[d]) return false;
      ys[size_t(axis)] += s[size_t(axis)];
      mds.push_back(p_->slots[size_t(x)].mem.get_desc());
    }
    dnnl::concat::primitive_desc pd(int(axis), mds, cpu());
    int y = new_slot(pd.dst_desc(), ys);
    std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_DST, p_->slots[size_t(y)].mem}};
    for (size_t k = 0; k < xs.size(); ++k) args[DNNL_ARG_MULTIPLE_SRC + int(k)] = p_->slots[size_t(xs[k])].mem;
    add(dnnl::concat(pd), std::move(args), "Concat");
    where_[n.out.at(0)] = y;
    return true;
  }

  // Gemm (alpha = beta = 1, no transA) and MatMul with constant 2-D weights: an inner product.
  bool inner_product(const OnnxNode& n) {
    const Tensor* w = constant(n, 1);
    if (!w || w->shape.size() != 2 || !computed(n.in.at(0))) return false;
    bool gemm = n.op == "Gemm";
    if (gemm && (n.attr_i("transA", 0) != 0 || n.attr_f("alpha", 1.f) != 1.f || n.attr_f("beta", 1.f) != 1.f))
      return false;
    bool tb = gemm && n.attr_i("transB", 0) != 0;
    int x = slot_of(n, 0);
    const Shape& xs = p_->slots[size_t(x)].shape;
    if (xs.size() != 2) return false;
    int64_t K = tb ? w->shape[1] : w->shape[0], N = tb ? w->shape[0] : w->shape[1];
    if (xs[1] != K) throw Error(ErrorKind::InvalidArgument, "Gemm: inner dimensions differ");
    Tensor wt({N, K});  // oneDNN's weights are {outputs, inputs}
    for (int64_t o = 0; o < N; ++o)
      for (int64_t k = 0; k < K; ++k) wt.data[size_t(o * K + k)] = w->data[size_t(tb ? o * K + k : k * N + o)];
    Tensor bias({N});
    if (gemm && n.in.size() > 2 && !n.in[2].empty()) {
      const Tensor* c = constant(n, 2);
      if (!c) return false;
      if (c->size() == 1)
        std::fill(bias.data.begin(), bias.data.end(), c->data[0]);
      else if (c->size() == N)
        bias.data = c->data;
      else
        return false;
    }
    auto src = p_->slots[size_t(x)].mem.get_desc();
    const dt ct = bf16_ ? dt::bf16 : dt::f32;  // bf16: input and weights, fp32 accumulation and output
    if (bf16_) src = dnnl::memory::desc(src.dims(), ct, tag::any);
    dnnl::memory::desc wmd({N, K}, ct, tag::any), bmd({N}, dt::f32, tag::a), dmd({xs[0], N}, dt::f32, tag::ab);
    dnnl::inner_product_forward::primitive_desc pd({dnnl::prop_kind::forward_inference, src, wmd, bmd, dmd}, cpu());
    auto wplain = const_mem(wt, {N, K});
    dnnl::memory wm(pd.weights_desc(), cpu());
    dnnl::reorder(wplain, wm).execute(p_->stream, wplain, wm);
    auto bm = const_mem(bias, {N});
    int y = new_slot(pd.dst_desc(), {xs[0], N});
    int xin = as(x, pd.src_desc());
    add(dnnl::inner_product_forward(pd),
        {{DNNL_ARG_SRC, p_->slots[size_t(xin)].mem},
         {DNNL_ARG_WEIGHTS, wm},
         {DNNL_ARG_BIAS, bm},
         {DNNL_ARG_DST, p_->slots[size_t(y)].mem}},
        n.op);
    where_[n.out.at(0)] = y;
    return true;
  }

  // --- convolution ---

  // One op absorbed by a convolution.
  struct PostOp {
    enum Kind { Eltwise, PRelu, BinaryConst, Sum } kind = Eltwise;
    size_t node = 0;
    dnnl::algorithm alg{};
    float a = 0, b = 0;
    dnnl::memory arg;  // prelu weights, binary src1
    int sum_slot = -1;
  };

  // The chain of ops that may follow conv node i, in order (the caller tries them, longest first).
  std::vector<PostOp> chain_after(size_t i, const Shape& ys) {
    std::vector<PostOp> chain;
    std::string value = g_->nodes[i].out.at(0);
    bool have_sum = false;
    for (;;) {
      size_t r = 0;
      const OnnxNode* n = sole_reader(value, r);
      if (!n || r <= i) break;
      PostOp po;
      po.node = r;
      if (is_eltwise(n->op)) {
        eltwise_of(*n, po.alg, po.a, po.b);
      } else if (n->op == "PRelu" && n->in.size() == 2 && n->in[0] == value) {
        const Tensor* s = constant(n->in[1]);
        if (!s) break;
        Shape ws = channel_shape(*s, ys);
        if (ws.empty()) break;
        po.kind = PostOp::PRelu;
        po.a = float(s->size() == 1 ? 0 : 2);  // mask
        po.arg = const_mem(*s, ws);
      } else if ((n->op == "Add" || n->op == "Mul") && n->in.size() == 2) {
        const std::string& other = n->in[0] == value ? n->in[1] : n->in[0];
        if (other == value) break;
        if (const Tensor* c = constant(other)) {
          Shape bs = channel_shape(*c, ys);
          if (bs.empty()) break;
          po.kind = PostOp::BinaryConst;
          po.alg = n->op == "Add" ? dnnl::algorithm::binary_add : dnnl::algorithm::binary_mul;
          po.arg = const_mem(*c, bs);
        } else if (n->op == "Add" && !have_sum && !depends_on_building(other) && computed(other) &&
                   p_->slots[size_t(where_.at(other))].shape == ys) {
          po.kind = PostOp::Sum;
          po.sum_slot = where_.at(other);
          have_sum = true;
        } else {
          break;
        }
      } else {
        break;
      }
      chain.push_back(po);
      value = n->out.at(0);
    }
    return chain;
  }

  static dnnl::primitive_attr attr_of(const std::vector<PostOp>& chain, size_t count,
                                      const std::vector<float>& scales) {
    dnnl::post_ops ops;
    for (size_t k = 0; k < count; ++k) {
      const auto& po = chain[k];
      switch (po.kind) {
        case PostOp::Eltwise:
          ops.append_eltwise(1.f, po.alg, po.a, po.b);
          break;
        case PostOp::PRelu:
          ops.append_prelu(int(po.a));
          break;
        case PostOp::BinaryConst:
          ops.append_binary(po.alg, po.arg.get_desc());
          break;
        case PostOp::Sum:
          ops.append_sum(1.f);
          break;
      }
    }
    dnnl::primitive_attr attr;
    attr.set_post_ops(ops);
    if (!scales.empty()) attr.set_output_scales(scales.size() > 1 ? 2 : 0, scales);
    return attr;
  }

  static std::string impl_of(const dnnl::primitive_desc& pd) { return pd.impl_info_str(); }

  // The int8 form of a conv input: x = DequantizeLinear(QuantizeLinear(v, s, z), s, z) with
  // constant scalar scale and zero point 0 (int8) or 0 (uint8): returns v's name, the scale, the type.
  bool quantised_input(const std::string& name, std::string& v, float& scale, dt& type) const {
    const OnnxNode* dq = producer(name);
    if (!dq || dq->op != "DequantizeLinear" || dq->in.size() < 2) return false;
    const OnnxNode* q = producer(dq->in[0]);
    if (!q || q->op != "QuantizeLinear" || q->in.size() < 2) return false;
    const Tensor* s = g_->constant(q->in[1]);
    const Tensor* s2 = g_->constant(dq->in[1]);
    if (!s || !s2 || s->size() != 1 || s2->size() != 1 || s->data[0] != s2->data[0] || !(s->data[0] > 0)) return false;
    type = dt::u8;
    if (q->in.size() > 2) {
      const Tensor* z = g_->constant(q->in[2]);
      auto t = g_->const_types.find(q->in[2]);
      if (!z || z->size() != 1 || z->data[0] != 0 || t == g_->const_types.end()) return false;
      type = t->second == onnx::TensorProto::INT8 ? dt::s8 : dt::u8;
    }
    v = q->in[0];
    scale = s->data[0];
    return true;
  }

  // Constant int8 weights behind a DequantizeLinear (zero point 0, scale per output channel or one):
  // the int8 values (as floats) and the scales.
  bool quantised_weights(const std::string& name, const Tensor*& w, const Tensor*& scales) const {
    const OnnxNode* dq = producer(name);
    if (!dq || dq->op != "DequantizeLinear" || dq->in.size() < 2) return false;
    w = g_->constant(dq->in[0]);
    scales = g_->constant(dq->in[1]);
    auto t = g_->const_types.find(dq->in[0]);
    if (!w || !scales || t == g_->const_types.end() || t->second != onnx::TensorProto::INT8) return false;
    if (dq->in.size() > 2) {
      const Tensor* z = g_->constant(dq->in[2]);
      if (!z) return false;
      for (float e : z->data)
        if (e != 0) return false;
    }
    return scales->size() == 1 || (w->shape.size() == 4 && scales->size() == w->shape[0] && dq->attr_i("axis", 1) == 0);
  }

  const OnnxNode* producer(const std::string& name) const {
    auto it = g_->producer_of.find(name);
    return it == g_->producer_of.end() ? nullptr : &g_->nodes[it->second];
  }

  bool conv(size_t i) {
    const OnnxNode& n = g_->nodes[i];
    // fp32: input and weights are the node's; int8: both are behind DequantizeLinear nodes.
    std::string xname = n.in.at(0), v;
    const Tensor* w = nullptr;
    const Tensor* wscales = nullptr;
    float xscale = 0;
    dt xtype = dt::f32;
    bool q = quantised_weights(n.in.at(1), w, wscales) && quantised_input(xname, v, xscale, xtype) && computed(v);
    if (q)
      xname = v;
    else
      w = constant(n, 1);
    if (!w) return false;
    if (!computed(xname) || w->shape.size() != 4) return false;
    int x = where_.at(xname);
    const Shape xs = p_->slots[size_t(x)].shape;
    if (xs.size() != 4) return false;
    int64_t N = xs[0], C = xs[1], H = xs[2], W = xs[3];
    int64_t M = w->shape[0], CG = w->shape[1], KH = w->shape[2], KW = w->shape[3];
    int64_t g = n.attr_i("group", 1);
    auto st = n.attr_ints("strides", {1, 1});
    auto dl = n.attr_ints("dilations", {1, 1});
    auto pads = n.attr_ints("pads", {0, 0, 0, 0});
    if (n.attr_s("auto_pad", "NOTSET") != "NOTSET" || st.size() != 2 || dl.size() != 2 || pads.size() != 4)
      return false;
    if (g <= 0 || C != CG * g || M % g != 0)
      throw Error(ErrorKind::InvalidArgument, "Conv: channels " + std::to_string(C) + " != " + std::to_string(CG) +
                                                  " x group " + std::to_string(g));
    const auto [OH, OW] = detail::conv_output_hw(H, W, KH, KW, st, dl, pads);
    Shape ys = {N, M, OH, OW};
    Tensor bias({M});
    if (n.in.size() > 2 && !n.in[2].empty()) {
      const Tensor* b = constant(n, 2);
      if (!b || b->size() != M) return false;
      bias.data = b->data;
    }
    dnnl::memory::dims wdims = g > 1 ? dnnl::memory::dims{g, M / g, CG, KH, KW} : dnnl::memory::dims{M, CG, KH, KW};
    // bf16: input and weights in bf16 (the input reordered to it), fp32 accumulation and output
    const bool b16 = bf16_ && !q;
    auto conv_desc = [&](bool bf16) {
      const dt xt = q ? xtype : bf16 ? dt::bf16 : dt::f32, wt = q ? dt::s8 : bf16 ? dt::bf16 : dt::f32;
      dnnl::memory::desc src_md({N, C, H, W}, xt, tag::any), w_md(wdims, wt, tag::any), b_md({M}, dt::f32, tag::a),
          dst_md({N, M, OH, OW}, dt::f32, tag::any);
      return dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
                                             src_md, w_md, b_md, dst_md, {st[0], st[1]}, {dl[0] - 1, dl[1] - 1},
                                             {pads[0], pads[1]}, {pads[2], pads[3]});
    };
    auto d = conv_desc(b16);
    if (b16) {  // a shape oneDNN has no bf16 kernel for (only its reference one) stays fp32
      const auto probe = dnnl::convolution_forward::primitive_desc(d, cpu());
      if (impl_of(probe).rfind("ref", 0) == 0) d = conv_desc(false);
    }
    std::vector<float> scales;
    if (q) {  // oneDNN 2.x: dst = output_scale * (sum src * weights + bias): the bias in int32 units
      scales.resize(wscales->size() == 1 ? 1 : size_t(M));
      for (size_t k = 0; k < scales.size(); ++k) scales[k] = xscale * wscales->data[k];
      for (int64_t k = 0; k < M; ++k) bias.data[size_t(k)] /= scales[scales.size() == 1 ? 0 : size_t(k)];
    }
    // The longest fusion oneDNN runs with an optimised kernel.
    auto chain = chain_after(i, ys);
    size_t count = chain.size();
    dnnl::convolution_forward::primitive_desc pd;
    for (;;) {
      try {
        pd = dnnl::convolution_forward::primitive_desc(d, attr_of(chain, count, scales), cpu());
        if (count == 0 || impl_of(pd).rfind("ref", 0) != 0) break;
      } catch (const dnnl::error&) {
        if (count == 0) throw;
      }
      --count;
    }
    // weights: plain (grouped: g, M/g, CG, KH, KW is the same memory as M, CG, KH, KW), reordered once
    auto wplain = const_mem(*w, Shape(wdims.begin(), wdims.end()));
    dnnl::memory wm(pd.weights_desc(), cpu());
    dnnl::reorder(wplain, wm).execute(p_->stream, wplain, wm);  // int8 values held as floats convert exactly
    auto bm = const_mem(bias, {M});
    int xin;
    if (q) {  // quantise the input: x / scale, rounded and saturated to the int8 type
      xin = new_slot(pd.src_desc(), xs);
      dnnl::primitive_attr ra;
      ra.set_output_scales(0, {1.f / xscale});
      dnnl::reorder::primitive_desc rpd(cpu(), p_->slots[size_t(x)].mem.get_desc(), cpu(), pd.src_desc(), ra);
      add(dnnl::reorder(rpd), {{DNNL_ARG_FROM, p_->slots[size_t(x)].mem}, {DNNL_ARG_TO, p_->slots[size_t(xin)].mem}},
          "quantize");
    } else {
      xin = as(x, pd.src_desc());
    }
    int y = new_slot(pd.dst_desc(), ys);
    std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, p_->slots[size_t(xin)].mem},
                                               {DNNL_ARG_WEIGHTS, wm},
                                               {DNNL_ARG_BIAS, bm},
                                               {DNNL_ARG_DST, p_->slots[size_t(y)].mem}};
    std::string what = q ? "Conv int8" : "Conv";
    for (size_t k = 0; k < count; ++k) {
      const auto& po = chain[k];
      if (po.kind == PostOp::PRelu)
        args[DNNL_ARG_ATTR_MULTIPLE_POST_OP(int(k)) | DNNL_ARG_WEIGHTS] = po.arg;
      else if (po.kind == PostOp::BinaryConst)
        args[DNNL_ARG_ATTR_MULTIPLE_POST_OP(int(k)) | DNNL_ARG_SRC_1] = po.arg;
      else if (po.kind == PostOp::Sum) {  // the residual is copied into dst, the conv adds to it
        int r = po.sum_slot;
        add(dnnl::reorder(p_->slots[size_t(r)].mem, p_->slots[size_t(y)].mem),
            {{DNNL_ARG_FROM, p_->slots[size_t(r)].mem}, {DNNL_ARG_TO, p_->slots[size_t(y)].mem}}, "residual");
      }
      what += "+" + g_->nodes[po.node].op;
      fused_.insert(po.node);
    }
    add(dnnl::convolution_forward(pd), std::move(args), what);
    std::string out = count ? g_->nodes[chain[count - 1].node].out.at(0) : n.out.at(0);
    where_[out] = y;
    return true;
  }
};

}  // namespace

void register_onednn_backend() {
  register_backend("onednn", [] { return std::make_unique<OneDnnBackend>(); });
  // registered only where it runs natively, so every registered backend passes the op tests
  if (cpu_has_bf16()) register_backend("onednn-bf16", [] { return std::make_unique<OneDnnBackend>(true); });
}

}  // namespace facerec
