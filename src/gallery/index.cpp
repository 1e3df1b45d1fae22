// Search indexes: the exact Flat index, the FAISS wrapper, the factory and the file format.
#include "common/dot.hpp"

#include <facerec/error.hpp>
#include <facerec/gallery/index.hpp>

#include "common/sha256.hpp"

#include <faiss/AutoTune.h>
#include <faiss/IndexIDMap.h>
#include <faiss/IndexIVFPQ.h>
#include <faiss/IndexPQ.h>
#include <faiss/impl/FaissException.h>
#include <faiss/impl/io.h>
#include <faiss/index_factory.h>
#include <faiss/index_io.h>

#include <hnswlib/hnswlib.h>
#include <unistd.h>

#include <dlfcn.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <istream>
#include <ostream>
#include <regex>
#include <sstream>

namespace facerec {
namespace {

constexpr char kMagic[4] = {'F', 'R', 'I', 'X'};
// 1: factory, dim, payload. 2: the same, preceded by its length and sha256: a damaged or forged
// file is refused before FAISS or hnswlib parse a byte of it (their readers trust their input).
constexpr uint32_t kFormat = 2;

template <class T>
void put(std::ostream& o, const T& v) {
  o.write(reinterpret_cast<const char*>(&v), sizeof v);
}
template <class T>
T get(std::istream& in) {
  T v{};
  if (!in.read(reinterpret_cast<char*>(&v), sizeof v)) throw Error(ErrorKind::BadModel, "index file is truncated");
  return v;
}
void put_bytes(std::ostream& o, const void* p, uint64_t n) {
  put(o, n);
  o.write(static_cast<const char*>(p), std::streamsize(n));
}
// Reads n bytes in steps of at most 16 MiB, so that a size claimed by a damaged or forged file
// costs only the bytes that are really there before "truncated".
template <class T>
std::vector<T> read_exact(std::istream& in, uint64_t count) {
  std::vector<T> v;
  const uint64_t step = (uint64_t(16) << 20) / sizeof(T);
  for (uint64_t done = 0; done < count;) {
    uint64_t k = std::min(step, count - done);
    v.resize(size_t(done + k));
    if (!in.read(reinterpret_cast<char*>(v.data() + done), std::streamsize(k * sizeof(T))))
      throw Error(ErrorKind::BadModel, "index file is truncated");
    done += k;
  }
  return v;
}
std::vector<uint8_t> get_bytes(std::istream& in, uint64_t limit) {
  auto n = get<uint64_t>(in);
  if (n > limit) throw Error(ErrorKind::BadModel, "index file: a field claims " + std::to_string(n) + " bytes");
  return read_exact<uint8_t>(in, n);
}

void check_dim(int dim) {
  if (dim <= 0 || dim > 65536) throw Error(ErrorKind::InvalidArgument, "index dimension must be in 1..65536");
}

// Top k of (score, id) pairs, best first.
std::vector<SearchHit> top_k(std::vector<SearchHit> hits, int k) {
  size_t kk = std::min(hits.size(), size_t(std::max(k, 0)));
  auto better = [](const SearchHit& a, const SearchHit& b) {
    return a.score > b.score || (a.score == b.score && a.id < b.id);
  };
  std::partial_sort(hits.begin(), hits.begin() + std::ptrdiff_t(kk), hits.end(), better);
  hits.resize(kk);
  return hits;
}

// ---- exact ---------------------------------------------------------------------------------
class FlatIndex final : public SearchIndex {
 public:
  explicit FlatIndex(int dim) : dim_(dim) { check_dim(dim); }
  int dim() const override { return dim_; }
  size_t size() const override { return ids_.size(); }
  std::string description() const override { return "Flat"; }
  bool is_trained() const override { return true; }
  void train(const float*, size_t) override {}
  void add(const int64_t* ids, const float* x, size_t n) override {
    ids_.insert(ids_.end(), ids, ids + n);
    data_.insert(data_.end(), x, x + n * size_t(dim_));
  }
  std::vector<SearchHit> search(const float* q, int k) const override {
    std::vector<SearchHit> hits(ids_.size());
    const size_t d = size_t(dim_);
    for (size_t r = 0; r < ids_.size(); ++r) {
      hits[r] = {ids_[r], detail::dot(data_.data() + r * d, q, d)};
    }
    auto out = top_k(std::move(hits), k);
    out.resize(size_t(std::max(k, 0)), SearchHit{});
    return out;
  }
  size_t memory_bytes() const override { return data_.size() * sizeof(float) + ids_.size() * sizeof(int64_t); }
  void save_payload(std::ostream& o) const override {
    put(o, uint64_t(ids_.size()));
    o.write(reinterpret_cast<const char*>(ids_.data()), std::streamsize(ids_.size() * sizeof(int64_t)));
    o.write(reinterpret_cast<const char*>(data_.data()), std::streamsize(data_.size() * sizeof(float)));
  }
  void load(std::istream& in) {
    auto n = get<uint64_t>(in);
    if (n > (uint64_t(1) << 34) / uint64_t(dim_)) throw Error(ErrorKind::BadModel, "index file: implausible size");
    ids_ = read_exact<int64_t>(in, n);
    data_ = read_exact<float>(in, n * uint64_t(dim_));
  }

