// PostgreSQL gallery store through libpqxx: the same schema and rules as the SQLite store. Every
// enrolment is one transaction; enrolments serialise on an advisory lock so that the one-model
// rule holds across concurrent clients; the schema is versioned (table meta) and migrated on open.
#include "gallery/store_common.hpp"

#include <facerec/error.hpp>
#include <facerec/gallery/gallery.hpp>

#include <pqxx/pqxx>

#include <chrono>
#include <cstring>

namespace facerec {
namespace {

constexpr long kEnrolLock = 0x66616365;  // advisory lock key ("face")

std::vector<float> floats(const pqxx::field& f) {
  pqxx::binarystring b(f);
  std::vector<float> v(b.size() / sizeof(float));
  if (!v.empty()) std::memcpy(v.data(), b.data(), v.size() * sizeof(float));
  return v;
}

// Columns: id, identity_id, model, embedding, image_sha256, quality[, crop, crop_landmarks].
StoredTemplate read_template(const pqxx::row& row, bool with_crops) {
  StoredTemplate st;
  st.id = row[0].as<int64_t>();
  st.identity_id = row[1].as<int64_t>();
  st.t.model = row[2].as<std::string>();
  st.t.embedding = floats(row[3]);
  st.t.image_sha256 = row[4].as<std::string>();
  st.t.quality = row[5].as<float>();
  if (with_crops) {
    pqxx::binarystring c(row[6]);
    st.t.crop.jpeg.assign(reinterpret_cast<const char*>(c.data()), c.size());
    st.t.crop.landmarks = floats(row[7]);
  }
  return st;
}

pqxx::binarystring bytes(const void* p, size_t n) {
  return pqxx::binarystring(static_cast<const unsigned char*>(p), n);
}

int64_t now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// libpqxx errors become facerec errors that name the database problem.
template <class F>
auto guarded(const char* what, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const Error&) {
    throw;
  } catch (const pqxx::broken_connection& e) {
    throw Error(ErrorKind::Io, std::string("gallery (PostgreSQL) connection lost during ") + what + ": " + e.what());
  } catch (const std::exception& e) {
    throw Error(ErrorKind::Io, std::string("gallery (PostgreSQL) ") + what + ": " + e.what());
  }
}

class PostgresStore final : public GalleryStore {
 public:
  PostgresStore(const std::string& url, bool create) {
    try {
      conn_ = std::make_unique<pqxx::connection>(url);
    } catch (const std::exception& e) {
      throw Error(ErrorKind::Io, "cannot connect to the gallery database: " + std::string(e.what()));
    }
    guarded("migration", [&] { migrate(create); });
  }

  int64_t enroll(const std::string& name, const std::string& metadata, const std::vector<Template>& templates,
                 std::vector<int64_t>* template_ids) override {
    return guarded("enrolment", [&] {
      pqxx::work w(*conn_);
      w.exec_params("SELECT pg_advisory_xact_lock($1)", kEnrolLock);
      auto m = w.exec("SELECT model FROM templates LIMIT 1");
      validate_enrolment(name, templates, m.empty() ? std::string() : m[0][0].as<std::string>());
      auto r = w.exec_params(
          "INSERT INTO identities(name, metadata, created) VALUES ($1, $2, $3) ON CONFLICT (name) DO UPDATE SET "
          "metadata = CASE WHEN excluded.metadata <> '' THEN excluded.metadata ELSE identities.metadata END "
          "RETURNING id",
          name, metadata, now());
      int64_t id = r[0][0].as<int64_t>();
      insert_templates(w, id, templates, template_ids);
      bump_revision(w);
      w.commit();
      return id;
    });
  }

  int64_t create(const std::string& name, const std::string& metadata) override {
    validate_name(name);
    return guarded("creating a person", [&] {
      pqxx::work w(*conn_);
      auto r = w.exec_params(
          "INSERT INTO identities(name, metadata, created) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING RETURNING "
          "id",
          name, metadata, now());
      if (r.empty()) throw Error(ErrorKind::AlreadyExists, "a person named '" + name + "' exists");
      bump_revision(w);
      w.commit();
      return r[0][0].as<int64_t>();
    });
  }

