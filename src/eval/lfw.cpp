#include <facerec/error.hpp>
#include <facerec/eval/eval.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <numeric>
#include <sstream>

namespace facerec {
namespace {

std::string image_name(const std::string& person, const std::string& idx, const std::string& where) {
  int n = 0;
  try {
    size_t used = 0;
    n = std::stoi(idx, &used);
    if (used != idx.size() || n <= 0) throw std::invalid_argument(idx);
  } catch (const std::exception&) {
    throw Error(ErrorKind::InvalidArgument, where + ": '" + idx + "' is not an image number");
  }
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d", n);
  return person + "/" + person + "_" + buf + ".jpg";
}

}  // namespace

std::vector<LfwPair> read_lfw_pairs(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) throw Error(ErrorKind::NotFound, "cannot read pairs file " + file.string());
  std::string line;
  int line_no = 0;
  auto where = [&] { return file.filename().string() + ":" + std::to_string(line_no); };
  if (!std::getline(in, line)) throw Error(ErrorKind::InvalidArgument, file.string() + ": empty pairs file");
  ++line_no;
  std::istringstream header(line);
  int folds = 0, n = 0;
  header >> folds;
  if (!(header >> n)) {  // View 1: a single count, one fold
    n = folds;
    folds = 1;
  }
  if (folds <= 0 || n <= 0 || folds > 100 || n > 100000)
    throw Error(ErrorKind::InvalidArgument, where() + ": header must be 'folds pairs_per_class' or 'pairs_per_class'");
  std::vector<LfwPair> pairs;
  for (int f = 0; f < folds; ++f)
    for (int k = 0; k < 2 * n; ++k) {
      if (!std::getline(in, line))
        throw Error(ErrorKind::InvalidArgument, file.string() + ": ends after " + std::to_string(line_no) +
                                                    " lines; expected " + std::to_string(1 + folds * 2 * n));
      ++line_no;
      std::istringstream ls(line);
      std::vector<std::string> t;
      for (std::string w; ls >> w;) t.push_back(w);
      LfwPair p;
      p.fold = f;
      p.same = k < n;
      if (p.same) {
        if (t.size() != 3) throw Error(ErrorKind::InvalidArgument, where() + ": a matched pair needs 'name i j'");
        p.a = image_name(t[0], t[1], where());
        p.b = image_name(t[0], t[2], where());
      } else {
        if (t.size() != 4)
          throw Error(ErrorKind::InvalidArgument, where() + ": a mismatched pair needs 'name1 i name2 j'");
        p.a = image_name(t[0], t[1], where());
        p.b = image_name(t[2], t[3], where());
      }
      pairs.push_back(p);
    }
  return pairs;
}

double threshold_at_fmr(std::vector<double> imp, double fmr) {
  if (imp.empty()) throw Error(ErrorKind::InvalidArgument, "threshold_at_fmr: no impostor scores");
  std::sort(imp.begin(), imp.end(), std::greater<>());
  size_t allowed = size_t(std::floor(fmr * double(imp.size())));  // impostors allowed at or above t
  if (allowed >= imp.size()) return imp.back();
  // t just above the (allowed+1)-th highest impostor score
  return std::nextafter(imp[allowed], std::numeric_limits<double>::infinity());
}

double tar_at(const std::vector<double>& genuine, double t) {
  if (genuine.empty()) return 0;
  return double(std::count_if(genuine.begin(), genuine.end(), [t](double s) { return s >= t; })) /
         double(genuine.size());
}

double best_accuracy_threshold(const std::vector<double>& scores, const std::vector<bool>& same) {
  std::vector<std::pair<double, bool>> v;
  for (size_t i = 0; i < scores.size(); ++i)
    if (!std::isnan(scores[i])) v.emplace_back(scores[i], same[i]);
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  // threshold below v[i]: genuine at or above count as correct, impostors below as correct
  long correct = long(std::count_if(v.begin(), v.end(), [](const auto& p) { return p.second; }));
  // t below everything: all genuine right, all impostors wrong
  long best = correct;
  double best_t = v.front().first - 1e-6;
  for (size_t i = 0; i < v.size(); ++i) {
    // move t above v[i]
    correct += v[i].second ? -1 : 1;
    if (i + 1 < v.size() && v[i + 1].first == v[i].first) continue;
    if (correct > best) {
      best = correct;
      best_t = i + 1 < v.size() ? 0.5 * (v[i].first + v[i + 1].first) : v[i].first + 1e-6;
    }
  }
  return best_t;
}

VerificationResult evaluate_verification(const std::vector<double>& scores, const std::vector<bool>& same,
                                         const std::vector<int>& folds) {
  if (scores.size() != same.size() || scores.size() != folds.size() || scores.empty())
    throw Error(ErrorKind::InvalidArgument, "evaluate_verification: inputs differ in size or are empty");
  VerificationResult r;
  r.pairs = int(scores.size());
  for (double s : scores) r.failed_pairs += std::isnan(s) ? 1 : 0;
  int k = *std::max_element(folds.begin(), folds.end()) + 1;
  for (int f = 0; f < k; ++f) {
    std::vector<double> ts;
    std::vector<bool> tl;
    for (size_t i = 0; i < scores.size(); ++i)
      if (folds[i] != f) {
        ts.push_back(scores[i]);
        tl.push_back(same[i]);
      }
    double t = k == 1 ? best_accuracy_threshold(scores, same) : best_accuracy_threshold(ts, tl);
    int right = 0, total = 0;
    for (size_t i = 0; i < scores.size(); ++i)
      if (folds[i] == f) {
        ++total;
        if (!std::isnan(scores[i]) && (scores[i] >= t) == same[i]) ++right;
      }
    r.fold_threshold.push_back(t);
    r.fold_accuracy.push_back(total ? double(right) / total : 0);
  }
  double m = std::accumulate(r.fold_accuracy.begin(), r.fold_accuracy.end(), 0.0) / k, v = 0;
  for (double a : r.fold_accuracy) v += (a - m) * (a - m);
  r.mean_accuracy = m;
  r.std_accuracy = k > 1 ? std::sqrt(v / (k - 1)) : 0;  // sample standard deviation, as the LFW results page
  // AUC (failed pairs scored lowest) and EER
  std::vector<std::pair<double, bool>> v2;
  for (size_t i = 0; i < scores.size(); ++i) v2.emplace_back(std::isnan(scores[i]) ? -1e9 : scores[i], same[i]);
  std::sort(v2.begin(), v2.end());
  double n_pos = 0, n_neg = 0, rank_sum = 0;
  for (size_t i = 0; i < v2.size();) {
    size_t j = i;
    while (j < v2.size() && v2[j].first == v2[i].first) ++j;
    double avg_rank = 0.5 * double(i + 1 + j);
    for (size_t q = i; q < j; ++q)
      if (v2[q].second) rank_sum += avg_rank;
    i = j;
  }
  for (const auto& p : v2) (p.second ? n_pos : n_neg) += 1;
  r.auc = n_pos > 0 && n_neg > 0 ? (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg) : 0;
  // EER: sweep thresholds, the point where FMR and FNMR cross
  double best_gap = 2;
  double fn = 0, tn = 0;
  for (size_t i = 0; i < v2.size(); ++i) {
    (v2[i].second ? fn : tn) += 1;  // threshold just above v2[i]
    double fnmr = fn / n_pos, fmr = (n_neg - tn) / n_neg;
    if (std::abs(fnmr - fmr) < best_gap) {
      best_gap = std::abs(fnmr - fmr);
      r.eer = 0.5 * (fnmr + fmr);
    }
  }
  return r;
}

}  // namespace facerec
