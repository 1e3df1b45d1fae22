#pragma once
// Image decoding with limits.
//
// decode_image() turns a file or bytes into an 8-bit, 3-channel BGR cv::Mat: greyscale, 16-bit,
// RGBA/palette and CMYK inputs are converted, the EXIF orientation of JPEGs is applied, and images
// larger than the limit are decoded at a reduced size (JPEG: 1/2, 1/4 or 1/8 while decoding, so a
// 20000x20000 photo never needs 1.2 GB) or refused with a clear error.
// Thread safety: free functions without shared state; safe from any thread.
#include <opencv2/core.hpp>

#include <cstdint>
#include <string>

namespace facerec {

struct ImageLimits {
  int64_t max_pixels = 40'000'000;       // decoded images larger than this are reduced or refused
  int64_t max_file_bytes = 100'000'000;  // larger files are refused before reading
  int min_side = 8;                      // smaller images are refused (nothing to find in a 1x1)
};

struct DecodedImage {
  cv::Mat bgr;                                  // CV_8UC3
  int original_width = 0, original_height = 0;  // as stored in the file (after EXIF rotation)
  double scale = 1.0;                           // bgr size / original size (< 1 when reduced while decoding)
};

// Throws Error: NotFound (no file), InvalidArgument (empty, not an image, truncated beyond
// decoding, too small, too large to reduce).
DecodedImage decode_image_file(const std::string& path, const ImageLimits& limits = {});
DecodedImage decode_image_bytes(const std::string& bytes, const ImageLimits& limits = {});

// Pixel dimensions from a JPEG/PNG/BMP/GIF/PPM header without decoding; false when unknown.
bool probe_image_size(const std::string& bytes, int& width, int& height);

}  // namespace facerec
