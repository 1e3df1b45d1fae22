#pragma once
// facerec::Error — the one exception type the library throws.
//
// What it represents: a failure the caller can act on (bad input, missing model, unsupported op),
// with a category so that the CLI can map it to an exit code and the service to an HTTP status.
// Thread safety: immutable after construction; safe to share.

#include <stdexcept>
#include <string>

namespace facerec {

enum class ErrorKind {
  InvalidArgument,  // the caller passed something malformed (shape, option, name)
  NotFound,         // a file, model or identity does not exist
  BadModel,         // a model file is missing pieces, truncated or inconsistent
  Unsupported,      // a valid request that this build cannot honour (op, dtype, backend)
  Io,               // reading or writing failed
  External,         // an external tool or registry failed (npm, tar)
  Internal,         // a bug: an invariant did not hold
  AlreadyExists,    // creating something whose name is taken
  BadInput,         // input data that cannot be used: an undecodable, truncated or oversized image
};

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  ErrorKind kind() const noexcept { return kind_; }

 private:
  ErrorKind kind_;
};

// Name of a kind, for logs ("invalid argument", "not found", ...).
const char* to_string(ErrorKind kind) noexcept;

}  // namespace facerec