 private:
  int dim_;
  std::vector<int64_t> ids_;
  std::vector<float> data_;
};

// ---- FAISS ---------------------------------------------------------------------------------
class FaissIndex final : public SearchIndex {
 public:
  FaissIndex(const std::string& factory, int dim) : factory_(factory), dim_(dim) {
    check_dim(dim);
    split(factory.substr(6), spec_, params_);
    try {
      faiss::Index* base = faiss::index_factory(dim, spec_.c_str(), faiss::METRIC_INNER_PRODUCT);
      // index_factory turns on polysemous training for PQ codes: a simulated annealing that takes
      // minutes and only serves Hamming pre-filtering, which facerec does not use
      if (auto* ivfpq = dynamic_cast<faiss::IndexIVFPQ*>(base)) ivfpq->do_polysemous_training = false;
      if (auto* pq = dynamic_cast<faiss::IndexPQ*>(base)) pq->do_polysemous_training = false;
      apply_params(base);
      auto* map = new faiss::IndexIDMap2(base);
      map->own_fields = true;
      index_.reset(map);
    } catch (const faiss::FaissException& e) {
      throw Error(ErrorKind::InvalidArgument, "index factory '" + factory + "': " + e.what());
    }
  }
  FaissIndex(const std::string& factory, int dim, const std::vector<uint8_t>& payload) : factory_(factory), dim_(dim) {
    split(factory.substr(6), spec_, params_);
    try {
      faiss::VectorIOReader r;
      r.data = payload;
      index_.reset(faiss::read_index(&r));
      auto* map = dynamic_cast<faiss::IndexIDMap2*>(index_.get());
      if (!map || index_->d != dim) throw Error(ErrorKind::BadModel, "index file: unexpected FAISS index type");
      apply_params(map->index);
    } catch (const faiss::FaissException& e) {
      throw Error(ErrorKind::BadModel, std::string("index file: ") + e.what());
    }
  }
  int dim() const override { return dim_; }
  size_t size() const override { return size_t(index_->ntotal); }
  std::string description() const override { return factory_; }
  bool is_trained() const override { return index_->is_trained; }
  void train(const float* x, size_t n) override {
    try {
      index_->train(faiss::Index::idx_t(n), x);
    } catch (const faiss::FaissException& e) {
      throw Error(ErrorKind::InvalidArgument,
                  "training " + factory_ + " on " + std::to_string(n) + " vectors: " + e.what());
    }
  }
  void add(const int64_t* ids, const float* x, size_t n) override {
    if (!index_->is_trained) throw Error(ErrorKind::InvalidArgument, factory_ + " must be trained before add");
    index_->add_with_ids(faiss::Index::idx_t(n), x, reinterpret_cast<const faiss::Index::idx_t*>(ids));
  }
  std::vector<SearchHit> search(const float* q, int k) const override {
    std::vector<SearchHit> out(size_t(std::max(k, 0)));
    if (k <= 0) return out;
    std::vector<float> d(static_cast<size_t>(k));
    std::vector<faiss::Index::idx_t> l(static_cast<size_t>(k));
    index_->search(1, q, k, d.data(), l.data());
    for (size_t i = 0; i < size_t(k); ++i) out[i] = {int64_t(l[i]), l[i] < 0 ? 0.f : d[i]};
    return out;
  }
  size_t memory_bytes() const override {
    faiss::VectorIOWriter w;  // the serialised size is a fair measure of what the index holds
    faiss::write_index(index_.get(), &w);
    return w.data.size();
  }
  void save_payload(std::ostream& o) const override {
    faiss::VectorIOWriter w;
    faiss::write_index(index_.get(), &w);
    put_bytes(o, w.data.data(), w.data.size());
  }

