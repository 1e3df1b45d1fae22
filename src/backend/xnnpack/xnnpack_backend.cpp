// The XNNPACK backend ("xnnpack"): runs an ONNX graph with XNNPACK's operator API (Debian 12's
// libxnnpack, snapshot 2022-02-16: fp32 microkernels chosen for the CPU at initialisation, sse2 to
// avx512) on a pthreadpool of the instance's own.
//
// How it runs a graph: the first run() at a given set of input shapes traces the graph node by node
// and builds a plan — XNNPACK operators created (weights packed) and set up once on buffers
// allocated once for every value; later runs at those shapes replay the plan (xnn_run_operator on
// each operator, the steps of its own in between). Plans are kept per set of input shapes (at most
// 8; a ninth clears them). Activations stay NHWC between XNNPACK operators (XNNPACK's layout); a
// value is transposed to NCHW only where a reference op or a graph output needs it, and back to
// NHWC where an XNNPACK operator reads it; graph inputs and outputs are NCHW, as the interface says.
//
// Fusion (when the value in between has no other reader and is not a graph output): a Conv absorbs
// the Mul/Add/Sub/Div by a per-channel (or scalar) constant that follow it — batch norm left
// unfused by an importer — folded into its weights and bias when the plan is built, then the
// Relu/Clip after them as its output clamp; Gemm/MatMul and Add/Sub/Mul/Div absorb a following
// Relu/Clip the same way.
//
// Native ops: Conv (grouped and depthwise, strides, dilations, explicit asymmetric pads — how
// TF-SAME padding is imported), Gemm/MatMul with constant 2-D weights (fully connected), PRelu with
// a per-channel or scalar slope, Add/Sub/Mul/Div/Max/Min with numpy broadcasting (a per-channel
// constant re-expressed for NHWC), Relu/Clip (clamp), LeakyRelu, Sigmoid, MaxPool, AveragePool
// (padding excluded from the mean, as ONNX's default), GlobalAveragePool, Softmax on the flattened
// last axes, constant Pad, Concat of 4-D values on the channel axis (a copy loop of this backend's
// own, in NHWC), ReduceMean over H and W (global average pool) and Identity. Without a copy:
// Transpose NCHW<->NHWC (the value is already held in the other layout), Reshape/Flatten/Squeeze
// of NCHW data (the same buffer under the new shape). Tanh, Exp, Abs, Sqrt and Reciprocal (which
// this XNNPACK lacks) run as reference loops in whatever layout the value is in (they are
// element-wise). Every other op (other Transposes, ReduceSum, …) and every case a native op does
// not cover (ceil_mode, count_include_pad with pads, a 1x1 pool, a padded input smaller than the
// window, non-constant weights, transA, …) runs with
// the reference ops on NCHW tensors — correct, unoptimised; extra["verbose"]="1" names them.
//
// Options: threads — each instance runs on a pthreadpool of that many threads (0: one per logical
// CPU, pthreadpool's default; 1: the calling thread alone), so the count holds per instance; the
// instances asking for the same count share one pool (see shared_pool), which lives while one
// holds it; precision FP32 only (every other is Unsupported, and so is a QDQ model — any
// QuantizeLinear/DequantizeLinear node: the onednn backend runs int8 models);
// extra["profile"]="1" prints the time per op kind to stderr after each run;
// extra["verbose"]="1" prints the plan's fallbacks and fusions when it is built.
// Thread safety: as InferenceBackend — one instance per thread; sessions share the parsed graph and
// build their own plans; instances on several threads may share a pool, whose calls pthreadpool
// serialises. xnn_initialize runs once per process (std::call_once).
// Limits: fp32 only; 2-D convolutions and pools only (others fall back or are refused by the
// reference ops); a CPU without SSE2-level support for XNNPACK makes load() throw Unsupported.
#include <facerec/backend.hpp>
#include <facerec/error.hpp>

#include "backend/onnx_graph.hpp"
#include "backend/plan_cache.hpp"
#include "backend/reference/reference_ops.hpp"

#include <pthreadpool.h>
#include <xnnpack.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <deque>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <set>

