// The REST service: routes, API keys, limits, JSON errors, a pool of face pipelines.
#include "common/decimal.hpp"
#include "common/sha256.hpp"
#include "service/files.hpp"
#include "service/guarded_server.hpp"

#include <facerec/error.hpp>
#include <facerec/gallery/enrol.hpp>
#include <facerec/gallery/index.hpp>
#include <facerec/image.hpp>
#include <facerec/service/service.hpp>
#include <facerec/version.hpp>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <mutex>

namespace facerec {
namespace {

using Json = nlohmann::json;

// An error with its HTTP status, a stable machine-readable code, and details for the error body.
struct HttpError : std::runtime_error {
  int status;
  std::string code;
  nlohmann::json details;  // an object whose members join the error body's "error" object
  HttpError(int s, std::string c, const std::string& message, nlohmann::json d = nullptr)
      : std::runtime_error(message), status(s), code(std::move(c)), details(std::move(d)) {}
};

constexpr int kMaxJsonDepth = 32;               // request bodies and metadata: deeper is refused
constexpr size_t kMaxMetadataBytes = 16 << 10;  // a person's metadata, as stored

// Every response body goes through here: bytes that are not UTF-8 (from paths, ids, names in
// error messages) are replaced, never an exception.
std::string dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

// The web console's page: scripts and styles from this server only, no inline script, images from
// this server or the blob: URLs of photos the user picked, calls to this server only.
constexpr const char* kConsolePolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
// Everything else is data, never a document to render.
constexpr const char* kDataPolicy = "default-src 'none'; frame-ancestors 'none'";

// Headers of every response: never sniffed into another type, no referrer leaves the console, and
// the content policy (`policy`) of what it is.
void protect(httplib::Response& res, const char* policy = kDataPolicy) {
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("Referrer-Policy", "no-referrer");
  res.set_header("Content-Security-Policy", policy);
}

void send_error(httplib::Response& res, int status, const std::string& code, const std::string& message,
                const Json& details = nullptr) {
  protect(res);
  res.status = status;
  if (details.is_object()) {
    Json j{{"error", {{"status", status}, {"code", code}, {"message", message}}}};
    for (const auto& [k, v] : details.items()) j["error"][k] = v;
    res.set_content(j.dump(-1, ' ', false, Json::error_handler_t::replace), "application/json");
  } else {
    res.set_content(detail::GuardedServer::error_json(status, code, message), "application/json");
  }
}

void send_json(httplib::Response& res, const Json& j, int status = 200) {
  protect(res);
  res.status = status;
  res.set_content(dump(j), "application/json");
}

// JSON with its nesting bounded (a deep document would exhaust the stack of anything that walks
// it recursively). Throws Json::exception for invalid JSON, HttpError 400 when too deep.
Json parse_bounded(const std::string& text) {
  return Json::parse(text, [](int depth, Json::parse_event_t, Json&) {
    if (depth > kMaxJsonDepth)
      throw HttpError(400, "bad_json", "JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    return true;
  });
}

// Constant-time comparison, so response times do not reveal how much of a key matched.
bool same_key(const std::string& a, const std::string& b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i % (b.empty() ? 1 : b.size())]);
  return diff == 0 && !b.empty();
}

Json metadata_json(const std::string& m) {
  if (m.empty()) return nullptr;
  try {
    return parse_bounded(m);
  } catch (const std::exception&) {
    return m;  // free text (or JSON too deep to hand out as JSON)
  }
}

Json person_json(const Identity& i) {
  return {{"id", i.id}, {"name", i.name}, {"metadata", metadata_json(i.metadata)}, {"templates", i.templates}};
}

Json box_json(const Face& f) {
  const auto& b = f.detection.box;
  return {{"x", b.x}, {"y", b.y}, {"width", b.width}, {"height", b.height}};
}

// A face's quality: the score, its components and the measurements (FaceQuality::fields).
Json quality_json(const FaceQuality& q) {
  Json j = Json::object();
  for (const auto& [k, v] : q.fields()) j[k] = v;
  return j;
}

// A boolean query parameter: absent -> `dflt`; true|1 / false|0; anything else is a 400.
bool flag_param(const httplib::Request& req, const std::string& name, bool dflt) {
  if (!req.has_param(name)) return dflt;
  const std::string v = req.get_param_value(name);
  if (v == "true" || v == "1") return true;
  if (v == "false" || v == "0") return false;
  throw HttpError(400, "bad_request", name + " must be true or false");
}

// Whether `text` contains `part`, ignoring the case of ASCII letters (names are UTF-8 otherwise).
bool contains_ignoring_case(const std::string& text, const std::string& part) {
  auto lower = [](unsigned char c) { return char(std::tolower(c)); };
  return std::search(text.begin(), text.end(), part.begin(), part.end(),
                     [&](char a, char b) { return lower(a) == lower(b); }) != text.end();
}

// The embedded file served at `url`, or null.
const detail::EmbeddedFile* served_file(const std::string& url) {
  for (const auto& f : detail::service_files())
    if (f.url == url) return &f;
  return nullptr;
}

int64_t parse_id(const std::string& s) {
  auto id = detail::parse_decimal(s);
  if (!id) throw HttpError(400, "bad_id", "'" + s + "' is not a person id");
  return *id;
}

// One face pipeline: an analyzer and, when the liveness model is available, a liveness checker.
struct Pipeline {
  std::unique_ptr<FaceAnalyzer> fa;
  std::unique_ptr<LivenessChecker> live;  // null: no liveness model
};

// A fixed set of face pipelines handed out one request at a time.
class PipelinePool {
 public:
  // `live` (may be null) is cloned into every pipeline.
  PipelinePool(const Manifest& manifest, const AnalyzerOptions& o, const LivenessChecker* live, int n) {
    for (int i = 0; i < n; ++i) {
      Pipeline p;
      p.fa = std::make_unique<FaceAnalyzer>(i == 0 ? FaceAnalyzer(manifest, o) : free_[0].fa->clone());
      if (live) p.live = live->clone();
      free_.push_back(std::move(p));
    }
  }
  struct Lease {
    PipelinePool* pool;
    Pipeline p;
    ~Lease() {
      std::lock_guard l(pool->mu_);
      pool->free_.push_back(std::move(p));
      pool->cv_.notify_one();
    }
    FaceAnalyzer* operator->() { return p.fa.get(); }
    FaceAnalyzer& operator*() { return *p.fa; }
    LivenessChecker* liveness() { return p.live.get(); }
  };
  Lease acquire() {
    std::unique_lock l(mu_);
    cv_.wait(l, [&] { return !free_.empty(); });
    auto p = std::move(free_.back());
    free_.pop_back();
    return Lease{this, std::move(p)};
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Pipeline> free_;
};

Json liveness_json(const LivenessResult& r, const std::string& model) {
  return {{"score", r.score}, {"live", r.live}, {"threshold", r.threshold}, {"model", model}};
}

}  // namespace

struct FaceService::Impl {
  ServiceOptions opt;
  std::unique_ptr<Gallery> gallery;
  std::unique_ptr<PipelinePool> pipelines;
  std::string model;
  double threshold = 0;
  std::string liveness_model;        // empty: no liveness model loaded
  std::string liveness_unavailable;  // why, when none is loaded
  std::unique_ptr<detail::GuardedServer> server;
  std::atomic<int64_t> requests{0};
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();

