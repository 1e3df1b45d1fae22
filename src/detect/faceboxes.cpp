// FaceBoxes (Zhang et al., "FaceBoxes: A CPU Real-time Face Detector with High Accuracy", 2017),
// the TensorFlow port converted to TFJS in human-models. The network is imported from the
// standardised image to its six prediction convolutions (models/manifest.json, "cut"); what the
// TFJS graph did around them is done here, as that graph does it:
//   input   the image scaled to 1024 on its longer side (at most 4x up), padded right and bottom
//           with black to multiples of 128; (pixel / 255) * 2 - 1
//   anchors three grids (strides 32, 64, 128); per stride-32 cell 21 anchors: size 32 densified
//           4x4, size 64 densified 2x2, size 128; one anchor of size 256 per stride-64 cell and
//           one of 512 per stride-128 cell. The d x d copies of a densified anchor sit
//           size / d apart, centred on the cell centre, x-offset outer, y-offset inner. Anchors
//           are clipped to the input.
//   scores  softmax over (background, face)
//   boxes   TF object-detection box coder: centre += (ty, tx) / 10 * anchor size,
//           size = anchor size * exp((th, tw) / 5); clipped to the input.
// The anchor layout was checked against the TFJS graph's own anchor tensor (tests/test_detect.cpp
// holds values from it).
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
namespace detail {

std::vector<cv::Rect2f> faceboxes_anchors(int width, int height) {
  struct Group {
    int stride;
    std::vector<std::pair<float, int>> sizes;  // (anchor size, density)
  };
  const Group groups[] = {{32, {{32.f, 4}, {64.f, 2}, {128.f, 1}}}, {64, {{256.f, 1}}}, {128, {{512.f, 1}}}};
  std::vector<cv::Rect2f> out;
  const cv::Rect2f frame(0, 0, float(width), float(height));
  for (const auto& g : groups) {
    int gw = (width + g.stride - 1) / g.stride, gh = (height + g.stride - 1) / g.stride;
    for (int y = 0; y < gh; ++y)
      for (int x = 0; x < gw; ++x)
        for (const auto& [size, density] : g.sizes) {
          const float step = size / float(density), mid = 0.5f * float(density - 1);
          for (int i = 0; i < density; ++i)      // x offset (outer)
            for (int j = 0; j < density; ++j) {  // y offset (inner)
              float cx = (float(x) + 0.5f) * float(g.stride) + (float(i) - mid) * step;
              float cy = (float(y) + 0.5f) * float(g.stride) + (float(j) - mid) * step;
              out.push_back(cv::Rect2f(cx - size / 2, cy - size / 2, size, size) & frame);
            }
        }
  }
  return out;
}

}  // namespace detail

namespace {

class FaceBoxes final : public FaceDetector {
 public:
  std::unique_ptr<FaceDetector> clone() const override { return std::make_unique<FaceBoxes>(*this); }

  FaceBoxes(const Manifest& manifest, const DetectorOptions& o) : opt_(o) {
    entry_ = manifest.model(o.model);
    if (entry_.task != "detect" || entry_.family != "faceboxes" || entry_.outputs.size() != 6)
      throw Error(ErrorKind::InvalidArgument, "model '" + o.model + "' is not a FaceBoxes detector");
    if (entry_.input.width != entry_.input.height || entry_.input.width % 128 != 0)
      throw Error(ErrorKind::BadModel, "FaceBoxes input must be square and a multiple of 128");
    size_ = entry_.input.width;
    BackendOptions bo;
    bo.threads = o.threads;
    net_ = load_backend(backend_for(entry_, o.backend), model_path(entry_).string(), bo);
  }

