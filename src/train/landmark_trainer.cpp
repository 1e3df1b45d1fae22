// The landmark CNN's training: data framed by the pipeline's detector (and labelled by a teacher
// for pseudo-labelled photos), crops with point-aware augmentation, wing / L1 / L2 loss, AdamW,
// checkpoints with exact resume, validation NME, export.
#include <facerec/detect.hpp>
#include <facerec/error.hpp>
#include <facerec/eval/evaluation.hpp>
#include <facerec/eval/report.hpp>
#include <facerec/image.hpp>
#include <facerec/landmarks.hpp>
#include <facerec/train/landmark_trainer.hpp>
#include <facerec/train/losses.hpp>
#include <facerec/version.hpp>

#include "common/fs.hpp"
#include "image/preprocess.hpp"
#include "train/checkpoint.hpp"
#include "train/config_json.hpp"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cmath>
#include <fstream>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <thread>

namespace facerec::train {

namespace {

constexpr int kContext = 160;                               // context crop side (px)
constexpr double kContextScale = 2.0;                       // context side / detector box side
constexpr double kBoxInContext = kContext / kContextScale;  // the box side in context pixels (80)

template <typename C, typename F>
void for_each_landmark_field(C& c, F&& f) {
  f("labelled", c.labelled);
  f("pseudo", c.pseudo);
  f("teacher", c.teacher);
  f("teacher_passes", c.teacher_passes);
  f("teacher_flip", c.teacher_flip);
  f("max_pseudo", c.max_pseudo);
  f("labelled_share", c.labelled_share);
  f("detector", c.detector);
  f("validation_share", c.validation_share);
  f("backbone", c.backbone.name);
  f("outputs", c.backbone.embedding);
  f("input", c.backbone.input);
  f("width", c.backbone.width);
  f("loss", c.loss);
  f("wing_w", c.wing_w);
  f("wing_epsilon", c.wing_epsilon);
  f("crop_scale", c.crop_scale);
  f("refine_scale", c.refine_scale);
  f("rotate_deg", c.rotate_deg);
  f("scale_jitter", c.scale_jitter);
  f("shift", c.shift);
  f("flip_p", c.flip_p);
  f("augment", c.augment);
  f("batch", c.batch);
  f("steps", c.steps);
  f("warmup_steps", c.warmup_steps);
  f("lr", c.lr);
  f("weight_decay", c.weight_decay);
  f("log_every", c.log_every);
  f("validate_every", c.validate_every);
  f("checkpoint_every", c.checkpoint_every);
  f("keep_checkpoints", c.keep_checkpoints);
  f("threads", c.threads);
  f("seed", c.seed);
}

// Fields a resumed run may change.
const std::set<std::string> kMayChange = {
    "steps", "log_every", "validate_every", "checkpoint_every", "keep_checkpoints", "threads"};

void fail(const std::string& field, const std::string& why) {
  throw Error(ErrorKind::InvalidArgument, "landmark train config: " + field + " " + why);
}

struct StoredFace {
  cv::Mat context;                  // kContext x kContext BGR, the detector box centred, side kBoxInContext
  std::vector<cv::Point2f> points;  // 68, context pixels
  bool labelled = false;
  std::string source;
};

double uniform(std::mt19937_64& r, double a, double b) { return std::uniform_real_distribution<double>(a, b)(r); }

// The context crop around detection box `box` and the points in its pixels.
StoredFace context_of(const cv::Mat& bgr, const cv::Rect2f& box, const std::vector<cv::Point2f>& pts) {
  const cv::Point2f c = (box.tl() + box.br()) * 0.5f;
  const double side = kContextScale * std::max(box.width, box.height), k = side / kContext;
  const double x0 = c.x - side / 2, y0 = c.y - side / 2;
  cv::Mat m = (cv::Mat_<double>(2, 3) << k, 0, x0, 0, k, y0);
  StoredFace f;
  f.context = detail::warp_crop(bgr, m, cv::Size(kContext, kContext));
  for (const auto& p : pts) f.points.emplace_back(float((p.x - x0) / k), float((p.y - y0) / k));
  return f;
}

}  // namespace

nlohmann::json LandmarkTrainConfig::to_json() const {
  json j = json::object();
  j["task"] = "landmarks";
  for_each_landmark_field(*this, [&](const char* k, const auto& v) { j[k] = v; });
  j["photometric"] = augment_json(photometric);
  return j;
}

LandmarkTrainConfig LandmarkTrainConfig::from_json(const nlohmann::json& j) {
  if (!j.is_object()) throw Error(ErrorKind::InvalidArgument, "landmark train config: expected a JSON object");
  LandmarkTrainConfig c;
  std::set<std::string> s{"task", "photometric"};
  if (j.contains("task") && j.at("task") != "landmarks") fail("task", "must be landmarks");
  for_each_landmark_field(c, [&](const char* k, auto& v) { get(j, k, v, s, ""); });
  if (j.contains("photometric")) c.photometric = augment_from(j.at("photometric"));
  no_unknown(j, s, "");
  return c;
}

void LandmarkTrainConfig::validate() const {
  if (labelled.empty()) fail("labelled", "needs at least one 300-W folder");
  for (const auto& p : pseudo)
    if (detail::under_lfw(p)) fail("pseudo", "must not use LFW (" + p + "): it is the test set");
  if (teacher_passes < 1 || teacher_passes > 4) fail("teacher_passes", "must be in [1, 4]");
  if (max_pseudo < 0) fail("max_pseudo", "must be >= 0");
  if (!(labelled_share > 0 && labelled_share <= 1)) fail("labelled_share", "must be in (0, 1]");
  if (!(validation_share >= 0 && validation_share < 1)) fail("validation_share", "must be in [0, 1)");
  if (backbone.embedding != 136) fail("outputs", "must be 136 (68 points)");
  if (loss != "wing" && loss != "l1" && loss != "l2") fail("loss", "must be wing, l1 or l2");
  if (!(wing_w > 0 && wing_epsilon > 0)) fail("wing_w", "and wing_epsilon must be > 0");
  if (!(crop_scale >= 0.8 && crop_scale <= 1.9)) fail("crop_scale", "must be in [0.8, 1.9]");
  if (!(refine_scale >= 1 && refine_scale <= 2)) fail("refine_scale", "must be in [1, 2]");
  if (!(rotate_deg >= 0 && rotate_deg <= 60)) fail("rotate_deg", "must be in [0, 60]");
  if (!(scale_jitter >= 0 && scale_jitter < 0.5)) fail("scale_jitter", "must be in [0, 0.5)");
  if (!(shift >= 0 && shift < 0.3)) fail("shift", "must be in [0, 0.3)");
  if (!(flip_p >= 0 && flip_p <= 1)) fail("flip_p", "must be in [0, 1]");
  if (batch < 2 || batch > 4096) fail("batch", "must be in [2, 4096]");
  if (steps < 1) fail("steps", "must be >= 1");
  if (warmup_steps < 0) fail("warmup_steps", "must be >= 0");
  if (!(lr > 0)) fail("lr", "must be > 0");
  if (!(weight_decay >= 0)) fail("weight_decay", "must be >= 0");
  if (log_every < 1 || validate_every < 1 || checkpoint_every < 1)
    fail("log_every", "and the other intervals must be >= 1");
  if (keep_checkpoints < 1) fail("keep_checkpoints", "must be >= 1");
  if (threads < 0) fail("threads", "must be >= 0");
  train::validate(photometric);
}

struct LandmarkTrainer::Impl {
  LandmarkTrainConfig cfg;
  std::filesystem::path run;
  Backbone net;
  std::unique_ptr<torch::optim::AdamW> opt;
  int64_t step = 0;
  std::vector<StoredFace> faces;
  std::vector<size_t> train_labelled, validation, pseudo;
  double loss_sum = 0;
  int64_t since_log = 0;

