// Face embedders: each model gets the alignment it was trained on and its own normalisation
// (from the manifest); outputs are L2-normalised; optional flip test-time augmentation.
#include <facerec/align.hpp>
#include <facerec/backend.hpp>
#include <facerec/embed.hpp>
#include <facerec/error.hpp>
#include <facerec/face.hpp>
#include <facerec/models.hpp>

#include "backend/session.hpp"
#include "image/preprocess.hpp"

#include <opencv2/imgproc.hpp>

#include <cmath>

namespace facerec {
namespace {

enum class Alignment { DlibChip, ArcFace, ArcFaceTight };

class NetEmbedder final : public FaceEmbedder {
 public:
  std::unique_ptr<FaceEmbedder> clone() const override { return std::make_unique<NetEmbedder>(*this); }

  NetEmbedder(const Manifest& manifest, const EmbedderOptions& o) : opt_(o) {
    entry_ = manifest.model(o.model);
    if (entry_.task != "embed")
      throw Error(ErrorKind::InvalidArgument, "model '" + o.model + "' is not a face embedder");
    if (entry_.format == "fused") throw Error(ErrorKind::Internal, "NetEmbedder: '" + o.model + "' is fused");
    alignment_ = entry_.alignment == "dlib-chip"       ? Alignment::DlibChip
                 : entry_.alignment == "arcface-tight" ? Alignment::ArcFaceTight
                                                       : Alignment::ArcFace;
    BackendOptions bo;
    bo.threads = o.threads;
    net_ = load_backend(backend_for(entry_, o.backend), model_path(entry_).string(), bo);
    out_ = output_index(*net_, entry_.output_with_role("embedding").name);
    dim_ = int(net_->outputs()[out_].shape.back());
  }

  cv::Mat align(const cv::Mat& bgr, const FivePoints& five, const std::vector<cv::Point2f>& l68) const override {
    const int S = entry_.input.width;
    if (alignment_ == Alignment::DlibChip) {
      if (l68.size() == 68) return dlib_face_chip(bgr, l68, S, 0.25);
      return dlib_face_chip(bgr, five, S, 0.25);
    }
    // arcface-tight: the template scaled to the input (as facerec's trainer aligns at any size)
    if (S == 112 || alignment_ == Alignment::ArcFaceTight) return warp_to_template(bgr, five, S);
    // larger inputs (faceres, 224): the ArcFace template with 25% more context around it
    std::vector<cv::Point2f> tmpl, pts(five.begin(), five.end());
    for (const auto& p : arcface_template_112())
      tmpl.push_back((p - cv::Point2f(56, 56)) * (float(S) / 112.f / 1.25f) +
                     cv::Point2f(float(S) / 2.f, float(S) / 2.f));
    return detail::warp_crop(bgr, similarity_transform(tmpl, pts), cv::Size(S, S));
  }

  std::vector<float> embed(const cv::Mat& aligned) override {
    const int S = entry_.input.width;
    if (aligned.cols != S || aligned.rows != S || aligned.type() != CV_8UC3)
      throw Error(ErrorKind::InvalidArgument,
                  "embed: the aligned crop must be " + std::to_string(S) + "x" + std::to_string(S) + " BGR");
    // with flip / zoom: the mean direction of the unit embeddings of the views
    auto views = tta_views(aligned, opt_.flip, opt_.zoom);
    std::array<std::vector<float>, 4> unit;
    for (size_t j = 0; j < views.size(); ++j) {
      if (views[j].empty()) continue;
      Tensor in({1, 3, S, S});  // batch of 1: some graphs fix the batch dimension
      detail::fill_input(in, 0, views[j], entry_.input, false);
      unit[j] = net_->run({in}).at(out_).data;
      l2_normalise(unit[j]);
    }
    return combine_tta(unit, opt_.flip, opt_.zoom);
  }

  std::string model() const override { return entry_.name + opt_.tta_suffix(); }
  int dimension() const override { return dim_; }
  int input_size() const { return entry_.input.width; }

 private:
  EmbedderOptions opt_;
  ModelEntry entry_;
  Alignment alignment_;
  detail::SessionPtr net_;
  size_t out_ = 0;
  int dim_ = 0;
};

// The components' embedders side by side: one crop holding theirs, one fused embedding.
class FusedEmbedder final : public FaceEmbedder {
 public:
  FusedEmbedder(const Manifest& manifest, const EmbedderOptions& o) : opt_(o), entry_(manifest.model(o.model)) {
    for (const auto& c : entry_.fuse) {
      EmbedderOptions co = o;
      co.model = c.model;
      parts_.push_back(std::make_unique<NetEmbedder>(manifest, co));
      dim_ += parts_.back()->dimension();
      width_ += parts_.back()->input_size();  // the composite crop align() makes
      height_ = std::max(height_, parts_.back()->input_size());
    }
  }
  FusedEmbedder(const FusedEmbedder& other)
      : opt_(other.opt_), entry_(other.entry_), dim_(other.dim_), width_(other.width_), height_(other.height_) {
    for (const auto& p : other.parts_) parts_.push_back(std::make_unique<NetEmbedder>(*p));  // a session of its own
  }
  std::unique_ptr<FaceEmbedder> clone() const override { return std::make_unique<FusedEmbedder>(*this); }

  cv::Mat align(const cv::Mat& bgr, const FivePoints& five, const std::vector<cv::Point2f>& l68) const override {
    std::vector<cv::Mat> crops;
    int width = 0, height = 0;
    for (const auto& p : parts_) {
      crops.push_back(p->align(bgr, five, l68));
      width += crops.back().cols;
      height = std::max(height, crops.back().rows);
    }
    cv::Mat out(height, width, CV_8UC3, cv::Scalar::all(0));
    for (int x = 0; const auto& c : crops) {
      c.copyTo(out(cv::Rect(x, 0, c.cols, c.rows)));
      x += c.cols;
    }
    return out;
  }

