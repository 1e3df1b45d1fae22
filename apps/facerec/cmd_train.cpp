// facerec train: the training toolchain (built with libtorch). `train preview` writes a grid of
// augmented samples so the augmentation config can be seen before a run.
#include "commands.hpp"

#include <facerec/error.hpp>
#include <facerec/eval/eval.hpp>
#include <facerec/image.hpp>
#include <facerec/train/augment.hpp>
#include <facerec/train/landmark_trainer.hpp>
#include <facerec/train/trainer.hpp>

#include <nlohmann/json.hpp>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <memory>
#include <sstream>

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

struct RunArgs {
  std::string run_dir, config;
  std::vector<std::string> set;
  bool resume = false;
  int64_t stop_after = 0;
};

std::atomic<bool> g_interrupted{false};
extern "C" void on_signal(int) { g_interrupted = true; }

// "a.b=value": the value as JSON when it parses (numbers, true, [1,2]), else as a string.
void apply_set(nlohmann::json& j, const std::string& kv) {
  const auto eq = kv.find('=');
  if (eq == std::string::npos || eq == 0)
    throw Error(ErrorKind::InvalidArgument, "--set " + kv + ": expected key=value");
  const std::string key = kv.substr(0, eq), text = kv.substr(eq + 1);
  nlohmann::json v;
  try {
    v = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception&) {
    v = text;
  }
  nlohmann::json* at = &j;
  std::stringstream ks(key);
  std::vector<std::string> parts;
  for (std::string p; std::getline(ks, p, '.');) parts.push_back(p);
  for (size_t i = 0; i + 1 < parts.size(); ++i) at = &(*at)[parts[i]];
  (*at)[parts.back()] = v;
}

// The run's config as JSON: --config, else (resuming) the stored config.json, then every --set.
nlohmann::json config_json(const RunArgs& a) {
  nlohmann::json j = nlohmann::json::object();
  const auto stored = std::filesystem::path(a.run_dir) / "config.json";
  auto parse_file = [](const std::string& f) {
    std::ifstream in(f);
    if (!in) throw Error(ErrorKind::NotFound, "cannot read " + f);
    try {
      return nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
      throw Error(ErrorKind::InvalidArgument, f + " is not valid JSON: " + e.what());
    }
  };
  if (!a.config.empty())
    j = parse_file(a.config);
  else if (a.resume && std::filesystem::exists(stored))
    j = parse_file(stored.string());
  for (const auto& kv : a.set) apply_set(j, kv);
  return j;
}

int run(const RunArgs& a) {
  auto cfg = train::TrainConfig::from_json(config_json(a));
  train::Trainer t(manifest(), cfg, a.run_dir, a.resume);
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  const int64_t start = t.step();
  std::fprintf(stderr, "[train] %s: step %lld of %lld\n", a.run_dir.c_str(), static_cast<long long>(start),
               static_cast<long long>(t.config().steps));
  const int64_t done = t.run(
      [&](int64_t step) { return !g_interrupted && (a.stop_after == 0 || step - start < a.stop_after); },
      [no_head = t.config().loss == "none"](const train::TrainProgress& p) {
        char what[96] = "";
        int n = 0;
        if (!no_head) n += std::snprintf(what + n, sizeof what - size_t(n), "acc %.3f", p.accuracy);
        if (!std::isnan(p.teacher_cosine))
          n += std::snprintf(what + n, sizeof what - size_t(n), "%scos(teacher) %.4f", n ? "  " : "", p.teacher_cosine);
        if (!std::isnan(p.feature_loss))
          std::snprintf(what + n, sizeof what - size_t(n), "%sfeatures %.4f", n ? "  " : "", p.feature_loss);
        std::fprintf(stderr, "[train] step %lld/%lld  loss %.4f  %s  lr %.5f  %.1f samples/s  ETA %s\n",
                     static_cast<long long>(p.step), static_cast<long long>(p.steps), p.loss, what, p.lr,
                     p.samples_per_s, train::clock_text(p.eta_s).c_str());
      },
      [](const std::string& m) { std::fprintf(stderr, "[train] %s\n", m.c_str()); });
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  std::fprintf(stderr, "[train] stopped at step %lld; checkpoint in %s/checkpoints, report %s/report.html\n",
               static_cast<long long>(done), a.run_dir.c_str(), a.run_dir.c_str());
  if (done < t.config().steps) {
    std::fprintf(stderr, "[train] not finished: continue with `facerec train run %s --resume`\n", a.run_dir.c_str());
    return g_interrupted ? 130 : kOk;
  }
  return kOk;
}

