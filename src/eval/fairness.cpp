// Demographic differentials: the balanced per-group protocol and its scoring
// (include/facerec/eval/fairness.hpp).
#include <facerec/analyzer.hpp>
#include <facerec/error.hpp>
#include <facerec/eval/fairness.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>
#include <set>

namespace facerec {
namespace {

template <class T>
void take_first(std::vector<T>& v, size_t n, std::mt19937_64& rng) {
  std::shuffle(v.begin(), v.end(), rng);
  if (v.size() > n) v.resize(n);
}

// Mean of 0/1 outcomes, and its bootstrap 95% interval.
RateCI rate(const std::vector<char>& outcomes, int bootstrap, std::mt19937_64& rng) {
  RateCI r;
  r.count = outcomes.size();
  if (outcomes.empty()) {
    r.value = r.low = r.high = std::nan("");
    return r;
  }
  size_t k = 0;
  for (char o : outcomes) k += size_t(o);
  r.value = double(k) / double(outcomes.size());
  std::vector<double> means;
  std::uniform_int_distribution<size_t> pick(0, outcomes.size() - 1);
  for (int b = 0; b < bootstrap; ++b) {
    size_t s = 0;
    for (size_t i = 0; i < outcomes.size(); ++i) s += size_t(outcomes[pick(rng)]);
    means.push_back(double(s) / double(outcomes.size()));
  }
  std::sort(means.begin(), means.end());
  r.low = means.empty() ? r.value : means[size_t(0.025 * double(means.size() - 1))];
  r.high = means.empty() ? r.value : means[size_t(0.975 * double(means.size() - 1))];
  return r;
}

// max / min of per-group rates; a zero rate counts as half an error in its count (so that a ratio
// stays finite and says "at least this much").
double ratio(const std::vector<double>& rates, const std::vector<size_t>& counts, size_t* hi = nullptr,
             size_t* lo = nullptr) {
  double mx = -1, mn = 2;
  for (size_t g = 0; g < rates.size(); ++g) {
    double r = std::max(rates[g], 0.5 / double(std::max<size_t>(1, counts[g])));
    if (r > mx) {
      mx = r;
      if (hi) *hi = g;
    }
    if (r < mn) {
      mn = r;
      if (lo) *lo = g;
    }
  }
  return mx / mn;
}

}  // namespace

FairnessProtocol make_fairness_protocol(const std::map<std::string, std::vector<std::string>>& people,
                                        const std::map<std::string, std::string>& group_of, const FairnessOptions& o) {
  std::mt19937_64 rng(o.seed);
  std::map<std::string, std::vector<std::string>> members;  // group -> identities
  for (const auto& [id, images] : people)
    if (auto g = group_of.find(id); g != group_of.end() && !images.empty()) members[g->second].push_back(id);
  FairnessProtocol p;
  std::vector<FairnessGroup> candidates;
  for (const auto& [name, ids] : members) {
    FairnessGroup g;
    g.name = name;
    g.identities = ids.size();
    for (const auto& id : ids) {
      const auto& im = people.at(id);
      std::vector<std::pair<std::string, std::string>> own;
      for (size_t i = 0; i < im.size(); ++i)
        for (size_t j = i + 1; j < im.size(); ++j) own.emplace_back(im[i], im[j]);
      take_first(own, o.max_pairs_per_person, rng);
      g.genuine.insert(g.genuine.end(), own.begin(), own.end());
      if (im.size() >= 2) {
        g.gallery.emplace_back(id, im[0]);
        for (size_t i = 1; i < im.size() && i <= o.max_mated_per_person; ++i) g.mated.emplace_back(id, im[i]);
      } else {
        g.nonmated.push_back(im[0]);
      }
    }
    // impostors: two different people of the group, drawn at random (no pair twice)
    if (ids.size() >= 2) {
      std::set<std::pair<std::string, std::string>> seen;
      std::uniform_int_distribution<size_t> who(0, ids.size() - 1);
      size_t tries = 0;
      while (seen.size() < o.max_impostor && tries++ < o.max_impostor * 4) {
        size_t x = who(rng), y = who(rng);
        if (x == y) continue;
        const auto& ix = people.at(ids[x]);
        const auto& iy = people.at(ids[y]);
        std::pair<std::string, std::string> pr{ix[rng() % ix.size()], iy[rng() % iy.size()]};
        if (seen.insert(pr).second) g.impostor.push_back(pr);
      }
    }
    if (g.genuine.size() < o.min_genuine || g.impostor.size() < o.min_genuine) {
      p.left_out.push_back(name + " (" + std::to_string(g.identities) + " people, " + std::to_string(g.genuine.size()) +
                           " genuine pairs)");
      continue;
    }
    candidates.push_back(std::move(g));
  }
  if (candidates.empty())
    throw Error(ErrorKind::InvalidArgument,
                "fairness: no group has " + std::to_string(o.min_genuine) + " genuine and impostor pairs");
  // balanced: every group gets the smallest group's counts
  p.genuine_per_group = o.max_genuine;
  p.impostor_per_group = o.max_impostor;
  for (const auto& g : candidates) {
    p.genuine_per_group = std::min(p.genuine_per_group, g.genuine.size());
    p.impostor_per_group = std::min(p.impostor_per_group, g.impostor.size());
  }
  for (auto& g : candidates) {
    take_first(g.genuine, p.genuine_per_group, rng);
    take_first(g.impostor, p.impostor_per_group, rng);
    p.groups.push_back(std::move(g));
  }
  return p;
}

FairnessResult evaluate_fairness(const FairnessProtocol& p, const EmbeddingTable& a_side, const EmbeddingTable& b_side,
                                 double t, const FairnessOptions& o) {
  std::mt19937_64 rng(o.seed + 1);
  auto emb = [](const EmbeddingTable& table, const std::string& image) -> const std::vector<float>* {
    auto it = table.find(image);
    return it != table.end() && it->second.found ? &it->second.embedding : nullptr;
  };
  FairnessResult res;
  std::vector<std::vector<char>> misses, false_matches;
  for (const auto& g : p.groups) {
    FairnessGroupResult r;
    r.group = g.name;
    r.identities = g.identities;
    std::vector<char> miss, fm, r1, fnir, fpir;
    for (const auto& [a, b] : g.genuine) {
      const auto *ea = emb(a_side, a), *eb = emb(b_side, b);
      if (!ea || !eb) ++r.failed;
      miss.push_back(!ea || !eb || FaceAnalyzer::cosine(*ea, *eb) < t);
    }
    for (const auto& [a, b] : g.impostor) {
      const auto *ea = emb(a_side, a), *eb = emb(b_side, b);
      fm.push_back(ea && eb && FaceAnalyzer::cosine(*ea, *eb) >= t);
    }
    // 1:N within the group: the gallery side enrols, the probe side searches
    std::vector<std::pair<std::string, const std::vector<float>*>> gallery;
    for (const auto& [id, image] : g.gallery)
      if (const auto* e = emb(a_side, image)) gallery.emplace_back(id, e);
    auto best = [&](const std::vector<float>& probe) {
      std::pair<std::string, float> top{"", -2.f};
      for (const auto& [id, e] : gallery)
        if (float s = FaceAnalyzer::cosine(probe, *e); s > top.second) top = {id, s};
      return top;
    };
    std::vector<float> mate_score;  // the mate's score when it ranks first; -2: a miss at any threshold
    for (const auto& [id, image] : g.mated) {
      const auto* e = emb(b_side, image);
      if (!e) {
        ++r.failed;
        r1.push_back(0);
        fnir.push_back(1);
        mate_score.push_back(-2.f);
        continue;
      }
      auto top = best(*e);
      r1.push_back(top.first == id);
      fnir.push_back(!(top.first == id && top.second >= t));
      mate_score.push_back(top.first == id ? top.second : -2.f);
    }
    std::vector<float> nonmated_top;
    for (const auto& image : g.nonmated) {
      const auto* e = emb(b_side, image);
      const float top = e && !gallery.empty() ? best(*e).second : -2.f;
      nonmated_top.push_back(top);
      fpir.push_back(top >= t);
    }
    // the group's own threshold for FPIR o.fpir: just above the score of the non-mated search
    // ranked floor(fpir * n) + 1 from the top, so that at most that share reaches it
    std::vector<char> fnir_at;
    if (!nonmated_top.empty()) {
      std::sort(nonmated_top.begin(), nonmated_top.end(), std::greater<float>());
      const size_t allowed = size_t(std::floor(o.fpir * double(nonmated_top.size())));
      const float tg = allowed < nonmated_top.size() ? std::nextafter(nonmated_top[allowed], 2.f) : -1.f;
      r.fpir_threshold = tg;
      for (float s : mate_score) fnir_at.push_back(!(s > -2.f && s >= tg));
    }
    r.fnmr = rate(miss, o.bootstrap, rng);
    r.fmr = rate(fm, o.bootstrap, rng);
    r.rank1 = rate(r1, o.bootstrap, rng);
    r.fnir = rate(fnir, o.bootstrap, rng);
    r.fpir = rate(fpir, o.bootstrap, rng);
    r.fnir_at_fpir = rate(fnir_at, o.bootstrap, rng);
    misses.push_back(std::move(miss));
    false_matches.push_back(std::move(fm));
    res.groups.push_back(r);
  }
  // the max/min ratios and their intervals: every group resampled together
  auto ratios = [&](const std::vector<std::vector<char>>& outcomes, RateCI& out, std::string& hi_name,
                    std::string& lo_name) {
    std::vector<double> rates;
    std::vector<size_t> counts;
    for (const auto& v : outcomes) {
      size_t k = 0;
      for (char c : v) k += size_t(c);
      rates.push_back(v.empty() ? 0 : double(k) / double(v.size()));
      counts.push_back(v.size());
    }
    size_t hi = 0, lo = 0;
    out.value = ratio(rates, counts, &hi, &lo);
    out.count = outcomes.size();
    hi_name = res.groups[hi].group;
    lo_name = res.groups[lo].group;
    std::vector<double> boot;
    for (int b = 0; b < o.bootstrap; ++b) {
      std::vector<double> rb;
      for (const auto& v : outcomes) {
        if (v.empty()) {
          rb.push_back(0);
          continue;
        }
        std::uniform_int_distribution<size_t> pick(0, v.size() - 1);
        size_t s = 0;
        for (size_t i = 0; i < v.size(); ++i) s += size_t(v[pick(rng)]);
        rb.push_back(double(s) / double(v.size()));
      }
      boot.push_back(ratio(rb, counts));
    }
    std::sort(boot.begin(), boot.end());
    out.low = boot.empty() ? out.value : boot[size_t(0.025 * double(boot.size() - 1))];
    out.high = boot.empty() ? out.value : boot[size_t(0.975 * double(boot.size() - 1))];
  };
  ratios(misses, res.fnmr_ratio, res.fnmr_max_group, res.fnmr_min_group);
  ratios(false_matches, res.fmr_ratio, res.fmr_max_group, res.fmr_min_group);
  return res;
}

}  // namespace facerec
