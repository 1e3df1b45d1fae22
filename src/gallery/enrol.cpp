#include <facerec/gallery/enrol.hpp>

#include <algorithm>
#include <cstdio>

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
  Template t{f.embedding, fa.template_model(), sha, f.quality.score >= 0 ? f.quality.score : f.detection.score, {}};
  if (keep_crop) t.crop = fa.face_crop(bgr, f);
  if (face) *face = f;
  return t;
}

std::string enrol_refusal(const Face& face, double floor) {
  const FaceQuality& q = face.quality;
  if (q.score < 0 || q.score >= floor) return "";
  std::vector<std::pair<float, std::string>> parts = {
      {q.size, "size"}, {q.sharpness, "sharpness"}, {q.exposure, "exposure"}, {q.pose, "pose"}};
  std::sort(parts.begin(), parts.end());
  char text[256];
  std::snprintf(text, sizeof text,
                "face quality %.2f is below the enrolment floor %.2f (weakest: %s %.2f, %s %.2f; %.0f px between the "
                "eyes); use a sharper, larger, frontal, well-lit photo, or force it",
                double(q.score), floor, parts[0].second.c_str(), double(parts[0].first), parts[1].second.c_str(),
                double(parts[1].first), double(q.measures.interocular));
  return text;
}

}  // namespace facerec
