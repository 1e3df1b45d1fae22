// kill -9 during bulk enrolment: every enrolment reported as committed survives, no person is left
// half-enrolled, and the SQLite file passes its integrity check. Runs the real CLI on AT&T faces
// from ../shared (skips otherwise).
#include "test_util.hpp"

#include <facerec/gallery/gallery.hpp>

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>
#include <csignal>
#include <cstdio>
#include <map>
#include <numeric>
#include <regex>

extern char** environ;

namespace facerec {
namespace {

// 24 people x 3 photos, linked into a folder-per-person set.
std::filesystem::path people_folder() {
  auto src = test::shared_dir() / "data" / "att_faces";
  auto d = test::temp_dir("kill-att");
  for (int p = 1; p <= 24; ++p) {
    auto who = "s" + std::to_string(p);
    std::filesystem::create_directories(d / "people" / who);
    for (int i = 1; i <= 3; ++i)
      std::filesystem::create_symlink(src / who / (std::to_string(i) + ".pgm"),
                                      d / "people" / who / (std::to_string(i) + ".pgm"));
  }
  return d;
}

std::map<std::string, int> counts(const std::string& db) {
  std::map<std::string, int> m;
  for (const auto& i : open_store(db)->list()) m[i.name] = i.templates;
  return m;
}

TEST(Reliability, KillDuringBulkEnrolmentLosesNothingCommitted) {
  if (!std::filesystem::exists(test::shared_dir() / "data" / "att_faces" / "s1"))
    GTEST_SKIP() << "../shared/data/att_faces is absent";
  auto dir = people_folder();
  std::string people = (dir / "people").string();

  // reference: an uninterrupted run
  std::string ref_db = (dir / "ref.db").string();
  std::string cmd = std::string(FACEREC_CLI) + " enroll --folders " + people + " --db " + ref_db + " >/dev/null 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  auto reference = counts(ref_db);
  ASSERT_EQ(reference.size(), 24u);

  // the same run, killed with SIGKILL after a few people were reported
  std::string db = (dir / "killed.db").string();
  int out[2];
  ASSERT_EQ(pipe(out), 0);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_addclose(&fa, out[0]);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  std::vector<std::string> args = {FACEREC_CLI, "enroll", "--folders", people, "--db", db};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  ASSERT_EQ(posix_spawn(&pid, FACEREC_CLI, &fa, nullptr, argv.data(), environ), 0);
  posix_spawn_file_actions_destroy(&fa);
  close(out[1]);
  FILE* f = fdopen(out[0], "r");
  std::vector<std::string> reported;
  char line[512];
  while (reported.size() < 5 && std::fgets(line, sizeof line, f)) {
    std::cmatch m;
    if (std::regex_search(line, m, std::regex("^enrolled (s\\d+) \\(id"))) reported.push_back(m[1]);
  }
  usleep(150 * 1000);  // land inside a later enrolment
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  fclose(f);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the enrolment finished before it could be killed";
  ASSERT_EQ(reported.size(), 5u);

  sqlite3* h = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &h), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(h, "PRAGMA integrity_check", -1, &st, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)), "ok");
  sqlite3_finalize(st);
  sqlite3_close(h);

  auto after = counts(db);
  EXPECT_LT(after.size(), reference.size()) << "killed mid-way";
  for (const auto& name : reported) EXPECT_TRUE(after.count(name)) << name << " was reported enrolled but is gone";
  for (const auto& [name, n] : after) EXPECT_EQ(n, reference[name]) << name << " is half-enrolled";
  // the gallery still opens, searches, and takes the remaining people
  Gallery g(db);
  EXPECT_EQ(g.size(), size_t(std::accumulate(after.begin(), after.end(), 0,
                                             [](int s, const auto& kv) { return s + kv.second; })));
}

}  // namespace
}  // namespace facerec
