// facerec models quantize MODEL --calib DIR --out MANIFEST: int8 post-training quantisation of an
// embedder, a detector or a landmark network, calibrated on the tensors the pipeline really feeds
// it (detector tiles and pyramid levels, landmark crops, faces aligned and normalised as in
// production with their mirrored copies) — recorded by a backend that wraps onednn.
#include "commands.hpp"
#include "eval_flags.hpp"

#include <facerec/analyzer.hpp>
#include <facerec/backend.hpp>
#include <facerec/error.hpp>
#include <facerec/image.hpp>
#include <facerec/quantize.hpp>

#include "common/fs.hpp"
#include "common/sha256.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <random>

namespace facerec::cli {
namespace {

// The calibration recorder: runs on onednn and keeps every batch given to the network at `target`.
struct Recording {
  std::mutex mu;
  std::filesystem::path target;
  std::vector<std::vector<Tensor>> batches;
};
Recording& recording() {
  static Recording r;
  return r;
}

class RecorderBackend final : public InferenceBackend {
 public:
  void load(const std::string& path, const BackendOptions& options) override {
    inner_ = load_backend("onednn", path, options);
    std::error_code ec;
    record_ = std::filesystem::equivalent(path, recording().target, ec);
  }
  std::vector<TensorSpec> inputs() const override { return inner_->inputs(); }
  std::vector<TensorSpec> outputs() const override { return inner_->outputs(); }
  std::vector<Tensor> run(const std::vector<Tensor>& batch) override {
    if (record_) {
      std::lock_guard<std::mutex> lock(recording().mu);
      recording().batches.push_back(batch);
    }
    return inner_->run(batch);
  }
  std::string name() const override { return "calibration-recorder"; }
  Precision precision() const override { return inner_->precision(); }
  std::unique_ptr<InferenceBackend> session() const override {
    auto s = std::make_unique<RecorderBackend>();
    s->inner_ = inner_->session();
    s->record_ = record_;
    return s;
  }

