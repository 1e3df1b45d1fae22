#pragma once
// Rules every gallery store applies, and the store constructors behind open_store.
#include "common/decimal.hpp"

#include <facerec/error.hpp>
#include <facerec/gallery/gallery.hpp>

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace facerec {

// Throws Error(InvalidArgument) for an empty name or one over 512 bytes.
inline void validate_name(const std::string& name) {
  if (name.empty()) throw Error(ErrorKind::InvalidArgument, "a person needs a name");
  if (name.size() > 512) throw Error(ErrorKind::InvalidArgument, "a name is at most 512 bytes");
}

// Throws Error(InvalidArgument) for a nameless or empty enrolment, and for templates whose model
// or dimension differ from each other or from the gallery's model.
inline void validate_enrolment(const std::string& name, const std::vector<Template>& templates,
                               const std::string& gallery_model) {
  validate_name(name);
  if (templates.empty()) throw Error(ErrorKind::InvalidArgument, "nothing to enrol for " + name + " (no face)");
  for (const auto& t : templates) {
    if (!gallery_model.empty() && t.model != gallery_model)
      throw Error(ErrorKind::InvalidArgument, "the gallery holds " + gallery_model + " templates; refusing " + t.model +
                                                  " (re-embed the gallery for the new model)");
    if (t.embedding.empty() || t.embedding.size() != templates[0].embedding.size() || t.model != templates[0].model)
      throw Error(ErrorKind::InvalidArgument, "templates of one enrolment must share model and dimension");
  }
}

// Throws Error(InvalidArgument) unless `e` holds one embedding of one dimension per id in `ids`.
inline void validate_replacement(const std::string& model, const std::vector<int64_t>& ids,
                                 const std::map<int64_t, std::vector<float>>& e) {
  if (model.empty()) throw Error(ErrorKind::InvalidArgument, "re-embedding needs a model name");
  size_t dim = e.empty() ? 0 : e.begin()->second.size();
  for (int64_t id : ids) {
    auto it = e.find(id);
    if (it == e.end())
      throw Error(ErrorKind::InvalidArgument,
                  "re-embedding misses template " + std::to_string(id) + "; nothing changed");
    if (it->second.size() != dim || dim == 0)
      throw Error(ErrorKind::InvalidArgument, "re-embedded templates must share one dimension");
  }
  if (e.size() != ids.size())
    throw Error(ErrorKind::InvalidArgument, "re-embedding names templates that are not stored; nothing changed");
}

// A schema version or revision as stored (decimal text). Throws Error(Unsupported) naming `where`
// for anything else: a garbage value means a damaged or foreign database, not a version.
inline int64_t parse_stored_number(const std::string& text, const std::string& what, const std::string& where) {
  auto v = detail::parse_decimal(text);
  if (!v)
    throw Error(ErrorKind::Unsupported, where + ": its " + what + " is '" + text.substr(0, 40) +
                                            "', not a number: not a facerec gallery, or a damaged one");
  return *v;
}

// The gallery schema, one home for both stores: step n moves a gallery from version n - 1 to n,
// with the statements of each dialect; the store runs them and then records version n.
struct SchemaStep {
  int version;
  const char* what;
  std::vector<const char*> sqlite, postgres;
};
inline const std::vector<SchemaStep>& schema_steps() {
  static const std::vector<SchemaStep> steps = {
      {1,
       "identities and templates",
       {"CREATE TABLE IF NOT EXISTS identities(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, "
        "metadata TEXT NOT NULL DEFAULT '', created INTEGER NOT NULL)",
        "CREATE TABLE IF NOT EXISTS templates(id INTEGER PRIMARY KEY, identity_id INTEGER NOT NULL "
        "REFERENCES identities(id), model TEXT NOT NULL, dim INTEGER NOT NULL, embedding BLOB NOT NULL, "
        "image_sha256 TEXT NOT NULL DEFAULT '', quality REAL NOT NULL DEFAULT 0, created INTEGER NOT NULL)",
        "CREATE INDEX IF NOT EXISTS templates_identity ON templates(identity_id)",
        "INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', '1')"},
       {"CREATE TABLE IF NOT EXISTS identities(id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL UNIQUE, metadata TEXT "
        "NOT NULL DEFAULT '', created BIGINT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS templates(id BIGSERIAL PRIMARY KEY, identity_id BIGINT NOT NULL REFERENCES "
        "identities(id), model TEXT NOT NULL, dim INTEGER NOT NULL, embedding BYTEA NOT NULL, image_sha256 TEXT "
        "NOT NULL DEFAULT '', quality REAL NOT NULL DEFAULT 0, created BIGINT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS templates_identity ON templates(identity_id)",
        "INSERT INTO meta(key, value) VALUES ('schema_version', '1') ON CONFLICT (key) DO UPDATE SET value = '1'"}},
      {2,
       "face crops for re-embedding, a revision counter",
       {"ALTER TABLE templates ADD COLUMN crop BLOB NOT NULL DEFAULT x''",
        "ALTER TABLE templates ADD COLUMN crop_landmarks BLOB NOT NULL DEFAULT x''",
        "INSERT OR IGNORE INTO meta(key, value) VALUES ('revision', '0')"},
       {"ALTER TABLE templates ADD COLUMN IF NOT EXISTS crop BYTEA NOT NULL DEFAULT ''::bytea",
        "ALTER TABLE templates ADD COLUMN IF NOT EXISTS crop_landmarks BYTEA NOT NULL DEFAULT ''::bytea",
        "INSERT INTO meta(key, value) VALUES ('revision', '0') ON CONFLICT (key) DO NOTHING"}},
      {3,
       "identity ids are never reused",
       {"INSERT OR REPLACE INTO meta(key, value) SELECT 'next_identity_id', CAST(COALESCE(MAX(id), 0) + 1 AS TEXT) "
        "FROM identities"},
       {}},  // PostgreSQL: BIGSERIAL sequences never hand out an id twice already
  };
  return steps;
}
inline int schema_version_supported() { return schema_steps().back().version; }
// The statement that records version n once step n has run (the same in both dialects).
inline std::string schema_version_update(int version) {
  return "UPDATE meta SET value = '" + std::to_string(version) + "' WHERE key = 'schema_version'";
}
// Throws Error(Unsupported) naming `where` when a gallery's schema is newer than this build's.
inline void check_schema_version(int version, const std::string& where) {
  if (version > schema_version_supported())
    throw Error(ErrorKind::Unsupported, where + " has schema version " + std::to_string(version) +
                                            ", newer than this facerec (" + std::to_string(schema_version_supported()) +
                                            ")");
}

std::unique_ptr<GalleryStore> open_sqlite_store(const std::string& path, bool create);
// Defined when built with libpqxx; otherwise throws Error(Unsupported).
std::unique_ptr<GalleryStore> open_postgres_store(const std::string& url, bool create);

}  // namespace facerec