  std::vector<StoredTemplate> templates_of(int64_t identity_id) override {
    return guarded("reading templates", [&] {
      pqxx::read_transaction w(*conn_);
      std::vector<StoredTemplate> out;
      for (const auto& row : w.exec_params("SELECT id, identity_id, model, embedding, image_sha256, quality FROM "
                                           "templates WHERE identity_id = $1 ORDER BY id",
                                           identity_id))
        out.push_back(read_template(row, false));
      return out;
    });
  }

  std::vector<Identity> list() override {
    return guarded("listing", [&] {
      pqxx::read_transaction w(*conn_);
      std::vector<Identity> out;
      for (const auto& row : w.exec("SELECT i.id, i.name, i.metadata, COUNT(t.id) FROM identities i LEFT JOIN "
                                    "templates t ON t.identity_id = i.id GROUP BY i.id ORDER BY i.name"))
        out.push_back({row[0].as<int64_t>(), row[1].as<std::string>(), row[2].as<std::string>(), row[3].as<int>()});
      return out;
    });
  }

  std::optional<Identity> get(int64_t id) override {
    return guarded("lookup", [&]() -> std::optional<Identity> {
      pqxx::read_transaction w(*conn_);
      return identity(w.exec_params(
          "SELECT i.id, i.name, i.metadata, (SELECT COUNT(*) FROM templates t WHERE t.identity_id = i.id) FROM "
          "identities i WHERE i.id = $1",
          id));
    });
  }

  std::optional<Identity> find_name(const std::string& name) override {
    return guarded("lookup", [&]() -> std::optional<Identity> {
      pqxx::read_transaction w(*conn_);
      return identity(w.exec_params(
          "SELECT i.id, i.name, i.metadata, (SELECT COUNT(*) FROM templates t WHERE t.identity_id = i.id) FROM "
          "identities i WHERE i.name = $1",
          name));
    });
  }

  void add_templates(int64_t identity_id, const std::vector<Template>& templates,
                     std::vector<int64_t>* template_ids) override {
    guarded("adding faces", [&] {
      pqxx::work w(*conn_);
      w.exec_params("SELECT pg_advisory_xact_lock($1)", kEnrolLock);
      // the row lock orders this against a removal: either the removal sees these templates, or
      // this finds no person
      auto p = w.exec_params("SELECT name FROM identities WHERE id = $1 FOR UPDATE", identity_id);
      if (p.empty()) throw Error(ErrorKind::NotFound, "no person with id " + std::to_string(identity_id));
      auto m = w.exec("SELECT model FROM templates LIMIT 1");
      validate_enrolment(p[0][0].as<std::string>(), templates, m.empty() ? std::string() : m[0][0].as<std::string>());
      insert_templates(w, identity_id, templates, template_ids);
      bump_revision(w);
      w.commit();
    });
  }

  bool remove(int64_t id) override {
    return guarded("removal", [&] {
      pqxx::work w(*conn_);
      w.exec_params("SELECT id FROM identities WHERE id = $1 FOR UPDATE", id);
      w.exec_params("DELETE FROM templates WHERE identity_id = $1", id);
      auto r = w.exec_params("DELETE FROM identities WHERE id = $1", id);
      bool removed = r.affected_rows() > 0;
      if (removed) bump_revision(w);
      w.commit();
      return removed;
    });
  }

  std::vector<StoredTemplate> templates(bool with_crops, int64_t after_id) override {
    return guarded("reading templates", [&] {
      pqxx::read_transaction w(*conn_);
      std::vector<StoredTemplate> out;
      auto r = w.exec_params(
          with_crops ? "SELECT id, identity_id, model, embedding, image_sha256, quality, crop, crop_landmarks FROM "
                       "templates WHERE id > $1 ORDER BY id"
                     : "SELECT id, identity_id, model, embedding, image_sha256, quality FROM templates WHERE id > $1 "
                       "ORDER BY id",
          after_id);
      out.reserve(r.size());
      for (const auto& row : r) out.push_back(read_template(row, with_crops));
      return out;
    });
  }

