// Int8 against fp32, side by side in one run. For each pair FP32:INT8 of manifest models (the int8
// one written by `facerec models quantize`):
//   - ms per network run at batch 1 on 1 and 2 threads: fp32 on opencv-dnn, onednn and xnnpack,
//     bf16 on onednn-bf16 (where registered), int8 on onednn; file sizes; ratios;
//   - agreement with fp32 on held-out data, by task:
//     embedders — cosine(int8, fp32) of the same aligned faces (no test-time augmentation: the
//       network itself), overall and per level of every label factor (--labels: e.g. UTKFace's
//       age band, gender, race; images listed in an --exclude TSV, such as a calibration set's
//       strata.tsv, are left out), or over --images;
//     detectors — on 300-W folders (--points: <name>.jpg beside <name>.pts): the annotated face found
//       by each (recall) and the IoU of the int8 box with the fp32 box of that face;
//     landmark networks — on the same folders, from the fp32 detector's box: NME against the
//       annotation for each (inter-ocular, see landmark_nme) and the NME of int8 against fp32.
//   build/bench/bench_int8 --manifest runs/int8/manifest.json --labels ../shared/data/utkface/labels.tsv
//       --exclude runs/int8/calib/balanced/strata.tsv --points ../shared/data/300w/afw
//       face_recognition_model:face_recognition_model-int8 blazeface:blazeface-int8   (one line)
#include <facerec/analyzer.hpp>
#include <facerec/backend.hpp>
#include <facerec/detect.hpp>
#include <facerec/embed.hpp>
#include <facerec/error.hpp>
#include <facerec/eval/evaluation.hpp>
#include <facerec/eval/labels.hpp>
#include <facerec/image.hpp>
#include <facerec/landmarks.hpp>
#include <facerec/models.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

// Best of `runs` timed runs (after a warm-up), ms; nullopt when the backend cannot run the model.
std::optional<double> time_run(const std::string& backend, const std::string& path, const facerec::ModelEntry& m,
                               int threads, int runs) {
  try {
    facerec::BackendOptions o;
    o.threads = threads;
    auto net = facerec::load_backend(backend, path, o);
    std::vector<facerec::Tensor> batch;
    for (const auto& in : net->inputs()) {
      auto s = in.shape;
      for (size_t k = 0; k < s.size(); ++k)  // a free batch at 1; free height and width at the manifest's size
        if (s[k] < 0) s[k] = s.size() == 4 && k == 2 ? m.input.height : s.size() == 4 && k == 3 ? m.input.width : 1;
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
  } catch (const facerec::Error& e) {
    std::fprintf(stderr, "  %s on %s: %s\n", m.name.c_str(), backend.c_str(), e.what());
    return std::nullopt;
  }
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  return v[size_t(std::clamp(p / 100.0 * double(v.size() - 1), 0.0, double(v.size() - 1)))];
}

double mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? NAN : s / double(v.size());
}

void print_spread(const char* what, const std::string& group, const std::vector<double>& v) {
  std::printf("    %-34s n=%4zu  median %.4f  1st pct %.4f  min %.4f\n", (std::string(what) + " " + group).c_str(),
              v.size(), percentile(v, 50), percentile(v, 1), percentile(v, 0));
}

// One held-out face for the embedders: where it is, its labels, and the fp32 pipeline's landmarks.
struct HeldOutFace {
  std::string file;
  std::vector<std::string> levels;
  cv::Mat bgr;
  facerec::FivePoints five{};
  std::vector<cv::Point2f> l68;
};

struct Args {
  std::string manifest, images, labels;
  std::vector<std::string> exclude, points;
  size_t max = 300;
  int runs = 30;
  std::vector<std::pair<std::string, std::string>> pairs;
};

