// The export of a run to a facerec model: ONNX through the project's writer, parity on the
// inference backends, a manifest entry.
#include <facerec/backend.hpp>
#include <facerec/error.hpp>
#include <facerec/eval/eval.hpp>
#include <facerec/eval/report.hpp>
#include <facerec/train/landmark_trainer.hpp>
#include <facerec/train/trainer.hpp>
#include <facerec/version.hpp>

#include "common/fs.hpp"
#include "common/sha256.hpp"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <map>
#include <numeric>
#include <random>
#include <regex>
#include <set>
#include <sstream>

namespace facerec::train {

using json = nlohmann::json;

// ---- export -------------------------------------------------------------------------------

ExportResult write_checked_onnx(BackboneImpl& net, const std::string& output, const std::filesystem::path& file,
                                uint64_t seed) {
  ExportResult out;
  for (const auto& p : net.parameters()) out.parameters += p.numel();
  out.multiply_adds = multiply_adds(net);
  const std::string onnx = export_onnx(net, "input", output);
  out.onnx = file;
  std::filesystem::create_directories(out.onnx.parent_path());
  detail::write_file_atomic(out.onnx, onnx);
  out.sha256 = detail::sha256_file(out.onnx);

  // parity on a seeded batch of inputs in the network's input range
  torch::manual_seed(seed);
  const int64_t S = net.options().input;
  auto x = torch::rand({3, 3, S, S}) * 2 - 1;
  torch::Tensor ref;
  {
    torch::NoGradGuard g;
    ref = net.forward(x).contiguous();
  }
  const double scale = std::max(1.0, ref.abs().max().item<double>());
  for (const std::string backend : {"reference", "opencv-dnn"}) {
    auto b = load_backend(backend, out.onnx.string());
    double worst = 0;
    for (int64_t i = 0; i < x.size(0); ++i) {
      auto xi = x[i].contiguous();
      Tensor t({1, 3, S, S}, std::vector<float>(xi.data_ptr<float>(), xi.data_ptr<float>() + xi.numel()));
      const auto y = b->run({t}).at(0).data;
      auto ri = ref[i];
      for (size_t k = 0; k < y.size(); ++k)
        worst = std::max(worst, std::abs(double(y[k]) - ri[long(k)].item<double>()));
    }
    (backend == "reference" ? out.max_diff_reference : out.max_diff_opencv) = worst;
    if (worst > 1e-4 * scale)
      throw Error(ErrorKind::Internal, "export: the ONNX model differs from libtorch on " + backend + " by " +
                                           std::to_string(worst) + " (allowed " + std::to_string(1e-4 * scale) + ")");
  }
  return out;
}


void add_trained_model(const Manifest& base, const std::filesystem::path& manifest_out, const ExportResult& onnx,
                       int64_t input_side, nlohmann::json entry) {
  const auto dir = std::filesystem::absolute(manifest_out).parent_path();
  const double k = 1.0 / 128.0;
  entry["format"] = "onnx";
  entry["files"] = {std::filesystem::relative(onnx.onnx, dir).generic_string()};
  entry["sha256"] = onnx.sha256;
  entry["weights_dtype"] = "float32";
  entry["input"] = {{"name", "input"},         {"width", input_side},
                    {"height", input_side},    {"layout", "NCHW"},
                    {"color", "RGB"},          {"mean", {127.5, 127.5, 127.5}},
                    {"scale", {k, k, k}}};
  std::error_code ec;
  Manifest m = std::filesystem::exists(manifest_out, ec) ? Manifest::load(manifest_out) : base;
  m.add_model(entry.dump(), dir);
  m.save(manifest_out);
}

json read_run_config(const std::filesystem::path& run_dir) {
  try {
    return json::parse(detail::read_file(run_dir / "config.json"));
  } catch (const json::exception& e) {
    throw Error(ErrorKind::BadModel, (run_dir / "config.json").string() + " is not valid JSON: " + e.what());
  }
}

Backbone load_run_network(const BackboneOptions& options, const std::filesystem::path& run_dir,
                          const std::filesystem::path& checkpoint) {
  if (checkpoint.empty()) throw Error(ErrorKind::NotFound, run_dir.string() + " has no intact checkpoint to export");
  auto net = make_backbone(options);
  load_backbone(*net, checkpoint);
  net->eval();
  return net;
}

ExportResult export_run(const Manifest& base, const std::filesystem::path& run_dir, const std::string& name,
                        const std::filesystem::path& manifest_out, const std::filesystem::path& checkpoint) {
  if (name.empty() || name.find_first_of("/\\ \t") != std::string::npos)
    throw Error(ErrorKind::InvalidArgument, "export: the model name must be non-empty, without slashes or spaces");
  const json cj = read_run_config(run_dir);
  if (cj.is_object() && cj.value("task", "") == "landmarks")
    return export_landmark_run(base, run_dir, name, manifest_out, checkpoint);
  const auto cfg = TrainConfig::from_json(cj);
  const auto ck = checkpoint.empty() ? latest_checkpoint(run_dir) : checkpoint;
  auto net = load_run_network(cfg.backbone, run_dir, ck);
  const auto dir = std::filesystem::absolute(manifest_out).parent_path();
  ExportResult out = write_checked_onnx(*net, "embedding", dir / "trained" / (name + ".onnx"), cfg.seed);
  const int64_t S = cfg.backbone.input;

  const bool exported_112 = cfg.backbone.input == 112;
  std::string alignment = cfg.data_kind == "photos" ? (exported_112 ? "arcface" : "arcface-tight") : cfg.alignment;
  add_trained_model(base, manifest_out, out, S,
                    {{"name", name},
                     {"task", "embed"},
                     {"alignment", alignment},
                     {"licence", "trained with facerec; the weights follow the terms of the training data"},
                     {"origin", "facerec train: " + cfg.backbone.name + " with the " + loss_text(cfg) + " on " +
                                    cfg.data + " (" + cfg.data_kind + "), " + std::to_string(cfg.steps) +
                                    " steps, checkpoint " + ck.filename().string()},
                     {"outputs",
                      {{{"name", "embedding"},
                        {"shape", {-1, cfg.backbone.embedding}},
                        {"role", "embedding"},
                        {"meaning", std::to_string(cfg.backbone.embedding) + "-d face embedding (not normalised)"}}}},
                     {"training", cj}});
  return out;
}

}  // namespace facerec::train
