#pragma once
// facerec::Gallery — enrolled people and 1:N identification.
//
// What it represents: identities (id, name, free metadata) with several face templates each
// (embedding, the embedding model's name, source-image sha256, quality, time), kept in a
// GalleryStore (SQLite today), searched exactly over all stored templates (FAISS indexes later).
// Every template records its model: enrolling or searching with another model is refused.
//
// Thread safety: a Gallery is NOT safe for concurrent use; open one per thread (SQLite in WAL
// mode lets several readers and one writer share the file; each enrolment is one transaction,
// so a crash never leaves half an enrolment behind).
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace facerec {

struct Identity {
  int64_t id = 0;
  std::string name;
  std::string metadata;  // free text, JSON by convention
  int templates = 0;
};

struct Template {
  std::vector<float> embedding;  // L2-normalised
  std::string model;             // e.g. "face_recognition_model+flip"
  std::string image_sha256;
  float quality = 0;  // detector score today
};

struct Candidate {
  int64_t identity_id = 0;
  std::string name;
  float similarity = 0;  // best over the identity's templates
};

// Storage behind one interface. open_store("path.db") or open_store("sqlite:path.db").
class GalleryStore {
 public:
  virtual ~GalleryStore() = default;
  // Adds a person with templates in one transaction; returns the identity id. An existing name
  // gets the templates added to it. Throws Error(InvalidArgument) on a model mismatch.
  virtual int64_t enroll(const std::string& name, const std::string& metadata,
                         const std::vector<Template>& templates) = 0;
  virtual std::vector<Identity> list() = 0;
  virtual std::optional<Identity> find(const std::string& name_or_id) = 0;
  virtual bool remove(int64_t identity_id) = 0;  // with its templates; false when unknown
  // All templates with their identity ids (the model they were made with is the gallery's model).
  virtual std::vector<std::pair<int64_t, Template>> templates() = 0;
  // The embedding model of the gallery, empty while it holds no template.
  virtual std::string model() = 0;
  virtual int schema_version() = 0;
};

// Throws Error(InvalidArgument) for an unknown URL scheme, Error(Io) when the store cannot open.
std::unique_ptr<GalleryStore> open_store(const std::string& url);

// Exact search over the templates (inner products), aggregated per identity.
class Gallery {
 public:
  explicit Gallery(const std::string& url);
  ~Gallery();
  GalleryStore& store();
  // Top-k identities for one embedding (model must match the gallery's).
  std::vector<Candidate> search(const std::vector<float>& embedding, const std::string& model, int k);

 private:
  void load_index();
  std::unique_ptr<GalleryStore> store_;
  std::vector<int64_t> owners_;
  std::map<int64_t, std::string> names_;
  std::vector<float> matrix_;  // templates x dim, row-major
  int dim_ = 0;
  bool loaded_ = false;
  std::string model_;
};

}  // namespace facerec
