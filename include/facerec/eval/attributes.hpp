#pragma once
// Demographic attributes in evaluations: confusion matrices of a classifier, and labels inferred
// for whole identities by majority over their images (with the vote margin as a confidence). The
// labels of a set without demographic annotations (LFW, celeba-wild) are inferred, never ground
// truth: report the classifier's per-class accuracy beside anything broken down by them.
// Thread safety: plain values and pure functions.
#include <map>
#include <string>
#include <vector>

namespace facerec {

// counts[truth][predicted] over classes. A plain value.
struct Confusion {
  std::vector<std::string> classes;
  std::vector<std::vector<size_t>> counts;
  size_t total() const;
  double accuracy() const;                // share on the diagonal (NaN when empty)
  std::vector<double> per_class() const;  // recall of each true class (NaN for a class never true)
  double balanced_accuracy() const;       // mean of per_class() over classes that occur
};
// Requires truth and predicted of one length, indices in [0, classes.size()). Throws
// Error(InvalidArgument) otherwise.
Confusion confusion(const std::vector<std::string>& classes, const std::vector<int>& truth,
                    const std::vector<int>& predicted);

// An identity's inferred label for each factor: the class most of its images got, and the margin
// (votes of the first class minus the second's, over the images). A plain value.
struct IdentityLabel {
  std::string identity;
  size_t images = 0;
  std::vector<int> label;      // per factor: class index
  std::vector<double> margin;  // per factor: in [0, 1]
};
// `predictions`: image (identity_of names its identity) -> per factor, the predicted class index.
// Ties go to the lower class index. Identities in name order.
std::vector<IdentityLabel> label_identities(const std::map<std::string, std::vector<int>>& predictions,
                                            const std::vector<size_t>& class_counts);

}  // namespace facerec
