#pragma once
// facerec::FaceService — the gallery and the face pipeline over HTTP/JSON (cpp-httplib).
//
// What it represents: one gallery (any store URL, any index) served to many clients: people
// (create, list, show, delete), faces added by image upload, 1:N identification with "unknown"
// as an answer, 1:1 verification (image vs image, image vs person), optionally with a liveness
// (presentation-attack) check of the faces, health and version, an OpenAPI 3.1 document
// (GET /openapi.json, src/service/openapi.json) that describes exactly these routes and their
// responses, and the web console (GET /, the files of web/), served from the library itself under
// a strict Content-Security-Policy.
//
// Requests need an API key in the X-API-Key header (except /v1/health, the document and the
// console's files), bodies
// are limited in bytes and images in pixels, and every error is JSON
// {"error": {"status": 422, "code": "bad_image", "message": "..."}} with a fitting HTTP status.
// Nothing is stored when a request fails. Limits hold before memory is spent: a body is refused
// (413) from its Content-Length, or while it arrives (chunked), never after buffering it; an image
// from its header before decoding (413), in every accepted format (decode_image); images are
// decoded only under one of the `pipelines`, which bounds decoding memory; the detector's work per
// image is bounded (DetectorOptions::max_tiles, max_faces).
//
// Thread safety: the service runs `http_threads` connection threads and `pipelines` face
// pipelines (one FaceAnalyzer each, handed out per request); the Gallery is shared (it is
// thread-safe). bind/serve/stop may be called from different threads; stop() ends serve().
#include <facerec/analyzer.hpp>
#include <facerec/gallery/gallery.hpp>
#include <facerec/liveness.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace facerec {

struct ServiceOptions {
  std::string gallery;  // store URL (SQLite path or postgresql://...)
  GalleryOptions gallery_options;
  AnalyzerOptions analyzer;
  // The models; null: Manifest::load_default(). Loaded once, shared by every pipeline.
  std::shared_ptr<const Manifest> manifest;
  std::vector<std::string> api_keys;  // accepted X-API-Key values
  bool allow_anonymous = false;       // serve without keys (only when no key is configured)
  size_t max_body_bytes = 10u << 20;  // larger requests get 413
  int64_t max_pixels = 40'000'000;    // larger images get 413
  // Connections are served by http_threads threads; one that sends its request head slower than
  // head_timeout_s (or more than 64 KiB of it) is answered 408 (431) and closed, so stalled
  // clients hold a thread for at most that long. Compressed bodies (Content-Encoding) get 415.
  int http_threads = 32;
  double head_timeout_s = 10;
  int max_faces = 100;                       // faces analysed per image (the highest-scoring), when analyzer sets none
  int pipelines = 2;                         // concurrent face pipelines (CPU bound: about the cores)
  std::string operating_point = "fmr_1e-3";  // known/unknown and same/different decisions
  bool keep_crops = true;                    // store face crops so the gallery can be re-embedded
  // Faces added below this quality score are refused (422 low_quality, with the quality) unless the
  // request says ?force=true; negative: the quality model's floor (quality.hpp).
  double min_quality = -1;
  // Presentation-attack detection in identify and verify responses: a "liveness" field per face
  // (score, live, threshold, model). Off by default; a request's ?liveness=true|false overrides.
  // With liveness on, the model must be imported and calibrated (construction throws otherwise);
  // with it off, a request asking for it when the model is unavailable gets 400 liveness_unavailable.
  bool liveness = false;
  LivenessOptions liveness_options;
  std::function<void(const std::string&)> log;
};

class FaceService {
 public:
  // Opens the gallery and loads the models. Throws Error(InvalidArgument) when no API key is
  // configured and allow_anonymous is false, and what make_liveness_checker and
  // LivenessChecker::threshold() throw when liveness is on but its model is missing or uncalibrated.
  explicit FaceService(ServiceOptions options);
  ~FaceService();
  FaceService(const FaceService&) = delete;
  FaceService& operator=(const FaceService&) = delete;

  // Binds host:port (0 = any free port); returns the port. Throws Error(Io) when it cannot bind.
  int bind(const std::string& host, int port);
  // Serves until stop(). Requires bind().
  void serve();
  void stop();

  // The OpenAPI 3.1 document of the routes above (the bytes served at /openapi.json).
  static std::string openapi();
  // Every route the service registers, as (method in lower case, path in OpenAPI form with {id}):
  // what openapi() must document, no more and no less.
  static std::vector<std::pair<std::string, std::string>> routes();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace facerec