  void log(const std::string& s) const {
    if (opt.log) opt.log(s);
  }

  // The image of a request: a multipart file field, or the raw body.
  std::string image_bytes(const httplib::Request& req, const std::string& field) const {
    if (req.is_multipart_form_data()) {
      if (!req.has_file(field)) throw HttpError(400, "missing_image", "multipart field '" + field + "' is missing");
      return req.get_file_value(field).content;
    }
    if (req.body.empty()) throw HttpError(400, "missing_image", "the request has no image (send it as the body)");
    return req.body;
  }

  // Requires a pipeline lease (decoding is bounded by the pipelines, so is its memory).
  cv::Mat decode(const std::string& bytes) const {
    int w = 0, h = 0;
    if (probe_image_size(bytes, w, h) && int64_t(w) * h > opt.max_pixels)
      throw HttpError(413, "image_too_large",
                      "image is " + std::to_string(w) + "x" + std::to_string(h) + " pixels; the limit is " +
                          std::to_string(opt.max_pixels));
    ImageLimits limits;
    limits.max_pixels = opt.max_pixels;
    limits.max_file_bytes = int64_t(opt.max_body_bytes);
    return decode_image_bytes(bytes, limits).bgr;  // Error(BadInput): unsupported, corrupt, truncated -> 422
  }

