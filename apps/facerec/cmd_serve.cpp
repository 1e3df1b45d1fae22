// facerec serve: the REST service (see include/facerec/service.hpp and GET /openapi.json).
#include "commands.hpp"
#include "common/fs.hpp"
#include "gallery_util.hpp"

#include <facerec/error.hpp>
#include <facerec/service/service.hpp>

#include <pthread.h>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <sstream>
#include <thread>

namespace facerec::cli {
namespace {

struct ServeFlags {
  GalleryFlags g;
  std::string host = "127.0.0.1", keys_file, fmr = "1e-3";
  int port = 8080, http_threads = ServiceOptions{}.http_threads, pipelines = 2;
  double max_body_mb = 10, min_quality = -1;
  int64_t max_pixels = 40'000'000;
  bool anonymous = false, keep_crops = true, quiet = false, liveness = false;
  std::string liveness_model = LivenessOptions{}.model;
};

// Surrounding blanks (spaces, tabs, CR) are never part of a key.
std::string trim(const std::string& s) {
  const char* blank = " \t\r\v\f";
  size_t a = s.find_first_not_of(blank), b = s.find_last_not_of(blank);
  return a == std::string::npos ? std::string() : s.substr(a, b - a + 1);
}

std::vector<std::string> read_keys(const ServeFlags& f) {
  std::vector<std::string> keys;
  if (!f.keys_file.empty()) {
    std::istringstream in(detail::read_file(f.keys_file));
    for (std::string line; std::getline(in, line);) {
      line = trim(line);
      if (!line.empty() && line[0] != '#') keys.push_back(line);
    }
    if (keys.empty()) throw Error(ErrorKind::InvalidArgument, f.keys_file + " holds no API key");
  }
  if (const char* env = std::getenv("FACEREC_API_KEYS"); env && *env)
    for (auto& k : split_list(env))
      if (auto t = trim(k); !t.empty()) keys.push_back(t);
  return keys;
}

int serve(const ServeFlags& f) {
  ServiceOptions o;
  o.gallery = f.g.db;
  o.gallery_options = f.g.gallery_options();
  o.analyzer = f.g.options();
  o.manifest = std::make_shared<const Manifest>(manifest());
  o.api_keys = read_keys(f);
  o.allow_anonymous = f.anonymous;
  if (f.anonymous && !o.api_keys.empty())
    throw Error(ErrorKind::InvalidArgument, "--anonymous and API keys exclude each other");
  o.max_body_bytes = size_t(f.max_body_mb * 1024 * 1024);
  o.max_pixels = f.max_pixels;
  o.http_threads = f.http_threads;
  o.pipelines = f.pipelines;
  o.operating_point = operating_point_for_fmr(f.fmr);
  o.keep_crops = f.keep_crops;
  o.min_quality = f.min_quality;
  o.liveness = f.liveness;
  o.liveness_options.model = f.liveness_model;
  auto log_mu = std::make_shared<std::mutex>();
  bool quiet = f.quiet;
  o.log = [log_mu, quiet](const std::string& line) {
    if (quiet && line.rfind("error", 0) != 0) return;
    std::lock_guard l(*log_mu);
    std::cerr << "facerec serve: " << line << "\n";
  };
  // SIGINT / SIGTERM end serving gracefully: a thread waits for them
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  FaceService service(o);
  int port = service.bind(f.host, f.port);
  std::cerr << "facerec serve: listening on http://" << f.host << ":" << port << " (" << o.api_keys.size()
            << " API key(s)" << (f.anonymous ? ", anonymous access" : "")
            << "; OpenAPI at /openapi.json, web console at /)\n";
  std::thread waiter([&] {
    int sig = 0;
    sigwait(&set, &sig);
    std::cerr << "facerec serve: signal " << sig << ", stopping\n";
    service.stop();
  });
  service.serve();
  pthread_kill(waiter.native_handle(), SIGTERM);  // wake the waiter when serve() ended otherwise
  waiter.join();
  return kOk;
}

}  // namespace

void add_serve_command(CLI::App& app, Action* action) {
  auto* cmd = app.add_subcommand(
      "serve", "REST/JSON service: people, faces, identify, verify (OpenAPI at /openapi.json, web console at /)");
  auto f = std::make_shared<ServeFlags>();
  f->g.add(cmd, true);
  cmd->add_flag("--create", f->g.create, "Create the gallery when --db names none yet (otherwise that is an error)");
  cmd->add_option("--host", f->host, "Address to listen on")->capture_default_str();
  cmd->add_option("--port", f->port, "Port (0: any free port)")->capture_default_str()->check(CLI::Range(0, 65535));
  cmd->add_option("--api-keys", f->keys_file,
                  "File with accepted X-API-Key values, one per line (also env FACEREC_API_KEYS, comma-separated)")
      ->check(CLI::ExistingFile);
  cmd->add_flag("--anonymous", f->anonymous, "Serve without API keys (only on a trusted network)");
  cmd->add_option("--max-body-mb", f->max_body_mb, "Largest request body, MiB")
      ->capture_default_str()
      ->check(CLI::Range(0.001, 1024.0));
  cmd->add_option("--max-pixels", f->max_pixels, "Largest image, pixels")
      ->capture_default_str()
      ->check(CLI::Range(int64_t(64), int64_t(1) << 32));
  cmd->add_option("--http-threads", f->http_threads,
                  "HTTP connection threads (a stalled client holds one for at most 10 s)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--pipelines", f->pipelines, "Concurrent face pipelines (about the number of cores)")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  cmd->add_option("--fmr", f->fmr, "Operating point for known/unknown and same/different: 1e-3, 1e-4 or best")
      ->capture_default_str()
      ->check(CLI::IsMember({"1e-3", "1e-4", "best"}));
  cmd->add_flag("--keep-crops,!--no-crops", f->keep_crops, "Store face crops for re-embedding (default: on)");
  cmd->add_option("--min-quality", f->min_quality,
                  "Refuse faces added below this quality score (422 low_quality unless ?force=true; default: the "
                  "quality model's floor)")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_flag("--liveness", f->liveness,
                "Check liveness of every face in identify and verify answers by default (a request's "
                "?liveness=true|false overrides)");
  cmd->add_option("--liveness-model", f->liveness_model, "Liveness model (facerec models list)")->capture_default_str();
  cmd->add_flag("--quiet", f->quiet, "Log errors only (no access log)");
  cmd->callback([=] { *action = [=] { return serve(*f); }; });
}

}  // namespace facerec::cli
