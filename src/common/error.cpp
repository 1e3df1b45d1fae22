#include <facerec/error.hpp>

namespace facerec {

const char* to_string(ErrorKind kind) noexcept {
  switch (kind) {
    case ErrorKind::InvalidArgument:
      return "invalid argument";
    case ErrorKind::BadInput:
      return "bad input";
    case ErrorKind::NotFound:
      return "not found";
    case ErrorKind::BadModel:
      return "bad model";
    case ErrorKind::Unsupported:
      return "unsupported";
    case ErrorKind::Io:
      return "i/o error";
    case ErrorKind::External:
      return "external tool failed";
    case ErrorKind::Internal:
      return "internal error";
    case ErrorKind::AlreadyExists:
      return "already exists";
  }
  return "error";
}

}  // namespace facerec