  // Whether this request gets liveness checks: ?liveness=true|false, else the server's setting.
  bool wants_liveness(const httplib::Request& req) const {
    bool on = flag_param(req, "liveness", opt.liveness);
    if (on && liveness_model.empty())
      throw HttpError(400, "liveness_unavailable", "this service has no liveness model: " + liveness_unavailable);
    return on;
  }

  Identity person(int64_t id) {
    auto p = gallery->get(id);
    if (!p) throw HttpError(404, "no_person", "no person with id " + std::to_string(id));
    return *p;
  }

  // ---- handlers ----
  void version(const httplib::Request&, httplib::Response& res) {
    send_json(res,
              {{"facerec", facerec::version()},
               {"embedder", model},
               {"operating_point", opt.operating_point},
               {"threshold", threshold},
               {"index", gallery->index_description()},
               {"templates", gallery->size()},
               {"pipelines", opt.pipelines},
               {"liveness",
                {{"default", opt.liveness}, {"model", liveness_model.empty() ? Json(nullptr) : Json(liveness_model)}}},
               {"blas", blas_description()}});
  }

  // A page of people by name: ?offset=0&limit=1000 (limit at most 10000).
  void list_people(const httplib::Request& req, httplib::Response& res) {
    auto param = [&](const char* name, long dflt, long lo, long hi) {
      if (!req.has_param(name)) return dflt;
      long v = -1;
      try {
        size_t used = 0;
        std::string text = req.get_param_value(name);
        v = std::stol(text, &used);
        if (used != text.size()) v = -1;
      } catch (const std::exception&) {
        v = -1;
      }
      if (v < lo || v > hi)
        throw HttpError(400, "bad_request",
                        std::string(name) + " must be an integer in " + std::to_string(lo) + ".." + std::to_string(hi));
      return v;
    };
    long offset = param("offset", 0, 0, 1L << 40), limit = param("limit", 1000, 1, 10000);
    const std::string name = req.has_param("name") ? req.get_param_value("name") : std::string();
    if (name.size() > 512) throw HttpError(400, "bad_request", "name is at most 512 bytes");
    auto all = gallery->list();
    if (!name.empty())
      all.erase(std::remove_if(all.begin(), all.end(),
                               [&](const Identity& i) { return !contains_ignoring_case(i.name, name); }),
                all.end());
    Json arr = Json::array();
    for (size_t i = size_t(offset); i < all.size() && arr.size() < size_t(limit); ++i)
      arr.push_back(person_json(all[i]));
    Json out{{"people", arr}, {"total", all.size()}, {"offset", offset}, {"limit", limit}};
    if (!name.empty()) out["name"] = name;
    send_json(res, out);
  }

  void create_person(const httplib::Request& req, httplib::Response& res) {
    Json j;
    try {
      j = parse_bounded(req.body);
    } catch (const Json::exception& e) {
      throw HttpError(400, "bad_json", std::string("request body is not valid JSON: ") + e.what());
    }
    if (!j.is_object() || !j.contains("name") || !j["name"].is_string() || j["name"].get<std::string>().empty())
      throw HttpError(400, "bad_request", "expected {\"name\": \"...\", \"metadata\": ...} with a non-empty name");
    std::string name = j["name"];
    if (name.size() > 512) throw HttpError(400, "bad_request", "a name is at most 512 bytes");
    std::string meta;
    if (j.contains("metadata") && !j["metadata"].is_null())
      meta = j["metadata"].is_string() ? j["metadata"].get<std::string>() : dump(j["metadata"]);
    if (meta.size() > kMaxMetadataBytes)
      throw HttpError(400, "bad_request", "metadata is at most " + std::to_string(kMaxMetadataBytes) + " bytes");
    int64_t id = gallery->create(name, meta);
    res.set_header("Location", "/v1/people/" + std::to_string(id));
    send_json(res, person_json(Identity{id, name, meta, 0}), 201);
  }

