#pragma once
// Choosing a fused embedder's recipe (see fuse_embeddings in embed.hpp): each component's mean
// embedding over a reference set of faces, and the weights that verify a pairs file best.
//
// Each model's scores are normalised by their spread over a reference set of other faces (the
// dlib ResNet's cosines between strangers sit near 0.9 within a narrow band, MobileFaceNet's near 0
// in a wide one), optionally after centring its embeddings on their mean there; the shares then
// set how far each model's normalised score counts. Take all of it from data that is not the test
// set: spreads and means from other faces (CelebA in the wild), shares from LFW View 1
// (pairsDevTrain), never from View 2.
//
// Thread safety: pure functions (evaluate_pairs runs its own threads).
#include <facerec/eval/dataset.hpp>
#include <facerec/models.hpp>

#include <string>
#include <vector>

namespace facerec {

// The mean of the found unit embeddings of a table (the reference set of one component); the
// number of embeddings averaged goes to `count` when given.
// Throws Error(InvalidArgument) when no embedding was found or their sizes differ.
std::vector<float> mean_embedding(const EmbeddingTable& table, size_t* count = nullptr);

// The standard deviation of a model's impostor scores over a reference set: the cosine (of
// embeddings centred by `mean`, when not empty) of every pair of found images of different
// identities (identity_of; sampled with a fixed stride above max_pairs). How wide the model's
// score scale is, for normalising it. Throws Error(InvalidArgument) when there is no such pair.
double impostor_spread(const EmbeddingTable& table, const std::vector<float>& mean = {}, size_t max_pairs = 2'000'000);

// One recipe tried: each model's share of the decision, the weights that gives (shares divided by
// the models' spreads, normalised to sum 1), and how the pairs came out. A plain value.
struct FusionCandidate {
  std::vector<double> shares, weights;
  PairEvaluation evaluation;
};

// How search_fusion searches. A plain value.
struct FusionSearchOptions {
  int steps = 20;   // shares: multiples of 1/steps summing to 1
  int threads = 2;  // for evaluate_pairs
  // per component: the spread of its scores (impostor_spread); empty: 1 each (raw cosines)
  std::vector<double> spreads;
  std::function<void(size_t done, size_t total)> progress;  // after each candidate; may be empty
};

// What search_fusion found. A plain value.
struct FusionSearchResult {
  std::vector<FusionComponent> components;  // the means and the chosen weights
  std::vector<FusionCandidate> candidates;  // every share vector of the grid, in order
  size_t best = 0;                          // index into candidates
  // false when the best candidate gives one component all the weight: fusing does not help
  bool fused = false;
};

// Tries every share vector of the grid (steps + 1 of them for two components; those giving one
// component everything show it alone), fusing `pair_tables[k]` (component k's embeddings of the
// pairs' images) centred by `means[k]` (an empty mean: not centred) with weights = shares / spreads,
// and evaluating the pairs as evaluate_pairs does (impostor sweep over `sweep_images`). The best is
// the highest TAR at FMR 1e-3, then the highest mean 10-fold accuracy, then the most even shares.
// Requires: at least two components, one table and one mean per component (and one spread, when given).
// Throws Error(InvalidArgument) when the counts differ, steps < 1, a spread is not positive, or a
// pair image is missing.
FusionSearchResult search_fusion(const std::vector<std::string>& components,
                                 const std::vector<std::vector<float>>& means,
                                 const std::vector<EmbeddingTable>& pair_tables, const std::vector<LfwPair>& pairs,
                                 const std::vector<std::string>& sweep_images, const FusionSearchOptions& options = {});

// The manifest entry of a fused embedder (JSON text for Manifest::add_model): task "embed",
// format "fused", the components with their weights and means, `notes` (how they were chosen).
// Throws Error(InvalidArgument) for an empty name or fewer than two components.
std::string fused_model_entry(const std::string& name, const std::vector<FusionComponent>& components,
                              const std::string& notes);

}  // namespace facerec
