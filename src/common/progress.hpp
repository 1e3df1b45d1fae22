#pragma once
// Progress for long work: "label  done/total  rate/s  ETA", on stderr, at most a few times a second.
#include <chrono>
#include <cstdint>
#include <string>

namespace facerec::detail {

class Progress {
 public:
  Progress(std::string label, int64_t total, bool enabled = true);
  void tick(int64_t n = 1);  // thread-compatible, not thread safe
  void finish();

 private:
  void print(bool final_line);
  std::string label_;
  int64_t total_, done_ = 0;
  bool enabled_;
  std::chrono::steady_clock::time_point start_, last_;
};

}  // namespace facerec::detail
