// MediaPipe BlazeFace: SSD anchors as MediaPipe configures them, box + 6 keypoint decoding,
// weighted non-maximum suppression, and a scale pyramid of tiles so that faces from `min_face`
// pixels up to the whole frame are found in large photos.
//
// Anchor configuration (MediaPipe's SsdAnchorsCalculator, fixed anchor size, offset 0.5):
//   short-range (128x128 input): 4 layers, strides 8, 16, 16, 16 -> 16x16x2 + 8x8x6 = 896 anchors
//   full-range  (256x256 input): 4 layers, strides 16, 32, 32, 32 -> 16x16x2 + 8x8x6 = 896 anchors
// Layers with the same stride share one grid, 2 anchors per layer per cell. Decoding divides the
// regressors by the input size (x/y/w/h scale) and adds the anchor centre.
#include <facerec/backend.hpp>
#include <facerec/detect.hpp>
#include <facerec/error.hpp>
#include <facerec/face.hpp>
#include <facerec/models.hpp>

#include "backend/session.hpp"
#include "detect/postprocess.hpp"
#include "image/preprocess.hpp"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>

namespace facerec {
namespace {

using detail::Anchor;
using detail::make_anchors;
using detail::weighted_nms;

// One BlazeFace network: its manifest entry, input size, anchors and backend session.
struct Net {
  ModelEntry entry;
  int size = 0;
  std::vector<Anchor> anchors;
  detail::SessionPtr backend;

  Net(const Manifest& manifest, const std::string& name, const DetectorOptions& o) {
    entry = manifest.model(name);
    if (entry.task != "detect" || entry.family != "blazeface")
      throw Error(ErrorKind::InvalidArgument, "model '" + name + "' is not a BlazeFace detector");
    size = entry.input.width;
    anchors = make_anchors(size, size >= 256 ? std::vector<int>{16, 32, 32, 32} : std::vector<int>{8, 16, 16, 16});
    BackendOptions bo;
    bo.threads = o.threads;
    backend = load_backend(backend_for(entry, o.backend), model_path(entry).string(), bo);
  }
};

class BlazeFace final : public FaceDetector {
 public:
  BlazeFace(const BlazeFace& o)
      : opt_(o.opt_),
        main_(std::make_unique<Net>(*o.main_)),
        close_(o.close_ ? std::make_unique<Net>(*o.close_) : nullptr),
        verifier_entry_(o.verifier_entry_),
        verifier_(o.verifier_),
        flag_output_(o.flag_output_) {}
  std::unique_ptr<FaceDetector> clone() const override { return std::make_unique<BlazeFace>(*this); }

  BlazeFace(const Manifest& manifest, const DetectorOptions& o) : opt_(o) {
    main_ = std::make_unique<Net>(manifest, o.model, o);
    if (!o.close_range_model.empty() && o.close_range_model != "none" && o.close_range_model != o.model)
      close_ = std::make_unique<Net>(manifest, o.close_range_model, o);
    if (o.verifier != "none") {
      BackendOptions bo;
      bo.threads = o.threads;
      verifier_entry_ = manifest.model(o.verifier);
      verifier_ = load_backend(backend_for(verifier_entry_, o.backend), model_path(verifier_entry_).string(), bo);
      flag_output_ = verifier_entry_.output_with_role("face_flag").name;
    }
  }

