// Training data: crop folders, photos aligned through the pipeline (cached), RecordIO; the split by
// identity and the samplers.
#include <facerec/align.hpp>
#include <facerec/analyzer.hpp>
#include <facerec/error.hpp>
#include <facerec/eval/eval.hpp>
#include <facerec/image.hpp>
#include <facerec/train/data.hpp>
#include <facerec/version.hpp>

#include "common/fs.hpp"
#include "common/sha256.hpp"

#include <opencv2/imgcodecs.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <numeric>
#include <random>
#include <set>
#include <sstream>
#include <thread>

namespace facerec::train {

namespace {
// A generator for (seed, stream), independent of every other stream (the draws are the same on every
// run with the same standard library: its distributions are not portable across libraries).
std::mt19937_64 stream(uint64_t seed, uint64_t index) {
  std::seed_seq s{uint32_t(seed), uint32_t(seed >> 32), uint32_t(index), uint32_t(index >> 32)};
  return std::mt19937_64(s);
}
}  // namespace

IdentitySplit split_identities(std::vector<IdentityImages> ids, const SplitOptions& o, const std::string& where) {
  if (o.min_images < 1) throw Error(ErrorKind::InvalidArgument, "split: min_images must be at least 1");
  if (!(o.validation_share >= 0 && o.validation_share < 1))
    throw Error(ErrorKind::InvalidArgument, "split: validation_share must be in [0, 1)");
  std::sort(ids.begin(), ids.end(), [](const auto& a, const auto& b) { return a.identity < b.identity; });
  IdentitySplit out;
  std::vector<const IdentityImages*> kept;
  for (const auto& s : ids) {
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
    names.push_back(kept[i]->identity);
    for (const auto& img : kept[i]->images) samples.push_back({img, label});
  }
  if (out.train_identities.empty())
    throw Error(ErrorKind::InvalidArgument,
                where + ": no identity with at least " + std::to_string(o.min_images) + " images is left to train on");
  return out;
}

IdentitySplit split_identity_folders(const std::filesystem::path& root, const SplitOptions& o) {
  if (o.min_images < 1) throw Error(ErrorKind::InvalidArgument, "split: min_images must be at least 1");
  std::vector<IdentityImages> ids;
  for (auto& s : read_identity_folders(root)) ids.push_back({std::move(s.id), std::move(s.images)});
  return split_identities(std::move(ids), o, root.string());
}

// ---- readers ------------------------------------------------------------------------------

cv::Mat FolderReader::read(const std::string& key) const { return decode_image_file((root_ / key).string()).bgr; }

namespace {
constexpr uint32_t kRecMagic = 0xced7230a;

uint32_t get_u32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
}  // namespace

RecordIoReader::RecordIoReader(std::filesystem::path rec, std::filesystem::path idx) : rec_(std::move(rec)) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(rec_, ec)) throw Error(ErrorKind::NotFound, "no record file " + rec_.string());
  if (!std::filesystem::is_regular_file(idx, ec)) throw Error(ErrorKind::NotFound, "no index file " + idx.string());
  rec_size_ = std::filesystem::file_size(rec_);
  std::ifstream in(idx);
  std::string line;
  size_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.empty()) continue;
    const auto tab = line.find_first_of("\t ");
    size_t used1 = 0, used2 = 0;
    uint64_t key = 0, offset = 0;
    try {
      if (tab == std::string::npos) throw std::invalid_argument("no tab");
      key = std::stoull(line.substr(0, tab), &used1);
      offset = std::stoull(line.substr(tab + 1), &used2);
      if (used1 != tab) throw std::invalid_argument("key");
    } catch (const std::exception&) {
      throw Error(ErrorKind::BadInput, idx.string() + " line " + std::to_string(n) + ": expected \"key<TAB>offset\"");
    }
    if (offset + 8 > rec_size_)
      throw Error(ErrorKind::BadInput, idx.string() + " line " + std::to_string(n) + ": offset " +
                                           std::to_string(offset) + " is past the end of " + rec_.string() + " (" +
                                           std::to_string(rec_size_) + " bytes): truncated or another file's index");
    index_.emplace_back(key, offset);
  }
  if (index_.empty()) throw Error(ErrorKind::BadInput, idx.string() + ": empty index");
  std::sort(index_.begin(), index_.end());
}

