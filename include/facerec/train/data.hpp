#pragma once
// Training data. Three sources, all read as labelled aligned face crops:
//  - a folder of identity folders of aligned crops (<root>/<identity>/<image>, as insightface ships
//    them, or any square-ish crop of one alignment): FolderReader;
//  - a folder of identity folders of photos: align_photos() runs the facerec pipeline (detect,
//    landmarks, five-point ArcFace alignment) once and caches the crops under a key of the
//    pipeline's version and settings, so a changed pipeline re-aligns; the cache is a crop folder;
//  - insightface's packed train.rec / train.idx (MXNet RecordIO): RecordIoReader.
// Each is filtered by a minimum image count and split into training and validation by identity;
// samplers (shuffled epochs, class-balanced, P×K) draw batches as pure functions of (seed, batch
// index), so a run resumed at batch b draws exactly the batches an uninterrupted run draws.
//
// What it represents: IdentitySplit is a value; readers and samplers are immutable after
// construction. Thread safety: read() and batch() may be called concurrently.
#include <facerec/models.hpp>

#include <opencv2/core.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace facerec::train {

struct Sample {
  std::string image;  // the reader's key: "<identity>/<file>" in a folder, the record key in a .rec
  int64_t label = 0;  // index into IdentitySplit::train_identities (training) or validation_identities
};

struct SplitOptions {
  int min_images = 2;             // identities with fewer images are left out
  double validation_share = 0.1;  // of the kept identities, drawn by the seed
  uint64_t seed = 1;
};

struct IdentitySplit {
  std::vector<std::string> train_identities, validation_identities;  // sorted by name
  std::vector<Sample> train, validation;                             // labels per list above
  size_t dropped_identities = 0;                                     // below min_images
};

// Requires: a root as read_identity_folders (eval.hpp) reads it. Ensures: no identity in both
// lists; the same split for the same folder and options. Throws what read_identity_folders throws,
// Error(InvalidArgument) for min_images < 1, a share outside [0, 1), or no identity left to train.
IdentitySplit split_identity_folders(const std::filesystem::path& root, const SplitOptions& options);

// One identity and its images (reader keys). A plain value.
struct IdentityImages {
  std::string identity;
  std::vector<std::string> images;
};
// The split of any labelled list, as split_identity_folders does it (identities sorted by name).
// Throws Error(InvalidArgument) as split_identity_folders; `where` names the source in messages.
IdentitySplit split_identities(std::vector<IdentityImages> identities, const SplitOptions& options,
                               const std::string& where);

// Reads one sample as an 8-bit BGR crop. Thread safety: read() may be called concurrently.
class FaceReader {
 public:
  virtual ~FaceReader() = default;
  // Throws Error(BadInput) for an undecodable image, Error(NotFound) for an unknown key,
  // Error(Io | BadModel) for an unreadable or corrupt container.
  virtual cv::Mat read(const std::string& key) const = 0;
  virtual std::string describe() const = 0;  // "folder /data/crops", "recordio /data/train.rec"
};

// Images under a folder, keys relative to it (decoded with facerec's checked decoder).
class FolderReader : public FaceReader {
 public:
  explicit FolderReader(std::filesystem::path root) : root_(std::move(root)) {}
  cv::Mat read(const std::string& key) const override;
  std::string describe() const override { return "folder " + root_.string(); }
  const std::filesystem::path& root() const { return root_; }

 private:
  std::filesystem::path root_;
};

// MXNet RecordIO as insightface packs face datasets: train.idx lines "key<TAB>offset"; each
// record (magic 0xced7230a, length and continuation flag, payload padded to 4 bytes) holds an
// IRHeader (uint32 flag, float label, uint64 id, uint64 id2; flag > 0: flag float labels follow,
// the first being the identity) and the encoded image. Record 0 with flag > 0 is insightface's
// header: label[0] is the first key after the images (identity-range records follow; they are
// skipped).
class RecordIoReader : public FaceReader {
 public:
  // Reads the index. Throws Error(NotFound) for a missing file, Error(BadModel) naming the line
  // of a malformed index or an offset past the end of the .rec.
  RecordIoReader(std::filesystem::path rec, std::filesystem::path idx);
  // The image records grouped by identity label (reads every record's header once). Throws
  // Error(BadModel) naming the key and offset of a corrupt or truncated record.
  std::vector<IdentityImages> identities(const std::function<void(size_t, size_t)>& progress = {}) const;
  cv::Mat read(const std::string& key) const override;
  std::string describe() const override { return "recordio " + rec_.string(); }