namespace facerec {
namespace {

using detail::OnnxGraph;
using detail::OnnxNode;
using Shape = std::vector<int64_t>;

constexpr float kInf = std::numeric_limits<float>::infinity();

const char* status_name(xnn_status s) {
  switch (s) {
    case xnn_status_success:
      return "success";
    case xnn_status_uninitialized:
      return "uninitialized";
    case xnn_status_invalid_parameter:
      return "invalid parameter";
    case xnn_status_invalid_state:
      return "invalid state";
    case xnn_status_unsupported_parameter:
      return "unsupported parameter";
    case xnn_status_unsupported_hardware:
      return "unsupported hardware";
    case xnn_status_out_of_memory:
      return "out of memory";
  }
  return "unknown status";
}

// xnn_initialize once per process; throws Unsupported when XNNPACK cannot run on this CPU.
void initialise_xnnpack() {
  static std::once_flag once;
  static xnn_status status = xnn_status_uninitialized;
  std::call_once(once, [] { status = xnn_initialize(nullptr); });
  if (status != xnn_status_success)
    throw Error(ErrorKind::Unsupported, std::string("xnnpack: xnn_initialize failed (") + status_name(status) +
                                            "): this CPU lacks the instructions XNNPACK needs");
}

struct OperatorDeleter {
  void operator()(xnn_operator_t op) const { xnn_delete_operator(op); }
};
using Operator = std::unique_ptr<xnn_operator, OperatorDeleter>;

struct PoolDeleter {
  void operator()(pthreadpool_t p) const { pthreadpool_destroy(p); }
};
using ThreadPool = std::shared_ptr<pthreadpool>;

// The pool for a thread count (0: one per logical CPU), shared by every instance that asks for that
// count while one holds it. One pool per network made the idle workers of a pipeline's other pools
// spin against the one working (a whole photo on 2 threads: 258 ms, against 55 ms on 1). pthreadpool
// serialises the calls made on one pool. One thread needs no pool: XNNPACK runs an operator given
// none on the calling thread, so single-threaded instances on several threads never wait on each other.
ThreadPool shared_pool(size_t threads) {
  if (threads == 1) return nullptr;
  static std::mutex mu;
  static std::map<size_t, std::weak_ptr<pthreadpool>> pools;
  std::lock_guard<std::mutex> lock(mu);
  auto& slot = pools[threads];
  if (auto p = slot.lock()) return p;
  pthreadpool_t raw = pthreadpool_create(threads);
  if (!raw) throw Error(ErrorKind::Internal, "xnnpack: pthreadpool_create failed");
  ThreadPool p(raw, PoolDeleter{});
  slot = p;
  return p;
}

size_t sz(int64_t v) { return static_cast<size_t>(v); }
uint32_t u32(int64_t v) { return static_cast<uint32_t>(v); }

int64_t numel(const Shape& s) {
  int64_t n = 1;
  for (auto d : s) n *= d;
  return n;
}

// Ops whose result at each element depends on that element alone: they run in any layout.
bool elementwise_unary(const std::string& op) {
  static const std::set<std::string> ops = {"Tanh", "Exp", "Abs", "Sqrt", "Reciprocal"};
  return ops.count(op) > 0;
}

bool clamp_op(const std::string& op) { return op == "Relu" || op == "Clip"; }

bool native(const std::string& op) {
  static const std::set<std::string> ops = {
      "Conv",      "Gemm",        "MatMul",   "PRelu",   "Add",       "Sub",     "Mul",
      "Div",       "Max",         "Min",      "Relu",    "Clip",      "Sigmoid", "LeakyRelu",
      "MaxPool",   "AveragePool", "Identity", "Softmax", "Pad",       "Concat",  "GlobalAveragePool",
      "Transpose", "Reshape",     "Flatten",  "Squeeze", "ReduceMean"};
  return ops.count(op) > 0 || elementwise_unary(op);
}

// The interval a Relu or Clip (opset < 11: bounds as attributes) clamps to.
void clamp_of(const OnnxNode& n, float& lo, float& hi) {
  if (n.op == "Relu") {
    lo = 0.f;
    hi = kInf;
  } else {
    lo = n.attr_f("min", -kInf);
    hi = n.attr_f("max", kInf);
  }
}

// A value in a plan: its buffer (allocated once, with the slack XNNPACK may read past the end),
// its logical (ONNX, NCHW) shape, and whether the buffer holds it as NHWC (4-D values only).
struct Slot {
  std::vector<float> buf;
  Shape shape;
  bool nhwc = false;
  float* alias = nullptr;  // set: the value is another slot's buffer seen with another shape
  float* data() { return alias ? alias : buf.data(); }
  size_t count() const { return sz(numel(shape)); }
  // The shape of the data as stored.
  Shape physical() const { return nhwc ? Shape{shape[0], shape[2], shape[3], shape[1]} : shape; }
};

// One step of a plan: an XNNPACK operator (set up on fixed buffers) or a function of this backend's
// own (a layout change, a copy, a reference op).
struct Step {
  Operator op;
  std::function<void()> fn;
  std::string kind;  // for the profile
};

class XnnpackBackend final : public InferenceBackend {
 public:
  void load(const std::string& model_path, const BackendOptions& options) override {
    if (options.threads < 0) throw Error(ErrorKind::InvalidArgument, "xnnpack: threads must be >= 0");
    auto g = detail::load_onnx_graph(model_path, "xnnpack");
    bool quantised = false;
    for (const auto& n : g->nodes) {
      if (!native(n.op) && !detail::reference_has_op(n.op))
        throw Error(ErrorKind::Unsupported,
                    "xnnpack backend: op '" + n.op + "' (node '" + n.name + "') is not implemented");
      quantised |= n.op == "DequantizeLinear" || n.op == "QuantizeLinear";
    }
    if (quantised)
      throw Error(ErrorKind::Unsupported, "xnnpack: " + model_path +
                                              " is a quantised (QDQ) model; this backend runs fp32 only: use the "
                                              "onednn backend for int8 models");
    if (options.precision != Precision::FP32)
      throw Error(ErrorKind::Unsupported, std::string("xnnpack: ") + to_string(options.precision) +
                                              " is not supported (fp32 only): use the onednn backend for int8 "
                                              "models (facerec models quantize writes one) and onednn-bf16 for bf16");
    initialise_xnnpack();
    plans_.clear();
    opt_ = options;
    g_ = std::move(g);
    make_pool();
  }

  std::unique_ptr<InferenceBackend> session() const override {
    if (!g_) throw Error(ErrorKind::InvalidArgument, "xnnpack: session() before load()");
    auto s = std::make_unique<XnnpackBackend>();
    s->g_ = g_;
    s->opt_ = opt_;
    s->make_pool();
    return s;
  }

  std::vector<TensorSpec> inputs() const override { return g_ ? g_->info.inputs : std::vector<TensorSpec>{}; }
  std::vector<TensorSpec> outputs() const override { return g_ ? g_->info.outputs : std::vector<TensorSpec>{}; }
  std::string name() const override { return "xnnpack"; }
  Precision precision() const override { return Precision::FP32; }

  std::vector<Tensor> run(const std::vector<Tensor>& batch) override {
    if (!g_) throw Error(ErrorKind::InvalidArgument, "xnnpack: run() before load()");
    check_batch(batch);
    return outputs_of(plans_.run(
        batch, [&](Plan& p) { trace(p, batch); }, [&](Plan& p) { replay(p, batch); }));
  }

 private:
  struct Plan {
    std::deque<Slot> slots;  // a deque: buffers and references stay put as slots are added
    std::vector<Step> steps;
    std::vector<int> inputs, outputs;
    std::deque<std::vector<float>> keep;  // constant operands that operators read at run time
  };

  // Members in this order: plans (their operators) go before the thread pool they were set up with.
  std::shared_ptr<const OnnxGraph> g_;
  BackendOptions opt_;
  ThreadPool pool_;
  detail::PlanCache<Plan> plans_;

  // --- tracing state (valid during trace) ---
  Plan* p_ = nullptr;
  std::map<std::string, int> where_;       // value name -> slot
  std::map<int, int> to_nhwc_, to_plain_;  // slot -> its copy in the other layout
  std::set<size_t> fused_;                 // nodes absorbed into an earlier operator
  std::set<size_t> building_;              // nodes being built (a cycle check)
  std::vector<std::string> fallbacks_, fusions_;

  void make_pool() { pool_ = shared_pool(sz(opt_.threads)); }

  bool extra_flag(const char* key) const {
    auto it = opt_.extra.find(key);
    return it != opt_.extra.end() && it->second == "1";
  }

  const Tensor* constant(const std::string& name) const { return g_->constant(name); }
  const Tensor* constant(const OnnxNode& n, size_t i) const {
    return i < n.in.size() && !n.in[i].empty() ? constant(n.in[i]) : nullptr;
  }

  static void check(xnn_status s, const OnnxNode& n, const char* what) {
    if (s != xnn_status_success)
      throw Error(ErrorKind::Internal, std::string("xnnpack: ") + what + " for node '" + n.name + "' (" + n.op +
                                           ") failed: " + status_name(s));
  }

  int new_slot(const Shape& shape, bool nhwc) {
    Slot s;
    s.shape = shape;
    s.nhwc = nhwc && shape.size() == 4;
    s.buf.assign(s.count() + XNN_EXTRA_BYTES / sizeof(float), 0.f);
    p_->slots.push_back(std::move(s));
    return int(p_->slots.size() - 1);
  }
  Slot& slot(int s) { return p_->slots[size_t(s)]; }

  // A slot over the buffer of slot `s` (no copy, no step): the same data under another shape.
  int alias_of(int s, const Shape& shape, bool nhwc) {
    Slot a;
    a.shape = shape;
    a.nhwc = nhwc && shape.size() == 4;
    a.alias = slot(s).data();
    p_->slots.push_back(std::move(a));
    return int(p_->slots.size() - 1);
  }

