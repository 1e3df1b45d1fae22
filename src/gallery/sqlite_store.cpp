// SQLite gallery store: one file, WAL journal, each enrolment one transaction, schema versioned
// and migrated on open (table meta, key 'schema_version').
#include <facerec/error.hpp>
#include <facerec/gallery.hpp>

#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>

namespace facerec {
namespace {

constexpr int kSchemaVersion = 1;

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
  explicit SqliteStore(const std::string& path) {
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
      migrate(path);
    } catch (...) {  // the destructor does not run for a constructor that throws
      sqlite3_close(db_);
      db_ = nullptr;
      throw;
    }
  }
  ~SqliteStore() override { sqlite3_close(db_); }

  int64_t enroll(const std::string& name, const std::string& metadata,
                 const std::vector<Template>& templates) override {
    if (name.empty()) throw Error(ErrorKind::InvalidArgument, "a person needs a name");
    if (templates.empty()) throw Error(ErrorKind::InvalidArgument, "nothing to enrol for " + name + " (no face)");
    std::string m = model();
    for (const auto& t : templates) {
      if (!m.empty() && t.model != m)
        throw Error(ErrorKind::InvalidArgument, "the gallery holds " + m + " templates; refusing " + t.model +
                                                    " (re-embed the gallery for the new model)");
      if (t.embedding.empty() || t.embedding.size() != templates[0].embedding.size() || t.model != templates[0].model)
        throw Error(ErrorKind::InvalidArgument, "templates of one enrolment must share model and dimension");
    }
    exec("BEGIN IMMEDIATE");
    try {
      int64_t id = 0;
      {
        Stmt s(db_, "SELECT id FROM identities WHERE name = ?");
        s.bind(1, name);
        if (s.step()) id = s.i64(0);
      }
      if (id == 0) {
        Stmt s(db_, "INSERT INTO identities(name, metadata, created) VALUES (?, ?, ?)");
        s.bind(1, name).bind(2, metadata).bind(3, now());
        s.step();
        id = sqlite3_last_insert_rowid(db_);
      } else if (!metadata.empty()) {
        Stmt s(db_, "UPDATE identities SET metadata = ? WHERE id = ?");
        s.bind(1, metadata).bind(2, id);
        s.step();
      }
      for (const auto& t : templates) {
        Stmt s(db_,
               "INSERT INTO templates(identity_id, model, dim, embedding, image_sha256, quality, created) VALUES (?, "
               "?, ?, ?, ?, ?, ?)");
        s.bind(1, id).bind(2, t.model).bind(3, int64_t(t.embedding.size()));
        s.bind_blob(4, t.embedding.data(), t.embedding.size() * sizeof(float));
        s.bind(5, t.image_sha256).bind(6, double(t.quality)).bind(7, now());
        s.step();
      }
      exec("COMMIT");
      return id;
    } catch (...) {
      exec("ROLLBACK");
      throw;
    }
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

  std::optional<Identity> find(const std::string& key) override {
    for (const auto& i : list())
      if (i.name == key || std::to_string(i.id) == key) return i;
    return std::nullopt;
  }

  bool remove(int64_t id) override {
    exec("BEGIN IMMEDIATE");
    try {
      Stmt t(db_, "DELETE FROM templates WHERE identity_id = ?");
      t.bind(1, id);
      t.step();
      Stmt s(db_, "DELETE FROM identities WHERE id = ?");
      s.bind(1, id);
      s.step();
      bool removed = sqlite3_changes(db_) > 0;
      exec("COMMIT");
      return removed;
    } catch (...) {
      exec("ROLLBACK");
      throw;
    }
  }

  std::vector<std::pair<int64_t, Template>> templates() override {
    std::vector<std::pair<int64_t, Template>> out;
    Stmt s(db_, "SELECT identity_id, model, embedding, image_sha256, quality FROM templates ORDER BY id");
    while (s.step()) {
      Template t;
      t.model = s.text(1);
      t.embedding = s.floats(2);
      t.image_sha256 = s.text(3);
      t.quality = float(s.dbl(4));
      out.emplace_back(s.i64(0), std::move(t));
    }
    return out;
  }

  std::string model() override {
    Stmt s(db_, "SELECT model FROM templates LIMIT 1");
    return s.step() ? s.text(0) : std::string();
  }

  int schema_version() override {
    Stmt s(db_, "SELECT value FROM meta WHERE key = 'schema_version'");
    return s.step() ? std::stoi(s.text(0)) : 0;
  }

 private:
  sqlite3* db_ = nullptr;

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
  void migrate(const std::string& path) {
    exec("CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)");
    int v = schema_version();
    if (v > kSchemaVersion)
      throw Error(ErrorKind::Unsupported, "gallery " + path + " has schema version " + std::to_string(v) +
                                              ", newer than this facerec (" + std::to_string(kSchemaVersion) + ")");
    if (v < 1) {
      exec("BEGIN IMMEDIATE");
      try {
        exec(
            "CREATE TABLE IF NOT EXISTS identities(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, "
            "metadata TEXT NOT NULL DEFAULT '', created INTEGER NOT NULL)");
        exec(
            "CREATE TABLE IF NOT EXISTS templates(id INTEGER PRIMARY KEY, identity_id INTEGER NOT NULL "
            "REFERENCES identities(id), model TEXT NOT NULL, dim INTEGER NOT NULL, embedding BLOB NOT NULL, "
            "image_sha256 TEXT NOT NULL DEFAULT '', quality REAL NOT NULL DEFAULT 0, created INTEGER NOT NULL)");
        exec("CREATE INDEX IF NOT EXISTS templates_identity ON templates(identity_id)");
        exec("INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', '1')");
        exec("COMMIT");
      } catch (...) {
        exec("ROLLBACK");
        throw;
      }
    }
  }
};

}  // namespace

