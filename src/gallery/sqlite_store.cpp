// SQLite gallery store: one file, WAL journal, each enrolment one transaction, schema versioned
// and migrated on open (table meta, key 'schema_version').
#include "gallery/store_common.hpp"

#include <facerec/error.hpp>
#include <facerec/gallery/gallery.hpp>

#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>
#include <type_traits>

namespace facerec {
namespace {

class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql, -1, &s_, nullptr) != SQLITE_OK)
      throw Error(ErrorKind::Io, std::string("gallery: ") + sqlite3_errmsg(db) + " in: " + sql);
  }
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  Stmt& bind(int i, int64_t v) { return check(sqlite3_bind_int64(s_, i, v)); }
  Stmt& bind(int i, double v) { return check(sqlite3_bind_double(s_, i, v)); }
  Stmt& bind(int i, const std::string& v) {
    return check(sqlite3_bind_text(s_, i, v.data(), int(v.size()), SQLITE_TRANSIENT));
  }
  Stmt& bind_blob(int i, const void* p, size_t n) {
    if (n == 0) return check(sqlite3_bind_zeroblob(s_, i, 0));  // empty, not NULL
    return check(sqlite3_bind_blob(s_, i, p, int(n), SQLITE_TRANSIENT));
  }
  bool step() {
    int rc = sqlite3_step(s_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw Error(ErrorKind::Io, std::string("gallery: ") + sqlite3_errmsg(db_));
  }
  int64_t i64(int c) { return sqlite3_column_int64(s_, c); }
  double dbl(int c) { return sqlite3_column_double(s_, c); }
  std::string text(int c) {
    auto* p = sqlite3_column_text(s_, c);
    return p ? std::string(reinterpret_cast<const char*>(p), size_t(sqlite3_column_bytes(s_, c))) : std::string();
  }
  std::string blob(int c) {
    auto* p = static_cast<const char*>(sqlite3_column_blob(s_, c));
    return p ? std::string(p, size_t(sqlite3_column_bytes(s_, c))) : std::string();
  }
  std::vector<float> floats(int c) {
    size_t n = size_t(sqlite3_column_bytes(s_, c)) / sizeof(float);
    std::vector<float> v(n);
    if (n) std::memcpy(v.data(), sqlite3_column_blob(s_, c), n * sizeof(float));
    return v;
  }

 private:
  Stmt& check(int rc) {
    if (rc != SQLITE_OK) throw Error(ErrorKind::Io, std::string("gallery: bind: ") + sqlite3_errmsg(db_));
    return *this;
  }
  sqlite3* db_;
  sqlite3_stmt* s_ = nullptr;
};