  void replace_embeddings(const std::string& model, const std::map<int64_t, std::vector<float>>& e) override {
    guarded("re-embedding", [&] {
      pqxx::work w(*conn_);
      w.exec_params("SELECT pg_advisory_xact_lock($1)", kEnrolLock);
      std::vector<int64_t> ids;
      for (const auto& row : w.exec("SELECT id FROM templates ORDER BY id")) ids.push_back(row[0].as<int64_t>());
      validate_replacement(model, ids, e);
      for (int64_t id : ids) {
        const auto& v = e.at(id);
        w.exec_params("UPDATE templates SET model = $1, dim = $2, embedding = $3 WHERE id = $4", model,
                      int64_t(v.size()), bytes(v.data(), v.size() * sizeof(float)), id);
      }
      bump_revision(w);
      w.commit();
    });
  }

  std::string model() override {
    return guarded("reading the model", [&] {
      pqxx::read_transaction w(*conn_);
      auto r = w.exec("SELECT model FROM templates LIMIT 1");
      return r.empty() ? std::string() : r[0][0].as<std::string>();
    });
  }

  int schema_version() override {
    return guarded("reading the schema version", [&] {
      pqxx::read_transaction w(*conn_);
      return version(w);
    });
  }

  int64_t revision() override {
    return guarded("reading the revision", [&] {
      pqxx::read_transaction w(*conn_);
      auto r = w.exec("SELECT value FROM meta WHERE key = 'revision'");
      return r.empty() ? int64_t(0) : parse_stored_number(r[0][0].as<std::string>(), "revision", "gallery database");
    });
  }

 private:
  std::unique_ptr<pqxx::connection> conn_;

  static std::optional<Identity> identity(const pqxx::result& r) {
    if (r.empty()) return std::nullopt;
    return Identity{r[0][0].as<int64_t>(), r[0][1].as<std::string>(), r[0][2].as<std::string>(), r[0][3].as<int>()};
  }

  static void insert_templates(pqxx::work& w, int64_t id, const std::vector<Template>& templates,
                               std::vector<int64_t>* template_ids) {
    if (template_ids) template_ids->clear();
    for (const auto& t : templates) {
      auto ti = w.exec_params(
          "INSERT INTO templates(identity_id, model, dim, embedding, image_sha256, quality, created, crop, "
          "crop_landmarks) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
          id, t.model, int64_t(t.embedding.size()), bytes(t.embedding.data(), t.embedding.size() * sizeof(float)),
          t.image_sha256, double(t.quality), now(), bytes(t.crop.jpeg.data(), t.crop.jpeg.size()),
          bytes(t.crop.landmarks.data(), t.crop.landmarks.size() * sizeof(float)));
      if (template_ids) template_ids->push_back(ti[0][0].as<int64_t>());
    }
  }

  static int version(pqxx::transaction_base& w) {
    auto t = w.exec("SELECT to_regclass('meta') IS NOT NULL");
    if (!t[0][0].as<bool>()) return 0;
    auto r = w.exec("SELECT value FROM meta WHERE key = 'schema_version'");
    return r.empty()
               ? 0
               : int(std::min<int64_t>(
                     parse_stored_number(r[0][0].as<std::string>(), "schema version", "gallery database"), 1 << 30));
  }

  static void bump_revision(pqxx::work& w) {
    w.exec("UPDATE meta SET value = (value::bigint + 1)::text WHERE key = 'revision'");
  }

  void migrate(bool create) {
    pqxx::work w(*conn_);
    w.exec_params("SELECT pg_advisory_xact_lock($1)", kEnrolLock);  // one client migrates, the others wait
    int v = version(w);
    if (v == 0) {
      auto t = w.exec("SELECT to_regclass('identities') IS NOT NULL OR to_regclass('templates') IS NOT NULL");
      if (t[0][0].as<bool>())
        throw Error(ErrorKind::Io,
                    "the database holds tables named identities/templates but no facerec gallery (no meta table); "
                    "refusing to use them");
      if (!create) throw Error(ErrorKind::NotFound, "the database holds no facerec gallery yet (enrol someone first)");
    }
    check_schema_version(v, "gallery database");
    if (v < 1) w.exec("CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)");
    for (const auto& step : schema_steps())
      if (v < step.version) {
        for (const char* sql : step.postgres) w.exec(sql);
        w.exec(schema_version_update(step.version));
      }
    w.commit();
  }
};

}  // namespace

std::unique_ptr<GalleryStore> open_postgres_store(const std::string& url, bool create) {
  return std::make_unique<PostgresStore>(url, create);
}

}  // namespace facerec
