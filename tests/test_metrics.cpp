// Verification metrics on hand-made score sets with known answers, and pairs-file validation.
#include "test_util.hpp"

#include <facerec/error.hpp>
#include <facerec/eval/eval.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

namespace facerec {
namespace {

TEST(Metrics, PerfectSeparation) {
  std::vector<double> s = {0.9, 0.8, 0.7, 0.3, 0.2, 0.1};
  std::vector<bool> y = {true, true, true, false, false, false};
  std::vector<int> f = {0, 1, 2, 0, 1, 2};
  auto r = evaluate_verification(s, y, f);
  EXPECT_DOUBLE_EQ(r.mean_accuracy, 1.0);
  EXPECT_DOUBLE_EQ(r.auc, 1.0);
  EXPECT_DOUBLE_EQ(r.eer, 0.0);
  double t = best_accuracy_threshold(s, y);
  EXPECT_GT(t, 0.3);
  EXPECT_LT(t, 0.7);
}

TEST(Metrics, AucCountsTiesAsHalf) {
  // genuine {0.5, 0.9}, impostor {0.5, 0.1}: pairs (g>i) = (0.9>0.5),(0.9>0.1),(0.5>0.1) + tie 0.5 = 3.5 / 4
  auto r = evaluate_verification({0.5, 0.9, 0.5, 0.1}, {true, true, false, false}, {0, 0, 0, 0});
  EXPECT_DOUBLE_EQ(r.auc, 0.875);
}

TEST(Metrics, ThresholdComesFromTheOtherFolds) {
  // fold 0 alone would pick a threshold between 0.55 and 0.6; the other folds say 0.4..0.45, so a
  // fold-0 impostor at 0.5 is misclassified: fold 0 accuracy 3/4.
  std::vector<double> s = {0.6, 0.7, 0.5, 0.2, /*fold1*/ 0.45, 0.8, 0.4, 0.1, /*fold2*/ 0.46, 0.9, 0.39, 0.0};
  std::vector<bool> y = {true, true, false, false, true, true, false, false, true, true, false, false};
  std::vector<int> f = {0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2};
  auto r = evaluate_verification(s, y, f);
  EXPECT_DOUBLE_EQ(r.fold_accuracy[0], 0.75);
  EXPECT_GT(r.fold_threshold[0], 0.4);
  EXPECT_LT(r.fold_threshold[0], 0.45);
  EXPECT_DOUBLE_EQ(r.fold_accuracy[1], 1.0);
}

TEST(Metrics, FailedPairsCountAsWrong) {
  std::vector<double> s = {0.9, std::nan(""), 0.1, 0.2};
  auto r = evaluate_verification(s, {true, true, false, false}, {0, 0, 0, 0});
  EXPECT_EQ(r.failed_pairs, 1);
  EXPECT_DOUBLE_EQ(r.mean_accuracy, 0.75);
}

TEST(Metrics, ThresholdAtFmr) {
  std::vector<double> imp;
  for (int i = 0; i < 1000; ++i) imp.push_back(i / 1000.0);  // 0.000 .. 0.999
  double t = threshold_at_fmr(imp, 1e-2);                    // at most 10 impostors at or above t
  int above = 0;
  for (double v : imp) above += v >= t;
  EXPECT_LE(above, 10);
  EXPECT_GE(above, 9);
  EXPECT_DOUBLE_EQ(tar_at({0.5, 0.995, 0.999}, t), 2.0 / 3.0);
  EXPECT_ERROR(threshold_at_fmr({}, 1e-3), ErrorKind::InvalidArgument);
}

TEST(Pairs, ReadsView2AndRejectsMalformedFiles) {
  auto dir = test::temp_dir("pairs");
  std::ofstream(dir / "ok.txt") << "2\t1\nA\t1\t2\nB\t1\tC\t3\nD\t4\t5\nE\t1\tF\t1\n";
  auto p = read_lfw_pairs(dir / "ok.txt");
  ASSERT_EQ(p.size(), 4u);
  EXPECT_EQ(p[0].a, "A/A_0001.jpg");
  EXPECT_TRUE(p[0].same);
  EXPECT_EQ(p[1].b, "C/C_0003.jpg");
  EXPECT_FALSE(p[1].same);
  EXPECT_EQ(p[3].fold, 1);
  std::ofstream(dir / "short.txt") << "1\t2\nA\t1\t2\n";
  std::ofstream(dir / "bad.txt") << "1\t1\nA\tone\t2\nB 1 C 1\n";
  std::ofstream(dir / "fields.txt") << "1\t1\nA\t1\nB 1 C 1\n";
  for (const char* f : {"short.txt", "bad.txt", "fields.txt"}) {
    try {
      read_lfw_pairs(dir / f);
      FAIL() << f;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::InvalidArgument) << f;
    }
  }
  EXPECT_ERROR(read_lfw_pairs(dir / "missing.txt"), ErrorKind::NotFound);
}

TEST(Pairs, OfficialPairsFileHasTheStandardShape) {
  auto f = test::shared_dir() / "data" / "lfw" / "pairs.txt";
  if (!std::filesystem::exists(f)) GTEST_SKIP() << "no " << f << " (../shared absent)";
  auto p = read_lfw_pairs(f);
  ASSERT_EQ(p.size(), 6000u);
  int same = 0;
  for (const auto& q : p) same += q.same;
  EXPECT_EQ(same, 3000);
  EXPECT_EQ(p.back().fold, 9);
}

}  // namespace
}  // namespace facerec