  // Adds a step and runs it now (the trace computes every value as it builds).
  void add_operator(Operator op, const OnnxNode& n, const std::string& kind) {
    check(xnn_run_operator(op.get(), pool_.get()), n, "xnn_run_operator");
    p_->steps.push_back({std::move(op), {}, kind});
  }
  void add_function(std::function<void()> fn, const std::string& kind) {
    fn();
    p_->steps.push_back({nullptr, std::move(fn), kind});
  }

  // The slot holding the value of slot `s` as NHWC (a transpose step the first time).
  int nhwc(int s) {
    if (slot(s).nhwc) return s;
    if (slot(s).shape.size() != 4) throw Error(ErrorKind::Internal, "xnnpack: NHWC of a value that is not 4-D");
    return relayout(s, true);
  }

  // The slot holding the value of slot `s` as NCHW (plain, row-major).
  int plain(int s) { return slot(s).nhwc ? relayout(s, false) : s; }

  // A copy of 4-D slot `s` in the other layout (NCHW <-> NHWC), made once: a transpose step, and
  // both slots remembered as each other's copy.
  int relayout(int s, bool to_nhwc) {
    auto& made = to_nhwc ? to_nhwc_ : to_plain_;
    if (auto it = made.find(s); it != made.end()) return it->second;
    int d = new_slot(slot(s).shape, to_nhwc);
    const Shape& sh = slot(s).shape;
    const int64_t N = sh[0], C = sh[1], P = sh[2] * sh[3];
    const float* x = slot(s).data();
    float* y = slot(d).data();
    // element (n, c, q) is at (n * C + c) * P + q in NCHW, (n * P + q) * C + c in NHWC
    const int64_t in_c = to_nhwc ? P : 1, in_q = to_nhwc ? 1 : C, out_c = to_nhwc ? 1 : P, out_q = to_nhwc ? C : 1;
    add_function(
        [=] {
          for (int64_t n = 0; n < N; ++n)
            for (int64_t c = 0; c < C; ++c) {
              const float* src = x + n * P * C + c * in_c;
              float* dst = y + n * P * C + c * out_c;
              for (int64_t q = 0; q < P; ++q) dst[q * out_q] = src[q * in_q];
            }
        },
        "layout");
    made[s] = d;
    (to_nhwc ? to_plain_ : to_nhwc_)[d] = s;
    return d;
  }

  // True when `name` has a slot, building its producer first when it has not been built yet (the
  // trace is demand-driven, so the file order need not be topological).
  bool computed(const std::string& name) {
    if (where_.count(name)) return true;
    auto it = g_->producer_of.find(name);
    if (it == g_->producer_of.end() || fused_.count(it->second)) return false;
    if (!building_.insert(it->second).second)
      throw Error(ErrorKind::BadModel,
                  "xnnpack: the graph has a cycle through node '" + g_->nodes[it->second].name + "'");
    build_node(it->second);
    building_.erase(it->second);
    return where_.count(name) > 0;
  }

  int slot_of(const OnnxNode& n, size_t i) {
    if (!computed(n.in.at(i)))
      throw Error(ErrorKind::BadModel, "xnnpack: input '" + n.in.at(i) + "' of node '" + n.name + "' is undefined");
    return where_.at(n.in.at(i));
  }

  const OnnxNode* sole_reader(const std::string& name, size_t& index) const { return g_->sole_reader(name, index); }

  // Absorbs the Relu/Clip chain after value `value` (of node i) into [lo, hi] while the intervals
  // meet; returns the name of the last value absorbed.
  std::string absorb_clamps(size_t i, std::string value, float& lo, float& hi, std::string& what) {
    for (;;) {
      size_t r = 0;
      const OnnxNode* m = sole_reader(value, r);
      if (!m || r <= i || !clamp_op(m->op) || m->in.size() != 1) break;
      float a, b;
      clamp_of(*m, a, b);
      const float nlo = std::max(lo, a), nhi = std::min(hi, b);
      if (!(nlo < nhi)) break;
      lo = nlo;
      hi = nhi;
      fused_.insert(r);
      what += "+" + m->op;
      value = m->out.at(0);
    }
    return value;
  }

  void trace(Plan& plan, const std::vector<Tensor>& batch) {
    p_ = &plan;
    where_.clear();
    to_nhwc_.clear();
    to_plain_.clear();
    fused_.clear();
    building_.clear();
    fallbacks_.clear();
    fusions_.clear();
    for (size_t i = 0; i < batch.size(); ++i) {
      int s = new_slot(batch[i].shape, false);
      where_[g_->info.inputs[i].name] = s;
      plan.inputs.push_back(s);
    }
    write_inputs(plan, batch);
    for (size_t i = 0; i < g_->nodes.size(); ++i)
      if (!fused_.count(i) && !where_.count(g_->nodes[i].out.at(0))) build_node(i);
    for (const auto& o : g_->info.outputs) {
      if (!computed(o.name)) {
        const Tensor* c = constant(o.name);
        if (!c) throw Error(ErrorKind::BadModel, "xnnpack: output '" + o.name + "' is never computed");
        int s = new_slot(c->shape, false);
        std::copy(c->data.begin(), c->data.end(), slot(s).data());
        plan.outputs.push_back(s);
      } else {
        plan.outputs.push_back(plain(where_.at(o.name)));
      }
    }
    if (extra_flag("verbose")) {
      std::string f, u;
      for (const auto& s : fallbacks_) f += " " + s;
      for (const auto& s : fusions_) u += " " + s;
      std::fprintf(stderr, "xnnpack.fallbacks (reference ops):%s\nxnnpack.fusions:%s\n", f.c_str(), u.c_str());
    }
    p_ = nullptr;
  }

  static void write_inputs(Plan& plan, const std::vector<Tensor>& batch) {
    for (size_t i = 0; i < batch.size(); ++i)
      std::copy(batch[i].data.begin(), batch[i].data.end(), plan.slots[size_t(plan.inputs[i])].data());
  }

  void replay(Plan& plan, const std::vector<Tensor>& batch) {
    write_inputs(plan, batch);
    const bool profile = extra_flag("profile");
    std::map<std::string, double> ms;
    for (auto& s : plan.steps) {
      auto t0 = std::chrono::steady_clock::now();
      if (s.op) {
        xnn_status st = xnn_run_operator(s.op.get(), pool_.get());
        if (st != xnn_status_success)
          throw Error(ErrorKind::Internal, "xnnpack: running " + s.kind + " failed: " + status_name(st));
      } else {
        s.fn();
      }
      if (profile)
        ms[s.kind] += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    }
    if (profile) {
      double total = 0;
      for (const auto& [k, v] : ms) total += v;
      std::fprintf(stderr, "xnnpack profile (%.3f ms):", total);
      for (const auto& [k, v] : ms) std::fprintf(stderr, " %s %.3f", k.c_str(), v);
      std::fprintf(stderr, "\n");
    }
  }

  static std::vector<Tensor> outputs_of(Plan& plan) {
    std::vector<Tensor> out;
    for (int s : plan.outputs) {
      Slot& sl = plan.slots[size_t(s)];
      Tensor t(sl.shape);
      std::copy_n(sl.data(), t.data.size(), t.data.data());
      out.push_back(std::move(t));
    }
    return out;
  }