std::vector<HeldOutFace> held_out_faces(const facerec::Manifest& man, const Args& a,
                                        std::vector<std::string>& factors) {
  std::vector<std::pair<std::string, std::vector<std::string>>> files;  // absolute path, levels
  if (!a.labels.empty()) {
    const auto table = facerec::read_label_table(a.labels);
    factors = table.factors;
    std::set<std::string> excluded;
    for (const auto& x : a.exclude)
      for (const auto& img : facerec::read_label_table(x).images) excluded.insert(img.file.generic_string());
    for (const auto& img : table.images)
      if (!excluded.count(img.file.generic_string())) files.push_back({(table.root / img.file).string(), img.levels});
    std::fprintf(stderr, "held-out: %zu labelled images (%zu excluded)\n", files.size(),
                 table.images.size() - files.size());
  } else if (!a.images.empty()) {
    for (const auto& f : facerec::list_image_files(a.images))
      files.push_back({(std::filesystem::path(a.images) / f).string(), {}});
  }
  std::mt19937 rng(1);
  std::shuffle(files.begin(), files.end(), rng);
  facerec::FaceAnalyzer fa(man);  // the default detector and landmarks, fp32
  std::vector<HeldOutFace> out;
  for (const auto& [file, levels] : files) {
    if (out.size() >= a.max) break;
    try {
      auto img = facerec::decode_image_file(file);
      const auto faces = fa.analyze(img.bgr, false);
      if (const auto* f = facerec::largest_face(faces)) out.push_back({file, levels, img.bgr, f->five, f->landmarks});
    } catch (const facerec::Error& e) {
      std::fprintf(stderr, "%s: %s\n", file.c_str(), e.what());
    }
  }
  return out;
}

// `q` names the other model (int8), or with `q_backend` the other backend for `fp` itself (bf16).
void embed_agreement(const facerec::Manifest& man, const std::string& fp, const std::string& q,
                     const std::vector<HeldOutFace>& faces, const std::vector<std::string>& factors,
                     const std::string& q_backend = "opencv-dnn", const char* what = "cosine(int8, fp32)") {
  facerec::EmbedderOptions of, oq;
  of.model = fp;
  oq.model = q;
  oq.backend = q_backend;
  of.flip = oq.flip = false;
  auto ef = facerec::make_embedder(man, of), eq = facerec::make_embedder(man, oq);
  std::vector<double> all;
  std::vector<std::map<std::string, std::vector<double>>> by(factors.size());
  for (const auto& f : faces) {
    const auto a = ef->embed(ef->align(f.bgr, f.five, f.l68)), b = eq->embed(eq->align(f.bgr, f.five, f.l68));
    const double c = facerec::FaceAnalyzer::cosine(a, b);
    all.push_back(c);
    for (size_t k = 0; k < factors.size() && k < f.levels.size(); ++k) by[k][f.levels[k]].push_back(c);
  }
  print_spread(what, "all", all);
  for (size_t k = 0; k < factors.size(); ++k)
    for (const auto& [level, v] : by[k]) print_spread(what, factors[k] + "=" + level, v);
}

// The detection holding the annotated face (detects_face), or nullptr.
const facerec::Detection* annotated(const std::vector<facerec::Detection>& found, const std::vector<cv::Point2f>& pts) {
  for (const auto& d : found)
    if (facerec::detects_face({d}, pts)) return &d;
  return nullptr;
}

double iou(const cv::Rect2f& a, const cv::Rect2f& b) {
  const double i = (a & b).area(), u = a.area() + b.area() - i;
  return u > 0 ? i / u : 0;
}

struct PointSet {
  std::string root;
  std::vector<facerec::PosedFace> faces;
};