 private:
  std::unique_ptr<InferenceBackend> inner_;
  bool record_ = false;
};

struct QuantizeFlags {
  std::string model, calib, out, name, method = "percentile", keep = "auto";
  double percentile = 99.99;
  bool per_tensor = false;
  size_t max_images = 400;
  unsigned seed = 1;
  int threads = 0;
};

// The entry of `model` as the manifest file has it (every field, those ModelEntry does not model too).
nlohmann::json source_entry_json(const Manifest& man, const std::string& model) {
  const auto doc = nlohmann::json::parse(detail::read_file(man.path()), nullptr, false);
  if (doc.is_object() && doc.contains("models") && doc["models"].is_array())
    for (const auto& m : doc["models"])
      if (m.is_object() && m.value("name", "") == model) return m;
  throw Error(ErrorKind::BadModel, man.path().string() + ": no entry named " + model);
}

// Pipeline options under which the analyzer runs `entry`'s network as production does: the
// default pipeline when it already runs it (BlazeFace, its close-range model, the FaceMesh verifier,
// the 68-point landmarks), else with the stage that runs such a model switched to it. Every stage on
// the calibration recorder.
AnalyzerOptions pipeline_running(const Manifest& man, const ModelEntry& entry, int threads) {
  AnalyzerOptions ao;
  ao.detector.backend = ao.landmarker.backend = ao.embedder.backend = "calibration-recorder";
  ao.detector.threads = ao.landmarker.threads = ao.embedder.threads = threads;
  const auto& name = entry.name;
  if (entry.task == "embed") {
    ao.embedder.model = name;
  } else if (entry.task == "detect") {
    const auto parts = detector_models(ao.detector.model);
    const bool runs =
        std::find(parts.begin(), parts.end(), name) != parts.end() || name == ao.detector.close_range_model;
    if (!runs) {
      std::string first = name;
      if (entry.family == "mtcnn")  // the cascade starts at the P-Net that names the others
        for (const auto& m : man.models())
          if (m.family == "mtcnn" && std::find(m.cascade.begin(), m.cascade.end(), name) != m.cascade.end())
            first = m.name;
      ao.detector.model = first;
    }
  } else if (entry.task == "landmarks") {
    if (name != ao.detector.verifier) ao.landmarker.model = name;
  } else {
    throw Error(ErrorKind::InvalidArgument, "models quantize: " + name + " is a " + entry.task +
                                                " model; embedders, detectors and landmark networks are calibrated");
  }
  return ao;
}

int quantize_fused(const QuantizeFlags& f);

void check_model_name(const std::string& name) {
  if (name.empty() || name.find_first_of("/\\ \t,+") != std::string::npos)
    throw Error(ErrorKind::InvalidArgument, "--name must be non-empty, without slashes, spaces, commas or '+'");
}

int quantize(const QuantizeFlags& f) {
  const Manifest& man = manifest();
  const ModelEntry& entry = man.model(f.model);
  if (entry.format == "fused") return quantize_fused(f);
  if (entry.weights_dtype == "int8")
    throw Error(ErrorKind::InvalidArgument, "models quantize: " + f.model + " is already int8");
  const std::string name = f.name.empty() ? f.model + "-int8" : f.name;
  check_model_name(name);
  const auto source = model_path(entry);

  // the calibration images: a seeded sample of the folder
  std::error_code ec;
  if (!std::filesystem::is_directory(f.calib, ec))
    throw Error(ErrorKind::NotFound, "--calib: " + f.calib + " is not a folder of images");
  std::vector<std::filesystem::path> all;
  for (const auto& rel : list_image_files(f.calib)) all.push_back(std::filesystem::path(f.calib) / rel);
  if (all.empty()) throw Error(ErrorKind::NotFound, "--calib: no images under " + f.calib);
  std::mt19937 rng(f.seed);
  std::shuffle(all.begin(), all.end(), rng);
  if (all.size() > f.max_images) all.resize(f.max_images);
  std::sort(all.begin(), all.end());

  recording().target = source;
  register_backend("calibration-recorder", [] { return std::make_unique<RecorderBackend>(); });
  // every stage runs on the recorder (onednn underneath); only the target network's inputs are kept
  const AnalyzerOptions ao = pipeline_running(man, entry, f.threads);
  const bool embed = entry.task == "embed";
  FaceAnalyzer fa(man, ao);
  std::string digest_lines;
  size_t faces = 0, failed = 0;
  auto progress = progress_printer("calibration images", "img/s");
  for (size_t i = 0; i < all.size(); ++i) {
    const auto rel = std::filesystem::relative(all[i], f.calib).generic_string();
    try {
      auto img = decode_image_file(all[i].string());
      // every face of the photo, through the pipeline (embedded from its own crops, not face_crop's JPEG)
      const auto found = fa.analyze(img.bgr, embed);
      if (!found.empty()) {
        faces += found.size();
        digest_lines += rel + "\n";
      }
    } catch (const Error& e) {
      if (++failed <= 10) std::fprintf(stderr, "\r%s: %s\n", rel.c_str(), e.what());
    }
    progress(i + 1, all.size());
  }
  unregister_backend("calibration-recorder");
  auto batches = std::move(recording().batches);
  if (batches.empty())
    throw Error(ErrorKind::BadInput, "--calib: no face found in " + std::to_string(all.size()) + " images");
  std::fprintf(stderr,
               "calibration: %zu images, %zu faces, %zu network runs (mirrored copies included), %zu unreadable\n",
               all.size(), faces, batches.size(), failed);

  QuantizeOptions qo;
  qo.method = f.method;
  qo.percentile = f.percentile;
  qo.per_channel = !f.per_tensor;
  // auto: detector and landmark heads stay fp32 (their outputs are coordinates and scores, where
  // int8 steps show: see the README's int8 table), embedders are int8 throughout
  if (f.keep == "auto")
    qo.keep_fp32 = entry.task == "embed" ? std::vector<std::string>{} : std::vector<std::string>{"last"};
  else if (f.keep != "none")
    qo.keep_fp32 = split_list(f.keep);
  qo.threads = f.threads;
  auto r = quantize_model(source, batches, qo, progress_printer("calibration runs", "runs/s", 100));

  const auto dir = std::filesystem::absolute(f.out).parent_path();
  const auto onnx = dir / "trained" / (name + ".onnx");
  std::filesystem::create_directories(onnx.parent_path());
  detail::write_file_atomic(onnx, r.onnx);
  const std::string digest = detail::sha256_hex(digest_lines).substr(0, 16);
  int int8_layers = 0, dense_layers = 0;
  nlohmann::json layers = nlohmann::json::array();
  for (const auto& L : r.layers) {
    int8_layers += L.int8;
    dense_layers += L.weights_only;
    nlohmann::json l = {{"node", L.node},
                        {"precision", L.int8           ? "int8"
                                      : L.weights_only ? "int8 weights, fp32 compute"
                                                       : "fp32"}};
    if (L.weights_only) {
      l["weight_error"] = L.weight_error;
    } else if (L.int8) {
      l["input"] = L.input_type;
      l["scale"] = L.input_scale;
      l["max"] = L.input_max;
      l["range"] = L.input_range;
      l["weight_error"] = L.weight_error;
    } else {
      l["why"] = L.why;
    }
    layers.push_back(l);
  }
  // the source's entry as written (family, input, outputs, alignment, cascade, ... carried over),
  // made an onnx model of its own; thresholds are the fp32 network's: calibrate again with eval
  nlohmann::json e = source_entry_json(man, entry.name);
  for (const char* k : {"package", "arch", "cut", "free_size", "thresholds", "sha256", "quantization"}) e.erase(k);
  e["name"] = name;
  e["format"] = "onnx";
  e["files"] = {std::filesystem::relative(onnx, dir).generic_string()};
  e["sha256"] = detail::sha256_file(onnx);
  e["weights_dtype"] = "int8";
  e["origin"] = "facerec models quantize of " + entry.name + " (" + entry.origin + ")";
  e["notes"] =
      "int8 (QDQ); runs on the onednn backend (asked for opencv-dnn or xnnpack, the pipeline uses onednn: "
      "OpenCV DNN 4.6's int8 path is slower than its fp32). Thresholds: calibrate with facerec eval.";
  e["quantization"] = {
      {"method", f.method},
      {"percentile", f.percentile},
      {"weights", f.per_tensor ? "per-tensor" : "per-channel"},
      {"calibration",
       {{"folder", f.calib}, {"images", all.size()}, {"faces", faces}, {"runs", batches.size()}, {"digest", digest}}},
      {"layers", layers}};
  Manifest out = std::filesystem::exists(f.out, ec) ? Manifest::load(f.out) : man;
  out.add_model(e.dump(), dir);
  out.save(f.out);
  std::fprintf(stderr,
               "%s: %d of %zu layers int8 (%d fully connected as int8 weights); weights %.2f MB -> %.2f MB; file "
               "%.2f MB -> %.2f MB\n",
               name.c_str(), int8_layers + dense_layers, r.layers.size(), dense_layers,
               double(r.fp32_weight_bytes) / 1e6, double(r.int8_weight_bytes) / 1e6,
               double(std::filesystem::file_size(source)) / 1e6, double(std::filesystem::file_size(onnx)) / 1e6);
  std::cout << onnx.string() << "\n";
  return kOk;
}

// A fused embedder: each component quantised with the same options (named "<fused>-<component>"),
// then a fused entry of the same recipe (weights, means) over the int8 components. Thresholds are
// left out: calibrate them with `facerec eval lfw --calibrate` on data that is not the test set.
int quantize_fused(const QuantizeFlags& f) {
  const Manifest& man = manifest();
  const ModelEntry& entry = man.model(f.model);
  const std::string name = f.name.empty() ? f.model + "-int8" : f.name;
  check_model_name(name);
  nlohmann::json e = source_entry_json(man, entry.name);
  for (size_t k = 0; k < entry.fuse.size(); ++k) {
    QuantizeFlags cf = f;
    cf.model = entry.fuse[k].model;
    cf.name = name + "-" + cf.model;
    std::fprintf(stderr, "%s: component %zu of %zu, %s -> %s\n", f.model.c_str(), k + 1, entry.fuse.size(),
                 cf.model.c_str(), cf.name.c_str());
    quantize(cf);
    e["fuse"][k]["model"] = cf.name;
  }
  e.erase("thresholds");
  e["name"] = name;
  e["origin"] = "facerec models quantize of " + entry.name + " (its components in int8, the same recipe)";
  const auto dir = std::filesystem::absolute(f.out).parent_path();
  Manifest out = Manifest::load(f.out);
  out.add_model(e.dump(), dir);
  out.save(f.out);
  std::fprintf(stderr, "%s: fused entry over the int8 components written to %s\n", name.c_str(), f.out.c_str());
  return kOk;
}

}  // namespace

void add_quantize_command(CLI::App* models, Action* action) {
  auto f = std::make_shared<QuantizeFlags>();
  auto* q = models->add_subcommand(
      "quantize",
      "Quantise a network to int8 (QDQ ONNX for the onednn backend), calibrated on what the pipeline feeds it");
  q->add_option(
       "model", f->model,
       "Model in the manifest: an embedder (a fused one: each component), detector or landmark network (not int8)")
      ->required();
  q->add_option("--calib", f->calib, "Folder of photos (searched recursively); never the test set")->required();
  q->add_option("--out", f->out, "Manifest to write (created from the current one; the model goes to trained/)")
      ->required();
  q->add_option("--name", f->name, "Name of the quantised model (default: MODEL-int8)");
  q->add_option(
       "--method", f->method,
       "Activation range: minmax | percentile | mse (the clip of least expected squared error over the |x| histogram)")
      ->capture_default_str()
      ->check(CLI::IsMember({"minmax", "percentile", "mse"}));
  q->add_option("--percentile", f->percentile, "Percentile of |x| for --method percentile")
      ->capture_default_str()
      ->check(CLI::Range(50.0, 100.0));
  q->add_flag("--per-tensor", f->per_tensor, "One weight scale per tensor (default: per output channel)");
  q->add_option("--keep-fp32", f->keep,
                "Convolutions to leave in fp32, comma-separated node names or 'first' (the first conv), 'last' (the "
                "heads: convs and "
                "fully connected layers whose output reaches a graph output through no other), 'depthwise' (every "
                "grouped conv); "
                "'none': every conv int8; 'auto': 'last' for detectors and landmark networks, none for embedders")
      ->capture_default_str();
  q->add_option("--max-images", f->max_images, "Calibration images at most (a seeded sample)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000));
  q->add_option("--seed", f->seed, "Seed of the sample")->capture_default_str();
  q->add_option("--threads", f->threads, "Threads (0: the runtime's default)")->capture_default_str();
  q->callback([=] { *action = [=] { return quantize(*f); }; });
}

}  // namespace facerec::cli
