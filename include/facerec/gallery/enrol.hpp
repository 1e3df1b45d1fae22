#pragma once
// From a photo to a gallery template: the largest face, its embedding, and (optionally) the crop
// kept for re-embedding. Shared by the CLI and the REST service.
// Thread safety: as FaceAnalyzer (one analyzer per thread).
#include <facerec/analyzer.hpp>
#include <facerec/gallery/gallery.hpp>

#include <optional>
#include <string>

namespace facerec {

// Requires: an 8-bit BGR image and the sha256 of its file. Ensures: the largest face's template
// (model analyzer.template_model(), quality its quality score; its crop only with keep_crop), or
// nullopt when the image holds no face; *note (when given) says why or that several faces were
// present (and is left untouched otherwise); *face (when given) receives the face used. Throws what
// FaceAnalyzer::analyze and face_crop throw.
std::optional<Template> template_from_image(FaceAnalyzer& analyzer, const cv::Mat& bgr, const std::string& image_sha256,
                                            bool keep_crop, std::string* note = nullptr, Face* face = nullptr);

// Why `face` should not be enrolled: its quality score is below `floor` (the analyzer's
// quality_model().floor, unless a caller sets its own) — naming the score, the floor and the
// weakest components; empty when it may be enrolled (or was not assessed). Enrolment (CLI, service,
// Python) refuses such a face unless forced. Pure.
std::string enrol_refusal(const Face& face, double floor);

}  // namespace facerec
