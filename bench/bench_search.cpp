// 1:N search at scale: exact (Flat) vs FAISS HNSW and IVF-PQ, side by side in one run.
// For each gallery size: build time, memory per template, search latency p50/p99 (one query at a
// time, one thread, as a service request would) and recall@1 against exact search (the same
// identity ranked first).
//
// Synthetic galleries are shaped like real embeddings: identity centres drawn around the mean of
// the real LFW embeddings (from the evaluation cache) with a spread that reproduces the real
// impostor cosine, and templates around each centre with a spread that reproduces the real
// genuine cosine. The real LFW embeddings are searched too (1:N protocol: first image enrolled).
//
//   build/bench/bench_search [--sizes 10000,100000,1000000] [--queries 1000] [--indexes Flat,HNSW,IVF]
//                            [--lfw-cache FILE]
#include <facerec/error.hpp>
#include <facerec/eval/dataset.hpp>
#include <facerec/eval/eval.hpp>
#include <facerec/gallery/index.hpp>

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "bench_util.hpp"

using namespace facerec;
using Clock = std::chrono::steady_clock;

namespace {

struct Set {
  int dim = 128;
  std::vector<float> x;  // n x dim
  std::vector<int> owner;
  size_t n() const { return owner.size(); }
  const float* row(size_t i) const { return x.data() + i * size_t(dim); }
};

void normalise(float* v, int d) {
  double s = 0;
  for (int i = 0; i < d; ++i) s += double(v[i]) * v[i];
  float inv = float(1 / std::sqrt(s));
  for (int i = 0; i < d; ++i) v[i] *= inv;
}

double dot(const float* a, const float* b, int d) {
  double s = 0;
  for (int i = 0; i < d; ++i) s += double(a[i]) * b[i];
  return s;
}

struct Shape {
  std::vector<float> mean;  // mean embedding
  float centre_spread = 1, template_spread = 0.3f;
  double impostor_cos = 0, genuine_cos = 0;  // targets (real) or achieved
};

// Synthetic gallery: `n` templates, 1-5 per identity.
Set synth(const Shape& s, size_t n, uint32_t seed, std::vector<float>* centres_out = nullptr) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0, 1);
  Set out;
  out.dim = int(s.mean.size());
  out.x.reserve(n * size_t(out.dim));
  std::vector<float> c(size_t(out.dim)), v(size_t(out.dim));
  int id = 0;
  while (out.n() < n) {
    for (int k = 0; k < out.dim; ++k) c[size_t(k)] = s.mean[size_t(k)] + s.centre_spread * g(rng);
    normalise(c.data(), out.dim);
    if (centres_out) centres_out->insert(centres_out->end(), c.begin(), c.end());
    int per = 1 + int(rng() % 5);
    for (int t = 0; t < per && out.n() < n; ++t) {
      for (int k = 0; k < out.dim; ++k) v[size_t(k)] = c[size_t(k)] + s.template_spread * g(rng);
      normalise(v.data(), out.dim);
      out.x.insert(out.x.end(), v.begin(), v.end());
      out.owner.push_back(id);
    }
    ++id;
  }
  return out;
}

// Average genuine / impostor cosine of a synthetic shape (sampled).
void measure(Shape& s) {
  auto set = synth(s, 4000, 99);
  std::mt19937 rng(5);
  double gi = 0, ii = 0;
  int gn = 0, in = 0;
  for (int t = 0; t < 20000; ++t) {
    size_t a = rng() % set.n(), b = rng() % set.n();
    if (a == b) continue;
    double c = dot(set.row(a), set.row(b), set.dim);
    if (set.owner[a] == set.owner[b]) {
      gi += c;
      ++gn;
    } else {
      ii += c;
      ++in;
    }
  }
  for (size_t a = 0; a + 1 < set.n(); ++a)
    if (set.owner[a] == set.owner[a + 1]) {
      gi += dot(set.row(a), set.row(a + 1), set.dim);
      ++gn;
    }
  s.genuine_cos = gn ? gi / gn : 0;
  s.impostor_cos = in ? ii / in : 0;
}

// Fits the two spreads to the real genuine / impostor cosines (bisection on each, alternating).
Shape fit(const std::vector<float>& mean, double genuine, double impostor) {
  Shape s;
  s.mean = mean;
  for (int round = 0; round < 3; ++round) {
    double lo = 0.001, hi = 1.0;
    for (int it = 0; it < 16; ++it) {
      s.centre_spread = float((lo + hi) / 2);
      measure(s);
      (s.impostor_cos > impostor ? lo : hi) = s.centre_spread;
    }
    lo = 0.001, hi = 1.0;
    for (int it = 0; it < 16; ++it) {
      s.template_spread = float((lo + hi) / 2);
      measure(s);
      (s.genuine_cos > genuine ? lo : hi) = s.template_spread;
    }
  }
  measure(s);
  return s;
}

