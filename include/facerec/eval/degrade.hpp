#pragma once
// Seeded, deterministic image degradations that mimic a surveillance camera, for the quality-pair
// evaluation (high vs high, low vs high, low vs low).
//
// A low-quality copy is made in the order a camera would make it:
//   1. downscale (area averaging) so that the face's inter-ocular distance becomes `iod` pixels,
//   2. optical blur at that resolution: Gaussian (sigma) or linear motion (length, angle),
//   3. under-exposure: out = 255 * gain * (in / 255) ^ gamma,
//   4. Gaussian sensor noise (sigma, per channel, in 8-bit levels),
//   5. JPEG compression at `jpeg_quality`,
//   6. upscale (bilinear) back to the original size.
// Every parameter is drawn per image from the ranges below by a generator seeded with
// (seed, image key), so the same key and seed always give the same pixels on a given OpenCV.
// Thread safety: pure functions.
#include <opencv2/core.hpp>

#include <cstdint>
#include <string>

namespace facerec {

// The ranges draw_degradation draws each image's parameters from, and its seed. A plain value.
struct DegradationRanges {
  uint64_t seed = 20261128;
  float iod_min = 16, iod_max = 32;                            // target inter-ocular distance, px
  float motion_share = 0.5f;                                   // share of images blurred by motion (else Gaussian)
  float gaussian_sigma_min = 0.4f, gaussian_sigma_max = 1.2f;  // px at the reduced size
  float motion_length_min = 2, motion_length_max = 5;          // px at the reduced size
  float gain_min = 0.35f, gain_max = 0.8f;
  float gamma_min = 1.0f, gamma_max = 1.6f;
  float noise_min = 2, noise_max = 8;
  int jpeg_min = 10, jpeg_max = 30;
};

// The parameters drawn for one image. A plain value.
struct Degradation {
  float iod = 24;
  bool motion = false;
  float gaussian_sigma = 0;
  float motion_length = 0, motion_angle_deg = 0;
  float gain = 1, gamma = 1, noise_sigma = 0;
  int jpeg_quality = 95;
  uint64_t noise_seed = 0;
};

// Requires: min <= max in every range, jpeg in [1, 100]. Ensures: same (ranges, key) -> same draw.
// Throws Error(InvalidArgument) naming the range that breaks this.
Degradation draw_degradation(const DegradationRanges& ranges, const std::string& key);

// Requires: an 8-bit BGR image and the face's inter-ocular distance in it (> 0) — the scale
// factor is d.iod / interocular, never above 1 (a face already smaller is not enlarged).
// Ensures: an 8-bit BGR image of the same size.
// Throws Error(InvalidArgument) for an empty or non-CV_8UC3 image, or interocular <= 0.
cv::Mat degrade(const cv::Mat& bgr, float interocular, const Degradation& d);

}  // namespace facerec
