// Gallery stores (SQLite always; PostgreSQL when FACEREC_TEST_PG_URL names a server, as
// scripts/test.sh arranges) and the Gallery on top: enrolment in one transaction, model mismatch
// refused with nothing stored, search by best template per identity, schema versions and
// migration, re-embedding all-or-nothing, index files, other writers, concurrent use.
#include "test_util.hpp"

#include <facerec/error.hpp>
#include <facerec/gallery/gallery.hpp>
#include <facerec/gallery/index.hpp>

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <pqxx/pqxx>

#include <atomic>
#include <cmath>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

namespace facerec {
namespace {

Template unit(std::vector<float> v, const std::string& model = "m1") {
  double n = 0;
  for (float x : v) n += x * x;
  for (auto& x : v) x = float(x / std::sqrt(n));
  return {v, model, "sha", 0.9f, {}};
}

// A fresh, empty store URL of the given kind, or "" when that kind cannot run here.
std::string fresh_url(const std::string& kind, const std::string& name) {
  static std::atomic<int> n{0};
  if (kind == "sqlite") return (test::temp_dir("gallery-" + name) / "g.db").string();
  const char* admin = std::getenv("FACEREC_TEST_PG_URL");
  if (!admin || !*admin) return "";
  std::string db = "facerec_t_" + std::to_string(::getpid()) + "_" + std::to_string(n++);
  pqxx::connection c(admin);
  pqxx::nontransaction w(c);
  w.exec("DROP DATABASE IF EXISTS " + db);
  w.exec("CREATE DATABASE " + db);
  std::string url = admin;
  return url.substr(0, url.rfind('/') + 1) + db;
}

class Store : public ::testing::TestWithParam<std::string> {
 protected:
  std::string url(const std::string& name) { return fresh_url(GetParam(), name); }
  void SetUp() override {
    if (GetParam() == "postgresql" && !std::getenv("FACEREC_TEST_PG_URL"))
      GTEST_SKIP() << "FACEREC_TEST_PG_URL is not set: scripts/test.sh starts a PostgreSQL 15 server and sets it; "
                      "run the tests through it to cover the PostgreSQL store";
  }
};

TEST_P(Store, EnrolSearchRemoveAndPersist) {
  auto u = url("persist");
  {
    auto s = open_store(u);
    EXPECT_EQ(s->schema_version(), 3);
    int64_t r0 = s->revision();
    int64_t a = s->enroll("alice", "{\"team\": 1}", {unit({1, 0, 0}), unit({0.9f, 0.1f, 0})});
    int64_t b = s->enroll("bob", "", {unit({0, 1, 0})});
    EXPECT_NE(a, b);
    std::vector<int64_t> ids;
    EXPECT_EQ(s->enroll("alice", "", {unit({1, 0.2f, 0})}, &ids), a);  // same name: more templates
    EXPECT_EQ(ids.size(), 1u);
    EXPECT_EQ(s->model(), "m1");
    EXPECT_EQ(s->revision(), r0 + 3);
    EXPECT_EQ(s->get(b)->name, "bob");
    EXPECT_EQ(s->find_name("alice")->templates, 3);
    EXPECT_FALSE(s->find_name("nobody").has_value());
  }
  Gallery g(u);  // reopened: everything persisted
  auto people = g.list();
  ASSERT_EQ(people.size(), 2u);
  EXPECT_EQ(people[0].name, "alice");
  EXPECT_EQ(people[0].templates, 3);
  EXPECT_EQ(people[0].metadata, "{\"team\": 1}");
  auto c = g.search(unit({0.1f, 1, 0}).embedding, "m1", 5);
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].name, "bob");
  EXPECT_GT(c[0].similarity, c[1].similarity);
  EXPECT_EQ(g.search(unit({1, 0, 0}).embedding, "m1", 1).at(0).name, "alice");
  EXPECT_ERROR(g.search(unit({1, 0, 0}).embedding, "other-model", 1), ErrorKind::InvalidArgument);
  EXPECT_ERROR(g.search({1, 0}, "m1", 1), ErrorKind::InvalidArgument);  // wrong dimension
  EXPECT_TRUE(g.remove(people[1].id));
  EXPECT_FALSE(g.remove(people[1].id));
  EXPECT_EQ(g.search(unit({0, 1, 0}).embedding, "m1", 5).size(), 1u);
}