 private:
  static void split(const std::string& s, std::string& spec, std::string& params) {
    auto semi = s.find(';');
    spec = s.substr(0, semi);
    params = semi == std::string::npos ? "" : s.substr(semi + 1);
    if (spec.empty()) throw Error(ErrorKind::InvalidArgument, "index factory 'faiss:' needs a FAISS factory string");
  }
  void apply_params(faiss::Index* base) const {
    if (params_.empty()) return;
    try {
      faiss::ParameterSpace().set_index_parameters(base, params_.c_str());
    } catch (const faiss::FaissException& e) {
      throw Error(ErrorKind::InvalidArgument, "index parameters '" + params_ + "': " + e.what());
    }
  }
  std::string factory_, spec_, params_;
  int dim_;
  std::unique_ptr<faiss::Index> index_;
};

// ---- hnswlib -------------------------------------------------------------------------------
// A second HNSW implementation: hnswlib's distance kernels are compiled here with SSE, while the
// Debian FAISS build computes distances with its scalar reference code (slow to build and search).
class HnswlibIndex final : public SearchIndex {
 public:
  HnswlibIndex(const std::string& factory, int dim) : factory_(factory), space_(size_t(dim)), dim_(dim) {
    check_dim(dim);
    parse(factory.substr(8));
    index_ = std::make_unique<hnswlib::HierarchicalNSW<float>>(&space_, 1024, m_, ef_construction_, 100);
    index_->setEf(ef_);
  }
  HnswlibIndex(const std::string& factory, int dim, const std::vector<uint8_t>& payload)
      : factory_(factory), space_(size_t(dim)), dim_(dim) {
    parse(factory.substr(8));
    // hnswlib reads from a path only: go through a private temporary file
    auto tmp = std::filesystem::temp_directory_path() /
               ("facerec-hnsw-" + std::to_string(::getpid()) + "-" + std::to_string(reinterpret_cast<uintptr_t>(this)));
    std::ofstream(tmp, std::ios::binary)
        .write(reinterpret_cast<const char*>(payload.data()), std::streamsize(payload.size()));
    try {
      index_ = std::make_unique<hnswlib::HierarchicalNSW<float>>(&space_, tmp.string());
    } catch (const std::exception& e) {
      std::filesystem::remove(tmp);
      throw Error(ErrorKind::BadModel, std::string("index file (hnswlib): ") + e.what());
    }
    std::filesystem::remove(tmp);
    index_->setEf(ef_);
  }
  int dim() const override { return dim_; }
  size_t size() const override { return index_->cur_element_count; }
  std::string description() const override { return factory_; }
  bool is_trained() const override { return true; }
  void train(const float*, size_t) override {}
  void add(const int64_t* ids, const float* x, size_t n) override {
    size_t need = index_->cur_element_count + n;
    if (need > index_->max_elements_) index_->resizeIndex(std::max(need, index_->max_elements_ * 2));
    for (size_t i = 0; i < n; ++i) index_->addPoint(x + i * size_t(dim_), hnswlib::labeltype(ids[i]));
  }
  std::vector<SearchHit> search(const float* q, int k) const override {
    std::vector<SearchHit> out(size_t(std::max(k, 0)));
    if (k <= 0 || size() == 0) return out;
    auto pq = index_->searchKnn(q, size_t(k));
    size_t m = pq.size();
    while (!pq.empty()) {  // largest distance first
      out[--m] = {int64_t(pq.top().second), 1.f - pq.top().first};
      pq.pop();
    }
    return out;
  }
  size_t memory_bytes() const override { return index_->max_elements_ * index_->size_data_per_element_ + size() * 16; }
  void save_payload(std::ostream& o) const override {
    auto tmp = std::filesystem::temp_directory_path() / ("facerec-hnsw-save-" + std::to_string(::getpid()) + "-" +
                                                         std::to_string(reinterpret_cast<uintptr_t>(this)));
    index_->saveIndex(tmp.string());
    std::ifstream in(tmp, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), {});
    std::filesystem::remove(tmp);
    put_bytes(o, bytes.data(), bytes.size());
  }

