#include <facerec/error.hpp>
#include <facerec/eval/labels.hpp>
#include <facerec/eval/liveness.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

namespace facerec {

std::vector<LivenessSample> read_liveness_labels(const std::filesystem::path& labels_tsv) {
  std::ifstream in(labels_tsv);
  if (!in) throw Error(ErrorKind::NotFound, "cannot read " + labels_tsv.string());
  std::string line;
  if (!std::getline(in, line)) throw Error(ErrorKind::InvalidArgument, labels_tsv.string() + ": empty");
  auto header = split_tabs(line);
  auto col = [&](const std::string& name) {
    auto it = std::find(header.begin(), header.end(), name);
    if (it == header.end())
      throw Error(ErrorKind::InvalidArgument, labels_tsv.string() + ": the header has no column '" + name + "'");
    return size_t(it - header.begin());
  };
  const size_t cf = col("file"), cc = col("class"), cs = col("subject");
  std::vector<LivenessSample> out;
  for (int n = 2; std::getline(in, line); ++n) {
    if (line.empty()) continue;
    auto f = split_tabs(line);
    if (f.size() != header.size())
      throw Error(ErrorKind::InvalidArgument, labels_tsv.string() + ":" + std::to_string(n) + ": expected " +
                                                  std::to_string(header.size()) + " fields");
    out.push_back({labels_tsv.parent_path() / f[cf], f[cc] == "real", f[cs]});
  }
  return out;
}

PadRates pad_rates(const std::vector<double>& live, const std::vector<double>& attack, double threshold) {
  PadRates r;
  r.threshold = threshold;
  r.bona_fide = int(live.size());
  r.attacks = int(attack.size());
  long rejected = std::count_if(live.begin(), live.end(), [&](double s) { return !(s >= threshold); });
  long accepted = std::count_if(attack.begin(), attack.end(), [&](double s) { return s >= threshold; });
  r.bpcer = live.empty() ? 0 : double(rejected) / double(live.size());
  r.apcer = attack.empty() ? 0 : double(accepted) / double(attack.size());
  r.acer = (r.apcer + r.bpcer) / 2;
  return r;
}

namespace {
std::vector<double> candidate_thresholds(const std::vector<double>& live, const std::vector<double>& attack) {
  std::vector<double> s;
  for (double v : live)
    if (std::isfinite(v)) s.push_back(v);
  for (double v : attack)
    if (std::isfinite(v)) s.push_back(v);
  std::sort(s.begin(), s.end());
  s.erase(std::unique(s.begin(), s.end()), s.end());
  std::vector<double> t;
  if (s.empty()) return {0.0};
  t.push_back(s.front() - 1);
  for (size_t i = 0; i + 1 < s.size(); ++i) t.push_back((s[i] + s[i + 1]) / 2);
  t.push_back(s.back() + 1);
  return t;
}
}  // namespace

double pad_eer_threshold(const std::vector<double>& live, const std::vector<double>& attack) {
  if (live.empty() || attack.empty())
    throw Error(ErrorKind::InvalidArgument, "pad_eer_threshold: needs bona fide and attack scores");
  auto t = candidate_thresholds(live, attack);
  double best_gap = 2, best_acer = 2;
  size_t lo = 0, hi = 0;
  for (size_t i = 0; i < t.size(); ++i) {
    PadRates r = pad_rates(live, attack, t[i]);
    double gap = std::abs(r.apcer - r.bpcer);
    if (gap < best_gap - 1e-12 || (std::abs(gap - best_gap) <= 1e-12 && r.acer < best_acer - 1e-12)) {
      best_gap = gap;
      best_acer = r.acer;
      lo = hi = i;
    } else if (std::abs(gap - best_gap) <= 1e-12 && std::abs(r.acer - best_acer) <= 1e-12 && i == hi + 1) {
      hi = i;  // the same point over a run of thresholds: take its middle
    }
  }
  return (t[lo] + t[hi]) / 2;
}

double pad_auc(const std::vector<double>& live, const std::vector<double>& attack) {
  if (live.empty() || attack.empty()) throw Error(ErrorKind::InvalidArgument, "pad_auc: needs both kinds of scores");
  std::vector<double> a = attack;
  std::sort(a.begin(), a.end());
  double sum = 0;
  for (double v : live) {
    auto lo = std::lower_bound(a.begin(), a.end(), v), hi = std::upper_bound(a.begin(), a.end(), v);
    sum += double(lo - a.begin()) + 0.5 * double(hi - lo);
  }
  return sum / (double(live.size()) * double(a.size()));
}

std::vector<PadRates> pad_det_curve(const std::vector<double>& live, const std::vector<double>& attack) {
  std::vector<PadRates> out;
  for (double t : candidate_thresholds(live, attack)) out.push_back(pad_rates(live, attack, t));
  return out;
}

}  // namespace facerec
