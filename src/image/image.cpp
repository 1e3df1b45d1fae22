#include <facerec/error.hpp>
#include <facerec/image.hpp>

#include "common/fs.hpp"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <cstring>

namespace facerec {
namespace {

uint32_t be16(const unsigned char* p) { return (uint32_t(p[0]) << 8) | p[1]; }
uint32_t be32(const unsigned char* p) { return (be16(p) << 16) | be16(p + 2); }

bool probe_jpeg(const unsigned char* p, size_t n, int& w, int& h) {
  size_t i = 2;
  while (i + 9 < n) {
    if (p[i] != 0xFF) return false;
    unsigned char marker = p[i + 1];
    if (marker == 0xD8 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) {
      i += 2;
      continue;
    }
    uint32_t len = be16(p + i + 2);
    bool sof = (marker >= 0xC0 && marker <= 0xCF) && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
    if (sof) {
      h = int(be16(p + i + 5));
      w = int(be16(p + i + 7));
      return true;
    }
    i += 2 + len;
  }
  return false;
}

bool is_jpeg(const std::string& b) {
  return b.size() > 3 && (unsigned char)b[0] == 0xFF && (unsigned char)b[1] == 0xD8;
}

DecodedImage decode(const std::string& bytes, const ImageLimits& limits, const std::string& what) {
  if (bytes.empty()) throw Error(ErrorKind::InvalidArgument, what + ": empty file");
  if (int64_t(bytes.size()) > limits.max_file_bytes)
    throw Error(ErrorKind::InvalidArgument, what + ": file of " + std::to_string(bytes.size()) +
                                                " bytes exceeds the limit of " + std::to_string(limits.max_file_bytes));
  int w = 0, h = 0;
  bool known = probe_image_size(bytes, w, h);
  int flags = cv::IMREAD_COLOR;  // 8-bit BGR; EXIF orientation applied for JPEG
  double reduce = 1.0;
  if (known) {
    if (w <= 0 || h <= 0)
      throw Error(ErrorKind::InvalidArgument,
                  what + ": header declares a " + std::to_string(w) + "x" + std::to_string(h) + " image");
    int64_t px = int64_t(w) * int64_t(h);
    if (px > limits.max_pixels) {
      if (!is_jpeg(bytes))
        throw Error(ErrorKind::InvalidArgument,
                    what + ": " + std::to_string(w) + "x" + std::to_string(h) + " pixels exceeds the limit of " +
                        std::to_string(limits.max_pixels) + " (only JPEG can be reduced while decoding)");
      int f = 2;
      while (f <= 8 && px / (int64_t(f) * f) > limits.max_pixels) f *= 2;
      if (f > 8)
        throw Error(ErrorKind::InvalidArgument,
                    what + ": " + std::to_string(w) + "x" + std::to_string(h) + " is too large even at 1/8 scale");
      flags = f == 2 ? cv::IMREAD_REDUCED_COLOR_2 : f == 4 ? cv::IMREAD_REDUCED_COLOR_4 : cv::IMREAD_REDUCED_COLOR_8;
      reduce = 1.0 / f;
    }
  }
  cv::Mat buf(1, int(bytes.size()), CV_8U, const_cast<char*>(bytes.data()));
  cv::Mat img;
  try {
    img = cv::imdecode(buf, flags);
  } catch (const cv::Exception& e) {
    throw Error(ErrorKind::InvalidArgument, what + ": cannot decode: " + e.err);
  }
  if (img.empty())
    throw Error(ErrorKind::InvalidArgument, what + ": not a decodable image (unknown format, truncated or corrupt)");
  if (img.depth() != CV_8U) img.convertTo(img, CV_8U, img.depth() == CV_16U ? 1.0 / 257 : 1.0);
  if (img.channels() == 1)
    cv::cvtColor(img, img, cv::COLOR_GRAY2BGR);
  else if (img.channels() == 4)
    cv::cvtColor(img, img, cv::COLOR_BGRA2BGR);
  if (img.cols < limits.min_side || img.rows < limits.min_side)
    throw Error(ErrorKind::InvalidArgument, what + ": " + std::to_string(img.cols) + "x" + std::to_string(img.rows) +
                                                " is smaller than the minimum side of " +
                                                std::to_string(limits.min_side));
  DecodedImage d;
  d.bgr = img;
  d.scale = reduce;
  d.original_width = int(std::lround(img.cols / reduce));
  d.original_height = int(std::lround(img.rows / reduce));
  return d;
}

}  // namespace

bool probe_image_size(const std::string& b, int& w, int& h) {
  const auto* p = reinterpret_cast<const unsigned char*>(b.data());
  size_t n = b.size();
  if (n > 24 && std::memcmp(p, "\x89PNG\r\n\x1a\n", 8) == 0) {
    w = int(be32(p + 16));
    h = int(be32(p + 20));
    return true;
  }
  if (n > 4 && p[0] == 0xFF && p[1] == 0xD8) return probe_jpeg(p, n, w, h);
  if (n > 10 && (std::memcmp(p, "GIF87a", 6) == 0 || std::memcmp(p, "GIF89a", 6) == 0)) {
    w = p[6] | (p[7] << 8);
    h = p[8] | (p[9] << 8);
    return true;
  }
  if (n > 26 && p[0] == 'B' && p[1] == 'M') {
    int32_t bw, bh;
    std::memcpy(&bw, p + 18, 4);
    std::memcpy(&bh, p + 22, 4);
    w = bw;
    h = bh < 0 ? -bh : bh;
    return true;
  }
  return false;
}

DecodedImage decode_image_bytes(const std::string& bytes, const ImageLimits& limits) {
  return decode(bytes, limits, "image");
}

DecodedImage decode_image_file(const std::string& path, const ImageLimits& limits) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw Error(ErrorKind::NotFound, "no such image: " + path);
  auto size = std::filesystem::file_size(path, ec);
  if (!ec && int64_t(size) > limits.max_file_bytes)
    throw Error(ErrorKind::InvalidArgument, path + ": file of " + std::to_string(size) + " bytes exceeds the limit");
  return decode(detail::read_file(path), limits, path);
}

}  // namespace facerec
