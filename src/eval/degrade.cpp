// Seeded camera-like degradations (see degrade.hpp for the order of the steps).
#include <facerec/error.hpp>
#include <facerec/eval/degrade.hpp>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>

namespace facerec {
namespace {

// splitmix64: a small, portable generator (std:: distributions differ between standard libraries).
struct SplitMix {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform() { return double(next() >> 11) * (1.0 / 9007199254740992.0); }  // [0, 1)
  float between(float lo, float hi) { return float(lo + (hi - lo) * uniform()); }
};

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

void check_range(float lo, float hi, const char* what) {
  if (!(lo <= hi)) throw Error(ErrorKind::InvalidArgument, std::string("degradation range ") + what + ": min > max");
}

}  // namespace

Degradation draw_degradation(const DegradationRanges& r, const std::string& key) {
  check_range(r.iod_min, r.iod_max, "iod");
  check_range(r.gaussian_sigma_min, r.gaussian_sigma_max, "gaussian sigma");
  check_range(r.motion_length_min, r.motion_length_max, "motion length");
  check_range(r.gain_min, r.gain_max, "gain");
  check_range(r.gamma_min, r.gamma_max, "gamma");
  check_range(r.noise_min, r.noise_max, "noise");
  if (r.jpeg_min < 1 || r.jpeg_max > 100 || r.jpeg_min > r.jpeg_max)
    throw Error(ErrorKind::InvalidArgument, "degradation JPEG quality range must lie in [1, 100], min <= max");
  SplitMix g{r.seed ^ fnv1a(key)};
  Degradation d;
  d.iod = g.between(r.iod_min, r.iod_max);
  d.motion = g.uniform() < r.motion_share;
  d.gaussian_sigma = g.between(r.gaussian_sigma_min, r.gaussian_sigma_max);
  d.motion_length = g.between(r.motion_length_min, r.motion_length_max);
  d.motion_angle_deg = g.between(0, 180);
  d.gain = g.between(r.gain_min, r.gain_max);
  d.gamma = g.between(r.gamma_min, r.gamma_max);
  d.noise_sigma = g.between(r.noise_min, r.noise_max);
  d.jpeg_quality = r.jpeg_min + int(g.next() % uint64_t(r.jpeg_max - r.jpeg_min + 1));
  d.noise_seed = g.next();
  return d;
}

cv::Mat degrade(const cv::Mat& bgr, float interocular, const Degradation& d) {
  if (bgr.empty() || bgr.type() != CV_8UC3)
    throw Error(ErrorKind::InvalidArgument, "degrade: needs an 8-bit BGR image");
  if (!(interocular > 0)) throw Error(ErrorKind::InvalidArgument, "degrade: inter-ocular distance must be > 0");
  // 1. sensor resolution
  double s = std::min(1.0, double(d.iod) / double(interocular));
  cv::Size small(std::max(1, int(std::lround(bgr.cols * s))), std::max(1, int(std::lround(bgr.rows * s))));
  cv::Mat img;
  cv::resize(bgr, img, small, 0, 0, cv::INTER_AREA);
  // 2. optics / motion
  if (d.motion) {
    int len = std::max(1, int(std::lround(d.motion_length)));
    int k = len | 1;  // odd kernel holding a centred line of `len` pixels
    cv::Mat kernel = cv::Mat::zeros(k, k, CV_32F);
    double a = d.motion_angle_deg * CV_PI / 180.0;
    cv::Point2d c(k / 2.0, k / 2.0), dir(std::cos(a) * len / 2.0, std::sin(a) * len / 2.0);
    cv::line(kernel, cv::Point(int(c.x - dir.x), int(c.y - dir.y)), cv::Point(int(c.x + dir.x), int(c.y + dir.y)),
             cv::Scalar(1.0), 1, cv::LINE_AA);
    double sum = cv::sum(kernel)[0];
    if (sum > 0) kernel /= sum;
    cv::filter2D(img, img, -1, kernel, cv::Point(-1, -1), 0, cv::BORDER_REFLECT);
  } else if (d.gaussian_sigma > 0) {
    cv::GaussianBlur(img, img, cv::Size(0, 0), d.gaussian_sigma, d.gaussian_sigma, cv::BORDER_REFLECT);
  }
  // 3. exposure and gamma
  cv::Mat lut(1, 256, CV_8U);
  for (int v = 0; v < 256; ++v)
    lut.at<uint8_t>(v) = cv::saturate_cast<uint8_t>(255.0 * d.gain * std::pow(v / 255.0, double(d.gamma)));
  cv::LUT(img, lut, img);
  // 4. sensor noise
  if (d.noise_sigma > 0) {
    cv::Mat noise(img.size(), CV_32FC3), f;
    cv::RNG rng(d.noise_seed);
    rng.fill(noise, cv::RNG::NORMAL, 0.0, double(d.noise_sigma));
    img.convertTo(f, CV_32FC3);
    f += noise;
    f.convertTo(img, CV_8UC3);  // saturates
  }
  // 5. compression
  std::vector<uint8_t> jpg;
  cv::imencode(".jpg", img, jpg, {cv::IMWRITE_JPEG_QUALITY, d.jpeg_quality});
  img = cv::imdecode(jpg, cv::IMREAD_COLOR);
  // 6. back to the original size, as a viewer or a later stage would
  cv::Mat out;
  cv::resize(img, out, bgr.size(), 0, 0, cv::INTER_LINEAR);
  return out;
}

}  // namespace facerec
