// facerec enroll | identify | people list|show|remove
#include "commands.hpp"
#include "common/decimal.hpp"
#include "gallery_util.hpp"

#include <facerec/analyzer.hpp>
#include <facerec/error.hpp>
#include <facerec/gallery/gallery.hpp>
#include <facerec/image.hpp>

#include "common/fs.hpp"
#include "common/sha256.hpp"

#include <facerec/eval/eval.hpp>
#include <facerec/gallery/enrol.hpp>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdlib>
#include <iostream>

namespace facerec::cli {
namespace {

std::string default_db() {
  if (const char* p = std::getenv("FACEREC_DB"); p && *p) return p;
  std::filesystem::path base;
  if (const char* x = std::getenv("XDG_DATA_HOME"); x && *x)
    base = x;
  else if (const char* h = std::getenv("HOME"); h && *h)
    base = std::filesystem::path(h) / ".local" / "share";
  else
    base = std::filesystem::temp_directory_path();
  std::filesystem::create_directories(base / "facerec");
  return (base / "facerec" / "gallery.db").string();
}

}  // namespace

std::string default_gallery() { return default_db(); }

void GalleryFlags::add(CLI::App* app, bool with_index) {
  app->add_option("--db", db, "Gallery: a SQLite file or a postgresql:// URL (env FACEREC_DB)")->capture_default_str();
  pipeline.add(app, true);
  if (with_index) {
    app->add_option("--index", index, "Search index: Flat (exact) or faiss:<factory>, e.g. faiss:HNSW32;efSearch=128")
        ->capture_default_str();
    app->add_option("--index-file", index_file,
                    "Keep the index here: loaded at start when it matches the gallery, else rebuilt and saved");
  }
}

GalleryOptions GalleryFlags::gallery_options() const {
  GalleryOptions o;
  o.index = index;
  o.index_file = index_file;
  o.create = create;
  o.log = [](const std::string& line) { std::cerr << "facerec: " << line << "\n"; };
  return o;
}

std::optional<Template> template_from_image(FaceAnalyzer& fa, const std::string& bytes, bool keep_crop,
                                            std::string* note, Face* face) {
  auto img = decode_image_bytes(bytes);
  return facerec::template_from_image(fa, img.bgr, detail::sha256_hex(bytes), keep_crop, note, face);
}

namespace {

// How enrolment treats faces below the quality floor. A plain value.
struct QualityGate {
  double floor = -1;   // < 0: the analyzer's quality model's floor
  bool force = false;  // enrol them anyway
};

// The templates of the photos; a photo without a face, or (unless forced) whose face is below the
// quality floor, is reported and skipped (*refused counts the latter).
std::vector<Template> templates_from_files(FaceAnalyzer& fa, const std::vector<std::string>& images, bool keep_crops,
                                           const QualityGate& gate, size_t* refused = nullptr) {
  std::vector<Template> templates;
  const double floor = gate.floor >= 0 ? gate.floor : fa.quality_model().floor;
  for (const auto& path : images) {
    try {
      std::string note;
      Face face;
      auto t = template_from_image(fa, detail::read_file(path), keep_crops, &note, &face);
      if (!note.empty()) std::cerr << "facerec: " << path << ": " << note << (t ? "\n" : "; skipped\n");
      if (t && !gate.force) {
        if (auto why = enrol_refusal(face, floor); !why.empty()) {
          std::cerr << "facerec: " << path << ": " << why << " (--force); skipped\n";
          if (refused) ++*refused;
          continue;
        }
      }
      if (t) templates.push_back(std::move(*t));
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::InvalidArgument && e.kind() != ErrorKind::BadInput && e.kind() != ErrorKind::NotFound)
        throw;
      std::cerr << "facerec: " << e.what() << "; skipped\n";
    }
  }
  return templates;
}

int enroll(const std::string& name, const std::string& metadata, const std::vector<std::string>& images,
           const std::string& folders, bool keep_crops, const QualityGate& gate, const GalleryFlags& g) {
  FaceAnalyzer fa(manifest(), g.options());
  auto store = open_store(g.db, /*create=*/true);
  if (!folders.empty()) {  // one person per sub-folder, one transaction each
    auto subjects = read_identity_folders(folders);
    size_t done = 0, people = 0, faces = 0;
    auto start = std::chrono::steady_clock::now();
    for (const auto& s : subjects) {
      std::vector<std::string> paths;
      for (const auto& i : s.images) paths.push_back((std::filesystem::path(folders) / i).string());
      auto templates = templates_from_files(fa, paths, keep_crops, gate);
      done += paths.size();
      if (templates.empty()) {
        std::cerr << "facerec: no face for " << s.id << "; not enrolled\n";
      } else {
        int64_t id = store->enroll(s.id, metadata, templates);
        ++people;
        faces += templates.size();
        std::cout << "enrolled " << s.id << " (id " << id << "): " << templates.size() << " face(s)\n" << std::flush;
      }
      double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::fprintf(stderr, "\renrolling %zu/%zu people, %zu images, %.1f img/s   ", people, subjects.size(), done,
                   double(done) / secs);
    }
    std::fprintf(stderr, "\n");
    std::cout << "enrolled " << people << " people, " << faces << " faces\n";
    return people ? kOk : kBadInput;
  }
  if (name.empty()) throw Error(ErrorKind::InvalidArgument, "--name is required (or --folders DIR)");
  if (images.empty()) throw Error(ErrorKind::InvalidArgument, "no images given for " + name);
  size_t refused = 0;
  auto templates = templates_from_files(fa, images, keep_crops, gate, &refused);
  if (templates.empty())
    throw Error(ErrorKind::InvalidArgument, (refused ? "no face of enough quality" : "no face found") +
                                                std::string(" in any image for ") + name + "; nothing enrolled");
  int64_t id = store->enroll(name, metadata, templates);
  std::cout << "enrolled " << name << " (id " << id << "): " << templates.size() << " face(s) from " << images.size()
            << " image(s)\n";
  return kOk;
}

int reembed(const GalleryFlags& g) {
  FaceAnalyzer fa(manifest(), g.options());
  Gallery gallery(g.db, g.gallery_options());
  std::string from = gallery.model();
  auto start = std::chrono::steady_clock::now();
  size_t n = gallery.reembed(
      fa.template_model(), [&](const FaceCrop& c) { return fa.embed_crop(c); },
      [&](size_t d, size_t total) {
        if (d % 20 && d != total) return;
        double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        std::fprintf(stderr, "\rre-embedding %zu/%zu  %.1f/s  ETA %.0f s   ", d, total, double(d) / secs,
                     double(total - d) * secs / double(d));
        if (d == total) std::fprintf(stderr, "\n");
      });
  std::cout << "re-embedded " << n << " templates: " << (from.empty() ? "(empty)" : from) << " -> "
            << fa.template_model() << "\n";
  return kOk;
}

int identify(const std::vector<std::string>& images, int top, const std::string& fmr, bool json,
             const GalleryFlags& g) {
  FaceAnalyzer fa(manifest(), g.options());
  Gallery gallery(g.db, g.gallery_options());
  std::string op = operating_point_for_fmr(fmr);
  const double threshold = fa.threshold(op);
  int bad = 0;
  for (const auto& path : images) {
    std::vector<Face> faces;
    try {
      faces = fa.analyze(decode_image_file(path).bgr, true);
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::InvalidArgument && e.kind() != ErrorKind::BadInput && e.kind() != ErrorKind::NotFound)
        throw;
      std::cerr << "facerec: " << e.what() << "\n";
      ++bad;
      continue;
    }
    nlohmann::json jfaces = nlohmann::json::array();
    if (!json) std::cout << path << "\t" << faces.size() << " face(s)\n";
    for (size_t i = 0; i < faces.size(); ++i) {
      auto who = gallery.identify(faces[i].embedding, fa.template_model(), top, threshold);
      const auto& cands = who.candidates;
      bool known = who.identity.has_value();
      const auto& b = faces[i].detection.box;
      if (json) {
        nlohmann::json jc = nlohmann::json::array();
        for (const auto& c : cands)
          jc.push_back({{"id", c.identity_id}, {"name", c.name}, {"similarity", c.similarity}});
        jfaces.push_back({{"face", i},
                          {"box", {b.x, b.y, b.width, b.height}},
                          {"score", faces[i].detection.score},
                          {"identity", known ? nlohmann::json(who.identity->name) : nlohmann::json(nullptr)},
                          {"threshold", threshold},
                          {"operating_point", op},
                          {"candidates", jc}});
      } else {
        std::printf("  %zu\tbox %.0f,%.0f %.0fx%.0f\t%s", i, double(b.x), double(b.y), double(b.width),
                    double(b.height), known ? who.identity->name.c_str() : "unknown");
        for (const auto& c : cands) std::printf("\t%s %.3f", c.name.c_str(), double(c.similarity));
        std::printf("\n");
      }
    }
    if (json)
      std::cout << nlohmann::json{{"image", path}, {"model", fa.template_model()}, {"faces", jfaces}}.dump() << "\n";
    std::fflush(stdout);
  }
  return bad ? kBadInput : kOk;
}

