#pragma once
// Verification stratified by head pose: pairs binned by the yaw difference of their two faces, so
// that a change of pose (what pose augmentation is for) shows as the accuracy of the bins far from
// zero. And the pose table `facerec data repose` writes (poses.tsv), read back.
//
// Thread safety: the functions are pure (read_pose_table reads a file).
#include <cstddef>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace facerec {

// One row of a pose table. A plain value.
struct PoseRow {
  std::string kind;      // "real" (an input image and its estimated pose) | "synthetic" (a re-posed view)
  std::string path;      // the image (absolute)
  std::string identity;  // its identity folder ("" for a flat folder)
  double yaw = 0, pitch = 0, roll = 0, fit_px = 0, mirrored_share = 0;
  std::string source;  // the input image a synthetic view was made from (its own path for a real one)
};

// The pose table's header line (tab-separated, one home for writer and reader).
extern const char* const kPoseTableHeader;
// One line of it (without the newline).
std::string pose_table_line(const PoseRow& row);
// Reads a pose table. Throws Error(NotFound) for a missing file, Error(BadInput) naming the line
// for a malformed one (another header, a missing field, a number that does not parse).
std::vector<PoseRow> read_pose_table(const std::filesystem::path& file);

// One bin of yaw difference. A plain value.
struct YawStratum {
  double lo = 0, hi = 0;  // |yaw_a − yaw_b| in [lo, hi) degrees
  size_t pairs = 0, genuine = 0, impostor = 0;
  double accuracy = 0;       // at each pair's fold threshold (failed pairs count as wrong)
  double fnmr = 0, fmr = 0;  // among its genuine / impostor pairs, at the same thresholds
};

// Pairs i with yaw_difference[i] (NaN: no pose, left out) binned by `edges` (increasing; the last
// bin is [edges.back(), ∞)); pair i is accepted when scores[i] >= fold_threshold[folds[i]] (a NaN
// score is a failed pair: wrong). Requires: scores, same, folds and yaw_difference of one size,
// every fold index < fold_threshold.size(), edges increasing and non-empty. Throws
// Error(InvalidArgument) otherwise.
std::vector<YawStratum> verification_by_yaw_difference(const std::vector<double>& scores, const std::vector<bool>& same,
                                                       const std::vector<int>& folds,
                                                       const std::vector<double>& fold_threshold,
                                                       const std::vector<double>& yaw_difference,
                                                       const std::vector<double>& edges);

}  // namespace facerec
