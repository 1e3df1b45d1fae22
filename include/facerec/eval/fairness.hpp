#pragma once
// Demographic differentials (in the manner of NIST FRVT's): verification and identification error
// rates per group of people, at one global threshold, with bootstrap confidence intervals and the
// max/min ratios across groups.
//
// The protocol is balanced: every group gets the same number of genuine pairs (two images of one
// of its people) and the same number of impostor pairs (two of its people: impostors within the
// group, the hard case), drawn with a seed; a group with too few of either is left out and named.
// 1:N runs within each group: the first image of each person with two or more is enrolled, their
// other images search (mated, at most `max_mated_per_person` each), and people with one image
// search as non-mated probes.
//
// Thread safety: pure functions.
#include <facerec/eval/dataset.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace facerec {

struct FairnessOptions {
  size_t max_genuine = 1000;         // genuine pairs per group, at most (all groups get the smallest count)
  size_t max_impostor = 50000;       // impostor pairs per group, likewise
  size_t min_genuine = 50;           // a group with fewer is left out
  size_t max_pairs_per_person = 10;  // genuine pairs from one person, so that no one dominates a group
  size_t max_mated_per_person = 5;
  int bootstrap = 500;  // resamples for the confidence intervals (95%)
  double fpir = 0.1;    // FNIR is also measured at this FPIR, each group at its own threshold
  uint64_t seed = 20261207;
};

// One group's pairs and searches. A plain value.
struct FairnessGroup {
  std::string name;
  size_t identities = 0;
  std::vector<std::pair<std::string, std::string>> genuine, impostor;
  std::vector<std::pair<std::string, std::string>> gallery;  // (identity, image)
  std::vector<std::pair<std::string, std::string>> mated;    // (identity, image)
  std::vector<std::string> nonmated;
};

struct FairnessProtocol {
  std::vector<FairnessGroup> groups;
  std::vector<std::string> left_out;  // "group (n genuine pairs available)"
  size_t genuine_per_group = 0, impostor_per_group = 0;
};

// `people`: identity -> its images; `group_of`: identity -> group name (people without one are
// not used). Throws Error(InvalidArgument) when no group has min_genuine genuine pairs.
FairnessProtocol make_fairness_protocol(const std::map<std::string, std::vector<std::string>>& people,
                                        const std::map<std::string, std::string>& group_of,
                                        const FairnessOptions& options = {});

// A rate with its bootstrap 95% interval. A plain value.
struct RateCI {
  double value = 0, low = 0, high = 0;
  size_t count = 0;  // comparisons or searches it is measured on
};

struct FairnessGroupResult {
  std::string group;
  size_t identities = 0;
  RateCI fnmr, fmr;           // at the threshold
  RateCI rank1;               // mated searches whose mate ranks first
  RateCI fnir;                // mated searches not found (mate not first, or below the threshold)
  RateCI fpir;                // non-mated searches with a candidate at or above the threshold
  RateCI fnir_at_fpir;        // FNIR at the group's own threshold for FairnessOptions::fpir
  double fpir_threshold = 0;  // that threshold
  size_t failed = 0;          // comparisons or searches with a face not found (counted as errors)
};

struct FairnessResult {
  std::vector<FairnessGroupResult> groups;
  RateCI fnmr_ratio, fmr_ratio;  // max / min across groups, with bootstrap intervals
  std::string fnmr_max_group, fnmr_min_group, fmr_max_group, fmr_min_group;
};

// Scores the protocol with the embeddings of `a_side` (the first image of a pair; the gallery) and
// `b_side` (the second; the probes) at `threshold`. A pair or search with a face not found counts
// as an error (a non-match, a miss; never a false match).
FairnessResult evaluate_fairness(const FairnessProtocol& protocol, const EmbeddingTable& a_side,
                                 const EmbeddingTable& b_side, double threshold, const FairnessOptions& options = {});

}  // namespace facerec