TEST_P(Store, MixingModelsIsRefusedAndStoresNothing) {
  auto s = open_store(url("mix"));
  s->enroll("alice", "", {unit({1, 0, 0})});
  int64_t rev = s->revision();
  EXPECT_ERROR(s->enroll("carol", "", {unit({0, 0, 1}, "m2")}), ErrorKind::InvalidArgument);
  EXPECT_ERROR(s->enroll("dave", "", {unit({0, 0, 1}), unit({0, 1, 0, 0})}),
               ErrorKind::InvalidArgument);  // mixed dimensions
  EXPECT_ERROR(s->enroll("erin", "", {}), ErrorKind::InvalidArgument);
  EXPECT_ERROR(s->enroll("", "", {unit({0, 0, 1})}), ErrorKind::InvalidArgument);
  auto all = s->list();
  ASSERT_EQ(all.size(), 1u) << "a refused enrolment must leave nothing behind";
  EXPECT_EQ(all[0].templates, 1);
  EXPECT_EQ(s->revision(), rev);
}

TEST_P(Store, ReplacingEmbeddingsIsAllOrNothing) {
  auto s = open_store(url("replace"));
  s->enroll("alice", "", {unit({1, 0, 0}), unit({0, 1, 0})});
  auto t = s->templates();
  ASSERT_EQ(t.size(), 2u);
  // one template missing: refused, nothing changed
  EXPECT_ERROR(s->replace_embeddings("m2", {{t[0].id, {1, 0}}}), ErrorKind::InvalidArgument);
  EXPECT_EQ(s->model(), "m1");
  s->replace_embeddings("m2", {{t[0].id, {1, 0}}, {t[1].id, {0, 1}}});
  EXPECT_EQ(s->model(), "m2");
  EXPECT_EQ(s->templates()[1].t.embedding, (std::vector<float>{0, 1}));
}

TEST_P(Store, KeepsFaceCrops) {
  auto s = open_store(url("crops"));
  Template t = unit({1, 0, 0});
  t.crop.jpeg = std::string("\xff\xd8\x00jpeg\x00bytes", 12);
  t.crop.landmarks = {1.5f, 2.5f, 3.5f, 4.5f};
  s->enroll("alice", "", {t, unit({0, 1, 0})});
  auto all = s->templates(true);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].t.crop.jpeg, t.crop.jpeg);
  EXPECT_EQ(all[0].t.crop.landmarks, t.crop.landmarks);
  EXPECT_TRUE(all[1].t.crop.jpeg.empty());
  EXPECT_TRUE(s->templates(false)[0].t.crop.jpeg.empty());  // not read unless asked
  EXPECT_EQ(s->templates(false, all[0].id).size(), 1u);     // after an id
}

TEST_P(Store, ReembedFromCropsOrRefuse) {
  auto u = url("reembed");
  Template with = unit({1, 0, 0});
  with.crop.jpeg = "A";
  Template with2 = unit({0, 1, 0});
  with2.crop.jpeg = "B";
  open_store(u)->enroll("alice", "", {with, with2});
  Gallery g(u);
  // a fake embedder: crop "A" -> (1, 0), "B" -> (0, 1)
  auto embed = [](const FaceCrop& c) { return c.jpeg == "A" ? std::vector<float>{1, 0} : std::vector<float>{0, 1}; };
  EXPECT_EQ(g.reembed("m2", embed), 2u);
  EXPECT_EQ(g.model(), "m2");
  EXPECT_EQ(g.search({0, 1}, "m2", 1).at(0).similarity, 1.0f);
  g.enroll("bob", "", {unit({1, 1}, "m2")});  // no crop
  try {
    g.reembed("m3", embed);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("without a face crop"), std::string::npos) << e.what();
  }
  EXPECT_EQ(g.model(), "m2");  // nothing changed
}