  std::vector<Detection> detect(const cv::Mat& bgr) override {
    if (bgr.empty() || bgr.type() != CV_8UC3)
      throw Error(ErrorKind::InvalidArgument, "detect: expected an 8-bit BGR image");
    const float W = float(bgr.cols), H = float(bgr.rows);
    // Scaled so that the longer side is the manifest's input size (1024), then padded right and
    // bottom to multiples of 128 as the TFJS graph pads. (The graph runs at the image's own size;
    // on small photos that finds 35-px faces less reliably: dlib's training.xml, ~500-px photos,
    // scaled to 640 gives recall 0.889 and 1 false positive, at 1024 1.000 and none.)
    // Tiny photos (under 256 px) are scaled up at most 4x: a face in them is at most the photo's
    // size, which 4x brings within the anchors (up to 512), at a fraction of the 1024 cost.
    const float s = std::min(4.f, float(size_) / std::max(W, H));  // input pixels per image pixel
    const int sw = std::max(1, int(std::lround(W * s))), sh = std::max(1, int(std::lround(H * s)));
    const int iw = std::min(size_, (sw + 127) / 128 * 128), ih = std::min(size_, (sh + 127) / 128 * 128);
    cv::Mat scaled;
    cv::resize(bgr, scaled, cv::Size(sw, sh), 0, 0, s < 1 ? cv::INTER_AREA : cv::INTER_LINEAR);
    cv::Mat input(ih, iw, CV_8UC3, cv::Scalar(0, 0, 0));
    scaled(cv::Rect(0, 0, std::min(sw, iw), std::min(sh, ih)))
        .copyTo(input(cv::Rect(0, 0, std::min(sw, iw), std::min(sh, ih))));
    if (anchors_size_ != cv::Size(iw, ih)) {
      anchors_ = detail::faceboxes_anchors(iw, ih);
      anchors_size_ = cv::Size(iw, ih);
    }
    const float S_w = float(iw), S_h = float(ih);
    Tensor in({1, 3, ih, iw});
    InputSpec spec = entry_.input;  // the manifest's normalisation at this call's size
    spec.width = iw;
    spec.height = ih;
    detail::fill_input(in, 0, input, spec);
    auto outs = net_->run({in});
    if (outs.size() != 6) throw Error(ErrorKind::BadModel, "FaceBoxes model has unexpected outputs");
    std::vector<Detection> dets;
    size_t a = 0;
    for (int g = 0; g < 3; ++g) {
      const auto& sc = outs[size_t(2 * g)].data;
      const auto& bx = outs[size_t(2 * g + 1)].data;
      if (bx.size() != 2 * sc.size() || a + sc.size() / 2 > anchors_.size())
        throw Error(ErrorKind::BadModel, "FaceBoxes outputs do not match the anchors");
      for (size_t i = 0; i < sc.size() / 2; ++i, ++a) {
        float score = 1.f / (1.f + std::exp(std::clamp(sc[2 * i] - sc[2 * i + 1], -80.f, 80.f)));
        if (score < opt_.score_threshold) continue;
        const cv::Rect2f& an = anchors_[a];
        const float* t = bx.data() + 4 * i;
        float ha = an.height, wa = an.width, ya = an.y + ha / 2, xa = an.x + wa / 2;
        float yc = t[0] / 10.f * ha + ya, xc = t[1] / 10.f * wa + xa;
        float h = ha * std::exp(std::min(t[2] / 5.f, 10.f)), w = wa * std::exp(std::min(t[3] / 5.f, 10.f));
        cv::Rect2f box = cv::Rect2f(xc - w / 2, yc - h / 2, w, h) & cv::Rect2f(0, 0, S_w, S_h);
        if (box.area() <= 0) continue;
        Detection d;
        d.score = score;
        d.box = cv::Rect2f(box.x / s, box.y / s, box.width / s, box.height / s) & cv::Rect2f(0, 0, W, H);
        // smaller than the smallest face asked for (min_face, as BlazeFace's search stops there)
        if (d.box.area() > 0 && std::max(d.box.width, d.box.height) >= float(opt_.min_face))
          dets.push_back(std::move(d));
      }
    }
    if (a != anchors_.size()) throw Error(ErrorKind::BadModel, "FaceBoxes outputs do not match the anchors");
    auto out = detail::weighted_nms(std::move(dets), opt_.nms_iou);
    if (opt_.max_faces > 0 && int(out.size()) > opt_.max_faces) out.resize(size_t(opt_.max_faces));
    return out;
  }

 private:
  DetectorOptions opt_;
  ModelEntry entry_;
  int size_ = 0;
  std::vector<cv::Rect2f> anchors_;  // for the input size of the last call
  cv::Size anchors_size_;
  detail::SessionPtr net_;
};

}  // namespace

std::unique_ptr<FaceDetector> make_faceboxes_detector(const Manifest& manifest, const DetectorOptions& options) {
  return std::make_unique<FaceBoxes>(manifest, options);
}

}  // namespace facerec