  void get_person(const httplib::Request& req, httplib::Response& res) {
    send_json(res, person_json(person(parse_id(req.matches[1].str()))));
  }

  void delete_person(const httplib::Request& req, httplib::Response& res) {
    int64_t id = parse_id(req.matches[1].str());
    if (!gallery->remove(id)) throw HttpError(404, "no_person", "no person with id " + std::to_string(id));
    send_json(res, {{"deleted", id}});
  }

  void add_face(const httplib::Request& req, httplib::Response& res) {
    Identity p = person(parse_id(req.matches[1].str()));
    const bool force = flag_param(req, "force", false);
    std::string bytes = image_bytes(req, "image");
    std::string note;
    double floor = 0;
    std::optional<Template> t;
    Face face;
    {
      auto fa = pipelines->acquire();
      t = template_from_image(*fa, decode(bytes), detail::sha256_hex(bytes), opt.keep_crops, &note, &face);
      floor = opt.min_quality >= 0 ? opt.min_quality : fa->quality_model().floor;
    }
    if (!t) throw HttpError(422, "no_face", "no face found in the image; nothing stored");
    if (auto why = enrol_refusal(face, floor); !why.empty() && !force)
      throw HttpError(422, "low_quality", why + " (?force=true); nothing stored",
                      {{"quality", quality_json(face.quality)}, {"floor", floor}});
    try {
      gallery->add_faces(p.id, {*t});  // fails when the person was deleted meanwhile
    } catch (const Error& e) {
      if (e.kind() == ErrorKind::NotFound)
        throw HttpError(404, "no_person", "person " + std::to_string(p.id) + " was deleted; nothing stored");
      throw;
    }
    Json out{
        {"person", person_json(person(p.id))},
        {"quality", t->quality},
        {"face", {{"box", box_json(face)}, {"score", face.detection.score}, {"quality", quality_json(face.quality)}}}};
    if (!note.empty()) out["note"] = note;
    send_json(res, out, 201);
  }

  void identify(const httplib::Request& req, httplib::Response& res) {
    int top = 3;
    if (req.has_param("top")) {
      try {
        top = std::stoi(req.get_param_value("top"));
      } catch (const std::exception&) {
        top = -1;
      }
      if (top < 1 || top > 100) throw HttpError(400, "bad_request", "top must be an integer in 1..100");
    }
    const bool live = wants_liveness(req);
    std::string bytes = image_bytes(req, "image");
    std::vector<Face> faces;
    std::vector<LivenessResult> liveness;
    {
      auto fa = pipelines->acquire();
      cv::Mat bgr = decode(bytes);
      faces = fa->analyze(bgr, true);
      if (live)
        for (const auto& f : faces) liveness.push_back(fa.liveness()->check(bgr, f.detection.box));
    }
    Json jf = Json::array();
    for (size_t i = 0; i < faces.size(); ++i) {
      const Face& f = faces[i];
      auto who = gallery->identify(f.embedding, model, top, threshold);
      auto candidate = [](const Candidate& c) {
        return Json{{"id", c.identity_id}, {"name", c.name}, {"similarity", c.similarity}};
      };
      Json jc = Json::array();
      for (const auto& c : who.candidates) jc.push_back(candidate(c));
      jf.push_back({{"box", box_json(f)},
                    {"score", f.detection.score},
                    {"quality", quality_json(f.quality)},
                    {"identity", who.identity ? candidate(*who.identity) : Json(nullptr)},
                    {"candidates", jc}});
      if (live) jf.back()["liveness"] = liveness_json(liveness[i], liveness_model);
    }
    send_json(res,
              {{"faces", jf}, {"model", model}, {"threshold", threshold}, {"operating_point", opt.operating_point}});
  }

