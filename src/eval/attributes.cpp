// Confusion matrices and identity labels by majority (include/facerec/eval/attributes.hpp).
#include <facerec/error.hpp>
#include <facerec/eval/attributes.hpp>
#include <facerec/eval/dataset.hpp>

#include <algorithm>
#include <cmath>

namespace facerec {

size_t Confusion::total() const {
  size_t n = 0;
  for (const auto& r : counts)
    for (size_t c : r) n += c;
  return n;
}

double Confusion::accuracy() const {
  size_t right = 0;
  for (size_t i = 0; i < counts.size(); ++i) right += counts[i][i];
  return total() ? double(right) / double(total()) : std::nan("");
}

std::vector<double> Confusion::per_class() const {
  std::vector<double> out;
  for (size_t i = 0; i < counts.size(); ++i) {
    size_t n = 0;
    for (size_t c : counts[i]) n += c;
    out.push_back(n ? double(counts[i][i]) / double(n) : std::nan(""));
  }
  return out;
}

double Confusion::balanced_accuracy() const {
  double sum = 0;
  int k = 0;
  for (double r : per_class())
    if (!std::isnan(r)) sum += r, ++k;
  return k ? sum / k : std::nan("");
}

Confusion confusion(const std::vector<std::string>& classes, const std::vector<int>& truth,
                    const std::vector<int>& predicted) {
  if (truth.size() != predicted.size()) throw Error(ErrorKind::InvalidArgument, "confusion: lengths differ");
  Confusion c{classes, std::vector<std::vector<size_t>>(classes.size(), std::vector<size_t>(classes.size(), 0))};
  for (size_t i = 0; i < truth.size(); ++i) {
    if (truth[i] < 0 || predicted[i] < 0 || size_t(truth[i]) >= classes.size() ||
        size_t(predicted[i]) >= classes.size())
      throw Error(ErrorKind::InvalidArgument, "confusion: a class index out of range");
    ++c.counts[size_t(truth[i])][size_t(predicted[i])];
  }
  return c;
}

std::vector<IdentityLabel> label_identities(const std::map<std::string, std::vector<int>>& predictions,
                                            const std::vector<size_t>& class_counts) {
  std::map<std::string, std::vector<std::vector<size_t>>> votes;  // identity -> factor -> class -> votes
  std::map<std::string, size_t> images;
  for (const auto& [image, labels] : predictions) {
    if (labels.size() != class_counts.size())
      throw Error(ErrorKind::InvalidArgument, "label_identities: " + image + " has not one label per factor");
    auto& v = votes[identity_of(image)];
    if (v.empty())
      for (size_t k : class_counts) v.emplace_back(k, 0);
    for (size_t f = 0; f < labels.size(); ++f) {
      if (labels[f] < 0 || size_t(labels[f]) >= class_counts[f])
        throw Error(ErrorKind::InvalidArgument, "label_identities: a class index out of range");
      ++v[f][size_t(labels[f])];
    }
    ++images[identity_of(image)];
  }
  std::vector<IdentityLabel> out;
  for (const auto& [id, v] : votes) {
    IdentityLabel l{id, images[id], {}, {}};
    for (const auto& counts : v) {
      auto best = std::max_element(counts.begin(), counts.end());  // the first of equals
      size_t second = 0;
      for (size_t c = 0; c < counts.size(); ++c)
        if (c != size_t(best - counts.begin())) second = std::max(second, counts[c]);
      l.label.push_back(int(best - counts.begin()));
      l.margin.push_back(double(*best - second) / double(l.images));
    }
    out.push_back(std::move(l));
  }
  return out;
}

}  // namespace facerec
