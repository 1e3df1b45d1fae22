// facerec data calib-set LABELS --out DIR: a calibration set for `models quantize`, balanced over
// the labels' factors (age band, gender, race for UTKFace) and over what the pipeline measures on
// each image: head pose (yaw from the five points) and quality (sharpness, brightness: tertiles of
// the pool). Prints the strata counts of the set beside those of a random sample of the same size.
#include "commands.hpp"
#include "eval_flags.hpp"

#include <facerec/analyzer.hpp>
#include <facerec/error.hpp>
#include <facerec/image.hpp>
#include <facerec/quantize.hpp>

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>

namespace facerec::cli {
namespace {

struct CalibSetFlags {
  std::string labels, out;
  size_t size = 300, max_pool = 0;
  unsigned seed = 1;
  bool random = false;
};

std::vector<std::string> split_tabs(const std::string& line) {
  std::vector<std::string> out;
  std::stringstream s(line);
  for (std::string f; std::getline(s, f, '\t');) out.push_back(f);
  return out;
}

// A label's level: ages in bands, UTKFace's gender and race codes by name, anything else as it is.
std::string level_of(const std::string& column, const std::string& v) {
  if (column == "age") {
    int a = std::atoi(v.c_str());
    return a <= 10 ? "0-10" : a <= 20 ? "11-20" : a <= 40 ? "21-40" : a <= 60 ? "41-60" : "61+";
  }
  if (column == "gender") return v == "0" ? "male" : v == "1" ? "female" : v;
  if (column == "race") {
    static const char* names[] = {"white", "black", "asian", "indian", "other"};
    int r = std::atoi(v.c_str());
    return v.size() == 1 && r >= 0 && r < 5 ? names[r] : v;
  }
  return v;
}

std::string tertile(double v, const std::vector<double>& sorted, const char* lo, const char* mid, const char* hi) {
  const double a = sorted[sorted.size() / 3], b = sorted[2 * sorted.size() / 3];
  return v < a ? lo : v < b ? mid : hi;
}

void print_counts(const char* title, const std::vector<std::string>& factors,
                  const std::vector<std::map<std::string, size_t>>& counts) {
  std::printf("%s\n", title);
  for (size_t f = 0; f < factors.size(); ++f) {
    std::printf("  %-10s", factors[f].c_str());
    for (const auto& [level, n] : counts[f]) std::printf("  %s %zu", level.c_str(), n);
    std::printf("\n");
  }
}

int calib_set(const CalibSetFlags& fl) {
  std::ifstream in(fl.labels);
  if (!in) throw Error(ErrorKind::NotFound, "calib-set: cannot read " + fl.labels);
  std::string header;
  std::getline(in, header);
  const auto columns = split_tabs(header);
  if (columns.empty() || columns[0] != "file")
    throw Error(ErrorKind::BadInput, fl.labels + ": the first line must be a header starting with 'file'");
  const auto root = std::filesystem::path(fl.labels).parent_path();
  std::error_code ec;
  if (std::filesystem::exists(fl.out, ec)) throw Error(ErrorKind::InvalidArgument, "--out " + fl.out + " exists");
  struct Row {
    std::string file;
    std::vector<std::string> levels;
    double yaw = 0, sharp = 0, bright = 0;
  };
  std::vector<Row> rows;
  size_t line_no = 1;
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    if (line.empty()) continue;
    auto f = split_tabs(line);
    if (f.size() != columns.size())
      throw Error(ErrorKind::BadInput, fl.labels + ":" + std::to_string(line_no) + ": " + std::to_string(f.size()) +
                                           " fields, the header has " + std::to_string(columns.size()));
    Row r;
    r.file = f[0];
    for (size_t c = 1; c < f.size(); ++c) r.levels.push_back(level_of(columns[c], f[c]));
    rows.push_back(std::move(r));
  }
  if (rows.empty()) throw Error(ErrorKind::BadInput, fl.labels + " lists no images");
  if (fl.max_pool > 0 && rows.size() > fl.max_pool) {
    std::mt19937 rng(fl.seed);
    std::shuffle(rows.begin(), rows.end(), rng);
    rows.resize(fl.max_pool);
  }
  // what the pipeline measures: pose from the five points, quality of the face region
  FaceAnalyzer fa(manifest());
  std::vector<Row> pool;
  size_t no_face = 0, unreadable = 0;
  auto progress = progress_printer("measuring pose and quality", "img/s");
  for (size_t i = 0; i < rows.size(); ++i) {
    auto& r = rows[i];
    try {
      auto img = decode_image_file((root / r.file).string());
      const auto faces = fa.analyze(img.bgr, false);
      const Face* face = largest_face(faces);
      if (!face) {
        ++no_face;
      } else {
        const auto& p = face->five;  // eyes, nose, mouth corners
        const float eye_mid = (p[0].x + p[1].x) / 2, iod = std::max(1.f, std::abs(p[1].x - p[0].x));
        r.yaw = double(p[2].x - eye_mid) / iod;
        cv::Mat gray, lap;
        cv::cvtColor(img.bgr, gray, cv::COLOR_BGR2GRAY);
        cv::Rect box = cv::Rect(face->detection.box) & cv::Rect(0, 0, gray.cols, gray.rows);
        if (box.area() > 0) gray = gray(box);
        cv::Laplacian(gray, lap, CV_64F);
        cv::Scalar mean, sd;
        cv::meanStdDev(lap, mean, sd);
        r.sharp = sd[0] * sd[0];
        r.bright = cv::mean(gray)[0];
        pool.push_back(r);
      }
    } catch (const Error&) {
      ++unreadable;
    }
    progress(i + 1, rows.size());
  }
  if (pool.empty()) throw Error(ErrorKind::BadInput, "calib-set: no face found in any image");
  std::vector<double> sharp, bright;
  for (const auto& r : pool) {
    sharp.push_back(r.sharp);
    bright.push_back(r.bright);
  }
  std::sort(sharp.begin(), sharp.end());
  std::sort(bright.begin(), bright.end());
  std::vector<std::string> factors(columns.begin() + 1, columns.end());
  for (const char* f : {"pose", "sharpness", "brightness"}) factors.push_back(f);
  std::vector<CalibrationCandidate> cands;
  for (const auto& r : pool) {
    CalibrationCandidate c{r.file, r.levels};
    const double y = std::abs(r.yaw);
    c.levels.push_back(y < 0.15 ? "frontal" : y < 0.35 ? "turned" : "profile");
    c.levels.push_back(tertile(r.sharp, sharp, "blurred", "medium", "sharp"));
    c.levels.push_back(tertile(r.bright, bright, "dark", "medium", "bright"));
    cands.push_back(std::move(c));
  }
  const auto balanced = balanced_sample(cands, fl.size, fl.seed);
  std::vector<size_t> random(cands.size());
  for (size_t i = 0; i < random.size(); ++i) random[i] = i;
  std::mt19937 rng(fl.seed);
  std::shuffle(random.begin(), random.end(), rng);
  random.resize(balanced.size());
  std::printf("pool: %zu images with a face (%zu without, %zu unreadable)\n", pool.size(), no_face, unreadable);
  print_counts("balanced set:", factors, level_counts(cands, balanced));
  print_counts("random sample of the same size:", factors, level_counts(cands, random));
  const auto& chosen = fl.random ? random : balanced;
  const auto dir = std::filesystem::path(fl.out);
  std::filesystem::create_directories(dir / "images");
  std::ofstream strata(dir / "strata.tsv");
  strata << "file";
  for (const auto& f : factors) strata << "\t" << f;
  strata << "\n";
  for (size_t i : chosen) {
    const auto src = std::filesystem::absolute(root / cands[i].file);
    std::filesystem::create_symlink(src, dir / "images" / src.filename());
    strata << cands[i].file;
    for (const auto& l : cands[i].levels) strata << "\t" << l;
    strata << "\n";
  }
  std::fprintf(stderr, "calib-set: %zu images (%s) linked under %s/images, their strata in strata.tsv\n",
               chosen.size(), fl.random ? "random" : "balanced", fl.out.c_str());
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
  c->add_option("--out", f->out, "Folder to create: images/ (links) and strata.tsv")->required();
  c->add_option("--size", f->size, "Images in the set")->capture_default_str()->check(CLI::Range(1, 1000000));
  c->add_option("--max-pool", f->max_pool, "Measure at most this many labelled images (a seeded sample; 0: all)")
      ->capture_default_str();
  c->add_option("--seed", f->seed, "Seed of the tie-break and of the random sample")->capture_default_str();
  c->add_flag("--random", f->random, "Write the random sample of the same size instead (for comparison)");
  c->callback([=] { *action = [=] { return calib_set(*f); }; });
}

}  // namespace facerec::cli
