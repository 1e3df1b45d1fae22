#pragma once
// CLI subcommands: each file adds its subcommands to the app and runs them. Thin over the library.
#include <facerec/backend.hpp>
#include <facerec/models.hpp>

#include <CLI/CLI.hpp>

#include <functional>
#include <string>
#include <vector>

namespace facerec::cli {

// Exit codes (documented in `facerec --help`).
enum Exit : int { kOk = 0, kFailure = 1, kUsage = 2, kBadInput = 3, kExternal = 4, kNoMatch = 5 };

using Action = std::function<int()>;
// The --backend flag's help: the backends this build registered (onednn-bf16 only on CPUs with bf16).
inline std::string backend_help() {
  std::string names;
  for (const auto& n : backend_names()) names += (names.empty() ? "" : " | ") + n;
  return "Inference backend: " + names + " (an int8 model runs on onednn when a float-only one is named)";
}

// Splits "a,b,c" into its non-empty parts.
inline std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  for (size_t start = 0; start <= s.size();) {
    size_t end = s.find(',', start);
    if (end == std::string::npos) end = s.size();
    if (end > start) out.push_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

// The command line as typed (for reports); set by main.
void set_command_line(int argc, char** argv);
const std::string& command_line();
// The model manifest, loaded on first use (once per process) from --manifest, else
// Manifest::default_path(). Every command passes this one to the library.
const Manifest& manifest();
// Where --manifest points (empty: the default).
void set_manifest_path(const std::string& path);
// Adds `models` and its subcommands; stores the action to run in *action when selected.
void add_models_commands(CLI::App& app, Action* action);
void add_quantize_command(CLI::App* models, Action* action);  // models quantize (cmd_quantize.cpp)
void add_calib_set_command(CLI::App* data, Action* action);   // data calib-set (cmd_calib_set.cpp)
// detect, embed, compare
void add_face_commands(CLI::App& app, Action* action);
// enroll, identify, people
void add_gallery_commands(CLI::App& app, Action* action);
// serve
void add_serve_command(CLI::App& app, Action* action);
// quality, quality fit, quality edc
void add_quality_commands(CLI::App& app, Action* action);
// eval lfw
void add_eval_commands(CLI::App& app, Action* action);
void add_fairness_command(CLI::App* eval, Action* action);  // eval fairness (cmd_fairness.cpp)
// liveness, and eval liveness under `eval`
void add_liveness_commands(CLI::App& app, CLI::App& eval, Action* action);
// data merge
void add_data_commands(CLI::App& app, Action* action);
// The 3D face model file a command uses: `flag` (--mesh), else $FACEREC_FACE_MESH, else "" (cmd_pose_data.cpp).
std::string face_mesh_path(const std::string& flag);
// data repose, data pose-balance and eval pose-pairs (cmd_pose_data.cpp)
void add_pose_data_commands(CLI::App* data, CLI::App* eval, Action* action);
// train (only in builds with the training toolchain: FACEREC_HAS_TRAIN)
void add_train_commands(CLI::App& app, Action* action);
void add_train_attributes_command(CLI::App* train, Action* action);  // train attributes (cmd_train_attributes.cpp)

}  // namespace facerec::cli
