#include "common/fs.hpp"
#include "common/sha256.hpp"

#include <facerec/error.hpp>
#include <facerec/models.hpp>

#include <nlohmann/json.hpp>

#include <dlfcn.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>

namespace facerec {

namespace {

template <typename T>
T field(const nlohmann::ordered_json& j, const std::string& key, const std::string& where) {
  if (!j.contains(key)) throw Error(ErrorKind::BadModel, "manifest: " + where + " lacks '" + key + "'");
  try {
    return j.at(key).get<T>();
  } catch (const nlohmann::ordered_json::exception& e) {
    throw Error(ErrorKind::BadModel, "manifest: " + where + "." + key + " has the wrong type: " + e.what());
  }
}

void read3(const nlohmann::ordered_json& j, const char* key, float (&out)[3], const std::string& where) {
  if (!j.contains(key)) return;
  auto v = field<std::vector<float>>(j, key, where);
  if (v.size() != 3) throw Error(ErrorKind::BadModel, "manifest: " + where + "." + key + " needs 3 values");
  for (int i = 0; i < 3; ++i) out[i] = v[size_t(i)];
}

}  // namespace

Manifest Manifest::load(const std::filesystem::path& path) {
  Manifest m;
  m.path_ = path;
  m.parse(detail::read_file(path), std::filesystem::absolute(path).parent_path());
  return m;
}

void Manifest::add_model(const std::string& entry_json, const std::filesystem::path& folder) {
  nlohmann::ordered_json j, e;
  try {
    j = nlohmann::ordered_json::parse(text_);
    e = nlohmann::ordered_json::parse(entry_json);
  } catch (const nlohmann::ordered_json::exception& ex) {
    throw Error(ErrorKind::BadModel, std::string("manifest: the new entry is not valid JSON: ") + ex.what());
  }
  if (!e.is_object() || !e.contains("name") || !e["name"].is_string())
    throw Error(ErrorKind::BadModel, "manifest: a model entry needs a name");
  auto& models = j["models"];
  bool replaced = false;
  for (auto& x : models)
    if (x.value("name", std::string()) == e["name"].get<std::string>()) {
      x = e;
      replaced = true;
    }
  if (!replaced) models.push_back(e);
  Manifest next;
  next.path_ = path_;
  next.parse(j.dump(), folder);  // validates the whole manifest before anything changes
  // thresholds set on this object survive (the entry's own, if any, win for its model)
  for (const auto& m : models_)
    if (m.name != e["name"].get<std::string>() && !m.thresholds.empty()) next.set_thresholds(m.name, m.thresholds);
  *this = std::move(next);
}

void Manifest::parse(const std::string& text, const std::filesystem::path& folder) {
  nlohmann::ordered_json j;
  try {
    j = nlohmann::ordered_json::parse(text);
  } catch (const nlohmann::ordered_json::exception& e) {
    throw Error(ErrorKind::BadModel, "manifest " + path_.string() + " is not valid JSON: " + e.what());
  }
  Manifest& m = *this;
  m.packages_.clear();
  m.models_.clear();
  m.text_ = j.dump();
  for (const auto& p : field<nlohmann::ordered_json>(j, "packages", "root")) {
    PackageSource s;
    s.name = field<std::string>(p, "name", "package");
    s.version = field<std::string>(p, "version", s.name);
    s.sha256 = field<std::string>(p, "sha256", s.name);
    if (s.sha256.size() != 64) throw Error(ErrorKind::BadModel, "manifest: " + s.name + ".sha256 is not 64 hex digits");
    m.packages_.push_back(s);
  }
  for (const auto& e : field<nlohmann::ordered_json>(j, "models", "root")) {
    ModelEntry me;
    me.name = field<std::string>(e, "name", "model");
    const std::string& w = me.name;
    me.task = field<std::string>(e, "task", w);
    me.family = e.value("family", std::string());
    me.alignment = e.value("alignment", std::string());
    if (e.contains("package")) {
      me.package = field<std::string>(e, "package", w);
      m.package(me.package);  // must exist
    }
    me.format = field<std::string>(e, "format", w);
    if (me.format != "tfjs-graph" && me.format != "faceapi-weights" && me.format != "tflite" && me.format != "onnx" &&
        me.format != "fused")
      throw Error(ErrorKind::BadModel, "manifest: " + w + ".format '" + me.format + "' is unknown");
    if (e.contains("thresholds"))
      for (const auto& [k, v] : e.at("thresholds").items()) {
        if (!v.is_number())
          throw Error(ErrorKind::BadModel, "manifest: " + w + ".thresholds." + k + " is not a number");
        me.thresholds.emplace_back(k, v.get<double>());
      }
    if (me.format == "fused") {  // no file, input or outputs of its own: its components have them
      if (me.task != "embed") throw Error(ErrorKind::BadModel, "manifest: " + w + ": only embedders can be fused");
      me.licence = e.value("licence", std::string("as its components"));
      me.origin = e.value("origin", std::string());
      me.notes = e.value("notes", std::string());
      for (const auto& c : field<nlohmann::ordered_json>(e, "fuse", w)) {
        FusionComponent fc;
        fc.model = field<std::string>(c, "model", w + ".fuse");
        fc.weight = field<double>(c, "weight", w + ".fuse");
        if (c.contains("mean")) fc.mean = field<std::vector<float>>(c, "mean", w + ".fuse");
        if (!(fc.weight > 0 && fc.weight <= 1))
          throw Error(ErrorKind::BadModel, "manifest: " + w + ".fuse." + fc.model + ".weight must be in (0, 1]");
        for (float x : fc.mean)
          if (!std::isfinite(x))
            throw Error(ErrorKind::BadModel, "manifest: " + w + ".fuse." + fc.model + ".mean is not finite");
        me.fuse.push_back(std::move(fc));
      }
      if (me.fuse.size() < 2) throw Error(ErrorKind::BadModel, "manifest: " + w + ".fuse needs at least two embedders");
      double sum = 0;
      for (const auto& c : me.fuse) sum += c.weight;
      if (std::abs(sum - 1) > 1e-6) throw Error(ErrorKind::BadModel, "manifest: " + w + ".fuse weights must sum to 1");
      for (const auto& other : m.models_)
        if (other.name == me.name) throw Error(ErrorKind::BadModel, "manifest: model '" + me.name + "' listed twice");
      m.models_.push_back(std::move(me));
      continue;
    }
    if (me.format == "onnx") {
      me.sha256 = field<std::string>(e, "sha256", w);
      if (me.sha256.size() != 64) throw Error(ErrorKind::BadModel, "manifest: " + w + ".sha256 is not 64 hex digits");
    } else {
      me.package = field<std::string>(e, "package", w);  // imported models come from a package
    }
    me.arch = e.value("arch", std::string());
    me.files = field<std::vector<std::string>>(e, "files", w);
    if (me.files.empty()) throw Error(ErrorKind::BadModel, "manifest: " + w + ".files is empty");
    if (me.format == "onnx") {
      const std::filesystem::path f = me.files[0];
      me.file = f.is_absolute() ? f : folder / f;
    }
    me.weights_dtype = field<std::string>(e, "weights_dtype", w);
    me.licence = field<std::string>(e, "licence", w);
    me.origin = e.value("origin", std::string());
    me.notes = e.value("notes", std::string());
    const auto in = field<nlohmann::ordered_json>(e, "input", w);
    me.input.name = field<std::string>(in, "name", w + ".input");
    me.input.width = field<int>(in, "width", w + ".input");
    me.input.height = field<int>(in, "height", w + ".input");
    me.input.layout = in.value("layout", std::string("NCHW"));
    me.input.color = in.value("color", std::string("RGB"));
    read3(in, "mean", me.input.mean, w + ".input");
    read3(in, "scale", me.input.scale, w + ".input");
    for (const auto& o : field<nlohmann::ordered_json>(e, "outputs", w)) {
      OutputSpec os;
      os.name = field<std::string>(o, "name", w + ".outputs");
      os.shape = field<std::vector<int64_t>>(o, "shape", w + ".outputs");
      os.role = o.value("role", std::string());
      os.meaning = o.value("meaning", std::string());
      os.index = o.value("index", 0);
      if (os.index < 0) throw Error(ErrorKind::BadModel, "manifest: " + w + ".outputs." + os.name + ".index < 0");
      me.outputs.push_back(os);
    }
    if (me.task == "embed" && std::count_if(me.outputs.begin(), me.outputs.end(),
                                            [](const OutputSpec& o) { return o.role == "embedding"; }) != 1)
      throw Error(ErrorKind::BadModel, "manifest: embedder " + w + " needs exactly one output with role \"embedding\"");
    if (e.contains("cut")) {
      if (me.format != "tfjs-graph")
        throw Error(ErrorKind::BadModel, "manifest: " + w + ".cut needs format tfjs-graph");
      const auto& c = e.at("cut");
      GraphCut gc;
      gc.input = field<std::string>(c, "input", w + ".cut");
      for (const auto& o : field<nlohmann::ordered_json>(c, "outputs", w + ".cut")) {
        if (!o.is_array() || o.size() != 2 || !o[0].is_string() || !o[1].is_string())
          throw Error(ErrorKind::BadModel, "manifest: " + w + ".cut.outputs: expected [name, tensor] pairs");
        gc.outputs.emplace_back(o[0].get<std::string>(), o[1].get<std::string>());
      }
      if (gc.outputs.empty()) throw Error(ErrorKind::BadModel, "manifest: " + w + ".cut.outputs is empty");
      gc.free_size = c.value("free_size", false);
      me.cut = gc;
    }
    if (e.contains("free_size")) {
      if (me.format != "tflite") throw Error(ErrorKind::BadModel, "manifest: " + w + ".free_size needs format tflite");
      me.free_size = field<bool>(e, "free_size", w);
    }
    if (e.contains("crop_scale")) {
      me.crop_scale = field<double>(e, "crop_scale", w);
      if (!(me.crop_scale > 0 && me.crop_scale <= 10))
        throw Error(ErrorKind::BadModel, "manifest: " + w + ".crop_scale must be in (0, 10]");
    }
    if (e.contains("cascade")) me.cascade = field<std::vector<std::string>>(e, "cascade", w);
    static const std::vector<std::pair<std::string, std::vector<std::string>>> families = {
        {"detect", {"blazeface", "faceboxes", "mtcnn"}}, {"landmarks", {"ibug68", "facemesh"}}};
    for (const auto& [task, names] : families)
      if (me.task == task && std::find(names.begin(), names.end(), me.family) == names.end()) {
        std::string list;
        for (const auto& f : names) list += (list.empty() ? "" : ", ") + f;
        throw Error(ErrorKind::BadModel, "manifest: " + w + ".family '" + me.family + "' is not one of the " + task +
                                             " families (" + list + ")");
      }
    if (me.task == "embed" && me.alignment != "arcface" && me.alignment != "arcface-tight" &&
        me.alignment != "dlib-chip")
      throw Error(ErrorKind::BadModel, "manifest: " + w + ".alignment '" + me.alignment +
                                           "' must be \"arcface\", \"arcface-tight\" or \"dlib-chip\"");
    for (const auto& other : m.models_)
      if (other.name == me.name) throw Error(ErrorKind::BadModel, "manifest: model '" + me.name + "' listed twice");
    m.models_.push_back(std::move(me));
  }
  // fused embedders: their components exist, are plain embedders, and their means fit them
  for (const auto& f : m.models_)
    for (const auto& c : f.fuse) {
      const std::string where = "manifest: " + f.name + ".fuse." + c.model;
      auto it =
          std::find_if(m.models_.begin(), m.models_.end(), [&](const ModelEntry& x) { return x.name == c.model; });
      if (it == m.models_.end()) throw Error(ErrorKind::BadModel, where + ": no such model");
      if (it->task != "embed" || it->format == "fused")
        throw Error(ErrorKind::BadModel, where + ": a component must be a plain embedder");
      const auto& shape = it->output_with_role("embedding").shape;
      if (shape.empty() || (!c.mean.empty() && int64_t(c.mean.size()) != shape.back()))
        throw Error(ErrorKind::BadModel, where + ".mean has " + std::to_string(c.mean.size()) +
                                             " values; the embedding has " +
                                             std::to_string(shape.empty() ? 0 : shape.back()));
      if (std::count_if(f.fuse.begin(), f.fuse.end(), [&](const FusionComponent& x) { return x.model == c.model; }) > 1)
        throw Error(ErrorKind::BadModel, where + " is listed twice");
    }
}

Manifest Manifest::load_default() { return load(default_path()); }

std::filesystem::path Manifest::default_path() {
  if (const char* p = std::getenv("FACEREC_MANIFEST"); p && *p) return p;
  // the directory of the shared library (or executable) this function is linked into; a static
  // executable started through PATH is named as typed, so a relative name means /proc/self/exe
  Dl_info info{};
  std::filesystem::path file;
  if (dladdr(reinterpret_cast<void*>(&Manifest::default_path), &info) != 0 && info.dli_fname && *info.dli_fname)
    file = info.dli_fname;
  std::error_code ec;
  if (!file.is_absolute()) file = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (file.empty())
    throw Error(ErrorKind::NotFound,
                "cannot tell where the facerec library is installed, so no default manifest; "
                "set FACEREC_MANIFEST or pass one explicitly");
  const auto here = std::filesystem::weakly_canonical(file).parent_path();
  std::vector<std::filesystem::path> tried;
  for (const char* up : {"..", "../..", "../../.."}) {  // <prefix>/lib, <prefix>/lib/<arch>, build trees
    auto p = here / up / "share" / "facerec" / "models" / "manifest.json";
    if (std::filesystem::exists(p)) return std::filesystem::weakly_canonical(p);
    tried.push_back(p.lexically_normal());
  }
  std::string where;
  for (const auto& t : tried) where += (where.empty() ? "" : ", ") + t.string();
  throw Error(ErrorKind::NotFound,
              "no model manifest found (looked at " + where + "); set FACEREC_MANIFEST or pass one explicitly");
}

void Manifest::set_thresholds(const std::string& model, const std::vector<std::pair<std::string, double>>& thresholds) {
  auto it = std::find_if(models_.begin(), models_.end(), [&](const ModelEntry& m) { return m.name == model; });
  if (it == models_.end()) this->model(model);  // throws NotFound listing the names
  for (const auto& kv : thresholds) {           // (not a structured binding: clang 14 cannot capture those)
    const std::string& k = kv.first;
    auto t = std::find_if(it->thresholds.begin(), it->thresholds.end(), [&](const auto& p) { return p.first == k; });
    if (t != it->thresholds.end())
      t->second = kv.second;
    else
      it->thresholds.push_back(kv);
  }
}

void Manifest::set_crop_scale(const std::string& model, double crop_scale) {
  if (!(crop_scale > 0 && crop_scale <= 10))
    throw Error(ErrorKind::InvalidArgument, "crop_scale must be in (0, 10], not " + std::to_string(crop_scale));
  auto it = std::find_if(models_.begin(), models_.end(), [&](const ModelEntry& m) { return m.name == model; });
  if (it == models_.end()) this->model(model);  // throws NotFound listing the names
  it->crop_scale = crop_scale;
}

void Manifest::save(const std::filesystem::path& path) const {
  if (text_.empty()) throw Error(ErrorKind::InvalidArgument, "Manifest::save: nothing loaded to save");
  auto j = nlohmann::ordered_json::parse(text_);
  for (auto& e : j["models"]) {
    const auto& m = model(e["name"].get<std::string>());
    if (e.contains("crop_scale") || m.crop_scale != 1.0) e["crop_scale"] = m.crop_scale;
    if (m.thresholds.empty()) continue;
    nlohmann::ordered_json t = nlohmann::ordered_json::object();
    for (const auto& [k, v] : m.thresholds) t[k] = v;
    e["thresholds"] = t;
  }
  detail::write_file_atomic(path, j.dump(2) + "\n");
}

const OutputSpec& ModelEntry::output_with_role(const std::string& role) const {
  for (const auto& o : outputs)
    if (o.role == role) return o;
  throw Error(ErrorKind::BadModel, "model '" + name + "' has no output with role \"" + role + "\" in the manifest");
}

const PackageSource& Manifest::package(const std::string& name) const {
  for (const auto& p : packages_)
    if (p.name == name) return p;
  throw Error(ErrorKind::NotFound, "manifest has no package '" + name + "'");
}

const ModelEntry& Manifest::model(const std::string& name) const {
  for (const auto& m : models_)
    if (m.name == name) return m;
  std::string known;
  for (const auto& m : models_) known += (known.empty() ? "" : ", ") + m.name;
  throw Error(ErrorKind::NotFound, "unknown model '" + name + "' (known: " + known + ")");
}

std::filesystem::path models_dir() {
  if (const char* p = std::getenv("FACEREC_MODELS"); p && *p) return p;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return std::filesystem::path(x) / "facerec" / "models";
  if (const char* h = std::getenv("HOME"); h && *h) return std::filesystem::path(h) / ".cache" / "facerec" / "models";
  return std::filesystem::temp_directory_path() / "facerec-models";
}

std::string Manifest::model_version(const std::string& name) const {
  const ModelEntry& m = model(name);
  if (m.format == "fused") {
    std::string v, recipe;
    for (const auto& c : m.fuse) {
      v += (v.empty() ? "" : "+") + model_version(c.model);
      recipe += c.model + " " + std::to_string(c.weight);
      for (float x : c.mean) recipe += " " + std::to_string(x);
      recipe += "\n";
    }
    return v + "+fuse:" + detail::sha256_hex(recipe).substr(0, 16);
  }
  if (m.format == "onnx" && m.package.empty()) return "sha256:" + m.sha256.substr(0, 16);
  const auto& p = package(m.package);
  return p.name + "@" + p.version;
}

bool is_imported(const ModelEntry& model) {
  std::error_code ec;
  if (model.format == "onnx") return std::filesystem::exists(model.file, ec);
  if (model.format != "fused") return std::filesystem::exists(models_dir() / model.onnx_file(), ec);
  return std::all_of(model.fuse.begin(), model.fuse.end(), [&](const FusionComponent& c) {
    return std::filesystem::exists(models_dir() / (c.model + ".onnx"), ec);
  });
}

std::string backend_for(const ModelEntry& model, const std::string& requested) {
  const bool fp32_only = requested == "opencv-dnn" || requested == "xnnpack" || requested == "onednn-bf16";
  return model.weights_dtype == "int8" && fp32_only ? "onednn" : requested;
}

std::filesystem::path model_path(const ModelEntry& model) {
  if (model.format == "fused")
    throw Error(ErrorKind::InvalidArgument, "model '" + model.name + "' is fused from other embedders; it has no file");
  if (model.format == "onnx") {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(model.file, ec))
      throw Error(ErrorKind::NotFound, "model '" + model.name + "': no file " + model.file.string());
    if (detail::sha256_file(model.file) != model.sha256)
      throw Error(ErrorKind::BadModel, "model '" + model.name + "': " + model.file.string() +
                                           " does not match the sha256 in the manifest (changed or corrupt)");
    return model.file;
  }
  auto p = models_dir() / model.onnx_file();
  if (!std::filesystem::exists(p))
    throw Error(ErrorKind::NotFound,
                "model '" + model.name + "' is not imported yet (" + p.string() + "); run `facerec models fetch`");
  return p;
}

}  // namespace facerec