void detect_agreement(const facerec::Manifest& man, const std::string& fp, const std::string& q,
                      const std::vector<PointSet>& sets, size_t max) {
  facerec::DetectorOptions of, oq;
  of.model = fp;
  oq.model = q;
  of.close_range_model = oq.close_range_model = "none";  // the network alone (its verifier fp32 in both)
  auto df = facerec::make_detector(man, of), dq = facerec::make_detector(man, oq);
  for (const auto& s : sets) {
    std::vector<double> ious;
    size_t faces = 0, found_f = 0, found_q = 0, count_differs = 0;
    for (const auto& f : s.faces) {
      if (faces >= max) break;
      const auto img = facerec::decode_image_file((std::filesystem::path(s.root) / f.file).string());
      const auto a = df->detect(img.bgr), b = dq->detect(img.bgr);
      ++faces;
      count_differs += a.size() != b.size();
      const auto *da = annotated(a, f.points), *db = annotated(b, f.points);
      found_f += da != nullptr;
      found_q += db != nullptr;
      if (da && db) ious.push_back(iou(da->box, db->box));
    }
    std::printf("    %s: annotated faces found fp32 %zu/%zu, int8 %zu/%zu; images where the face count differs %zu\n",
                s.root.c_str(), found_f, faces, found_q, faces, count_differs);
    print_spread("IoU(int8 box, fp32 box)", s.root, ious);
  }
}

