// Verification by yaw difference and the pose table (see pose_strata.hpp).
#include <facerec/error.hpp>
#include <facerec/eval/labels.hpp>
#include <facerec/eval/pose_strata.hpp>

#include <cmath>
#include <cstdio>
#include <fstream>

namespace facerec {

const char* const kPoseTableHeader = "kind\tpath\tidentity\tyaw\tpitch\troll\tfit_px\tmirrored_share\tsource";

std::string pose_table_line(const PoseRow& r) {
  char nums[160];
  std::snprintf(nums, sizeof nums, "%.2f\t%.2f\t%.2f\t%.2f\t%.3f", r.yaw, r.pitch, r.roll, r.fit_px, r.mirrored_share);
  return r.kind + "\t" + r.path + "\t" + r.identity + "\t" + nums + "\t" + r.source;
}

std::vector<PoseRow> read_pose_table(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) throw Error(ErrorKind::NotFound, "cannot read the pose table " + file.string());
  std::string line;
  if (!std::getline(in, line) || line != kPoseTableHeader)
    throw Error(ErrorKind::BadInput, file.string() + ": not a pose table (its first line must be the header `" +
                                         std::string(kPoseTableHeader) + "`)");
  std::vector<PoseRow> rows;
  for (size_t n = 2; std::getline(in, line); ++n) {
    if (line.empty()) continue;
    const auto f = split_tabs(line);
    auto bad = [&](const std::string& why) {
      return Error(ErrorKind::BadInput, file.string() + ":" + std::to_string(n) + ": " + why);
    };
    if (f.size() != 9) throw bad("9 tab-separated fields expected, " + std::to_string(f.size()) + " found");
    PoseRow r;
    r.kind = f[0];
    if (r.kind != "real" && r.kind != "synthetic") throw bad("kind must be real or synthetic");
    r.path = f[1];
    r.identity = f[2];
    double* nums[] = {&r.yaw, &r.pitch, &r.roll, &r.fit_px, &r.mirrored_share};
    for (size_t k = 0; k < 5; ++k) {
      try {
        size_t used = 0;
        *nums[k] = std::stod(f[3 + k], &used);
        if (used != f[3 + k].size()) throw std::invalid_argument("trailing");
      } catch (const std::exception&) {
        throw bad("field " + std::to_string(4 + k) + " is not a number: '" + f[3 + k] + "'");
      }
    }
    r.source = f[8];
    rows.push_back(std::move(r));
  }
  return rows;
}

std::vector<YawStratum> verification_by_yaw_difference(const std::vector<double>& scores, const std::vector<bool>& same,
                                                       const std::vector<int>& folds,
                                                       const std::vector<double>& fold_threshold,
                                                       const std::vector<double>& yaw_difference,
                                                       const std::vector<double>& edges) {
  if (scores.size() != same.size() || scores.size() != folds.size() || scores.size() != yaw_difference.size())
    throw Error(ErrorKind::InvalidArgument,
                "by yaw difference: scores, same, folds and yaw differences differ in size");
  if (edges.empty()) throw Error(ErrorKind::InvalidArgument, "by yaw difference: no bin edges");
  for (size_t k = 1; k < edges.size(); ++k)
    if (!(edges[k] > edges[k - 1])) throw Error(ErrorKind::InvalidArgument, "by yaw difference: edges must increase");
  std::vector<YawStratum> bins(edges.size());
  std::vector<size_t> right(edges.size()), false_non(edges.size()), false_match(edges.size());
  for (size_t k = 0; k < edges.size(); ++k) {
    bins[k].lo = edges[k];
    bins[k].hi = k + 1 < edges.size() ? edges[k + 1] : INFINITY;
  }
  for (size_t i = 0; i < scores.size(); ++i) {
    if (folds[i] < 0 || size_t(folds[i]) >= fold_threshold.size())
      throw Error(ErrorKind::InvalidArgument, "by yaw difference: a fold without a threshold");
    const double d = yaw_difference[i];
    if (std::isnan(d) || d < edges[0]) continue;
    size_t k = 0;
    while (k + 1 < edges.size() && d >= edges[k + 1]) ++k;
    auto& b = bins[k];
    ++b.pairs;
    const bool accept = !std::isnan(scores[i]) && scores[i] >= fold_threshold[size_t(folds[i])];
    const bool ok = !std::isnan(scores[i]) && accept == same[i];
    right[k] += ok;
    if (same[i]) {
      ++b.genuine;
      false_non[k] += !accept;
    } else {
      ++b.impostor;
      false_match[k] += accept;
    }
  }
  for (size_t k = 0; k < bins.size(); ++k) {
    auto& b = bins[k];
    b.accuracy = b.pairs ? double(right[k]) / double(b.pairs) : 0;
    b.fnmr = b.genuine ? double(false_non[k]) / double(b.genuine) : 0;
    b.fmr = b.impostor ? double(false_match[k]) / double(b.impostor) : 0;
  }
  return bins;
}

}  // namespace facerec
