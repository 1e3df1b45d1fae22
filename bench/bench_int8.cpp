// Int8 against fp32, side by side in one run: for each pair FP32:INT8 of manifest models (the int8
// one written by `facerec models quantize`), the time per face of one network run at batch 1 on
// 1 and 2 threads — fp32 on opencv-dnn and onednn, int8 on onednn —, the file sizes, and, with
// --images, the cosine between the fp32 and int8 embeddings of the same aligned faces.
//   build/bench/bench_int8 --manifest runs/int8/manifest.json --images ../shared/data/lfw/images
//       --max 500 face_recognition_model:face_recognition_model-int8   (one line)
#include <facerec/analyzer.hpp>
#include <facerec/backend.hpp>
#include <facerec/error.hpp>
#include <facerec/image.hpp>
#include <facerec/models.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

// Best of `runs` timed runs (after a warm-up), ms.
double time_run(const std::string& backend, const std::string& path, int threads, int runs) {
  facerec::BackendOptions o;
  o.threads = threads;
  auto net = facerec::load_backend(backend, path, o);
  std::vector<facerec::Tensor> batch;
  for (const auto& in : net->inputs()) {
    auto s = in.shape;
    for (auto& d : s)
      if (d < 0) d = 1;
    facerec::Tensor t(s);
    for (size_t i = 0; i < t.data.size(); ++i) t.data[i] = float(i % 251) / 125.f - 1.f;
    batch.push_back(std::move(t));
  }
  net->run(batch);
  double best = 1e30;
  for (int r = 0; r < runs; ++r) {
    auto t0 = Clock::now();
    net->run(batch);
    best = std::min(best, std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  return best;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  return v[size_t(std::clamp(p / 100.0 * double(v.size() - 1), 0.0, double(v.size() - 1)))];
}

}  // namespace

int main(int argc, char** argv) {
  std::string manifest_path, images;
  size_t max_faces = 300;
  int runs = 30;
  std::vector<std::pair<std::string, std::string>> pairs;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--manifest" && i + 1 < argc) {
      manifest_path = argv[++i];
    } else if (a == "--images" && i + 1 < argc) {
      images = argv[++i];
    } else if (a == "--max" && i + 1 < argc) {
      max_faces = std::stoul(argv[++i]);
    } else if (a == "--runs" && i + 1 < argc) {
      runs = std::stoi(argv[++i]);
    } else if (a.find(':') != std::string::npos) {
      pairs.emplace_back(a.substr(0, a.find(':')), a.substr(a.find(':') + 1));
    } else {
      std::fprintf(stderr, "usage: bench_int8 [--manifest M] [--images DIR] [--max N] [--runs R] FP32:INT8...\n");
      return 2;
    }
  }
  try {
    auto man = manifest_path.empty() ? facerec::Manifest::load_default() : facerec::Manifest::load(manifest_path);
    std::printf("%-28s %-10s %-5s %9s %9s %8s\n", "model", "backend", "prec", "ms 1T", "ms 2T", "MB");
    for (const auto& [fp, q] : pairs) {
      const auto pf = facerec::model_path(man.model(fp)).string(), pq = facerec::model_path(man.model(q)).string();
      const double mbf = double(std::filesystem::file_size(pf)) / 1e6,
                   mbq = double(std::filesystem::file_size(pq)) / 1e6;
      double cv[2], dn[2], i8[2];
      for (int t : {1, 2}) {
        cv[t - 1] = time_run("opencv-dnn", pf, t, runs);
        dn[t - 1] = time_run("onednn", pf, t, runs);
        i8[t - 1] = time_run("onednn", pq, t, runs);
      }
      std::printf("%-28s %-10s %-5s %9.2f %9.2f %8.2f\n", fp.c_str(), "opencv-dnn", "fp32", cv[0], cv[1], mbf);
      std::printf("%-28s %-10s %-5s %9.2f %9.2f %8.2f\n", fp.c_str(), "onednn", "fp32", dn[0], dn[1], mbf);
      std::printf("%-28s %-10s %-5s %9.2f %9.2f %8.2f\n", q.c_str(), "onednn", "int8", i8[0], i8[1], mbq);
      std::printf(
          "  int8 vs opencv-dnn fp32: %.2fx (1T) %.2fx (2T) faster; vs onednn fp32 %.2fx / %.2fx; %.2fx smaller\n",
          cv[0] / i8[0], cv[1] / i8[1], dn[0] / i8[0], dn[1] / i8[1], mbf / mbq);
      if (images.empty()) continue;
      // agreement on real faces: the same photo through the fp32 and the int8 pipeline
      facerec::AnalyzerOptions of, oq;
      of.embedder.model = fp;
      oq.embedder.model = q;
      facerec::FaceAnalyzer af(man, of), aq(man, oq);
      std::vector<std::filesystem::path> files;
      for (auto it = std::filesystem::recursive_directory_iterator(images); it != std::filesystem::end(it); ++it)
        if (it->is_regular_file() && (it->path().extension() == ".jpg" || it->path().extension() == ".png"))
          files.push_back(it->path());
      std::sort(files.begin(), files.end());
      const size_t stride = std::max<size_t>(1, files.size() / std::max<size_t>(max_faces, 1));
      std::vector<double> cos;
      for (size_t k = 0; k < files.size() && cos.size() < max_faces; k += stride) {
        try {
          auto img = facerec::decode_image_file(files[k].string());
          // each pipeline whole (the same detector and landmarks find the same face)
          auto ff = af.analyze(img.bgr), fq = aq.analyze(img.bgr);
          const auto* a = facerec::largest_face(ff);
          const auto* b = facerec::largest_face(fq);
          if (!a || !b) continue;
          cos.push_back(facerec::FaceAnalyzer::cosine(a->embedding, b->embedding));
        } catch (const facerec::Error& e) {
          std::fprintf(stderr, "%s: %s\n", files[k].c_str(), e.what());
        }
      }
      std::printf(
          "  cosine(int8, fp32) over %zu faces (every %zu-th image of %s): median %.4f, 1st percentile %.4f, "
          "min %.4f\n",
          cos.size(), stride, images.c_str(), percentile(cos, 50), percentile(cos, 1), percentile(cos, 0));
    }
  } catch (const facerec::Error& e) {
    std::fprintf(stderr, "bench_int8: %s\n", e.what());
    return 1;
  }
  return 0;
}