class SqliteStore final : public GalleryStore {
 public:
  SqliteStore(const std::string& path, bool create) {
    std::error_code ec;
    if (!create && !std::filesystem::exists(path, ec))
      throw Error(ErrorKind::NotFound, "no gallery at " + path + " (enrol someone first, or check --db)");
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                        nullptr) != SQLITE_OK) {
      std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
      sqlite3_close(db_);
      db_ = nullptr;
      throw Error(ErrorKind::Io, "cannot open gallery " + path + ": " + msg);
    }
    try {
      sqlite3_busy_timeout(db_, 10000);
      exec("PRAGMA journal_mode=WAL");
      exec("PRAGMA synchronous=NORMAL");
      exec("PRAGMA foreign_keys=ON");
      migrate(path, create);
    } catch (...) {  // the destructor does not run for a constructor that throws
      sqlite3_close(db_);
      db_ = nullptr;
      throw;
    }
  }
  ~SqliteStore() override { sqlite3_close(db_); }

  int64_t enroll(const std::string& name, const std::string& metadata, const std::vector<Template>& templates,
                 std::vector<int64_t>* template_ids) override {
    validate_enrolment(name, templates, model());
    return transaction([&] {
      int64_t id = 0;
      {
        Stmt s(db_, "SELECT id FROM identities WHERE name = ?");
        s.bind(1, name);
        if (s.step()) id = s.i64(0);
      }
      if (id == 0) {
        id = insert_identity(name, metadata);
      } else if (!metadata.empty()) {
        Stmt s(db_, "UPDATE identities SET metadata = ? WHERE id = ?");
        s.bind(1, metadata).bind(2, id);
        s.step();
      }
      insert_templates(id, templates, template_ids);
      bump_revision();
      return id;
    });
  }

  int64_t create(const std::string& name, const std::string& metadata) override {
    validate_name(name);
    return transaction([&] {
      {
        Stmt s(db_, "SELECT id FROM identities WHERE name = ?");
        s.bind(1, name);
        if (s.step())
          throw Error(ErrorKind::AlreadyExists,
                      "a person named '" + name + "' exists (id " + std::to_string(s.i64(0)) + ")");
      }
      int64_t id = insert_identity(name, metadata);
      bump_revision();
      return id;
    });
  }

  void add_templates(int64_t identity_id, const std::vector<Template>& templates,
                     std::vector<int64_t>* template_ids) override {
    std::string name;
    {
      auto p = get(identity_id);
      name = p ? p->name : std::string("?");
    }
    validate_enrolment(name, templates, model());
    transaction([&] {
      Stmt s(db_, "SELECT 1 FROM identities WHERE id = ?");  // in the write transaction: no removal in between
      s.bind(1, identity_id);
      if (!s.step()) throw Error(ErrorKind::NotFound, "no person with id " + std::to_string(identity_id));
      insert_templates(identity_id, templates, template_ids);
      bump_revision();
    });
  }

  std::vector<StoredTemplate> templates_of(int64_t identity_id) override {
    std::vector<StoredTemplate> out;
    Stmt s(db_,
           "SELECT id, identity_id, model, embedding, image_sha256, quality FROM templates WHERE identity_id = ? ORDER "
           "BY id");
    s.bind(1, identity_id);
    while (s.step()) out.push_back(read_template(s, false));
    return out;
  }

  std::vector<Identity> list() override {
    std::vector<Identity> out;
    Stmt s(
        db_,
        "SELECT i.id, i.name, i.metadata, COUNT(t.id) FROM identities i LEFT JOIN templates t ON t.identity_id = i.id "
        "GROUP BY i.id ORDER BY i.name");
    while (s.step()) out.push_back({s.i64(0), s.text(1), s.text(2), int(s.i64(3))});
    return out;
  }

  std::optional<Identity> get(int64_t id) override {
    Stmt s(db_,
           "SELECT i.id, i.name, i.metadata, (SELECT COUNT(*) FROM templates t WHERE t.identity_id = i.id) FROM "
           "identities i WHERE i.id = ?");
    s.bind(1, id);
    if (s.step()) return Identity{s.i64(0), s.text(1), s.text(2), int(s.i64(3))};
    return std::nullopt;
  }

  std::optional<Identity> find_name(const std::string& name) override {
    Stmt s(db_,
           "SELECT i.id, i.name, i.metadata, (SELECT COUNT(*) FROM templates t WHERE t.identity_id = i.id) FROM "
           "identities i WHERE i.name = ?");
    s.bind(1, name);
    if (s.step()) return Identity{s.i64(0), s.text(1), s.text(2), int(s.i64(3))};
    return std::nullopt;
  }

  bool remove(int64_t id) override {
    return transaction([&] {
      Stmt t(db_, "DELETE FROM templates WHERE identity_id = ?");
      t.bind(1, id);
      t.step();
      Stmt s(db_, "DELETE FROM identities WHERE id = ?");
      s.bind(1, id);
      s.step();
      bool removed = sqlite3_changes(db_) > 0;
      if (removed) bump_revision();
      return removed;
    });
  }

  std::vector<StoredTemplate> templates(bool with_crops, int64_t after_id) override {
    std::vector<StoredTemplate> out;
    Stmt s(db_, with_crops ? "SELECT id, identity_id, model, embedding, image_sha256, quality, crop, crop_landmarks "
                             "FROM templates WHERE id > ? ORDER BY id"
                           : "SELECT id, identity_id, model, embedding, image_sha256, quality FROM templates WHERE "
                             "id > ? ORDER BY id");
    s.bind(1, after_id);
    while (s.step()) out.push_back(read_template(s, with_crops));
    return out;
  }

  void replace_embeddings(const std::string& model, const std::map<int64_t, std::vector<float>>& e) override {
    transaction([&] {
      std::vector<int64_t> ids;
      {
        Stmt s(db_, "SELECT id FROM templates ORDER BY id");
        while (s.step()) ids.push_back(s.i64(0));
      }
      validate_replacement(model, ids, e);
      for (int64_t id : ids) {
        const auto& v = e.at(id);
        Stmt s(db_, "UPDATE templates SET model = ?, dim = ?, embedding = ? WHERE id = ?");
        s.bind(1, model).bind(2, int64_t(v.size())).bind_blob(3, v.data(), v.size() * sizeof(float)).bind(4, id);
        s.step();
      }
      bump_revision();
    });
  }

  int64_t revision() override {
    Stmt s(db_, "SELECT value FROM meta WHERE key = 'revision'");
    return s.step() ? parse_stored_number(s.text(0), "revision", "gallery " + path_) : 0;
  }

  std::string model() override {
    Stmt s(db_, "SELECT model FROM templates LIMIT 1");
    return s.step() ? s.text(0) : std::string();
  }

  int schema_version() override {
    Stmt s(db_, "SELECT value FROM meta WHERE key = 'schema_version'");
    return s.step()
               ? int(std::min<int64_t>(parse_stored_number(s.text(0), "schema version", "gallery " + path_), 1 << 30))
               : 0;
  }

 private:
  sqlite3* db_ = nullptr;
  std::string path_;

  // A new identity under the next never-used id (meta 'next_identity_id'); requires a transaction.
  int64_t insert_identity(const std::string& name, const std::string& metadata) {
    int64_t id = 1;
    {
      Stmt s(db_, "SELECT value FROM meta WHERE key = 'next_identity_id'");
      if (s.step()) id = parse_stored_number(s.text(0), "next identity id", "gallery " + path_);
    }
    {
      Stmt s(db_, "SELECT COALESCE(MAX(id), 0) + 1 FROM identities");  // never below what is stored
      if (s.step()) id = std::max(id, s.i64(0));
    }
    Stmt s(db_, "INSERT INTO identities(id, name, metadata, created) VALUES (?, ?, ?, ?)");
    s.bind(1, id).bind(2, name).bind(3, metadata).bind(4, now());
    s.step();
    Stmt n(db_, "INSERT OR REPLACE INTO meta(key, value) VALUES ('next_identity_id', ?)");
    n.bind(1, std::to_string(id + 1));
    n.step();
    return id;
  }

  // Requires a transaction.
  void insert_templates(int64_t id, const std::vector<Template>& templates, std::vector<int64_t>* template_ids) {
    if (template_ids) template_ids->clear();
    for (const auto& t : templates) {
      Stmt s(db_,
             "INSERT INTO templates(identity_id, model, dim, embedding, image_sha256, quality, created, crop, "
             "crop_landmarks) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
      s.bind(1, id).bind(2, t.model).bind(3, int64_t(t.embedding.size()));
      s.bind_blob(4, t.embedding.data(), t.embedding.size() * sizeof(float));
      s.bind(5, t.image_sha256).bind(6, double(t.quality)).bind(7, now());
      s.bind_blob(8, t.crop.jpeg.data(), t.crop.jpeg.size());
      s.bind_blob(9, t.crop.landmarks.data(), t.crop.landmarks.size() * sizeof(float));
      s.step();
      if (template_ids) template_ids->push_back(sqlite3_last_insert_rowid(db_));
    }
  }

  // Columns: id, identity_id, model, embedding, image_sha256, quality[, crop, crop_landmarks].
  static StoredTemplate read_template(Stmt& s, bool with_crops) {
    StoredTemplate st;
    st.id = s.i64(0);
    st.identity_id = s.i64(1);
    st.t.model = s.text(2);
    st.t.embedding = s.floats(3);
    st.t.image_sha256 = s.text(4);
    st.t.quality = float(s.dbl(5));
    if (with_crops) {
      st.t.crop.jpeg = s.blob(6);
      st.t.crop.landmarks = s.floats(7);
    }
    return st;
  }

  // Runs f in one write transaction (BEGIN IMMEDIATE: writers queue up front): committed when f
  // returns, rolled back when it throws.
  template <class F>
  auto transaction(F&& f) -> decltype(f()) {
    exec("BEGIN IMMEDIATE");
    try {
      if constexpr (std::is_void_v<decltype(f())>) {
        f();
        exec("COMMIT");
      } else {
        auto result = f();
        exec("COMMIT");
        return result;
      }
    } catch (...) {
      exec("ROLLBACK");
      throw;
    }
  }

  void bump_revision() {
    exec(
        "INSERT INTO meta(key, value) VALUES ('revision', '1') ON CONFLICT(key) DO UPDATE SET value = "
        "CAST(value AS INTEGER) + 1");
  }

  static int64_t now() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  }

  void exec(const std::string& sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
      std::string msg = err ? err : "unknown error";
      sqlite3_free(err);
      throw Error(ErrorKind::Io, "gallery: " + msg + " in: " + sql);
    }
  }

  // Each step moves the schema from version n to n + 1, inside one transaction.
  void migrate(const std::string& path, bool create) {
    path_ = path;
    {
      // a gallery has a meta table; a database holding other tables is someone else's: leave it alone
      Stmt s(db_, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name");
      std::vector<std::string> tables;
      while (s.step()) tables.push_back(s.text(0));
      bool ours = std::find(tables.begin(), tables.end(), "meta") != tables.end();
      if (!ours && !tables.empty()) {
        std::string list;
        for (size_t i = 0; i < tables.size() && i < 5; ++i) list += (i ? ", " : "") + tables[i];
        throw Error(ErrorKind::Io, path + " is an SQLite database but not a facerec gallery (it holds tables: " + list +
                                       "); refusing to add the gallery's tables to it");
      }
      if (!ours && !create)
        throw Error(ErrorKind::NotFound, "no gallery at " + path + " (enrol someone first, or check --db)");
    }
    exec("CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)");
    check_schema_version(schema_version(), "gallery " + path);
    for (const auto& step : schema_steps())
      if (schema_version() < step.version)
        transaction([&] {
          for (const char* sql : step.sqlite) exec(sql);
          exec(schema_version_update(step.version));
        });
  }
};

}  // namespace

std::unique_ptr<GalleryStore> open_sqlite_store(const std::string& path, bool create) {
  return std::make_unique<SqliteStore>(path, create);
}

}  // namespace facerec
