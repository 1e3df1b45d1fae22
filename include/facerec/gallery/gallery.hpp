#pragma once
// facerec::Gallery — enrolled people and 1:N identification.
//
// What it represents: identities (id, name, free metadata) with several face templates each
// (embedding, the embedding model's name, source-image sha256, quality, time, and optionally the
// face crop needed to re-embed with another model), kept in a GalleryStore (SQLite file by
// default, PostgreSQL by URL) and searched through a SearchIndex (exact by default, FAISS by
// factory string). Every template records its model: enrolling or searching with another model
// is refused; `reembed` moves a whole gallery to a new model from the stored crops.
//
// Thread safety: a GalleryStore is NOT safe for concurrent use (one per thread, or behind a
// lock). A Gallery IS safe for concurrent use: searches run in parallel, enrolments and removals
// are serialised; several processes may share one SQLite file (WAL) or one PostgreSQL database,
// each enrolment being one transaction, so a crash never leaves half an enrolment behind.
#include <facerec/face.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

namespace facerec {

class SearchIndex;

// A person as stored: id, name, metadata and how many templates they have. A plain value.
struct Identity {
  int64_t id = 0;
  std::string name;
  std::string metadata;  // free text, JSON by convention
  int templates = 0;
};

// One face of a person: its embedding, the model that made it, and where it came from. A plain value.
struct Template {
  std::vector<float> embedding;  // L2-normalised
  std::string model;             // e.g. "face_recognition_model+flip"
  std::string image_sha256;
  float quality = 0;  // the face's quality score (quality.hpp; the detector score before release 0.3)
  FaceCrop crop;
};

// A template with the ids the store gave it and its owner. A plain value.
struct StoredTemplate {
  int64_t id = 0, identity_id = 0;
  Template t;
};

// One identity a search returned, with its best similarity. A plain value.
struct Candidate {
  int64_t identity_id = 0;
  std::string name;
  float similarity = 0;  // best over the identity's templates
};

// The answer to "who is this?": the best candidates and the decision at a threshold.
struct Identification {
  std::vector<Candidate> candidates;  // best first, at most k
  // The best candidate when its similarity reaches the threshold; nullopt: unknown.
  std::optional<Candidate> identity;
  double threshold = 0;
};

// Storage behind one interface: open_store("path.db"), open_store("sqlite:path.db"),
// open_store("postgresql://user@host/db") (also "postgres://").
// Thread safety: NOT safe for concurrent use (see above). Every member throws Error(Io) when the
// database fails (an SQLite error, a lost PostgreSQL connection); revision() and schema_version()
// throw Error(Unsupported) when the stored value is not a number (a damaged or foreign database).
class GalleryStore {
 public:
  virtual ~GalleryStore() = default;
  // Adds a person with templates in one transaction; returns the identity id. An existing name
  // gets the templates added (and its metadata replaced when non-empty). Requires: a name (at most
  // 512 bytes), at least one template, one model and non-zero dimension across them and the
  // gallery. Throws Error(InvalidArgument) otherwise, storing nothing.
  // `template_ids`, when given, receives the new templates' ids.
  virtual int64_t enroll(const std::string& name, const std::string& metadata, const std::vector<Template>& templates,
                         std::vector<int64_t>* template_ids = nullptr) = 0;
  // Adds templates to the existing identity `identity_id` in one transaction. Throws
  // Error(NotFound) when no such identity exists (e.g. it was removed meanwhile): an identity is
  // never brought back by adding to it. Otherwise as enroll().
  virtual void add_templates(int64_t identity_id, const std::vector<Template>& templates,
                             std::vector<int64_t>* template_ids = nullptr) = 0;
  // A person without templates yet. Throws Error(InvalidArgument) for an empty name,
  // Error(AlreadyExists) when the name is taken.
  // Ids are never reused: a removed person's id is never given to another.
  virtual int64_t create(const std::string& name, const std::string& metadata) = 0;
  // Every person, in name order, with their template counts.
  virtual std::vector<Identity> list() = 0;
  // By id only; a person's name never stands for an id. nullopt when unknown.
  virtual std::optional<Identity> get(int64_t identity_id) = 0;
  // By exact name; nullopt when unknown.
  virtual std::optional<Identity> find_name(const std::string& name) = 0;
  virtual bool remove(int64_t identity_id) = 0;  // with its templates; false when unknown
  // Templates with id > after_id in id order; crops only when asked (they are large).
  virtual std::vector<StoredTemplate> templates(bool with_crops = false, int64_t after_id = 0) = 0;
  // The templates of one identity in id order (no crops); empty for an unknown identity.
  virtual std::vector<StoredTemplate> templates_of(int64_t identity_id) = 0;
  // Replaces the embedding and model of every template in one transaction (re-embedding). Requires:
  // a model name and exactly one entry per stored template, all of one non-zero dimension.
  // Throws Error(InvalidArgument) otherwise, changing nothing.
  virtual void replace_embeddings(const std::string& model,
                                  const std::map<int64_t, std::vector<float>>& embeddings) = 0;
  // The embedding model of the gallery, empty while it holds no template.
  virtual std::string model() = 0;
  // The schema version recorded in the database (this build's after open_store migrated it).
  virtual int schema_version() = 0;
  // Bumped by every committed change; with the template count it identifies an index snapshot.
  virtual int64_t revision() = 0;
};

// Opens the store a URL names (see GalleryStore), migrating its schema to this build's version.
// Throws Error(InvalidArgument) for an unknown URL scheme or an empty path, Error(Io) when the store
// cannot open (or an SQLite file that is not a facerec gallery: a database with other tables),
// Error(Unsupported) for a newer or unreadable schema version, and Error(NotFound) when `create` is
// false and there is no gallery yet (no such file; a database without the gallery's tables) — a
// mistyped path is an error, not a new empty gallery.
std::unique_ptr<GalleryStore> open_store(const std::string& url, bool create = true);

// How a Gallery indexes its store. A plain value.
struct GalleryOptions {
  std::string index = "Flat";  // SearchIndex factory string (index.hpp)
  // When set: loaded at start if it matches the store (same revision and template count),
  // otherwise rebuilt from the store and written there.
  std::string index_file;
  // Create the gallery when it does not exist yet (false: Error(NotFound), see open_store).
  bool create = true;
  // Log lines (index rebuilt / loaded); may be empty.
  std::function<void(const std::string&)> log;
};

// A GalleryStore with a SearchIndex kept in step with it (see the file comment). Thread safety:
// safe for concurrent use, except through store().
class Gallery {
 public:
  // Opens the store at `url` (open_store) and loads or builds its index.
  // Throws what open_store throws, Error(InvalidArgument) for a malformed options.index (or one
  // that fails to train), Error(Io) when options.index_file cannot be written.
  explicit Gallery(const std::string& url, GalleryOptions options = {});
  // Writes the index file when the index changed since it was last written; never throws.
  ~Gallery();