 private:
  void parse(const std::string& spec) {  // "M=32,ef=64,efc=100" in any order, all optional
    std::stringstream ss(spec);
    for (std::string kv; std::getline(ss, kv, ',');) {
      auto eq = kv.find('=');
      size_t v = 0;
      try {
        if (eq == std::string::npos) throw std::invalid_argument(kv);
        v = std::stoul(kv.substr(eq + 1));
      } catch (const std::exception&) {
        throw Error(ErrorKind::InvalidArgument, "index '" + factory_ + "': expected key=number, got '" + kv + "'");
      }
      std::string k = kv.substr(0, eq);
      if (k == "M" && v >= 2 && v <= 128)
        m_ = v;
      else if (k == "ef" && v >= 1 && v <= 100000)
        ef_ = v;
      else if (k == "efc" && v >= 1 && v <= 100000)
        ef_construction_ = v;
      else
        throw Error(ErrorKind::InvalidArgument,
                    "index '" + factory_ + "': unknown or out-of-range '" + kv + "' (M, ef, efc)");
    }
  }
  std::string factory_;
  hnswlib::InnerProductSpace space_;
  int dim_;
  size_t m_ = 16, ef_ = 64, ef_construction_ = 100;
  std::unique_ptr<hnswlib::HierarchicalNSW<float>> index_;
};

}  // namespace

std::string blas_description() {
  // OpenBLAS's libblas.so.3 loads libopenblas.so.0, which names itself; the reference BLAS has no such symbols
  using Config = const char* (*)();
  using Parallel = int (*)();
  auto config = reinterpret_cast<Config>(dlsym(RTLD_DEFAULT, "openblas_get_config"));
  if (!config) return "reference BLAS (unoptimised: install libopenblas0-openmp; scripts/setup.sh does)";
  auto parallel = reinterpret_cast<Parallel>(dlsym(RTLD_DEFAULT, "openblas_get_parallel"));
  int p = parallel ? parallel() : -1;
  std::string c = config();  // "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH ... SkylakeX MAX_THREADS=64"
  if (c.rfind("OpenBLAS", 0) != 0) c = "OpenBLAS " + c;
  return c + (p == 2 ? ", OpenMP" : p == 1 ? ", pthreads" : p == 0 ? ", sequential" : "");
}

std::string canonical_index_factory(const std::string& factory) { return factory == "hnswlib" ? "hnswlib:" : factory; }

std::unique_ptr<SearchIndex> make_index(const std::string& factory, int dim) {
  if (factory == "Flat") return std::make_unique<FlatIndex>(dim);
  if (factory.rfind("faiss:", 0) == 0) return std::make_unique<FaissIndex>(factory, dim);
  if (factory == "hnswlib" || factory.rfind("hnswlib:", 0) == 0)
    return std::make_unique<HnswlibIndex>(canonical_index_factory(factory), dim);
  throw Error(ErrorKind::InvalidArgument,
              "unknown index '" + factory +
                  "' (use Flat, hnswlib:M=16,ef=64 or faiss:<factory>, e.g. faiss:IVF1024,PQ32;nprobe=16)");
}

