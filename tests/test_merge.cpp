// Dataset merging (merge.hpp) on synthetic embeddings: people are random directions, images are
// noisy copies of them, folder names are random strings, so every decision must come from the
// embeddings. Overlaps are merged, exclude-set people left out, near-duplicates handled, and the
// written dataset, overlaps.tsv and report are checked.
#include "test_util.hpp"

#include <facerec/error.hpp>
#include <facerec/eval/dataset.hpp>
#include <facerec/eval/merge.hpp>

#include "common/fs.hpp"

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <random>
#include <set>

namespace facerec {
namespace {

constexpr int kDim = 64;

struct World {
  std::vector<std::vector<float>> people;  // a unit direction per person
  std::mt19937 rng{7};
  explicit World(int n) {
    std::normal_distribution<float> g;
    for (int p = 0; p < n; ++p) {
      std::vector<float> v(kDim);
      double s = 0;
      for (auto& x : v) {
        x = g(rng);
        s += double(x) * x;
      }
      for (auto& x : v) x = float(x / std::sqrt(s));
      people.push_back(v);
    }
  }
  // an image of person p: the direction plus noise (cosine to it about 0.7)
  std::vector<float> image(int p) {
    std::normal_distribution<float> g(0, 0.125f);
    auto v = people[size_t(p)];
    for (auto& x : v) x += g(rng);
    return v;
  }
  std::string random_name() {
    std::uniform_int_distribution<int> c('a', 'z');
    std::string s;
    for (int i = 0; i < 8; ++i) s += char(c(rng));
    return s;
  }
};

// Dataset d holds persons [first, last), 3 images each, under random folder names; person_of maps
// identity index -> person.
void add_dataset(World& w, std::vector<MergeIdentity>& ids, std::vector<int>& person_of, int d, int first, int last) {
  for (int p = first; p < last; ++p) {
    MergeIdentity id;
    id.dataset = d;
    id.name = w.random_name();
    for (int k = 0; k < 3; ++k) {
      id.images.push_back(id.name + "/" + std::to_string(k) + ".png");
      id.embeddings.push_back(w.image(p));
    }
    ids.push_back(id);
    person_of.push_back(p);
  }
}

TEST(Merge, OverlapsAndTestSetPeopleAreFoundFromTheFacesAlone) {
  World w(120);
  std::vector<MergeIdentity> ids;
  std::vector<int> person;
  add_dataset(w, ids, person, 0, 0, 60);    // A: persons 0..59
  add_dataset(w, ids, person, 1, 40, 100);  // B: persons 40..99 (40..59 also in A)
  add_dataset(w, ids, person, 2, 90, 110);  // X (exclude): persons 90..109 (90..99 also in B)
  // B's identities in another order: nothing depends on the order either
  std::shuffle(ids.begin() + 60, ids.begin() + 120, std::mt19937(3));
  person.clear();  // the truth after the shuffle, recovered from each identity's first image
  for (const auto& id : ids) {
    // the person whose direction is nearest to the first image
    int best = -1;
    double bs = -2;
    for (int p = 0; p < 120; ++p) {
      double s = 0;
      for (int k = 0; k < kDim; ++k) s += double(id.embeddings[0][size_t(k)]) * w.people[size_t(p)][size_t(k)];
      if (s > bs) bs = s, best = p;
    }
    person.push_back(best);
  }
  const std::vector<std::string> names = {"a", "b", "x"};
  // calibrated: one over 6,000 compared pairs is finer than 3,730 impostor identity pairs resolve,
  // so the threshold is extrapolated from their tail; about one false match is expected among the
  // pairs compared, and every true one (centroid cosines near 0.75) is found
  const auto cal = plan_merge(ids, names, 2, {});
  EXPECT_EQ(cal.impostor_pairs, 60u * 59 / 2 * 2 + 20u * 19 / 2);
  EXPECT_EQ(cal.compared_pairs, 60u * 60 + 60u * 20 * 2);
  ASSERT_EQ(cal.thresholds.size(), 3u);                 // a ~ b, a ~ x, b ~ x
  EXPECT_DOUBLE_EQ(cal.thresholds[0].fmr, 1.0 / 3600);  // one expected false merge among 60 x 60 pairs
  EXPECT_DOUBLE_EQ(cal.thresholds[1].fmr, 0.01 / 20);   // a 1% chance per identity against 20 excluded ones
  for (const auto& t : cal.thresholds) {
    EXPECT_GT(t.threshold, 0.2);
    EXPECT_LT(t.threshold, 0.7);  // below the genuine centroid cosines (about 0.75)
  }
  EXPECT_LT(cal.thresholds[1].threshold, cal.thresholds[0].threshold) << "exclusion is the looser";
  ASSERT_EQ(cal.notes.size(), 1u);
  EXPECT_NE(cal.notes[0].find("extrapolated"), std::string::npos) << cal.notes[0];
  size_t true_found = 0, false_found = 0;
  for (const auto& d : cal.overlaps)
    if (ids[size_t(d.a)].dataset != ids[size_t(d.b)].dataset)
      (person[size_t(d.a)] == person[size_t(d.b)] ? true_found : false_found)++;
  EXPECT_EQ(true_found, 30u);
  EXPECT_LE(false_found, 4u);
  size_t impostors = 0;
  for (auto c : cal.impostor_histogram) impostors += c;
  EXPECT_EQ(impostors, cal.impostor_pairs);

  // at a given threshold between the two distributions the decisions are exact
  MergeOptions at;
  at.threshold = at.exclude_threshold = 0.6;
  const auto plan = plan_merge(ids, names, 2, at);
  std::set<std::pair<int, int>> merged, excluded;
  for (const auto& d : plan.overlaps) {
    const int pa = person[size_t(d.a)], pb = person[size_t(d.b)];
    if (d.decision == "merged")
      merged.insert({std::min(pa, pb), std::max(pa, pb)});
    else if (d.decision == "excluded")
      excluded.insert({pa, pb});
    else
      ADD_FAILURE() << d.decision;
    EXPECT_GE(d.score, 0.6);
  }
  std::set<std::pair<int, int>> want_merged, want_excluded;
  for (int p = 40; p < 60; ++p) want_merged.insert({p, p});
  for (int p = 90; p < 100; ++p) want_excluded.insert({p, p});
  EXPECT_EQ(merged, want_merged);
  EXPECT_EQ(excluded, want_excluded);
  // the output: 60 + 60 - 20 merged - 10 excluded people, each once, with all their images
  ASSERT_EQ(plan.output.size(), 90u);
  std::set<int> seen;
  for (const auto& m : plan.output) {
    std::set<int> who;
    for (const auto& [i, k] : m.images) {
      EXPECT_LT(ids[size_t(i)].dataset, 2) << "nothing of an exclude set is in the output";
      who.insert(person[size_t(i)]);
    }
    ASSERT_EQ(who.size(), 1u) << m.name;
    const int p = *who.begin();
    EXPECT_TRUE(seen.insert(p).second) << "person " << p << " twice";
    EXPECT_EQ(m.images.size(), p >= 40 && p < 60 ? 6u : 3u);
    EXPECT_LT(p, 90);
  }
  EXPECT_TRUE(plan.duplicates.empty());

  // drop instead of merge: the 20 shared people are left out altogether
  MergeOptions drop = at;
  drop.drop_overlaps = true;
  EXPECT_EQ(plan_merge(ids, names, 2, drop).output.size(), 70u);
}

TEST(Merge, NearDuplicatesAndAmbiguousMatches) {
  World w(10);
  std::vector<MergeIdentity> ids;
  std::vector<int> person;
  add_dataset(w, ids, person, 0, 0, 4);         // A: 0..3
  add_dataset(w, ids, person, 1, 2, 6);         // B: 2..5
  add_dataset(w, ids, person, 2, 6, 8);         // X: 6..7
  ids[0].embeddings[1] = ids[1].embeddings[0];  // A:p0's 2nd image is a copy of A:p1's 1st: kept, reported
  ids[6].embeddings[2] = ids[2].embeddings[1];  // B:p4... (index 6 = B's 3rd = person 4)
  ids[4].embeddings[0] = ids[2].embeddings[0];  // B:p2 (index 4) repeats A:p2's photo: merged, copy dropped
  ids[7].embeddings[1] = ids[8].embeddings[0];  // B:p5 holds a copy of X:p6's photo: dropped
  MergeOptions o;
  o.threshold = o.exclude_threshold = 0.6;  // given: no calibration (and no impostor histogram)
  o.duplicate_threshold = 0.999;
  const std::vector<std::string> names = {"a", "b", "x"};
  const auto plan = plan_merge(ids, names, 2, o);
  ASSERT_EQ(plan.thresholds.size(), 3u);
  for (const auto& t : plan.thresholds) {
    EXPECT_EQ(t.threshold, 0.6);
    EXPECT_EQ(t.fmr, 0);
  }
  std::map<std::string, int> kinds;
  for (const auto& d : plan.duplicates) {
    ++kinds[d.decision];
    EXPECT_GE(d.score, 0.999);
  }
  EXPECT_EQ(kinds["kept (different identities)"], 2) << "A:p0 ~ A:p1 and B:p4 ~ A:p2";
  EXPECT_EQ(kinds["dropped b"], 1);
  EXPECT_EQ(kinds["dropped a (copy of an excluded image)"], 1);
  size_t images = 0;
  for (const auto& m : plan.output) images += m.images.size();
  EXPECT_EQ(plan.output.size(), 6u);  // persons 0..5
  EXPECT_EQ(images, 24u - 2u);

  // a person in two folders of B: both reach A's folder, only the mutual best merges
  auto twin = ids;
  twin[5] = twin[4];  // B:p3's folder now holds B:p2's images too (another name)
  twin[5].name = "copy";
  twin[5].embeddings = {w.image(2), w.image(2), w.image(2)};
  const auto p2 = plan_merge(twin, names, 2, o);
  int merged = 0, apart = 0;
  for (const auto& d : p2.overlaps) {
    merged += d.decision == "merged";
    apart += d.decision == "kept apart (not mutual best)";
  }
  EXPECT_EQ(merged, 1);  // A:p2 with one of B's two folders (A:p3 now has no match in B)
  EXPECT_EQ(apart, 1);

  // requirements
  EXPECT_ERROR(plan_merge(ids, names, 0, o), ErrorKind::InvalidArgument, "input");
  MergeOptions bad;
  bad.fmr = 1.5;
  EXPECT_ERROR(plan_merge(ids, names, 2, bad), ErrorKind::InvalidArgument, "fmr");
  auto mixed = ids;
  mixed[3].embeddings[0].push_back(1);
  EXPECT_ERROR(plan_merge(mixed, names, 2, o), ErrorKind::InvalidArgument, "lengths");
  // one identity in each of two datasets: nothing to calibrate on
  EXPECT_ERROR(plan_merge({ids[0], ids[4]}, names, 2, {}), ErrorKind::InvalidArgument, "give a threshold");
  // one dataset alone: no identity comparisons, near-duplicates only
  const std::vector<MergeIdentity> alone(ids.begin(), ids.begin() + 4);
  const auto p1 = plan_merge(alone, {"a"}, 1, {});
  EXPECT_TRUE(p1.thresholds.empty());
  EXPECT_EQ(p1.compared_pairs, 0u);
  EXPECT_TRUE(p1.overlaps.empty());
  ASSERT_EQ(p1.duplicates.size(), 1u);  // A:p0 ~ A:p1 (the default threshold 0.99)
  EXPECT_EQ(p1.output.size(), 4u);
  // an identity without any face is kept, unchecked
  auto faceless = ids;
  for (auto& e : faceless[0].embeddings) e.clear();
  const auto p3 = plan_merge(faceless, names, 2, o);
  EXPECT_EQ(p3.without_centroid, 1u);
  EXPECT_EQ(p3.output.size(), 6u);
}

TEST(Merge, WritesTheDatasetItsDecisionsAndAReport) {
  World w(6);
  std::vector<MergeIdentity> ids;
  std::vector<int> person;
  add_dataset(w, ids, person, 0, 0, 3);
  add_dataset(w, ids, person, 1, 1, 4);
  const auto base = test::temp_dir("merge");
  std::filesystem::remove_all(base);
  const std::vector<std::filesystem::path> roots = {base / "a", base / "b"};
  for (const auto& id : ids)
    for (const auto& img : id.images) {
      const auto f = roots[size_t(id.dataset)] / img;
      std::filesystem::create_directories(f.parent_path());
      cv::imwrite(f.string(), cv::Mat(40, 32, CV_8UC3, cv::Scalar(20, 90, 200)));
    }
  MergeOptions o;
  o.threshold = 0.6;
  const auto plan = plan_merge(ids, {"a", "b"}, 2, o);
  ASSERT_EQ(plan.output.size(), 4u);
  const auto out = base / "merged";
  write_merge(plan, ids, {"a", "b"}, roots, out, false);
  size_t files = 0;
  for (const auto& m : plan.output) {
    ASSERT_TRUE(std::filesystem::is_directory(out / m.name)) << m.name;
    for (const auto& e : std::filesystem::directory_iterator(out / m.name)) {
      EXPECT_TRUE(std::filesystem::is_symlink(e.path()));
      EXPECT_TRUE(std::filesystem::exists(e.path())) << "the link resolves";
      ++files;
    }
  }
  EXPECT_EQ(files, 18u);
  // every output image's embedding, keyed by its path in the output (a training run's teacher)
  const auto table = load_embedding_cache(out / "embeddings.bin");
  EXPECT_EQ(table.size(), 18u);
  for (const auto& m : plan.output)
    for (const auto& [i, k] : m.images) {
      const std::string key = m.name + "/" + std::string(ids[size_t(i)].dataset ? "b_" : "a_") +
                              std::filesystem::path(ids[size_t(i)].images[size_t(k)]).filename().string();
      ASSERT_TRUE(table.count(key)) << key;
      EXPECT_EQ(table.at(key).embedding, ids[size_t(i)].embeddings[size_t(k)]) << key;
    }
  const auto meta = nlohmann::json::parse(detail::read_file(out / "embeddings.json"));
  EXPECT_EQ(meta.at("images").get<size_t>(), 18u);
  std::ifstream tsv(out / "overlaps.tsv");
  std::string header, line;
  std::getline(tsv, header);
  EXPECT_EQ(header, "a\tb\tscore\tdecision");
  size_t merged = 0;
  while (std::getline(tsv, line)) merged += line.find("\tmerged") != std::string::npos;
  EXPECT_EQ(merged, 2u);
  std::ifstream html_in(out / "report.html");
  const std::string html((std::istreambuf_iterator<char>(html_in)), {});
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_NE(html.find("data:image/jpeg;base64,"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(base / "merged.partial"));
  // never over an existing folder, never inside an input; the inputs are untouched
  EXPECT_ERROR(write_merge(plan, ids, {"a", "b"}, roots, out, false), ErrorKind::AlreadyExists);
  EXPECT_ERROR(write_merge(plan, ids, {"a", "b"}, roots, roots[0] / "inside", false), ErrorKind::InvalidArgument,
               "inside");
  EXPECT_FALSE(std::filesystem::exists(roots[0] / "inside"));
  // a copy, not links
  write_merge(plan, ids, {"a", "b"}, roots, base / "copied", true);
  for (const auto& e : std::filesystem::recursive_directory_iterator(base / "copied"))
    EXPECT_FALSE(std::filesystem::is_symlink(e.path()));
  std::filesystem::remove_all(base);
}

}  // namespace
}  // namespace facerec
