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

// Throws Error(InvalidArgument) for a nameless or empty enrolment, and for templates whose model
// or dimension differ from each other or from the gallery's model.
inline void validate_enrolment(const std::string& name, const std::vector<Template>& templates,
                               const std::string& gallery_model) {
  if (name.empty()) throw Error(ErrorKind::InvalidArgument, "a person needs a name");
  if (name.size() > 512) throw Error(ErrorKind::InvalidArgument, "a name is at most 512 bytes");
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

std::unique_ptr<GalleryStore> open_sqlite_store(const std::string& path, bool create);
// Defined when built with libpqxx; otherwise throws Error(Unsupported).
std::unique_ptr<GalleryStore> open_postgres_store(const std::string& url, bool create);

}  // namespace facerec