  void build_node(size_t i) {
    const OnnxNode& n = g_->nodes[i];
    if (!build_native(i)) build_reference(n);
  }

  // --- reference fallback ---

  // The inputs of a reference step: slots (as NCHW) or constants (-1 in `in`).
  void reference_inputs(const OnnxNode& n, std::vector<int>& in, std::vector<const Tensor*>& consts) {
    static const Tensor none;
    for (size_t i = 0; i < n.in.size(); ++i) {
      if (n.in[i].empty()) {
        in.push_back(-1);
        consts.push_back(&none);
      } else if (const Tensor* c = constant(n.in[i])) {
        in.push_back(-1);
        consts.push_back(c);
      } else if (computed(n.in[i])) {
        in.push_back(plain(where_.at(n.in[i])));
        consts.push_back(nullptr);
      } else if (g_->ints.count(n.in[i])) {
        in.push_back(-1);
        consts.push_back(&none);
      } else {
        throw Error(ErrorKind::BadModel, "xnnpack: input '" + n.in[i] + "' of node '" + n.name + "' is undefined");
      }
    }
  }

  void build_reference(const OnnxNode& n) {
    std::vector<int> in;
    std::vector<const Tensor*> consts;
    reference_inputs(n, in, consts);
    Tensor y = reference_result(n, in, consts);  // once now, to learn the output shape
    int out = new_slot(y.shape, false);
    std::copy(y.data.begin(), y.data.end(), slot(out).data());
    auto fn = [this, plan = p_, &n, in, consts, out] {
      Tensor r = reference_result(*plan, n, in, consts);
      Slot& o = plan->slots[size_t(out)];
      if (r.shape != o.shape)
        throw Error(ErrorKind::Internal, "xnnpack: node '" + n.name + "' changed its output shape between runs");
      std::copy(r.data.begin(), r.data.end(), o.data());
    };
    p_->steps.push_back({nullptr, std::move(fn), n.op + " (reference)"});
    where_[n.out.at(0)] = out;
    fallbacks_.push_back(n.op + "(" + n.name + ")");
  }

  Tensor reference_result(const OnnxNode& n, const std::vector<int>& in, const std::vector<const Tensor*>& consts) {
    return reference_result(*p_, n, in, consts);
  }

  Tensor reference_result(Plan& plan, const OnnxNode& n, const std::vector<int>& in,
                          const std::vector<const Tensor*>& consts) const {
    std::vector<Tensor> held;
    held.reserve(in.size());
    std::vector<const Tensor*> args;
    for (size_t i = 0; i < in.size(); ++i) {
      if (in[i] < 0) {
        args.push_back(consts[i]);
      } else {
        Slot& s = plan.slots[size_t(in[i])];
        held.emplace_back(s.shape, std::vector<float>(s.data(), s.data() + s.count()));
        args.push_back(&held.back());
      }
    }
    try {
      return detail::reference_op(*g_, n, args);
    } catch (const Error&) {
      throw;
    } catch (const std::exception& e) {
      throw Error(ErrorKind::Internal, "xnnpack: node '" + n.name + "' (" + n.op + "): " + e.what());
    }
  }

  // --- native ops ---

  bool build_native(size_t i) {
    const OnnxNode& n = g_->nodes[i];
    if (!native(n.op)) return false;
    if (n.op == "Identity") {
      if (!computed(n.in.at(0))) return false;
      where_[n.out.at(0)] = slot_of(n, 0);
      return true;
    }
    if (n.op == "Conv") return conv(i);
    if (n.op == "Gemm" || n.op == "MatMul") return fully_connected(i);
    if (n.op == "PRelu") return prelu(n);
    if (clamp_op(n.op) || n.op == "Sigmoid" || n.op == "LeakyRelu") return activation(i);
    if (elementwise_unary(n.op)) return unary_any_layout(n);
    if (n.op == "MaxPool" || n.op == "AveragePool") return pool(n);
    if (n.op == "GlobalAveragePool") return global_pool(n);
    if (n.op == "Softmax") return softmax(n);
    if (n.op == "Pad") return pad(n);
    if (n.op == "Concat") return concat(n);
    if (n.op == "Transpose") return transpose(n);
    if (n.op == "Reshape" || n.op == "Flatten" || n.op == "Squeeze") return reshape(n);
    if (n.op == "ReduceMean") return reduce_mean(n);
    return binary(i);
  }

  // Rows and channels of an element-wise op over a slot: the stored innermost dimension is a row.
  static void rows_of(const Slot& s, size_t& rows, size_t& channels) {
    const Shape ph = s.physical();
    channels = ph.empty() ? 1 : sz(std::max<int64_t>(ph.back(), 1));
    rows = s.count() / channels;
  }

  bool activation(size_t i) {
    const OnnxNode& n = g_->nodes[i];
    if (n.in.size() != 1 || !computed(n.in[0])) return false;
    int x = slot_of(n, 0);
    float lo = 0, hi = 0;
    if (clamp_op(n.op)) {
      clamp_of(n, lo, hi);
      if (!(lo < hi)) return false;
    }
    int y = new_slot(slot(x).shape, slot(x).nhwc);
    size_t rows, ch;
    rows_of(slot(x), rows, ch);
    xnn_operator_t op = nullptr;
    std::string last = n.out.at(0), what = n.op;
    if (clamp_op(n.op)) {
      last = absorb_clamps(i, last, lo, hi, what);
      check(xnn_create_clamp_nc_f32(ch, ch, ch, lo, hi, 0, &op), n, "xnn_create_clamp_nc_f32");
      Operator o(op);
      check(xnn_setup_clamp_nc_f32(op, rows, slot(x).data(), slot(y).data(), pool_.get()), n, "setup");
      add_operator(std::move(o), n, "Clamp");
    } else if (n.op == "Sigmoid") {
      check(xnn_create_sigmoid_nc_f32(ch, ch, ch, 0, &op), n, "xnn_create_sigmoid_nc_f32");
      Operator o(op);
      check(xnn_setup_sigmoid_nc_f32(op, rows, slot(x).data(), slot(y).data(), pool_.get()), n, "setup");
      add_operator(std::move(o), n, "Sigmoid");
    } else {
      check(xnn_create_leaky_relu_nc_f32(ch, ch, ch, n.attr_f("alpha", 0.01f), 0, &op), n,
            "xnn_create_leaky_relu_nc_f32");
      Operator o(op);
      check(xnn_setup_leaky_relu_nc_f32(op, rows, slot(x).data(), slot(y).data(), pool_.get()), n, "setup");
      add_operator(std::move(o), n, "LeakyRelu");
    }
    if (what != n.op) fusions_.push_back(what);
    where_[last] = y;
    return true;
  }

  // Tanh, Exp, …: the reference loop on the stored data, whatever its layout.
  bool unary_any_layout(const OnnxNode& n) {
    if (n.in.size() != 1 || !computed(n.in[0])) return false;
    int x = slot_of(n, 0);
    int y = new_slot(slot(x).shape, slot(x).nhwc);
    Plan* plan = p_;
    add_function(
        [this, plan, &n, x, y] {
          Slot& s = plan->slots[size_t(x)];
          Tensor t(Shape{int64_t(s.count())}, std::vector<float>(s.data(), s.data() + s.count()));
          Tensor r = detail::reference_op(*g_, n, {&t});
          std::copy(r.data.begin(), r.data.end(), plan->slots[size_t(y)].data());
        },
        n.op + " (reference)");
    where_[n.out.at(0)] = y;
    return true;
  }