  void verify(const httplib::Request& req, httplib::Response& res) {
    std::string person_field;
    if (req.has_param("person"))
      person_field = req.get_param_value("person");
    else if (req.is_multipart_form_data() && req.has_file("person"))
      person_field = req.get_file_value("person").content;
    const bool live = wants_liveness(req);
    std::string bytes_a = image_bytes(req, "a");
    std::optional<Template> ta, tb;
    std::optional<float> sim;
    Json target, liveness;
    // the template of an image's largest face, with its liveness check when asked for
    auto template_of = [&](PipelinePool::Lease& fa, const std::string& bytes, const char* which) {
      cv::Mat bgr = decode(bytes);
      Face face;
      auto t = template_from_image(*fa, bgr, "", false, nullptr, &face);
      if (t && live) liveness[which] = liveness_json(fa.liveness()->check(bgr, face.detection.box), liveness_model);
      return t;
    };
    if (!person_field.empty()) {
      Identity p = person(parse_id(person_field));
      {
        auto fa = pipelines->acquire();
        ta = template_of(fa, bytes_a, "a");
      }
      if (!ta) throw HttpError(422, "no_face", "no face found in image a");
      sim = gallery->best_similarity(p.id, ta->embedding, model);
      if (!sim) throw HttpError(422, "no_templates", "person " + std::to_string(p.id) + " has no enrolled face");
      target = person_json(p);
    } else {
      std::string bytes_b = image_bytes(req, "b");
      {
        auto fa = pipelines->acquire();
        ta = template_of(fa, bytes_a, "a");
        if (ta) tb = template_of(fa, bytes_b, "b");
      }
      if (!ta) throw HttpError(422, "no_face", "no face found in image a");
      if (!tb) throw HttpError(422, "no_face", "no face found in image b");
      sim = FaceAnalyzer::cosine(ta->embedding, tb->embedding);
      target = "image b";
    }
    Json out{{"similarity", *sim},     {"same", *sim >= threshold},
             {"threshold", threshold}, {"operating_point", opt.operating_point},
             {"model", model},         {"against", target}};
    if (live) out["liveness"] = liveness;
    send_json(res, out);
  }

  using Method = void (Impl::*)(const httplib::Request&, httplib::Response&);
  httplib::Server::Handler wrap(Method m) {
    return [this, m](const httplib::Request& req, httplib::Response& res) {
      ++requests;
      try {
        (this->*m)(req, res);
      } catch (const HttpError& e) {
        send_error(res, e.status, e.code, e.what(), e.details);
      } catch (const Error& e) {
        switch (e.kind()) {
          case ErrorKind::InvalidArgument:
            send_error(res, 400, "invalid_argument", e.what());
            break;
          case ErrorKind::BadInput:
            send_error(res, 422, "bad_image", e.what());
            break;
          case ErrorKind::NotFound:
            send_error(res, 404, "not_found", e.what());
            break;
          case ErrorKind::AlreadyExists:
            send_error(res, 409, "already_exists", e.what());
            break;
          default:
            log(std::string("error: ") + e.what());
            send_error(res, 500, "internal", e.what());
        }
      } catch (const std::exception& e) {
        log(std::string("error: ") + e.what());
        send_error(res, 500, "internal", e.what());
      }
    };
  }

  struct Route {
    std::string method;  // lower case, as OpenAPI names operations
    std::string path;    // OpenAPI form: {id} for a path parameter
    Method handler;
  };
  // Every keyed route, registered from here and listed by FaceService::routes().
  static inline const std::vector<Route> kRoutes = {
      {"get", "/v1/version", &Impl::version},
      {"get", "/v1/people", &Impl::list_people},
      {"post", "/v1/people", &Impl::create_person},
      {"get", "/v1/people/{id}", &Impl::get_person},
      {"delete", "/v1/people/{id}", &Impl::delete_person},
      {"post", "/v1/people/{id}/faces", &Impl::add_face},
      {"post", "/v1/identify", &Impl::identify},
      {"post", "/v1/verify", &Impl::verify},
  };

