#pragma once
// Helpers for the libFuzzer targets: a per-process scratch directory, and the one rule every
// target checks — untrusted bytes may only ever end in a facerec::Error (a clear message), never
// in another exception, a crash, a leak or undefined behaviour (the sanitizers watch those).
#include <facerec/error.hpp>

#include <unistd.h>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>

namespace facerec::fuzz {

inline const std::filesystem::path& scratch() {
  static const std::filesystem::path dir = [] {
    auto d = std::filesystem::temp_directory_path() / ("facerec-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d;
  }();
  return dir;
}

inline void write_file(const std::filesystem::path& p, const uint8_t* data, size_t size) {
  std::ofstream(p, std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(data), std::streamsize(size));
}

// Runs f; a facerec::Error is the expected answer to bad input, anything else is a finding.
template <class F>
void expect_only_errors(F&& f) {
  try {
    f();
  } catch (const facerec::Error&) {
  } catch (const std::exception& e) {
    std::fprintf(stderr, "finding: an exception other than facerec::Error escaped: %s\n", e.what());
    std::abort();
  }
}

}  // namespace facerec::fuzz
