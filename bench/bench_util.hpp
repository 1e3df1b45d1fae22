#pragma once
// Small helpers shared by the benchmarks.
#include <facerec/models.hpp>

#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

namespace facerec::bench {

// ../shared beside the source tree (FACEREC_SHARED overrides).
inline std::filesystem::path shared() {
  if (const char* p = std::getenv("FACEREC_SHARED"); p && *p) return p;
  return std::filesystem::path(FACEREC_SOURCE_DIR).parent_path() / "shared";
}

// The model manifest (Manifest::load_default()), loaded once.
inline const Manifest& manifest() {
  static const Manifest m = Manifest::load_default();
  return m;
}

// "a,b,c" -> its non-empty parts
inline std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string part; std::getline(in, part, ',');)
    if (!part.empty()) out.push_back(part);
  return out;
}

}  // namespace facerec::bench
