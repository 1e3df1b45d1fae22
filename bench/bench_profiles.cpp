// The speed profiles (accurate, balanced, edge) and the library default, whole photo by whole
// photo (decode excluded: detect, landmarks, align, embed), one run, one thread per network; and
// face-api (JavaScript, tfjs-wasm, one thread) on the same photos through tools/parity's harness,
// with the ratios.
//
//   build/bench/bench_profiles [--photos 200] [--lfw DIR] [--profiles default,accurate,balanced,edge]
//       [--faceapi tools/parity] [--write-list FILE] [--stages]
//
// The photos: the first image of every k-th LFW person (sorted by name), k chosen to give --photos
// photos — a fixed, seed-free sample. --stages also prints, per profile, the time in each stage.
#include <facerec/analyzer.hpp>
#include <facerec/detect.hpp>
#include <facerec/embed.hpp>
#include <facerec/error.hpp>
#include <facerec/image.hpp>
#include <facerec/landmarks.hpp>

#include "bench_util.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

std::vector<std::string> pick_photos(const std::filesystem::path& lfw, size_t n) {
  std::vector<std::filesystem::path> people;
  for (const auto& e : std::filesystem::directory_iterator(lfw))
    if (e.is_directory()) people.push_back(e.path());
  std::sort(people.begin(), people.end());
  const size_t k = std::max<size_t>(1, people.size() / std::max<size_t>(n, 1));
  std::vector<std::string> out;
  for (size_t i = 0; i < people.size() && out.size() < n; i += k) {
    std::vector<std::filesystem::path> imgs;
    for (const auto& e : std::filesystem::directory_iterator(people[i]))
      if (e.path().extension() == ".jpg") imgs.push_back(e.path());
    std::sort(imgs.begin(), imgs.end());
    if (!imgs.empty()) out.push_back(imgs.front().string());
  }
  return out;
}

struct Stats {
  double mean = 0, median = 0;
  size_t faces = 0;
};

Stats summarise(std::vector<double> ms, size_t faces) {
  Stats s;
  s.faces = faces;
  if (ms.empty()) return s;
  for (double v : ms) s.mean += v;
  s.mean /= double(ms.size());
  std::sort(ms.begin(), ms.end());
  s.median = ms[ms.size() / 2];
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  size_t n = 200;
  std::string lfw = (facerec::bench::shared() / "data" / "lfw" / "images").string();
  std::string profiles = "default,accurate,balanced,edge", faceapi, list_out;
  bool stages = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--photos")
      n = std::stoul(next());
    else if (a == "--lfw")
      lfw = next();
    else if (a == "--profiles")
      profiles = next();
    else if (a == "--faceapi")
      faceapi = next();
    else if (a == "--write-list")
      list_out = next();
    else if (a == "--stages")
      stages = true;
    else {
      std::fprintf(stderr, "usage: bench_profiles [--photos N] [--lfw DIR] [--profiles a,b] [--faceapi DIR] "
                           "[--write-list FILE] [--stages]\n");
      return 2;
    }
  }
  if (!std::filesystem::is_directory(lfw)) {
    std::fprintf(stderr, "bench_profiles: no LFW at %s (skipped)\n", lfw.c_str());
    return 0;
  }
  const auto photos = pick_photos(lfw, n);
  std::vector<cv::Mat> images;
  for (const auto& p : photos) images.push_back(facerec::decode_image_file(p).bgr);
  std::printf("%zu LFW photos (250x250), one run, one thread per network; decode excluded\n", photos.size());
  std::string list_file = list_out.empty() ? (std::filesystem::temp_directory_path() / "facerec-bench-photos.txt").string()
                                           : list_out;
  {
    std::ofstream out(list_file);
    for (const auto& p : photos) out << std::filesystem::absolute(p).string() << "\n";
  }

  struct Row {
    std::string name;
    Stats s;
  };
  std::vector<Row> rows;
  std::printf("%-10s %10s %10s %8s   %s\n", "PROFILE", "MS MEAN", "MS MEDIAN", "FACES", "PIPELINE");
  for (const auto& name : facerec::bench::split(profiles)) {
    facerec::AnalyzerOptions o;
    if (name == "default") {
      o.detector.threads = o.landmarker.threads = o.embedder.threads = 1;
    } else {
      o = facerec::analyzer_profile(name);
    }
    facerec::FaceAnalyzer fa(facerec::bench::manifest(), o);
    for (size_t i = 0; i < std::min<size_t>(3, images.size()); ++i) fa.analyze(images[i]);  // warm-up
    std::vector<double> ms;
    size_t faces = 0;
    for (const auto& img : images) {
      const auto t0 = Clock::now();
      faces += fa.analyze(img).size();
      ms.push_back(ms_since(t0));
    }
    rows.push_back({name, summarise(ms, faces)});
    std::printf("%-10s %10.2f %10.2f %8zu   %s | %s@%d%s | %s%s | %s\n", name.c_str(), rows.back().s.mean,
                rows.back().s.median, faces, o.detector.model.c_str(), o.landmarker.model.c_str(), o.landmarker.passes,
                o.landmarker.flip ? "+flip" : "", o.embedder.model.c_str(), o.embedder.flip ? "+flip" : "",
                o.detector.backend.c_str());
    std::fflush(stdout);
    if (stages) {  // the stages one by one, on the same photos
      auto det = facerec::make_detector(facerec::bench::manifest(), o.detector);
      auto lm = facerec::make_landmarker(facerec::bench::manifest(), o.landmarker);
      auto em = facerec::make_embedder(facerec::bench::manifest(), o.embedder);
      double t_det = 0, t_lm = 0, t_em = 0;
      for (const auto& img : images) {
        auto t0 = Clock::now();
        const auto dets = det->detect(img);
        t_det += ms_since(t0);
        for (const auto& d : dets) {
          t0 = Clock::now();
          const auto pts = lm->landmarks(img, d);
          t_lm += ms_since(t0);
          if (pts.empty() && d.keypoints.size() < 4) continue;
          t0 = Clock::now();
          em->embed(em->align(img, facerec::five_points(pts, d), pts));
          t_em += ms_since(t0);
        }
      }
      const double k = 1.0 / double(images.size());
      std::printf("           stages, ms per photo: detect %.2f, landmarks %.2f, align + embed %.2f\n", t_det * k,
                  t_lm * k, t_em * k);
    }
  }
  if (!faceapi.empty()) {
    const std::string cmd = "cd '" + faceapi + "' && node bench-faceapi.mjs --threads 1 --list '" +
                            std::filesystem::absolute(list_file).string() + "'";
    std::FILE* p = popen(cmd.c_str(), "r");
    std::string out;
    if (p) {
      char buf[4096];
      while (std::fgets(buf, sizeof buf, p)) out += buf;
      if (pclose(p) != 0) out.clear();
    }
    const auto at = out.find("\"ms_mean\":");
    if (at == std::string::npos) {
      std::printf("face-api: the harness failed (run `npm ci` in %s; output: %s)\n", faceapi.c_str(), out.c_str());
      return 1;
    }
    const double fa_ms = std::stod(out.substr(at + 10));
    std::printf("face-api: %s", out.c_str());
    std::printf("%-10s %16s\n", "PROFILE", "x FASTER (mean)");
    for (const auto& r : rows) std::printf("%-10s %16.1f\n", r.name.c_str(), fa_ms / r.s.mean);
  }
  return 0;
}