  // GalleryStore::enroll, then the index. Requires and throws as GalleryStore::enroll.
  int64_t enroll(const std::string& name, const std::string& metadata, const std::vector<Template>& templates);
  // Adds faces to an existing person; Error(NotFound) when it does not exist (or was removed
  // meanwhile, by this or another process). Otherwise as enroll().
  void add_faces(int64_t identity_id, const std::vector<Template>& templates);
  // GalleryStore::create: Error(InvalidArgument) for an empty name, Error(AlreadyExists) when taken.
  int64_t create(const std::string& name, const std::string& metadata);
  // Removes a person with their templates (the index is rebuilt); false when unknown.
  bool remove(int64_t identity_id);
  // The best similarity between `embedding` and the templates of one identity; nullopt when it
  // has none (or is unknown). Requires the gallery's model and dimension; throws
  // Error(InvalidArgument) when a template of the identity has another model or dimension.
  std::optional<float> best_similarity(int64_t identity_id, const std::vector<float>& embedding,
                                       const std::string& model);
  // As the store's list(), get() and find_name().
  std::vector<Identity> list();
  std::optional<Identity> get(int64_t identity_id);
  std::optional<Identity> find_name(const std::string& name);
  // Top-k identities for one embedding (catching up first with changes other processes made).
  // Requires: the gallery's model (or an empty gallery) and its dimension; throws
  // Error(InvalidArgument) otherwise. Ensures: at most k (k <= 0 counts as 1) candidates, best
  // first, ties by id; none for an empty gallery.
  std::vector<Candidate> search(const std::vector<float>& embedding, const std::string& model, int k);
  // search(), then the known/unknown decision: known when the best similarity is >= threshold
  // (the one rule the CLI, the service and the bindings apply). Requires and throws as search().
  Identification identify(const std::vector<float>& embedding, const std::string& model, int k, double threshold);
  // The gallery's embedding model, empty while it holds no template.
  std::string model();
  size_t size();                    // templates in the index
  std::string index_description();  // e.g. "Flat", or "Flat (faiss:IVF... needs N templates)"
  // Re-embeds every template from its stored crop with `embed` (crop image, crop landmarks ->
  // embedding) and stores them under `model` in one transaction; returns how many. `progress`
  // (may be empty) hears (done, total) after each template. Throws Error(InvalidArgument) naming
  // the templates without a crop, or when the new embeddings differ in dimension, and what `embed`
  // throws, changing nothing.
  using CropEmbedder = std::function<std::vector<float>(const FaceCrop&)>;
  size_t reembed(const std::string& model, const CropEmbedder& embed,
                 const std::function<void(size_t, size_t)>& progress = {});
  // Direct access (not synchronised with other users of this Gallery); the index is rebuilt on
  // the next call.
  GalleryStore& store();

 private:
  struct Snapshot;                   // the store's templates, people and revision, read once
  bool index_current();              // requires a lock; true when the index reflects the store
  void refresh_index();              // requires the exclusive lock: catches up with the store
  void adopt(const Snapshot& snap);  // names, owners, model, dimension, revision from a snapshot
  void rebuild_index(const Snapshot& snap);
  bool load_index_file(const Snapshot& snap);
  void save_index_file();
  // requires the exclusive lock: puts templates just stored for `identity` into the index
  void index_added(int64_t identity, const std::string& name, const std::vector<Template>& templates,
                   const std::vector<int64_t>& ids);
  std::unique_ptr<GalleryStore> store_;
  GalleryOptions options_;
  std::shared_mutex mu_;
  std::unique_ptr<SearchIndex> index_;
  std::string index_note_;
  std::map<int64_t, int64_t> owner_;  // template id -> identity id
  std::map<int64_t, std::string> names_;
  std::string model_;
  int dim_ = 0;
  int64_t revision_ = -1, max_template_id_ = 0;
  bool stale_ = true, dirty_ = false;
  std::mutex store_mu_;  // the store is used by one thread at a time
};

}  // namespace facerec
