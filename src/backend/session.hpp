#pragma once
// A backend session held by a pipeline stage: copying it opens another session over the same
// loaded network (InferenceBackend::session(): shared weights where the runtime allows), so a stage
// that holds its networks this way is cloned by its copy constructor.
#include <facerec/backend.hpp>

#include <memory>

namespace facerec::detail {

class SessionPtr {
 public:
  SessionPtr() = default;
  SessionPtr(std::unique_ptr<InferenceBackend> p) : p_(std::move(p)) {}  // NOLINT: implicit on purpose
  SessionPtr(const SessionPtr& o) : p_(o.p_ ? o.p_->session() : nullptr) {}
  SessionPtr(SessionPtr&&) noexcept = default;
  SessionPtr& operator=(const SessionPtr& o) {
    if (this != &o) p_ = o.p_ ? o.p_->session() : nullptr;
    return *this;
  }
  SessionPtr& operator=(SessionPtr&&) noexcept = default;
  InferenceBackend* operator->() const { return p_.get(); }
  InferenceBackend& operator*() const { return *p_; }
  explicit operator bool() const { return bool(p_); }

 private:
  std::unique_ptr<InferenceBackend> p_;
};

}  // namespace facerec::detail
