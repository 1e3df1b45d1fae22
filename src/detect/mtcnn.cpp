// MTCNN (Zhang et al., "Joint Face Detection and Alignment using Multi-task Cascaded Convolutional
// Networks", 2016): three networks in a cascade, the weights of the original Caffe release as
// TFLite files (models/manifest.json, family "mtcnn"; the P-Net entry names the others in
// "cascade"). The Caffe networks were trained on transposed images (x and y swapped), so every
// network input here is the transpose of the image or crop, and the outputs are read back into the
// image frame: a P-Net output cell (r, c) is the 12x12 window at image (x, y) = (2r, 2c) of the
// scaled image, and box regressions and landmarks are (x, y) in the image frame.
//   1. P-Net on an image pyramid (scale 12/min_face, then x0.709 while the shorter side >= 12):
//      windows scoring >= 0.6, NMS 0.5 per scale, NMS 0.7 over all, box regression, squared.
//   2. R-Net on 24x24 crops (black outside the image), batched: >= 0.7, NMS 0.7, regression,
//      squared.
//   3. O-Net on 48x48 crops: >= max(0.7, score_threshold), five landmarks (fractions of the box),
//      regression, NMS 0.7 by overlap over the smaller box.
#include <facerec/backend.hpp>
#include <facerec/detect.hpp>
#include <facerec/error.hpp>
#include <facerec/face.hpp>
#include <facerec/models.hpp>

#include "backend/session.hpp"
#include "image/preprocess.hpp"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>

namespace facerec {
namespace {

struct Candidate {
  float x1, y1, x2, y2, score;
  float reg[4] = {0, 0, 0, 0};  // dx1, dy1, dx2, dy2 in box sizes
  std::vector<cv::Point2f> points;
};

// Hard NMS; `min_mode`: overlap over the smaller area instead of the union.
std::vector<Candidate> nms(std::vector<Candidate> c, float thr, bool min_mode) {
  std::sort(c.begin(), c.end(), [](const Candidate& a, const Candidate& b) { return a.score > b.score; });
  std::vector<Candidate> keep;
  std::vector<bool> gone(c.size(), false);
  for (size_t i = 0; i < c.size(); ++i) {
    if (gone[i]) continue;
    keep.push_back(c[i]);
    const float ai = (c[i].x2 - c[i].x1) * (c[i].y2 - c[i].y1);
    for (size_t j = i + 1; j < c.size(); ++j) {
      if (gone[j]) continue;
      float w = std::min(c[i].x2, c[j].x2) - std::max(c[i].x1, c[j].x1);
      float h = std::min(c[i].y2, c[j].y2) - std::max(c[i].y1, c[j].y1);
      if (w <= 0 || h <= 0) continue;
      const float inter = w * h, aj = (c[j].x2 - c[j].x1) * (c[j].y2 - c[j].y1);
      const float o = min_mode ? inter / std::min(ai, aj) : inter / (ai + aj - inter);
      if (o > thr) gone[j] = true;
    }
  }
  return keep;
}

void regress(Candidate& c) {
  const float w = c.x2 - c.x1, h = c.y2 - c.y1;
  c.x1 += c.reg[0] * w;
  c.y1 += c.reg[1] * h;
  c.x2 += c.reg[2] * w;
  c.y2 += c.reg[3] * h;
}

void square(Candidate& c) {
  const float w = c.x2 - c.x1, h = c.y2 - c.y1, l = std::max(w, h);
  c.x1 += (w - l) / 2;
  c.y1 += (h - l) / 2;
  c.x2 = c.x1 + l;
  c.y2 = c.y1 + l;
}

class Mtcnn final : public FaceDetector {
 public:
  std::unique_ptr<FaceDetector> clone() const override { return std::make_unique<Mtcnn>(*this); }

