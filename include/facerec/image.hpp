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
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace facerec {

// What decode_image_* accept: bounds on file size, decoded pixels and the smaller side. A plain value.
struct ImageLimits {
  int64_t max_pixels = 40'000'000;       // decoded images larger than this are reduced or refused
  int64_t max_file_bytes = 100'000'000;  // larger files are refused before reading
  int min_side = 8;                      // smaller images are refused (nothing to find in a 1x1)
};

// A decoded image and how its size relates to the file's. A plain value.
struct DecodedImage {
  cv::Mat bgr;                                  // CV_8UC3
  int original_width = 0, original_height = 0;  // as stored in the file (after EXIF rotation)
  double scale = 1.0;                           // bgr size / original size (< 1 when reduced while decoding)
};

// Formats: JPEG (baseline, progressive, CMYK), PNG, BMP, TIFF (first page), WebP, PNM (P1-P6).
// Every other format (GIF, JPEG 2000, HDR, EXR, BigTIFF, PAM, ...) is refused before decoding,
// so the pixel limit is checked from the header of every file that reaches a decoder.
// Ensures: bgr is CV_8UC3, each side >= min_side, at most max_pixels.
// Throws Error: NotFound (no file), Io (a directory, or unreadable), BadInput (empty, larger than
// max_file_bytes, unsupported format, corrupt header, a JPEG without its end-of-image marker
// (truncated), undecodable, too small, too large to reduce).
DecodedImage decode_image_file(const std::string& path, const ImageLimits& limits = {});
// The same from the file's bytes; throws only Error(BadInput), for the same reasons.
DecodedImage decode_image_bytes(const std::string& bytes, const ImageLimits& limits = {});

// What a file's header says, read without decoding. A plain value.
struct ImageHeader {
  std::string format;  // "jpeg", "png", "bmp", "tiff", "webp", "pnm"
  int width = 0, height = 0;
  bool complete = true;  // JPEG: an end-of-image marker follows the first scan (false: truncated)
};
// The header of a supported format; nullopt for other formats and for corrupt headers.
// Never reads past `bytes`; safe on any input.
std::optional<ImageHeader> probe_image(const std::string& bytes);
// probe_image's width and height; false (outputs untouched) when it returns nullopt. Never throws.
bool probe_image_size(const std::string& bytes, int& width, int& height);

// Every image file under `root` (searched recursively; extensions .jpg .jpeg .png .bmp .pgm .ppm
// .webp .tif .tiff, any case), as paths relative to `root` taken lexically — a symlink keeps the
// name it has under `root` — sorted. Unreadable subfolders are skipped.
// Throws Error(NotFound) when `root` is not a folder.
std::vector<std::filesystem::path> list_image_files(const std::filesystem::path& root);

}  // namespace facerec
