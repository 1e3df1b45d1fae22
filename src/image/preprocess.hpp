#pragma once
// Shared pre-processing: crops, warps and the manifest's normalisation into NCHW tensors.
#include <facerec/models.hpp>
#include <facerec/tensor.hpp>

#include <opencv2/core.hpp>

namespace facerec::detail {

// Writes one normalised image (8-bit BGR, already spec.width x spec.height) into batch slot
// `index` of `t` (shape [N, 3, H, W]); `flip` mirrors it horizontally.
void fill_input(Tensor& t, int64_t index, const cv::Mat& bgr, const InputSpec& spec, bool flip = false);

// The crop of size `size` whose pixel (u, v) samples the image at crop_to_image * (u, v, 1),
// bilinear, black outside the image.
cv::Mat warp_crop(const cv::Mat& bgr, const cv::Mat& crop_to_image, cv::Size size);

}  // namespace facerec::detail
