#pragma once
// facerec::FaceEmbedder — the third stage: the aligned crop a network was trained on, and its
// L2-normalised embedding.
//
// What it represents: an embedding network (a manifest entry of task "embed", its "alignment"
// and its output of role "embedding") with optional test-time augmentation (flip, zoom).
// Thread safety: NOT safe to call from several threads at once (it owns a backend session);
// one per thread. zoom_crop and l2_normalise are pure.
#include <facerec/face.hpp>
#include <facerec/models.hpp>

#include <opencv2/core.hpp>

#include <array>
#include <memory>
#include <string>
#include <vector>

namespace facerec {

struct EmbedderOptions {
  // The default: the dlib ResNet and the MS1M MobileFaceNet fused at score level (format "fused"
  // in the manifest; README: LFW). "face_recognition_model" alone was the default up to 0.1.
  std::string model = "dlib-mfn-fused";
  std::string backend = "opencv-dnn";
  int threads = 0;
  bool flip = true;  // test-time augmentation: mean direction of the face's and its mirror image's embeddings
  // Test-time augmentation: also embed the aligned crop zoomed in by kZoom about its centre (for
  // the dlib chip: padding 0.20 instead of 0.25), with its mirror image when flip is on; the
  // embedding is the mean direction of all. Off by default: on LFW View 1 it helped the dlib ResNet
  // alone (README: 99.3% with flip + zoom) but not the fused default, and it doubles the cost.
  bool zoom = false;
  static constexpr double kZoom = 1.5 / 1.4;
  // "+flip", "+zoom", "+flip+zoom" or "": how thresholds and gallery templates name the variant.
  std::string tta_suffix() const;
};

// The central 1/factor of a square crop, resized back to the crop's size (bilinear): the zoom
// test-time augmentation of EmbedderOptions. Throws Error(InvalidArgument) for an empty crop or
// factor < 1.
cv::Mat zoom_crop(const cv::Mat& crop, double factor);

// Test-time augmentation, one home for its rules (FaceEmbedder, the dataset evaluation, threshold
// names): the views of an aligned crop, how their embeddings combine, and how a variant is named.
//
// "+flip", "+zoom", "+flip+zoom" or "" for the variant.
std::string tta_suffix(bool flip, bool zoom);
// A name with a variant suffix, split: "face_recognition_model+zoom+flip" -> {"face_recognition_model",
// true, true}; "fmr_1e-3+flip" -> {"fmr_1e-3", true, false}. The suffixes may come in either order.
struct TtaName {
  std::string base;
  bool flip = false, zoom = false;
};
TtaName parse_tta_name(const std::string& name);
// The views a variant embeds, in a fixed order: [0] the crop, [1] its mirror image (flip), [2] the
// crop zoomed in by EmbedderOptions::kZoom (zoom), [3] the zoomed mirror image (flip and zoom);
// views the variant does not use are empty. Requires a non-empty crop.
std::array<cv::Mat, 4> tta_views(const cv::Mat& aligned, bool flip, bool zoom);
// The variant's embedding from the unit embeddings of the views (as tta_views orders them): the
// mean direction of those it uses. Requires views[0] and the used views of one dimension.
std::vector<float> combine_tta(const std::array<std::vector<float>, 4>& unit_embeddings, bool flip, bool zoom);

// Scales `v` to unit L2 norm in place (a zero vector stays zero). The one normalisation every
// embedding, template and mean direction goes through.
void l2_normalise(std::vector<float>& v);

// A fused embedder's embedding (a model of format "fused") from its components' unit embeddings,
// in the order of `fuse`: the concatenation of sqrt(w_k) * unit(e_k - mean_k) (mean_k = 0 when the
// component has none). It is a unit vector, and its cosine with another is sum_k w_k * (the
// components' cosines, of centred embeddings when centred): weighted score fusion in a form
// galleries and indexes store and search like any embedding. Weights inversely proportional to the
// spread of each model's scores normalise them (z-scores up to one offset and scale, which no
// threshold sees): the dlib ResNet's cosines between strangers sit near 0.9 with a small spread.
// Throws Error(InvalidArgument) when the counts or a component's dimension do not match.
std::vector<float> fuse_embeddings(const std::vector<FusionComponent>& fuse,
                                   const std::vector<std::vector<float>>& unit_embeddings);

class FaceEmbedder {
 public:
  virtual ~FaceEmbedder() = default;
  // The crop this embedder was trained on, from the image and the landmarks (68 points when
  // available, else the five points). Requires: an 8-bit BGR image. Ensures: a square BGR crop
  // of the network's input size; for a fused embedder, its components' crops side by side (left
  // to right in the manifest's order, top-aligned, black below the shorter ones).
  virtual cv::Mat align(const cv::Mat& bgr, const FivePoints& five, const std::vector<cv::Point2f>& l68) const = 0;
  // L2-normalised embedding of an aligned crop (as align() makes it), dimension() values.
  // Throws Error(InvalidArgument) unless the crop is of align()'s size and BGR.
  virtual std::vector<float> embed(const cv::Mat& aligned) = 0;
  // The model name with the test-time augmentation suffix ("face_recognition_model+flip+zoom").
  virtual std::string model() const = 0;
  virtual int dimension() const = 0;
  // The same embedder for another thread, over the same loaded network (see FaceDetector::clone).
  virtual std::unique_ptr<FaceEmbedder> clone() const = 0;
};

// Creates the embedder `options` names (for a fused model: its components with the same backend,
// threads and test-time augmentation). Throws Error(InvalidArgument) for a model of another
// task, Error(NotFound) for one the manifest lacks or that is not imported, Error(BadModel) when
// the ONNX file lacks the manifest's embedding output.
std::unique_ptr<FaceEmbedder> make_embedder(const Manifest& manifest, const EmbedderOptions& options = {});

}  // namespace facerec