TEST_P(Store, GallerySeesOtherWritersAndServesConcurrentClients) {
  auto u = url("concurrent");
  Gallery g(u);
  EXPECT_TRUE(g.search(unit({1, 0, 0}).embedding, "m1", 3).empty());
  open_store(u)->enroll("zoe", "", {unit({0, 0, 1})});  // another process / connection
  auto c = g.search(unit({0, 0, 1}).embedding, "m1", 3);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].name, "zoe");
  // 2 enrolling threads and 2 searching threads at once
  std::atomic<int> errors{0};
  std::vector<std::thread> ts;
  for (int w = 0; w < 2; ++w)
    ts.emplace_back([&, w] {
      for (int i = 0; i < 25; ++i) {
        try {
          float a = float(w * 25 + i) * 0.05f;
          g.enroll("p" + std::to_string(w) + "_" + std::to_string(i), "", {unit({std::cos(a), std::sin(a), 0.1f})});
        } catch (const std::exception&) {
          ++errors;
        }
      }
    });
  for (int w = 0; w < 2; ++w)
    ts.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        try {
          if (g.search(unit({0, 0, 1}).embedding, "m1", 1).at(0).name != "zoe") ++errors;
        } catch (const std::exception&) {
          ++errors;
        }
      }
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(g.list().size(), 51u);
  EXPECT_EQ(g.size(), 51u);
  EXPECT_EQ(g.search(unit({std::cos(0.05f * 30), std::sin(0.05f * 30), 0.1f}).embedding, "m1", 1).at(0).name, "p1_5");
}

TEST_P(Store, IdsAreNeverReusedAndAddingToARemovedPersonFails) {
  auto s = open_store(url("ids"));
  int64_t a = s->create("ada", "");
  int64_t b = s->enroll("bob", "", {unit({1, 0, 0})});
  ASSERT_TRUE(s->remove(b));
  int64_t c = s->create("carl", "");
  EXPECT_GT(c, b) << "the removed person's id was given again";
  // create() keeps the naming rules enrol() keeps
  EXPECT_ERROR(s->create("", ""), ErrorKind::InvalidArgument, "needs a name");
  EXPECT_ERROR(s->create(std::string(513, 'x'), ""), ErrorKind::InvalidArgument, "512 bytes");
  try {
    s->add_templates(b, {unit({0, 1, 0})});
    FAIL() << "faces were added to a removed person";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::NotFound);
  }
  EXPECT_FALSE(s->get(b).has_value()) << "the removed person came back";
  EXPECT_TRUE(s->templates().empty()) << "templates stored for a removed person";
  s->add_templates(a, {unit({0, 1, 0})});
  EXPECT_EQ(s->get(a)->templates, 1);
  // a name that looks like an id is only a name
  int64_t named = s->create(std::to_string(a), "");
  EXPECT_EQ(s->get(a)->name, "ada");
  EXPECT_EQ(s->find_name(std::to_string(a))->id, named);
}

TEST_P(Store, AMissingGalleryIsNotCreatedUnlessAsked) {
  auto u = url("missing");
  try {
    open_store(u, /*create=*/false);
    FAIL() << "open_store(create = false) made a gallery";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::NotFound) << e.what();
  }
  if (GetParam() == "sqlite") {
    EXPECT_FALSE(std::filesystem::exists(u)) << "the file was created anyway";
  }
  open_store(u)->create("ada", "");
  EXPECT_EQ(open_store(u, false)->list().size(), 1u);
}

INSTANTIATE_TEST_SUITE_P(Stores, Store, ::testing::Values("sqlite", "postgresql"),
                         [](const auto& p) { return p.param; });