  void log(const json& line) const {
    std::ofstream out(run / "log.jsonl", std::ios::app);
    out << line.dump() << "\n";
  }
  void prepare(const Manifest& manifest, const std::function<void(const std::string&)>& say);
  void load_data();
};

void LandmarkTrainer::Impl::prepare(const Manifest& manifest, const std::function<void(const std::string&)>& say) {
  const auto dir = run / "data";
  std::error_code ec;
  if (std::filesystem::exists(dir / "faces.json", ec)) return;
  std::filesystem::create_directories(dir / "crops");
  struct Job {
    std::string image;
    std::vector<cv::Point2f> points;  // empty: the teacher labels it
    bool labelled;
  };
  std::vector<Job> jobs;
  for (const auto& root : cfg.labelled)
    for (const auto& f : read_300w(root))
      jobs.push_back({(std::filesystem::path(root) / f.file).string(), f.points, true});
  std::vector<std::string> photos;
  for (const auto& root : cfg.pseudo)
    for (const auto& p : list_image_files(root)) photos.push_back((std::filesystem::path(root) / p).string());
  std::shuffle(photos.begin(), photos.end(), std::mt19937_64(cfg.seed));
  if (photos.size() > size_t(cfg.max_pseudo)) photos.resize(size_t(cfg.max_pseudo));
  for (auto& p : photos) jobs.push_back({p, {}, false});

  DetectorOptions dopt;
  dopt.model = cfg.detector;
  dopt.threads = 1;
  LandmarkerOptions lopt;
  lopt.model = cfg.teacher;
  lopt.passes = cfg.teacher_passes;
  lopt.flip = cfg.teacher_flip;
  lopt.threads = 1;
  auto det0 = make_detector(manifest, dopt);
  auto lm0 = make_landmarker(manifest, lopt);
  const unsigned workers = std::max(1u, std::min(4u, std::thread::hardware_concurrency()));
  std::vector<std::optional<StoredFace>> out(jobs.size());
  std::atomic<size_t> next{0}, done{0}, missed{0}, unreadable{0};
  std::mutex say_mu;
  const auto t0 = std::chrono::steady_clock::now();
  auto work = [&](FaceDetector& det, Landmarker& lm) {
    for (size_t i; (i = next++) < jobs.size();) {
      const auto& j = jobs[i];
      try {
        const auto img = decode_image_file(j.image);
        const auto found = det.detect(img.bgr);
        const Detection* d = nullptr;
        if (j.labelled) {
          for (const auto& f : found)
            if (detects_face({f}, j.points)) {
              d = &f;
              break;
            }
        } else {
          for (const auto& f : found)
            if (!d || f.box.area() > d->box.area()) d = &f;
        }
        if (d) {
          auto pts = j.labelled ? j.points : lm.landmarks(img.bgr, *d);
          if (pts.size() == 68) {
            out[i] = context_of(img.bgr, d->box, pts);
            out[i]->labelled = j.labelled;
            out[i]->source = j.image;
          } else {
            ++missed;
          }
        } else {
          ++missed;
        }
      } catch (const Error& e) {
        if (++unreadable <= 3) {
          std::lock_guard<std::mutex> g(say_mu);
          say(j.image + " left out: " + e.what());
        }
      }
      const size_t n = ++done;
      if (n % 250 == 0 || n == jobs.size()) {
        const double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        std::lock_guard<std::mutex> g(say_mu);
        say("preparing faces " + std::to_string(n) + "/" + std::to_string(jobs.size()) + ", " +
            std::to_string(int(double(n) / el)) + "/s, ETA " + clock_text(el / double(n) * double(jobs.size() - n)));
      }
    }
  };
  std::vector<std::thread> pool;
  std::vector<std::unique_ptr<FaceDetector>> dets;
  std::vector<std::unique_ptr<Landmarker>> lms;
  for (unsigned w = 1; w < workers; ++w) {
    dets.push_back(det0->clone());
    lms.push_back(lm0->clone());
  }
  for (unsigned w = 1; w < workers; ++w) pool.emplace_back(work, std::ref(*dets[w - 1]), std::ref(*lms[w - 1]));
  work(*det0, *lm0);
  for (auto& t : pool) t.join();

  json index = json::array();
  for (size_t i = 0; i < out.size(); ++i) {
    if (!out[i]) continue;
    const std::string name = "crops/" + std::to_string(index.size()) + ".png";
    if (!cv::imwrite((dir / name).string(), out[i]->context)) throw Error(ErrorKind::Io, "cannot write " + name);
    json pts = json::array();
    for (const auto& p : out[i]->points) pts.push_back({p.x, p.y});
    index.push_back({{"crop", name}, {"source", out[i]->source}, {"labelled", out[i]->labelled}, {"points", pts}});
  }
  say("prepared " + std::to_string(index.size()) + " faces of " + std::to_string(jobs.size()) + " images (" +
      std::to_string(missed.load()) + " without the face, " + std::to_string(unreadable.load()) + " unreadable)");
  detail::write_file_atomic(dir / "faces.json", index.dump() + "\n");
}

void LandmarkTrainer::Impl::load_data() {
  const auto dir = run / "data";
  json index;
  try {
    index = json::parse(detail::read_file(dir / "faces.json"));
  } catch (const json::exception& e) {
    throw Error(ErrorKind::BadInput, (dir / "faces.json").string() + " is not valid JSON: " + e.what());
  }
  for (const auto& e : index) {
    StoredFace f;
    f.context = cv::imread((dir / e.at("crop").get<std::string>()).string(), cv::IMREAD_COLOR);
    if (f.context.rows != kContext || f.context.cols != kContext)
      throw Error(ErrorKind::BadInput, "landmark data: " + e.at("crop").get<std::string>() + " is missing or damaged");
    for (const auto& p : e.at("points")) f.points.emplace_back(p.at(0).get<float>(), p.at(1).get<float>());
    f.labelled = e.at("labelled").get<bool>();
    f.source = e.at("source").get<std::string>();
    faces.push_back(std::move(f));
  }
  std::vector<size_t> labelled;
  for (size_t i = 0; i < faces.size(); ++i) (faces[i].labelled ? labelled : pseudo).push_back(i);
  if (labelled.empty()) throw Error(ErrorKind::BadInput, "landmark data: no labelled face was found by the detector");
  std::shuffle(labelled.begin(), labelled.end(), std::mt19937_64(ckpt::mix(cfg.seed, 17)));
  const size_t nv = size_t(std::lround(cfg.validation_share * double(labelled.size())));
  validation.assign(labelled.begin(), labelled.begin() + long(nv));
  train_labelled.assign(labelled.begin() + long(nv), labelled.end());
  if (train_labelled.empty()) throw Error(ErrorKind::BadInput, "landmark data: every labelled face is held out");
}

LandmarkTrainer::LandmarkTrainer(const Manifest& manifest, LandmarkTrainConfig config, std::filesystem::path run_dir,
                                 bool resume, const std::function<void(const std::string&)>& on_message)
    : impl_(std::make_unique<Impl>()) {
  auto& d = *impl_;
  auto say = [&](const std::string& m) {
    if (on_message) on_message(m);
  };
  config.validate();
  d.cfg = config;
  d.run = std::move(run_dir);
  std::error_code ec;
  const auto stored = d.run / "config.json";
  if (std::filesystem::exists(stored, ec)) {
    if (!resume)
      throw Error(ErrorKind::AlreadyExists,
                  d.run.string() + " holds a run: resume it (--resume) or use another directory");
    const json old = json::parse(detail::read_file(stored)), now = d.cfg.to_json();
    for (const auto& [k, v] : now.items())
      if (!kMayChange.count(k) && (!old.contains(k) || old.at(k) != v))
        throw Error(ErrorKind::InvalidArgument, "resume: " + k + " differs from the run's config.json (" +
                                                    (old.contains(k) ? old.at(k).dump() : "absent") + " there, " +
                                                    v.dump() + " now)");
  }
  std::filesystem::create_directories(d.run / "checkpoints");
  detail::write_file_atomic(stored, d.cfg.to_json().dump(2) + "\n");
  if (d.cfg.threads > 0) torch::set_num_threads(d.cfg.threads);
  d.prepare(manifest, say);
  d.load_data();
  say(std::to_string(d.train_labelled.size()) + " labelled faces for training, " + std::to_string(d.validation.size()) +
      " held out, " + std::to_string(d.pseudo.size()) + " pseudo-labelled");
  torch::manual_seed(d.cfg.seed);
  d.net = make_backbone(d.cfg.backbone);
  d.opt = std::make_unique<torch::optim::AdamW>(d.net->parameters(),
                                                torch::optim::AdamWOptions(d.cfg.lr).weight_decay(d.cfg.weight_decay));
  if (const auto ck = latest_checkpoint(d.run); resume && !ck.empty()) {
    auto ar = ckpt::open_archive(ck);
    ckpt::read_part(ck, ar, "backbone", *d.net);
    try {
      torch::serialize::InputArchive o;
      ar.read("optimizer", o);
      d.opt->load(o);
    } catch (const c10::Error& e) {
      throw Error(ErrorKind::BadModel, "checkpoint " + ck.string() + ": its optimizer state does not fit");
    }
    auto meta = ck;
    const json m = json::parse(detail::read_file(meta.replace_extension(".json")));
    d.step = m.at("step").get<int64_t>();
    d.loss_sum = m.value("window_loss_sum", 0.0);
    d.since_log = m.value("window_steps", int64_t(0));
    say("resumed at step " + std::to_string(d.step) + " from " + ck.filename().string());
  }
}

LandmarkTrainer::~LandmarkTrainer() = default;
int64_t LandmarkTrainer::step() const { return impl_->step; }
const LandmarkTrainConfig& LandmarkTrainer::config() const { return impl_->cfg; }
BackboneImpl& LandmarkTrainer::network() { return *impl_->net; }
size_t LandmarkTrainer::size() const { return impl_->faces.size(); }

LandmarkTrainer::Sample LandmarkTrainer::sample(size_t index, bool augment_, int64_t step, size_t slot) const {
  const auto& c = impl_->cfg;
  const StoredFace& f = impl_->faces.at(index);
  const int S = int(c.backbone.input);
  std::mt19937_64 r(ckpt::mix(ckpt::mix(c.seed, uint64_t(step)), slot));
  // every draw is made whether it applies or not: the draws of a slot do not depend on the options
  const double u_frame = uniform(r, 0, 1), angle = uniform(r, -1, 1) * c.rotate_deg,
               scale = 1 + uniform(r, -1, 1) * c.scale_jitter, dx = uniform(r, -1, 1) * c.shift,
               dy = uniform(r, -1, 1) * c.shift, u_flip = uniform(r, 0, 1);
  const uint64_t photo_seed = r();
  cv::Point2d centre(kContext / 2.0, kContext / 2.0);
  double side = c.crop_scale * kBoxInContext;
  if (augment_ && u_frame < 0.5) {  // the refinement pass's framing: the points' extent
    cv::Rect2f b = cv::boundingRect(f.points);
    centre = cv::Point2d(b.x + b.width / 2.0, b.y + b.height / 2.0);
    side = c.refine_scale * std::max(b.width, b.height);
  }
  double a = 0;
  if (augment_) {
    side *= scale;
    centre += cv::Point2d(dx * side, dy * side);
    a = angle * CV_PI / 180;
  }
  // context -> crop: u = R(-a) (p - centre) S / side + S / 2 (the landmarker's crop: pixel u
  // samples centre - side/2 + u side / S when a = 0)
  const double k = S / side, ca = std::cos(a) * k, sa = std::sin(a) * k;
  cv::Mat A = (cv::Mat_<double>(2, 3) << ca, sa, S / 2.0 - ca * centre.x - sa * centre.y, -sa, ca,
               S / 2.0 + sa * centre.x - ca * centre.y);
  Sample s;
  cv::warpAffine(f.context, s.crop, A, cv::Size(S, S), cv::INTER_LINEAR, cv::BORDER_CONSTANT, cv::Scalar(0, 0, 0));
  s.points.resize(68);
  for (size_t i = 0; i < 68; ++i) {
    const auto& p = f.points[i];
    s.points[i] = cv::Point2f(float(A.at<double>(0, 0) * p.x + A.at<double>(0, 1) * p.y + A.at<double>(0, 2)),
                              float(A.at<double>(1, 0) * p.x + A.at<double>(1, 1) * p.y + A.at<double>(1, 2)));
  }
  if (augment_ && u_flip < c.flip_p) {
    cv::flip(s.crop, s.crop, 1);
    std::vector<cv::Point2f> m(68);
    for (size_t i = 0; i < 68; ++i) {
      const auto& p = s.points[ibug68_mirror(i)];
      m[i] = cv::Point2f(float(S - 1) - p.x, p.y);
    }
    s.points = std::move(m);
  }
  if (augment_) {
    auto po = c.photometric;
    po.flip_p = 0;
    s.crop = augment(s.crop, po, photo_seed);
  }
  return s;
}

namespace {

torch::Tensor to_target(const std::vector<std::vector<cv::Point2f>>& pts) {
  auto t = torch::empty({int64_t(pts.size()), 136});
  auto a = t.accessor<float, 2>();
  for (size_t i = 0; i < pts.size(); ++i)
    for (size_t j = 0; j < 68; ++j) {
      a[long(i)][long(2 * j)] = pts[i][j].x;
      a[long(i)][long(2 * j + 1)] = pts[i][j].y;
    }
  return t;
}

}  // namespace

double LandmarkTrainer::validate() {
  auto& d = *impl_;
  if (d.validation.empty()) return std::nan("");
  torch::NoGradGuard g;
  d.net->eval();
  const int S = int(d.cfg.backbone.input);
  double sum = 0;
  for (size_t b = 0; b < d.validation.size(); b += 64) {
    std::vector<cv::Mat> crops;
    std::vector<std::vector<cv::Point2f>> truth;
    for (size_t i = b; i < std::min(d.validation.size(), b + 64); ++i) {
      auto s = sample(d.validation[i], false, 0, 0);
      crops.push_back(s.crop);
      truth.push_back(s.points);
    }
    const auto y = d.net->forward(backbone_input(crops)).contiguous();
    auto a = y.accessor<float, 2>();
    for (size_t i = 0; i < crops.size(); ++i) {
      std::vector<cv::Point2f> p(68);
      for (size_t j = 0; j < 68; ++j)
        p[j] = cv::Point2f(a[long(i)][long(2 * j)] * float(S), a[long(i)][long(2 * j + 1)] * float(S));
      sum += landmark_nme(p, truth[i]);
    }
  }
  d.net->train();
  return sum / double(d.validation.size());
}

void LandmarkTrainer::save_checkpoint() {
  auto& d = *impl_;
  torch::serialize::OutputArchive ar, bb, op;
  d.net->save(bb);
  ar.write("backbone", bb);
  d.opt->save(op);
  ar.write("optimizer", op);
  ckpt::write_checkpoint(ckpt::checkpoint_path(d.run, d.step), ar,
                         json{{"step", d.step},
                              {"backbone", d.cfg.backbone.name},
                              {"window_loss_sum", d.loss_sum},
                              {"window_steps", d.since_log},
                              {"facerec", version()}},
                         d.cfg.keep_checkpoints);
}

int64_t LandmarkTrainer::run(const std::function<bool(int64_t)>& keep_going,
                             const std::function<void(const LandmarkProgress&)>& on_progress,
                             const std::function<void(const std::string&)>& on_message) {
  auto& d = *impl_;
  const auto& c = d.cfg;
  TrainConfig schedule;  // the embedding trainer's schedule: linear warm-up, then cosine
  schedule.lr = c.lr;
  schedule.steps = c.steps;
  schedule.warmup_steps = c.warmup_steps;
  schedule.schedule = "cosine";
  const int S = int(c.backbone.input);
  const size_t n_lab = d.pseudo.empty() ? size_t(c.batch) : size_t(std::lround(c.labelled_share * c.batch));
  d.net->train();
  const auto t0 = std::chrono::steady_clock::now();
  int64_t timed = 0;
  double data_s = 0;
  while (d.step < c.steps) {
    const auto t_step = std::chrono::steady_clock::now();
    std::mt19937_64 r(ckpt::mix(c.seed ^ 0x5eedULL, uint64_t(d.step)));
    std::vector<cv::Mat> crops;
    std::vector<std::vector<cv::Point2f>> pts;
    for (size_t slot = 0; slot < size_t(c.batch); ++slot) {
      const auto& pool = slot < n_lab ? d.train_labelled : d.pseudo;
      const size_t idx = pool[std::uniform_int_distribution<size_t>(0, pool.size() - 1)(r)];
      auto s = sample(idx, c.augment, d.step, slot);
      crops.push_back(std::move(s.crop));
      pts.push_back(std::move(s.points));
    }
    const auto t_data = std::chrono::steady_clock::now();
    torch::manual_seed(ckpt::mix(c.seed, uint64_t(d.step) + 1));
    const auto pred = d.net->forward(backbone_input(crops)) * float(S);
    const auto loss = landmark_loss(pred, to_target(pts), c.loss, c.wing_w, c.wing_epsilon);
    const double lv = loss.item<double>();
    if (!std::isfinite(lv))
      throw Error(ErrorKind::Internal, "training diverged at step " + std::to_string(d.step) + ": lower lr");
    d.opt->zero_grad();
    loss.backward();
    const double lr = learning_rate(schedule, d.step);
    for (auto& g : d.opt->param_groups()) static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr);
    d.opt->step();
    data_s += std::chrono::duration<double>(t_data - t_step).count();
    ++d.step;
    ++timed;
    ++d.since_log;
    d.loss_sum += lv;
    if (d.step % c.log_every == 0 || d.step == c.steps) {
      const double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      LandmarkProgress p;
      p.step = d.step;
      p.steps = c.steps;
      p.loss = d.loss_sum / double(d.since_log);
      p.lr = lr;
      p.samples_per_s = double(timed * c.batch) / std::max(el, 1e-9);
      p.eta_s = el / double(timed) * double(c.steps - d.step);
      p.data_share = data_s / std::max(el, 1e-9);
      d.log({{"step", p.step}, {"loss", p.loss}, {"lr", lr}, {"samples_per_s", p.samples_per_s}});
      if (on_progress) on_progress(p);
      d.loss_sum = 0;
      d.since_log = 0;
    }
    const bool stop = keep_going && !keep_going(d.step);
    if (d.step % c.validate_every == 0 || d.step == c.steps) {
      const double nme = validate();
      d.log({{"step", d.step}, {"validation_nme", nme}, {"validation_faces", d.validation.size()}});
      if (on_message)
        on_message("validation at step " + std::to_string(d.step) + ": NME " + std::to_string(nme) + " on " +
                   std::to_string(d.validation.size()) + " held-out faces");
    }
    if (d.step % c.checkpoint_every == 0 || d.step == c.steps || stop) {
      save_checkpoint();
      write_report();
    }
    if (stop) break;
  }
  return d.step;
}