  std::vector<Detection> detect(const cv::Mat& bgr) override {
    if (bgr.empty() || bgr.type() != CV_8UC3)
      throw Error(ErrorKind::InvalidArgument, "detect: expected an 8-bit BGR image");
    std::vector<Detection> all;
    const float W = float(bgr.cols), H = float(bgr.rows);
    const float S = float(main_->size);
    // Pyramid: level 0 fits the whole image in one input; each next level doubles the scale,
    // tiling the image with overlapping inputs, up to the scale where `min_face` pixels span
    // about 24 input pixels (or 2x, whichever is smaller).
    float s = S / std::max(W, H);
    float s_max = std::min(2.f, 24.f / float(std::max(opt_.min_face, 4)));
    int tiles = 0;
    for (int level = 0;; ++level) {
      float sw = W * s, sh = H * s;
      float stride = S * 0.75f;
      int nx = sw <= S ? 1 : int(std::ceil((sw - S) / stride)) + 1;
      int ny = sh <= S ? 1 : int(std::ceil((sh - S) / stride)) + 1;
      tiles += nx * ny;
      if (level > 0 && opt_.max_tiles > 0 && tiles > opt_.max_tiles) break;  // work bound: skip the finer levels
      // below scale 1, shrink once per level with area averaging; tiles then sample that copy
      cv::Mat level_img = bgr;
      if (s < 1)
        cv::resize(bgr, level_img, cv::Size(std::max(1, int(std::lround(sw))), std::max(1, int(std::lround(sh)))), 0, 0,
                   cv::INTER_AREA);
      for (int ty = 0; ty < ny; ++ty)
        for (int tx = 0; tx < nx; ++tx) {
          float ox = nx == 1 ? 0.f : std::min(float(tx) * stride, sw - S);  // tile origin, scaled pixels
          float oy = ny == 1 ? 0.f : std::min(float(ty) * stride, sh - S);
          bool inner_l = ox > 0, inner_t = oy > 0, inner_r = ox + S < sw, inner_b = oy + S < sh;
          run_tile(*main_, level_img, float(level_img.cols) / W, s, ox, oy, inner_l, inner_t, inner_r, inner_b, all);
        }
      // The short-range model (128 input) is for faces that fill the frame: one pass over the whole
      // image; small faces are the full-range model's (tiling it cost 5 runs on a 250 px photo)
      if (main_->size <= 128 || s * 2 > s_max * 1.0001f || level > 6) break;
      s *= 2;
    }
    auto out = weighted_nms(std::move(all), opt_.nms_iou);
    auto verify = [&](std::vector<Detection>& ds) {
      if (verifier_)
        ds.erase(std::remove_if(ds.begin(), ds.end(),
                                [&](const Detection& d) { return presence(bgr, d) < opt_.verify_threshold; }),
                 ds.end());
    };
    verify(out);
    // The close-range network on the whole image, as a fallback: it adds faces that fill the frame
    // (selfies, ID photos), which the full-range network misses, and leaves the others' boxes as
    // the full-range network found them.
    if (close_) {
      std::vector<Detection> near;
      run_tile(*close_, bgr, 1.f, float(close_->size) / std::max(W, H), 0, 0, false, false, false, false, near);
      near = detail::weighted_nms(std::move(near), opt_.nms_iou);
      verify(near);
      for (auto& d : near) {
        bool known = false;
        for (const auto& k : out)
          known = known || detail::iou(k.box, d.box) > 0.1f ||
                  (k.box & d.box).area() > 0.5f * std::min(k.box.area(), d.box.area());
        if (!known) out.push_back(std::move(d));
      }
      std::sort(out.begin(), out.end(), [](const Detection& a, const Detection& b) { return a.score > b.score; });
    }
    for (auto& d : out) d.box &= cv::Rect2f(0, 0, W, H);
    out.erase(std::remove_if(out.begin(), out.end(), [](const Detection& d) { return d.box.area() <= 0; }), out.end());
    if (opt_.max_faces > 0 && int(out.size()) > opt_.max_faces) out.resize(size_t(opt_.max_faces));
    return out;
  }

 private:
  DetectorOptions opt_;
  std::unique_ptr<Net> main_, close_;
  ModelEntry verifier_entry_;
  detail::SessionPtr verifier_;
  std::string flag_output_;

