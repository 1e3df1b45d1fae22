// facerec train: the training toolchain (built with libtorch). `train preview` writes a grid of
// augmented samples so the augmentation config can be seen before a run.
#include "commands.hpp"

#include <facerec/error.hpp>
#include <facerec/image.hpp>
#include <facerec/train/augment.hpp>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <cstdio>
#include <memory>

namespace facerec::cli {
namespace {

struct PreviewArgs {
  std::vector<std::string> images;
  std::string out = "augment-preview.jpg";
  int each = 7, tile = 112;
  uint64_t seed = 1;
  train::AugmentOptions augment;
};

int preview(const PreviewArgs& a) {
  train::validate(a.augment);
  const int cols = a.each + 1;
  cv::Mat grid(int(a.images.size()) * a.tile, cols * a.tile, CV_8UC3, cv::Scalar(0, 0, 0));
  for (size_t r = 0; r < a.images.size(); ++r) {
    cv::Mat img;
    cv::resize(decode_image_file(a.images[r]).bgr, img, cv::Size(a.tile, a.tile), 0, 0, cv::INTER_AREA);
    img.copyTo(grid(cv::Rect(0, int(r) * a.tile, a.tile, a.tile)));
    for (int c = 1; c < cols; ++c) {
      train::AugmentRecord rec;
      // one seed per (run seed, image, copy)
      cv::Mat aug = train::augment(img, a.augment, a.seed * 1000003u + r * 1009u + uint64_t(c), &rec);
      aug.copyTo(grid(cv::Rect(c * a.tile, int(r) * a.tile, a.tile, a.tile)));
      std::printf("%s\t%d\t%s\n", a.images[r].c_str(), c, rec.describe().c_str());
    }
  }
  if (!cv::imwrite(a.out, grid)) throw Error(ErrorKind::Io, "cannot write " + a.out);
  std::fprintf(stderr, "preview: %zu image(s) x %d augmented copies -> %s\n", a.images.size(), a.each, a.out.c_str());
  return kOk;
}

}  // namespace

void add_train_commands(CLI::App& app, Action* action) {
  auto* tr = app.add_subcommand("train", "Train face networks (libtorch): augmentation preview; more to come");
  tr->require_subcommand(1);
  auto* pv = tr->add_subcommand("preview", "Write a grid: each image (first column) and augmented copies of it");
  auto a = std::make_shared<PreviewArgs>();
  pv->add_option("images", a->images, "Images (aligned crops or any photo; shown at --tile px)")
      ->required()
      ->check(CLI::ExistingFile);
  pv->add_option("--out", a->out, "Grid image to write")->capture_default_str();
  pv->add_option("--each", a->each, "Augmented copies per image")->capture_default_str()->check(CLI::Range(1, 32));
  pv->add_option("--tile", a->tile, "Tile size in px")->capture_default_str()->check(CLI::Range(16, 512));
  pv->add_option("--seed", a->seed, "Seed")->capture_default_str();
  auto& o = a->augment;
  pv->add_option("--flip-p", o.flip_p, "Probability of a horizontal flip")->capture_default_str();
  pv->add_option("--jpeg-p", o.jpeg_p, "Probability of JPEG re-compression")->capture_default_str();
  pv->add_option("--jpeg-quality-min", o.jpeg_quality_min)->capture_default_str();
  pv->add_option("--jpeg-quality-max", o.jpeg_quality_max)->capture_default_str();
  pv->add_option("--blur-p", o.blur_p, "Probability of a blur (Gaussian or motion)")->capture_default_str();
  pv->add_option("--motion-share", o.motion_share, "Share of motion blur among the blurs")->capture_default_str();
  pv->add_option("--hue-p", o.hue_p, "Probability of a hue shift")->capture_default_str();
  pv->add_option("--hue-max-deg", o.hue_max_deg)->capture_default_str();
  pv->add_option("--tone-p", o.tone_p, "Probability of a brightness/contrast change")->capture_default_str();
  pv->add_option("--lowres-p", o.lowres_p, "Probability of down-up resampling")->capture_default_str();
  pv->add_option("--lowres-min", o.lowres_min, "Smallest side to resample to (px)")->capture_default_str();
  pv->add_option("--lowres-max", o.lowres_max)->capture_default_str();
  pv->callback([=] { *action = [=] { return preview(*a); }; });
}

}  // namespace facerec::cli
