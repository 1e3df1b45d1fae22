#pragma once
// Merging folder-per-identity datasets without counting a person twice, and keeping test-set
// people out of training data.
//
// What it decides, from the faces only (folder names are shown, never compared):
//  - Identity overlap: each identity is the centroid of its images' embeddings (normalised mean of
//    normalised embeddings; one pretrained embedder). Two identities of different datasets overlap
//    when their centroid cosine is at or above a threshold and each is the other's best match in
//    the other's dataset. The thresholds are calibrated on the datasets' own impostor identity
//    pairs: distinct folders of one dataset are taken to be distinct people, and a threshold is the
//    score that a stated share (the false-match rate per identity pair) of those pairs reach —
//    counted where 100 or more pairs lie above it, else extrapolated from an exponential fit to the
//    tail below its 100 highest pairs (which label noise, one person in two folders, can own). By
//    default one false merge is expected per pair of input datasets.
//  - Exclusion: an input identity that reaches the exclusion threshold against any identity of an
//    exclude set (a test set such as LFW) is left out, with every identity merged with it. That
//    threshold is looser: by default 1% of the input identities may be left out by mistake.
//  - Near-duplicate images: image pairs at or above `duplicate_threshold` (the same photo, resized or
//    recompressed). Within one output identity the later copy is dropped; a copy of an exclude-set
//    image is dropped; copies in two different output identities are reported and kept.
//
// Thread safety: plan_merge is a pure function; write_merge writes only under its output folder.
#include <cstddef>
#include <filesystem>
#include <limits>
#include <string>
#include <utility>
#include <vector>

namespace facerec {

// One identity of one dataset, with its embedded images. A plain value.
struct MergeIdentity {
  int dataset = 0;                             // index into the datasets: the inputs first, then exclude sets
  std::string name;                            // the folder's name (reported only)
  std::vector<std::string> images;             // relative to the dataset root ("<name>/<file>")
  std::vector<std::vector<float>> embeddings;  // per image; empty where no face was found
};

// How plan_merge decides. A plain value.
struct MergeOptions {
  // False-match rate per identity pair at which two inputs' overlap threshold is set; 0: one over
  // the number of identity pairs of those two datasets (one expected false merge per pair of inputs).
  double fmr = 0;
  // The same against an exclude set; 0: 0.01 over the exclude set's identities (each input
  // identity has a 1% chance of being left out by mistake: a test set is kept clean at that price).
  double exclude_fmr = 0;
  // Set: these thresholds (centroid cosine), no calibration.
  double threshold = std::numeric_limits<double>::quiet_NaN();
  double exclude_threshold = std::numeric_limits<double>::quiet_NaN();
  // Image pairs at or above: near-duplicates. 0.99 (the fused default embedder; chosen on utkface
  // and AT&T): the same photo recompressed (JPEG 75) or resized to 3/4 scores >= 0.994 in 119 of
  // 120 pairs, different photos of one person in one AT&T session up to 0.976. A copy at half the
  // resolution and cropped differently scores from 0.53 to 1 (median 0.96): not found.
  double duplicate_threshold = 0.99;
  bool drop_overlaps = false;  // overlapping identities: merged into one (false) or all left out (true)
};

// The threshold between two datasets (d an input; e another input or an exclude set). A plain value.
struct DatasetPairThreshold {
  int d = 0, e = 0;
  size_t pairs = 0;      // identity pairs compared (both with a centroid)
  double threshold = 0;  // centroid cosine
  double fmr = 0;        // its false-match rate on the impostor identity pairs (extrapolated below 100 of
                         // them; 0 when given)
};

// One decision about two identities (indices into plan_merge's `identities`). A plain value.
struct OverlapDecision {
  int a = 0, b = 0;
  double score = 0;      // centroid cosine
  std::string decision;  // merged | dropped | excluded | kept apart (not mutual best) | same dataset: kept ...
};

// One near-duplicate image pair: (identity, image index) twice. A plain value.
struct DuplicateDecision {
  int a = 0, a_image = 0, b = 0, b_image = 0;
  double score = 0;
  std::string decision;  // dropped b | dropped a (copy of an excluded image) | kept (different identities)
};

// One identity of the merged dataset: its images as (identity index, image index). A plain value.
struct MergedIdentity {
  std::string name;  // "<dataset name>_<folder>" of its first member
  std::vector<std::pair<int, int>> images;
};

// What plan_merge decided. A plain value.
struct MergePlan {
  int inputs = 0;                                // datasets [0, inputs) are inputs, the rest exclude sets
  std::vector<DatasetPairThreshold> thresholds;  // one per pair of datasets compared
  size_t impostor_pairs = 0;                     // identity pairs within one dataset, both with a centroid
  size_t compared_pairs = 0;    // identity pairs of different datasets compared (input-input, input-exclude)
  size_t without_centroid = 0;  // input identities without any embedded image: kept, unchecked
  std::vector<OverlapDecision> overlaps;
  std::vector<DuplicateDecision> duplicates;
  std::vector<MergedIdentity> output;  // in the order of the inputs' identities
  std::vector<std::string> notes;      // what the figures above cannot say on their own
  // counts of centroid cosines in 200 bins over [-1, 1]: impostor identity pairs (empty with a given
  // threshold), and each input identity's best match in another dataset
  std::vector<size_t> impostor_histogram, best_match_histogram;
};

// The centroid of an identity: the normalised mean of its normalised embeddings; empty without
// any. Throws Error(InvalidArgument) when the embeddings differ in length. Pure.
std::vector<float> identity_centroid(const MergeIdentity& identity);

// Decides the merge. `dataset_names[d]` names dataset d (the first `inputs` are inputs, the rest
// exclude sets). Requires: every identity's dataset < dataset_names.size(), inputs >= 1,
// embeddings of one length. Ensures: every image of an input identity that is not dropped is in
// exactly one output identity; nothing of an exclude set is in the output.
// Throws Error(InvalidArgument) when the requirements do not hold or an option is out of range
// (fmr in [0, 1), duplicate_threshold in (0, 1]).
MergePlan plan_merge(const std::vector<MergeIdentity>& identities, const std::vector<std::string>& dataset_names,
                     int inputs, const MergeOptions& options);

// Checks before any work that `out` can be written: Error(AlreadyExists) when it exists,
// Error(InvalidArgument) when it lies inside one of `roots`.
void check_merge_output(const std::filesystem::path& out, const std::vector<std::filesystem::path>& roots);

// Writes the merged dataset into `out` (which must not exist): one folder per output identity
// holding a symbolic link to (or, with `copy`, a copy of) each image, named
// "<dataset name>_<file>"; sources.tsv (output image, source path); overlaps.tsv (one line per
// decision: dataset:identity, dataset:identity, score, decision; then the near-duplicates with
// their images); report.html (figures, and sample faces of every overlap and duplicate);
// embeddings.bin (every output image's embedding, keyed by its path in `out`, in the embedding
// cache's record format: a training run's teacher, `teacher=embeddings:<out>/embeddings.bin`) and
// embeddings.json (`embedder`: which embedder made them, their size, count). It is
// written into "<out>.partial" and renamed when complete; the inputs are never modified.
// Throws Error(AlreadyExists) when `out` exists, Error(InvalidArgument) when `out` lies inside an
// input, Error(Io) when writing fails.
void write_merge(const MergePlan& plan, const std::vector<MergeIdentity>& identities,
                 const std::vector<std::string>& dataset_names, const std::vector<std::filesystem::path>& roots,
                 const std::filesystem::path& out, bool copy, const std::string& embedder = "");

}  // namespace facerec