void LandmarkTrainer::write_report() const {
  const auto& d = *impl_;
  PlotSeries loss{d.cfg.loss + " loss", {}, {}}, nme{"held-out NME (inter-ocular)", {}, {}},
      lr{"learning rate", {}, {}};
  for (const auto& j : ckpt::read_log(d.run / "log.jsonl")) {
    const double s = j.value("step", 0.0);
    if (j.contains("validation_nme")) {
      nme.x.push_back(s);
      nme.y.push_back(j.value("validation_nme", std::nan("")));
    } else {
      loss.x.push_back(s);
      loss.y.push_back(j.value("loss", std::nan("")));
      lr.x.push_back(s);
      lr.y.push_back(j.value("lr", std::nan("")));
    }
  }
  const auto& c = d.cfg;
  HtmlReport r("Landmark training report: " + d.run.filename().string());
  r.paragraph(c.backbone.name + " (input " + std::to_string(c.backbone.input) + ", " + c.loss + " loss) on " +
              std::to_string(d.train_labelled.size()) + " labelled faces (" + std::to_string(d.validation.size()) +
              " held out) and " + std::to_string(d.pseudo.size()) + " faces labelled by " + c.teacher + "; step " +
              std::to_string(d.step) + " of " + std::to_string(c.steps) + ". facerec " + version() + ".");
  r.figures({svg_plot({"Loss", "step", c.loss + " (pixels of the input)"}, {loss}),
             svg_plot({"Held-out NME", "step", "mean NME"}, {nme}), svg_plot({"Learning rate", "step", "lr"}, {lr})});
  r.heading("Configuration");
  r.preformatted(c.to_json().dump(2));
  detail::write_file_atomic(d.run / "report.html", r.html());
}

