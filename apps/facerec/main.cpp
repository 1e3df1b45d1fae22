// facerec — command-line interface. Results go to stdout, logs and progress to stderr.
#include "commands.hpp"

#include <facerec/error.hpp>

#include <cstdio>
#include <iostream>

using facerec::cli::Exit;

static int exit_code_for(facerec::ErrorKind k) {
  switch (k) {
    case facerec::ErrorKind::InvalidArgument:
      return Exit::kUsage;
    case facerec::ErrorKind::NotFound:
    case facerec::ErrorKind::BadModel:
    case facerec::ErrorKind::BadInput:
      return Exit::kBadInput;
    case facerec::ErrorKind::External:
      return Exit::kExternal;
    default:
      return Exit::kFailure;
  }
}

namespace facerec::cli {
namespace {
std::string g_command_line;
std::string g_manifest_path;
}  // namespace
void set_manifest_path(const std::string& path) { g_manifest_path = path; }
const Manifest& manifest() {
  static const Manifest m = g_manifest_path.empty() ? Manifest::load_default() : Manifest::load(g_manifest_path);
  return m;
}
void set_command_line(int argc, char** argv) {
  g_command_line.clear();
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    bool quote = a.empty() || a.find_first_of(" \t'\"$\\") != std::string::npos;
    if (i) g_command_line += ' ';
    if (!quote) {
      g_command_line += a;
      continue;
    }
    g_command_line += '\'';
    for (char c : a) g_command_line += c == '\'' ? std::string("'\\''") : std::string(1, c);
    g_command_line += '\'';
  }
}
const std::string& command_line() { return g_command_line; }
}  // namespace facerec::cli

int main(int argc, char** argv) {
  facerec::cli::set_command_line(argc, argv);
  CLI::App app{"facerec: face detection, alignment, embedding and matching on the CPU"};
  app.footer(
      "Exit codes: 0 success, 1 failure, 2 usage error, 3 bad or missing input (file, model),\n"
      "4 an external tool or registry failed (npm, tar), 5 `compare`: the faces do not match.\n"
      "Environment: FACEREC_MODELS (model cache dir), FACEREC_MANIFEST (model manifest path),\n"
      "FACEREC_DB (gallery), FACEREC_API_KEYS (serve).");
  app.require_subcommand(1);
  app.fallthrough();  // --manifest may follow the subcommand
  std::string manifest_path;
  app.add_option("--manifest", manifest_path,
                 "Model manifest (default: $FACEREC_MANIFEST, else share/facerec/models/manifest.json of the "
                 "installation)");
  facerec::cli::Action action;
  facerec::cli::add_face_commands(app, &action);
  facerec::cli::add_gallery_commands(app, &action);
  facerec::cli::add_serve_command(app, &action);
  facerec::cli::add_quality_commands(app, &action);
  facerec::cli::add_eval_commands(app, &action);
  facerec::cli::add_data_commands(app, &action);
  facerec::cli::add_pose_data_commands(app.get_subcommand("data"), app.get_subcommand("eval"), &action);
  facerec::cli::add_models_commands(app, &action);
#ifdef FACEREC_HAS_TRAIN
  facerec::cli::add_train_commands(app, &action);
#endif
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return Exit::kUsage;
  }
  facerec::cli::set_manifest_path(manifest_path);
  try {
    return action ? action() : Exit::kUsage;
  } catch (const facerec::Error& e) {
    std::cerr << "facerec: " << facerec::to_string(e.kind()) << ": " << e.what() << "\n";
    return exit_code_for(e.kind());
  } catch (const std::exception& e) {
    std::cerr << "facerec: error: " << e.what() << "\n";
    return Exit::kFailure;
  }
}
