#pragma once
// The CLI's loop over image files: decode each, run the pipeline, hand the faces on in the
// original image's pixels (when decoding reduced a huge photo: boxes, points and the quality's
// face size scaled back). A bad image is reported and skipped; exit code 3 at the end.
#include "commands.hpp"

#include <facerec/analyzer.hpp>
#include <facerec/error.hpp>
#include <facerec/image.hpp>

#include <functional>
#include <iostream>
#include <string>
#include <vector>

namespace facerec::cli {

// Runs the pipeline over every image; a bad image is reported and skipped (exit code 3 at the end).
inline int for_each_image(
    const std::vector<std::string>& images, FaceAnalyzer& fa, bool embed,
    const std::function<void(const std::string&, const DecodedImage&, const std::vector<Face>&)>& fn) {
  int bad = 0;
  for (const auto& path : images) {
    try {
      auto img = decode_image_file(path);
      auto faces = fa.analyze(img.bgr, embed);
      // report coordinates in the original image when it was reduced while decoding
      if (img.scale != 1.0) {
        float k = float(1.0 / img.scale);
        for (auto& f : faces) {
          f.detection.box = cv::Rect2f(f.detection.box.x * k, f.detection.box.y * k, f.detection.box.width * k,
                                       f.detection.box.height * k);
          for (auto& p : f.detection.keypoints) p *= k;
          for (auto& p : f.landmarks) p *= k;
          for (auto& p : f.five) p *= k;
          if (f.quality.score >= 0) {  // its size in the original's pixels too
            auto m = f.quality.measures;
            m.interocular *= k;
            f.quality = fa.quality_model().assess(m);
          }
        }
      }
      fn(path, img, faces);
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::InvalidArgument && e.kind() != ErrorKind::BadInput && e.kind() != ErrorKind::NotFound)
        throw;
      std::cerr << "facerec: " << e.what() << "\n";
      ++bad;
    }
  }
  return bad ? kBadInput : kOk;
}

}  // namespace facerec::cli
