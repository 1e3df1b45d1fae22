#include "image/preprocess.hpp"

#include <facerec/error.hpp>

#include <opencv2/imgproc.hpp>

namespace facerec::detail {

void fill_input(Tensor& t, int64_t index, const cv::Mat& bgr, const InputSpec& spec, bool flip) {
  if (bgr.type() != CV_8UC3 || bgr.cols != spec.width || bgr.rows != spec.height)
    throw Error(ErrorKind::Internal, "fill_input: expected a " + std::to_string(spec.width) + "x" +
                                         std::to_string(spec.height) + " BGR image");
  const int H = spec.height, W = spec.width;
  float* base = t.data.data() + index * 3 * H * W;
  const bool rgb = spec.color == "RGB";
  for (int y = 0; y < H; ++y) {
    const auto* row = bgr.ptr<cv::Vec3b>(y);
    for (int x = 0; x < W; ++x) {
      const cv::Vec3b& px = row[flip ? W - 1 - x : x];
      for (int c = 0; c < 3; ++c) {
        float v = float(px[rgb ? 2 - c : c]);
        base[(c * H + y) * W + x] = (v - spec.mean[c]) * spec.scale[c];
      }
    }
  }
}

cv::Mat warp_crop(const cv::Mat& bgr, const cv::Mat& crop_to_image, cv::Size size) {
  cv::Mat out;
  cv::warpAffine(bgr, out, crop_to_image, size, cv::INTER_LINEAR | cv::WARP_INVERSE_MAP, cv::BORDER_CONSTANT,
                 cv::Scalar(0, 0, 0));
  return out;
}

}  // namespace facerec::detail
