#pragma once
// The plans of an interpreting backend (onednn, xnnpack): one per set of input shapes, built by a
// trace of the graph on the first run at those shapes and replayed after. A plain member of one
// backend instance: not safe for concurrent use (as the instance).
#include <facerec/tensor.hpp>

#include <map>
#include <memory>
#include <vector>

namespace facerec::detail {

template <class Plan>
class PlanCache {
 public:
  static constexpr size_t kMaxPlans = 8;  // a caller cycling through many batch sizes starts over

  // Runs `batch`: replays the plan made for its input shapes, or makes one with `trace` (which
  // builds the plan and runs it). Returns the plan that ran; `trace` and `replay` take (Plan&).
  template <class Trace, class Replay>
  Plan& run(const std::vector<Tensor>& batch, Trace&& trace, Replay&& replay) {
    std::vector<std::vector<int64_t>> key;
    for (const auto& t : batch) key.push_back(t.shape);
    if (auto it = plans_.find(key); it != plans_.end()) {
      replay(*it->second);
      return *it->second;
    }
    if (plans_.size() >= kMaxPlans) plans_.clear();
    auto plan = std::make_unique<Plan>();
    trace(*plan);
    return *(plans_[key] = std::move(plan));
  }

  void clear() { plans_.clear(); }

 private:
  std::map<std::vector<std::vector<int64_t>>, std::unique_ptr<Plan>> plans_;
};

}  // namespace facerec::detail