struct Row {
  std::string data, index;
  size_t n = 0;
  double build_s = 0, bytes_per = 0, p50_us = 0, p99_us = 0, recall = 0;
};

Row run(const std::string& data, const std::string& factory, const Set& gallery, const Set& queries,
        const std::vector<int>& exact_top) {
  Row r{data, factory, gallery.n()};
  auto t0 = Clock::now();
  auto ix = make_index(factory, gallery.dim);
  std::vector<int64_t> ids(gallery.n());
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = int64_t(i);
  if (!ix->is_trained()) {
    size_t train_n = std::min(gallery.n(), std::max<size_t>(training_size(factory), 20000));
    ix->train(gallery.x.data(), train_n);  // a prefix: identities are in random order
  }
  ix->add(ids.data(), gallery.x.data(), gallery.n());
  r.build_s = std::chrono::duration<double>(Clock::now() - t0).count();
  r.bytes_per = double(ix->memory_bytes()) / double(gallery.n());
  std::vector<double> us;
  int hits = 0;
  omp_set_num_threads(1);  // a request searches on one thread
  for (size_t q = 0; q < queries.n(); ++q) {
    auto s = Clock::now();
    auto h = ix->search(queries.row(q), 1);
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - s).count());
    if (h[0].id >= 0 && gallery.owner[size_t(h[0].id)] == exact_top[q]) ++hits;
  }
  omp_set_num_threads(2);
  std::sort(us.begin(), us.end());
  r.p50_us = us[us.size() / 2];
  r.p99_us = us[std::min(us.size() - 1, size_t(double(us.size()) * 0.99))];
  r.recall = double(hits) / double(queries.n());
  std::fprintf(stderr, "  %-34s %9zu  build %7.1f s  %6.0f B/template  p50 %8.1f us  p99 %8.1f us  recall@1 %.4f\n",
               factory.c_str(), r.n, r.build_s, r.bytes_per, r.p50_us, r.p99_us, r.recall);
  return r;
}

std::vector<int> exact_owner(const Set& gallery, const Set& queries) {
  auto ix = make_index("Flat", gallery.dim);
  std::vector<int64_t> ids(gallery.n());
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = int64_t(i);
  ix->add(ids.data(), gallery.x.data(), gallery.n());
  std::vector<int> top(queries.n());
  for (size_t q = 0; q < queries.n(); ++q) top[q] = gallery.owner[size_t(ix->search(queries.row(q), 1)[0].id)];
  return top;
}

using facerec::bench::split;

std::vector<std::string> factories_all(size_t n);
std::string only;  // --indexes: comma-separated substrings; empty = all

std::vector<std::string> factories(size_t n) {
  std::vector<std::string> all = factories_all(n), out;
  for (const auto& f : all) {
    bool keep = only.empty();
    for (const auto& part : split(only)) keep = keep || f.find(part) != std::string::npos;
    if (keep) out.push_back(f);
  }
  return out;
}