  // A constant that is per-channel (or one value) for a 4-D value of `channels` channels: its
  // values per channel, or empty when it is not.
  static std::vector<float> per_channel(const Tensor& c, int64_t channels) {
    if (c.size() == 1) return std::vector<float>(sz(channels), c.data[0]);
    if (c.shape.size() > 4) return {};
    const size_t off = 4 - c.shape.size();
    for (size_t j = 0; j < c.shape.size(); ++j)
      if (c.shape[j] != 1 && (off + j != 1 || c.shape[j] != channels)) return {};
    return c.size() == channels ? c.data : std::vector<float>{};
  }

  bool prelu(const OnnxNode& n) {
    const Tensor* s = constant(n, 1);
    if (!s || n.in.size() != 2 || !computed(n.in[0])) return false;
    int x = slot_of(n, 0);
    const Shape xs = slot(x).shape;
    std::vector<float> slope;
    if (xs.size() == 4) {
      slope = per_channel(*s, xs[1]);
      if (slope.empty()) return false;
      x = nhwc(x);
    } else if (xs.size() == 2) {
      if (s->size() == 1)
        slope.assign(sz(xs[1]), s->data[0]);
      else if (s->size() == xs[1] && (s->shape.size() == 1 || (s->shape.size() == 2 && s->shape[0] == 1)))
        slope = s->data;
      else
        return false;
    } else {
      return false;
    }
    const size_t C = sz(xs[1]);
    int y = new_slot(xs, xs.size() == 4);
    p_->keep.push_back(std::move(slope));
    xnn_operator_t op = nullptr;
    check(xnn_create_prelu_nc_f32(C, C, C, p_->keep.back().data(), 0, &op), n, "xnn_create_prelu_nc_f32");
    Operator o(op);
    check(xnn_setup_prelu_nc_f32(op, slot(x).count() / C, slot(x).data(), slot(y).data(), pool_.get()), n,
          "xnn_setup_prelu_nc_f32");
    add_operator(std::move(o), n, "PRelu");
    where_[n.out.at(0)] = y;
    return true;
  }

  // Add/Sub/Mul/Div/Max/Min, numpy broadcasting. A 4-D operation runs in NHWC when a computed
  // operand is held as NHWC (a constant is re-expressed for NHWC); otherwise on plain data.
  bool binary(size_t i) {
    const OnnxNode& n = g_->nodes[i];
    if (n.in.size() != 2) return false;
    const Tensor* ca = constant(n, 0);
    const Tensor* cb = constant(n, 1);
    if (ca && cb) return false;
    int sa = -1, sb = -1;
    if (!ca) {
      if (!computed(n.in[0])) return false;
      sa = where_.at(n.in[0]);
    }
    if (!cb) {
      if (!computed(n.in[1])) return false;
      sb = where_.at(n.in[1]);
    }
    auto shape_of = [&](int s, const Tensor* c) { return s >= 0 ? slot(s).shape : c->shape; };
    Shape as = shape_of(sa, ca), bs = shape_of(sb, cb);
    if (as.empty()) as = {1};
    if (bs.empty()) bs = {1};
    const size_t r = std::max(as.size(), bs.size());
    if (r > XNN_MAX_TENSOR_DIMS) return false;
    Shape a4(r, 1), b4(r, 1), ys(r);
    std::copy(as.begin(), as.end(), a4.begin() + long(r - as.size()));
    std::copy(bs.begin(), bs.end(), b4.begin() + long(r - bs.size()));
    for (size_t d = 0; d < r; ++d) {
      if (a4[d] != b4[d] && a4[d] != 1 && b4[d] != 1) return false;  // the reference says why
      ys[d] = std::max(a4[d], b4[d]);
    }
    // NHWC when a computed operand is held so and every computed operand is 4-D
    const bool in_nhwc = r == 4 && ((sa >= 0 && slot(sa).nhwc) || (sb >= 0 && slot(sb).nhwc)) &&
                         (sa < 0 || slot(sa).shape.size() == 4) && (sb < 0 || slot(sb).shape.size() == 4);
    // operand dims and data as the operator reads them
    std::vector<size_t> da, db;
    const float* pa = nullptr;
    const float* pb = nullptr;
    auto operand = [&](int s, const Tensor* c, const Shape& full, std::vector<size_t>& dims, const float*& ptr) {
      if (!in_nhwc) {
        if (s >= 0) {
          s = plain(s);  // a 4-D operand held NHWC beside a computed operand of another rank: read it NCHW
          ptr = slot(s).data();
          for (auto d : slot(s).shape) dims.push_back(sz(d));
        } else {
          p_->keep.push_back(c->data);
          p_->keep.back().resize(c->data.size() + XNN_EXTRA_BYTES / sizeof(float));
          ptr = p_->keep.back().data();
          for (auto d : c->shape) dims.push_back(sz(d));
        }
        if (dims.empty()) dims.push_back(1);
        return;
      }
      dims = {sz(full[0]), sz(full[2]), sz(full[3]), sz(full[1])};
      if (s >= 0) {
        ptr = slot(nhwc(s)).data();
        return;
      }
      // a constant broadcast to 4-D (full holds its right-aligned dims), transposed to NHWC
      std::vector<float> t(c->data.size() + XNN_EXTRA_BYTES / sizeof(float));
      const int64_t N = full[0], C = full[1], H = full[2], W = full[3];
      for (int64_t nn = 0; nn < N; ++nn)
        for (int64_t cc = 0; cc < C; ++cc)
          for (int64_t h = 0; h < H; ++h)
            for (int64_t w = 0; w < W; ++w)
              t[sz(((nn * H + h) * W + w) * C + cc)] = c->data[sz(((nn * C + cc) * H + h) * W + w)];
      p_->keep.push_back(std::move(t));
      ptr = p_->keep.back().data();
    };
    operand(sa, ca, a4, da, pa);
    operand(sb, cb, b4, db, pb);
    // a Relu/Clip after an Add/Sub/Mul/Div runs as the operator's output clamp
    float lo = -kInf, hi = kInf;
    std::string last = n.out.at(0), what = n.op;
    const bool clampable = n.op != "Max" && n.op != "Min";
    if (clampable) last = absorb_clamps(i, last, lo, hi, what);
    int y = new_slot(ys, in_nhwc);
    xnn_operator_t op = nullptr;
    xnn_status st;
    using Setup = xnn_status (*)(xnn_operator_t, size_t, const size_t*, size_t, const size_t*, const float*,
                                 const float*, float*, pthreadpool_t);
    Setup setup = nullptr;
    if (n.op == "Add") {
      st = xnn_create_add_nd_f32(lo, hi, 0, &op);
      setup = xnn_setup_add_nd_f32;
    } else if (n.op == "Sub") {
      st = xnn_create_subtract_nd_f32(lo, hi, 0, &op);
      setup = xnn_setup_subtract_nd_f32;
    } else if (n.op == "Mul") {
      st = xnn_create_multiply_nd_f32(lo, hi, 0, &op);
      setup = xnn_setup_multiply_nd_f32;
    } else if (n.op == "Div") {
      st = xnn_create_divide_nd_f32(lo, hi, 0, &op);
      setup = xnn_setup_divide_nd_f32;
    } else if (n.op == "Max") {
      st = xnn_create_maximum_nd_f32(0, &op);
      setup = xnn_setup_maximum_nd_f32;
    } else if (n.op == "Min") {
      st = xnn_create_minimum_nd_f32(0, &op);
      setup = xnn_setup_minimum_nd_f32;
    } else {
      return false;
    }
    check(st, n, "create");
    Operator o(op);
    check(setup(op, da.size(), da.data(), db.size(), db.data(), pa, pb, slot(y).data(), pool_.get()), n, "setup");
    add_operator(std::move(o), n, n.op);
    if (what != n.op) fusions_.push_back(what);
    where_[last] = y;
    return true;
  }

