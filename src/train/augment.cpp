// Online augmentation: parameters drawn from one seeded generator in a fixed order, then applied
// in the order a camera pipeline degrades an image: optics (blur), sampling (low resolution, with
// exposure and sensor noise at the sensor's resolution), colour and tone, mirror, and compression
// last.
#include <facerec/error.hpp>
#include <facerec/train/augment.hpp>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <cmath>
#include <random>
#include <vector>

namespace facerec::train {

namespace {

void check_p(double p, const char* name) {
  if (!(p >= 0 && p <= 1))
    throw Error(ErrorKind::InvalidArgument, std::string("augment: ") + name + " must be in [0, 1]");
}
template <typename T>
void check_range(T lo, T hi, T min_allowed, T max_allowed, const char* name) {
  if (!(lo <= hi && lo >= min_allowed && hi <= max_allowed))
    throw Error(ErrorKind::InvalidArgument, std::string("augment: ") + name + " range is empty, reversed or out of [" +
                                                std::to_string(min_allowed) + ", " + std::to_string(max_allowed) + "]");
}

cv::Mat motion_kernel(int length, double angle_deg) {
  cv::Mat k = cv::Mat::zeros(length, length, CV_32F);
  const double c = (length - 1) / 2.0, a = angle_deg * CV_PI / 180;
  for (int i = 0; i < 4 * length; ++i) {  // a line through the centre, densely sampled
    double t = (i / (4.0 * length - 1) - 0.5) * (length - 1);
    int x = int(std::lround(c + t * std::cos(a))), y = int(std::lround(c + t * std::sin(a)));
    if (x >= 0 && y >= 0 && x < length && y < length) k.at<float>(y, x) = 1.f;
  }
  return k / cv::sum(k)[0];
}

}  // namespace

std::string AugmentRecord::describe() const {
  std::string s;
  auto add = [&](const std::string& part) { s += (s.empty() ? "" : " ") + part; };
  char b[64];
  if (gaussian_sigma > 0) std::snprintf(b, sizeof b, "gauss=%.2f", gaussian_sigma), add(b);
  if (motion_length > 0) std::snprintf(b, sizeof b, "motion=%d@%.0f", motion_length, motion_angle_deg), add(b);
  if (lowres > 0) add("lowres=" + std::to_string(lowres));
  if (gain != 1 || gamma != 1) std::snprintf(b, sizeof b, "exposure=x%.2f^%.2f", gain, gamma), add(b);
  if (noise_sigma > 0) std::snprintf(b, sizeof b, "noise=%.1f", noise_sigma), add(b);
  if (hue_deg != 0) std::snprintf(b, sizeof b, "hue=%+.1f", hue_deg), add(b);
  if (brightness != 0 || contrast != 1) std::snprintf(b, sizeof b, "tone=%+.2f,x%.2f", brightness, contrast), add(b);
  if (flip) add("flip");
  if (jpeg_quality > 0) add("jpeg=" + std::to_string(jpeg_quality));
  return s.empty() ? "none" : s;
}

void validate(const AugmentOptions& o) {
  check_p(o.flip_p, "flip_p");
  check_p(o.jpeg_p, "jpeg_p");
  check_p(o.blur_p, "blur_p");
  check_p(o.motion_share, "motion_share");
  check_p(o.hue_p, "hue_p");
  check_p(o.tone_p, "tone_p");
  check_p(o.lowres_p, "lowres_p");
  check_p(o.exposure_p, "exposure_p");
  check_p(o.noise_p, "noise_p");
  check_range(o.jpeg_quality_min, o.jpeg_quality_max, 1, 100, "jpeg_quality");
  check_range(o.gaussian_sigma_min, o.gaussian_sigma_max, 0.01, 20.0, "gaussian_sigma");
  check_range(o.motion_length_min, o.motion_length_max, 2, 64, "motion_length");
  check_range(o.hue_max_deg, o.hue_max_deg, 0.0, 180.0, "hue_max_deg");
  check_range(o.brightness_max, o.brightness_max, 0.0, 1.0, "brightness_max");
  check_range(o.contrast_min, o.contrast_max, 0.01, 10.0, "contrast");
  check_range(o.lowres_min, o.lowres_max, 4, 4096, "lowres");
  check_range(o.gain_min, o.gain_max, 0.01, 4.0, "gain");
  check_range(o.gamma_min, o.gamma_max, 0.1, 10.0, "gamma");
  check_range(o.noise_sigma_min, o.noise_sigma_max, 0.0, 128.0, "noise_sigma");
}

cv::Mat augment(const cv::Mat& bgr, const AugmentOptions& o, uint64_t seed, AugmentRecord* record) {
  if (bgr.empty() || bgr.type() != CV_8UC3) throw Error(ErrorKind::InvalidArgument, "augment: expected 8-bit BGR");
  validate(o);
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  auto between = [&](double a, double b) { return a + (b - a) * u(rng); };
  auto ibetween = [&](int a, int b) { return a + int(std::floor(u(rng) * (b - a + 1 - 1e-9))); };
  // every draw, always, in this order
  const bool do_flip = u(rng) < o.flip_p;
  const bool do_jpeg = u(rng) < o.jpeg_p;
  const int quality = ibetween(o.jpeg_quality_min, o.jpeg_quality_max);
  const bool do_blur = u(rng) < o.blur_p;
  const bool motion = u(rng) < o.motion_share;
  const double sigma = between(o.gaussian_sigma_min, o.gaussian_sigma_max);
  const int length = ibetween(o.motion_length_min, o.motion_length_max);
  const double angle = between(0, 180);
  const bool do_hue = u(rng) < o.hue_p;
  const double hue = between(-o.hue_max_deg, o.hue_max_deg);
  const bool do_tone = u(rng) < o.tone_p;
  const double brightness = between(-o.brightness_max, o.brightness_max);
  const double contrast = between(o.contrast_min, o.contrast_max);
  const bool do_lowres = u(rng) < o.lowres_p;
  const int low = ibetween(o.lowres_min, o.lowres_max);
  const bool do_exposure = u(rng) < o.exposure_p;
  const double gain = between(o.gain_min, o.gain_max), gamma = between(o.gamma_min, o.gamma_max);
  const bool do_noise = u(rng) < o.noise_p;
  const double noise = between(o.noise_sigma_min, o.noise_sigma_max);
  const uint64_t noise_seed = rng();

  AugmentRecord r;
  cv::Mat img = bgr.clone();
  if (do_blur) {
    if (motion) {
      cv::filter2D(img, img, -1, motion_kernel(length, angle), cv::Point(-1, -1), 0, cv::BORDER_REFLECT);
      r.motion_length = length;
      r.motion_angle_deg = angle;
    } else {
      cv::GaussianBlur(img, img, cv::Size(0, 0), sigma, sigma, cv::BORDER_REFLECT);
      r.gaussian_sigma = sigma;
    }
  }
  // the sensor: low resolution, and exposure and noise at that resolution
  const bool lowres = do_lowres && low < std::min(img.cols, img.rows);
  if (lowres) {
    double k = double(low) / std::min(img.cols, img.rows);
    cv::resize(img, img,
               cv::Size(std::max(1, int(std::lround(img.cols * k))), std::max(1, int(std::lround(img.rows * k)))), 0, 0,
               cv::INTER_AREA);
    r.lowres = low;
  }
  if (do_exposure) {
    cv::Mat lut(1, 256, CV_8U);
    for (int v = 0; v < 256; ++v)
      lut.at<uchar>(v) = cv::saturate_cast<uchar>(255.0 * gain * std::pow(v / 255.0, gamma));
    cv::LUT(img, lut, img);
    r.gain = gain;
    r.gamma = gamma;
  }
  if (do_noise && noise > 0) {
    cv::Mat n(img.size(), CV_32FC3), f;
    cv::RNG g(noise_seed);
    g.fill(n, cv::RNG::NORMAL, 0, noise);
    img.convertTo(f, CV_32F);
    f += n;
    f.convertTo(img, CV_8U);  // saturating
    r.noise_sigma = noise;
  }
  if (lowres) cv::resize(img, img, bgr.size(), 0, 0, cv::INTER_LINEAR);
  if (do_hue && hue != 0) {
    cv::Mat hsv;
    cv::cvtColor(img, hsv, cv::COLOR_BGR2HSV_FULL);  // hue in 0..255 for 0..360 degrees
    const int shift = int(std::lround(hue * 256.0 / 360.0));
    for (int y = 0; y < hsv.rows; ++y)
      for (int x = 0; x < hsv.cols; ++x) {
        auto& h = hsv.at<cv::Vec3b>(y, x)[0];
        h = uchar((int(h) + shift + 256) % 256);
      }
    cv::cvtColor(hsv, img, cv::COLOR_HSV2BGR_FULL);
    r.hue_deg = double(shift) * 360.0 / 256.0;
  }
  if (do_tone) {
    const cv::Scalar mean = cv::mean(img);
    cv::Mat f;
    img.convertTo(f, CV_32F);
    f = (f - mean) * contrast + mean + cv::Scalar::all(brightness * 255);
    f.convertTo(img, CV_8U);  // saturating
    r.brightness = brightness;
    r.contrast = contrast;
  }
  if (do_flip) {
    cv::flip(img, img, 1);
    r.flip = true;
  }
  if (do_jpeg) {
    std::vector<uchar> buf;
    cv::imencode(".jpg", img, buf, {cv::IMWRITE_JPEG_QUALITY, quality});
    img = cv::imdecode(buf, cv::IMREAD_COLOR);
    r.jpeg_quality = quality;
  }
  if (record) *record = r;
  return img;
}

}  // namespace facerec::train
