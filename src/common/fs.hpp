#pragma once
// Small file and process helpers shared by the library.
#include <filesystem>
#include <string>
#include <vector>

namespace facerec::detail {

// Whole file as bytes. Throws Error(NotFound) if missing, Error(Io) if unreadable.
std::string read_file(const std::filesystem::path& path);
// Writes to a temporary file beside `path`, then renames: readers never see a half-written file.
void write_file_atomic(const std::filesystem::path& path, const std::string& bytes);

struct ProcessResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr, interleaved
};
// Runs argv (no shell) in `cwd`, capturing output. Throws Error(External) if it cannot start.
ProcessResult run_process(const std::vector<std::string>& argv, const std::filesystem::path& cwd);

// Whether a path has a folder named lfw (any case, e.g. lfw, LFW, lfw-deepfunneled, lfw_funneled):
// LFW is the test set, which nothing trains or fits on.
bool under_lfw(const std::filesystem::path& p);

}  // namespace facerec::detail