std::vector<std::string> factories_all(size_t n) {
  int nlist = n <= 20000 ? 64 : n <= 200000 ? 256 : 1024;
  std::vector<std::string> f = {"Flat", "faiss:IVF" + std::to_string(nlist) + ",PQ32;nprobe=32"};
  // HNSW graphs take about 1.3 ms per insert on this machine (hnswlib), FAISS's more (Debian builds
  // FAISS with scalar distance code): built up to 200k templates
  if (n <= 200000) {
    f.push_back("hnswlib:M=16,ef=64");
    f.push_back("hnswlib:M=32,ef=128");
  }
  if (n <= 20000) f.push_back("faiss:HNSW32;efSearch=64");
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  std::printf("BLAS: %s\n", blas_description().c_str());
  std::vector<size_t> sizes = {10000, 100000, 1000000};
  size_t nq = 1000;
  std::string cache;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--sizes") {
      sizes.clear();
      for (const auto& part : split(argv[i + 1])) sizes.push_back(std::stoul(part));
    } else if (a == "--queries") {
      nq = std::stoul(argv[i + 1]);
    } else if (a == "--indexes") {
      only = argv[i + 1];
    } else if (a == "--lfw-cache") {
      cache = argv[i + 1];
    }
  }
  // real LFW embeddings (dlib ResNet + flip, a component of the default), as `facerec eval lfw` cached them
  if (cache.empty()) {
    DatasetEmbedOptions o;
    o.variants = {EmbeddingVariant{"face_recognition_model", true}};
    auto lfw = std::filesystem::path(FACEREC_SOURCE_DIR).parent_path() / "shared" / "data" / "lfw" / "images";
    cache = embedding_cache_file(Manifest::load_default(), lfw, o, 0).string();
  }
  std::map<std::string, std::vector<float>> real;  // found images only
  if (!cache.empty())
    for (auto& [name, e] : load_embedding_cache(cache))
      if (e.found) real[name] = std::move(e.embedding);
  std::vector<float> mean(128, 0.f);
  double genuine = 0.93, impostor = 0.80;
  if (real.size() > 1000) {
    int d = int(real.begin()->second.size());
    mean.assign(size_t(d), 0.f);
    for (const auto& [k, v] : real)
      for (int i = 0; i < d; ++i) mean[size_t(i)] += v[size_t(i)] / float(real.size());
    std::mt19937 rng(1);
    std::vector<const std::pair<const std::string, std::vector<float>>*> items;
    for (const auto& kv : real) items.push_back(&kv);
    double gi = 0, ii = 0;
    int gn = 0, in = 0;
    for (size_t a = 0; a + 1 < items.size(); ++a) {
      const auto &x = *items[a], &y = *items[a + 1];
      if (identity_of(x.first) == identity_of(y.first)) {
        gi += dot(x.second.data(), y.second.data(), d);
        ++gn;
      }
      const auto& z = *items[rng() % items.size()];
      if (identity_of(x.first) != identity_of(z.first)) {
        ii += dot(x.second.data(), z.second.data(), d);
        ++in;
      }
    }
    genuine = gi / gn;
    impostor = ii / in;
    std::fprintf(stderr, "real embeddings: %zu from %s; mean genuine cosine %.4f, impostor %.4f\n", real.size(),
                 cache.c_str(), genuine, impostor);
  } else {
    std::fprintf(stderr, "no LFW embedding cache found (run facerec eval lfw first); synthetic shape uses defaults\n");
  }
  Shape shape = fit(mean, genuine, impostor);
  std::fprintf(stderr, "synthetic shape: centre spread %.4f, template spread %.4f -> genuine %.4f, impostor %.4f\n",
               double(shape.centre_spread), double(shape.template_spread), shape.genuine_cos, shape.impostor_cos);

  std::vector<Row> rows;
  if (real.size() > 1000) {  // LFW 1:N: first image per person enrolled, the others searched
    Set g, q;
    g.dim = q.dim = int(mean.size());
    std::map<std::string, int> ids;
    for (const auto& [k, v] : real) {
      auto who = identity_of(k);
      bool first = !ids.count(who);
      int id = first ? (ids[who] = int(ids.size())) : ids[who];
      Set& s = first ? g : q;
      s.x.insert(s.x.end(), v.begin(), v.end());
      s.owner.push_back(id);
    }
    std::fprintf(stderr, "LFW real: %zu templates, %zu queries\n", g.n(), q.n());
    auto top = exact_owner(g, q);
    for (const auto& f : factories(g.n())) rows.push_back(run("LFW real", f, g, q, top));
  }
  for (size_t n : sizes) {
    std::vector<float> centres;
    Set g = synth(shape, n, 42, &centres);
    // queries: fresh templates of enrolled identities (spread as real probes)
    Set q;
    q.dim = g.dim;
    std::mt19937 rng(7);
    std::normal_distribution<float> gn(0, 1);
    size_t identities = centres.size() / size_t(g.dim);
    std::vector<float> v(size_t(g.dim));
    for (size_t i = 0; i < nq; ++i) {
      size_t c = rng() % identities;
      for (int k = 0; k < g.dim; ++k)
        v[size_t(k)] = centres[c * size_t(g.dim) + size_t(k)] + shape.template_spread * gn(rng);
      normalise(v.data(), g.dim);
      q.x.insert(q.x.end(), v.begin(), v.end());
      q.owner.push_back(int(c));
    }
    std::fprintf(stderr, "synthetic: %zu templates of %zu identities, %zu queries\n", n, identities, nq);
    auto top = exact_owner(g, q);
    for (const auto& f : factories(n)) rows.push_back(run("synthetic", f, g, q, top));
  }
  std::printf("| data | templates | index | build s | bytes/template | p50 us | p99 us | recall@1 vs exact |\n");
  std::printf("|---|---:|---|---:|---:|---:|---:|---:|\n");
  for (const auto& r : rows)
    std::printf("| %s | %zu | %s | %.1f | %.0f | %.1f | %.1f | %.4f |\n", r.data.c_str(), r.n, r.index.c_str(),
                r.build_s, r.bytes_per, r.p50_us, r.p99_us, r.recall);
  return 0;
}
