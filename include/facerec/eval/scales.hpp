#pragma once
// Detection recall by face size: known faces pasted at chosen widths into large canvases.
//
// What it represents: a measurement of the claim "faces from about 20 px wide up to the whole
// frame are found in a 1920-px photo". Each sample photo (e.g. an LFW image) is scaled so that its
// face is `width` pixels wide and pasted, whole, on a grey canvas of `canvas` size, as many per
// canvas as fit side by side; the detector runs on each canvas. A pasted face counts as found when
// a detection contains its centre and has a size within 2x of it (box conventions differ between
// detectors, so IoU with one detector's boxes would favour that detector). Detections matching no
// pasted face are counted as "other" (they may be background people of the pasted photos).
// Thread safety: the function uses the detector it is given; one call at a time per detector.
#include <facerec/detect.hpp>
#include <facerec/face.hpp>

#include <opencv2/core.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace facerec {

struct FaceSample {
  cv::Mat bgr;      // the photo
  cv::Rect2f face;  // its face, in photo pixels
};

struct ScaleSweepOptions {
  cv::Size canvas{1920, 1080};
  std::vector<int> widths{16, 20, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768};
  int faces_per_width = 24;  // samples pasted per width (cycling through the samples)
  uint32_t seed = 20261128;  // order of the samples and the grey level/noise of the canvases
};

struct ScaleSweepRow {
  int width = 0;
  int faces = 0, found = 0, other = 0, canvases = 0;
  double seconds = 0;  // detector time over the canvases of this width
  double recall() const { return faces ? double(found) / faces : 0.0; }
};

// Up to `count` sample photos: a seeded choice among the .jpg/.jpeg/.png files under `folder`, each
// with the face `reference` finds nearest the photo's centre (photos without a face, or that do not
// decode, are skipped; `on_skip` hears why). Throws Error(NotFound) when no photo gives a face.
std::vector<FaceSample> load_face_samples(
    const std::filesystem::path& folder, int count, uint32_t seed, FaceDetector& reference,
    const std::function<void(const std::string&, const std::string&)>& on_skip = {});

// Requires: at least one sample with a non-empty face box inside its photo; widths > 0.
// `progress(done, total)` is called after each canvas when given.
std::vector<ScaleSweepRow> detection_scale_sweep(
    FaceDetector& detector, const std::vector<FaceSample>& samples, const ScaleSweepOptions& options = {},
    const std::function<void(int, int)>& progress = {},
    const std::function<void(int, int, const cv::Mat&, const std::vector<Detection>&)>& on_canvas = {});

}  // namespace facerec
