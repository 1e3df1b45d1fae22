#pragma once
// Helpers shared by the tests: paths of the source tree, the model cache and ../shared.
#include <facerec/backend.hpp>
#include <facerec/error.hpp>
#include <facerec/models.hpp>

#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

namespace facerec::test {

// How far a backend's output may be from the reference backend's, element by element, for outputs
// whose largest |value| is `magnitude`: fp32 backends within 1e-4 (absolute); bf16 ones (inputs
// and weights rounded to 8 significant bits, fp32 accumulation) within 2e-2 of max(1, magnitude).
inline double backend_tolerance(const InferenceBackend& net, double magnitude) {
  return net.precision() == Precision::BF16 ? 2e-2 * std::max(1.0, magnitude) : 1e-4;
}
// An fp32 test's tolerance `fp32`, or for a bf16 backend backend_tolerance on values up to `magnitude`.
inline double tolerance_for(const InferenceBackend& net, double fp32, double magnitude) {
  return net.precision() == Precision::BF16 ? backend_tolerance(net, magnitude) : fp32;
}
inline double max_abs(const std::vector<float>& v) {
  double m = 0;
  for (float x : v) m = std::max(m, double(std::abs(x)));
  return m;
}

inline std::filesystem::path source_dir() { return FACEREC_SOURCE_DIR; }

// ../shared beside the repository (FACEREC_SHARED overrides).
inline std::filesystem::path shared_dir() {
  if (const char* p = std::getenv("FACEREC_SHARED"); p && *p) return p;
  return source_dir().parent_path() / "shared";
}

// The source tree's model manifest, loaded once for the whole test run.
inline const Manifest& manifest() {
  static const Manifest m = Manifest::load(source_dir() / "models" / "manifest.json");
  return m;
}

// A fresh temporary directory for one test.
inline std::filesystem::path temp_dir(const std::string& name) {
  auto d = std::filesystem::temp_directory_path() / ("facerec-test-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d;
}

// Success only when `f` throws a facerec::Error of `kind` whose message contains `text` (when given):
// nothing thrown, another kind or another exception type fail with what happened instead.
inline ::testing::AssertionResult throws_error(const std::function<void()>& f, ErrorKind kind,
                                               std::string_view text = {}) {
  try {
    f();
  } catch (const Error& e) {
    if (e.kind() != kind)
      return ::testing::AssertionFailure()
             << "threw " << to_string(e.kind()) << " (" << e.what() << "), expected " << to_string(kind);
    if (!text.empty() && std::string_view(e.what()).find(text) == std::string_view::npos)
      return ::testing::AssertionFailure() << "message \"" << e.what() << "\" does not mention \"" << text << "\"";
    return ::testing::AssertionSuccess();
  } catch (const std::exception& e) {
    return ::testing::AssertionFailure() << "threw a non-facerec exception: " << e.what();
  }
  return ::testing::AssertionFailure() << "threw nothing, expected " << to_string(kind);
}

// The kind of the facerec::Error `f` throws; a test failure (and Internal) when it throws none.
inline ErrorKind kind_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.kind();
  }
  ADD_FAILURE() << "no facerec::Error thrown";
  return ErrorKind::Internal;
}

}  // namespace facerec::test

// EXPECT_ERROR(statement, ErrorKind::X[, "text in the message"])
#define EXPECT_ERROR(statement, ...) EXPECT_TRUE(::facerec::test::throws_error([&] { statement; }, __VA_ARGS__))
