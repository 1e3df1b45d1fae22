// Detection recall by face width, every detector side by side in one run: LFW photos pasted with
// their faces at chosen widths into 1920x1080 canvases (include/facerec/scales.hpp), run through
// BlazeFace (tiled down to --min-face), FaceBoxes (one pass), their combination (the default),
// and OpenCV's YuNet (cv::FaceDetectorYN with ../shared/models/reference/yunet_legacy_320x320.onnx,
// comparison only; that file has a fixed 320x320 input, so the canvas is letterboxed to it).
//   build/bench/bench_scales [--samples 100] [--faces 24] [--widths 16,20,...] [--min-face 20]
//                            [--detectors blazeface,faceboxes,blazeface+faceboxes,yunet] [--draw DIR]
#include <facerec/detect.hpp>
#include <facerec/error.hpp>
#include <facerec/eval/scales.hpp>
#include <facerec/face.hpp>
#include <facerec/image.hpp>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <sstream>
#include <string>

#include "bench_util.hpp"

namespace {

using facerec::bench::shared;
using facerec::bench::split;

// YuNet as a FaceDetector: the image letterboxed into the model's fixed 320x320 input.
class YuNet final : public facerec::FaceDetector {
 public:
  explicit YuNet(const std::string& model)
      : model_(model), det_(cv::FaceDetectorYN::create(model, "", cv::Size(320, 320), 0.6f, 0.3f, 5000)) {}
  std::unique_ptr<facerec::FaceDetector> clone() const override { return std::make_unique<YuNet>(model_); }
  std::vector<facerec::Detection> detect(const cv::Mat& bgr) override {
    double s = 320.0 / std::max(bgr.cols, bgr.rows);
    cv::Mat small, boxed(320, 320, CV_8UC3, cv::Scalar(0, 0, 0)), faces;
    cv::resize(bgr, small, cv::Size(), s, s, cv::INTER_AREA);
    small.copyTo(boxed(cv::Rect(0, 0, small.cols, small.rows)));
    det_->detect(boxed, faces);
    std::vector<facerec::Detection> out;
    for (int i = 0; i < faces.rows; ++i) {
      facerec::Detection d;
      d.box = cv::Rect2f(faces.at<float>(i, 0) / float(s), faces.at<float>(i, 1) / float(s),
                         faces.at<float>(i, 2) / float(s), faces.at<float>(i, 3) / float(s));
      d.score = faces.at<float>(i, 14);
      out.push_back(d);
    }
    return out;
  }

 private:
  std::string model_;
  cv::Ptr<cv::FaceDetectorYN> det_;
};

}  // namespace

int main(int argc, char** argv) {
  int samples_wanted = 100, min_face = 20;
  std::string draw;
  facerec::ScaleSweepOptions o;
  std::vector<std::string> detectors{"blazeface", "faceboxes", "blazeface+faceboxes", "yunet"};
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--samples")
      samples_wanted = std::stoi(v);
    else if (k == "--faces")
      o.faces_per_width = std::stoi(v);
    else if (k == "--min-face")
      min_face = std::stoi(v);
    else if (k == "--detectors")
      detectors = split(v);
    else if (k == "--draw")
      draw = v;
    else if (k == "--widths") {
      o.widths.clear();
      for (const auto& w : split(v)) o.widths.push_back(std::stoi(w));
    } else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      return 2;
    }
  }
  auto lfw = shared() / "data" / "lfw" / "images";
  if (!std::filesystem::exists(lfw)) {
    std::fprintf(stderr, "%s is absent: nothing to measure\n", lfw.string().c_str());
    return 0;
  }
  // each sample's face: the default detector's face nearest the centre of the 250x250 photo
  auto reference = facerec::make_detector(facerec::bench::manifest());
  auto samples = facerec::load_face_samples(lfw, samples_wanted, o.seed, *reference);
  std::printf("%zu LFW sample photos, %d faces per width, %dx%d canvases, min face %d px\n", samples.size(),
              o.faces_per_width, o.canvas.width, o.canvas.height, min_face);
  std::printf("%-22s", "recall / detector");
  for (const auto& d : detectors) std::printf(" %20s", d.c_str());
  std::printf("\n");
  std::vector<std::vector<facerec::ScaleSweepRow>> all;
  for (const auto& name : detectors) {
    std::unique_ptr<facerec::FaceDetector> det;
    if (name == "yunet") {
      auto model = shared() / "models" / "reference" / "yunet_legacy_320x320.onnx";
      if (!std::filesystem::exists(model)) {
        std::fprintf(stderr, "%s is absent: YuNet left out\n", model.string().c_str());
        all.emplace_back();
        continue;
      }
      det = std::make_unique<YuNet>(model.string());
    } else {
      facerec::DetectorOptions d;
      d.model = name;
      d.min_face = min_face;
      det = facerec::make_detector(facerec::bench::manifest(), d);
    }
    auto save = [&](int width, int k, const cv::Mat& canvas, const std::vector<facerec::Detection>& dets) {
      if (draw.empty() || k > 1) return;  // the first canvas of each width
      std::filesystem::create_directories(draw);
      cv::Mat c = canvas.clone();
      for (const auto& d : dets) cv::rectangle(c, d.box, cv::Scalar(0, 255, 0), 2);
      cv::imwrite((std::filesystem::path(draw) / (name + "-" + std::to_string(width) + ".jpg")).string(), c);
    };
    all.push_back(facerec::detection_scale_sweep(
        *det, samples, o,
        [&](int done, int total) {
          std::fprintf(stderr, "\r%s: canvas %d/%d   ", name.c_str(), done, total);
          if (done == total) std::fprintf(stderr, "\n");
        },
        save));
  }
  for (size_t w = 0; w < o.widths.size(); ++w) {
    std::printf("face width %4d px    ", o.widths[w]);
    for (const auto& rows : all) {
      if (rows.empty()) {
        std::printf(" %20s", "-");
        continue;
      }
      const auto& r = rows[w];
      std::printf("  %5.3f (%5.0f ms, %2d+)", r.recall(), 1000 * r.seconds / std::max(1, r.canvases), r.other);
    }
    std::printf("\n");
  }
  std::printf("(recall: pasted faces found; ms: detector time per canvas; N+: detections matching no pasted face)\n");
  return 0;
}