  Mtcnn(const Manifest& manifest, const DetectorOptions& o) : opt_(o) {
    const ModelEntry& p = manifest.model(o.model);
    if (p.task != "detect" || p.family != "mtcnn" || p.cascade.size() != 2)
      throw Error(ErrorKind::InvalidArgument, "model '" + o.model +
                                                  "' is not the first stage of an MTCNN cascade (family mtcnn with "
                                                  "two refinement stages in \"cascade\")");
    entries_ = {p, manifest.model(p.cascade[0]), manifest.model(p.cascade[1])};
    const int want_outputs[3] = {2, 2, 3};
    for (int i = 0; i < 3; ++i)
      if (entries_[size_t(i)].family != "mtcnn" || int(entries_[size_t(i)].outputs.size()) != want_outputs[i])
        throw Error(ErrorKind::BadModel, "MTCNN stage '" + entries_[size_t(i)].name + "' has " +
                                             std::to_string(entries_[size_t(i)].outputs.size()) + " outputs, not " +
                                             std::to_string(want_outputs[i]));
    BackendOptions bo;
    bo.threads = o.threads;
    for (int i = 0; i < 3; ++i)
      nets_[size_t(i)] = load_backend(backend_for(entries_[size_t(i)], o.backend), model_path(entries_[size_t(i)]).string(), bo);
  }

  std::vector<Detection> detect(const cv::Mat& bgr) override {
    if (bgr.empty() || bgr.type() != CV_8UC3)
      throw Error(ErrorKind::InvalidArgument, "detect: expected an 8-bit BGR image");
    auto c = propose(bgr);
    c = refine(bgr, std::move(c), 1, 0.7f);
    c = refine(bgr, std::move(c), 2, std::max(0.7f, opt_.score_threshold));
    const cv::Rect2f frame(0, 0, float(bgr.cols), float(bgr.rows));
    std::vector<Detection> out;
    for (const auto& k : c) {
      Detection d;
      d.score = k.score;
      d.box = cv::Rect2f(k.x1, k.y1, k.x2 - k.x1, k.y2 - k.y1) & frame;
      if (d.box.area() <= 0 || std::max(d.box.width, d.box.height) < float(opt_.min_face)) continue;
      d.keypoints = k.points;
      out.push_back(std::move(d));
    }
    std::sort(out.begin(), out.end(), [](const Detection& a, const Detection& b) { return a.score > b.score; });
    if (opt_.max_faces > 0 && int(out.size()) > opt_.max_faces) out.resize(size_t(opt_.max_faces));
    return out;
  }

 private:
  DetectorOptions opt_;
  std::array<ModelEntry, 3> entries_;
  std::array<detail::SessionPtr, 3> nets_;

  // The network input for `bgr` (any size): its transpose, normalised as the stage's manifest says.
  Tensor transposed_input(const cv::Mat& bgr, int stage) const {
    cv::Mat t;
    cv::transpose(bgr, t);
    InputSpec spec = entries_[size_t(stage)].input;
    spec.width = t.cols;
    spec.height = t.rows;
    Tensor in({1, 3, t.rows, t.cols});
    detail::fill_input(in, 0, t, spec);
    return in;
  }

  std::vector<Candidate> propose(const cv::Mat& bgr) {
    const int min_face = std::max(opt_.min_face, 12);
    double scale = 12.0 / min_face;
    const double factor = 0.709;
    std::vector<Candidate> all;
    for (int level = 0; level < 64; ++level, scale *= factor) {
      const int w = int(std::ceil(bgr.cols * scale)), h = int(std::ceil(bgr.rows * scale));
      if (std::min(w, h) < 12) break;
      cv::Mat scaled;
      cv::resize(bgr, scaled, cv::Size(w, h), 0, 0, cv::INTER_AREA);
      auto outs = nets_[0]->run({transposed_input(scaled, 0)});
      const Tensor& prob = outs.at(0);  // [1, R, C, 2] over the transposed image: R along x, C along y
      const Tensor& reg = outs.at(1);   // [1, R, C, 4]
      if (prob.shape.size() != 4 || reg.shape.size() != 4 || prob.shape[3] != 2 || reg.shape[3] != 4 ||
          prob.shape[1] != reg.shape[1] || prob.shape[2] != reg.shape[2])
        throw Error(ErrorKind::BadModel, "MTCNN P-Net outputs " + shape_to_string(prob.shape) + " and " +
                                             shape_to_string(reg.shape) + " are not [1, R, C, 2] and [1, R, C, 4]");
      std::vector<Candidate> level_c;
      const int64_t R = prob.shape[1], C = prob.shape[2];
      for (int64_t r = 0; r < R; ++r)
        for (int64_t cc = 0; cc < C; ++cc) {
          const size_t cell = size_t(r * C + cc);
          const float score = prob.data[2 * cell + 1];
          if (score < 0.6f) continue;
          Candidate k;
          k.x1 = float(double(2 * r) / scale);
          k.y1 = float(double(2 * cc) / scale);
          k.x2 = float(double(2 * r + 12) / scale);
          k.y2 = float(double(2 * cc + 12) / scale);
          k.score = score;
          std::copy_n(reg.data.begin() + std::ptrdiff_t(4 * cell), 4, k.reg);
          level_c.push_back(k);
        }
      level_c = nms(std::move(level_c), 0.5f, false);
      all.insert(all.end(), level_c.begin(), level_c.end());
    }
    all = nms(std::move(all), 0.7f, false);
    for (auto& k : all) {
      regress(k);
      square(k);
    }
    return all;
  }

