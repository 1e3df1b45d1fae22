#pragma once
// Training data: a folder of identity folders (<root>/<identity>/<image>, as eval reads them)
// filtered by a minimum image count and split into training and validation by identity, and the
// P×K sampler (P identities, K images each per batch) the triplet loss and class balance need.
//
// What it represents: IdentitySplit is a value; PkSampler is a pure function of (seed, batch
// index), so a run resumed at batch b draws exactly the batches an uninterrupted run draws.
// Thread safety: both are immutable after construction; batch() may be called concurrently.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace facerec::train {

struct Sample {
  std::string image;  // relative to the dataset root: "<identity>/<file>"
  int64_t label = 0;  // index into IdentitySplit::train_identities (training) or validation_identities
};

struct SplitOptions {
  int min_images = 2;             // identities with fewer images are left out
  double validation_share = 0.1;  // of the kept identities, drawn by the seed
  uint64_t seed = 1;
};

struct IdentitySplit {
  std::vector<std::string> train_identities, validation_identities;  // sorted by name
  std::vector<Sample> train, validation;                             // labels per list above
  size_t dropped_identities = 0;                                     // below min_images
};

// Requires: a root as read_identity_folders (eval.hpp) reads it. Ensures: no identity in both
// lists; the same split for the same folder and options. Throws what read_identity_folders throws,
// Error(InvalidArgument) for min_images < 1, a share outside [0, 1), or no identity left to train.
IdentitySplit split_identity_folders(const std::filesystem::path& root, const SplitOptions& options);

class PkSampler {
 public:
  // Requires: p >= 1, k >= 1, at least p identities in `samples`. Throws Error(InvalidArgument).
  PkSampler(const std::vector<Sample>& samples, int p, int k, uint64_t seed);
  // Indices into `samples` of batch `index`: P distinct identities, K images of each (drawn
  // without replacement when the identity has K or more, else with), identities grouped.
  std::vector<size_t> batch(uint64_t index) const;
  size_t identities() const { return by_label_.size(); }

 private:
  std::vector<std::vector<size_t>> by_label_;
  int p_, k_;
  uint64_t seed_;
};

}  // namespace facerec::train