  // --- convolution ---

  bool conv(size_t i) {
    const OnnxNode& n = g_->nodes[i];
    const Tensor* w = constant(n, 1);
    if (!w || w->shape.size() != 4 || !computed(n.in.at(0))) return false;
    int x = slot_of(n, 0);
    const Shape xs = slot(x).shape;
    if (xs.size() != 4) return false;
    const int64_t N = xs[0], C = xs[1], H = xs[2], W = xs[3];
    const int64_t M = w->shape[0], CG = w->shape[1], KH = w->shape[2], KW = w->shape[3];
    const int64_t g = n.attr_i("group", 1);
    auto st = n.attr_ints("strides", {1, 1});
    auto dl = n.attr_ints("dilations", {1, 1});
    auto pads = n.attr_ints("pads", {0, 0, 0, 0});
    if (n.attr_s("auto_pad", "NOTSET") != "NOTSET" || st.size() != 2 || dl.size() != 2 || pads.size() != 4)
      return false;
    if (std::any_of(pads.begin(), pads.end(), [](int64_t v) { return v < 0; }) || st[0] < 1 || st[1] < 1 || dl[0] < 1 ||
        dl[1] < 1 || KH < 1 || KW < 1)
      return false;
    if (g <= 0 || C != CG * g || M % g != 0)
      throw Error(ErrorKind::InvalidArgument, "Conv: channels " + std::to_string(C) + " != " + std::to_string(CG) +
                                                  " x group " + std::to_string(g));
    const auto [OH, OW] = detail::conv_output_hw(H, W, KH, KW, st, dl, pads);
    // a padded input smaller than the dilated kernel: XNNPACK's size arithmetic would wrap
    if (H + pads[0] + pads[2] < (KH - 1) * dl[0] + 1 || W + pads[1] + pads[3] < (KW - 1) * dl[1] + 1) return false;
    const int64_t MG = M / g;
    // weights OIHW -> XNNPACK's [groups][group outputs][KH][KW][group inputs] (OHWI per group)
    std::vector<float> k(sz(M * KH * KW * CG));
    for (int64_t o = 0; o < M; ++o)
      for (int64_t c = 0; c < CG; ++c)
        for (int64_t ky = 0; ky < KH; ++ky)
          for (int64_t kx = 0; kx < KW; ++kx)
            k[sz(((o * KH + ky) * KW + kx) * CG + c)] = w->data[sz(((o * CG + c) * KH + ky) * KW + kx)];
    std::vector<float> b(sz(M), 0.f);
    if (n.in.size() > 2 && !n.in[2].empty()) {
      const Tensor* bias = constant(n, 2);
      if (!bias || bias->size() != M) return false;
      b = bias->data;
    }
    // fold the per-channel Mul/Add/Sub/Div that follow, then the clamps
    std::string value = n.out.at(0), what = "Conv";
    const int64_t per_out = KH * KW * CG;
    for (;;) {
      size_t r = 0;
      const OnnxNode* m = sole_reader(value, r);
      if (!m || r <= i || m->in.size() != 2) break;
      const bool first = m->in[0] == value;
      const std::string& other = first ? m->in[1] : m->in[0];
      const Tensor* c = constant(other);
      if (!c || other == value) break;
      if ((m->op == "Sub" || m->op == "Div") && !first) break;
      if (m->op != "Mul" && m->op != "Add" && m->op != "Sub" && m->op != "Div") break;
      std::vector<float> v = per_channel(*c, M);
      if (v.empty()) break;
      for (int64_t o = 0; o < M; ++o) {
        const float e = v[sz(o)];
        if (m->op == "Add") {
          b[sz(o)] += e;
        } else if (m->op == "Sub") {
          b[sz(o)] -= e;
        } else {
          const float f = m->op == "Mul" ? e : 1.f / e;
          b[sz(o)] *= f;
          for (int64_t q = 0; q < per_out; ++q) k[sz(o * per_out + q)] *= f;
        }
      }
      fused_.insert(r);
      what += "+" + m->op;
      value = m->out.at(0);
    }
    float lo = -kInf, hi = kInf;
    value = absorb_clamps(i, value, lo, hi, what);
    x = nhwc(x);
    int y = new_slot({N, M, OH, OW}, true);
    xnn_operator_t op = nullptr;
    // XNNPACK's padding order is top, right, bottom, left; ONNX's pads are top, left, bottom, right
    check(xnn_create_convolution2d_nhwc_f32(u32(pads[0]), u32(pads[3]), u32(pads[2]), u32(pads[1]), u32(KH), u32(KW),
                                            u32(st[0]), u32(st[1]), u32(dl[0]), u32(dl[1]), u32(g), sz(CG), sz(MG),
                                            sz(C), sz(M), k.data(), b.data(), lo, hi, 0, &op),
          n, "xnn_create_convolution2d_nhwc_f32");
    Operator o(op);
    check(xnn_setup_convolution2d_nhwc_f32(op, sz(N), sz(H), sz(W), slot(x).data(), slot(y).data(), pool_.get()), n,
          "xnn_setup_convolution2d_nhwc_f32");
    add_operator(std::move(o), n, g == C && CG == 1 && g > 1 ? "Conv depthwise" : "Conv");
    if (what != "Conv") fusions_.push_back(what);
    where_[value] = y;
    return true;
  }

