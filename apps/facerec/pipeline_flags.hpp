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
  std::string backend = o.detector.backend;
  int threads = o.detector.threads;
  // Adds --detector, --landmarker, --backend, --threads, --min-face, --score,
  // --verifier, --verify-threshold, and with_embedder: --embedder, --flip/--no-flip, --zoom/--no-zoom.
  void add(CLI::App* app, bool with_embedder) {
    app->add_option("--detector", o.detector.model,
                    "Detector model: blazeface | blazeface-front | faceboxes | mtcnn-pnet (MTCNN, five landmarks), or "
                    "two joined by '+' (the second adds the faces the first missed)")
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
    out.detector.backend = out.landmarker.backend = out.embedder.backend = backend;
    out.detector.threads = out.landmarker.threads = out.embedder.threads = threads;
    return out;
  }
};

}  // namespace facerec::cli