RecordIoReader::Record RecordIoReader::record(uint64_t key) const {
  auto it = std::lower_bound(index_.begin(), index_.end(), std::make_pair(key, uint64_t(0)));
  if (it == index_.end() || it->first != key)
    throw Error(ErrorKind::NotFound, rec_.string() + ": no record with key " + std::to_string(key));
  const uint64_t start = it->second;
  auto bad = [&](const std::string& what) {
    return Error(ErrorKind::BadInput, rec_.string() + ": record " + std::to_string(key) + " at offset " +
                                          std::to_string(start) + ": " + what);
  };
  std::string payload;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    std::ifstream in(rec_, std::ios::binary);
    in.seekg(std::streamoff(start));
    uint64_t pos = start;
    for (int part = 0;; ++part) {
      char head[8];
      if (pos + 8 > rec_size_ || !in.read(head, 8)) throw bad("truncated header");
      if (get_u32(head) != kRecMagic) throw bad("bad magic (not a RecordIO record)");
      const uint32_t lrec = get_u32(head + 4), cflag = lrec >> 29, length = lrec & ((1u << 29) - 1);
      pos += 8;
      if (pos + length > rec_size_) throw bad("length " + std::to_string(length) + " runs past the end of the file");
      if (part == 0 && cflag != 0 && cflag != 1) throw bad("starts with a continuation part");
      if (part > 0 && cflag != 2 && cflag != 3) throw bad("a multi-part record is cut short");
      const size_t at = payload.size();
      payload.resize(at + length);
      if (length > 0 && !in.read(payload.data() + at, length)) throw bad("truncated payload");
      const uint64_t padded = (uint64_t(length) + 3) / 4 * 4;
      in.seekg(std::streamoff(padded - length), std::ios::cur);
      pos += padded;
      if (cflag == 0 || cflag == 3) break;
      // dmlc splits a payload where the magic occurs and drops it; put it back between the parts
      const uint32_t m = kRecMagic;
      payload.append(reinterpret_cast<const char*>(&m), 4);
    }
  }
  if (payload.size() < 24) throw bad("payload shorter than its 24-byte header");
  Record r;
  r.flag = get_u32(payload.data());
  float label;
  std::memcpy(&label, payload.data() + 4, 4);
  size_t off = 24;
  if (r.flag == 0) {
    r.labels = {label};
  } else {
    if (uint64_t(r.flag) * 4 > payload.size() - 24) throw bad("header declares " + std::to_string(r.flag) + " labels");
    r.labels.resize(r.flag);
    std::memcpy(r.labels.data(), payload.data() + 24, size_t(r.flag) * 4);
    off += size_t(r.flag) * 4;
  }
  r.image = payload.substr(off);
  return r;
}

std::vector<IdentityImages> RecordIoReader::identities(const std::function<void(size_t, size_t)>& progress) const {
  uint64_t end = UINT64_MAX;  // first key after the images (insightface's header)
  size_t first = 0;
  if (index_.front().first == 0) {
    const auto h = record(0);
    if (h.flag > 0 && h.image.empty()) {
      end = uint64_t(std::max(0.f, h.labels.at(0)));
      first = 1;
    }
  }
  std::map<int64_t, std::vector<std::string>> by;
  for (size_t i = first; i < index_.size(); ++i) {
    if (index_[i].first >= end) break;
    const auto r = record(index_[i].first);
    const float l = r.labels.at(0);
    if (!std::isfinite(l) || l < 0 || l != std::floor(l))
      throw Error(ErrorKind::BadInput, rec_.string() + ": record " + std::to_string(index_[i].first) +
                                           " has no identity label (" + std::to_string(l) + ")");
    by[int64_t(l)].push_back(std::to_string(index_[i].first));
    if (progress) progress(i + 1 - first, index_.size() - first);
  }
  std::vector<IdentityImages> out;
  char name[32];
  for (auto& [label, keys] : by) {
    std::snprintf(name, sizeof name, "%09lld", static_cast<long long>(label));  // sorts as numbers
    out.push_back({name, std::move(keys)});
  }
  return out;
}