  void routes() {
    server->Get("/v1/health", [](const httplib::Request&, httplib::Response& res) {
      send_json(res, {{"status", "ok"}});
    });
    for (const auto& f : detail::service_files()) {
      std::string pattern;  // the path as a regular expression
      for (char c : f.url) pattern += (c == '.' ? std::string("\\.") : std::string(1, c));
      server->Get(pattern, [&f](const httplib::Request&, httplib::Response& res) {
        protect(res, f.content_type.rfind("text/html", 0) == 0 ? kConsolePolicy : kDataPolicy);
        res.set_header("Cache-Control", "no-cache");
        res.set_content(f.bytes.data(), f.bytes.size(), std::string(f.content_type).c_str());
      });
    }
    for (const auto& r : kRoutes) {
      std::string pattern = r.path;
      if (auto k = pattern.find("{id}"); k != std::string::npos) pattern.replace(k, 4, "([^/]+)");
      auto handler = wrap(r.handler);
      if (r.method == "get")
        server->Get(pattern, handler);
      else if (r.method == "post")
        server->Post(pattern, handler);
      else if (r.method == "delete")
        server->Delete(pattern, handler);
      else
        throw Error(ErrorKind::Internal, "route table: unknown method " + r.method);
    }
    // Runs after the head and before any body byte is read: refusals here cost no body.
    server->set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      auto refuse = [&](int status, const std::string& code, const std::string& message) {
        send_error(res, status, code, message);
        detail::GuardedServer::close_after_response();  // the unread body must not be taken for a request
        return httplib::Server::HandlerResponse::Handled;
      };
      std::string encoding = req.get_header_value("Content-Encoding");
      if (!encoding.empty() && encoding != "identity")
        return refuse(415, "unsupported_encoding",
                      "Content-Encoding '" + encoding.substr(0, 32) +
                          "' is not accepted: send bodies uncompressed (images are compressed already)");
      if (req.has_header("Content-Length")) {
        const std::string& cl = req.get_header_value("Content-Length");
        auto length = detail::parse_decimal(cl);
        if (!length) return refuse(400, "bad_request", "Content-Length is not a number");
        if (uint64_t(*length) > opt.max_body_bytes)
          return refuse(
              413, "body_too_large",
              "request body of " + cl + " bytes exceeds the service's limit of " + std::to_string(opt.max_body_bytes));
      }
      if (req.path == "/v1/health" || ((req.method == "GET" || req.method == "HEAD") && served_file(req.path)) ||
          opt.api_keys.empty())
        return httplib::Server::HandlerResponse::Unhandled;
      std::string key = req.get_header_value("X-API-Key");
      bool ok = false;
      for (const auto& k : opt.api_keys) ok = same_key(key, k) || ok;  // no early exit
      if (ok) return httplib::Server::HandlerResponse::Unhandled;
      return refuse(401, "unauthorized", key.empty() ? "missing X-API-Key header" : "API key not accepted");
    });
    // errors raised by the HTTP layer itself (no route, body too large, bad request) get JSON too
    server->set_error_handler(
        httplib::Server::HandlerWithResponse([](const httplib::Request& req, httplib::Response& res) {
          if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
          // an error of the HTTP layer (unparsable request line or headers, ...): what follows on
          // the connection cannot be trusted to start a request
          detail::GuardedServer::close_after_response();
          if (res.status == 404)
            send_error(res, 404, "no_route", "no route " + req.method + " " + req.path + " (see /openapi.json)");
          else if (res.status == 413 &&
                   req.get_header_value("Content-Type").find("x-www-form-urlencoded") != std::string::npos)
            send_error(res, 413, "body_too_large",
                       "form-encoded bodies are limited to 8 KiB: send images with Content-Type image/* or "
                       "application/octet-stream, or as multipart/form-data");
          else if (res.status == 413)
            send_error(res, 413, "body_too_large", "request body exceeds the service's limit");
          else
            send_error(res, res.status, "http_error", "HTTP error " + std::to_string(res.status));
          return httplib::Server::HandlerResponse::Handled;
        }));
    server->set_exception_handler([this](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
      std::string what = "unknown error";
      try {
        if (ep) std::rethrow_exception(ep);
      } catch (const std::exception& e) {
        what = e.what();
      } catch (...) {
      }
      log("error: " + what);
      send_error(res, 500, "internal", what);
    });
    // one line per request: method, path and client, escaped so that a client cannot forge lines
    server->set_logger([this](const httplib::Request& req, const httplib::Response& res) {
      log(detail::log_escape(req.method, 16) + " " + detail::log_escape(req.path) + " " + std::to_string(res.status) +
          " " + req.remote_addr);
    });
  }
};