  std::vector<float> embed(const cv::Mat& aligned) override {
    if (aligned.cols != width_ || aligned.rows != height_ || aligned.type() != CV_8UC3)
      throw Error(ErrorKind::InvalidArgument, "embed: the aligned crop of " + entry_.name + " must be " +
                                                  std::to_string(width_) + "x" + std::to_string(height_) +
                                                  " BGR (its components' crops side by side)");
    std::vector<std::vector<float>> unit;
    for (int x = 0; const auto& p : parts_) {
      const int S = p->input_size();
      unit.push_back(p->embed(aligned(cv::Rect(x, 0, S, S)).clone()));
      x += S;
    }
    return fuse_embeddings(entry_.fuse, unit);
  }

  std::string model() const override { return entry_.name + opt_.tta_suffix(); }
  int dimension() const override { return dim_; }

 private:
  EmbedderOptions opt_;
  ModelEntry entry_;
  std::vector<std::unique_ptr<NetEmbedder>> parts_;
  int dim_ = 0, width_ = 0, height_ = 0;
};

}  // namespace

std::vector<float> fuse_embeddings(const std::vector<FusionComponent>& fuse,
                                   const std::vector<std::vector<float>>& unit) {
  if (fuse.size() != unit.size() || fuse.empty())
    throw Error(ErrorKind::InvalidArgument, "fuse_embeddings: " + std::to_string(unit.size()) + " embeddings for " +
                                                std::to_string(fuse.size()) + " components");
  double total = 0;
  for (const auto& c : fuse) total += c.weight;
  std::vector<float> out;
  for (size_t k = 0; k < fuse.size(); ++k) {
    const auto& mean = fuse[k].mean;
    if (!mean.empty() && unit[k].size() != mean.size())
      throw Error(ErrorKind::InvalidArgument, "fuse_embeddings: " + fuse[k].model + " gave " +
                                                  std::to_string(unit[k].size()) + " values, its mean has " +
                                                  std::to_string(mean.size()));
    std::vector<float> c = unit[k];
    if (!mean.empty())
      for (size_t q = 0; q < c.size(); ++q) c[q] -= mean[q];
    l2_normalise(c);
    const float w = float(std::sqrt(total > 0 ? fuse[k].weight / total : 0.0));
    for (float x : c) out.push_back(w * x);
  }
  return out;
}

cv::Mat zoom_crop(const cv::Mat& crop, double factor) {
  if (crop.empty() || !(factor >= 1.0)) throw Error(ErrorKind::InvalidArgument, "zoom_crop: empty crop or factor < 1");
  // output pixel p samples the crop at centre + (p - centre) / factor
  const double cx = (crop.cols - 1) / 2.0, cy = (crop.rows - 1) / 2.0, k = 1.0 / factor;
  cv::Mat m = (cv::Mat_<double>(2, 3) << k, 0, cx - k * cx, 0, k, cy - k * cy);
  cv::Mat out;
  cv::warpAffine(crop, out, m, crop.size(), cv::INTER_LINEAR | cv::WARP_INVERSE_MAP, cv::BORDER_REPLICATE);
  return out;
}

std::string tta_suffix(bool flip, bool zoom) { return std::string(flip ? "+flip" : "") + (zoom ? "+zoom" : ""); }

std::string EmbedderOptions::tta_suffix() const { return facerec::tta_suffix(flip, zoom); }

TtaName parse_tta_name(const std::string& name) {
  TtaName t{name};
  for (bool more = true; more;) {
    more = false;
    for (const std::string s : {"+flip", "+zoom"})
      if (t.base.size() > s.size() && t.base.compare(t.base.size() - s.size(), s.size(), s) == 0) {
        (s == "+flip" ? t.flip : t.zoom) = true;
        t.base.resize(t.base.size() - s.size());
        more = true;
      }
  }
  return t;
}

std::array<cv::Mat, 4> tta_views(const cv::Mat& aligned, bool flip, bool zoom) {
  if (aligned.empty()) throw Error(ErrorKind::InvalidArgument, "tta_views: empty crop");
  std::array<cv::Mat, 4> v;
  v[0] = aligned;
  if (zoom) v[2] = zoom_crop(aligned, EmbedderOptions::kZoom);
  if (flip) cv::flip(aligned, v[1], 1);
  if (flip && zoom) cv::flip(v[2], v[3], 1);
  return v;
}

std::vector<float> combine_tta(const std::array<std::vector<float>, 4>& unit, bool flip, bool zoom) {
  const bool used[4] = {true, flip, zoom, flip && zoom};
  std::vector<float> sum(unit[0].size(), 0.f);
  for (size_t j = 0; j < 4; ++j) {
    if (!used[j]) continue;
    if (unit[j].size() != sum.size() || sum.empty())
      throw Error(ErrorKind::InvalidArgument, "combine_tta: a view's embedding is missing or of another size");
    for (size_t q = 0; q < sum.size(); ++q) sum[q] += unit[j][q];
  }
  l2_normalise(sum);
  return sum;
}

void l2_normalise(std::vector<float>& v) {
  double norm = 0;
  for (float x : v) norm += double(x) * x;
  norm = std::sqrt(norm);
  if (norm > 0)
    for (auto& x : v) x = float(x / norm);
}

std::unique_ptr<FaceEmbedder> make_embedder(const Manifest& manifest, const EmbedderOptions& options) {
  if (manifest.model(options.model).format == "fused") return std::make_unique<FusedEmbedder>(manifest, options);
  return std::make_unique<NetEmbedder>(manifest, options);
}

}  // namespace facerec