std::unique_ptr<GalleryStore> open_store(const std::string& url) {
  std::string path = url;
  if (path.rfind("sqlite:", 0) == 0)
    path = path.substr(7);
  else if (path.find("://") != std::string::npos)
    throw Error(ErrorKind::InvalidArgument,
                "gallery URL scheme not supported yet: " + url + " (use a SQLite file path)");
  if (path.empty()) throw Error(ErrorKind::InvalidArgument, "empty gallery path");
  return std::make_unique<SqliteStore>(path);
}

Gallery::Gallery(const std::string& url) : store_(open_store(url)) {}
Gallery::~Gallery() = default;
GalleryStore& Gallery::store() {
  loaded_ = false;  // the caller may change the store
  return *store_;
}

void Gallery::load_index() {
  owners_.clear();
  matrix_.clear();
  names_.clear();
  for (const auto& i : store_->list()) names_[i.id] = i.name;
  dim_ = 0;
  model_ = store_->model();
  for (auto& [id, t] : store_->templates()) {
    if (dim_ == 0) dim_ = int(t.embedding.size());
    if (int(t.embedding.size()) != dim_) continue;
    owners_.push_back(id);
    matrix_.insert(matrix_.end(), t.embedding.begin(), t.embedding.end());
  }
  loaded_ = true;
}

std::vector<Candidate> Gallery::search(const std::vector<float>& q, const std::string& model, int k) {
  if (!loaded_) load_index();
  if (owners_.empty()) return {};
  if (model != model_)
    throw Error(ErrorKind::InvalidArgument, "the gallery holds " + model_ + " templates; the probe is " + model);
  if (int(q.size()) != dim_) throw Error(ErrorKind::InvalidArgument, "probe dimension differs from the gallery's");
  std::map<int64_t, float> best;
  for (size_t r = 0; r < owners_.size(); ++r) {
    const float* row = matrix_.data() + r * size_t(dim_);
    float d = 0;
    for (int c = 0; c < dim_; ++c) d += row[c] * q[size_t(c)];
    auto it = best.find(owners_[r]);
    if (it == best.end() || d > it->second) best[owners_[r]] = d;
  }
  std::vector<Candidate> out;
  for (const auto& [id, s] : best) out.push_back({id, names_[id], s});
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.similarity > b.similarity; });
  if (k > 0 && int(out.size()) > k) out.resize(size_t(k));
  return out;
}

}  // namespace facerec