  struct Record {
    uint32_t flag = 0;
    std::vector<float> labels;  // label (flag 0) or the flag labels
    std::string image;          // encoded bytes
  };
  Record record(uint64_t key) const;  // throws as identities()

 private:
  std::filesystem::path rec_;
  uint64_t rec_size_ = 0;
  std::vector<std::pair<uint64_t, uint64_t>> index_;  // key, offset; sorted by key
  mutable std::mutex mutex_;
};

// Writes a RecordIO pair the reader reads (and MXNet's recordio reads): record 0 is insightface's
// header, then one record per image with its identity label. For tests and for packing a folder.
// Throws Error(Io).
void write_recordio(const std::filesystem::path& rec, const std::filesystem::path& idx,
                    const std::vector<std::pair<int, std::string>>& label_and_encoded_image);

// Runs the pipeline (detector, landmarks, ArcFace alignment at `size`) over photos and writes each
// largest face's crop as PNG to <cache>/<key>/<image>.png, where key is a hash of the facerec
// version, the pipeline settings and the size; crops already there are kept. Photos without a
// face, or unreadable, are listed in the result and left out. A plain value.
struct AlignedPhotos {
  std::filesystem::path folder;      // the crop folder (a FolderReader root)
  std::string key;                   // its name under the cache
  std::vector<std::string> aligned;  // keys into `folder` (the image path + ".png")
  std::vector<std::string> failed;   // input images without a usable face
  size_t computed = 0;               // aligned now (the rest were cached)
};
struct AlignOptions {
  std::string detector = "blazeface+faceboxes";
  std::string landmarker = "face_landmark_68_model";
  int size = 112;
  int workers = 2;
  std::function<void(size_t done, size_t total)> progress;
};
AlignedPhotos align_photos(const Manifest& manifest, const std::filesystem::path& root,
                           const std::vector<std::string>& images, const std::filesystem::path& cache,
                           const AlignOptions& options);

// Draws the sample indices of batch `index`. Pure in (seed, index).
class Sampler {
 public:
  virtual ~Sampler() = default;
  virtual std::vector<size_t> batch(uint64_t index) const = 0;
};

// Shuffled epochs: position p = index·batch + j is element p mod n of epoch p / n's permutation.
class ShuffleSampler : public Sampler {
 public:
  // Requires: n >= 1, batch >= 1. Throws Error(InvalidArgument).
  ShuffleSampler(size_t n, int batch, uint64_t seed);
  std::vector<size_t> batch(uint64_t index) const override;

 private:
  std::vector<size_t> permutation(uint64_t epoch) const;
  size_t n_;
  int batch_;
  uint64_t seed_;
};

// Class-balanced: every slot draws an identity uniformly, then one of its images uniformly.
class BalancedSampler : public Sampler {
 public:
  BalancedSampler(const std::vector<Sample>& samples, int batch, uint64_t seed);
  std::vector<size_t> batch(uint64_t index) const override;

 private:
  std::vector<std::vector<size_t>> by_label_;
  int batch_;
  uint64_t seed_;
};

class PkSampler : public Sampler {
 public:
  // Requires: p >= 1, k >= 1, at least p identities in `samples`. Throws Error(InvalidArgument).
  PkSampler(const std::vector<Sample>& samples, int p, int k, uint64_t seed);
  // Indices into `samples` of batch `index`: P distinct identities, K images of each (drawn
  // without replacement when the identity has K or more, else with), identities grouped.
  std::vector<size_t> batch(uint64_t index) const override;
  size_t identities() const { return by_label_.size(); }

 private:
  std::vector<std::vector<size_t>> by_label_;
  int p_, k_;
  uint64_t seed_;
};

}  // namespace facerec::train
