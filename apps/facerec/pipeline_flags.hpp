#pragma once
// The pipeline flags every command that runs the face pipeline takes (detect, embed, compare,
// enroll, identify, reembed, serve, eval): one definition, so they cannot drift apart.
#include "commands.hpp"

#include <facerec/analyzer.hpp>
#include <facerec/detect.hpp>
#include <facerec/embed.hpp>
#include <facerec/landmarks.hpp>

#include <CLI/CLI.hpp>

#include <string>

namespace facerec::cli {

struct PipelineFlags {
  AnalyzerOptions o;  // the library's defaults, changed by the flags
  std::string backend = o.detector.backend, profile;
  int threads = o.detector.threads;
  const CLI::App* app_ = nullptr;  // to tell the flags given from the defaults (a profile fills the rest)
  // Adds --profile, --detector, --landmarker, --backend, --threads, --min-face, --score,
  // --verifier, --verify-threshold, and with_embedder: --embedder, --flip/--no-flip, --zoom/--no-zoom.
  void add(CLI::App* app, bool with_embedder) {
    app_ = app;
    app->add_option("--profile", profile,
                    "Speed profile: accurate | balanced | edge (README: Profiles); the other pipeline flags given "
                    "beside it override what they name")
        ->check(CLI::IsMember(analyzer_profiles()));
    app->add_option("--detector", o.detector.model,
                    "Detector model: blazeface | blazeface-front | faceboxes | mtcnn-pnet (MTCNN, five landmarks), or "
                    "two joined by '+' (the second adds the faces the first missed), or a cascade a>b[>c] (b only "
                    "on photos where a found no portrait face)")
        ->capture_default_str();
    app->add_option("--landmarker", o.landmarker.model,
                    "68-point landmark model, or 'none' for the detector's keypoints")
        ->capture_default_str();
    app->add_option("--backend", backend, backend_help())->capture_default_str();
    app->add_option("--threads", threads, "Threads per network (0: runtime default)")->capture_default_str();
    app->add_option("--min-face", o.detector.min_face, "Smallest face to look for, in pixels")
        ->capture_default_str()
        ->check(CLI::Range(8, 4096));
    app->add_option("--score", o.detector.score_threshold, "Detection score threshold")
        ->capture_default_str()
        ->check(CLI::Range(0.0, 1.0));
    app->add_option("--verifier", o.detector.verifier, "Face-presence model checking each detection, or 'none'")
        ->capture_default_str();
    app->add_option("--verify-threshold", o.detector.verify_threshold, "Minimum face-presence score")
        ->capture_default_str()
        ->check(CLI::Range(0.0, 1.0));
    if (with_embedder) {
      app->add_option("--embedder", o.embedder.model, "Embedding model")->capture_default_str();
      app->add_flag("--flip,!--no-flip", o.embedder.flip,
                    "Flip test-time augmentation: face + mirror image (default: on)");
      app->add_flag("--zoom,!--no-zoom", o.embedder.zoom,
                    "Zoom test-time augmentation: + the crop zoomed in by 1.5/1.4 (default: off; doubles embedding "
                    "time; helps the dlib ResNet alone)");
    }
  }
  AnalyzerOptions options() const {
    AnalyzerOptions out = o;
    std::string be = backend;
    int th = threads;
    if (!profile.empty()) {  // the profile, except where a flag was given
      const AnalyzerOptions p = analyzer_profile(profile);
      auto given = [&](const char* flag) { return app_ && app_->count(flag) > 0; };
      if (!given("--detector")) out.detector.model = p.detector.model;
      if (!given("--min-face")) out.detector.min_face = p.detector.min_face;
      if (!given("--score")) out.detector.score_threshold = p.detector.score_threshold;
      if (!given("--verifier")) out.detector.verifier = p.detector.verifier;
      if (!given("--verify-threshold")) out.detector.verify_threshold = p.detector.verify_threshold;
      out.detector.close_range_model = p.detector.close_range_model;
      out.detector.max_tiles = p.detector.max_tiles;
      if (!given("--landmarker")) out.landmarker = p.landmarker;
      out.landmarker.passes = p.landmarker.passes;
      out.landmarker.flip = p.landmarker.flip;
      if (app_ && app_->get_option_no_throw("--embedder")) {
        if (!given("--embedder")) out.embedder.model = p.embedder.model;
        if (!given("--flip")) out.embedder.flip = p.embedder.flip;
        if (!given("--zoom")) out.embedder.zoom = p.embedder.zoom;
      }
      if (!given("--backend")) be = p.detector.backend;
      if (!given("--threads")) th = p.detector.threads;
    }
    out.detector.backend = out.landmarker.backend = out.embedder.backend = be;
    out.detector.threads = out.landmarker.threads = out.embedder.threads = th;
    return out;
  }
};

}  // namespace facerec::cli
