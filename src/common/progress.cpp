#include "common/progress.hpp"

#include <cstdio>

namespace facerec::detail {

Progress::Progress(std::string label, int64_t total, bool enabled)
    : label_(std::move(label)),
      total_(total),
      enabled_(enabled),
      start_(std::chrono::steady_clock::now()),
      last_(start_) {}

void Progress::tick(int64_t n) {
  done_ += n;
  auto now = std::chrono::steady_clock::now();
  if (now - last_ > std::chrono::milliseconds(500)) {
    last_ = now;
    print(false);
  }
}

void Progress::finish() { print(true); }

void Progress::print(bool final_line) {
  if (!enabled_) return;
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  double rate = secs > 0 ? double(done_) / secs : 0.0;
  double eta = rate > 0 ? double(total_ - done_) / rate : 0.0;
  std::fprintf(stderr, "\r%s  %lld/%lld  %.1f/s  ETA %.0fs   %s", label_.c_str(), static_cast<long long>(done_),
               static_cast<long long>(total_), rate, eta, final_line ? "\n" : "");
  std::fflush(stderr);
}

}  // namespace facerec::detail
