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

// A photo and its face, to paste. A plain value.
struct FaceSample {
  cv::Mat bgr;      // the photo
  cv::Rect2f face;  // its face, in photo pixels
};

// The canvases and face widths of the sweep. A plain value.
struct ScaleSweepOptions {
  cv::Size canvas{1920, 1080};
  std::vector<int> widths{16, 20, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768};
  int faces_per_width = 24;  // samples pasted per width (cycling through the samples)
  uint32_t seed = 20261128;  // order of the samples and the grey level/noise of the canvases
};

// The sweep's result for one face width. A plain value.
struct ScaleSweepRow {
  int width = 0;
  int faces = 0, found = 0, other = 0, canvases = 0;
  double seconds = 0;  // detector time over the canvases of this width
  double recall() const { return faces ? double(found) / faces : 0.0; }
};

// Up to `count` sample photos: a seeded choice among the .jpg/.jpeg/.png files (lower-case
// extensions) anywhere under `folder`, each with the face `reference` finds nearest the photo's
// centre. Photos without a face are skipped silently; photos whose decoding or detection throws
// Error are skipped, and `on_skip` (may be empty) hears the file and why. Throws Error(NotFound)
// when there is no such file or no photo gives a face (std::filesystem::filesystem_error when
// `folder` cannot be listed).
std::vector<FaceSample> load_face_samples(
    const std::filesystem::path& folder, int count, uint32_t seed, FaceDetector& reference,
    const std::function<void(const std::string&, const std::string&)>& on_skip = {});

// Requires: at least one sample with a non-empty face box inside its photo; widths > 0.
// `progress(done, total)` is called after each canvas when given, `on_canvas(width, canvas number
// (1-based), canvas, detections)` likewise. Ensures: one row per width, in the order given.
// Throws Error(InvalidArgument) when no sample has a face box over 1 px, the canvas is below
// 64x64, a width is <= 0 or a face of that width does not fit the canvas; and what the detector throws.
std::vector<ScaleSweepRow> detection_scale_sweep(
    FaceDetector& detector, const std::vector<FaceSample>& samples, const ScaleSweepOptions& options = {},
    const std::function<void(int, int)>& progress = {},
    const std::function<void(int, int, const cv::Mat&, const std::vector<Detection>&)>& on_canvas = {});

}  // namespace facerec