  // R-Net (stage 1) or O-Net (stage 2) on crops of the candidates, batched.
  std::vector<Candidate> refine(const cv::Mat& bgr, std::vector<Candidate> c, int stage, float threshold) {
    // a box the regression made non-finite or degenerate is dropped before it is cropped
    c.erase(std::remove_if(c.begin(), c.end(),
                           [](const Candidate& k) {
                             return !(std::isfinite(k.x1) && std::isfinite(k.y1) && std::isfinite(k.x2) &&
                                      std::isfinite(k.y2) && k.x2 > k.x1 && k.y2 > k.y1);
                           }),
            c.end());
    if (c.empty()) return c;
    const ModelEntry& e = entries_[size_t(stage)];
    const int S = e.input.width;
    constexpr size_t kBatch = 64;
    std::vector<Candidate> kept;
    for (size_t start = 0; start < c.size(); start += kBatch) {
      const size_t n = std::min(kBatch, c.size() - start);
      Tensor in({int64_t(n), 3, S, S});
      for (size_t i = 0; i < n; ++i) {
        const Candidate& k = c[start + i];
        // the box, rounded to pixels, black outside the image
        const int x1 = int(std::lround(k.x1)), y1 = int(std::lround(k.y1));
        const int bw = std::max(1, int(std::lround(k.x2)) - x1), bh = std::max(1, int(std::lround(k.y2)) - y1);
        cv::Mat crop(bh, bw, CV_8UC3, cv::Scalar(0, 0, 0));
        const cv::Rect box(x1, y1, bw, bh), inside = box & cv::Rect(0, 0, bgr.cols, bgr.rows);
        if (inside.area() > 0) bgr(inside).copyTo(crop(inside - box.tl()));
        cv::Mat resized, t;
        cv::resize(crop, resized, cv::Size(S, S), 0, 0, cv::INTER_AREA);
        cv::transpose(resized, t);
        detail::fill_input(in, int64_t(i), t, e.input);
      }
      auto outs = nets_[size_t(stage)]->run({in});
      const Tensor& prob = outs.at(0);
      const Tensor& reg = outs.at(1);
      if (prob.data.size() != 2 * n || reg.data.size() != 4 * n || (stage == 2 && outs.at(2).data.size() != 10 * n))
        throw Error(ErrorKind::BadModel, "MTCNN stage '" + e.name + "' gave outputs of unexpected sizes");
      for (size_t i = 0; i < n; ++i) {
        Candidate k = c[start + i];
        k.score = prob.data[2 * i + 1];
        if (k.score < threshold) continue;
        std::copy_n(reg.data.begin() + std::ptrdiff_t(4 * i), 4, k.reg);
        if (stage == 2) {
          const float* p = outs[2].data.data() + 10 * i;
          const float w = k.x2 - k.x1, h = k.y2 - k.y1;
          k.points.clear();
          for (int j = 0; j < 5; ++j) k.points.emplace_back(k.x1 + w * p[j], k.y1 + h * p[5 + j]);
        }
        kept.push_back(std::move(k));
      }
    }
    if (stage == 1) {
      kept = nms(std::move(kept), 0.7f, false);
      for (auto& k : kept) {
        regress(k);
        square(k);
      }
    } else {
      for (auto& k : kept) regress(k);
      kept = nms(std::move(kept), 0.7f, true);
    }
    return kept;
  }
};

}  // namespace

std::unique_ptr<FaceDetector> make_mtcnn_detector(const Manifest& manifest, const DetectorOptions& options) {
  return std::make_unique<Mtcnn>(manifest, options);
}

}  // namespace facerec
