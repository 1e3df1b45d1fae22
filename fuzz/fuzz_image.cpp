// Image decoding with its limits: probe_image and decode_image_bytes on any bytes. Checks beyond
// "no crash": a decoded image is 8-bit BGR within the pixel limit and never smaller than min_side.
#include "fuzz_util.hpp"

#include <facerec/image.hpp>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string bytes(reinterpret_cast<const char*>(data), size);
  facerec::probe_image(bytes);
  facerec::ImageLimits lim;
  lim.max_pixels = 4'000'000;
  facerec::fuzz::expect_only_errors([&] {
    auto d = facerec::decode_image_bytes(bytes, lim);
    if (d.bgr.type() != CV_8UC3 || int64_t(d.bgr.cols) * d.bgr.rows > lim.max_pixels || d.bgr.cols < lim.min_side ||
        d.bgr.rows < lim.min_side)
      std::abort();
  });
  return 0;
}
