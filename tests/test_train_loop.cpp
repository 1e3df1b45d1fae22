// The training loop end to end: a tiny run on AT&T learns (loss falls, held-out verification beats
// the untrained network), a resumed run ends bit-identical to an uninterrupted one, corrupt
// checkpoints and RecordIO files are clear errors, configs are checked, and the ONNX export of
// every backbone matches libtorch on every backend.
#include "test_util.hpp"

#include <facerec/backend.hpp>
#include <facerec/embed.hpp>
#include <facerec/error.hpp>
#include <facerec/eval/dataset.hpp>
#include <facerec/image.hpp>
#include <facerec/landmarks.hpp>
#include <facerec/models.hpp>
#include <facerec/train/backbones.hpp>
#include <facerec/train/data.hpp>
#include <facerec/train/landmark_trainer.hpp>
#include <facerec/train/trainer.hpp>

#include "common/fs.hpp"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>

namespace facerec::train {
namespace {

// `ids` identities of `each` 32x32 images: a per-identity colour pattern plus noise.
std::filesystem::path synthetic_crops(int ids, int each) {
  auto root = test::temp_dir("train-crops");
  std::mt19937 rng(7);
  for (int i = 0; i < ids; ++i) {
    std::filesystem::create_directories(root / ("p" + std::to_string(i)));
    cv::Scalar colour(40 + 20 * (i % 10), 200 - 15 * (i % 7), 60 + 25 * (i % 5));
    for (int j = 0; j < each; ++j) {
      cv::Mat img(32, 32, CV_8UC3, colour);
      cv::circle(img, cv::Point(8 + 2 * i % 16, 16), 5 + i % 4, cv::Scalar(255 - colour[0], 0, 255), -1);
      cv::Mat noise(32, 32, CV_8UC3);
      cv::randu(noise, 0, 40);
      img += noise;
      cv::imwrite((root / ("p" + std::to_string(i)) / (std::to_string(j) + ".png")).string(), img);
    }
  }
  return root;
}

TrainConfig tiny_config(const std::filesystem::path& data) {
  TrainConfig c;
  c.data = data.string();
  c.backbone = {"mobilefacenet", 32, 32, 0.25, 0.0};
  c.batch = 8;
  c.steps = 12;
  c.lr = 0.05;
  c.warmup_steps = 2;
  c.split.validation_share = 0.25;
  c.log_every = 3;
  c.validate_every = 100;
  c.checkpoint_every = 100;
  c.threads = 1;
  return c;
}

std::vector<torch::Tensor> state(BackboneImpl& net) {
  std::vector<torch::Tensor> out;
  for (const auto& p : net.parameters()) out.push_back(p.detach().clone());
  for (const auto& b : net.buffers()) out.push_back(b.detach().clone());
  return out;
}

// The values of `key` in every logged training step of a run (NaN where a step lacks it).
std::vector<double> logged(const std::filesystem::path& run, const std::string& key) {
  std::vector<double> v;
  std::ifstream in(run / "log.jsonl");
  for (std::string l; std::getline(in, l);) {
    const auto j = nlohmann::json::parse(l);
    if (j.contains("loss")) v.push_back(j.contains(key) ? j[key].get<double>() : std::nan(""));
  }
  return v;
}

bool any_nan(const std::vector<double>& v) {
  return std::any_of(v.begin(), v.end(), [](double x) { return std::isnan(x); });
}

void expect_bit_identical(TrainConfig c, const std::string& what) {
  auto full = test::temp_dir("run-full"), cut = test::temp_dir("run-cut");
  std::filesystem::remove_all(full);
  std::filesystem::remove_all(cut);
  Trainer a(test::manifest(), c, full, false);
  EXPECT_EQ(a.run(), c.steps);
  {
    Trainer b(test::manifest(), c, cut, false);
    EXPECT_EQ(b.run([](int64_t step) { return step < 5; }), 5) << "interrupted after 5 steps";
  }
  Trainer b(test::manifest(), c, cut, true);  // a fresh process would do the same: everything comes from disk
  EXPECT_EQ(b.step(), 5);
  EXPECT_EQ(b.run(), c.steps);
  const auto sa = state(a.backbone()), sb = state(b.backbone());
  ASSERT_EQ(sa.size(), sb.size());
  for (size_t i = 0; i < sa.size(); ++i) EXPECT_TRUE(torch::equal(sa[i], sb[i])) << what << ": tensor " << i;
  // and the logs agree on every step
  const auto la = detail::read_file(full / "log.jsonl"), lb = detail::read_file(cut / "log.jsonl");
  auto losses = [](const std::string& log) {
    std::vector<double> v;
    std::istringstream in(log);
    for (std::string l; std::getline(in, l);) {
      auto j = nlohmann::json::parse(l);
      if (j.contains("loss")) v.push_back(j["loss"].get<double>());
    }
    return v;
  };
  EXPECT_EQ(losses(la), losses(lb)) << what;
  std::filesystem::remove_all(full);
  std::filesystem::remove_all(cut);
}

TEST(TrainLoop, AResumedRunEndsBitIdenticalToAnUninterruptedOne) {
  auto data = synthetic_crops(8, 5);
  auto c = tiny_config(data);
  expect_bit_identical(c, "mobilefacenet + arcface, SGD, shuffled epochs, augmentation");
  c.backbone = {"iresnet18", 32, 16, 0.125, 0.2};  // dropout: libtorch's generator must resume too
  c.loss = "triplet";
  c.sampler = "pk";
  c.pk_k = 2;
  c.optimizer = "adamw";
  c.lr = 1e-3;
  c.clip_norm = 1.0;
  c.schedule = "step";
  c.milestones = {6};
  expect_bit_identical(c, "iresnet18 + triplet, AdamW, P x K, dropout, clipping");
  std::filesystem::remove_all(data);
}

// AT&T (40 people x 10 images): 30 identities to train on, 10 held out. Under a minute on 1 thread.
TEST(TrainLoop, ATinyRunOnAttLearnsAndBeatsTheUntrainedNetwork) {
  const auto att = test::shared_dir() / "data" / "att_faces";
  if (!std::filesystem::exists(att)) GTEST_SKIP() << "no " << att << " (the shared data): not run";
  TrainConfig c;
  c.data = att.string();
  c.backbone = {"mobilefacenet", 64, 32, 0.25, 0.0};
  c.batch = 32;
  c.steps = 200;
  c.lr = 0.1;
  c.warmup_steps = 20;
  c.split.validation_share = 0.25;
  c.validate_every = 1000;
  c.checkpoint_every = 1000;
  c.log_every = 20;
  c.threads = 1;  // ctest runs tests side by side: one intra-op thread keeps this test's time bounded
  auto run = test::temp_dir("run-att");
  std::filesystem::remove_all(run);
  Trainer t(test::manifest(), c, run, false);
  EXPECT_EQ(t.split().train_identities.size(), 30u);
  EXPECT_EQ(t.split().validation_identities.size(), 10u);
  const auto before = t.validate();
  t.run();
  const auto after = t.validate();
  std::vector<double> loss;
  std::ifstream in(run / "log.jsonl");
  for (std::string l; std::getline(in, l);) {
    auto j = nlohmann::json::parse(l);
    if (j.contains("loss")) loss.push_back(j["loss"].get<double>());
  }
  ASSERT_GE(loss.size(), 5u);
  EXPECT_LT(loss.back(), 0.5 * loss.front()) << "the loss falls";
  std::printf("held-out verification (10-fold accuracy, %zu pairs): untrained %.4f, after %lld steps %.4f\n",
              after.heldout_pairs, before.heldout_accuracy, static_cast<long long>(c.steps), after.heldout_accuracy);
  EXPECT_GT(after.heldout_accuracy, before.heldout_accuracy + 0.05)
      << "before " << before.heldout_accuracy << ", after " << after.heldout_accuracy;
  EXPECT_GT(after.heldout_auc, before.heldout_auc);
  EXPECT_TRUE(std::filesystem::exists(run / "report.html"));

  // the exported model runs in the pipeline's embedder, with the trainer's own embedding
  const auto mf = run / "export" / "manifest.json";
  const auto r = export_run(test::manifest(), run, "att-test", mf);
  EXPECT_LE(r.max_diff_reference, 1e-4);
  EXPECT_LE(r.max_diff_opencv, 1e-4);
  const auto m = Manifest::load(mf);
  EmbedderOptions eo;
  eo.model = "att-test";
  eo.flip = eo.zoom = false;
  auto emb = make_embedder(m, eo);
  EXPECT_EQ(emb->dimension(), 64);
  cv::Mat crop = cv::imread((att / "s1" / "1.pgm").string());
  cv::resize(crop, crop, cv::Size(32, 32), 0, 0, cv::INTER_AREA);
  const auto e = emb->embed(crop);
  torch::NoGradGuard g;
  t.backbone().eval();
  auto ref = torch::nn::functional::normalize(t.backbone().forward(t.input({"s1/1.pgm"}, false, 0)),
                                              torch::nn::functional::NormalizeFuncOptions().dim(1));
  for (size_t i = 0; i < e.size(); ++i) EXPECT_NEAR(e[i], ref[0][long(i)].item<float>(), 1e-4);
  // a changed model file is refused
  std::ofstream(r.onnx, std::ios::app) << "x";
  EXPECT_ERROR(make_embedder(m, eo), ErrorKind::BadModel, "sha256");
  std::filesystem::remove_all(run);
}

// Distillation: a student (another input size) trained with the distillation loss alone comes to
// agree with a frozen teacher (a checkpoint of another run), resumes exactly, and bad teachers are
// clear errors.
TEST(TrainDistill, AStudentLearnsTheTeachersEmbeddingAndResumesExactly) {
  auto data = synthetic_crops(8, 5);
  auto teacher_run = test::temp_dir("run-teacher");
  std::filesystem::remove_all(teacher_run);
  {
    Trainer t(test::manifest(), tiny_config(data), teacher_run, false);  // 32x32 in, 32-d
    t.run();
  }
  const auto ck = latest_checkpoint(teacher_run);
  ASSERT_FALSE(ck.empty());
  auto c = tiny_config(data);
  c.backbone = {"mobilefacenet", 32, 16, 0.25, 0.0};  // 16x16 in: the teacher gets its own 32x32 crops
  c.loss = "none";
  c.teacher = ck.string();
  c.optimizer = "adamw";
  c.lr = 3e-3;
  c.weight_decay = 0;
  c.steps = 60;
  c.log_every = 10;
  auto run = test::temp_dir("run-student");
  std::filesystem::remove_all(run);
  {
    Trainer t(test::manifest(), c, run, false);
    // the teacher's view of a batch: its own size, the clean crop mirrored where the student's was
    const auto in = t.inputs({"p0/0.png", "p1/0.png"}, 3);
    EXPECT_EQ(in.student.sizes(), (std::vector<int64_t>{2, 3, 16, 16}));
    EXPECT_EQ(in.teacher.sizes(), (std::vector<int64_t>{2, 3, 32, 32}));
    EXPECT_TRUE(torch::equal(in.student, t.input({"p0/0.png", "p1/0.png"}, true, 3)));
    t.run();
  }
  const auto loss = logged(run, "loss"), cosine = logged(run, "teacher_cosine");
  ASSERT_FALSE(any_nan(cosine)) << "every step logs the cosine to the teacher";
  ASSERT_EQ(loss.size(), 6u);
  std::printf("distillation: cos(student, teacher) %.3f at step 10, %.3f at step 60\n", cosine.front(), cosine.back());
  EXPECT_LT(loss.back(), 0.5 * loss.front());
  EXPECT_GT(cosine.back(), cosine.front() + 0.2);
  EXPECT_NEAR(loss.back(), 1 - cosine.back(), 1e-6) << "the cosine loss is 1 - cos";
  c.steps = 12;
  c.log_every = 3;
  expect_bit_identical(c, "distillation from a checkpoint teacher");

  auto bad = c;
  bad.teacher.clear();
  EXPECT_ERROR(bad.validate(), ErrorKind::InvalidArgument, "needs a teacher");
  bad = c;
  bad.teacher = (teacher_run / "checkpoints" / "step-999.pt").string();
  EXPECT_ERROR(bad.validate(), ErrorKind::NotFound, "no such checkpoint");
  bad = c;
  bad.backbone.embedding = 64;
  EXPECT_ERROR(bad.validate(), ErrorKind::InvalidArgument, "embeddings of one size");
  bad = c;
  bad.teacher_input = "noisy";
  EXPECT_ERROR(bad.validate(), ErrorKind::InvalidArgument, "teacher_input");
  std::filesystem::remove_all(run);
  std::filesystem::remove_all(teacher_run);
  std::filesystem::remove_all(data);
}

// Distillation from a table of teacher embeddings (as `data merge` writes them: a pipeline
// embedder's, the fused default's included) and from a network teacher's stage features through
// 1x1 adapters: the student comes to agree with the table, the feature loss falls, a resumed run
// ends bit-identical, and bad set-ups are clear errors.
TEST(TrainDistill, FromATableOfEmbeddingsAndFromIntermediateFeatures) {
  auto data = synthetic_crops(8, 5);
  auto teacher_run = test::temp_dir("run-feature-teacher");
  std::filesystem::remove_all(teacher_run);
  {
    Trainer t(test::manifest(), tiny_config(data), teacher_run, false);  // 32x32 in
    t.run();
  }
  const auto ck = latest_checkpoint(teacher_run);
  ASSERT_FALSE(ck.empty());
  // the table: a direction per identity plus a little noise per image, 24-d; p0/0.png has none
  const auto dir = test::temp_dir("teacher-table");
  EmbeddingTable table;
  std::mt19937 rng(11);
  std::normal_distribution<float> n01(0.f, 1.f);
  for (int i = 0; i < 8; ++i) {
    std::vector<float> centre(24);
    for (auto& v : centre) v = n01(rng);
    for (int j = 0; j < 5; ++j) {
      auto e = centre;
      for (auto& v : e) v += 0.1f * n01(rng);
      if (i || j) table["p" + std::to_string(i) + "/" + std::to_string(j) + ".png"] = {true, e};
    }
  }
  table["p0/0.png"] = {false, {}};
  write_embedding_table(dir / "embeddings.bin", table);
  EXPECT_EQ(load_teacher_table(dir / "embeddings.bin").size(), 39u);
  EXPECT_EQ(teacher_table_dim(dir / "embeddings.bin"), 24);

  auto c = tiny_config(data);
  c.backbone = {"mobilefacenet", 24, 16, 0.25, 0.0};
  c.loss = "none";
  c.teacher = "embeddings:" + (dir / "embeddings.bin").string();
  c.feature_teacher = ck.string();
  c.feature_weight = 1.0;
  c.optimizer = "adamw";
  c.lr = 3e-3;
  c.weight_decay = 0;
  c.steps = 60;
  c.log_every = 10;
  auto run = test::temp_dir("run-table-student");
  std::filesystem::remove_all(run);
  {
    Trainer t(test::manifest(), c, run, false);
    const auto in = t.inputs({"p0/0.png", "p1/0.png"}, 3);
    EXPECT_FALSE(in.teacher.defined()) << "a table teacher needs no input";
    EXPECT_EQ(in.feature_teacher.sizes(), (std::vector<int64_t>{2, 3, 32, 32})) << "the feature teacher's own side";
    t.run();
  }
  const auto cosine = logged(run, "teacher_cosine"), feature = logged(run, "feature_loss");
  ASSERT_FALSE(any_nan(cosine) || any_nan(feature)) << "every step logs both";
  ASSERT_EQ(cosine.size(), 6u);
  std::printf("table + feature distillation: cos(student, table) %.3f -> %.3f, feature loss %.3f -> %.3f\n",
              cosine.front(), cosine.back(), feature.front(), feature.back());
  EXPECT_GT(cosine.back(), cosine.front() + 0.2);
  EXPECT_LT(feature.back(), 0.8 * feature.front());
  c.steps = 12;
  c.log_every = 3;
  expect_bit_identical(c, "table teacher + feature adapters");

  auto bad = c;
  bad.teacher = "embeddings:" + (dir / "none.bin").string();
  EXPECT_ERROR(bad.validate(), ErrorKind::NotFound, "no such file");
  bad = c;
  bad.backbone.embedding = 32;
  EXPECT_ERROR(bad.validate(), ErrorKind::InvalidArgument, "embeddings of one size");
  bad = c;
  bad.feature_teacher.clear();
  EXPECT_ERROR(bad.validate(), ErrorKind::InvalidArgument, "feature_teacher");
  bad = c;
  bad.feature_weight = 0;
  EXPECT_ERROR(bad.validate(), ErrorKind::InvalidArgument, "feature_weight");
  write_embedding_table(dir / "empty.bin", EmbeddingTable{{"p0/0.png", {false, {}}}});
  bad = c;
  bad.teacher = "embeddings:" + (dir / "empty.bin").string();
  EXPECT_ERROR(bad.validate(), ErrorKind::BadModel, "no embedding");
  // a network teacher gives the feature teacher too when none is named
  bad = tiny_config(data);
  bad.backbone = {"mobilefacenet", 32, 16, 0.25, 0.0};
  bad.teacher = ck.string();
  bad.feature_weight = 0.5;
  EXPECT_NO_THROW(bad.validate());
  {
    auto shared = bad;
    shared.steps = 4;
    shared.log_every = 2;
    auto shared_run = test::temp_dir("run-shared-teacher");
    std::filesystem::remove_all(shared_run);
    Trainer t(test::manifest(), shared, shared_run, false);
    EXPECT_FALSE(t.inputs({"p0/0.png"}, 0).feature_teacher.defined()) << "one teacher view serves both losses";
    t.run();
    const auto shared_cosine = logged(shared_run, "teacher_cosine");
    const auto shared_feature = logged(shared_run, "feature_loss");
    ASSERT_FALSE(shared_cosine.empty());
    EXPECT_FALSE(any_nan(shared_cosine) || any_nan(shared_feature)) << "both losses logged";
    EXPECT_GT(shared_feature.front(), 0.0);
    std::filesystem::remove_all(shared_run);
  }
  std::filesystem::remove_all(run);
  std::filesystem::remove_all(dir);
  std::filesystem::remove_all(teacher_run);
  std::filesystem::remove_all(data);
}

// A run whose config.json was written before fields were added (distillation, exposure, noise)
// resumes: the missing fields read as their defaults.
TEST(TrainLoop, ARunStartedBeforeNewConfigFieldsResumes) {
  auto data = synthetic_crops(6, 4);
  auto c = tiny_config(data);
  auto run = test::temp_dir("run-old-config");
  std::filesystem::remove_all(run);
  {
    Trainer t(test::manifest(), c, run, false);
    EXPECT_EQ(t.run([](int64_t step) { return step < 4; }), 4);
  }
  auto j = nlohmann::json::parse(detail::read_file(run / "config.json"));
  for (const char* k : {"teacher", "teacher_input", "distill_loss", "distill_weight"}) ASSERT_EQ(j.erase(k), 1u) << k;
  for (const char* k : {"exposure_p", "gain_min", "gain_max", "gamma_min", "gamma_max", "noise_p", "noise_sigma_min",
                        "noise_sigma_max"})
    ASSERT_EQ(j["augmentation"].erase(k), 1u) << k;
  detail::write_file_atomic(run / "config.json", j.dump(2));
  Trainer t(test::manifest(), c, run, true);
  EXPECT_EQ(t.step(), 4);
  EXPECT_EQ(t.run(), c.steps);
  // a field that differs still refuses
  c.lr = 0.5;
  EXPECT_ERROR(Trainer(test::manifest(), c, run, true), ErrorKind::InvalidArgument, "lr");
  std::filesystem::remove_all(run);
  std::filesystem::remove_all(data);
}

TEST(TrainLoop, CorruptCheckpointsAreClearErrorsAndSkippedOnResume) {
  auto data = synthetic_crops(6, 4);
  auto c = tiny_config(data);
  c.checkpoint_every = 4;
  c.keep_checkpoints = 5;
  auto run = test::temp_dir("run-corrupt");
  std::filesystem::remove_all(run);
  { Trainer(test::manifest(), c, run, false).run(); }
  const auto last = latest_checkpoint(run);
  ASSERT_EQ(last.filename(), "step-000000012.pt");
  // truncate the latest: its sha256 no longer matches, resume falls back to step 8
  const auto bytes = detail::read_file(last);
  { std::ofstream(last, std::ios::binary | std::ios::trunc).write(bytes.data(), long(bytes.size() / 2)); }
  EXPECT_EQ(latest_checkpoint(run).filename(), "step-000000008.pt");
  EXPECT_EQ(Trainer(test::manifest(), c, run, true).step(), 8);
  auto net = make_backbone(c.backbone);
  EXPECT_ERROR(load_backbone(*net, last), ErrorKind::BadModel, "corrupt or truncated");
  auto other = make_backbone({"mobilefacenet", 16, 32, 0.25, 0.0});
  EXPECT_ERROR(load_backbone(*other, run / "checkpoints" / "step-000000008.pt"), ErrorKind::BadModel, "does not fit");
  EXPECT_ERROR(load_backbone(*net, run / "nothing.pt"), ErrorKind::NotFound);
  // a run directory is not overwritten, and a resumed run keeps its configuration
  EXPECT_ERROR(Trainer(test::manifest(), c, run, false), ErrorKind::AlreadyExists);
  auto c2 = c;
  c2.lr = 0.5;
  EXPECT_ERROR(Trainer(test::manifest(), c2, run, true), ErrorKind::InvalidArgument, "lr");
  c2 = c;
  c2.steps = 20;  // more steps may be asked for
  EXPECT_EQ(Trainer(test::manifest(), c2, run, true).run(), 20);
  // new images since the checkpoint: not the same run any more
  std::filesystem::copy_file(data / "p0" / "0.png", data / "p0" / "9.png");
  EXPECT_ERROR(Trainer(test::manifest(), c2, run, true), ErrorKind::InvalidArgument, "changed");
  std::filesystem::remove_all(run);
  std::filesystem::remove_all(data);
}

TEST(TrainData, RecordIoRoundTripsAndCorruptFilesAreClearErrors) {
  auto dir = test::temp_dir("rec");
  std::vector<std::pair<int, std::string>> items;
  std::vector<cv::Mat> images;
  for (int i = 0; i < 7; ++i) {
    cv::Mat img(20 + i, 24, CV_8UC3, cv::Scalar(10 * i, 100, 200 - 10 * i));
    std::vector<uchar> png;
    cv::imencode(".png", img, png);
    items.emplace_back(i % 3, std::string(png.begin(), png.end()));
    images.push_back(img);
  }
  const auto rec = dir / "train.rec", idx = dir / "train.idx";
  write_recordio(rec, idx, items);
  RecordIoReader r(rec, idx);
  const auto ids = r.identities();
  ASSERT_EQ(ids.size(), 3u);
  EXPECT_EQ(ids[0].images, (std::vector<std::string>{"1", "4", "7"})) << "keys of label 0 (key 0 is the header)";
  for (int i = 0; i < 7; ++i) {
    const auto img = r.read(std::to_string(i + 1));
    ASSERT_EQ(img.size(), images[size_t(i)].size());
    EXPECT_EQ(cv::norm(img, images[size_t(i)], cv::NORM_INF), 0);
  }
  const auto split = split_identities(ids, SplitOptions{2, 0.0, 1}, "rec");
  EXPECT_EQ(split.train.size(), 7u);
  EXPECT_ERROR(r.read("99"), ErrorKind::NotFound);
  EXPECT_ERROR(r.read("x1"), ErrorKind::NotFound);
  const auto bytes = detail::read_file(rec);
  // truncated .rec: the last record's length runs past the end
  detail::write_file_atomic(rec, bytes.substr(0, bytes.size() - 40));
  EXPECT_ERROR(RecordIoReader(rec, idx).identities(), ErrorKind::BadInput, "record 7");
  EXPECT_ERROR(RecordIoReader(rec, idx).read("7"), ErrorKind::BadInput, "past the end");
  // an index pointing past the end
  detail::write_file_atomic(rec, bytes);
  const auto index = detail::read_file(idx);
  detail::write_file_atomic(idx, index + "8\t" + std::to_string(bytes.size()) + "\n");
  EXPECT_ERROR(RecordIoReader(rec, idx), ErrorKind::BadInput, "past the end");
  detail::write_file_atomic(idx, index);
  // bad magic
  auto bad = bytes;
  bad[0] = 'X';
  detail::write_file_atomic(rec, bad);
  EXPECT_ERROR(RecordIoReader(rec, idx).identities(), ErrorKind::BadInput, "magic");
  // a malformed index
  detail::write_file_atomic(rec, bytes);
  detail::write_file_atomic(idx, "0\t0\nnot a line\n");
  EXPECT_ERROR(RecordIoReader(rec, idx), ErrorKind::BadInput, "line 2");
  EXPECT_ERROR(RecordIoReader(dir / "none.rec", idx), ErrorKind::NotFound);
  std::filesystem::remove_all(dir);
}

TEST(TrainConfig, FieldsAreCheckedAndRoundTrip) {
  TrainConfig c;
  c.data = "/data";
  c.loss = "cosface";
  c.milestones = {10, 20};
  EXPECT_EQ(TrainConfig::from_json(c.to_json()).to_json(), c.to_json());
  EXPECT_ERROR(TrainConfig::from_json({{"data", "x"}, {"lerning_rate", 0.1}}), ErrorKind::InvalidArgument,
               "lerning_rate");
  EXPECT_ERROR(TrainConfig::from_json({{"augmentation", {{"flip", 0.5}}}}), ErrorKind::InvalidArgument, "flip");
  EXPECT_ERROR(TrainConfig::from_json({{"lr", "fast"}}), ErrorKind::InvalidArgument, "lr");
  auto bad = c;
  bad.loss = "triplet";  // needs P x K batches
  EXPECT_ERROR(bad.validate(), ErrorKind::InvalidArgument, "sampler");
  bad = c;
  bad.backbone.name = "resnet";
  EXPECT_ERROR(bad.validate(), ErrorKind::InvalidArgument, "unknown backbone");
  bad = c;
  bad.warmup_steps = bad.steps;
  EXPECT_ERROR(bad.validate(), ErrorKind::InvalidArgument, "warmup_steps");
  // the schedule: linear warm-up, then cosine to 0 / steps at the milestones
  c.lr = 1.0;
  c.steps = 110;
  c.warmup_steps = 10;
  EXPECT_DOUBLE_EQ(learning_rate(c, 0), 0.1);
  EXPECT_DOUBLE_EQ(learning_rate(c, 9), 1.0);
  c.schedule = "cosine";
  EXPECT_DOUBLE_EQ(learning_rate(c, 10), 1.0);
  EXPECT_NEAR(learning_rate(c, 60), 0.5, 1e-12);
  EXPECT_NEAR(learning_rate(c, 110), 0.0, 1e-12);
  c.schedule = "step";
  c.gamma = 0.1;
  c.milestones = {20, 30};
  EXPECT_DOUBLE_EQ(learning_rate(c, 15), 1.0);
  EXPECT_NEAR(learning_rate(c, 25), 0.1, 1e-12);
  EXPECT_NEAR(learning_rate(c, 30), 0.01, 1e-12);
}

TEST(TrainConfig, LfwView2IsRefusedAsValidation) {
  const auto lfw = test::shared_dir() / "data" / "lfw";
  if (!std::filesystem::exists(lfw / "pairs.txt")) GTEST_SKIP() << "no LFW in the shared data: not run";
  auto data = synthetic_crops(4, 3);
  auto c = tiny_config(data);
  c.lfw_images = (lfw / "images").string();
  c.lfw_pairs = (lfw / "pairs.txt").string();
  auto run = test::temp_dir("run-view2");
  std::filesystem::remove_all(run);
  EXPECT_ERROR(Trainer(test::manifest(), c, run, false), ErrorKind::InvalidArgument, "View 2");
  std::filesystem::remove_all(run);
  std::filesystem::remove_all(data);
}

// ncnn-style: the export of each backbone against libtorch on every backend, batch 1 and 3, 1 and 2 threads.
TEST(TrainExport, EveryBackboneMatchesLibtorchOnEveryBackend) {
  for (const BackboneOptions& o :
       {BackboneOptions{"mobilefacenet", 48, 48, 0.5, 0.0}, BackboneOptions{"iresnet18", 40, 32, 0.25, 0.0},
        BackboneOptions{"iresnet50", 24, 16, 0.125, 0.0}, BackboneOptions{"landmarknet", 136, 32, 0.5, 0.0}}) {
    torch::manual_seed(3);
    auto net = make_backbone(o);
    // non-trivial batch-norm statistics and PReLU slopes
    for (int i = 0; i < 3; ++i) net->forward(torch::randn({4, 3, o.input, o.input}) * 2 + 0.3);
    {
      torch::NoGradGuard g;
      for (auto& p : net->named_parameters())
        if (p.key().find("prelu") != std::string::npos) p.value().uniform_(-0.5, 0.5);
    }
    net->eval();
    const auto dir = test::temp_dir("export");
    const auto file = dir / (o.name + ".onnx");
    detail::write_file_atomic(file, export_onnx(*net));
    for (const std::string backend : {"reference", "opencv-dnn"})
      for (int threads : {1, 2}) {
        BackendOptions bo;
        bo.threads = threads;
        auto b = load_backend(backend, file.string(), bo);
        for (int64_t n : {1, 3}) {
          auto x = torch::rand({n, 3, o.input, o.input}) * 2 - 1;
          torch::NoGradGuard g;
          auto ref = net->forward(x).contiguous();
          Tensor t({n, 3, o.input, o.input}, std::vector<float>(x.data_ptr<float>(), x.data_ptr<float>() + x.numel()));
          const auto y = b->run({t}).at(0);
          ASSERT_EQ(y.shape, (std::vector<int64_t>{n, o.embedding})) << o.name << " " << backend;
          const double scale = std::max(1.0, ref.abs().max().item<double>());
          double worst = 0;
          for (size_t k = 0; k < y.data.size(); ++k)
            worst = std::max(worst, std::abs(double(y.data[k]) - double(ref.data_ptr<float>()[k])));
          EXPECT_LE(worst, 1e-4 * scale) << o.name << " on " << backend << ", batch " << n << ", threads " << threads;
        }
      }
    std::filesystem::remove_all(dir);
  }
}

// Max |a - b| over two same-sized float buffers.
double worst_diff(const float* a, const float* b, size_t n) {
  double w = 0;
  for (size_t k = 0; k < n; ++k) w = std::max(w, std::abs(double(a[k]) - double(b[k])));
  return w;
}

// The imported MS1M MobileFaceNet as a trainable backbone: its libtorch forward matches the ONNX
// on the reference backend, every weight is a parameter that training moves, and its export (after
// a training step) matches the module it came from.
TEST(TrainBackbones, ImportedOnnxModelLoadsWithParityAndTrains) {
  const auto onnx = models_dir() / "mobilefacenet-ms1m.onnx";
  if (!std::filesystem::exists(onnx)) GTEST_SKIP() << "mobilefacenet-ms1m is not imported (`facerec models fetch`)";
  BackboneOptions o;
  o.name = "onnx:" + onnx.string();
  auto net = make_backbone(o);
  EXPECT_EQ(net->options().input, 112);
  EXPECT_EQ(net->options().embedding, 192);
  // MobileFaceNet (Chen et al. 2018) at 112: about 0.22 G multiply-adds (this one a little more)
  const int64_t madds = multiply_adds(net);
  EXPECT_GT(madds, 200'000'000);
  EXPECT_LT(madds, 500'000'000);
  net->eval();
  torch::manual_seed(5);
  auto x = torch::rand({2, 3, 112, 112}) * 2 - 1;
  auto run_reference = [&](const std::filesystem::path& file) {
    auto b = load_backend("reference", file.string());
    Tensor t({2, 3, 112, 112}, std::vector<float>(x.data_ptr<float>(), x.data_ptr<float>() + x.numel()));
    return b->run({t}).at(0);
  };
  torch::Tensor y;
  {
    torch::NoGradGuard g;
    y = net->forward(x).contiguous();
  }
  const auto ref = run_reference(onnx);
  ASSERT_EQ(ref.shape, (std::vector<int64_t>{2, 192}));
  const double scale = std::max(1.0, y.abs().max().item<double>());
  const double parity = worst_diff(y.data_ptr<float>(), ref.data.data(), ref.data.size());
  std::printf("mobilefacenet-ms1m: max |libtorch - reference backend| = %.3g, outputs up to %.3g\n", parity, scale);
  EXPECT_LE(parity, 1e-4 * scale);

  // trainable: one SGD step on a toy loss moves the weights and the output
  int64_t params = 0;
  for (const auto& p : net->parameters()) params += p.numel();
  EXPECT_GT(params, 900'000) << "every weight of the file is a parameter";
  net->train();
  torch::optim::SGD sgd(net->parameters(), torch::optim::SGDOptions(1e-3));
  auto loss = net->forward(x).pow(2).mean();
  loss.backward();
  double grad = 0;
  for (const auto& p : net->parameters()) grad += p.grad().abs().sum().item<double>();
  EXPECT_GT(grad, 0.0);
  sgd.step();
  net->eval();
  torch::Tensor moved;
  {
    torch::NoGradGuard g;
    moved = net->forward(x).contiguous();
  }
  EXPECT_GT((moved - y).abs().max().item<double>(), 1e-6) << "the step changed nothing";
  // the export carries the trained weights
  const auto dir = test::temp_dir("onnx-backbone");
  detail::write_file_atomic(dir / "tuned.onnx", export_onnx(*net));
  const auto again = run_reference(dir / "tuned.onnx");
  EXPECT_LE(worst_diff(moved.data_ptr<float>(), again.data.data(), again.data.size()), 1e-4 * scale);
  std::filesystem::remove_all(dir);

  EXPECT_ERROR(make_backbone({"onnx:/no/such.onnx", 128, 112, 1.0, 0.0}), ErrorKind::NotFound, "no such file");
  EXPECT_ERROR(make_backbone({"onnx:blazeface", 128, 112, 1.0, 0.0}), ErrorKind::BadModel, "backbone");
}

TEST(TrainBackbones, IResNetHasTheArcFaceSizes) {
  // insightface's iresnet50 at 112 with a 512-d embedding: 43.6 M parameters, 6.3 G multiply-adds
  auto net = make_backbone({"iresnet50", 512, 112, 1.0, 0.0});
  int64_t params = 0;
  for (const auto& p : net->parameters()) params += p.numel();
  EXPECT_NEAR(double(params), 43.6e6, 0.03 * 43.6e6) << params;
  EXPECT_NEAR(double(multiply_adds(net)), 6.3e9, 0.05 * 6.3e9);
  EXPECT_EQ(net->forward(torch::randn({2, 3, 112, 112})).sizes(), (std::vector<int64_t>{2, 512}));
  EXPECT_ERROR(make_backbone({"iresnet51", 512, 112, 1.0, 0.0}), ErrorKind::InvalidArgument, "iresnet18/34/50/100");
  EXPECT_ERROR(make_backbone({"iresnet18", 512, 112, 1.0, 1.5}), ErrorKind::InvalidArgument, "dropout");
}

}  // namespace

// ---- the landmark CNN -------------------------------------------------------------------------

// A 300-W folder of the first `n` AFW faces (copied to a temporary folder), or empty when absent.
std::filesystem::path small_300w(size_t n) {
  const auto afw = test::shared_dir() / "data" / "300w" / "afw";
  if (!std::filesystem::is_directory(afw)) return {};
  std::vector<std::filesystem::path> pts;
  for (const auto& e : std::filesystem::directory_iterator(afw))
    if (e.path().extension() == ".pts") pts.push_back(e.path());
  std::sort(pts.begin(), pts.end());
  auto dir = test::temp_dir("lmk-300w");
  for (size_t i = 0; i < std::min(n, pts.size()); ++i) {
    std::filesystem::copy_file(pts[i], dir / pts[i].filename(), std::filesystem::copy_options::overwrite_existing);
    auto jpg = pts[i];
    jpg.replace_extension(".jpg");
    std::filesystem::copy_file(jpg, dir / jpg.filename(), std::filesystem::copy_options::overwrite_existing);
  }
  return dir;
}

LandmarkTrainConfig tiny_landmark_config(const std::filesystem::path& data) {
  LandmarkTrainConfig c;
  c.labelled = {data.string()};
  c.detector = "blazeface";
  c.backbone = {"landmarknet", 136, 48, 0.5, 0.0};
  c.batch = 4;
  c.steps = 6;
  c.warmup_steps = 1;
  c.validation_share = 0.25;
  c.log_every = 2;
  c.validate_every = 100;
  c.checkpoint_every = 100;
  c.threads = 1;
  return c;
}

double eye_x(const std::vector<cv::Point2f>& p, size_t from) {
  double x = 0;
  for (size_t i = from; i < from + 6; ++i) x += p[i].x;
  return x / 6;
}

TEST(TrainLandmarks, SamplesFrameMirrorAndReindexThePoints) {
  const auto data = small_300w(8);
  if (data.empty()) GTEST_SKIP() << "../shared/data/300w is absent";
  auto c = tiny_landmark_config(data);
  c.rotate_deg = c.scale_jitter = c.shift = 0;
  c.photometric = AugmentOptions{};
  c.photometric.flip_p = c.photometric.jpeg_p = c.photometric.blur_p = c.photometric.hue_p = c.photometric.tone_p =
      c.photometric.lowres_p = 0;
  auto mirrored = c;
  c.flip_p = 0;
  mirrored.flip_p = 1;
  const auto ra = test::temp_dir("lmk-a"), rb = test::temp_dir("lmk-b");
  std::filesystem::remove_all(ra);
  std::filesystem::remove_all(rb);
  LandmarkTrainer a(test::manifest(), c, ra, false), b(test::manifest(), mirrored, rb, false);
  ASSERT_EQ(a.size(), b.size());
  ASSERT_GE(a.size(), 6u) << "BlazeFace frames most AFW faces";
  for (size_t i = 0; i < a.size(); ++i) {
    // inference framing: the points fill the middle of the crop
    const auto s = a.sample(i, false, 0, 0);
    ASSERT_EQ(s.crop.rows, 48);
    cv::Rect2f box = cv::boundingRect(s.points);
    EXPECT_GT(box.x, 0);
    EXPECT_LT(box.x + box.width, 48);
    EXPECT_NEAR(box.x + box.width / 2, 24, 8);
    for (size_t slot = 0; slot < 3; ++slot) {  // the same draws, mirrored or not
      const auto p = a.sample(i, true, 5, slot), m = b.sample(i, true, 5, slot);
      cv::Mat back;
      cv::flip(m.crop, back, 1);
      EXPECT_EQ(cv::norm(back, p.crop, cv::NORM_INF), 0) << "face " << i << " slot " << slot;
      // the image-left eye stays first: the points were re-indexed, not only moved
      EXPECT_LT(eye_x(p.points, 36), eye_x(p.points, 42));
      EXPECT_LT(eye_x(m.points, 36), eye_x(m.points, 42));
      for (size_t k = 0; k < 68; ++k) {
        const auto& q = m.points[ibug68_mirror(k)];
        EXPECT_NEAR(47 - q.x, p.points[k].x, 1e-3);
        EXPECT_NEAR(q.y, p.points[k].y, 1e-3);
      }
    }
  }
  std::filesystem::remove_all(ra);
  std::filesystem::remove_all(rb);
  std::filesystem::remove_all(data);
}

TEST(TrainLandmarks, ATinyRunResumesExactlyAndExportsALandmarker) {
  const auto data = small_300w(8);
  if (data.empty()) GTEST_SKIP() << "../shared/data/300w is absent";
  const auto c = tiny_landmark_config(data);
  const auto full = test::temp_dir("lmk-full"), cut = test::temp_dir("lmk-cut");
  std::filesystem::remove_all(full);
  std::filesystem::remove_all(cut);
  LandmarkTrainer a(test::manifest(), c, full, false);
  EXPECT_EQ(a.run(), c.steps);
  {
    LandmarkTrainer b(test::manifest(), c, cut, false);
    EXPECT_EQ(b.run([](int64_t step) { return step < 3; }), 3);
  }
  LandmarkTrainer b(test::manifest(), c, cut, true);
  EXPECT_EQ(b.step(), 3);
  EXPECT_EQ(b.run(), c.steps);
  const auto sa = state(a.network()), sb = state(b.network());
  ASSERT_EQ(sa.size(), sb.size());
  for (size_t i = 0; i < sa.size(); ++i) EXPECT_TRUE(torch::equal(sa[i], sb[i])) << "tensor " << i;
  EXPECT_TRUE(std::isfinite(b.validate()));
  // a changed config is refused on resume, naming the field
  auto other = c;
  other.loss = "l1";
  EXPECT_ERROR(LandmarkTrainer(test::manifest(), other, cut, true), ErrorKind::InvalidArgument, "loss");
  EXPECT_ERROR(LandmarkTrainer(test::manifest(), c, cut, false), ErrorKind::AlreadyExists);

  // the export is a 68-point landmarker of the pipeline, equal to libtorch on the reference backend
  const auto out = test::temp_dir("lmk-export") / "manifest.json";
  const auto r = export_run(test::manifest(), full, "tiny-lmk", out);
  EXPECT_LE(r.max_diff_reference, 1e-4);
  const auto m = Manifest::load(out);
  EXPECT_EQ(m.model("tiny-lmk").family, "ibug68");
  LandmarkerOptions lo;
  lo.model = "tiny-lmk";
  lo.passes = 1;
  lo.flip = false;
  auto lm = make_landmarker(m, lo);
  std::filesystem::path jpg;
  for (const auto& e : std::filesystem::directory_iterator(data))
    if (e.path().extension() == ".jpg") jpg = e.path();
  const auto img = decode_image_file(jpg.string());
  Detection d;
  d.box = cv::Rect2f(60, 60, 120, 120);
  const auto pts = lm->landmarks(img.bgr, d);
  ASSERT_EQ(pts.size(), 68u);
  for (const auto& p : pts) EXPECT_TRUE(std::isfinite(p.x) && std::isfinite(p.y));
  std::filesystem::remove_all(full);
  std::filesystem::remove_all(cut);
  std::filesystem::remove_all(out.parent_path());
  std::filesystem::remove_all(data);
}

}  // namespace facerec::train
