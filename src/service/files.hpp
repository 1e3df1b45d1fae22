#pragma once
// Files served by the REST service from its own binary (embedded at build time by
// cmake/embed_files.cmake from src/service/openapi.json and web/): the OpenAPI document and the
// web console. Read-only, so thread-safe.
#include <string_view>
#include <vector>

namespace facerec::detail {

struct EmbeddedFile {
  std::string_view url;           // the path it is served at, e.g. "/console/console.js"
  std::string_view content_type;  // e.g. "text/javascript; charset=utf-8"
  std::string_view bytes;
};

// Every embedded file, in the order src/CMakeLists.txt lists them.
const std::vector<EmbeddedFile>& service_files();

}  // namespace facerec::detail
