#pragma once
// facerec::InferenceBackend — one abstract class for running a neural network.
//
// What it represents: a loaded network bound to one runtime. Built in: "opencv-dnn" (OpenCV 4.6
// DNN, fp32), "onednn" (oneDNN 2.6: fp32, and int8 for QDQ models from `facerec models quantize`;
// threads set per instance), "xnnpack" (XNNPACK operators, fp32 only, NHWC inside, a thread pool per
// instance), "reference" (plain loops, the yardstick; QDQ exact in float). It knows tensors only:
// image decoding, pre-processing (resize, colour order, normalisation) and post-processing
// (anchors, NMS, point mapping) live in the pipeline stages and are shared by every backend.
//
// How a new runtime fits without changing callers:
//   1. derive from InferenceBackend and implement load/inputs/outputs/run/name/precision/session;
//   2. register a factory once, at static-initialisation time or from main:
//        facerec::register_backend("onednn-int8", [] { return std::make_unique<MyBackend>(); });
//   3. callers select it by name (from a config string, a CLI flag or the model manifest):
//        auto net = facerec::create_backend("onednn-int8");
//   A runtime that needs another model format (a TensorRT engine, a .tflite file) converts from
//   the ONNX file inside load() or reads BackendOptions::extra; callers still pass the ONNX path.
//   None of these is packaged in Debian 12; how each would fit: TensorRT — load() builds (or reads
//   from a cache keyed by the file's sha256) an engine with its ONNX parser, run() copies the batch
//   to the device; OpenVINO — load() calls Core::read_model on the ONNX file and compiles it for
//   "CPU" (int8 QDQ models are read as they are); the TFLite runtime — load() reads the .tflite the
//   manifest imported from (BackendOptions::extra["tflite"]) and runs it with its XNNPACK delegate.
//
// Thread safety: a backend instance is NOT safe to call from several threads at once (runtimes
// keep per-call scratch memory). Use one instance per thread — session() gives another over the
// same loaded network; instances are independent.
// The registry functions are thread safe.

#include <facerec/tensor.hpp>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace facerec {

enum class Precision { FP32, FP16, INT8, BF16 };
const char* to_string(Precision p) noexcept;

struct BackendOptions {
  int threads = 0;                           // 0: the runtime's default; >0: at most that many
  Precision precision = Precision::FP32;     // a backend that cannot honour it throws Unsupported
  std::map<std::string, std::string> extra;  // runtime-specific knobs, documented per backend
};

class InferenceBackend {
 public:
  virtual ~InferenceBackend() = default;

  // Loads a network from an ONNX file.
  // Requires: `model_path` names a readable ONNX file.
  // Ensures: inputs()/outputs() describe the network; run() may be called.
  // Throws Error: NotFound (no file), BadModel (empty, truncated, garbage, inconsistent),
  //   Unsupported (an op or data type this runtime lacks; the message names it).
  virtual void load(const std::string& model_path, const BackendOptions& options) = 0;

  virtual std::vector<TensorSpec> inputs() const = 0;
  virtual std::vector<TensorSpec> outputs() const = 0;

  // Runs one batch. `batch` holds one tensor per input, in inputs() order; each shape must match
  // its spec (a -1 dimension accepts any positive size).
  // Ensures: one tensor per output, in outputs() order.
  // Throws Error: InvalidArgument (wrong count or shape; the message says which and why),
  //   Internal (the runtime failed).
  virtual std::vector<Tensor> run(const std::vector<Tensor>& batch) = 0;

  virtual std::string name() const = 0;
  virtual Precision precision() const = 0;

  // Another session over the same loaded network, for another thread (ncnn's Net / Extractor
  // split): the sessions may run concurrently, and share the network's weights where the runtime
  // allows — the reference backend shares its parsed model; OpenCV DNN 4.6 keeps per-network state
  // in cv::dnn::Net, so its session is a second load of the same file.
  // Requires: load(). Throws what load() throws.
  virtual std::unique_ptr<InferenceBackend> session() const = 0;

 protected:
  // Shared check for run(): counts and shapes against inputs(). Throws InvalidArgument.
  void check_batch(const std::vector<Tensor>& batch) const;
};

using BackendFactory = std::function<std::unique_ptr<InferenceBackend>()>;

// Registers a runtime under `name`; a second registration of the same name replaces the first.
void register_backend(const std::string& name, BackendFactory factory);

// Removes a registration (for plugins that unload, and tests); false when the name is unknown.
bool unregister_backend(const std::string& name);

// Creates an unloaded backend. Throws Error(NotFound) listing the known names.
std::unique_ptr<InferenceBackend> create_backend(const std::string& name);

// Names of the registered backends, sorted.
std::vector<std::string> backend_names();

// Position of the output named `name` in net.outputs(). Throws Error(BadModel) listing the
// outputs the network has when none is called that.
size_t output_index(const InferenceBackend& net, const std::string& name);

// What one run of a network costs: the multiply-accumulates of its Conv, Gemm and MatMul nodes for
// the inputs `batch`, counted on the shapes a reference-backend run produces (so it costs one
// reference run). Other ops (activations, pooling, element-wise) are not counted.
// Throws Error: what loading and running on the reference backend throw; InvalidArgument for a
// wrong number of inputs.
double count_macs(const std::string& model_path, const std::vector<Tensor>& batch);

// This machine's measured arithmetic peak for a precision, on `threads` threads (0: every hardware
// thread): register-only loops of the widest multiply-add instruction the CPU has (read at run
// time), 20 million iterations of independent chains (tens of milliseconds). fp32: FMA on 16 floats (AVX-512) or 8
// (AVX2 + FMA); int8: u8 x s8 dot products, VPDPBUSD (AVX512-VNNI: 64 multiply-adds each, or AVX-VNNI: 32), else the
// AVX2 sequence int8 kernels use without VNNI (vpmaddubsw, vpmaddwd, vpaddd: 32 per three instructions); bf16:
// VDPBF16PS (AVX512-BF16: 32 each). A plain value; gops = 0 and an empty kernel when the CPU has none of them (and for
// fp16, and on CPUs other than x86, where no loop is known yet).
struct ArithmeticPeak {
  double gops = 0;     // operations per second / 1e9 (one multiply-add = 2 operations)
  std::string kernel;  // e.g. "avx512 vfmadd231ps", "avx512_vnni vpdpbusd"
};
// Thread safe; each call measures again (cache the figure).
ArithmeticPeak measured_peak(Precision precision, int threads);

// Convenience: create_backend(name) then load(model_path, options).
std::unique_ptr<InferenceBackend> load_backend(const std::string& name, const std::string& model_path,
                                               const BackendOptions& options = {});

}  // namespace facerec