int run_landmarks(const RunArgs& a) {
  auto cfg = train::LandmarkTrainConfig::from_json(config_json(a));
  auto say = [](const std::string& m) { std::fprintf(stderr, "[train] %s\n", m.c_str()); };
  train::LandmarkTrainer t(manifest(), cfg, a.run_dir, a.resume, say);
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  const int64_t start = t.step();
  std::fprintf(stderr, "[train] %s: step %lld of %lld, %s loss\n", a.run_dir.c_str(), static_cast<long long>(start),
               static_cast<long long>(t.config().steps), t.config().loss.c_str());
  const int64_t done =
      t.run([&](int64_t step) { return !g_interrupted && (a.stop_after == 0 || step - start < a.stop_after); },
            [](const train::LandmarkProgress& p) {
              std::fprintf(stderr, "[train] step %lld/%lld  loss %.4f  lr %.5f  %.1f samples/s (data %.0f%%)  ETA %s\n",
                           static_cast<long long>(p.step), static_cast<long long>(p.steps), p.loss, p.lr,
                           p.samples_per_s, 100 * p.data_share, train::clock_text(p.eta_s).c_str());
            },
            say);
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  std::fprintf(stderr, "[train] stopped at step %lld; checkpoints in %s/checkpoints, log %s/log.jsonl\n",
               static_cast<long long>(done), a.run_dir.c_str(), a.run_dir.c_str());
  if (done < t.config().steps) {
    std::fprintf(stderr, "[train] not finished: continue with `facerec train landmarks %s --resume`\n",
                 a.run_dir.c_str());
    return g_interrupted ? 130 : kOk;
  }
  return kOk;
}

struct ExportArgs {
  std::string run_dir, name, manifest_out, checkpoint;
};

int export_cmd(const ExportArgs& a) {
  const auto r = train::export_run(manifest(), a.run_dir, a.name, a.manifest_out, a.checkpoint);
  std::printf("%s\t%s\n", r.onnx.string().c_str(), r.sha256.c_str());
  std::fprintf(stderr,
               "export: %s (%lld parameters, %.1f M multiply-adds); parity with libtorch: reference %.2e, "
               "opencv-dnn %.2e; entry '%s' in %s\n",
               r.onnx.string().c_str(), static_cast<long long>(r.parameters), double(r.multiply_adds) / 1e6,
               r.max_diff_reference, r.max_diff_opencv, a.name.c_str(), a.manifest_out.c_str());
  if (Manifest::load(a.manifest_out).model(a.name).task == "landmarks")
    std::fprintf(stderr,
                 "next: facerec --manifest %s eval landmarks <300-W folder> --landmarker %s,face_landmark_68_model\n",
                 a.manifest_out.c_str(), a.name.c_str());
  else
    std::fprintf(stderr, "next: facerec --manifest %s eval lfw --embedder %s --calibrate ...\n", a.manifest_out.c_str(),
                 a.name.c_str());
  return kOk;
}

struct PackArgs {
  std::string folder, rec;
};

// An identity folder as insightface's train.rec + train.idx (label = identity index in name order;
// the files' bytes as they are, so JPEG stays JPEG).
int pack(const PackArgs& a) {
  const auto subjects = read_identity_folders(a.folder);
  std::vector<std::pair<int, std::string>> items;
  size_t bad = 0;
  for (size_t i = 0; i < subjects.size(); ++i)
    for (const auto& img : subjects[i].images) {
      const auto path = std::filesystem::path(a.folder) / img;
      std::ifstream in(path, std::ios::binary);
      std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      try {
        decode_image_bytes(bytes);  // only decodable images go in
      } catch (const Error& e) {
        std::fprintf(stderr, "pack: %s left out: %s\n", path.string().c_str(), e.what());
        ++bad;
        continue;
      }
      items.emplace_back(int(i), std::move(bytes));
    }
  auto idx = std::filesystem::path(a.rec);
  idx.replace_extension(".idx");
  train::write_recordio(a.rec, idx, items);
  std::fprintf(stderr, "pack: %zu images of %zu identities -> %s + %s (%zu left out)\n", items.size(), subjects.size(),
               a.rec.c_str(), idx.string().c_str(), bad);
  return kOk;
}

}  // namespace

// The flags of a training run (train run, train distill).
static void add_run_flags(CLI::App* c, RunArgs& r) {
  c->add_option("run_dir", r.run_dir, "Run directory")->required();
  c->add_option("--config", r.config, "Training config (JSON; see README: Training)")->check(CLI::ExistingFile);
  c->add_option("--set", r.set, "Override a config field: key=value (repeatable; augmentation.flip_p=0.5)");
  c->add_flag("--resume", r.resume, "Continue the run in RUN_DIR from its latest intact checkpoint");
  c->add_option("--stop-after", r.stop_after, "Stop (with a checkpoint) after this many steps of this session")
      ->check(CLI::NonNegativeNumber);
}