cv::Mat RecordIoReader::read(const std::string& key) const {
  uint64_t k = 0;
  try {
    size_t used = 0;
    k = std::stoull(key, &used);
    if (used != key.size()) throw std::invalid_argument(key);
  } catch (const std::exception&) {
    throw Error(ErrorKind::NotFound, rec_.string() + ": '" + key + "' is not a record key");
  }
  const auto r = record(k);
  try {
    return decode_image_bytes(r.image).bgr;
  } catch (const Error& e) {
    throw Error(ErrorKind::BadInput, rec_.string() + ": record " + key + ": " + e.what());
  }
}

void write_recordio(const std::filesystem::path& rec, const std::filesystem::path& idx,
                    const std::vector<std::pair<int, std::string>>& items) {
  std::string data, index;
  size_t key = 0;
  auto put = [&](uint32_t flag, const std::vector<float>& labels, const std::string& image) {
    index += std::to_string(key++) + "\t" + std::to_string(data.size()) + "\n";
    std::string payload(24, '\0');
    std::memcpy(payload.data(), &flag, 4);
    std::memcpy(payload.data() + 4, labels.data(), 4);
    if (flag > 0) payload.append(reinterpret_cast<const char*>(labels.data()), labels.size() * 4);
    payload += image;
    const uint32_t magic = kRecMagic, lrec = uint32_t(payload.size());  // one part (cflag 0)
    data.append(reinterpret_cast<const char*>(&magic), 4);
    data.append(reinterpret_cast<const char*>(&lrec), 4);
    data += payload;
    data.append((4 - payload.size() % 4) % 4, '\0');
  };
  put(2, {float(items.size() + 1), float(items.size() + 1)}, "");
  for (const auto& [label, image] : items) put(0, {float(label)}, image);
  detail::write_file_atomic(rec, data);
  detail::write_file_atomic(idx, index);
}

// ---- photos through the pipeline ------------------------------------------------------------

AlignedPhotos align_photos(const Manifest& manifest, const std::filesystem::path& root,
                           const std::vector<std::string>& images, const std::filesystem::path& cache,
                           const AlignOptions& o) {
  if (o.size < 16) throw Error(ErrorKind::InvalidArgument, "align: the crop size must be at least 16");
  AnalyzerOptions ao;
  ao.detector.model = o.detector;
  ao.landmarker.model = o.landmarker;
  ao.detector.threads = ao.landmarker.threads = 1;
  const std::string settings = std::string("facerec ") + version() + "\ndetector " + ao.detector.model + " close " +
                               ao.detector.close_range_model + " score " + std::to_string(ao.detector.score_threshold) +
                               " min_face " + std::to_string(ao.detector.min_face) + "\nlandmarks " +
                               ao.landmarker.model + " passes " + std::to_string(ao.landmarker.passes) +
                               "\nalignment arcface-five-point largest-face size " + std::to_string(o.size) + "\n";
  AlignedPhotos out;
  out.key = detail::sha256_hex(settings).substr(0, 16);
  out.folder = cache / out.key;
  std::filesystem::create_directories(out.folder);
  detail::write_file_atomic(out.folder / "PIPELINE.txt", settings);
  const auto failed_file = out.folder / "failed.txt";
  std::set<std::string> known_failed;
  if (std::filesystem::exists(failed_file)) {
    std::istringstream in(detail::read_file(failed_file));
    for (std::string l; std::getline(in, l);)
      if (!l.empty()) known_failed.insert(l);
  }
  std::vector<size_t> todo;
  std::vector<char> ok(images.size(), 0);
  for (size_t i = 0; i < images.size(); ++i) {
    if (known_failed.count(images[i])) continue;
    if (std::filesystem::exists(out.folder / (images[i] + ".png")))
      ok[i] = 1;
    else
      todo.push_back(i);
  }
  if (!todo.empty()) {
    FaceAnalyzer first(manifest, ao);
    std::vector<FaceAnalyzer> analyzers;
    const int workers = std::max(1, std::min<int>(o.workers, int(todo.size())));
    for (int w = 1; w < workers; ++w) analyzers.push_back(first.clone());
    analyzers.insert(analyzers.begin(), std::move(first));
    std::atomic<size_t> next{0}, done{0};
    std::mutex m;
    std::exception_ptr fatal;
    auto work = [&](FaceAnalyzer& a) {
      for (size_t j; (j = next++) < todo.size();) {
        const size_t i = todo[j];
        try {
          const auto img = decode_image_file((root / images[i]).string()).bgr;
          const auto faces = a.analyze(img, false);
          if (const Face* f = largest_face(faces)) {
            const auto crop = warp_to_template(img, f->five, o.size);
            const auto dst = out.folder / (images[i] + ".png");
            std::filesystem::create_directories(dst.parent_path());
            const auto tmp = dst.string() + ".tmp.png";
            if (!cv::imwrite(tmp, crop)) throw Error(ErrorKind::Io, "cannot write " + tmp);
            std::filesystem::rename(tmp, dst);
            ok[i] = 1;
          }
        } catch (const Error& e) {
          if (e.kind() != ErrorKind::BadInput && e.kind() != ErrorKind::NotFound) {
            std::lock_guard<std::mutex> lock(m);
            if (!fatal) fatal = std::current_exception();
            next = todo.size();
          }
        }
        const size_t d = ++done;
        if (o.progress) {
          std::lock_guard<std::mutex> lock(m);
          o.progress(d, todo.size());
        }
      }
    };
    std::vector<std::thread> threads;
    for (size_t w = 1; w < analyzers.size(); ++w) threads.emplace_back(work, std::ref(analyzers[w]));
    work(analyzers[0]);
    for (auto& t : threads) t.join();
    if (fatal) std::rethrow_exception(fatal);
    out.computed = todo.size();
  }
  std::string failed_text;
  for (size_t i = 0; i < images.size(); ++i) {
    if (ok[i]) {
      out.aligned.push_back(images[i] + ".png");
    } else {
      out.failed.push_back(images[i]);
      failed_text += images[i] + "\n";
    }
  }
  // only failures of images looked at now or before are recorded (not the unknown rest of a folder)
  for (const auto& f : known_failed)
    if (std::find(images.begin(), images.end(), f) == images.end()) failed_text += f + "\n";
  detail::write_file_atomic(failed_file, failed_text);
  return out;
}

