#include <facerec/gallery/enrol.hpp>

#include <algorithm>

namespace facerec {

std::optional<Template> template_from_image(FaceAnalyzer& fa, const cv::Mat& bgr, const std::string& sha,
                                            bool keep_crop, std::string* note, Face* face) {
  auto faces = fa.analyze(bgr, true);
  if (faces.empty()) {
    if (note) *note = "no face";
    return std::nullopt;
  }
  if (faces.size() > 1 && note) *note = std::to_string(faces.size()) + " faces; the largest was used";
  const Face& f = *largest_face(faces);
  Template t{f.embedding, fa.template_model(), sha, f.detection.score, {}};
  if (keep_crop) t.crop = fa.face_crop(bgr, f);
  if (face) *face = f;
  return t;
}

}  // namespace facerec