// The person a command-line argument names: an exact name, else (all digits) an id; with
// --id always an id. A name that is also another person's id is refused as ambiguous.
std::optional<Identity> resolve_person(GalleryStore& store, const std::string& who, bool by_id) {
  auto number = detail::parse_decimal(who);
  if (by_id) {
    if (!number) throw Error(ErrorKind::InvalidArgument, "--id needs a number, not '" + who + "'");
    return store.get(*number);
  }
  auto named = store.find_name(who);
  auto numbered = number ? store.get(*number) : std::nullopt;
  if (named && numbered && named->id != numbered->id)
    throw Error(ErrorKind::InvalidArgument, "'" + who + "' is the name of person " + std::to_string(named->id) +
                                                " and the id of " + numbered->name +
                                                ": give --id to mean the id, "
                                                "or the id " +
                                                std::to_string(named->id) + " with --id");
  return named ? named : numbered;
}

int people(const std::string& verb, const std::string& who, bool by_id, const std::string& db, bool json) {
  auto store = open_store(db, /*create=*/false);
  if (verb == "list") {
    auto all = store->list();
    if (json) {
      nlohmann::json arr = nlohmann::json::array();
      for (const auto& i : all)
        arr.push_back({{"id", i.id}, {"name", i.name}, {"templates", i.templates}, {"metadata", i.metadata}});
      std::cout << arr.dump(2) << "\n";
    } else {
      for (const auto& i : all) std::cout << i.id << "\t" << i.name << "\t" << i.templates << " face(s)\n";
      std::cerr << all.size() << " people; model " << (store->model().empty() ? "(none yet)" : store->model()) << "\n";
    }
    return kOk;
  }
  auto person = resolve_person(*store, who, by_id);
  if (!person) throw Error(ErrorKind::NotFound, "no person '" + who + "' in " + db);
  if (verb == "show") {
    std::cout << nlohmann::json{{"id", person->id},
                                {"name", person->name},
                                {"templates", person->templates},
                                {"metadata", person->metadata},
                                {"model", store->model()}}
                     .dump(2)
              << "\n";
    return kOk;
  }
  store->remove(person->id);
  std::cout << "removed " << person->name << " (id " << person->id << ", " << person->templates << " face(s))\n";
  return kOk;
}

}  // namespace

