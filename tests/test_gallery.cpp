// The SQLite gallery: enrolment in one transaction, model mismatch refused with nothing stored,
// search ranks identities by their best template, schema versioning, persistence across opens.
#include "test_util.hpp"

#include <facerec/error.hpp>
#include <facerec/gallery.hpp>

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cmath>

namespace facerec {
namespace {

Template unit(std::vector<float> v, const std::string& model = "m1") {
  double n = 0;
  for (float x : v) n += x * x;
  for (auto& x : v) x = float(x / std::sqrt(n));
  return {v, model, "sha", 0.9f};
}

TEST(Gallery, EnrolSearchRemoveAndPersist) {
  auto dir = test::temp_dir("gallery");
  auto db = (dir / "g.db").string();
  {
    auto s = open_store(db);
    EXPECT_EQ(s->schema_version(), 1);
    int64_t a = s->enroll("alice", "{\"team\": 1}", {unit({1, 0, 0}), unit({0.9f, 0.1f, 0})});
    int64_t b = s->enroll("bob", "", {unit({0, 1, 0})});
    EXPECT_NE(a, b);
    EXPECT_EQ(s->enroll("alice", "", {unit({1, 0.2f, 0})}), a);  // same name: more templates
    EXPECT_EQ(s->model(), "m1");
  }
  Gallery g(db);  // reopened: everything persisted
  auto people = g.store().list();
  ASSERT_EQ(people.size(), 2u);
  EXPECT_EQ(people[0].name, "alice");
  EXPECT_EQ(people[0].templates, 3);
  EXPECT_EQ(people[0].metadata, "{\"team\": 1}");
  auto c = g.search(unit({0.1f, 1, 0}).embedding, "m1", 5);
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].name, "bob");
  EXPECT_GT(c[0].similarity, c[1].similarity);
  EXPECT_EQ(g.search(unit({1, 0, 0}).embedding, "m1", 1).at(0).name, "alice");
  EXPECT_THROW(g.search(unit({1, 0, 0}).embedding, "other-model", 1), Error);
  EXPECT_TRUE(g.store().remove(people[1].id));
  EXPECT_FALSE(g.store().remove(people[1].id));
  EXPECT_EQ(g.search(unit({0, 1, 0}).embedding, "m1", 5).size(), 1u);
}

TEST(Gallery, MixingModelsIsRefusedAndStoresNothing) {
  auto dir = test::temp_dir("gallery-mix");
  auto s = open_store((dir / "g.db").string());
  s->enroll("alice", "", {unit({1, 0, 0})});
  EXPECT_THROW(s->enroll("carol", "", {unit({0, 0, 1}, "m2")}), Error);
  EXPECT_THROW(s->enroll("dave", "", {unit({0, 0, 1}), unit({0, 1, 0, 0})}), Error);  // mixed dimensions
  EXPECT_THROW(s->enroll("erin", "", {}), Error);
  EXPECT_THROW(s->enroll("", "", {unit({0, 0, 1})}), Error);
  auto all = s->list();
  ASSERT_EQ(all.size(), 1u) << "a refused enrolment must leave nothing behind";
  EXPECT_EQ(all[0].templates, 1);
}

TEST(Gallery, NewerSchemaIsRefusedOldOneUpgraded) {
  auto dir = test::temp_dir("gallery-schema");
  auto path = (dir / "g.db").string();
  open_store(path)->enroll("alice", "", {unit({1, 0, 0})});
  sqlite3* db = nullptr;
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
  EXPECT_THROW(open_store("postgresql://localhost/x"), Error);
  EXPECT_THROW(open_store((dir / "no" / "such" / "dir" / "g.db").string()), Error);
}

}  // namespace
}  // namespace facerec
