#pragma once
// Embedding a whole dataset for evaluation: the central face of every image (the face nearest
// the image centre, as in LFW and folder-per-identity sets), one detection and landmark pass
// shared by several embedders and flip variants, optionally on seeded low-quality copies, with a
// cache per (pipeline options, variant, dataset root, degradation) so that re-scoring is quick.
//
// Thread safety: embed_dataset runs its own worker threads; callbacks are called one at a time.
#include <facerec/analyzer.hpp>
#include <facerec/embed.hpp>
#include <facerec/eval/degrade.hpp>
#include <facerec/eval/eval.hpp>
#include <facerec/quality.hpp>

#include <cstddef>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <string>
#include <vector>

namespace facerec {

// One embedder with one test-time augmentation setting, as evaluated. A plain value.
struct EmbeddingVariant {
  std::string embedder = "face_recognition_model";
  bool flip = false, zoom = false;  // test-time augmentations, as EmbedderOptions
  std::string suffix() const { return tta_suffix(flip, zoom); }
  std::string name() const { return embedder + suffix(); }
};

// The embedding of one dataset image (its central face). A plain value.
struct ImageEmbedding {
  bool found = false;  // false: missing or undecodable image, or no face
  std::vector<float> embedding;
};
using EmbeddingTable = std::map<std::string, ImageEmbedding>;  // image path (relative) -> result

// What embed_dataset runs and how. A plain value (the callbacks are called one at a time).
struct DatasetEmbedOptions {
  AnalyzerOptions pipeline;  // detector and landmarker; embedder backend (model, flip, zoom come from variants)
  std::vector<EmbeddingVariant> variants = {EmbeddingVariant{}};
  bool degraded = false;  // embed degraded copies (see degrade.hpp) instead of the originals
  bool quality = false;   // also measure each face's quality (DatasetEmbedResult::quality; cached beside)
  DegradationRanges degradation;
  std::filesystem::path cache_dir;  // empty: no cache
  int workers = 2;
  std::function<void(size_t done, size_t total)> progress;
  std::function<void(const std::string& image, const std::string& message)> on_error;
};

// What embed_dataset returns. A plain value.
struct DatasetEmbedResult {
  std::vector<EmbeddingTable> tables;  // one per variant, every requested image present
  // with options.quality: the quality measurements of each image's face (absent: no face)
  std::map<std::string, QualityMeasures> quality;
  size_t computed = 0;  // images run through the pipeline now (the rest came from the cache)
  std::vector<std::filesystem::path> cache_files;
};

// A fused embedder's variant is formed from its components' embeddings (fuse_embeddings), which
// are embedded and cached as variants of their own (cache_files lists theirs).
// Requires: `images` relative to `root`, at least one variant. An image without a face, or whose
// processing fails with Error(NotFound | BadInput | InvalidArgument) (missing, undecodable), is a
// result with found = false, reported through on_error; any other Error (model, backend, Io: an
// image that exists but cannot be read) is rethrown once the workers stop.
// Ensures: tables[k] holds every image of `images` (and whatever the cache held).
// The models come from `manifest`. Throws Error(InvalidArgument) without variants, Error(Io) when a
// cache file cannot be opened, and what make_detector / make_landmarker / make_embedder throw.
DatasetEmbedResult embed_dataset(const Manifest& manifest, const std::filesystem::path& root,
                                 const std::vector<std::string>& images, const DatasetEmbedOptions& options);

// The fused embedding (fuse_embeddings) of every image of tables[0]: found when every component
// table found it. tables[k] holds component k's embeddings (as `fuse` orders them).
// Throws Error(InvalidArgument) when the counts or dimensions do not match.
EmbeddingTable fuse_tables(const std::vector<FusionComponent>& fuse, const std::vector<const EmbeddingTable*>& tables);

// ---- protocols over embedded datasets ----------------------------------------------------
// The identity of an image path "<identity>/<file>" (LFW and folder-per-identity sets); empty
// when the path has no '/'. Pure.
std::string identity_of(const std::string& image);

// A threshold with the rates it gives. A plain value.
struct OperatingPoint {
  double threshold = 0;
  double tar = 0;  // share of genuine pairs (pairs file) at or above the threshold
  double fmr = 0;  // share of impostor pairs at or above the threshold
};

// What evaluate_pairs measured. A plain value.
struct PairEvaluation {
  VerificationResult verification;               // 10-fold accuracy, AUC, EER over the pairs file
  size_t genuine_pairs = 0, impostor_pairs = 0;  // impostor_pairs: the sweep behind the FMR figures
  OperatingPoint fmr_1e3, fmr_1e4;               // thresholds set on this evaluation's own impostor sweep
  double best_accuracy_threshold = 0;
  OperatingPoint fixed;  // at `fixed_threshold` (NaN when none was given)
  std::vector<CurvePoint> roc, pr;
};

// The cosine of every pair (pair.a from `a_side`, pair.b from `b_side`; NaN where either image has
// no face), in the pairs' order: the scores evaluate_pairs and the stratified evaluations read.
// Throws Error(InvalidArgument) when a pair's image is missing from its table.
std::vector<double> pair_scores(const EmbeddingTable& a_side, const EmbeddingTable& b_side,
                                const std::vector<LfwPair>& pairs);

// Scores every pair with pair.a taken from `a_side` and pair.b from `b_side` (the same table for
// high-high or low-low; different tables for low-vs-high). The FMR thresholds come from the
// impostor sweep: every pair of images of different identities among `sweep_images` (a from
// a_side, b from b_side; unordered when both sides are the same table), sampled with a fixed
// stride above `max_impostor_pairs`. Runs the sweep on `threads` threads (at least one).
// Without impostor pairs the FMR points stay zero; `roc` is then empty, as without genuine scores.
// Throws Error(InvalidArgument) when a pair or sweep image is missing from its table, or `pairs`
// is empty.
PairEvaluation evaluate_pairs(const EmbeddingTable& a_side, const EmbeddingTable& b_side,
                              const std::vector<LfwPair>& pairs, const std::vector<std::string>& sweep_images,
                              double fixed_threshold = std::numeric_limits<double>::quiet_NaN(), int threads = 2,
                              size_t max_impostor_pairs = 20'000'000);

// Runs the 1:N protocol: gallery templates from `gallery_side`, probes from `probe_side`.
// A gallery image without a face leaves its identity with fewer (possibly no) templates.
// Throws Error(InvalidArgument) when an image of the protocol is missing from its table, or max_rank < 1.
IdentificationResult evaluate_identification(const IdentificationProtocol& protocol, const EmbeddingTable& gallery_side,
                                             const EmbeddingTable& probe_side, int max_rank = 10,
                                             const std::vector<double>& fpir_targets = {1e-2, 1e-3});

// The cache file embed_dataset uses for variant `k` of `options` on images under `root` (a cache
// written under the older, non-canonical key is renamed to it); a fused variant has none (its
// components have theirs). The key holds the pipeline's settings and the versions of its models in
// `manifest` (Manifest::model_version: a network re-quantised or re-trained under the same name
// gets a cache of its own). Throws Error(InvalidArgument) for k >= options.variants.size().
std::filesystem::path embedding_cache_file(const Manifest& manifest, const std::filesystem::path& root,
                                           const DatasetEmbedOptions& options, size_t k);

// Reads a cache file written by embed_dataset (a torn last record is ignored; a missing file is an
// empty table). Never throws Error.
EmbeddingTable load_embedding_cache(const std::filesystem::path& file);

// Writes `table` in the cache's record format (atomically: a reader sees the old file or the whole
// new one). Throws Error(Io) when writing fails.
void write_embedding_table(const std::filesystem::path& file, const EmbeddingTable& table);

// The default cache directory (next to the model cache: ~/.cache/facerec/embeddings).
std::filesystem::path default_embedding_cache_dir();

}  // namespace facerec