size_t training_size(const std::string& factory) {
  if (factory.rfind("faiss:", 0) != 0) return 0;
  size_t need = 0;
  std::smatch m;
  std::string spec =
      factory.substr(6, factory.find(';') == std::string::npos ? std::string::npos : factory.find(';') - 6);
  if (std::regex_search(spec, m, std::regex("IVF(\\d+)"))) need = std::max<size_t>(need, std::stoul(m[1]) * 39);
  if (std::regex_search(spec, m, std::regex("PQ\\d+(x(\\d+))?"))) {
    size_t bits = m[2].matched ? std::stoul(m[2]) : 8;
    need = std::max<size_t>(need, size_t(1) << std::min<size_t>(bits, 16));
  }
  return need;
}

namespace {
std::unique_ptr<SearchIndex> load_body(std::istream& in, bool checked);
}

void save_index(const SearchIndex& ix, std::ostream& o) {
  std::ostringstream body;
  std::string f = ix.description();
  put_bytes(body, f.data(), f.size());
  put(body, int32_t(ix.dim()));
  ix.save_payload(body);
  std::string b = body.str();
  std::string sum = detail::sha256_hex(b);
  o.write(kMagic, 4);
  put(o, kFormat);
  put(o, uint64_t(b.size()));
  o.write(sum.data(), std::streamsize(sum.size()));
  o.write(b.data(), std::streamsize(b.size()));
  if (!o) throw Error(ErrorKind::Io, "writing the index failed");
}

std::unique_ptr<SearchIndex> load_index(std::istream& in) {
  char magic[4] = {};
  if (!in.read(magic, 4) || std::memcmp(magic, kMagic, 4) != 0)
    throw Error(ErrorKind::BadModel, "not a facerec index file (bad magic)");
  auto version = get<uint32_t>(in);
  if (version < 1 || version > kFormat)
    throw Error(ErrorKind::BadModel, "index file format " + std::to_string(version) + " is newer than this facerec");
  if (version >= 2) {
    auto n = get<uint64_t>(in);
    if (n > (uint64_t(1) << 36)) throw Error(ErrorKind::BadModel, "index file declares an implausible size");
    std::string sum(64, '\0');
    if (!in.read(sum.data(), 64)) throw Error(ErrorKind::BadModel, "index file is truncated");
    auto bytes = read_exact<char>(in, n);
    std::string body(bytes.begin(), bytes.end());
    if (detail::sha256_hex(body) != sum)
      throw Error(ErrorKind::BadModel, "index file is damaged (its checksum does not match)");
    std::istringstream checked(body);
    return load_body(checked, true);
  }
  return load_body(in, false);
}

namespace {
std::unique_ptr<SearchIndex> load_body(std::istream& in, bool checked) {
  auto fb = get_bytes(in, 4096);
  std::string factory(fb.begin(), fb.end());
  int dim = get<int32_t>(in);
  check_dim(dim);
  if (factory == "Flat") {
    auto ix = std::make_unique<FlatIndex>(dim);
    ix->load(in);
    return ix;
  }
  if (!checked)  // format 1: no checksum; never hand unchecked bytes to FAISS or hnswlib
    throw Error(ErrorKind::BadModel,
                "index file of format 1 for '" + factory + "' has no checksum; it is rebuilt from the gallery");
  if (factory.rfind("faiss:", 0) == 0)
    return std::make_unique<FaissIndex>(factory, dim, get_bytes(in, uint64_t(1) << 36));
  if (factory.rfind("hnswlib:", 0) == 0)
    return std::make_unique<HnswlibIndex>(factory, dim, get_bytes(in, uint64_t(1) << 36));
  throw Error(ErrorKind::BadModel, "index file names an unknown index type '" + factory + "'");
}
}  // namespace

}  // namespace facerec