FaceService::FaceService(ServiceOptions options) : impl_(std::make_unique<Impl>()) {
  auto& m = *impl_;
  m.opt = std::move(options);
  if (m.opt.api_keys.empty() && !m.opt.allow_anonymous)
    throw Error(ErrorKind::InvalidArgument,
                "no API key configured: give keys (X-API-Key values) or explicitly allow anonymous access");
  for (const auto& k : m.opt.api_keys)
    if (k.size() < 16) throw Error(ErrorKind::InvalidArgument, "API keys must be at least 16 characters");
  if (m.opt.analyzer.detector.max_faces == 0) m.opt.analyzer.detector.max_faces = m.opt.max_faces;
  m.gallery = std::make_unique<Gallery>(m.opt.gallery, m.opt.gallery_options);
  if (!m.opt.manifest) m.opt.manifest = std::make_shared<const Manifest>(Manifest::load_default());
  std::unique_ptr<LivenessChecker> live;
  try {
    live = make_liveness_checker(*m.opt.manifest, m.opt.liveness_options);
    live->threshold();  // calibrated, or no use
    m.liveness_model = live->model();
  } catch (const Error& e) {
    if (m.opt.liveness) throw;  // asked for: say why it cannot be
    live.reset();
    m.liveness_unavailable = e.what();
  }
  m.pipelines = std::make_unique<PipelinePool>(*m.opt.manifest, m.opt.analyzer, live.get(), m.opt.pipelines);
  {
    auto fa = m.pipelines->acquire();
    m.model = fa->template_model();
    m.threshold = fa->threshold(m.opt.operating_point);
  }
  std::string gm = m.gallery->model();
  if (!gm.empty() && gm != m.model)
    throw Error(ErrorKind::InvalidArgument, "the gallery holds " + gm + " templates but the service embeds with " +
                                                m.model + " (re-embed the gallery: facerec reembed)");
  detail::ConnectionLimits limits;
  limits.max_body_bytes = m.opt.max_body_bytes + (64u << 10);  // + chunk framing and multipart boundaries
  limits.head_timeout = std::chrono::milliseconds(int64_t(m.opt.head_timeout_s * 1000));
  m.server = std::make_unique<detail::GuardedServer>(limits, [&m](const std::string& line) { m.log(line); });
  m.server->new_task_queue = [n = std::max(1, m.opt.http_threads)] { return new httplib::ThreadPool(size_t(n)); };
  m.server->set_payload_max_length(m.opt.max_body_bytes);
  m.routes();
}

FaceService::~FaceService() { stop(); }

std::string FaceService::openapi() { return std::string(served_file("/openapi.json")->bytes); }

std::vector<std::pair<std::string, std::string>> FaceService::routes() {
  std::vector<std::pair<std::string, std::string>> out = {{"get", "/v1/health"}};
  for (const auto& f : detail::service_files()) out.emplace_back("get", std::string(f.url));
  for (const auto& r : Impl::kRoutes) out.emplace_back(r.method, r.path);
  return out;
}

int FaceService::bind(const std::string& host, int port) {
  int p = port;
  if (port == 0)
    p = impl_->server->bind_to_any_port(host);
  else if (!impl_->server->bind_to_port(host, port))
    p = -1;
  if (p <= 0) throw Error(ErrorKind::Io, "cannot listen on " + host + ":" + std::to_string(port));
  return p;
}

void FaceService::serve() { impl_->server->listen_after_bind(); }

void FaceService::stop() {
  if (impl_ && impl_->server) impl_->server->begin_stop();
}

}  // namespace facerec
