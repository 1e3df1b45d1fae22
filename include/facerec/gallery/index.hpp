#pragma once
// facerec::SearchIndex — nearest-neighbour search over face templates by inner product (cosine for
// the L2-normalised embeddings facerec produces), behind one small interface with a factory
// string, after faiss's Index.
//
// Factory strings:
//   "Flat"                          exact search (facerec's own; vectorised inner products, top-k)
//   "hnswlib:M=16,ef=64,efc=100"    HNSW graph by hnswlib (SSE distance kernels), all keys optional
//   "faiss:<faiss factory>[;<params>]"  a FAISS index built by faiss::index_factory with the inner
//                                   product metric, e.g. "faiss:HNSW32;efSearch=128",
//                                   "faiss:IVF256,PQ16;nprobe=16", "faiss:Flat". <params> are set with
//                                   faiss::ParameterSpace (efSearch, nprobe, ...).
//
// Thread safety: const member functions (search, save, ...) may run concurrently with each other;
// add/train need exclusive access.
#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

namespace facerec {

// One result of SearchIndex::search. A plain value.
struct SearchHit {
  int64_t id = -1;  // -1: no hit (fewer than k vectors stored or found)
  float score = 0;  // inner product
};

// What it represents: vectors of dim() floats, each under a caller's id (see the file comment for
// the kinds and their thread safety).
class SearchIndex {
 public:
  virtual ~SearchIndex() = default;
  virtual int dim() const = 0;
  virtual size_t size() const = 0;              // vectors added
  virtual std::string description() const = 0;  // the factory string it was made from ("hnswlib" gives "hnswlib:")
  // Indexes that cluster or quantise (IVF, PQ) must be trained before add; others are always trained.
  virtual bool is_trained() const = 0;
  // Requires: n vectors of dim() floats. Throws Error(InvalidArgument) when n is too small to train.
  // A no-op for indexes that need no training.
  virtual void train(const float* x, size_t n) = 0;
  // Requires: n ids and n vectors of dim() floats; is_trained(); ids unique across adds.
  // Throws Error(InvalidArgument) when a FAISS index is not trained yet.
  virtual void add(const int64_t* ids, const float* x, size_t n) = 0;
  // Requires: dim() floats. Ensures: max(k, 0) entries: the hits, best first (ties by id for Flat),
  // then id -1 entries; Flat returns min(k, size()) hits, approximate indexes may return fewer.
  virtual std::vector<SearchHit> search(const float* query, int k) const = 0;
  // Approximate bytes held for the vectors and the structure.
  virtual size_t memory_bytes() const = 0;
  // The implementation's part of the file written by save_index.
  virtual void save_payload(std::ostream& out) const = 0;
};

// Writes "FRIX", u32 format version (2), u64 body length, the body's sha256 (64 hex characters),
// then the body: the factory string, dim, the index's payload. Throws Error(Io) when `out` fails.
void save_index(const SearchIndex& index, std::ostream& out);

// An empty index. Throws Error(InvalidArgument) naming the problem for an unknown or malformed
// factory string (or FAISS parameters), and for dim outside 1..65536.
std::unique_ptr<SearchIndex> make_index(const std::string& factory, int dim);
// The BLAS that FAISS (and, later, libtorch) call in this process — whatever libblas.so.3 points
// to: "OpenBLAS <version and build>, OpenMP" when it is OpenBLAS, else "reference BLAS (unoptimised:
// install libopenblas0-openmp; scripts/setup.sh does)". The reference BLAS is about 30x slower.
// Thread safe.
std::string blas_description();

// The factory string as the index built from it describes itself ("hnswlib" -> "hnswlib:"; others
// unchanged): what an index file is matched against.
std::string canonical_index_factory(const std::string& factory);
// Reads what save_index wrote, and format 1 (no checksum) for Flat indexes. Throws Error(BadModel)
// for a truncated, damaged (checksum), foreign or newer file, or a format-1 FAISS/hnswlib file (their
// readers trust their input, so no unchecked byte reaches them; a Gallery rebuilds such a file), and
// Error(InvalidArgument) for a stored dimension outside 1..65536 or (checksummed files) a
// malformed stored factory string.
std::unique_ptr<SearchIndex> load_index(std::istream& in);

// Minimum vectors needed to train an index made from `factory` (0 when it needs no training):
// an estimate from its IVF list count (39 per list, below which FAISS warns) and its PQ codebook
// size (2^bits). Pure.
size_t training_size(const std::string& factory);

}  // namespace facerec
