// Fusion recipes: component means over a reference set, weights by grid search on a pairs file.
#include <facerec/embed.hpp>
#include <facerec/error.hpp>
#include <facerec/eval/fusion.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <tuple>

namespace facerec {

std::vector<float> mean_embedding(const EmbeddingTable& table, size_t* count) {
  std::vector<double> sum;
  size_t n = 0;
  for (const auto& [image, e] : table) {
    if (!e.found) continue;
    if (sum.empty()) sum.assign(e.embedding.size(), 0.0);
    if (e.embedding.size() != sum.size())
      throw Error(ErrorKind::InvalidArgument, "mean_embedding: embeddings of different sizes (" + image + ")");
    for (size_t q = 0; q < sum.size(); ++q) sum[q] += e.embedding[q];
    ++n;
  }
  if (n == 0 || sum.empty()) throw Error(ErrorKind::InvalidArgument, "mean_embedding: no face was embedded");
  if (count) *count = n;
  std::vector<float> mean(sum.size());
  for (size_t q = 0; q < sum.size(); ++q) mean[q] = float(sum[q] / double(n));
  return mean;
}

namespace {

// Every vector of `k` non-negative multiples of 1/steps summing to 1, in lexicographic order of
// the first weight descending.
void weight_grid(size_t k, int left, int steps, std::vector<double>& cur, std::vector<std::vector<double>>& out) {
  if (cur.size() + 1 == k) {
    cur.push_back(double(left) / steps);
    out.push_back(cur);
    cur.pop_back();
    return;
  }
  for (int i = left; i >= 0; --i) {
    cur.push_back(double(i) / steps);
    weight_grid(k, left - i, steps, cur, out);
    cur.pop_back();
  }
}

}  // namespace

double impostor_spread(const EmbeddingTable& table, const std::vector<float>& mean, size_t max_pairs) {
  std::vector<std::pair<std::string, std::vector<float>>> found;  // (identity, centred unit embedding)
  for (const auto& [image, e] : table) {
    if (!e.found) continue;
    auto v = e.embedding;
    if (!mean.empty() && mean.size() == v.size())
      for (size_t q = 0; q < v.size(); ++q) v[q] -= mean[q];
    l2_normalise(v);
    found.emplace_back(identity_of(image), std::move(v));
  }
  const size_t n = found.size(), all = n * (n > 0 ? n - 1 : 0) / 2;
  const size_t stride = std::max<size_t>(1, all / std::max<size_t>(1, max_pairs));
  double sum = 0, sum2 = 0;
  size_t count = 0, k = 0;
  for (size_t i = 0; i < n; ++i)
    for (size_t j = i + 1; j < n; ++j, ++k) {
      if (k % stride != 0 || found[i].first == found[j].first) continue;
      double d = 0;
      for (size_t q = 0; q < found[i].second.size(); ++q) d += double(found[i].second[q]) * found[j].second[q];
      sum += d;
      sum2 += d * d;
      ++count;
    }
  if (count < 2) throw Error(ErrorKind::InvalidArgument, "impostor_spread: no two images of different identities");
  const double m = sum / double(count);
  return std::sqrt(std::max(0.0, sum2 / double(count) - m * m));
}

FusionSearchResult search_fusion(const std::vector<std::string>& components,
                                 const std::vector<std::vector<float>>& means,
                                 const std::vector<EmbeddingTable>& tables, const std::vector<LfwPair>& pairs,
                                 const std::vector<std::string>& sweep_images, const FusionSearchOptions& o) {
  if (components.size() < 2 || means.size() != components.size() || tables.size() != components.size() ||
      (!o.spreads.empty() && o.spreads.size() != components.size()))
    throw Error(
        ErrorKind::InvalidArgument,
        "search_fusion: needs at least two components, each with a mean and a table (and a spread, when given)");
  if (o.steps < 1) throw Error(ErrorKind::InvalidArgument, "search_fusion: steps must be at least 1");
  for (double sp : o.spreads)
    if (!(sp > 0)) throw Error(ErrorKind::InvalidArgument, "search_fusion: a spread is not positive");
  std::vector<std::vector<double>> grid;
  std::vector<double> cur;
  weight_grid(components.size(), o.steps, o.steps, cur, grid);

  FusionSearchResult r;
  std::vector<FusionComponent> fc(components.size());
  for (size_t k = 0; k < components.size(); ++k) fc[k] = {components[k], 0.0, means[k]};
  auto evenness = [](const std::vector<double>& w) { return -*std::max_element(w.begin(), w.end()); };
  for (size_t g = 0; g < grid.size(); ++g) {
    // weights: shares over spreads, summing to 1
    std::vector<double> w(fc.size());
    double total = 0;
    for (size_t k = 0; k < fc.size(); ++k) total += w[k] = grid[g][k] / (o.spreads.empty() ? 1.0 : o.spreads[k]);
    for (size_t k = 0; k < fc.size(); ++k) fc[k].weight = w[k] / total;
    for (size_t k = 0; k < fc.size(); ++k) w[k] = fc[k].weight;
    std::vector<const EmbeddingTable*> parts;
    for (const auto& t : tables) parts.push_back(&t);
    const EmbeddingTable fused = fuse_tables(fc, parts);
    r.candidates.push_back({grid[g], w, evaluate_pairs(fused, fused, pairs, sweep_images, std::nan(""), o.threads)});
    auto key = [&](const FusionCandidate& x) {
      return std::make_tuple(x.evaluation.fmr_1e3.tar, x.evaluation.verification.mean_accuracy, evenness(x.shares));
    };
    if (g > 0 && key(r.candidates.back()) > key(r.candidates[r.best])) r.best = g;
    if (o.progress) o.progress(g + 1, grid.size());
  }
  const auto& best = r.candidates[r.best].weights;
  r.fused = std::count_if(best.begin(), best.end(), [](double w) { return w > 0; }) > 1;
  for (size_t k = 0; k < fc.size(); ++k) fc[k].weight = best[k];
  r.components = fc;
  return r;
}

std::string fused_model_entry(const std::string& name, const std::vector<FusionComponent>& components,
                              const std::string& notes) {
  if (name.empty() || components.size() < 2)
    throw Error(ErrorKind::InvalidArgument, "fused_model_entry: needs a name and at least two components");
  nlohmann::ordered_json e{{"name", name}, {"task", "embed"}, {"format", "fused"}};
  nlohmann::ordered_json parts = nlohmann::ordered_json::array();
  for (const auto& c : components)
    if (c.mean.empty())
      parts.push_back({{"model", c.model}, {"weight", c.weight}});
    else
      parts.push_back({{"model", c.model}, {"weight", c.weight}, {"mean", c.mean}});
  e["fuse"] = parts;
  e["licence"] = "as its components";
  e["origin"] = "score-level fusion of its components (fuse_embeddings): weighted unit embeddings, concatenated";
  e["notes"] = notes;
  return e.dump();
}

}  // namespace facerec
