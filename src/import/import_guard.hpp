#pragma once
// One rule for every importer: a model file from outside that the importer's parsers reject —
// a JSON key missing or of the wrong type, a number out of range — is a BadModel error naming the
// file, never another exception.
#include <facerec/error.hpp>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <stdexcept>

namespace facerec::detail {

template <class F>
auto guard_import(const std::filesystem::path& file, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const Error&) {
    throw;
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorKind::BadModel, file.string() + ": malformed model description: " + e.what());
  } catch (const std::logic_error& e) {  // out_of_range, invalid_argument (number parsing), length_error
    throw Error(ErrorKind::BadModel, file.string() + ": malformed model: " + e.what());
  } catch (const std::bad_alloc&) {
    throw Error(ErrorKind::BadModel, file.string() + ": the model declares more data than can be held");
  }
}

}  // namespace facerec::detail
