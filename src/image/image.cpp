#include <facerec/error.hpp>
#include <facerec/image.hpp>

#include "common/fs.hpp"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cctype>
#include <cstring>

namespace facerec {
namespace {

DecodedImage decode(const std::string& bytes, const ImageLimits& limits, const std::string& what) {
  if (bytes.empty()) throw Error(ErrorKind::BadInput, what + ": empty file");
  if (int64_t(bytes.size()) > limits.max_file_bytes)
    throw Error(ErrorKind::BadInput, what + ": file of " + std::to_string(bytes.size()) +
                                         " bytes exceeds the limit of " + std::to_string(limits.max_file_bytes));
  // Only formats whose header is read here reach a decoder, so the pixel limit holds for all.
  auto header = probe_image(bytes);
  if (!header)
    throw Error(ErrorKind::BadInput,
                what + ": not an image facerec decodes (JPEG, PNG, BMP, TIFF, WebP, PNM), or its header is corrupt");
  int w = header->width, h = header->height;
  int flags = cv::IMREAD_COLOR;  // 8-bit BGR; EXIF orientation applied for JPEG
  double reduce = 1.0;
  if (w <= 0 || h <= 0)
    throw Error(ErrorKind::BadInput,
                what + ": header declares a " + std::to_string(w) + "x" + std::to_string(h) + " image");
  if (!header->complete)
    throw Error(ErrorKind::BadInput,
                what + ": truncated " + header->format + " (no end-of-image marker): refusing a partial image");
  int64_t px = int64_t(w) * int64_t(h);
  if (px > limits.max_pixels) {
    if (header->format != "jpeg")
      throw Error(ErrorKind::BadInput, what + ": " + std::to_string(w) + "x" + std::to_string(h) +
                                           " pixels exceeds the limit of " + std::to_string(limits.max_pixels) +
                                           " (only JPEG can be reduced while decoding)");
    int f = 2;
    while (f <= 8 && px / (int64_t(f) * f) > limits.max_pixels) f *= 2;
    if (f > 8)
      throw Error(ErrorKind::BadInput,
                  what + ": " + std::to_string(w) + "x" + std::to_string(h) + " is too large even at 1/8 scale");
    flags = f == 2 ? cv::IMREAD_REDUCED_COLOR_2 : f == 4 ? cv::IMREAD_REDUCED_COLOR_4 : cv::IMREAD_REDUCED_COLOR_8;
    reduce = 1.0 / f;
  }
  cv::Mat buf(1, int(bytes.size()), CV_8U, const_cast<char*>(bytes.data()));
  cv::Mat img;
  try {
    img = cv::imdecode(buf, flags);
  } catch (const cv::Exception& e) {
    throw Error(ErrorKind::BadInput, what + ": cannot decode: " + e.err);
  }
  if (img.empty())
    throw Error(ErrorKind::BadInput, what + ": not a decodable image (unknown format, truncated or corrupt)");
  if (img.depth() != CV_8U) img.convertTo(img, CV_8U, img.depth() == CV_16U ? 1.0 / 257 : 1.0);
  if (img.channels() == 1)
    cv::cvtColor(img, img, cv::COLOR_GRAY2BGR);
  else if (img.channels() == 4)
    cv::cvtColor(img, img, cv::COLOR_BGRA2BGR);
  if (int64_t(img.cols) * img.rows > limits.max_pixels)  // the header lied to the probe: never pass it on
    throw Error(ErrorKind::BadInput, what + ": decoded to " + std::to_string(img.cols) + "x" +
                                         std::to_string(img.rows) + ", not the size its header declares");
  if (img.cols < limits.min_side || img.rows < limits.min_side)
    throw Error(ErrorKind::BadInput, what + ": " + std::to_string(img.cols) + "x" + std::to_string(img.rows) +
                                         " is smaller than the minimum side of " + std::to_string(limits.min_side));
  DecodedImage d;
  d.bgr = img;
  d.scale = reduce;
  d.original_width = int(std::lround(img.cols / reduce));
  d.original_height = int(std::lround(img.rows / reduce));
  return d;
}

}  // namespace

DecodedImage decode_image_bytes(const std::string& bytes, const ImageLimits& limits) {
  return decode(bytes, limits, "image");
}

DecodedImage decode_image_file(const std::string& path, const ImageLimits& limits) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw Error(ErrorKind::NotFound, "no such image: " + path);
  auto size = std::filesystem::file_size(path, ec);
  if (!ec && int64_t(size) > limits.max_file_bytes)
    throw Error(ErrorKind::BadInput, path + ": file of " + std::to_string(size) + " bytes exceeds the limit");
  return decode(detail::read_file(path), limits, path);
}

std::vector<std::filesystem::path> list_image_files(const std::filesystem::path& root) {
  std::error_code ec;
  if (!std::filesystem::is_directory(root, ec))
    throw Error(ErrorKind::NotFound, root.string() + " is not a folder of images");
  static const char* const kExtensions[] = {".jpg", ".jpeg", ".png", ".bmp", ".pgm", ".ppm", ".webp", ".tif", ".tiff"};
  std::vector<std::filesystem::path> out;
  const auto options = std::filesystem::directory_options::skip_permission_denied;
  for (auto it = std::filesystem::recursive_directory_iterator(root, options, ec);
       !ec && it != std::filesystem::end(it); it.increment(ec)) {
    std::error_code fec;
    if (!it->is_regular_file(fec)) continue;
    std::string ext = it->path().extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    if (std::find(std::begin(kExtensions), std::end(kExtensions), ext) != std::end(kExtensions))
      out.push_back(it->path().lexically_relative(root));  // (relative() would follow symlinks)
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace facerec