void landmark_agreement(const facerec::Manifest& man, const std::string& fp, const std::string& q,
                        const std::vector<PointSet>& sets, size_t max) {
  facerec::LandmarkerOptions of, oq;
  of.model = fp;
  oq.model = q;
  auto lf = facerec::make_landmarker(man, of), lq = facerec::make_landmarker(man, oq);
  auto det = facerec::make_detector(man);
  for (const auto& s : sets) {
    std::vector<double> nme_f, nme_q, nme_fq;
    size_t faces = 0;
    for (const auto& f : s.faces) {
      if (faces >= max) break;
      const auto img = facerec::decode_image_file((std::filesystem::path(s.root) / f.file).string());
      const auto found = det->detect(img.bgr);
      const auto* d = annotated(found, f.points);
      ++faces;
      if (!d) continue;
      const auto a = lf->landmarks(img.bgr, *d), b = lq->landmarks(img.bgr, *d);
      if (a.size() != 68 || b.size() != 68) {
        std::printf("    %s gives %zu points, %s %zu: NME needs 68 (iBUG) points; skipped\n", fp.c_str(), a.size(),
                    q.c_str(), b.size());
        return;
      }
      nme_f.push_back(facerec::landmark_nme(a, f.points));
      nme_q.push_back(facerec::landmark_nme(b, f.points));
      nme_fq.push_back(facerec::landmark_nme(b, a));
    }
    std::printf("    %s: %zu faces; NME vs annotation: fp32 mean %.4f, int8 mean %.4f\n", s.root.c_str(), nme_f.size(),
                mean(nme_f), mean(nme_q));
    print_spread("NME(int8 vs fp32)", s.root, nme_fq);
  }
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string s = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(s + " needs a value");
      return argv[++i];
    };
    try {
      if (s == "--manifest") {
        a.manifest = next();
      } else if (s == "--images") {
        a.images = next();
      } else if (s == "--labels") {
        a.labels = next();
      } else if (s == "--exclude") {
        a.exclude.push_back(next());
      } else if (s == "--points") {
        a.points.push_back(next());
      } else if (s == "--max") {
        a.max = std::stoul(next());
      } else if (s == "--runs") {
        a.runs = std::stoi(next());
      } else if (s.find(':') != std::string::npos && s[0] != '-') {
        a.pairs.emplace_back(s.substr(0, s.find(':')), s.substr(s.find(':') + 1));
      } else {
        throw std::invalid_argument("unknown argument " + s);
      }
    } catch (const std::exception& e) {
      std::fprintf(stderr,
                   "bench_int8: %s\nusage: bench_int8 [--manifest M] [--labels TSV [--exclude TSV]... | --images DIR] "
                   "[--points DIR]... [--max N] [--runs R] FP32:INT8...\n",
                   e.what());
      return 2;
    }
  }
  try {
    auto man = a.manifest.empty() ? facerec::Manifest::load_default() : facerec::Manifest::load(a.manifest);
    const auto backends = facerec::backend_names();
    const bool xnn = std::find(backends.begin(), backends.end(), "xnnpack") != backends.end();
    const bool bf16 = std::find(backends.begin(), backends.end(), "onednn-bf16") != backends.end();
    std::vector<std::string> factors;
    std::vector<HeldOutFace> faces;
    std::vector<PointSet> sets;
    for (const auto& [fp, q] : a.pairs) {
      const auto& task = man.model(fp).task;
      if (task == "embed" && faces.empty() && (!a.labels.empty() || !a.images.empty()))
        faces = held_out_faces(man, a, factors);
      if ((task == "detect" || task == "landmarks") && sets.empty())
        for (const auto& root : a.points) sets.push_back({root, facerec::read_300w(root)});
    }
    std::set<std::string> bf16_done;
    std::printf("%-32s %-10s %-5s %9s %9s %8s\n", "model", "backend", "prec", "ms 1T", "ms 2T", "MB");
    for (const auto& [fp, q] : a.pairs) {
      const auto& ef = man.model(fp);
      const auto& eq = man.model(q);
      const auto pf = facerec::model_path(ef).string(), pq = facerec::model_path(eq).string();
      const double mbf = double(std::filesystem::file_size(pf)) / 1e6,
                   mbq = double(std::filesystem::file_size(pq)) / 1e6;
      std::optional<double> cv[2], dn[2], xn[2], bf[2], i8[2];
      for (int t : {1, 2}) {
        cv[t - 1] = time_run("opencv-dnn", pf, ef, t, a.runs);
        dn[t - 1] = time_run("onednn", pf, ef, t, a.runs);
        if (xnn) xn[t - 1] = time_run("xnnpack", pf, ef, t, a.runs);
        if (bf16) bf[t - 1] = time_run("onednn-bf16", pf, ef, t, a.runs);
        i8[t - 1] = time_run("onednn", pq, eq, t, a.runs);
      }
      auto row = [&](const std::string& name, const char* backend, const char* prec, const std::optional<double>* ms,
                     double mb) {
        if (!ms[0] || !ms[1]) return;
        std::printf("%-32s %-10s %-5s %9.2f %9.2f %8.2f\n", name.c_str(), backend, prec, *ms[0], *ms[1], mb);
      };
      row(fp, "opencv-dnn", "fp32", cv, mbf);
      row(fp, "onednn", "fp32", dn, mbf);
      row(fp, "xnnpack", "fp32", xn, mbf);
      row(fp, "onednn", "bf16", bf, mbf);
      row(q, "onednn", "int8", i8, mbq);
      if (cv[0] && cv[1] && dn[0] && dn[1] && i8[0] && i8[1])
        std::printf(
            "  int8 vs opencv-dnn fp32: %.2fx (1T) %.2fx (2T) faster; vs onednn fp32 %.2fx / %.2fx; %.2fx smaller\n",
            *cv[0] / *i8[0], *cv[1] / *i8[1], *dn[0] / *i8[0], *dn[1] / *i8[1], mbf / mbq);
      if (ef.task == "embed" && !faces.empty()) {
        std::printf("  agreement on %zu held-out faces (%s):\n", faces.size(),
                    a.labels.empty() ? a.images.c_str() : a.labels.c_str());
        embed_agreement(man, fp, q, faces, factors);
        if (bf16 && bf16_done.insert(fp).second)  // once per fp32 model
          embed_agreement(man, fp, fp, faces, factors, "onednn-bf16", "cosine(bf16, fp32)");
      } else if (ef.task == "detect" && !sets.empty()) {
        std::printf("  agreement on 300-W:\n");
        detect_agreement(man, fp, q, sets, a.max);
      } else if (ef.task == "landmarks" && !sets.empty()) {
        std::printf("  agreement on 300-W:\n");
        landmark_agreement(man, fp, q, sets, a.max);
      }
      std::fflush(stdout);
    }
  } catch (const facerec::Error& e) {
    std::fprintf(stderr, "bench_int8: %s\n", e.what());
    return 1;
  }
  return 0;
}
