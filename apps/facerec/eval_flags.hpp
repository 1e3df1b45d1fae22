#pragma once
// The flags of the commands that embed whole datasets (eval lfw, eval identification, data merge):
// pipeline, embedders, cache, workers, quality copies, outputs; and embedding with progress on
// stderr. One definition, so the commands cannot drift apart.
#include "commands.hpp"

#include <facerec/analyzer.hpp>
#include <facerec/embed.hpp>
#include <facerec/eval/dataset.hpp>
#include <facerec/eval/degrade.hpp>
#include <facerec/eval/evaluation.hpp>
#include <facerec/landmarks.hpp>

#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <unistd.h>

namespace facerec::cli {

// Options shared by the dataset evaluations (pipeline, embedders, cache, quality, outputs).
struct EvalFlags {
  // the library's defaults, changed by the flags
  std::string embedder = default_embedder_list(), detector = DetectorOptions{}.model,
              landmarker = LandmarkerOptions{}.model;
  float crop_scale = LandmarkerOptions{}.crop_scale, refine_scale = LandmarkerOptions{}.refine_scale;
  int passes = LandmarkerOptions{}.passes;
  bool landmark_flip = LandmarkerOptions{}.flip, flip = false, no_cache = false, quality = false;
  int workers = DatasetEmbedOptions{}.workers;
  std::string cache, json_out, report_dir, profile;
  uint64_t seed = DegradationRanges{}.seed;
  const CLI::App* app_ = nullptr;  // to tell the flags given from the defaults (a profile fills the rest)

  // evaluation = false (data commands): one embedder, and no --flip, --quality, --seed, --json, --report.
  void add(CLI::App* c, bool evaluation = true) {
    app_ = c;
    c->add_option("--profile", profile,
                  "Speed profile: accurate | balanced | edge (its detector, landmarker, embedder and backend; "
                  "README: Profiles); the pipeline flags given beside it override what they name")
        ->check(CLI::IsMember(analyzer_profiles()));
    c->add_option("--embedder", embedder,
                  evaluation ? "Embedding model(s), comma-separated, evaluated side by side; test-time augmentation: "
                               "NAME+flip (and its mirror image), NAME+zoom (and the crop zoomed in by 1.5/1.4), both"
                             : "Embedding model; test-time augmentation: NAME+flip, NAME+zoom, both")
        ->capture_default_str();
    c->add_option("--detector", detector,
                  "Detector model(s): a, a+b (b adds the faces a missed), or a cascade a>b[>c] (b only on photos "
                  "where a found no portrait face)")
        ->capture_default_str();
    c->add_option("--landmarker", landmarker, "Landmark model or 'none'")->capture_default_str();
    c->add_option("--crop-scale", crop_scale, "Landmarker crop size relative to the detection box")
        ->capture_default_str();
    c->add_option("--passes", passes, "Landmark passes (2: re-centre on the first pass's points)")
        ->capture_default_str();
    c->add_option("--refine-scale", refine_scale, "Crop size of the refining pass relative to the points' extent")
        ->capture_default_str();
    c->add_flag("--landmark-flip,!--no-landmark-flip", landmark_flip,
                "Average the landmarks with those of the mirror image (default: on)");
    if (evaluation) {
      c->add_flag("--flip", flip, "Evaluate each embedder both with and without flip test-time augmentation");
      c->add_flag("--quality", quality,
                  "Also embed seeded low-quality copies and report high-high, low-high and low-low");
      c->add_option("--seed", seed, "Seed of the quality degradations")->capture_default_str();
    }
    c->add_option("--workers", workers, "Parallel pipelines")->capture_default_str()->check(CLI::Range(1, 64));
    c->add_option("--cache", cache, "Embedding cache directory (default ~/.cache/facerec/embeddings)");
    c->add_flag("--no-cache", no_cache, "Embed everything again (nothing read from or written to a cache)");
    if (!evaluation) return;
    c->add_option("--json", json_out, "Write the report JSON (every figure, manifest, options, checksums) here");
    c->add_option("--report", report_dir, "Write report.json and a self-contained report.html into this directory");
  }