ExportResult export_landmark_run(const Manifest& base, const std::filesystem::path& run_dir, const std::string& name,
                                 const std::filesystem::path& manifest_out, const std::filesystem::path& checkpoint) {
  const auto cj = read_run_config(run_dir);
  const auto cfg = LandmarkTrainConfig::from_json(cj);
  const auto ck = checkpoint.empty() ? latest_checkpoint(run_dir) : checkpoint;
  auto net = load_run_network(cfg.backbone, run_dir, ck);
  const auto dir = std::filesystem::absolute(manifest_out).parent_path();
  auto out = write_checked_onnx(*net, "landmarks", dir / "trained" / (name + ".onnx"), cfg.seed);
  add_trained_model(base, manifest_out, out, cfg.backbone.input,
                    {{"name", name},
                     {"task", "landmarks"},
                     {"family", "ibug68"},
                     {"licence",
                      "trained with facerec; the weights follow the terms of the training data (300-W: "
                      "research use)"},
                     {"origin", "facerec train landmarks: " + cfg.backbone.name + ", " + cfg.loss + " loss, " +
                                    std::to_string(cfg.steps) + " steps, checkpoint " + ck.filename().string()},
                     {"outputs",
                      {{{"name", "landmarks"},
                        {"shape", {-1, 136}},
                        {"role", "landmarks"},
                        {"meaning", "68 iBUG points (x, y) as fractions of the square crop"}}}},
                     {"training", cj}});
  return out;
}

}  // namespace facerec::train