// ---- samplers -----------------------------------------------------------------------------

ShuffleSampler::ShuffleSampler(size_t n, int batch, uint64_t seed) : n_(n), batch_(batch), seed_(seed) {
  if (n < 1 || batch < 1) throw Error(ErrorKind::InvalidArgument, "shuffle sampler: needs samples and a batch >= 1");
}

std::vector<size_t> ShuffleSampler::permutation(uint64_t epoch) const {
  std::vector<size_t> p(n_);
  std::iota(p.begin(), p.end(), 0);
  auto rng = stream(seed_ ^ 0x5eedULL, epoch);
  std::shuffle(p.begin(), p.end(), rng);
  return p;
}

std::vector<size_t> ShuffleSampler::batch(uint64_t index) const {
  std::vector<size_t> out;
  uint64_t epoch = UINT64_MAX;
  std::vector<size_t> perm;
  for (int j = 0; j < batch_; ++j) {
    const uint64_t pos = index * uint64_t(batch_) + uint64_t(j);
    if (pos / n_ != epoch) perm = permutation(epoch = pos / n_);
    out.push_back(perm[pos % n_]);
  }
  return out;
}

BalancedSampler::BalancedSampler(const std::vector<Sample>& samples, int batch, uint64_t seed)
    : batch_(batch), seed_(seed) {
  if (batch < 1) throw Error(ErrorKind::InvalidArgument, "balanced sampler: the batch must be at least 1");
  std::map<int64_t, std::vector<size_t>> groups;
  for (size_t i = 0; i < samples.size(); ++i) groups[samples[i].label].push_back(i);
  for (auto& [label, idx] : groups) by_label_.push_back(std::move(idx));
  if (by_label_.empty()) throw Error(ErrorKind::InvalidArgument, "balanced sampler: no samples");
}

std::vector<size_t> BalancedSampler::batch(uint64_t index) const {
  auto rng = stream(seed_ ^ 0xba1aULL, index);
  std::uniform_int_distribution<size_t> id(0, by_label_.size() - 1);
  std::vector<size_t> out;
  for (int j = 0; j < batch_; ++j) {
    const auto& imgs = by_label_[id(rng)];
    std::uniform_int_distribution<size_t> pick(0, imgs.size() - 1);
    out.push_back(imgs[pick(rng)]);
  }
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