  bool given(const char* flag) const { return app_ && app_->count(flag) > 0; }
  // The embedders to evaluate: --embedder, else the profile's (with its flip), else the default list.
  std::string embedder_list() const {
    if (profile.empty() || given("--embedder")) return embedder;
    const auto p = analyzer_profile(profile);
    return p.embedder.model + tta_suffix(p.embedder.flip, p.embedder.zoom);
  }
  std::vector<EmbeddingVariant> variants() const { return parse_embedding_variants(embedder_list(), flip); }

  DatasetEmbedOptions options(bool degraded) const {
    DatasetEmbedOptions o;
    if (!profile.empty()) o.pipeline = analyzer_profile(profile);
    if (profile.empty() || given("--detector")) o.pipeline.detector.model = detector;
    if (profile.empty() || given("--landmarker")) o.pipeline.landmarker.model = landmarker;
    if (profile.empty() || given("--crop-scale")) o.pipeline.landmarker.crop_scale = crop_scale;
    if (profile.empty() || given("--passes")) o.pipeline.landmarker.passes = passes;
    if (profile.empty() || given("--refine-scale")) o.pipeline.landmarker.refine_scale = refine_scale;
    if (profile.empty() || given("--landmark-flip")) o.pipeline.landmarker.flip = landmark_flip;
    o.variants = variants();
    o.degraded = degraded;
    o.degradation.seed = seed;
    o.workers = workers;
    if (!no_cache) o.cache_dir = cache.empty() ? default_embedding_cache_dir() : std::filesystem::path(cache);
    return o;
  }

  ReportJson pipeline() const { return pipeline_json(options(false), embedder_list(), flip); }
};

// Progress on stderr: done/total, rate (`unit`), ETA; on a terminal redrawn every `every` items.
inline std::function<void(size_t, size_t)> progress_printer(const std::string& label, const std::string& unit = "img/s",
                                                            size_t every = 25) {
  using Clock = std::chrono::steady_clock;
  auto start = std::make_shared<Clock::time_point>(Clock::now());
  const bool tty = isatty(2);
  return [label, unit, every, start, tty](size_t d, size_t n) {
    // a terminal gets a line redrawn in place; a log file a line per 10%
    if (tty ? (d % every != 0 && d != n) : (d * 10 / n == (d - 1) * 10 / n && d != n)) return;
    double secs = std::chrono::duration<double>(Clock::now() - *start).count();
    double rate = double(d) / std::max(secs, 1e-9);
    std::fprintf(stderr, "%s%s %zu/%zu  %.2f %s  ETA %.0f s   ", tty ? "\r" : "", label.c_str(), d, n, rate,
                 unit.c_str(), double(n - d) / rate);
    if (d == n || !tty) std::fprintf(stderr, "\n");
  };
}

inline DatasetEmbedResult embed(const std::filesystem::path& root, const std::vector<std::string>& images,
                                const DatasetEmbedOptions& o, const std::string& label) {
  auto opt = o;
  opt.progress = progress_printer(label);
  auto errors = std::make_shared<size_t>(0);
  opt.on_error = [errors](const std::string& img, const std::string& msg) {
    if (++*errors <= 20) std::fprintf(stderr, "\r%s: %s\n", img.c_str(), msg.c_str());
  };
  auto r = embed_dataset(manifest(), root, images, opt);
  std::fprintf(stderr, "%s: %zu images, %zu embedded now, %zu from the cache%s\n", label.c_str(),
               std::set<std::string>(images.begin(), images.end()).size(), r.computed,
               std::set<std::string>(images.begin(), images.end()).size() - r.computed,
               *errors > 20 ? (", " + std::to_string(*errors) + " failures (first 20 shown)").c_str() : "");
  return r;
}

}  // namespace facerec::cli