void add_gallery_commands(CLI::App& app, Action* action) {
  {
    auto* cmd = app.add_subcommand("enroll", "Add a person's face(s) to the gallery (one transaction per person)");
    auto name = std::make_shared<std::string>(), meta = std::make_shared<std::string>(),
         folders = std::make_shared<std::string>();
    auto images = std::make_shared<std::vector<std::string>>();
    auto keep = std::make_shared<bool>(true);
    auto g = std::make_shared<GalleryFlags>();
    cmd->add_option("--name", *name, "The person's name");
    cmd->add_option("--metadata", *meta, "Free metadata (JSON by convention)");
    cmd->add_option("--folders", *folders, "Enrol every sub-folder of DIR as one person named after it")
        ->check(CLI::ExistingDirectory);
    cmd->add_flag("--keep-crops,!--no-crops", *keep,
                  "Store each face crop so the gallery can be re-embedded for another model (default: on)");
    cmd->add_option("images", *images, "Photos of the person (the largest face of each is used)");
    auto gate = std::make_shared<QualityGate>();
    cmd->add_option("--min-quality", gate->floor,
                    "Skip faces whose quality score is below this (default: the quality model's floor)")
        ->check(CLI::Range(0.0, 1.0));
    cmd->add_flag("--force", gate->force, "Enrol faces below the quality floor too");
    g->add(cmd, false);
    cmd->callback([=] { *action = [=] { return enroll(*name, *meta, *images, *folders, *keep, *gate, *g); }; });
  }
  {
    auto* cmd = app.add_subcommand(
        "reembed", "Re-embed every template of the gallery with another model, from the stored face crops");
    auto g = std::make_shared<GalleryFlags>();
    g->add(cmd);
    cmd->callback([=] { *action = [=] { return reembed(*g); }; });
  }
  {
    auto* cmd =
        app.add_subcommand("identify", "Who is in these photos? Every face with its best candidates, or unknown");
    auto images = std::make_shared<std::vector<std::string>>();
    auto top = std::make_shared<int>(3);
    auto fmr = std::make_shared<std::string>("1e-3");
    auto json = std::make_shared<bool>(false);
    auto g = std::make_shared<GalleryFlags>();
    cmd->add_option("images", *images, "Photos")->required();
    cmd->add_option("--top", *top, "Candidates per face")->capture_default_str()->check(CLI::Range(1, 1000));
    cmd->add_option("--fmr", *fmr, "Operating point for known/unknown: 1e-3, 1e-4 or best")
        ->capture_default_str()
        ->check(CLI::IsMember({"1e-3", "1e-4", "best"}));
    cmd->add_flag("--json", *json, "One JSON object per image");
    g->add(cmd, true);
    cmd->callback([=] { *action = [=] { return identify(*images, *top, *fmr, *json, *g); }; });
  }
  {
    auto* cmd = app.add_subcommand("people", "List, show or remove enrolled people");
    cmd->require_subcommand(1);
    auto db = std::make_shared<std::string>(default_db());
    auto json = std::make_shared<bool>(false);
    for (const char* verb : {"list", "show", "remove"}) {
      auto* sub = cmd->add_subcommand(verb, std::string(verb) + " enrolled people");
      auto who = std::make_shared<std::string>();
      auto by_id = std::make_shared<bool>(false);
      if (std::string(verb) != "list") {
        sub->add_option("person", *who, "Name, or id when no person has that name")->required();
        sub->add_flag("--id", *by_id, "The argument is an id, never a name");
      }
      sub->add_option("--db", *db, "Gallery: a SQLite file or a postgresql:// URL (env FACEREC_DB)")
          ->capture_default_str();
      sub->add_flag("--json", *json, "JSON output");
      std::string v = verb;
      sub->callback([=] { *action = [=] { return people(v, *who, *by_id, *db, *json); }; });
    }
  }
}

}  // namespace facerec::cli