void add_train_commands(CLI::App& app, Action* action) {
  auto* tr = app.add_subcommand(
      "train", "Train face networks (libtorch): run, distill, landmarks, attributes, export, pack, report, preview");
  tr->require_subcommand(1);
  add_train_attributes_command(tr, action);
  {
    auto* rn = tr->add_subcommand("run", "Train (or resume) a run: checkpoints, log.jsonl and report.html in RUN_DIR");
    auto r = std::make_shared<RunArgs>();
    add_run_flags(rn, *r);
    rn->callback([=] { *action = [=] { return run(*r); }; });
  }
  {
    auto* ds = tr->add_subcommand(
        "distill",
        "Train a student on a frozen teacher's embeddings: train run with teacher=T, backbone=S and, unless --set "
        "loss=... adds a head, the distillation loss alone (needs no identity labels)");
    auto r = std::make_shared<RunArgs>();
    auto teacher = std::make_shared<std::string>(), student = std::make_shared<std::string>();
    ds->add_option("--teacher", *teacher, "onnx:<file or manifest model>, or <run>/checkpoints/step-N.pt");
    ds->add_option("--student", *student,
                   "The student's backbone (mobilefacenet, iresnet18, ..., onnx:<model>); set input, embedding and "
                   "width with --set");
    add_run_flags(ds, *r);
    ds->callback([=] {
      if (!r->resume && teacher->empty())
        throw CLI::ValidationError("--teacher", "a new distillation run needs a teacher");
      *action = [=] {
        RunArgs a = *r;
        std::vector<std::string> first;  // the command's own fields first: --set overrides them
        if (!teacher->empty()) first.push_back("teacher=" + *teacher);
        if (!student->empty()) first.push_back("backbone=" + *student);
        bool loss_given = false;  // by the config file (a --set loss=... comes later and wins anyway)
        if (!a.config.empty()) try {
            loss_given = nlohmann::json::parse(std::ifstream(a.config)).contains("loss");
          } catch (const nlohmann::json::exception&) {
            // run() reports the file
          }
        if (!a.resume && !loss_given) first.push_back("loss=none");
        a.set.insert(a.set.begin(), first.begin(), first.end());
        return run(a);
      };
    });
  }
  {
    auto* lm = tr->add_subcommand(
        "landmarks",
        "Train (or resume) the 68-point landmark CNN on 300-W folders (and teacher-labelled photos) with wing, L1 "
        "or L2 loss; export it with `train export`");
    auto r = std::make_shared<RunArgs>();
    add_run_flags(lm, *r);
    lm->callback([=] { *action = [=] { return run_landmarks(*r); }; });
  }
  {
    auto* ex = tr->add_subcommand("export", "Export a run's network as a facerec model (ONNX + manifest entry)");
    auto e = std::make_shared<ExportArgs>();
    ex->add_option("run_dir", e->run_dir, "Run directory")->required()->check(CLI::ExistingDirectory);
    ex->add_option("--name", e->name, "Model name in the manifest")->required();
    ex->add_option("--manifest-out", e->manifest_out,
                   "Manifest to add the model to (created from the current manifest when missing); the ONNX "
                   "goes to trained/ beside it")
        ->required();
    ex->add_option("--checkpoint", e->checkpoint, "A checkpoint other than the latest")->check(CLI::ExistingFile);
    ex->callback([=] { *action = [=] { return export_cmd(*e); }; });
  }
  {
    auto* pk = tr->add_subcommand("pack",
                                  "Pack an identity folder as a RecordIO train.rec + train.idx (insightface's format)");
    auto p = std::make_shared<PackArgs>();
    pk->add_option("folder", p->folder, "Identity folders (<folder>/<identity>/<image>)")
        ->required()
        ->check(CLI::ExistingDirectory);
    pk->add_option("rec", p->rec, "The .rec to write (the .idx goes beside it)")->required();
    pk->callback([=] { *action = [=] { return pack(*p); }; });
  }
  {
    auto* rp = tr->add_subcommand("report", "Rewrite RUN_DIR/report.html from its log");
    auto d = std::make_shared<std::string>();
    rp->add_option("run_dir", *d, "Run directory")->required()->check(CLI::ExistingDirectory);
    rp->callback([=] {
      *action = [=] {
        train::Trainer t(manifest(),
                         train::TrainConfig::from_json(
                             nlohmann::json::parse(std::ifstream(std::filesystem::path(*d) / "config.json"))),
                         *d, true);
        t.write_report();
        std::fprintf(stderr, "report: %s/report.html\n", d->c_str());
        return kOk;
      };
    });
  }
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
  // every augmentation field, named as in the config (jpeg_quality_min -> --jpeg-quality-min)
  train::for_each_field(o, [&](const char* name, auto& field) {
    std::string flag = std::string("--") + name;
    std::replace(flag.begin(), flag.end(), '_', '-');
    pv->add_option(flag, field, std::string("augmentation.") + name)->capture_default_str();
  });
  pv->callback([=] { *action = [=] { return preview(*a); }; });
}

}  // namespace facerec::cli