  // FaceMesh's face-presence score for a square crop of 1.5x the box around its centre.
  float presence(const cv::Mat& bgr, const Detection& d) {
    const int S = verifier_entry_.input.width;
    float side = 1.5f * std::max(d.box.width, d.box.height);
    cv::Point2f c = (d.box.tl() + d.box.br()) * 0.5f;
    double k = double(side) / S;
    cv::Mat m = (cv::Mat_<double>(2, 3) << k, 0, c.x - side / 2, 0, k, c.y - side / 2);
    cv::Mat crop = detail::warp_crop(bgr, m, cv::Size(S, S));
    Tensor in({1, 3, S, S});
    detail::fill_input(in, 0, crop, verifier_entry_.input);
    auto outs = verifier_->run({in});
    auto specs = verifier_->outputs();
    for (size_t i = 0; i < specs.size(); ++i)
      if (specs[i].name == flag_output_) return outs[i].data.at(0);
    return 0.f;
  }

  // `img` is the image at `img_scale` (1 or the level's reduced copy); `s` the level's scale.
  void run_tile(Net& net, const cv::Mat& img, float img_scale, float s, float ox, float oy, bool inner_l, bool inner_t,
                bool inner_r, bool inner_b, std::vector<Detection>& out) {
    const int size_ = net.size;
    const float S = float(size_);
    const auto& anchors_ = net.anchors;
    // input pixel (u, v) -> original image ((u + ox) / s, (v + oy) / s) -> img pixel * img_scale
    double k = double(img_scale) / s;
    cv::Mat m = (cv::Mat_<double>(2, 3) << k, 0, ox * k, 0, k, oy * k);
    cv::Mat crop = detail::warp_crop(img, m, cv::Size(size_, size_));
    Tensor in({1, 3, size_, size_});
    detail::fill_input(in, 0, crop, net.entry.input);
    auto outs = net.backend->run({in});
    // Outputs by shape: [1, n, 1] scores and [1, n, 16] regressors for n = 512 and 384.
    const Tensor *s512 = nullptr, *r512 = nullptr, *s384 = nullptr, *r384 = nullptr;
    for (const auto& t : outs) {
      if (t.shape.size() != 3) continue;
      bool score = t.shape[2] == 1;
      if (t.shape[1] == 512) (score ? s512 : r512) = &t;
      if (t.shape[1] == 384) (score ? s384 : r384) = &t;
    }
    if (!s512 || !r512 || !s384 || !r384 || anchors_.size() != 896)
      throw Error(ErrorKind::BadModel, "BlazeFace model '" + net.entry.name + "' has unexpected outputs");
    const float edge = 0.01f * S;
    for (size_t i = 0; i < 896; ++i) {
      const Tensor& sc = i < 512 ? *s512 : *s384;
      const Tensor& rg = i < 512 ? *r512 : *r384;
      size_t j = i < 512 ? i : i - 512;
      float raw = std::clamp(sc.data[j], -100.f, 100.f);
      float score = 1.f / (1.f + std::exp(-raw));
      if (score < opt_.score_threshold) continue;
      const float* r = rg.data.data() + j * 16;
      const Anchor& a = anchors_[i];
      float cx = (r[0] / S + a.cx) * S, cy = (r[1] / S + a.cy) * S;  // input pixels
      float w = r[2], h = r[3];
      float x0 = cx - w / 2, y0 = cy - h / 2, x1 = cx + w / 2, y1 = cy + h / 2;
      // a face cut by an inner tile edge is found whole by a neighbouring tile or a coarser level
      if ((inner_l && x0 < edge) || (inner_t && y0 < edge) || (inner_r && x1 > S - edge) || (inner_b && y1 > S - edge))
        continue;
      Detection d;
      d.score = score;
      d.box = cv::Rect2f((x0 + ox) / s, (y0 + oy) / s, w / s, h / s);
      for (int p = 0; p < 6; ++p)
        d.keypoints.emplace_back((r[4 + 2 * p] + a.cx * S + ox) / s, (r[5 + 2 * p] + a.cy * S + oy) / s);
      out.push_back(std::move(d));
    }
  }
};

}  // namespace

std::unique_ptr<FaceDetector> make_blazeface_detector(const Manifest& manifest, const DetectorOptions& options) {
  return std::make_unique<BlazeFace>(manifest, options);
}

}  // namespace facerec