  // Gemm (no transA) and MatMul with constant 2-D weights on a 2-D input: fully connected.
  bool fully_connected(size_t i) {
    const OnnxNode& n = g_->nodes[i];
    const Tensor* w = constant(n, 1);
    if (!w || w->shape.size() != 2 || n.in.size() < 2 || !computed(n.in[0])) return false;
    const bool gemm = n.op == "Gemm";
    if (gemm && n.attr_i("transA", 0) != 0) return false;
    const bool tb = gemm && n.attr_i("transB", 0) != 0;
    const float alpha = gemm ? n.attr_f("alpha", 1.f) : 1.f, beta = gemm ? n.attr_f("beta", 1.f) : 1.f;
    int x = slot_of(n, 0);
    if (slot(x).shape.size() != 2) return false;
    x = plain(x);
    const int64_t B = slot(x).shape[0], K = tb ? w->shape[1] : w->shape[0], O = tb ? w->shape[0] : w->shape[1];
    if (slot(x).shape[1] != K) throw Error(ErrorKind::InvalidArgument, "Gemm: inner dimensions differ");
    std::vector<float> k(sz(O * K));  // [outputs][inputs]
    for (int64_t o = 0; o < O; ++o)
      for (int64_t q = 0; q < K; ++q) k[sz(o * K + q)] = alpha * w->data[sz(tb ? o * K + q : q * O + o)];
    std::vector<float> b(sz(O), 0.f);
    if (gemm && n.in.size() > 2 && !n.in[2].empty()) {
      const Tensor* c = constant(n, 2);
      if (!c) return false;
      if (c->size() == 1)
        std::fill(b.begin(), b.end(), beta * c->data[0]);
      else if (c->size() == O && c->shape.back() == O)
        for (int64_t o = 0; o < O; ++o) b[sz(o)] = beta * c->data[sz(o)];
      else
        return false;
    }
    float lo = -kInf, hi = kInf;
    std::string what = n.op;
    std::string last = absorb_clamps(i, n.out.at(0), lo, hi, what);
    int y = new_slot({B, O}, false);
    xnn_operator_t op = nullptr;
    check(xnn_create_fully_connected_nc_f32(sz(K), sz(O), sz(K), sz(O), k.data(), b.data(), lo, hi, 0, &op), n,
          "xnn_create_fully_connected_nc_f32");
    Operator o(op);
    check(xnn_setup_fully_connected_nc_f32(op, sz(B), slot(x).data(), slot(y).data(), pool_.get()), n,
          "xnn_setup_fully_connected_nc_f32");
    add_operator(std::move(o), n, "FullyConnected");
    if (what != n.op) fusions_.push_back(what);
    where_[last] = y;
    return true;
  }

  // --- pooling ---

  bool pool(const OnnxNode& n) {
    if (n.in.size() != 1 || !computed(n.in[0]) || n.attr_i("ceil_mode", 0) != 0) return false;
    int x = slot_of(n, 0);
    const Shape xs = slot(x).shape;
    if (xs.size() != 4) return false;
    auto k = n.attr_ints("kernel_shape");
    auto st = n.attr_ints("strides", {1, 1});
    auto pads = n.attr_ints("pads", {0, 0, 0, 0});
    auto dl = n.attr_ints("dilations", {1, 1});
    if (n.attr_s("auto_pad", "NOTSET") != "NOTSET" || k.size() != 2 || st.size() != 2 || pads.size() != 4 ||
        dl != Shape{1, 1})
      return false;
    if (k[0] < 1 || k[1] < 1 || k[0] * k[1] == 1 || st[0] < 1 || st[1] < 1 ||
        std::any_of(pads.begin(), pads.end(), [](int64_t v) { return v < 0; }))
      return false;
    const bool max = n.op == "MaxPool";
    const bool padded = std::any_of(pads.begin(), pads.end(), [](int64_t v) { return v != 0; });
    if (!max && padded && n.attr_i("count_include_pad", 0) != 0) return false;
    // a pad as large as the window would give windows of padding alone
    if (pads[0] >= k[0] || pads[2] >= k[0] || pads[1] >= k[1] || pads[3] >= k[1]) return false;
    const int64_t N = xs[0], C = xs[1], H = xs[2], W = xs[3];
    const int64_t OH = (H + pads[0] + pads[2] - k[0]) / st[0] + 1, OW = (W + pads[1] + pads[3] - k[1]) / st[1] + 1;
    // a padded input smaller than the window (C++ division truncates a negative size to one
    // output row; XNNPACK's size arithmetic would wrap): the reference handles it
    if (OH <= 0 || OW <= 0 || H + pads[0] + pads[2] < k[0] || W + pads[1] + pads[3] < k[1]) return false;
    if (!max && !padded && k[0] == H && k[1] == W) return global_average(n, x);  // one window: the mean
    x = nhwc(x);
    int y = new_slot({N, C, OH, OW}, true);
    xnn_operator_t op = nullptr;
    if (max)
      check(xnn_create_max_pooling2d_nhwc_f32(u32(pads[0]), u32(pads[3]), u32(pads[2]), u32(pads[1]), u32(k[0]),
                                              u32(k[1]), u32(st[0]), u32(st[1]), 1, 1, sz(C), sz(C), sz(C), -kInf, kInf,
                                              0, &op),
            n, "xnn_create_max_pooling2d_nhwc_f32");
    else
      check(xnn_create_average_pooling2d_nhwc_f32(u32(pads[0]), u32(pads[3]), u32(pads[2]), u32(pads[1]), u32(k[0]),
                                                  u32(k[1]), u32(st[0]), u32(st[1]), sz(C), sz(C), sz(C), -kInf, kInf,
                                                  0, &op),
            n, "xnn_create_average_pooling2d_nhwc_f32");
    Operator o(op);
    auto setup = max ? xnn_setup_max_pooling2d_nhwc_f32 : xnn_setup_average_pooling2d_nhwc_f32;
    check(setup(op, sz(N), sz(H), sz(W), slot(x).data(), slot(y).data(), pool_.get()), n, "setup");
    add_operator(std::move(o), n, n.op);
    where_[n.out.at(0)] = y;
    return true;
  }

  bool global_pool(const OnnxNode& n) {
    if (n.in.size() != 1 || !computed(n.in[0])) return false;
    int x = slot_of(n, 0);
    if (slot(x).shape.size() != 4) return false;
    return global_average(n, x);
  }

  // The mean over H x W of a 4-D value: output [N, C, 1, 1] (NHWC and NCHW are the same there).
  bool global_average(const OnnxNode& n, int x) {
    const Shape xs = slot(x).shape;
    const int64_t N = xs[0], C = xs[1];
    x = nhwc(x);
    int y = new_slot({N, C, 1, 1}, true);
    xnn_operator_t op = nullptr;
    check(xnn_create_global_average_pooling_nwc_f32(sz(C), sz(C), sz(C), -kInf, kInf, 0, &op), n,
          "xnn_create_global_average_pooling_nwc_f32");
    Operator o(op);
    check(xnn_setup_global_average_pooling_nwc_f32(op, sz(N), sz(xs[2] * xs[3]), slot(x).data(), slot(y).data(),
                                                   pool_.get()),
          n, "xnn_setup_global_average_pooling_nwc_f32");
    add_operator(std::move(o), n, "GlobalAveragePool");
    where_[n.out.at(0)] = y;
    return true;
  }

  // ReduceMean over H and W of a 4-D value: a global average pool ([N, C] without keepdims is the
  // same buffer).
  bool reduce_mean(const OnnxNode& n) {
    if (n.in.size() != 1 || !computed(n.in[0])) return false;
    int x = slot_of(n, 0);
    const Shape xs = slot(x).shape;
    if (xs.size() != 4) return false;
    auto axes = n.attr_ints("axes");
    for (auto& a : axes) a = a < 0 ? a + 4 : a;
    std::sort(axes.begin(), axes.end());
    if (axes != Shape{2, 3}) return false;
    global_average(n, x);
    if (n.attr_i("keepdims", 1) == 0) where_[n.out.at(0)] = alias_of(where_.at(n.out.at(0)), {xs[0], xs[1]}, false);
    return true;
  }

