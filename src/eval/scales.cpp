#include <facerec/detect.hpp>
#include <facerec/error.hpp>
#include <facerec/eval/scales.hpp>
#include <facerec/image.hpp>

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>

namespace facerec {
namespace {

struct Placed {
  cv::Rect2f face;  // on the canvas
};

// Pastes samples (starting at `next`) scaled so that their faces are `width` px wide, row by row,
// until the canvas is full or `count` faces are placed. A photo larger than the canvas is cropped
// around its face.
std::vector<Placed> fill_canvas(cv::Mat& canvas, const std::vector<FaceSample>& samples,
                                const std::vector<size_t>& order, size_t& next, int count, int width) {
  std::vector<Placed> placed;
  int x = 0, y = 0, row_h = 0;
  while (int(placed.size()) < count) {
    const FaceSample& s = samples[order[next % order.size()]];
    const double f = double(width) / s.face.width;
    // the region of the photo to paste, in photo pixels: all of it, or a canvas-sized window
    // centred on the face
    double rw = std::min<double>(s.bgr.cols, canvas.cols / f), rh = std::min<double>(s.bgr.rows, canvas.rows / f);
    cv::Point2f c = (s.face.tl() + s.face.br()) * 0.5f;
    const int rx = int(std::clamp(double(c.x) - rw / 2, 0.0, s.bgr.cols - rw)),
              ry = int(std::clamp(double(c.y) - rh / 2, 0.0, s.bgr.rows - rh));
    const cv::Rect region(rx, ry, std::max(1, std::min(s.bgr.cols - rx, int(rw))),
                          std::max(1, std::min(s.bgr.rows - ry, int(rh))));
    const int pw = std::max(1, int(std::floor(region.width * f))), ph = std::max(1, int(std::floor(region.height * f)));
    if (x + pw > canvas.cols) {
      x = 0;
      y += row_h;
      row_h = 0;
    }
    if (y + ph > canvas.rows) break;
    // area averaging when shrinking, as a camera's sensor would (no aliasing on tiny faces)
    cv::Mat patch;
    cv::resize(s.bgr(region), patch, cv::Size(pw, ph), 0, 0, f < 1 ? cv::INTER_AREA : cv::INTER_LINEAR);
    patch.copyTo(canvas(cv::Rect(x, y, pw, ph)));
    const double fx = double(pw) / region.width, fy = double(ph) / region.height;
    placed.push_back({cv::Rect2f(float((double(s.face.x) - rx) * fx + x), float((double(s.face.y) - ry) * fy + y),
                                 float(s.face.width * fx), float(s.face.height * fy))});
    x += pw;
    row_h = std::max(row_h, ph);
    ++next;
  }
  return placed;
}

}  // namespace

std::vector<FaceSample> load_face_samples(const std::filesystem::path& folder, int count, uint32_t seed,
                                          FaceDetector& reference,
                                          const std::function<void(const std::string&, const std::string&)>& on_skip) {
  std::vector<std::filesystem::path> files;
  for (const auto& f : list_image_files(folder)) files.push_back(folder / f);
  if (files.empty()) throw Error(ErrorKind::NotFound, "no images under " + folder.string());
  std::mt19937 rng(seed);
  std::shuffle(files.begin(), files.end(), rng);
  std::vector<FaceSample> samples;
  for (const auto& f : files) {
    if (int(samples.size()) >= count) break;
    try {
      auto img = decode_image_file(f.string());
      auto dets = reference.detect(img.bgr);
      if (const Detection* best = nearest_to_centre(dets, img.bgr.size())) samples.push_back({img.bgr, best->box});
    } catch (const Error& e) {
      if (on_skip) on_skip(f.string(), e.what());
    }
  }
  if (samples.empty())
    throw Error(ErrorKind::NotFound, "the reference detector found no face under " + folder.string());
  return samples;
}

std::vector<ScaleSweepRow> detection_scale_sweep(
    FaceDetector& detector, const std::vector<FaceSample>& samples, const ScaleSweepOptions& o,
    const std::function<void(int, int)>& progress,
    const std::function<void(int, int, const cv::Mat&, const std::vector<Detection>&)>& on_canvas) {
  std::vector<size_t> order;
  for (size_t i = 0; i < samples.size(); ++i)
    if (!samples[i].bgr.empty() && samples[i].face.width > 1 && samples[i].face.height > 1) order.push_back(i);
  if (order.empty()) throw Error(ErrorKind::InvalidArgument, "scale sweep: no sample photo with a face box");
  if (o.canvas.width < 64 || o.canvas.height < 64)
    throw Error(ErrorKind::InvalidArgument, "scale sweep: the canvas must be at least 64x64");
  for (int w : o.widths)
    if (w <= 0) throw Error(ErrorKind::InvalidArgument, "scale sweep: face widths must be positive");
  std::mt19937 rng(o.seed);
  std::shuffle(order.begin(), order.end(), rng);
  cv::RNG noise(o.seed);

  // Canvases needed per width (a dry run of the layout), for the progress total.
  std::vector<ScaleSweepRow> rows;
  int total = 0, done = 0;
  cv::Mat probe(o.canvas, CV_8UC3);
  size_t next = 0;  // the layout below takes the samples in the same order as the run
  for (int w : o.widths) {
    int n = 0, placed = 0;
    while (placed < o.faces_per_width) {
      auto p = fill_canvas(probe, samples, order, next, o.faces_per_width - placed, w);
      if (p.empty())
        throw Error(ErrorKind::InvalidArgument, "scale sweep: width " + std::to_string(w) + " does not fit");
      placed += int(p.size());
      ++n;
    }
    total += n;
  }

  next = 0;
  for (size_t wi = 0; wi < o.widths.size(); ++wi) {
    ScaleSweepRow row;
    row.width = o.widths[wi];
    while (row.faces < o.faces_per_width) {
      int grey = std::uniform_int_distribution<int>(70, 180)(rng);
      cv::Mat canvas(o.canvas, CV_8UC3, cv::Scalar(grey, grey, grey));
      cv::Mat n(o.canvas, CV_8UC3);
      noise.fill(n, cv::RNG::NORMAL, cv::Scalar(128, 128, 128),
                 cv::Scalar(6, 6, 6));  // seeded: same canvases every run
      cv::addWeighted(canvas, 1.0, n, 1.0, -128, canvas);
      auto placed = fill_canvas(canvas, samples, order, next, o.faces_per_width - row.faces, row.width);
      auto t0 = std::chrono::steady_clock::now();
      auto dets = detector.detect(canvas);
      row.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::vector<bool> used(dets.size(), false);
      for (const auto& p : placed) {
        cv::Point2f c = (p.face.tl() + p.face.br()) * 0.5f;
        double best = 1e9;
        size_t bi = dets.size();
        for (size_t i = 0; i < dets.size(); ++i) {
          if (used[i] || !dets[i].box.contains(c)) continue;
          double ratio = std::sqrt(double(dets[i].box.area()) / std::max(1.0, double(p.face.area())));
          if (ratio < 0.5 || ratio > 2.0) continue;
          double d = std::abs(std::log(ratio));
          if (d < best) best = d, bi = i;
        }
        if (bi < dets.size()) {
          used[bi] = true;
          ++row.found;
        }
      }
      row.other += int(std::count(used.begin(), used.end(), false));
      row.faces += int(placed.size());
      ++row.canvases;
      if (on_canvas) on_canvas(row.width, row.canvases, canvas, dets);
      if (progress) progress(++done, total);
    }
    rows.push_back(row);
  }
  return rows;
}

}  // namespace facerec
