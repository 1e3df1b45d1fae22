#pragma once
// The pipeline flags every command that runs the face pipeline takes (detect, embed, compare,
// enroll, identify, reembed, serve, eval): one definition, so they cannot drift apart.
#include <facerec/analyzer.hpp>

#include <CLI/CLI.hpp>

#include <string>

namespace facerec::cli {

struct PipelineFlags {
  std::string detector = DetectorOptions{}.model, landmarker = LandmarkerOptions{}.model,
              embedder = EmbedderOptions{}.model;
  std::string backend = "opencv-dnn";
  int threads = 0, min_face = 20;
  float score = 0.5f, verify_threshold = 0.5f;
  std::string verifier = "facemesh";
  bool flip = true, zoom = true;

  // Adds --detector, --landmarker, --backend, --threads, --min-face, --score, --verifier,
  // --verify-threshold, and with_embedder: --embedder, --flip/--no-flip, --zoom/--no-zoom.
  void add(CLI::App* app, bool with_embedder) {
    app->add_option("--detector", detector,
                    "Detector model: blazeface | blazeface-front | faceboxes, or two joined by '+' (the second adds "
                    "the faces the first missed)")
        ->capture_default_str();
    app->add_option("--landmarker", landmarker, "68-point landmark model, or 'none' for the detector's keypoints")
        ->capture_default_str();
    app->add_option("--backend", backend, "Inference backend")->capture_default_str();
    app->add_option("--threads", threads, "Threads per network (0: runtime default)")->capture_default_str();
    app->add_option("--min-face", min_face, "Smallest face to look for, in pixels")
        ->capture_default_str()
        ->check(CLI::Range(8, 4096));
    app->add_option("--score", score, "Detection score threshold")->capture_default_str()->check(CLI::Range(0.0, 1.0));
    app->add_option("--verifier", verifier, "Face-presence model checking each detection, or 'none'")
        ->capture_default_str();
    app->add_option("--verify-threshold", verify_threshold, "Minimum face-presence score")
        ->capture_default_str()
        ->check(CLI::Range(0.0, 1.0));
    if (with_embedder) {
      app->add_option("--embedder", embedder, "Embedding model")->capture_default_str();
      app->add_flag("--flip,!--no-flip", flip, "Flip test-time augmentation: face + mirror image (default: on)");
      app->add_flag(
          "--zoom,!--no-zoom", zoom,
          "Zoom test-time augmentation: + the crop zoomed in by 1.5/1.4 (default: on; off halves embedding time)");
    }
  }
  AnalyzerOptions options() const {
    AnalyzerOptions o;
    o.detector.model = detector;
    o.detector.backend = o.landmarker.backend = o.embedder.backend = backend;
    o.detector.threads = o.landmarker.threads = o.embedder.threads = threads;
    o.detector.min_face = min_face;
    o.detector.score_threshold = score;
    o.detector.verifier = verifier;
    o.detector.verify_threshold = verify_threshold;
    o.landmarker.model = landmarker;
    o.embedder.model = embedder;
    o.embedder.flip = flip;
    o.embedder.zoom = zoom;
    return o;
  }
};

}  // namespace facerec::cli
