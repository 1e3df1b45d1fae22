// Curves (ROC, PR, DET) and the 1:N identification metrics and protocol.
#include <facerec/error.hpp>
#include <facerec/eval/eval.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <map>
#include <set>

namespace facerec {
namespace {

constexpr double kNever = -std::numeric_limits<double>::infinity();

// Log-spaced targets from lo to 1 (inclusive), `n` of them.
std::vector<double> log_grid(double lo, int n) {
  std::vector<double> g;
  if (n < 2) n = 2;
  double a = std::log10(lo);
  for (int i = 0; i < n; ++i) g.push_back(std::pow(10.0, a + (0.0 - a) * i / (n - 1)));
  return g;
}

// Share of `desc` (sorted descending) that is >= t.
double share_at_or_above(const std::vector<double>& desc, double t, size_t denominator) {
  if (denominator == 0) return 0;
  auto it = std::upper_bound(desc.begin(), desc.end(), t, [](double v, double x) { return v > x; });
  // `it` is the first element < t
  return double(it - desc.begin()) / double(denominator);
}

// Lowest threshold at which at most floor(rate * n) of `desc` lie at or above it.
double threshold_for_rate(const std::vector<double>& desc, size_t n, double rate) {
  size_t allowed = size_t(std::floor(rate * double(n) + 1e-9));
  if (allowed >= desc.size()) return desc.empty() ? 0.0 : std::nextafter(desc.back(), kNever);
  return std::nextafter(desc[allowed], std::numeric_limits<double>::infinity());
}

std::vector<double> sorted_desc_valid(const std::vector<double>& v) {
  std::vector<double> out;
  for (double x : v)
    if (!std::isnan(x) && x != kNever) out.push_back(x);
  std::sort(out.begin(), out.end(), std::greater<>());
  return out;
}

}  // namespace

std::vector<CurvePoint> roc_curve(const std::vector<double>& genuine, const std::vector<double>& impostor, int points) {
  if (genuine.empty() || impostor.empty()) throw Error(ErrorKind::InvalidArgument, "roc_curve: empty score list");
  auto g = sorted_desc_valid(genuine), im = sorted_desc_valid(impostor);
  std::vector<CurvePoint> out;
  for (double target : log_grid(1.0 / double(impostor.size()), points)) {
    double t = threshold_for_rate(im, impostor.size(), target);
    CurvePoint p{t, share_at_or_above(im, t, impostor.size()), share_at_or_above(g, t, genuine.size())};
    if (out.empty() || p.x != out.back().x || p.y != out.back().y) out.push_back(p);
  }
  return out;
}

std::vector<CurvePoint> pr_curve(const std::vector<double>& scores, const std::vector<bool>& same, int points) {
  if (scores.size() != same.size() || scores.empty())
    throw Error(ErrorKind::InvalidArgument, "pr_curve: inputs differ in size or are empty");
  std::vector<double> g, im;
  size_t positives = 0;
  for (size_t i = 0; i < scores.size(); ++i) {
    positives += same[i] ? 1 : 0;
    if (!std::isnan(scores[i])) (same[i] ? g : im).push_back(scores[i]);
  }
  std::sort(g.begin(), g.end(), std::greater<>());
  std::sort(im.begin(), im.end(), std::greater<>());
  std::vector<double> all = g;
  all.insert(all.end(), im.begin(), im.end());
  std::sort(all.begin(), all.end(), std::greater<>());
  std::vector<CurvePoint> out;
  if (all.empty() || positives == 0) return out;
  int n = std::max(2, points);
  for (int i = 0; i < n; ++i) {
    double t = all[size_t(double(all.size() - 1) * i / (n - 1))];
    double tp = share_at_or_above(g, t, 1), fp = share_at_or_above(im, t, 1);
    CurvePoint p{t, tp / double(positives), tp + fp > 0 ? tp / (tp + fp) : 1.0};
    if (out.empty() || p.x != out.back().x || p.y != out.back().y) out.push_back(p);
  }
  return out;
}

SearchOutcome rank_search(const std::vector<double>& scores, const std::vector<int>& gallery_labels, int probe_label) {
  if (scores.size() != gallery_labels.size())
    throw Error(ErrorKind::InvalidArgument, "rank_search: one score per gallery template is required");
  std::map<int, double> best;  // identity -> best template score
  for (size_t i = 0; i < scores.size(); ++i) {
    auto [it, inserted] = best.emplace(gallery_labels[i], scores[i]);
    if (!inserted) it->second = std::max(it->second, scores[i]);
  }
  SearchOutcome o;
  o.mated = probe_label >= 0;
  for (const auto& [id, s] : best) o.top_score = std::max(o.top_score, s);
  auto mate = o.mated ? best.find(probe_label) : best.end();
  if (mate != best.end()) {
    o.mate_score = mate->second;
    o.mate_rank = 1;
    for (const auto& [id, s] : best)  // ties rank against the mate (pessimistic)
      if (id != probe_label && s >= mate->second) ++o.mate_rank;
  }
  return o;
}

IdentificationResult evaluate_identification(const std::vector<SearchOutcome>& searches, int max_rank,
                                             const std::vector<double>& fpir_targets) {
  if (max_rank < 1) throw Error(ErrorKind::InvalidArgument, "evaluate_identification: max_rank must be >= 1");
  IdentificationResult r;
  std::vector<double> top;   // non-mated top scores; failed searches never match
  std::vector<double> hits;  // similarities of the mates ranked first
  r.cmc.assign(size_t(max_rank), 0.0);
  for (const auto& s : searches) {
    if (s.mated) {
      ++r.mated;
      if (s.failed) {
        ++r.failed_mated;
        continue;
      }
      if (s.mate_rank >= 1)
        for (int k = s.mate_rank; k <= max_rank; ++k) r.cmc[size_t(k - 1)] += 1;
      if (s.mate_rank == 1) hits.push_back(s.mate_score);
    } else {
      ++r.nonmated;
      if (s.failed)
        ++r.failed_nonmated;
      else
        top.push_back(s.top_score);
    }
  }
  if (r.mated > 0)
    for (auto& c : r.cmc) c /= double(r.mated);
  std::sort(top.begin(), top.end(), std::greater<>());
  std::sort(hits.begin(), hits.end(), std::greater<>());
  if (r.nonmated == 0 || r.mated == 0) return r;
  auto point = [&](double target) {
    FpirPoint p;
    p.target = target;
    p.threshold = threshold_for_rate(top, r.nonmated, target);
    p.fpir = share_at_or_above(top, p.threshold, r.nonmated);
    p.fnir = 1.0 - share_at_or_above(hits, p.threshold, r.mated);
    return p;
  };
  for (double t : fpir_targets) r.points.push_back(point(t));
  for (double t : log_grid(1.0 / double(r.nonmated), 60)) {
    auto p = point(t);
    CurvePoint c{p.threshold, p.fpir, p.fnir};
    if (r.det.empty() || c.x != r.det.back().x || c.y != r.det.back().y) r.det.push_back(c);
  }
  return r;
}

std::vector<Subject> read_identity_folders(const std::filesystem::path& root) {
  namespace fs = std::filesystem;
  if (!fs::is_directory(root)) throw Error(ErrorKind::NotFound, "dataset folder not found: " + root.string());
  static const std::set<std::string> kExt = {".jpg", ".jpeg", ".png", ".pgm", ".ppm", ".bmp", ".webp", ".tif", ".tiff"};
  std::vector<Subject> out;
  std::vector<fs::path> dirs;
  for (const auto& e : fs::directory_iterator(root))
    if (e.is_directory()) dirs.push_back(e.path());
  std::sort(dirs.begin(), dirs.end());
  for (const auto& d : dirs) {
    Subject s;
    s.id = d.filename().string();
    for (const auto& e : fs::directory_iterator(d)) {
      if (!e.is_regular_file()) continue;
      std::string ext = e.path().extension().string();
      std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
      if (kExt.count(ext)) s.images.push_back(s.id + "/" + e.path().filename().string());
    }
    std::sort(s.images.begin(), s.images.end());
    if (!s.images.empty()) out.push_back(std::move(s));
  }
  if (out.empty())
    throw Error(ErrorKind::InvalidArgument,
                root.string() + " holds no identity folders with images (expected root/<identity>/<image>)");
  return out;
}

IdentificationProtocol make_identification_protocol(const std::vector<Subject>& subjects, int enrol,
                                                    int holdout_every) {
  if (enrol < 1) throw Error(ErrorKind::InvalidArgument, "identification protocol: enrol at least one image");
  if (holdout_every < 0) throw Error(ErrorKind::InvalidArgument, "identification protocol: holdout must be >= 0");
  IdentificationProtocol p;
  int enrollable = 0;
  for (size_t i = 0; i < subjects.size(); ++i) {
    const auto& s = subjects[i];
    p.identities.push_back(s.id);
    bool enrolled = s.images.size() > size_t(enrol);
    if (enrolled && holdout_every > 0 && ++enrollable % holdout_every == 0) enrolled = false;
    if (enrolled) {
      ++p.enrolled_identities;
      for (size_t k = 0; k < s.images.size(); ++k)
        if (k < size_t(enrol)) {
          p.gallery.push_back(s.images[k]);
          p.gallery_labels.push_back(int(i));
        } else {
          p.probes.push_back(s.images[k]);
          p.probe_labels.push_back(int(i));
        }
    } else {
      for (const auto& img : s.images) {
        p.probes.push_back(img);
        p.probe_labels.push_back(-1);
      }
    }
  }
  return p;
}

}  // namespace facerec
