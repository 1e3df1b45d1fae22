// facerec data calib-set LABELS --out DIR [--random-out DIR2] [--mesh OBJ]: a calibration set for
// `models quantize`, balanced over the labels' factors (age band, gender, race for UTKFace) and
// over what the pipeline measures on each image: head pose (yaw and pitch — FaceMesh fitted by a 3D
// face model with --mesh, else proxies from the five points) and quality (sharpness, brightness,
// face size: tertiles of the pool). Prints the strata counts of the set beside those of a random
// sample of the same size, and can write both (to compare calibrations).
#include "commands.hpp"
#include "eval_flags.hpp"

#include <facerec/analyzer.hpp>
#include <facerec/error.hpp>
#include <facerec/eval/labels.hpp>
#include <facerec/head_pose.hpp>
#include <facerec/image.hpp>
#include <facerec/quantize.hpp>

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <random>

namespace facerec::cli {
namespace {

struct CalibSetFlags {
  std::string labels, out, random_out, mesh;
  size_t size = 300, max_pool = 0;
  unsigned seed = 1;
};

// What the pipeline measures on one image's largest face.
struct Measured {
  double yaw = 0, pitch = 0;  // degrees (FaceMesh + 3D model), or the five-point proxies
  double sharp = 0, bright = 0, iod = 0;
};

std::string tertile(double v, const std::vector<double>& sorted, const char* lo, const char* mid, const char* hi) {
  const double a = sorted[sorted.size() / 3], b = sorted[2 * sorted.size() / 3];
  return v < a ? lo : v < b ? mid : hi;
}

void print_counts(const char* title, const std::vector<std::string>& factors,
                  const std::vector<std::map<std::string, size_t>>& counts) {
  std::printf("%s\n", title);
  for (size_t f = 0; f < factors.size(); ++f) {
    std::printf("  %-11s", factors[f].c_str());
    for (const auto& [level, n] : counts[f]) std::printf("  %s %zu", level.c_str(), n);
    std::printf("\n");
  }
}

// Links the chosen images under dir/images (numbered in the order chosen) and lists their strata in
// dir/strata.tsv; built in DIR.partial (refused when it exists) and renamed at the end, so DIR is
// complete or absent.
void write_set(const std::filesystem::path& dir, const LabelTable& table, const std::vector<std::string>& factors,
               const std::vector<CalibrationCandidate>& cands, const std::vector<size_t>& chosen) {
  auto tmp = dir;
  tmp += ".partial";
  std::error_code ec;
  if (std::filesystem::exists(tmp, ec))
    throw Error(ErrorKind::InvalidArgument,
                tmp.string() + " exists (an interrupted run?): remove it or name another --out");
  std::filesystem::create_directories(tmp / "images");
  std::ofstream strata(tmp / "strata.tsv");
  strata << "file";
  for (const auto& f : factors) strata << "\t" << f;
  strata << "\n";
  for (size_t k = 0; k < chosen.size(); ++k) {
    const size_t i = chosen[k];
    const auto src = std::filesystem::absolute(table.root / cands[i].file);
    // numbered: unique whatever folders the listed files come from
    char number[32];
    std::snprintf(number, sizeof number, "%05zu-", k);
    std::filesystem::create_symlink(src, tmp / "images" / (number + src.filename().string()));
    strata << cands[i].file;
    for (const auto& l : cands[i].levels) strata << "\t" << l;
    strata << "\n";
  }
  strata.close();
  if (!strata) throw Error(ErrorKind::Io, "cannot write " + (tmp / "strata.tsv").string());
  std::filesystem::rename(tmp, dir);
}

int calib_set(const CalibSetFlags& fl) {
  std::error_code ec;
  for (const auto& d : {fl.out, fl.random_out})
    if (!d.empty() && std::filesystem::exists(d, ec))
      throw Error(ErrorKind::InvalidArgument, d + " exists: name a new folder");
  if (!fl.random_out.empty() && std::filesystem::absolute(fl.random_out) == std::filesystem::absolute(fl.out))
    throw Error(ErrorKind::InvalidArgument, "--out and --random-out name the same folder");
  auto table = read_label_table(fl.labels);
  std::vector<size_t> rows(table.images.size());
  for (size_t i = 0; i < rows.size(); ++i) rows[i] = i;
  if (fl.max_pool > 0 && rows.size() > fl.max_pool) {
    std::mt19937 rng(fl.seed);
    std::shuffle(rows.begin(), rows.end(), rng);
    rows.resize(fl.max_pool);
    std::sort(rows.begin(), rows.end());
  }
  const std::string mesh = face_mesh_path(fl.mesh);
  std::optional<FaceModel3D> model;
  AnalyzerOptions ao;
  if (!mesh.empty()) {
    model = load_face_model_obj(mesh);
    ao.landmarker.model = "facemesh";  // 468 points for the 3D fit; the five points come from them
  }
  FaceAnalyzer fa(manifest(), ao);
  std::vector<size_t> pool;
  std::vector<Measured> measured(table.images.size());
  size_t no_face = 0, unreadable = 0;
  auto progress = progress_printer("measuring pose and quality", "img/s");
  for (size_t k = 0; k < rows.size(); ++k) {
    const size_t i = rows[k];
    try {
      const auto img = decode_image_file((table.root / table.images[i].file).string());
      const auto faces = fa.analyze(img.bgr, false);
      if (const Face* face = largest_face(faces)) {
        Measured& m = measured[i];
        const auto& p = face->five;  // eyes, nose, mouth corners
        const cv::Point2f eyes = (p[0] + p[1]) * 0.5f, mouth = (p[3] + p[4]) * 0.5f;
        m.iod = std::max(1.0, double(cv::norm(p[1] - p[0])));
        if (model) {
          const auto h = estimate_head_pose(face->landmarks, *model, img.bgr.size());
          m.yaw = h.yaw;
          m.pitch = h.pitch;
        } else {
          m.yaw = double(p[2].x - eyes.x) / m.iod;  // the nose's offset from the eyes' midpoint
          m.pitch = double(p[2].y - eyes.y) / std::max(1.0, double(mouth.y - eyes.y));
        }
        cv::Mat gray, lap;
        cv::cvtColor(img.bgr, gray, cv::COLOR_BGR2GRAY);
        const cv::Rect box = cv::Rect(face->detection.box) & cv::Rect(0, 0, gray.cols, gray.rows);
        if (box.area() > 0) gray = gray(box);
        cv::Laplacian(gray, lap, CV_64F);
        cv::Scalar mean, sd;
        cv::meanStdDev(lap, mean, sd);
        m.sharp = sd[0] * sd[0];
        m.bright = cv::mean(gray)[0];
        pool.push_back(i);
      } else {
        ++no_face;
      }
    } catch (const Error& e) {
      if (++unreadable <= 10) std::fprintf(stderr, "\r%s: %s\n", table.images[i].file.c_str(), e.what());
    }
    progress(k + 1, rows.size());
  }
  if (pool.empty()) throw Error(ErrorKind::BadInput, "calib-set: no face found in any image");
  std::vector<double> sharp, bright, iod, pitch;
  for (size_t i : pool) {
    sharp.push_back(measured[i].sharp);
    bright.push_back(measured[i].bright);
    iod.push_back(measured[i].iod);
    pitch.push_back(measured[i].pitch);
  }
  for (auto* v : {&sharp, &bright, &iod, &pitch}) std::sort(v->begin(), v->end());
  std::vector<std::string> factors = table.factors;
  for (const char* f : {"yaw", "pitch", "sharpness", "brightness", "face-size"}) factors.push_back(f);
  std::vector<CalibrationCandidate> cands;
  for (size_t i : pool) {
    const Measured& m = measured[i];
    CalibrationCandidate c{table.images[i].file.generic_string(), table.images[i].levels};
    const double y = std::abs(m.yaw);
    if (model) {  // degrees
      c.levels.push_back(y < 15 ? "frontal" : y < 35 ? "turned" : "profile");
      c.levels.push_back(m.pitch < -10 ? "up" : m.pitch > 10 ? "down" : "level");
    } else {  // proxies: yaw in eye distances, pitch by tertiles of the pool
      c.levels.push_back(y < 0.15 ? "frontal" : y < 0.35 ? "turned" : "profile");
      c.levels.push_back(tertile(m.pitch, pitch, "up", "level", "down"));
    }
    c.levels.push_back(tertile(m.sharp, sharp, "blurred", "medium", "sharp"));
    c.levels.push_back(tertile(m.bright, bright, "dark", "medium", "bright"));
    c.levels.push_back(tertile(m.iod, iod, "small", "medium", "large"));
    cands.push_back(std::move(c));
  }
  const auto balanced = balanced_sample(cands, fl.size, fl.seed);
  std::vector<size_t> random(cands.size());
  for (size_t i = 0; i < random.size(); ++i) random[i] = i;
  std::mt19937 rng(fl.seed);
  std::shuffle(random.begin(), random.end(), rng);
  random.resize(balanced.size());
  std::printf("pool: %zu images with a face (%zu without, %zu unreadable); pose from %s\n", pool.size(), no_face,
              unreadable, model ? "FaceMesh fitted by the 3D face model (degrees)" : "the five points (proxies)");
  print_counts("balanced set:", factors, level_counts(cands, balanced));
  print_counts("random sample of the same size:", factors, level_counts(cands, random));
  write_set(fl.out, table, factors, cands, balanced);
  std::fprintf(stderr, "calib-set: %zu images (balanced) linked under %s/images, their strata in strata.tsv\n",
               balanced.size(), fl.out.c_str());
  if (!fl.random_out.empty()) {
    write_set(fl.random_out, table, factors, cands, random);
    std::fprintf(stderr, "calib-set: %zu images (random) linked under %s/images\n", random.size(),
                 fl.random_out.c_str());
  }
  return kOk;
}

}  // namespace

void add_calib_set_command(CLI::App* data, Action* action) {
  auto f = std::make_shared<CalibSetFlags>();
  auto* c = data->add_subcommand(
      "calib-set", "Choose a calibration set for `models quantize`, balanced over labels, head pose and quality");
  c->add_option("labels", f->labels,
                "TSV: header 'file' + factor columns (age, gender, race as in UTKFace's labels.tsv), files relative "
                "to its folder; never the test set")
      ->required();
  c->add_option("--out", f->out, "Folder to create: images/ (links to the chosen images) and strata.tsv")->required();
  c->add_option("--random-out", f->random_out, "Also write a random sample of the same size here (for comparison)");
  c->add_option("--mesh", f->mesh,
                "3D face model for yaw/pitch in degrees (MediaPipe's canonical_face_model.obj; default "
                "$FACEREC_FACE_MESH; without it: five-point proxies)");
  c->add_option("--size", f->size, "Images in the set")->capture_default_str()->check(CLI::Range(1, 1000000));
  c->add_option("--max-pool", f->max_pool, "Measure at most this many labelled images (a seeded sample; 0: all)")
      ->capture_default_str();
  c->add_option("--seed", f->seed, "Seed of the tie-break and of the random sample")->capture_default_str();
  c->callback([=] { *action = [=] { return calib_set(*f); }; });
}

}  // namespace facerec::cli
