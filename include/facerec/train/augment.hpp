#pragma once
// Online augmentation for training (the seed's list): horizontal flip, JPEG re-compression over a
// quality range, Gaussian or motion blur, hue shift, brightness and contrast, and down-up
// resampling to a random low resolution; and two more camera effects, under-exposure (gain and
// gamma) and Gaussian sensor noise — each with a probability and a range, deterministic for a
// seed. Works on 8-bit BGR images (aligned crops); needs no libtorch.
//
// What it represents: AugmentOptions is a value (a training config section); augment() is a pure
// function of (image, options, seed): the same seed gives the same image on every run and machine
// with the same OpenCV. Thread safety: pure; call it from any number of threads.
#include <opencv2/core.hpp>

#include <cstdint>
#include <string>

namespace facerec::train {

struct AugmentOptions {
  double flip_p = 0.5;
  double jpeg_p = 0.3;
  int jpeg_quality_min = 20, jpeg_quality_max = 90;
  double blur_p = 0.2;
  double motion_share = 0.5;  // of the blurs: motion (a line kernel at a random angle) vs Gaussian
  double gaussian_sigma_min = 0.5, gaussian_sigma_max = 2.0;
  int motion_length_min = 3, motion_length_max = 9;  // px
  double hue_p = 0.3;
  double hue_max_deg = 10;                          // shift drawn in [-max, max]
  double tone_p = 0.5;                              // brightness and contrast
  double brightness_max = 0.2;                      // additive, a fraction of 255, drawn in [-max, max]
  double contrast_min = 0.75, contrast_max = 1.25;  // about the image mean
  double lowres_p = 0.2;
  int lowres_min = 16, lowres_max = 56;  // the shorter side is resampled to this many px and back
  // off by default (added after the seed's list; a run's draws of the other operations do not
  // depend on these)
  double exposure_p = 0;  // under-exposure: out = 255 * gain * (in / 255) ^ gamma
  double gain_min = 0.35, gain_max = 0.8;
  double gamma_min = 1.0, gamma_max = 1.6;
  double noise_p = 0;                               // Gaussian sensor noise, per pixel and channel
  double noise_sigma_min = 2, noise_sigma_max = 8;  // 8-bit levels
};

// Calls f(name, field) for every field of `o`, in a fixed order (the config's JSON keys): the one
// list the config's reader, writer and tests use.
template <typename O, typename F>
void for_each_field(O& o, F&& f) {
  f("flip_p", o.flip_p);
  f("jpeg_p", o.jpeg_p);
  f("jpeg_quality_min", o.jpeg_quality_min);
  f("jpeg_quality_max", o.jpeg_quality_max);
  f("blur_p", o.blur_p);
  f("motion_share", o.motion_share);
  f("gaussian_sigma_min", o.gaussian_sigma_min);
  f("gaussian_sigma_max", o.gaussian_sigma_max);
  f("motion_length_min", o.motion_length_min);
  f("motion_length_max", o.motion_length_max);
  f("hue_p", o.hue_p);
  f("hue_max_deg", o.hue_max_deg);
  f("tone_p", o.tone_p);
  f("brightness_max", o.brightness_max);
  f("contrast_min", o.contrast_min);
  f("contrast_max", o.contrast_max);
  f("lowres_p", o.lowres_p);
  f("lowres_min", o.lowres_min);
  f("lowres_max", o.lowres_max);
  f("exposure_p", o.exposure_p);
  f("gain_min", o.gain_min);
  f("gain_max", o.gain_max);
  f("gamma_min", o.gamma_min);
  f("gamma_max", o.gamma_max);
  f("noise_p", o.noise_p);
  f("noise_sigma_min", o.noise_sigma_min);
  f("noise_sigma_max", o.noise_sigma_max);
}

// What augment() did to one image (the drawn parameters; 0 / false: not applied).
struct AugmentRecord {
  bool flip = false;
  int jpeg_quality = 0;
  double gaussian_sigma = 0;
  int motion_length = 0;
  double motion_angle_deg = 0;
  double hue_deg = 0;
  double brightness = 0;  // fraction of 255
  double contrast = 1;
  int lowres = 0;                // px
  double gain = 1, gamma = 1;    // exposure
  double noise_sigma = 0;        // levels
  std::string describe() const;  // "flip jpeg=35 lowres=24" and so on; "none"
};

// Throws Error(InvalidArgument) naming the field for a probability outside [0, 1] or an empty or
// reversed range.
void validate(const AugmentOptions& options);

// The augmented copy of `bgr` (same size and type). Every parameter is drawn from `seed` in a
// fixed order whether or not its operation applies, so changing one probability does not change
// the draws of the others. Requires: a non-empty 8-bit BGR image. Throws Error(InvalidArgument)
// otherwise, and as validate().
cv::Mat augment(const cv::Mat& bgr, const AugmentOptions& options, uint64_t seed, AugmentRecord* record = nullptr);

}  // namespace facerec::train
