// Identity-folder datasets split by identity, and the P×K sampler.
#include <facerec/error.hpp>
#include <facerec/eval/eval.hpp>
#include <facerec/train/data.hpp>

#include <algorithm>
#include <map>
#include <numeric>
#include <random>

namespace facerec::train {

namespace {
// A generator for (seed, stream), independent of every other stream (the draws are the same on every
// run with the same standard library: its distributions are not portable across libraries).
std::mt19937_64 stream(uint64_t seed, uint64_t index) {
  std::seed_seq s{uint32_t(seed), uint32_t(seed >> 32), uint32_t(index), uint32_t(index >> 32)};
  return std::mt19937_64(s);
}
}  // namespace

IdentitySplit split_identity_folders(const std::filesystem::path& root, const SplitOptions& o) {
  if (o.min_images < 1) throw Error(ErrorKind::InvalidArgument, "split: min_images must be at least 1");
  if (!(o.validation_share >= 0 && o.validation_share < 1))
    throw Error(ErrorKind::InvalidArgument, "split: validation_share must be in [0, 1)");
  auto subjects = read_identity_folders(root);
  std::sort(subjects.begin(), subjects.end(), [](const Subject& a, const Subject& b) { return a.id < b.id; });
  IdentitySplit out;
  std::vector<const Subject*> kept;
  for (const auto& s : subjects) {
    if (int(s.images.size()) >= o.min_images)
      kept.push_back(&s);
    else
      ++out.dropped_identities;
  }
  std::vector<size_t> order(kept.size());
  std::iota(order.begin(), order.end(), 0);
  auto rng = stream(o.seed, 0);
  std::shuffle(order.begin(), order.end(), rng);
  const size_t n_val = size_t(double(kept.size()) * o.validation_share);
  std::vector<bool> is_val(kept.size(), false);
  for (size_t i = 0; i < n_val; ++i) is_val[order[i]] = true;
  for (size_t i = 0; i < kept.size(); ++i) {
    auto& names = is_val[i] ? out.validation_identities : out.train_identities;
    auto& samples = is_val[i] ? out.validation : out.train;
    const int64_t label = int64_t(names.size());
    names.push_back(kept[i]->id);
    for (const auto& img : kept[i]->images) samples.push_back({img, label});
  }
  if (out.train_identities.empty())
    throw Error(ErrorKind::InvalidArgument, root.string() + ": no identity with at least " +
                                                std::to_string(o.min_images) + " images is left to train on");
  return out;
}

PkSampler::PkSampler(const std::vector<Sample>& samples, int p, int k, uint64_t seed) : p_(p), k_(k), seed_(seed) {
  if (p < 1 || k < 1) throw Error(ErrorKind::InvalidArgument, "P x K sampler: P and K must be at least 1");
  std::map<int64_t, std::vector<size_t>> groups;
  for (size_t i = 0; i < samples.size(); ++i) groups[samples[i].label].push_back(i);
  for (auto& [label, idx] : groups) by_label_.push_back(std::move(idx));
  if (int(by_label_.size()) < p)
    throw Error(ErrorKind::InvalidArgument, "P x K sampler: " + std::to_string(by_label_.size()) +
                                                " identities, fewer than P = " + std::to_string(p));
}

std::vector<size_t> PkSampler::batch(uint64_t index) const {
  auto rng = stream(seed_, index + 1);  // stream 0 is the split's
  std::vector<size_t> ids(by_label_.size());
  std::iota(ids.begin(), ids.end(), 0);
  // a partial Fisher-Yates: the first P of a shuffle
  for (int i = 0; i < p_; ++i) {
    std::uniform_int_distribution<size_t> pick(size_t(i), ids.size() - 1);
    std::swap(ids[size_t(i)], ids[pick(rng)]);
  }
  std::vector<size_t> out;
  out.reserve(size_t(p_) * size_t(k_));
  for (int i = 0; i < p_; ++i) {
    auto imgs = by_label_[ids[size_t(i)]];
    if (int(imgs.size()) >= k_) {
      for (int j = 0; j < k_; ++j) {
        std::uniform_int_distribution<size_t> pick(size_t(j), imgs.size() - 1);
        std::swap(imgs[size_t(j)], imgs[pick(rng)]);
        out.push_back(imgs[size_t(j)]);
      }
    } else {
      std::uniform_int_distribution<size_t> pick(0, imgs.size() - 1);
      for (int j = 0; j < k_; ++j) out.push_back(imgs[pick(rng)]);
    }
  }
  return out;
}

}  // namespace facerec::train
