// 1:N metrics, curves, the identification protocol and the pair protocol on hand-made data with
// known answers.
#include "test_util.hpp"

#include <facerec/error.hpp>
#include <facerec/eval/dataset.hpp>
#include <facerec/eval/eval.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

namespace facerec {
namespace {

TEST(Identification, RankSearchAggregatesTemplatesPerIdentity) {
  // identity 1 has templates 0.9 and 0.3 -> 0.9; identity 2: 0.95; identity 3: 0.1
  std::vector<double> s = {0.9, 0.95, 0.3, 0.1};
  std::vector<int> l = {1, 2, 1, 3};
  auto o = rank_search(s, l, 1);
  EXPECT_TRUE(o.mated);
  EXPECT_EQ(o.mate_rank, 2);
  EXPECT_DOUBLE_EQ(o.mate_score, 0.9);
  EXPECT_DOUBLE_EQ(o.top_score, 0.95);
  EXPECT_EQ(rank_search(s, l, 2).mate_rank, 1);
  EXPECT_EQ(rank_search(s, l, 3).mate_rank, 3);
  auto absent = rank_search(s, l, 7);  // mated, but its gallery image had no face
  EXPECT_TRUE(absent.mated);
  EXPECT_EQ(absent.mate_rank, 0);
  auto non = rank_search(s, l, -1);
  EXPECT_FALSE(non.mated);
  EXPECT_DOUBLE_EQ(non.top_score, 0.95);
  // a tie ranks against the mate
  EXPECT_EQ(rank_search({0.5, 0.5}, {1, 2}, 2).mate_rank, 2);
  EXPECT_ERROR(rank_search({0.5}, {1, 2}, 1), ErrorKind::InvalidArgument);
}

SearchOutcome mated(int rank, double score) {
  SearchOutcome o;
  o.mated = true;
  o.mate_rank = rank;
  o.mate_score = score;
  o.top_score = score;
  return o;
}
SearchOutcome nonmated(double top) {
  SearchOutcome o;
  o.top_score = top;
  return o;
}

TEST(Identification, CmcCountsFailedAndMissingMatesAsMisses) {
  SearchOutcome failed;
  failed.mated = true;
  failed.failed = true;
  auto r = evaluate_identification({mated(1, 0.9), mated(2, 0.8), mated(0, 0), failed}, 10, {});
  EXPECT_EQ(r.mated, 4u);
  EXPECT_EQ(r.failed_mated, 1u);
  ASSERT_EQ(r.cmc.size(), 10u);
  EXPECT_DOUBLE_EQ(r.cmc[0], 0.25);
  EXPECT_DOUBLE_EQ(r.cmc[1], 0.5);
  EXPECT_DOUBLE_EQ(r.cmc[9], 0.5);
  EXPECT_TRUE(r.points.empty());  // no non-mated searches: no open-set figures
  EXPECT_TRUE(r.det.empty());
}

TEST(Identification, FnirAtFpir) {
  std::vector<SearchOutcome> s;
  for (int i = 0; i < 10; ++i) s.push_back(nonmated(i / 10.0));  // 0.0 .. 0.9
  // rank-1 mates at 0.95, 0.85, 0.5; one mate at rank 2 (never a hit)
  for (auto o : {mated(1, 0.95), mated(1, 0.85), mated(1, 0.5), mated(2, 0.99)}) s.push_back(o);
  auto r = evaluate_identification(s, 10, {0.1, 0.01});
  ASSERT_EQ(r.points.size(), 2u);
  // FPIR 0.1: one non-mated search (0.9) may pass -> threshold just above 0.8
  EXPECT_GT(r.points[0].threshold, 0.8);
  EXPECT_LE(r.points[0].threshold, 0.85);
  EXPECT_DOUBLE_EQ(r.points[0].fpir, 0.1);
  EXPECT_DOUBLE_EQ(r.points[0].fnir, 0.5);  // hits: 0.95 and 0.85 of 4 mated searches
  // FPIR 0.01 of 10 searches: none may pass -> threshold just above 0.9
  EXPECT_DOUBLE_EQ(r.points[1].fpir, 0.0);
  EXPECT_DOUBLE_EQ(r.points[1].fnir, 0.75);
  // a failed non-mated search counts in the denominator but never matches
  SearchOutcome failed;
  failed.failed = true;
  s.push_back(failed);
  auto r2 = evaluate_identification(s, 10, {0.1});
  EXPECT_EQ(r2.nonmated, 11u);
  EXPECT_EQ(r2.failed_nonmated, 1u);
  EXPECT_DOUBLE_EQ(r2.points[0].fpir, 1.0 / 11.0);
  // the DET curve runs from low FPIR / high FNIR to FPIR 1
  ASSERT_FALSE(r.det.empty());
  for (size_t i = 1; i < r.det.size(); ++i) {
    EXPECT_GE(r.det[i].x, r.det[i - 1].x);
    EXPECT_LE(r.det[i].y, r.det[i - 1].y);
  }
  EXPECT_DOUBLE_EQ(r.det.back().x, 1.0);
  EXPECT_DOUBLE_EQ(r.det.back().y, 0.25);  // the rank-2 mate is never a hit
}

TEST(Curves, RocAtKnownPoints) {
  std::vector<double> imp;
  for (int i = 0; i < 100; ++i) imp.push_back(i / 100.0);  // 0.00 .. 0.99
  std::vector<double> gen = {0.995, 0.95, 0.5};
  auto roc = roc_curve(gen, imp, 40);
  ASSERT_GE(roc.size(), 3u);
  bool seen = false;
  for (size_t i = 0; i < roc.size(); ++i) {
    if (i) {
      EXPECT_GE(roc[i].x, roc[i - 1].x);
      EXPECT_GE(roc[i].y, roc[i - 1].y);
    }
    if (std::abs(roc[i].x - 0.01) < 1e-12) {  // one impostor (0.99) at or above the threshold
      seen = true;
      EXPECT_DOUBLE_EQ(roc[i].y, 1.0 / 3.0);
    }
  }
  EXPECT_TRUE(seen);
  EXPECT_DOUBLE_EQ(roc.back().x, 1.0);
  EXPECT_DOUBLE_EQ(roc.back().y, 1.0);
  // a failed genuine pair (NaN) never matches
  auto roc2 = roc_curve({0.995, std::nan("")}, imp, 10);
  EXPECT_DOUBLE_EQ(roc2.back().y, 0.5);
  EXPECT_ERROR(roc_curve({}, imp), ErrorKind::InvalidArgument);
}

TEST(Curves, PrecisionRecall) {
  auto pr = pr_curve({0.9, 0.8, 0.2, 0.1}, {true, true, false, false}, 4);
  ASSERT_FALSE(pr.empty());
  // threshold 0.8: both genuine, no impostor -> recall 1, precision 1
  bool seen = false;
  for (const auto& p : pr)
    if (p.threshold == 0.8) {
      seen = true;
      EXPECT_DOUBLE_EQ(p.x, 1.0);
      EXPECT_DOUBLE_EQ(p.y, 1.0);
    }
  EXPECT_TRUE(seen);
  EXPECT_DOUBLE_EQ(pr.back().y, 0.5);  // lowest threshold: everything accepted
  // a failed genuine pair lowers the reachable recall
  auto pr2 = pr_curve({0.9, std::nan(""), 0.1}, {true, true, false}, 3);
  EXPECT_DOUBLE_EQ(pr2.back().x, 0.5);
}

TEST(Identification, ProtocolSplitsGalleryMatedAndNonMated) {
  std::vector<Subject> s = {{"A", {"A/1", "A/2", "A/3"}}, {"B", {"B/1"}}, {"C", {"C/1", "C/2"}}, {"D", {"D/1", "D/2"}}};
  auto p = make_identification_protocol(s, 1, 0);
  EXPECT_EQ(p.enrolled_identities, 3u);
  EXPECT_EQ(p.gallery, (std::vector<std::string>{"A/1", "C/1", "D/1"}));
  EXPECT_EQ(p.probes, (std::vector<std::string>{"A/2", "A/3", "B/1", "C/2", "D/2"}));
  EXPECT_EQ(p.probe_labels, (std::vector<int>{0, 0, -1, 2, 3}));
  // every 2nd enrollable identity (C) held out as non-mated
  auto h = make_identification_protocol(s, 1, 2);
  EXPECT_EQ(h.gallery, (std::vector<std::string>{"A/1", "D/1"}));
  EXPECT_EQ(h.probe_labels, (std::vector<int>{0, 0, -1, -1, -1, 3}));
  // enrolling two images: only A has more than two
  auto e2 = make_identification_protocol(s, 2, 0);
  EXPECT_EQ(e2.gallery, (std::vector<std::string>{"A/1", "A/2"}));
  EXPECT_ERROR(make_identification_protocol(s, 0, 0), ErrorKind::InvalidArgument);
}

TEST(Identification, ReadsIdentityFolders) {
  auto d = test::temp_dir("folders");
  std::filesystem::create_directories(d / "bob");
  std::filesystem::create_directories(d / "alice");
  std::filesystem::create_directories(d / "empty");
  for (const char* f : {"bob/2.JPG", "bob/1.png", "bob/notes.txt", "alice/a.pgm", "loose.jpg"})
    std::ofstream(d / f) << "x";
  auto s = read_identity_folders(d);
  ASSERT_EQ(s.size(), 2u);  // "empty" has no images; loose files at the root are not identities
  EXPECT_EQ(s[0].id, "alice");
  EXPECT_EQ(s[1].images, (std::vector<std::string>{"bob/1.png", "bob/2.JPG"}));
  try {
    read_identity_folders(d / "empty");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::InvalidArgument);
  }
  try {
    read_identity_folders(d / "missing");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::NotFound);
  }
}

