#pragma once
// Helpers shared by the tests: paths of the source tree, the model cache and ../shared.
#include <facerec/models.hpp>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace facerec::test {

inline std::filesystem::path source_dir() { return FACEREC_SOURCE_DIR; }

// ../shared beside the repository (FACEREC_SHARED overrides).
inline std::filesystem::path shared_dir() {
  if (const char* p = std::getenv("FACEREC_SHARED"); p && *p) return p;
  return source_dir().parent_path() / "shared";
}

// A fresh temporary directory for one test.
inline std::filesystem::path temp_dir(const std::string& name) {
  auto d = std::filesystem::temp_directory_path() / ("facerec-test-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d;
}

}  // namespace facerec::test
