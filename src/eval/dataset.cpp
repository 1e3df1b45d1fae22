// Dataset embedding for the evaluations: shared detection + landmarks, several embedders, cache.
#include <facerec/detect.hpp>
#include <facerec/embed.hpp>
#include <facerec/error.hpp>
#include <facerec/eval/dataset.hpp>
#include <facerec/image.hpp>
#include <facerec/landmarks.hpp>
#include <facerec/models.hpp>

#include "common/fs.hpp"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <fstream>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

namespace facerec {
namespace {

std::string fmt_float(float v) { return std::to_string(v); }

// What the networks are, not only their names: a model re-quantised, re-trained or re-imported under
// the same name is another cache. The key is stable from one run to the next; v4 added the model
// versions, so caches keyed by names alone (v3, release 0.1 and 0.2) are embedded again once; v5:
// the short-range BlazeFace runs one pass (no tiles) and "a>b" is the portrait-aware cascade.
std::string model_versions(const Manifest& m, const AnalyzerOptions& o, const EmbeddingVariant& v) {
  auto version = [&](const std::string& name) {
    try {
      return m.model_version(name);
    } catch (const Error&) {
      return name;  // "none", or a name the manifest lacks (the stage refuses it later)
    }
  };
  std::string s = version(v.embedder) + "," + version(o.landmarker.model) + "," + version(o.detector.verifier) + "," +
                  version(o.detector.close_range_model);
  for (const auto& d : detector_models(o.detector.model)) s += "," + version(d);
  return s;
}

std::string cache_key(const Manifest& m, const AnalyzerOptions& o, const EmbeddingVariant& v, const std::string& root,
                      const DatasetEmbedOptions& opt) {
  std::string k = model_versions(m, o, v) + "|" + o.detector.model + "+" + o.detector.close_range_model + "-fallback|" +
                  std::to_string(o.detector.min_face) + "|" + fmt_float(o.detector.score_threshold) + "|" +
                  o.landmarker.model + "|" + fmt_float(o.landmarker.crop_scale) + "|" +
                  std::to_string(o.landmarker.passes) + "|" + fmt_float(o.landmarker.refine_scale) +
                  (o.landmarker.flip ? "|lmflip|" : "|") + o.detector.verifier + "|" +
                  fmt_float(o.detector.verify_threshold) + "|" + v.embedder + v.suffix() + "|" + o.detector.backend +
                  "|" + root + "|v5";
  if (opt.degraded) {
    const auto& r = opt.degradation;
    k += "|degraded:" + std::to_string(r.seed) + "," + fmt_float(r.iod_min) + "," + fmt_float(r.iod_max) + "," +
         fmt_float(r.motion_share) + "," + fmt_float(r.gaussian_sigma_min) + "," + fmt_float(r.gaussian_sigma_max) +
         "," + fmt_float(r.motion_length_min) + "," + fmt_float(r.motion_length_max) + "," + fmt_float(r.gain_min) +
         "," + fmt_float(r.gain_max) + "," + fmt_float(r.gamma_min) + "," + fmt_float(r.gamma_max) + "," +
         fmt_float(r.noise_min) + "," + fmt_float(r.noise_max) + "," + std::to_string(r.jpeg_min) + "," +
         std::to_string(r.jpeg_max) + "|d1";
  }
  return std::to_string(std::hash<std::string>{}(k));
}

void append_cache(std::ostream& out, const std::string& name, const ImageEmbedding& e) {
  uint32_t n = uint32_t(name.size()), d = uint32_t(e.found ? e.embedding.size() : 0);
  out.write(reinterpret_cast<const char*>(&n), 4);
  out.write(name.data(), n);
  out.write(reinterpret_cast<const char*>(&d), 4);
  out.write(reinterpret_cast<const char*>(e.embedding.data()), std::streamsize(d * 4));
  out.flush();
}

// Quality measurements are cached in the embedding cache's record format: the values of
// QualityMeasures in place of an embedding (no values: no face).
ImageEmbedding quality_record(const std::optional<QualityMeasures>& m) {
  if (!m) return {};
  auto v = m->values();
  return {true, std::vector<float>(v.begin(), v.end())};
}

// name -> measures (found) or nullopt (no face); a record of another length is left out (measured again)
std::map<std::string, std::optional<QualityMeasures>> load_quality_cache(const std::filesystem::path& p) {
  std::map<std::string, std::optional<QualityMeasures>> out;
  for (const auto& [name, e] : load_embedding_cache(p)) {
    if (!e.found) {
      out[name] = std::nullopt;
    } else if (e.embedding.size() == QualityMeasures::kCount) {
      std::array<float, QualityMeasures::kCount> v{};
      std::copy(e.embedding.begin(), e.embedding.end(), v.begin());
      out[name] = QualityMeasures::from_values(v);
    }
  }
  return out;
}

}  // namespace

// Cache file: records of (u32 name length, name, u32 dims (0 = no face), dims floats), appended.
// A torn last record (the process was killed while writing) is ignored on load.
EmbeddingTable load_embedding_cache(const std::filesystem::path& p) {
  EmbeddingTable m;
  std::ifstream in(p, std::ios::binary);
  while (in) {
    uint32_t n = 0, d = 0;
    if (!in.read(reinterpret_cast<char*>(&n), 4) || n > 4096) break;
    std::string name(n, '\0');
    if (!in.read(name.data(), n)) break;
    if (!in.read(reinterpret_cast<char*>(&d), 4) || d > 4096) break;
    ImageEmbedding e;
    e.found = d > 0;
    e.embedding.resize(d);
    if (!in.read(reinterpret_cast<char*>(e.embedding.data()), std::streamsize(d * 4))) break;
    m[name] = std::move(e);
  }
  return m;
}

std::filesystem::path embedding_cache_file(const Manifest& manifest, const std::filesystem::path& root,
                                           const DatasetEmbedOptions& opt, size_t k) {
  if (k >= opt.variants.size()) throw Error(ErrorKind::InvalidArgument, "embedding_cache_file: no such variant");
  auto dir = opt.cache_dir.empty() ? default_embedding_cache_dir() : opt.cache_dir;
  // the same folder however it is spelled ("a/../b", symlinks): one cache
  std::error_code ec;
  auto canonical = std::filesystem::weakly_canonical(std::filesystem::absolute(root), ec);
  auto path = dir / ((opt.degraded ? "low-" : "lfw-") +
                     cache_key(manifest, opt.pipeline, opt.variants[k],
                               (ec ? std::filesystem::absolute(root) : canonical).string(), opt) +
                     ".bin");
  // caches written before the key used the canonical path are adopted
  auto legacy =
      dir /
      ((opt.degraded ? "low-" : "lfw-") +
       cache_key(manifest, opt.pipeline, opt.variants[k], std::filesystem::absolute(root).string(), opt) + ".bin");
  if (legacy != path && !std::filesystem::exists(path) && std::filesystem::exists(legacy))
    std::filesystem::rename(legacy, path, ec);
  return path;
}

void write_embedding_table(const std::filesystem::path& file, const EmbeddingTable& table) {
  std::ostringstream out;
  for (const auto& [name, e] : table) append_cache(out, name, e);
  detail::write_file_atomic(file, out.str());
}

std::filesystem::path default_embedding_cache_dir() { return models_dir().parent_path() / "embeddings"; }

namespace {

// embed_dataset for plain (not fused) embedders.
DatasetEmbedResult embed_plain(const Manifest& manifest, const std::filesystem::path& root,
                               const std::vector<std::string>& images, const DatasetEmbedOptions& opt) {
  DatasetEmbedResult res;
  res.tables.resize(opt.variants.size());
  if (!opt.cache_dir.empty()) {
    std::filesystem::create_directories(opt.cache_dir);
    for (size_t k = 0; k < opt.variants.size(); ++k) {
      auto path = embedding_cache_file(manifest, root, opt, k);
      res.cache_files.push_back(path);
      res.tables[k] = load_embedding_cache(path);
    }
  }
  // quality measurements: cached beside the first variant's embeddings (they depend on the
  // detector and landmarks only, which every variant shares)
  std::map<std::string, std::optional<QualityMeasures>> measured;
  std::filesystem::path quality_file;
  if (opt.quality && !res.cache_files.empty()) {
    quality_file = res.cache_files[0].parent_path() / ("quality-" + res.cache_files[0].filename().string());
    measured = load_quality_cache(quality_file);
  }
  std::vector<std::string> todo;
  for (const auto& img : std::set<std::string>(images.begin(), images.end())) {
    bool missing = opt.quality && !measured.count(img);
    for (const auto& t : res.tables) missing = missing || !t.count(img);
    if (missing) todo.push_back(img);
  }
  res.computed = todo.size();
  auto keep_measured = [&] {
    for (const auto& [name, m] : measured)
      if (m) res.quality[name] = *m;
  };
  if (todo.empty()) {
    keep_measured();
    return res;
  }
  std::ofstream quality_out;
  if (!quality_file.empty()) {
    quality_out.open(quality_file, std::ios::binary | std::ios::app);
    if (!quality_out) throw Error(ErrorKind::Io, "cannot write the quality cache " + quality_file.string());
  }

  std::vector<std::ofstream> outs(res.cache_files.size());
  for (size_t k = 0; k < outs.size(); ++k) {
    outs[k].open(res.cache_files[k], std::ios::binary | std::ios::app);
    if (!outs[k]) throw Error(ErrorKind::Io, "cannot write the embedding cache " + res.cache_files[k].string());
  }
  std::mutex mu;
  std::atomic<size_t> next{0}, done{0};
  std::exception_ptr failure;
  AnalyzerOptions o = opt.pipeline;
  o.detector.threads = o.landmarker.threads = o.embedder.threads = 1;  // parallel over images instead
  auto worker = [&] {
    try {
      auto det = make_detector(manifest, o.detector);
      auto lm = make_landmarker(manifest, o.landmarker);
      std::map<std::string, std::unique_ptr<FaceEmbedder>> embedders;
      bool any_flip = false, any_zoom = false;
      for (const auto& v : opt.variants) {
        any_flip = any_flip || v.flip;
        any_zoom = any_zoom || v.zoom;
        if (!embedders.count(v.embedder)) {
          EmbedderOptions eo = o.embedder;
          eo.model = v.embedder;
          eo.flip = eo.zoom = false;  // the variants are formed here from the same crops
          embedders[v.embedder] = make_embedder(manifest, eo);
        }
      }
      for (size_t i; (i = next++) < todo.size() && !failure;) {
        std::vector<ImageEmbedding> results(opt.variants.size());
        std::optional<QualityMeasures> quality;
        std::string error;
        try {
          auto img = decode_image_file((root / todo[i]).string());
          cv::Mat bgr = img.bgr;
          if (opt.degraded) {
            // the face's size in the original decides how far to scale down
            auto clean = det->detect(bgr);
            const Detection* c = nearest_to_centre(clean, bgr.size());
            if (!c) throw Error(ErrorKind::InvalidArgument, "no face in the original");
            float iod = 0;
            if (c->keypoints.size() >= 2) {
              iod = float(cv::norm(c->keypoints[0] - c->keypoints[1]));
            } else {  // a detector without keypoints (FaceBoxes): the landmarks' eye centres
              FivePoints eyes = five_points(lm->landmarks(bgr, *c), *c);
              iod = float(cv::norm(eyes[0] - eyes[1]));
            }
            bgr = degrade(bgr, std::max(iod, 1.0f), draw_degradation(opt.degradation, todo[i]));
          }
          auto dets = det->detect(bgr);
          if (const Detection* c = nearest_to_centre(dets, bgr.size())) {
            auto points = lm->landmarks(bgr, *c);
            FivePoints five = five_points(points, *c);
            if (opt.quality) quality = measure_quality(bgr, five, c->score);
            // per embedder: the unit embeddings of the crop, its mirror image, the zoomed crop and
            // its mirror image (those some variant needs)
            std::map<std::string, std::array<std::vector<float>, 4>> per;
            for (auto& [name, emb] : embedders) {
              auto views = tta_views(emb->align(bgr, five, points), any_flip, any_zoom);
              for (size_t j = 0; j < views.size(); ++j)
                if (!views[j].empty()) per[name][j] = emb->embed(views[j]);
            }
            for (size_t k = 0; k < opt.variants.size(); ++k) {
              const auto& v = opt.variants[k];
              results[k].found = true;
              results[k].embedding = combine_tta(per[v.embedder], v.flip, v.zoom);  // as FaceEmbedder does
            }
          } else {
            error = "no face found";
          }
        } catch (const Error& err) {
          if (err.kind() != ErrorKind::InvalidArgument && err.kind() != ErrorKind::BadInput &&
              err.kind() != ErrorKind::NotFound)
            throw;
          error = err.what();
        }
        std::lock_guard lock(mu);
        for (size_t k = 0; k < opt.variants.size(); ++k) {
          if (k < outs.size()) append_cache(outs[k], todo[i], results[k]);
          res.tables[k][todo[i]] = std::move(results[k]);
        }
        if (opt.quality) {
          if (quality_out.is_open()) append_cache(quality_out, todo[i], quality_record(quality));
          measured[todo[i]] = quality;
        }
        if (!error.empty() && opt.on_error) opt.on_error(todo[i], error);
        size_t d = ++done;
        if (opt.progress) opt.progress(d, todo.size());
      }
    } catch (...) {
      std::lock_guard lock(mu);
      if (!failure) failure = std::current_exception();
    }
  };
  std::vector<std::thread> threads;
  for (int w = 0; w < std::max(1, opt.workers); ++w) threads.emplace_back(worker);
  for (auto& t : threads) t.join();
  if (failure) std::rethrow_exception(failure);
  keep_measured();
  return res;
}

}  // namespace

DatasetEmbedResult embed_dataset(const Manifest& manifest, const std::filesystem::path& root,
                                 const std::vector<std::string>& images, const DatasetEmbedOptions& opt) {
  if (opt.variants.empty()) throw Error(ErrorKind::InvalidArgument, "embed_dataset: no embedder variant");
  // A fused variant is formed from its components' embeddings with the same test-time
  // augmentation: those are embedded (and cached) like any other variant, so that a changed
  // fusion recipe needs no new pass over the images.
  DatasetEmbedOptions plain = opt;
  plain.variants.clear();
  std::vector<std::vector<size_t>> parts(opt.variants.size());
  for (size_t k = 0; k < opt.variants.size(); ++k) {
    const auto& v = opt.variants[k];
    const auto& entry = manifest.model(v.embedder);
    std::vector<std::string> names{v.embedder};
    if (!entry.fuse.empty()) {
      names.clear();
      for (const auto& c : entry.fuse) names.push_back(c.model);
    }
    for (const auto& n : names) {
      EmbeddingVariant p{n, v.flip, v.zoom};
      auto it = std::find_if(plain.variants.begin(), plain.variants.end(),
                             [&](const EmbeddingVariant& x) { return x.name() == p.name(); });
      parts[k].push_back(size_t(it - plain.variants.begin()));
      if (it == plain.variants.end()) plain.variants.push_back(p);
    }
  }
  DatasetEmbedResult got = embed_plain(manifest, root, images, plain);
  DatasetEmbedResult res;
  res.computed = got.computed;
  res.cache_files = got.cache_files;
  res.quality = std::move(got.quality);
  for (size_t k = 0; k < opt.variants.size(); ++k) {
    const auto& entry = manifest.model(opt.variants[k].embedder);
    if (entry.fuse.empty()) {
      res.tables.push_back(got.tables[parts[k][0]]);
      continue;
    }
    std::vector<const EmbeddingTable*> components;
    for (size_t p : parts[k]) components.push_back(&got.tables[p]);
    res.tables.push_back(fuse_tables(entry.fuse, components));
  }
  return res;
}

EmbeddingTable fuse_tables(const std::vector<FusionComponent>& fuse, const std::vector<const EmbeddingTable*>& tables) {
  if (tables.size() != fuse.size() || tables.empty())
    throw Error(ErrorKind::InvalidArgument, "fuse_tables: one table per component");
  EmbeddingTable fused;
  for (const auto& [image, first] : *tables[0]) {
    ImageEmbedding e;
    std::vector<std::vector<float>> unit;
    e.found = true;
    for (const auto* t : tables) {
      auto it = t->find(image);
      e.found = e.found && it != t->end() && it->second.found;
      if (e.found) unit.push_back(it->second.embedding);
    }
    if (e.found) e.embedding = fuse_embeddings(fuse, unit);
    fused[image] = std::move(e);
  }
  return fused;
}

}  // namespace facerec
