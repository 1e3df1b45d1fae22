// Speed of each pipeline stage on this machine, with OpenCV's YuNet (cv::FaceDetectorYN, from
// ../shared/models/reference, comparison only) measured in the same run.
//   build/bench/bench_pipeline [--benchmark_filter=detect]
//   FACEREC_MANIFEST=runs/int8/manifest.json build/bench/bench_pipeline --benchmark_filter=whole   (with int8)
// Threads: the /threads:N suffix sets OpenCV's thread pool (cv::setNumThreads) for that run.
#include <facerec/align.hpp>
#include <facerec/analyzer.hpp>
#include <facerec/detect.hpp>
#include <facerec/embed.hpp>
#include <facerec/error.hpp>
#include <facerec/image.hpp>
#include <facerec/landmarks.hpp>
#include <facerec/quality.hpp>

#include <benchmark/benchmark.h>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>

#include <filesystem>
#include <memory>

#include "bench_util.hpp"

namespace {

using facerec::bench::shared;

cv::Mat photo(int w, int h) {  // a group photo resized (letterboxed) to w x h
  static cv::Mat src = facerec::decode_image_file((shared() / "data/samples/group-photos/sample3.jpg").string()).bgr;
  double s = std::min(double(w) / src.cols, double(h) / src.rows);
  cv::Mat r, out(h, w, CV_8UC3, cv::Scalar(0, 0, 0));
  cv::resize(src, r, cv::Size(), s, s, cv::INTER_AREA);
  r.copyTo(out(cv::Rect(0, 0, r.cols, r.rows)));
  return out;
}

void detect(benchmark::State& st, std::string model, int w, int h, int min_face, std::string verifier) {
  cv::setNumThreads(int(st.range(0)));
  facerec::DetectorOptions o;
  o.model = model;
  o.min_face = min_face;
  o.verifier = verifier;
  auto det = facerec::make_detector(facerec::bench::manifest(), o);
  cv::Mat img = photo(w, h);
  size_t n = 0;
  for (auto _ : st) n = det->detect(img).size();
  st.counters["faces"] = double(n);
}

void yunet(benchmark::State& st, int w, int h) {
  auto model = shared() / "models/reference/yunet_legacy_320x320.onnx";
  if (!std::filesystem::exists(model)) {
    st.SkipWithError("../shared/models/reference/yunet_legacy_320x320.onnx is absent");
    return;
  }
  cv::setNumThreads(int(st.range(0)));
  // this YuNet file has a fixed 320x320 input: the photo is letterboxed to 320x320 (timed too)
  auto det = cv::FaceDetectorYN::create(model.string(), "", cv::Size(320, 320), 0.6f, 0.3f, 5000);
  cv::Mat img = photo(w, h), faces;
  try {
    for (auto _ : st) {
      double s = 320.0 / std::max(w, h);
      cv::Mat small, boxed(320, 320, CV_8UC3, cv::Scalar(0, 0, 0));
      cv::resize(img, small, cv::Size(), s, s, cv::INTER_AREA);
      small.copyTo(boxed(cv::Rect(0, 0, small.cols, small.rows)));
      det->detect(boxed, faces);
    }
  } catch (const cv::Exception& e) {
    st.SkipWithError(e.what());
    return;
  }
  st.counters["faces"] = faces.rows;
}

struct Prepared {
  cv::Mat img;
  facerec::Face face;
};
Prepared& prepared() {
  static Prepared p = [] {
    Prepared q;
    q.img = facerec::decode_image_file((shared() / "data/lfw/images/Colin_Powell/Colin_Powell_0001.jpg").string()).bgr;
    facerec::FaceAnalyzer fa(facerec::bench::manifest());
    q.face = fa.analyze(q.img).at(0);
    return q;
  }();
  return p;
}

void landmarks(benchmark::State& st) {
  cv::setNumThreads(int(st.range(0)));
  auto lm = facerec::make_landmarker(facerec::bench::manifest());
  auto& p = prepared();
  for (auto _ : st) benchmark::DoNotOptimize(lm->landmarks(p.img, p.face.detection));
}

void align(benchmark::State& st) {
  auto& p = prepared();
  for (auto _ : st) benchmark::DoNotOptimize(facerec::dlib_face_chip(p.img, p.face.landmarks, 150, 0.25));
}

// The face quality every analyzed face gets (warp to the 112 template, Laplacian, statistics, the
// logistic score): what analyze() adds per face.
void quality(benchmark::State& st) {
  auto& p = prepared();
  const auto model = facerec::QualityModel::load_default();
  for (auto _ : st)
    benchmark::DoNotOptimize(model.assess(facerec::measure_quality(p.img, p.face.five, p.face.detection.score)));
}

void embed(benchmark::State& st, const char* model, bool flip, bool zoom) {
  cv::setNumThreads(int(st.range(0)));
  facerec::EmbedderOptions o;
  o.model = model;
  o.flip = flip;
  o.zoom = zoom;
  auto e = facerec::make_embedder(facerec::bench::manifest(), o);
  auto& p = prepared();
  const cv::Mat aligned = e->align(p.img, p.face.five, p.face.landmarks);  // the crop this model reads
  for (auto _ : st) benchmark::DoNotOptimize(e->embed(aligned));
}

void whole(benchmark::State& st) {
  cv::setNumThreads(int(st.range(0)));
  facerec::FaceAnalyzer fa(facerec::bench::manifest());
  auto& p = prepared();
  for (auto _ : st) benchmark::DoNotOptimize(fa.analyze(p.img));
}

// A whole photo with every network on `backend` (threads per network = the run's thread count) and,
// when given, another embedder (e.g. the int8 fused model of a manifest named by $FACEREC_MANIFEST).
void whole_on(benchmark::State& st, std::string backend, std::string embedder) {
  cv::setNumThreads(int(st.range(0)));
  facerec::AnalyzerOptions o;
  o.detector.backend = o.landmarker.backend = o.embedder.backend = backend;
  o.detector.threads = o.landmarker.threads = o.embedder.threads = int(st.range(0));
  if (!embedder.empty()) o.embedder.model = embedder;
  std::unique_ptr<facerec::FaceAnalyzer> fa;
  try {
    fa = std::make_unique<facerec::FaceAnalyzer>(facerec::bench::manifest(), o);
  } catch (const facerec::Error& e) {  // a backend this CPU lacks, a model this manifest lacks
    st.SkipWithError(e.what());
    return;
  }
  auto& p = prepared();
  for (auto _ : st) benchmark::DoNotOptimize(fa->analyze(p.img));
}

}  // namespace