TEST(Gallery, NewerSchemaIsRefusedOldOneUpgraded) {
  auto dir = test::temp_dir("gallery-schema");
  auto path = (dir / "g.db").string();
  // a version-1 gallery as release 0.1 wrote it
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  const char* v1 =
      "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
      "CREATE TABLE identities(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, metadata TEXT NOT NULL DEFAULT '', "
      "created INTEGER NOT NULL);"
      "CREATE TABLE templates(id INTEGER PRIMARY KEY, identity_id INTEGER NOT NULL REFERENCES identities(id), model "
      "TEXT NOT NULL, dim INTEGER NOT NULL, embedding BLOB NOT NULL, image_sha256 TEXT NOT NULL DEFAULT '', quality "
      "REAL NOT NULL DEFAULT 0, created INTEGER NOT NULL);"
      "INSERT INTO meta VALUES ('schema_version', '1');"
      "INSERT INTO identities VALUES (1, 'old', '', 0);"
      "INSERT INTO templates VALUES (1, 1, 'm1', 2, x'0000803f00000000', '', 0.5, 0);";
  ASSERT_EQ(sqlite3_exec(db, v1, nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  {
    auto s = open_store(path);
    EXPECT_EQ(s->schema_version(), 3);
    auto t = s->templates(true);
    ASSERT_EQ(t.size(), 1u);
    EXPECT_EQ(t[0].t.embedding, (std::vector<float>{1, 0}));
    EXPECT_TRUE(t[0].t.crop.jpeg.empty());
    s->enroll("new", "", {unit({0, 1})});
  }
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "UPDATE meta SET value = '99' WHERE key = 'schema_version'", nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  try {
    open_store(path);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Unsupported);
    EXPECT_NE(std::string(e.what()).find("99"), std::string::npos);
  }
  EXPECT_ERROR(open_store("mysql://localhost/x"), ErrorKind::InvalidArgument);
  EXPECT_ERROR(open_store("postgresql://nobody@127.0.0.1:1/none"), ErrorKind::Io);  // nothing listens on port 1
  EXPECT_ERROR(open_store((dir / "no" / "such" / "dir" / "g.db").string()), ErrorKind::Io);
}

// Random unit vectors in clusters: `people` identities with `per` templates each.
std::vector<std::vector<float>> clustered(int people, int per, int dim, std::vector<int>& owner, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> n(0, 1);
  std::vector<std::vector<float>> out;
  for (int p = 0; p < people; ++p) {
    std::vector<float> c(static_cast<size_t>(dim));
    for (auto& x : c) x = n(rng);
    for (int k = 0; k < per; ++k) {
      std::vector<float> v = c;
      for (auto& x : v) x += 0.35f * n(rng);
      out.push_back(unit(v).embedding);
      owner.push_back(p);
    }
  }
  return out;
}

TEST(Gallery, ForeignOrDamagedSqliteFilesAreRefusedUntouched) {
  auto dir = test::temp_dir("gallery-foreign");
  auto path = (dir / "app.db").string();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "CREATE TABLE orders(id INTEGER PRIMARY KEY, item TEXT)", nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  try {
    open_store(path);
    FAIL() << "a foreign SQLite database was taken for a gallery";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not a facerec gallery"), std::string::npos) << e.what();
  }
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  int tables = 0;
  sqlite3_exec(
      db, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'",
      [](void* n, int, char** v, char**) {
        *static_cast<int*>(n) = std::atoi(v[0]);
        return 0;
      },
      &tables, nullptr);
  sqlite3_close(db);
  EXPECT_EQ(tables, 1) << "tables were added to the foreign database";
  // a gallery whose schema version is garbage: a clear error naming it, not "stoi"
  auto g = (dir / "g.db").string();
  open_store(g)->create("ada", "");
  ASSERT_EQ(sqlite3_open(g.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "UPDATE meta SET value = 'x7' WHERE key = 'schema_version'", nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  try {
    open_store(g);
    FAIL() << "a garbage schema version was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Unsupported);
    EXPECT_NE(std::string(e.what()).find("schema version is 'x7'"), std::string::npos) << e.what();
  }
}

TEST(Gallery, IndexFileIsReusedOnlyWhileCurrent) {
  auto dir = test::temp_dir("gallery-index");
  auto db = (dir / "g.db").string();
  std::vector<int> owner;
  auto v = clustered(60, 2, 16, owner, 7);
  {
    auto s = open_store(db);
    for (int p = 0; p < 60; ++p) s->enroll("p" + std::to_string(p), "", {unit(v[2 * p]), unit(v[2 * p + 1])});
  }
  for (std::string factory : {"Flat", "faiss:HNSW16;efSearch=64", "hnswlib:M=16", "hnswlib"}) {
    std::vector<std::string> log;
    GalleryOptions o;
    o.index = factory;
    o.index_file = (dir / "g.index").string();
    o.log = [&](const std::string& l) { log.push_back(l); };
    std::filesystem::remove(o.index_file);
    { Gallery g(db, o); }
    ASSERT_TRUE(std::filesystem::exists(o.index_file));
    Gallery g2(db, o);
    ASSERT_FALSE(log.empty());
    EXPECT_NE(log.back().find("loaded"), std::string::npos) << log.back();
    EXPECT_EQ(g2.search(v[10], "m1", 1).at(0).name, "p5");
    open_store(db)->enroll("late", "", {unit(v[0])});  // the file is now stale
    Gallery g3(db, o);
    EXPECT_NE(log.back().find("built"), std::string::npos) << log.back();
    EXPECT_EQ(g3.size(), 121u);
    g3.remove(g3.find_name("late")->id);
  }
  std::ofstream(dir / "g.index") << "garbage";  // a foreign file is rebuilt, not trusted
  GalleryOptions o;
  o.index_file = (dir / "g.index").string();
  Gallery g4(db, o);
  EXPECT_EQ(g4.size(), 120u);
  GalleryOptions bad;
  bad.index = "faiss:NoSuchIndex";
  EXPECT_ERROR(Gallery(db, bad), ErrorKind::InvalidArgument);
  GalleryOptions pq;  // valid for these 16-d templates although PQ16 does not fit every dimension (8)
  pq.index = "faiss:IVF4,PQ16";
  EXPECT_NO_THROW(Gallery(db, pq));
  // an IVF index needs enough templates to train; until then search is exact and says so
  GalleryOptions ivf;
  ivf.index = "faiss:IVF64,Flat";
  Gallery g5(db, ivf);
  EXPECT_NE(g5.index_description().find("needs"), std::string::npos) << g5.index_description();
  EXPECT_EQ(g5.search(v[10], "m1", 1).at(0).name, "p5");
}

// Set-up installs OpenBLAS's OpenMP build and points libblas.so.3 at it: FAISS (and libtorch) call
// whatever stands behind that name, and the reference BLAS is about 30x slower.
TEST(Index, FaissCallsOpenBlas) {
  auto d = blas_description();
  EXPECT_NE(d.find("OpenBLAS"), std::string::npos) << d << " (run scripts/setup.sh)";
  EXPECT_NE(d.find("OpenMP"), std::string::npos) << d << ": the OpenMP build matches FAISS's and libtorch's threads";
}

TEST(Index, ApproximateIndexesFindWhatExactSearchFinds) {
  std::vector<int> owner;
  const int dim = 32;
  auto v = clustered(300, 4, dim, owner, 3);
  std::vector<int64_t> ids(v.size());
  std::vector<float> x;
  for (size_t i = 0; i < v.size(); ++i) {
    ids[i] = int64_t(i) * 10 + 5;  // ids need not be positions
    x.insert(x.end(), v[i].begin(), v[i].end());
  }
  auto exact = make_index("Flat", dim);
  exact->add(ids.data(), x.data(), ids.size());
  std::vector<int> dummy;
  auto queries = clustered(300, 1, dim, dummy, 3);  // the same centres, fresh noise
  for (std::string f :
       {"faiss:HNSW32;efSearch=64", "faiss:IVF16,Flat;nprobe=8", "faiss:IVF16,PQ16;nprobe=8", "hnswlib:M=16,ef=64"}) {
    auto ix = make_index(f, dim);
    EXPECT_EQ(ix->description(), f);
    if (!ix->is_trained()) ix->train(x.data(), v.size());
    ix->add(ids.data(), x.data(), ids.size());
    EXPECT_EQ(ix->size(), v.size());
    int agree = 0;  // the same identity first as exact search (templates of one person are near-ties)
    auto person = [&](int64_t id) { return id < 0 ? -1 : owner[size_t((id - 5) / 10)]; };
    for (const auto& q : queries)
      agree += person(ix->search(q.data(), 1)[0].id) == person(exact->search(q.data(), 1)[0].id);
    EXPECT_GE(agree, f.find("PQ") != std::string::npos ? 240 : 280) << f;  // of 300
    // save and load give the same answers
    std::stringstream buf;
    save_index(*ix, buf);
    auto back = load_index(buf);
    EXPECT_EQ(back->description(), f);
    for (int i = 0; i < 20; ++i)
      EXPECT_EQ(back->search(queries[size_t(i)].data(), 3)[0].id, ix->search(queries[size_t(i)].data(), 3)[0].id);
  }
  // exact: fewer stored than asked -> -1 padding; save/load round trip
  auto small = make_index("Flat", dim);
  small->add(ids.data(), x.data(), 2);
  auto hits = small->search(queries[0].data(), 4);
  ASSERT_EQ(hits.size(), 4u);
  EXPECT_EQ(hits[3].id, -1);
  std::stringstream buf;
  save_index(*small, buf);
  auto text = buf.str();
  std::stringstream in(text);
  EXPECT_EQ(load_index(in)->search(queries[0].data(), 1)[0].id, hits[0].id);
  std::stringstream truncated(text.substr(0, text.size() - 7)), foreign("PK\x03\x04 zip"), empty;
  for (auto* s : {&truncated, &foreign, &empty}) {
    try {
      load_index(*s);
      FAIL();
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::BadModel);
    }
  }
  // format 2 carries a checksum: one flipped byte of the payload is refused before any parser
  // sees it (found by fuzz_index: FAISS's reader leaks on malformed input)
  {
    auto hnsw = make_index("faiss:HNSW8", dim);
    hnsw->add(ids.data(), x.data(), 2);
    std::stringstream hb;
    save_index(*hnsw, hb);
    std::string h = hb.str();
    h[h.size() - 20] = char(h[h.size() - 20] ^ 0x5a);
    std::stringstream damaged(h);
    try {
      load_index(damaged);
      FAIL() << "a damaged index file was loaded";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("checksum"), std::string::npos) << e.what();
    }
    // format 1 (no checksum) is still read for Flat, and refused for FAISS/hnswlib payloads
    auto v1 = [&](const std::string& body) {
      std::string f = "FRIX";
      uint32_t one = 1;
      f.append(reinterpret_cast<const char*>(&one), 4);
      return f + body;
    };
    std::string body = text.substr(4 + 4 + 8 + 64);  // the format-2 body of the Flat index
    std::stringstream flat1(v1(body));
    EXPECT_EQ(load_index(flat1)->size(), 2u);
    std::stringstream faiss1(v1(h.substr(4 + 4 + 8 + 64)));
    EXPECT_ERROR(load_index(faiss1), ErrorKind::BadModel);
    // found by fuzz_index: a count claiming 2^30 vectors was allocated before reading (minutes,
    // gigabytes); now only the bytes that are there are read before "truncated"
    std::string claim = body.substr(0, 8 + 4 + 4);  // factory "Flat" (u64 length + 4 bytes), dim
    uint64_t huge = uint64_t(1) << 30;
    claim.append(reinterpret_cast<const char*>(&huge), 8);
    claim += std::string(64, '\1');
    std::stringstream forged(v1(claim));
    try {
      load_index(forged);
      FAIL() << "a truncated Flat index loaded";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::BadModel) << e.what();
    }
  }
  EXPECT_ERROR(make_index("HNSW32", dim), ErrorKind::InvalidArgument);  // needs the faiss: prefix
  EXPECT_ERROR(make_index("faiss:", dim), ErrorKind::InvalidArgument);
  EXPECT_ERROR(make_index("faiss:Bogus17", dim), ErrorKind::InvalidArgument);
  EXPECT_ERROR(make_index("faiss:HNSW32;noSuchParam=3", dim), ErrorKind::InvalidArgument);
  EXPECT_ERROR(make_index("hnswlib:M=1", dim), ErrorKind::InvalidArgument);
  EXPECT_ERROR(make_index("hnswlib:speed=fast", dim), ErrorKind::InvalidArgument);
  EXPECT_ERROR(make_index("Flat", 0), ErrorKind::InvalidArgument);
  EXPECT_EQ(training_size("faiss:IVF16,PQ8"), 624u);
  EXPECT_EQ(training_size("faiss:HNSW32"), 0u);
}

}  // namespace
}  // namespace facerec