  // Transpose between NCHW and NHWC: the value is already held in the other layout (or is
  // converted once), so the result is that buffer under the transposed shape.
  bool transpose(const OnnxNode& n) {
    if (n.in.size() != 1 || !computed(n.in[0])) return false;
    int x = slot_of(n, 0);
    const Shape xs = slot(x).shape;
    const auto perm = n.attr_ints("perm");
    if (xs.size() != 4) return false;
    if (perm == Shape{0, 2, 3, 1}) {  // NCHW -> NHWC: the NHWC buffer, seen as a plain [N, H, W, C]
      where_[n.out.at(0)] = alias_of(nhwc(x), {xs[0], xs[2], xs[3], xs[1]}, false);
    } else if (perm == Shape{0, 3, 1, 2}) {  // NHWC -> NCHW: the plain buffer, seen as NHWC
      where_[n.out.at(0)] = alias_of(plain(x), {xs[0], xs[3], xs[1], xs[2]}, true);
    } else {
      return false;
    }
    return true;
  }

  // Reshape/Flatten/Squeeze of plain data: the same buffer under the new shape (learnt from the
  // reference op, once per plan).
  bool reshape(const OnnxNode& n) {
    if (n.in.empty() || constant(n.in[0]) || !computed(n.in[0])) return false;
    std::vector<int> in;
    std::vector<const Tensor*> consts;
    reference_inputs(n, in, consts);
    const Tensor y = reference_result(n, in, consts);
    if (size_t(numel(y.shape)) != slot(in[0]).count()) return false;
    where_[n.out.at(0)] = alias_of(in[0], y.shape, false);
    return true;
  }

  // Softmax as opset < 13 defines it: over the dimensions from `axis` on, flattened, on plain data.
  bool softmax(const OnnxNode& n) {
    if (n.in.size() != 1 || !computed(n.in[0])) return false;
    int x = slot_of(n, 0);
    const Shape xs = slot(x).shape;
    int64_t axis = n.attr_i("axis", 1);
    if (axis < 0) axis += int64_t(xs.size());
    if (axis < 0 || axis >= int64_t(xs.size())) return false;
    int64_t outer = 1;
    for (int64_t d = 0; d < axis; ++d) outer *= xs[sz(d)];
    if (outer <= 0 || numel(xs) <= 0) return false;  // an empty value: the reference op handles it
    const int64_t inner = numel(xs) / outer;
    x = plain(x);
    int y = new_slot(xs, false);
    xnn_operator_t op = nullptr;
    check(xnn_create_softmax_nc_f32(sz(inner), sz(inner), sz(inner), 0, &op), n, "xnn_create_softmax_nc_f32");
    Operator o(op);
    check(xnn_setup_softmax_nc_f32(op, sz(outer), slot(x).data(), slot(y).data(), pool_.get()), n,
          "xnn_setup_softmax_nc_f32");
    add_operator(std::move(o), n, "Softmax");
    where_[n.out.at(0)] = y;
    return true;
  }

  // Constant Pad (pads as an attribute, none negative), in the layout the value is in.
  bool pad(const OnnxNode& n) {
    if (n.attr_s("mode", "constant") != "constant" || n.in.size() != 1 || !computed(n.in[0])) return false;
    int x = slot_of(n, 0);
    const Shape xs = slot(x).shape;
    const size_t r = xs.size();
    auto p = n.attr_ints("pads");
    if (r == 0 || r > XNN_MAX_TENSOR_DIMS || p.size() != 2 * r ||
        std::any_of(p.begin(), p.end(), [](int64_t v) { return v < 0; }))
      return false;
    Shape ys(r);
    for (size_t d = 0; d < r; ++d) ys[d] = xs[d] + p[d] + p[r + d];
    const bool layout = slot(x).nhwc;
    std::vector<size_t> dims, pre, post;
    const std::vector<size_t> order = layout ? std::vector<size_t>{0, 2, 3, 1} : [r] {
      std::vector<size_t> v(r);
      for (size_t d = 0; d < r; ++d) v[d] = d;
      return v;
    }();
    for (size_t d : order) {
      dims.push_back(sz(xs[d]));
      pre.push_back(sz(p[d]));
      post.push_back(sz(p[r + d]));
    }
    int y = new_slot(ys, layout);
    p_->keep.push_back({n.attr_f("value", 0.f)});
    xnn_operator_t op = nullptr;
    check(xnn_create_constant_pad_nd_x32(p_->keep.back().data(), 0, &op), n, "xnn_create_constant_pad_nd_x32");
    Operator o(op);
    check(xnn_setup_constant_pad_nd_x32(op, r, dims.data(), pre.data(), post.data(), slot(x).data(), slot(y).data(),
                                        pool_.get()),
          n, "xnn_setup_constant_pad_nd_x32");
    add_operator(std::move(o), n, "Pad");
    where_[n.out.at(0)] = y;
    return true;
  }

  // Concat of 4-D values on the channel axis, when one of them is NHWC: a copy loop in NHWC (the
  // values stay NHWC). Anything else goes to the reference.
  bool concat(const OnnxNode& n) {
    std::vector<int> xs;
    bool any_nhwc = false;
    for (const auto& name : n.in) {
      if (constant(name) || !computed(name)) return false;
      xs.push_back(where_.at(name));
      any_nhwc |= slot(xs.back()).nhwc;
    }
    if (xs.empty() || !any_nhwc) return false;
    const Shape s0 = slot(xs[0]).shape;
    int64_t axis = n.attr_i("axis", 0);
    if (axis < 0) axis += 4;
    if (s0.size() != 4 || axis != 1) return false;
    Shape ys = s0;
    ys[1] = 0;
    for (int x : xs) {
      const Shape& s = slot(x).shape;
      if (s.size() != 4 || s[0] != s0[0] || s[2] != s0[2] || s[3] != s0[3]) return false;
      ys[1] += s[1];
    }
    std::vector<std::pair<const float*, int64_t>> parts;
    for (int& x : xs) {
      x = nhwc(x);
      parts.emplace_back(slot(x).data(), slot(x).shape[1]);
    }
    int y = new_slot(ys, true);
    float* out = slot(y).data();
    const int64_t pixels = ys[0] * ys[2] * ys[3], C = ys[1];
    add_function(
        [parts, out, pixels, C] {
          int64_t off = 0;
          for (const auto& [src, c] : parts) {
            for (int64_t q = 0; q < pixels; ++q) std::memcpy(out + q * C + off, src + q * c, sz(c) * sizeof(float));
            off += c;
          }
        },
        "Concat");
    where_[n.out.at(0)] = y;
    return true;
  }
};

}  // namespace

void register_xnnpack_backend() {
  register_backend("xnnpack", [] { return std::make_unique<XnnpackBackend>(); });
}

}  // namespace facerec