#define THREADS ->Arg(1)->Arg(2)->ArgName("threads")->Unit(benchmark::kMillisecond)->UseRealTime()
// default: BlazeFace (tiled down to min_face, FaceMesh check) + FaceBoxes (one pass at 1024)
BENCHMARK_CAPTURE(detect, default_640x480_min20, "blazeface+faceboxes", 640, 480, 20, "facemesh") THREADS;
BENCHMARK_CAPTURE(detect, default_1920x1080_min20, "blazeface+faceboxes", 1920, 1080, 20, "facemesh") THREADS;
BENCHMARK_CAPTURE(detect, blazeface_640x480_min20, "blazeface", 640, 480, 20, "facemesh") THREADS;
BENCHMARK_CAPTURE(detect, blazeface_640x480_min20_noverify, "blazeface", 640, 480, 20, "none") THREADS;
BENCHMARK_CAPTURE(detect, blazeface_1920x1080_min20, "blazeface", 1920, 1080, 20, "facemesh") THREADS;
BENCHMARK_CAPTURE(detect, blazeface_1920x1080_min80, "blazeface", 1920, 1080, 80, "facemesh") THREADS;
BENCHMARK_CAPTURE(detect, faceboxes_640x480, "faceboxes", 640, 480, 20, "none") THREADS;
BENCHMARK_CAPTURE(detect, faceboxes_1920x1080, "faceboxes", 1920, 1080, 20, "none") THREADS;
// MTCNN: P-Net pyramid down to min_face, R-Net and O-Net batched (five landmarks, no landmarker needed)
BENCHMARK_CAPTURE(detect, mtcnn_640x480_min20, "mtcnn-pnet", 640, 480, 20, "none") THREADS;
BENCHMARK_CAPTURE(detect, mtcnn_1920x1080_min20, "mtcnn-pnet", 1920, 1080, 20, "none") THREADS;
BENCHMARK_CAPTURE(detect, mtcnn_1920x1080_min80, "mtcnn-pnet", 1920, 1080, 80, "none") THREADS;
BENCHMARK_CAPTURE(yunet, yunet_640x480, 640, 480) THREADS;
BENCHMARK_CAPTURE(yunet, yunet_1920x1080, 1920, 1080) THREADS;
BENCHMARK(landmarks) THREADS;
BENCHMARK(align)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(quality)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(embed, dlib_resnet, "face_recognition_model", false, false) THREADS;
BENCHMARK_CAPTURE(embed, dlib_resnet_flip, "face_recognition_model", true, false) THREADS;
BENCHMARK_CAPTURE(embed, dlib_resnet_flip_zoom, "face_recognition_model", true, true) THREADS;  // the default to 0.1
BENCHMARK_CAPTURE(embed, mobilefacenet_ms1m, "mobilefacenet-ms1m", false, false) THREADS;
BENCHMARK_CAPTURE(embed, mobilefacenet_ms1m_flip, "mobilefacenet-ms1m", true, false) THREADS;
BENCHMARK_CAPTURE(embed, fused, "dlib-mfn-fused", false, false) THREADS;
BENCHMARK_CAPTURE(embed, fused_flip, "dlib-mfn-fused", true, false) THREADS;  // the default
BENCHMARK_CAPTURE(embed, fused_flip_zoom, "dlib-mfn-fused", true, true) THREADS;
BENCHMARK(whole) THREADS;
// the same photo with every network on another backend; int8: FACEREC_MANIFEST=runs/int8/manifest.json
BENCHMARK_CAPTURE(whole_on, onednn, "onednn", "") THREADS;
BENCHMARK_CAPTURE(whole_on, xnnpack, "xnnpack", "") THREADS;
BENCHMARK_CAPTURE(whole_on, onednn_bf16, "onednn-bf16", "") THREADS;
BENCHMARK_CAPTURE(whole_on, onednn_int8_fused, "onednn", "dlib-mfn-fused-int8") THREADS;
BENCHMARK_MAIN();
