// Verification over a pairs file and 1:N identification, on embedded datasets.
#include "common/dot.hpp"

#include <facerec/error.hpp>
#include <facerec/eval/dataset.hpp>

#include <cmath>
#include <thread>

namespace facerec {
namespace {

float dot(const std::vector<float>& a, const std::vector<float>& b) {
  return detail::dot(a.data(), b.data(), std::min(a.size(), b.size()));
}

const ImageEmbedding& lookup(const EmbeddingTable& t, const std::string& image) {
  auto it = t.find(image);
  if (it == t.end()) throw Error(ErrorKind::InvalidArgument, "no embedding for " + image + " (not embedded)");
  return it->second;
}

OperatingPoint at(const std::vector<double>& genuine, const std::vector<double>& impostor, size_t genuine_total,
                  double t) {
  OperatingPoint p;
  p.threshold = t;
  size_t g = 0, i = 0;
  for (double s : genuine) g += s >= t ? 1 : 0;
  for (double s : impostor) i += s >= t ? 1 : 0;
  p.tar = genuine_total ? double(g) / double(genuine_total) : 0;
  p.fmr = impostor.empty() ? 0 : double(i) / double(impostor.size());
  return p;
}

}  // namespace

std::string identity_of(const std::string& image) {
  auto slash = image.find('/');
  return slash == std::string::npos ? std::string() : image.substr(0, slash);
}

std::vector<double> pair_scores(const EmbeddingTable& a_side, const EmbeddingTable& b_side,
                                const std::vector<LfwPair>& pairs) {
  std::vector<double> scores;
  scores.reserve(pairs.size());
  for (const auto& p : pairs) {
    const auto &a = lookup(a_side, p.a), &b = lookup(b_side, p.b);
    scores.push_back(a.found && b.found ? double(dot(a.embedding, b.embedding)) : std::nan(""));
  }
  return scores;
}

PairEvaluation evaluate_pairs(const EmbeddingTable& a_side, const EmbeddingTable& b_side,
                              const std::vector<LfwPair>& pairs, const std::vector<std::string>& sweep_images,
                              double fixed_threshold, int threads, size_t max_impostor_pairs) {
  PairEvaluation out;
  const std::vector<double> scores = pair_scores(a_side, b_side, pairs);
  std::vector<double> genuine;
  std::vector<bool> same;
  std::vector<int> folds;
  for (size_t i = 0; i < pairs.size(); ++i) {
    const auto& p = pairs[i];
    same.push_back(p.same);
    folds.push_back(p.fold);
    if (p.same) {
      ++out.genuine_pairs;
      if (!std::isnan(scores[i])) genuine.push_back(scores[i]);
    }
  }
  out.verification = evaluate_verification(scores, same, folds);
  out.best_accuracy_threshold = best_accuracy_threshold(scores, same);
  out.pr = pr_curve(scores, same);

  // impostor sweep
  struct Item {
    std::string id;
    const std::vector<float>* e;
  };
  std::vector<Item> as, bs;
  for (const auto& img : sweep_images) {
    const auto& a = lookup(a_side, img);
    const auto& b = lookup(b_side, img);
    if (a.found) as.push_back({identity_of(img), &a.embedding});
    if (b.found) bs.push_back({identity_of(img), &b.embedding});
  }
  const bool symmetric = &a_side == &b_side;
  size_t total = symmetric ? as.size() * (as.size() - 1) / 2 : as.size() * bs.size();
  size_t stride = std::max<size_t>(1, total / std::max<size_t>(1, max_impostor_pairs));
  threads = std::max(1, threads);
  std::vector<std::vector<double>> part(static_cast<size_t>(threads));
  std::vector<std::thread> ts;
  for (int w = 0; w < threads; ++w)
    ts.emplace_back([&, w] {
      auto& mine = part[size_t(w)];
      for (size_t i = size_t(w); i < as.size(); i += size_t(threads)) {
        size_t j0 = symmetric ? i + 1 : 0;
        // index of pair (i, j0) in the enumeration, so the stride picks the same pairs on any thread count
        size_t k = symmetric ? i * as.size() - i * (i + 1) / 2 : i * bs.size();
        const auto& other = symmetric ? as : bs;
        for (size_t j = j0; j < other.size(); ++j, ++k)
          if (k % stride == 0 && as[i].id != other[j].id) mine.push_back(double(dot(*as[i].e, *other[j].e)));
      }
    });
  for (auto& t : ts) t.join();
  std::vector<double> impostor;
  for (auto& p : part) impostor.insert(impostor.end(), p.begin(), p.end());
  out.impostor_pairs = impostor.size();
  if (!impostor.empty()) {
    out.fmr_1e3 = at(genuine, impostor, out.genuine_pairs, threshold_at_fmr(impostor, 1e-3));
    out.fmr_1e4 = at(genuine, impostor, out.genuine_pairs, threshold_at_fmr(impostor, 1e-4));
    if (!genuine.empty()) {
      // NaN genuine scores (failures) count in the denominator: pad them as never-matching
      std::vector<double> g = genuine;
      g.resize(out.genuine_pairs, std::nan(""));
      out.roc = roc_curve(g, impostor);
    }
  }
  out.fixed.threshold = fixed_threshold;
  if (!std::isnan(fixed_threshold)) out.fixed = at(genuine, impostor, out.genuine_pairs, fixed_threshold);
  return out;
}

IdentificationResult evaluate_identification(const IdentificationProtocol& p, const EmbeddingTable& gallery_side,
                                             const EmbeddingTable& probe_side, int max_rank,
                                             const std::vector<double>& fpir_targets) {
  std::vector<const std::vector<float>*> templates;
  std::vector<int> labels;
  for (size_t i = 0; i < p.gallery.size(); ++i) {
    const auto& g = lookup(gallery_side, p.gallery[i]);
    if (g.found) {
      templates.push_back(&g.embedding);
      labels.push_back(p.gallery_labels[i]);
    }
  }
  std::vector<SearchOutcome> outcomes(p.probes.size());
  std::vector<std::thread> ts;
  const size_t threads = 2;
  for (size_t w = 0; w < threads; ++w)
    ts.emplace_back([&, w] {
      std::vector<double> scores(templates.size());
      for (size_t i = w; i < p.probes.size(); i += threads) {
        const auto& probe = lookup(probe_side, p.probes[i]);
        if (!probe.found) {
          outcomes[i].mated = p.probe_labels[i] >= 0;
          outcomes[i].failed = true;
          continue;
        }
        for (size_t t = 0; t < templates.size(); ++t) scores[t] = double(dot(probe.embedding, *templates[t]));
        outcomes[i] = rank_search(scores, labels, p.probe_labels[i]);
      }
    });
  for (auto& t : ts) t.join();
  return evaluate_identification(outcomes, max_rank, fpir_targets);
}

}  // namespace facerec
