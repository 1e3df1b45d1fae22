#pragma once
// Per-image labels from a TSV file, such as ../shared/data/utkface/labels.tsv: a header line
// "file<TAB>factor<TAB>..." and one line per image, the file relative to the TSV's folder.
//
// Each value is read as a level of its factor: "age" in bands (0-10, 11-20, 21-40, 41-60, 61+),
// UTKFace's "gender" (0 male, 1 female) and "race" codes (0 white, 1 black, 2 asian, 3 indian,
// 4 other) by name, any other column's value as it is. These are the groups calibration sets are
// balanced over and results are broken down by.
// Thread safety: plain values and pure functions.
#include <filesystem>
#include <string>
#include <vector>

namespace facerec {

struct LabelledFile {
  std::filesystem::path file;       // as listed, relative to the table's folder
  std::vector<std::string> levels;  // one per factor, in LabelTable::factors order
};

struct LabelTable {
  std::filesystem::path root;        // the TSV's folder: files are relative to it
  std::vector<std::string> factors;  // the header's columns after "file"
  std::vector<LabelledFile> images;
  // The level of `factor` (a name in factors) for each image. Throws Error(NotFound) for an unknown factor.
  size_t factor_index(const std::string& factor) const;
};

// The level a raw label value stands for (see above). Pure.
std::string label_level(const std::string& factor, const std::string& value);

// The fields of one TSV line (a trailing CR dropped), empty fields kept. Pure.
std::vector<std::string> split_tabs(const std::string& line);

// Reads a label TSV. Requires: a header whose first column is "file", every line with as many
// fields as the header (empty lines skipped), each file listed once. Throws Error(NotFound) when the
// file cannot be read, Error(BadInput) naming the line otherwise, and when no image is listed.
LabelTable read_label_table(const std::filesystem::path& tsv);

}  // namespace facerec