ImageEmbedding unit(float angle_deg) {
  float a = angle_deg * float(CV_PI) / 180.f;
  return {true, {std::cos(a), std::sin(a)}};
}

TEST(Protocols, PairsAndSearchesOnEmbeddedTables) {
  // two people, A near 0 degrees, B near 90; A/3 had no face
  EmbeddingTable t{{"A/1", unit(0)}, {"A/2", unit(10)}, {"A/3", {}}, {"B/1", unit(90)}, {"B/2", unit(80)}};
  std::vector<LfwPair> pairs = {
      {"A/1", "A/2", true, 0}, {"A/1", "B/1", false, 0}, {"A/1", "A/3", true, 1}, {"A/2", "B/2", false, 1}};
  std::vector<std::string> images = {"A/1", "A/2", "A/3", "B/1", "B/2"};
  auto e = evaluate_pairs(t, t, pairs, images, 0.5, 1);
  EXPECT_EQ(e.verification.failed_pairs, 1);
  EXPECT_EQ(e.genuine_pairs, 2u);
  EXPECT_EQ(e.impostor_pairs, 4u);     // {A/1, A/2} x {B/1, B/2}, unordered
  EXPECT_DOUBLE_EQ(e.fixed.tar, 0.5);  // cos 10 deg >= 0.5; the failed pair never matches
  EXPECT_DOUBLE_EQ(e.fixed.fmr, 0.0);  // the largest impostor cosine is cos 70 deg = 0.34
  // a low-vs-high table: ordered pairs of different people
  EmbeddingTable low = t;
  low["B/2"] = {};
  auto lh = evaluate_pairs(t, low, pairs, images, 0.5, 2);
  EXPECT_EQ(lh.impostor_pairs, 4u + 2u);  // A side {A/1,A/2} x B {B/1}, plus B side {B/1,B/2} x A {A/1,A/2}
  EXPECT_EQ(lh.verification.failed_pairs, 2);
  // unknown image: a clear error
  EXPECT_ERROR(evaluate_pairs(t, t, {{"A/1", "Z/1", true, 0}}, images), ErrorKind::InvalidArgument);

  IdentificationProtocol p;
  p.gallery = {"A/1", "B/1"};
  p.gallery_labels = {0, 1};
  p.probes = {"A/2", "A/3", "B/2"};
  p.probe_labels = {0, 0, 1};
  auto r = evaluate_identification(p, t, t, 2, {});
  EXPECT_EQ(r.failed_mated, 1u);
  EXPECT_DOUBLE_EQ(r.cmc[0], 2.0 / 3.0);
}

}  // namespace
}  // namespace facerec
