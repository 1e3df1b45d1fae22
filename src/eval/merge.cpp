// Dataset merging: identity centroids compared at a threshold calibrated on the inputs' own
// impostor identity pairs, mutual best matches merged, exclude-set matches left out, near-duplicate
// images found by image-pair similarity (see merge.hpp).
#include <facerec/error.hpp>
#include <facerec/eval/dataset.hpp>
#include <facerec/eval/merge.hpp>
#include <facerec/eval/report.hpp>

#include "common/dot.hpp"
#include "common/fs.hpp"

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <map>
#include <numeric>
#include <queue>
#include <set>
#include <thread>
#include <tuple>

namespace facerec {
namespace {

constexpr int kBins = 200;  // score histograms over [-1, 1]

int bin_of(double s) { return std::clamp(int((s + 1) / 2 * kBins), 0, kBins - 1); }

struct UnionFind {
  std::vector<int> parent;
  explicit UnionFind(size_t n) : parent(n) { std::iota(parent.begin(), parent.end(), 0); }
  int find(int i) { return parent[size_t(i)] == i ? i : parent[size_t(i)] = find(parent[size_t(i)]); }
  void join(int a, int b) {
    a = find(a), b = find(b);
    if (a != b) parent[size_t(std::max(a, b))] = std::min(a, b);  // the earlier identity leads
  }
};

std::vector<float> normalised(const std::vector<float>& v) {
  double n = 0;
  for (float x : v) n += double(x) * x;
  std::vector<float> out(v.size());
  if (n <= 0) return out;
  const float inv = float(1 / std::sqrt(n));
  for (size_t i = 0; i < v.size(); ++i) out[i] = v[i] * inv;
  return out;
}

// Runs f(i) for i in [0, n) on two threads (rows interleaved); f must only touch row i's output.
template <class F>
void for_rows(size_t n, F f) {
  std::thread t([&] {
    for (size_t i = 1; i < n; i += 2) f(i);
  });
  for (size_t i = 0; i < n; i += 2) f(i);
  t.join();
}

}  // namespace

std::vector<float> identity_centroid(const MergeIdentity& id) {
  std::vector<double> sum;
  size_t n = 0;
  for (const auto& e : id.embeddings) {
    if (e.empty()) continue;
    if (sum.empty()) sum.assign(e.size(), 0.0);
    if (e.size() != sum.size())
      throw Error(ErrorKind::InvalidArgument, "merge: identity " + id.name + " has embeddings of different lengths");
    const auto u = normalised(e);
    for (size_t k = 0; k < u.size(); ++k) sum[k] += u[k];
    ++n;
  }
  if (n == 0) return {};
  std::vector<float> mean(sum.begin(), sum.end());
  return normalised(mean);
}

MergePlan plan_merge(const std::vector<MergeIdentity>& ids, const std::vector<std::string>& names, int inputs,
                     const MergeOptions& o) {
  if (inputs < 1 || size_t(inputs) > names.size())
    throw Error(ErrorKind::InvalidArgument, "merge: needs at least one input dataset");
  if (!(o.fmr >= 0 && o.fmr < 1)) throw Error(ErrorKind::InvalidArgument, "merge: fmr must be in [0, 1)");
  if (!(o.duplicate_threshold > 0 && o.duplicate_threshold <= 1))
    throw Error(ErrorKind::InvalidArgument, "merge: duplicate_threshold must be in (0, 1]");
  const size_t n = ids.size();
  std::vector<std::vector<float>> cent(n);
  size_t dim = 0;
  for (size_t i = 0; i < n; ++i) {
    if (ids[i].dataset < 0 || size_t(ids[i].dataset) >= names.size())
      throw Error(ErrorKind::InvalidArgument, "merge: identity " + ids[i].name + " names no dataset");
    if (ids[i].embeddings.size() != ids[i].images.size())
      throw Error(ErrorKind::InvalidArgument, "merge: identity " + ids[i].name + ": one embedding slot per image");
    cent[i] = identity_centroid(ids[i]);
    if (cent[i].empty()) continue;
    if (dim == 0) dim = cent[i].size();
    if (cent[i].size() != dim) throw Error(ErrorKind::InvalidArgument, "merge: embeddings of different lengths");
  }
  auto is_input = [&](size_t i) { return ids[i].dataset < inputs; };
  MergePlan plan;
  plan.inputs = inputs;
  plan.impostor_histogram.assign(kBins, 0);
  plan.best_match_histogram.assign(kBins, 0);
  std::vector<size_t> with(names.size(), 0);
  for (size_t i = 0; i < n; ++i) {
    if (!cent[i].empty())
      ++with[size_t(ids[i].dataset)];
    else if (is_input(i))
      ++plan.without_centroid;
  }
  for (size_t d = 0; d < names.size(); ++d) {
    plan.impostor_pairs += with[d] * (with[d] > 0 ? with[d] - 1 : 0) / 2;
    if (int(d) < inputs)
      for (size_t e = d + 1; e < names.size(); ++e) plan.compared_pairs += with[d] * with[e];
  }

  // the impostor tail: every identity pair within one dataset (distinct folders, distinct people)
  const double N = double(plan.impostor_pairs);
  const bool calibrate = plan.compared_pairs > 0 && (std::isnan(o.threshold) || std::isnan(o.exclude_threshold));
  std::vector<OverlapDecision> tail;  // the highest impostor pairs, highest first
  constexpr double kFitLo = 100;      // the tail fit starts this many pairs down: above, label noise can dominate
  const double n_hi = std::max(1000.0, 1e-4 * N);
  double slope = 0, icept = 0;  // log(share at or above s) = icept + slope * s over the fitted range
  if (calibrate) {
    if (plan.impostor_pairs == 0)
      throw Error(ErrorKind::InvalidArgument,
                  "merge: no dataset has two identities with faces to calibrate the threshold on; give a threshold");
    // pass 1: the histogram of every impostor identity pair
    std::vector<std::vector<size_t>> row_hist(n);
    for_rows(n, [&](size_t i) {
      if (cent[i].empty()) return;
      auto& h = row_hist[i];
      h.assign(kBins, 0);
      for (size_t j = i + 1; j < n; ++j)
        if (ids[j].dataset == ids[i].dataset && !cent[j].empty())
          ++h[size_t(bin_of(detail::dot(cent[i].data(), cent[j].data(), dim)))];
    });
    for (const auto& h : row_hist)
      for (int x = 0; x < kBins && !h.empty(); ++x) plan.impostor_histogram[size_t(x)] += h[size_t(x)];
    // pass 2: the highest n_hi scores exactly (every pair in the bins that hold them)
    int floor_bin = kBins - 1;
    for (double cum = 0; floor_bin > 0; --floor_bin)
      if ((cum += double(plan.impostor_histogram[size_t(floor_bin)])) >= n_hi) break;
    const float floor_score = float(-1 + floor_bin * 2.0 / kBins);
    std::vector<std::vector<OverlapDecision>> row_tail(n);
    for_rows(n, [&](size_t i) {
      if (cent[i].empty()) return;
      for (size_t j = i + 1; j < n; ++j)
        if (ids[j].dataset == ids[i].dataset && !cent[j].empty()) {
          const float sc = detail::dot(cent[i].data(), cent[j].data(), dim);
          if (sc >= floor_score) row_tail[i].push_back({int(i), int(j), double(sc), ""});
        }
    });
    for (auto& r : row_tail) tail.insert(tail.end(), r.begin(), r.end());
    std::sort(tail.begin(), tail.end(), [](const auto& x, const auto& y) { return x.score > y.score; });
    if (double(tail.size()) >= n_hi) {
      // an exponential tail fitted from the 100th to the n_hi-th highest pair (cosines are bounded,
      // so the true tail falls faster and an extrapolated threshold errs high)
      double sx = 0, sy = 0, sxx = 0, sxy = 0;
      int m = 0;
      for (double r = kFitLo; r <= n_hi; r *= 1.1, ++m) {
        const double x = tail[size_t(r) - 1].score, y = std::log(r / N);
        sx += x, sy += y, sxx += x * x, sxy += x * y;
      }
      slope = (m * sxy - sx * sy) / (m * sxx - sx * sx);
      icept = (sy - slope * sx) / m;
    }
    char t[300];
    std::snprintf(t, sizeof t,
                  "impostor identity pairs: %.0f, the highest scoring %.4f; rates below %.2g are extrapolated from "
                  "an exponential fit to the 100th-%.0fth highest pairs",
                  N, tail.front().score, kFitLo / N, n_hi);
    plan.notes.push_back(t);
  }
  // the threshold at a false-match rate per identity pair: the empirical quantile where at least
  // 100 impostor pairs lie above it, else the fitted tail, else (too few pairs to fit) their highest
  auto calibrated = [&](double want) -> std::pair<double, double> {
    const double k = want * N;
    if (k >= kFitLo || (k >= 1 && double(tail.size()) < n_hi))
      return {tail[size_t(std::ceil(k)) - 1].score, std::ceil(k) / N};
    if (slope < 0) return {std::min(1.0, (std::log(want) - icept) / slope), want};
    return {tail.front().score, 1 / N};
  };
  // one threshold per pair of datasets compared: one expected false merge per pair of inputs, a 1%
  // chance per input identity of a false exclusion per exclude set (unless given)
  std::vector<std::vector<double>> thr(names.size(), std::vector<double>(names.size(), 2.0));
  for (int d = 0; d < inputs; ++d)
    for (int e = d + 1; e < int(names.size()); ++e) {
      if (with[size_t(d)] == 0 || with[size_t(e)] == 0) continue;
      const bool ex = e >= inputs;
      DatasetPairThreshold t{d, e, with[size_t(d)] * with[size_t(e)], 0, 0};
      const double given = ex ? o.exclude_threshold : o.threshold;
      if (!std::isnan(given)) {
        t.threshold = given;
      } else {
        const double want = ex ? (o.exclude_fmr > 0 ? o.exclude_fmr : 0.01 / double(with[size_t(e)]))
                               : (o.fmr > 0 ? o.fmr : 1.0 / double(t.pairs));
        std::tie(t.threshold, t.fmr) = calibrated(want);
      }
      thr[size_t(d)][size_t(e)] = thr[size_t(e)][size_t(d)] = t.threshold;
      plan.thresholds.push_back(t);
    }
  if (plan.compared_pairs == 0)
    plan.notes.push_back("one dataset and no exclude set: no identities compared, near-duplicates only");
  // pairs within one input above the threshold for one expected false pair there: one person in two folders?
  for (int d = 0; d < inputs && calibrate; ++d) {
    const double pairs = double(with[size_t(d)]) * double(with[size_t(d)] > 0 ? with[size_t(d)] - 1 : 0) / 2;
    if (pairs < 1) continue;
    const double t = calibrated(1 / pairs).first;
    for (auto d2 : tail)
      if (d2.score >= t && ids[size_t(d2.a)].dataset == d) {
        d2.decision = "same dataset: kept (one person in two folders?)";
        plan.overlaps.push_back(d2);
      }
  }

  // candidates: identity pairs of different datasets (input-input, input-exclude) at or above it
  struct Cand {
    int a, b;
    float s;
  };
  std::vector<std::vector<Cand>> row_cands(n);
  std::vector<float> best(n, -2.f);  // each input identity's best score in another dataset
  for_rows(n, [&](size_t i) {
    if (cent[i].empty() || !is_input(i)) return;
    for (size_t j = 0; j < n; ++j) {
      if (ids[j].dataset == ids[i].dataset || cent[j].empty()) continue;
      const float s = detail::dot(cent[i].data(), cent[j].data(), dim);
      best[i] = std::max(best[i], s);
      // input-input pairs once (on the earlier identity's row)
      if (s >= thr[size_t(ids[i].dataset)][size_t(ids[j].dataset)] && (!is_input(j) || j > i))
        row_cands[i].push_back({int(i), int(j), s});
    }
  });
  // best candidate of each identity per other dataset, both directions
  std::map<std::pair<int, int>, std::pair<float, int>> best_in;  // (identity, dataset) -> (score, identity)
  auto offer = [&](int a, int b, float s) {
    auto& slot = best_in.try_emplace({a, ids[size_t(b)].dataset}, -2.f, -1).first->second;
    if (s > slot.first) slot = {s, b};
  };
  std::vector<Cand> cands;
  for (auto& r : row_cands)
    for (auto& c : r) {
      cands.push_back(c);
      offer(c.a, c.b, c.s);
      offer(c.b, c.a, c.s);
    }
  for (size_t i = 0; i < n; ++i)
    if (best[i] > -2.f) ++plan.best_match_histogram[size_t(bin_of(best[i]))];

  UnionFind uf(n);
  std::vector<bool> excluded(n, false);
  for (const auto& c : cands) {
    const bool mutual = best_in.at({c.a, ids[size_t(c.b)].dataset}).second == c.b &&
                        best_in.at({c.b, ids[size_t(c.a)].dataset}).second == c.a;
    OverlapDecision d{c.a, c.b, double(c.s), ""};
    if (!is_input(size_t(c.b))) {
      excluded[size_t(c.a)] = true;
      d.decision = "excluded";
    } else if (mutual) {
      uf.join(c.a, c.b);
      d.decision = o.drop_overlaps ? "dropped" : "merged";
    } else {
      d.decision = "kept apart (not mutual best)";
    }
    plan.overlaps.push_back(d);
  }
  std::sort(plan.overlaps.begin(), plan.overlaps.end(),
            [](const auto& x, const auto& y) { return std::tie(x.a, x.b) < std::tie(y.a, y.b); });
  // a group is out when any member is excluded, or (drop_overlaps) when it has more than one member
  std::vector<int> size(n, 0);
  std::vector<bool> group_out(n, false);
  for (size_t i = 0; i < n; ++i)
    if (is_input(i)) {
      const int g = uf.find(int(i));
      ++size[size_t(g)];
      if (excluded[i]) group_out[size_t(g)] = true;
    }
  for (size_t i = 0; i < n; ++i)
    if (is_input(i) && o.drop_overlaps && size[size_t(uf.find(int(i)))] > 1) group_out[size_t(uf.find(int(i)))] = true;

  // near-duplicate images: input images against every later input image and every exclude image
  struct Img {
    int id, image;
    const float* e;
  };
  std::vector<Img> in_imgs, ex_imgs;
  std::vector<std::vector<std::vector<float>>> unit(n);
  for (size_t i = 0; i < n; ++i) {
    unit[i].resize(ids[i].embeddings.size());
    for (size_t k = 0; k < ids[i].embeddings.size(); ++k) {
      if (ids[i].embeddings[k].empty()) continue;
      unit[i][k] = normalised(ids[i].embeddings[k]);
      if (unit[i][k].size() != dim) throw Error(ErrorKind::InvalidArgument, "merge: embeddings of different lengths");
      if (is_input(i) && group_out[size_t(uf.find(int(i)))]) continue;  // out anyway
      (is_input(i) ? in_imgs : ex_imgs).push_back({int(i), int(k), unit[i][k].data()});
    }
  }
  std::vector<std::vector<DuplicateDecision>> row_dups(in_imgs.size());
  for_rows(in_imgs.size(), [&](size_t p) {
    const auto& a = in_imgs[p];
    for (size_t q = p + 1; q < in_imgs.size(); ++q) {
      const float s = detail::dot(a.e, in_imgs[q].e, dim);
      if (s >= o.duplicate_threshold) row_dups[p].push_back({a.id, a.image, in_imgs[q].id, in_imgs[q].image, s, ""});
    }
    for (const auto& x : ex_imgs) {
      const float s = detail::dot(a.e, x.e, dim);
      if (s >= o.duplicate_threshold) row_dups[p].push_back({a.id, a.image, x.id, x.image, s, ""});
    }
  });
  std::set<std::pair<int, int>> dropped;
  for (auto& r : row_dups)
    for (auto& d : r) {
      const auto ka = std::make_pair(d.a, d.a_image), kb = std::make_pair(d.b, d.b_image);
      if (!is_input(size_t(d.b))) {
        d.decision = "dropped a (copy of an excluded image)";
        dropped.insert(ka);
      } else if (uf.find(d.a) == uf.find(d.b)) {
        if (dropped.count(ka)) continue;  // its copy is gone already
        d.decision = "dropped b";
        dropped.insert(kb);
      } else {
        d.decision = "kept (different identities)";
      }
      plan.duplicates.push_back(d);
    }

  // the output: one identity per group, in the order of its first member
  std::map<int, size_t> slot;
  for (size_t i = 0; i < n; ++i) {
    if (!is_input(i)) continue;
    const int g = uf.find(int(i));
    if (group_out[size_t(g)]) continue;
    auto [it, fresh] = slot.try_emplace(g, plan.output.size());
    if (fresh) plan.output.push_back({names[size_t(ids[i].dataset)] + "_" + ids[i].name, {}});
    for (size_t k = 0; k < ids[i].images.size(); ++k)
      if (!dropped.count({int(i), int(k)})) plan.output[it->second].images.emplace_back(int(i), int(k));
  }
  std::erase_if(plan.output, [](const MergedIdentity& m) { return m.images.empty(); });
  return plan;
}

namespace {

std::string tsv_cell(std::string s) {
  for (char& c : s)
    if (c == '\t' || c == '\n' || c == '\r') c = ' ';
  return s;
}

std::string thumbnail(const std::filesystem::path& file) {
  cv::Mat img = cv::imread(file.string(), cv::IMREAD_COLOR);
  if (img.empty()) return "";
  const double f = 72.0 / img.rows;
  cv::resize(img, img, cv::Size(std::max(1, int(img.cols * f)), 72), 0, 0, cv::INTER_AREA);
  std::vector<unsigned char> jpg;
  cv::imencode(".jpg", img, jpg, {cv::IMWRITE_JPEG_QUALITY, 80});
  return "<img src=\"data:image/jpeg;base64," + base64(jpg) + "\">";
}

bool inside(const std::filesystem::path& p, const std::filesystem::path& root) {
  const auto a = std::filesystem::weakly_canonical(p), b = std::filesystem::weakly_canonical(root);
  auto ai = a.begin();
  for (auto bi = b.begin(); bi != b.end(); ++bi, ++ai)
    if (ai == a.end() || *ai != *bi) return false;
  return true;
}

}  // namespace

void check_merge_output(const std::filesystem::path& out, const std::vector<std::filesystem::path>& roots) {
  if (std::filesystem::exists(out))
    throw Error(ErrorKind::AlreadyExists, "merge: " + out.string() + " exists; choose a new folder");
  for (const auto& r : roots)
    if (inside(out, r))
      throw Error(ErrorKind::InvalidArgument, "merge: the output " + out.string() + " lies inside " + r.string());
}

void write_merge(const MergePlan& plan, const std::vector<MergeIdentity>& ids, const std::vector<std::string>& names,
                 const std::vector<std::filesystem::path>& roots, const std::filesystem::path& out, bool copy,
                 const std::string& embedder) {
  namespace fs = std::filesystem;
  if (roots.size() != names.size()) throw Error(ErrorKind::InvalidArgument, "merge: one root per dataset");
  check_merge_output(out, roots);

  const fs::path tmp = out.string() + ".partial";
  std::error_code ec;
  fs::remove_all(tmp, ec);
  auto label = [&](int i) { return names[size_t(ids[size_t(i)].dataset)] + ":" + ids[size_t(i)].name; };
  auto source = [&](int i, int k) {
    return fs::absolute(roots[size_t(ids[size_t(i)].dataset)] / ids[size_t(i)].images[size_t(k)]);
  };
  try {
    fs::create_directories(tmp);
    std::string sources = "image\tsource\n";
    EmbeddingTable embeddings;  // of every output image, keyed as in the output
    size_t dim = 0;
    for (const auto& m : plan.output) {
      fs::create_directories(tmp / m.name);
      for (const auto& [i, k] : m.images) {
        const auto src = source(i, k);
        const std::string file = names[size_t(ids[size_t(i)].dataset)] + "_" + src.filename().string();
        if (copy)
          fs::copy_file(src, tmp / m.name / file);
        else
          fs::create_symlink(src, tmp / m.name / file);
        sources += tsv_cell(m.name + "/" + file) + "\t" + tsv_cell(src.string()) + "\n";
        const auto& e = ids[size_t(i)].embeddings[size_t(k)];
        embeddings[m.name + "/" + file] = ImageEmbedding{!e.empty(), e};
        dim = std::max(dim, e.size());
      }
    }
    detail::write_file_atomic(tmp / "sources.tsv", sources);
    write_embedding_table(tmp / "embeddings.bin", embeddings);
    detail::write_file_atomic(tmp / "embeddings.json", nlohmann::json{{"embedder", embedder},
                                                                      {"dimensions", dim},
                                                                      {"images", embeddings.size()},
                                                                      {"file", "embeddings.bin"},
                                                                      {"format", "facerec embedding cache records"}}
                                                               .dump(2) +
                                                           "\n");
    std::string tsv = "a\tb\tscore\tdecision\n";
    char num[32];
    for (const auto& d : plan.overlaps) {
      std::snprintf(num, sizeof num, "%.4f", d.score);
      tsv += tsv_cell(label(d.a)) + "\t" + tsv_cell(label(d.b)) + "\t" + num + "\t" + d.decision + "\n";
    }
    for (const auto& d : plan.duplicates) {
      std::snprintf(num, sizeof num, "%.4f", d.score);
      tsv += tsv_cell(names[size_t(ids[size_t(d.a)].dataset)] + ":" + ids[size_t(d.a)].images[size_t(d.a_image)]) +
             "\t" +
             tsv_cell(names[size_t(ids[size_t(d.b)].dataset)] + ":" + ids[size_t(d.b)].images[size_t(d.b_image)]) +
             "\t" + num + "\tduplicate image: " + d.decision + "\n";
    }
    detail::write_file_atomic(tmp / "overlaps.tsv", tsv);

    // the report: figures, score distributions, sample faces of every decision
    HtmlReport h("Dataset merge");
    std::map<std::string, size_t> counts;
    for (const auto& d : plan.overlaps) ++counts[d.decision];
    for (const auto& d : plan.duplicates) ++counts["duplicate image: " + d.decision];
    std::vector<std::vector<std::string>> rows;
    auto row = [&](const std::string& k, const std::string& v) { rows.push_back({k, v}); };
    row("impostor identity pairs (within one dataset)", std::to_string(plan.impostor_pairs));
    row("identity pairs compared (across datasets)", std::to_string(plan.compared_pairs));
    row("input identities without a face (kept, unchecked)", std::to_string(plan.without_centroid));
    size_t images = 0;
    for (const auto& m : plan.output) images += m.images.size();
    row("output", std::to_string(plan.output.size()) + " identities, " + std::to_string(images) + " images");
    for (const auto& [k, v] : counts) row(k, std::to_string(v));
    h.table({"figure", "value"}, rows);
    for (const auto& note : plan.notes) h.paragraph(note);
    std::vector<std::vector<std::string>> ds;
    for (size_t d = 0; d < names.size(); ++d) {
      size_t n_id = 0, n_img = 0, n_face = 0;
      for (const auto& id : ids)
        if (size_t(id.dataset) == d) {
          ++n_id;
          n_img += id.images.size();
          for (const auto& e : id.embeddings) n_face += !e.empty();
        }
      ds.push_back({names[d], int(d) < plan.inputs ? "input" : "exclude", roots[d].string(), std::to_string(n_id),
                    std::to_string(n_img), std::to_string(n_face)});
    }
    h.table({"dataset", "role", "root", "identities", "images", "with a face"}, ds);
    std::vector<std::vector<std::string>> ts;
    for (const auto& t : plan.thresholds) {
      char a[32], b[32];
      std::snprintf(a, sizeof a, "%.4f", t.threshold);
      std::snprintf(b, sizeof b, "%.3g", t.fmr);
      ts.push_back(
          {names[size_t(t.d)] + " ~ " + names[size_t(t.e)], std::to_string(t.pairs), a, t.fmr > 0 ? b : "given"});
    }
    h.table({"datasets compared", "identity pairs", "threshold (centroid cosine)", "false-match rate"}, ts);
    PlotSeries imp{"impostor identity pairs (within a dataset)", {}, {}},
        bm{"best match of each input identity", {}, {}};
    std::vector<PlotSeries> lines;
    double top = 1;
    for (int b = 0; b < kBins; ++b) {
      const double x = -1 + (b + 0.5) * 2.0 / kBins;
      imp.x.push_back(x);
      imp.y.push_back(plan.impostor_histogram[size_t(b)] > 0 ? double(plan.impostor_histogram[size_t(b)])
                                                             : std::nan(""));
      bm.x.push_back(x);
      bm.y.push_back(plan.best_match_histogram[size_t(b)] > 0 ? double(plan.best_match_histogram[size_t(b)])
                                                              : std::nan(""));
      top = std::max({top, double(plan.impostor_histogram[size_t(b)]), double(plan.best_match_histogram[size_t(b)])});
    }
    for (const auto& t : plan.thresholds)
      lines.push_back(
          {"threshold " + names[size_t(t.d)] + " ~ " + names[size_t(t.e)], {t.threshold, t.threshold}, {0.5, top}});
    PlotSpec spec{"Centroid cosine: impostor pairs and best cross-dataset matches", "cosine", "identity pairs (log)"};
    spec.log_y = true;
    spec.x_min = -0.3;
    spec.x_max = 1;
    lines.insert(lines.begin(), {imp, bm});
    h.figures({svg_plot(spec, lines)});
    auto faces = [&](int i, int max) {
      std::string s;
      for (int k = 0; k < int(ids[size_t(i)].images.size()) && k < max; ++k) s += thumbnail(source(i, k));
      return s;
    };
    constexpr size_t kShown = 1500;
    if (!plan.overlaps.empty()) {
      h.heading("Identity decisions (" + std::to_string(plan.overlaps.size()) + ")");
      std::vector<std::string> figs;
      for (size_t x = 0; x < plan.overlaps.size() && x < kShown; ++x) {
        const auto& d = plan.overlaps[x];
        std::snprintf(num, sizeof num, "%.3f", d.score);
        figs.push_back(faces(d.a, 2) + " | " + faces(d.b, 2) + "<figcaption>" + html_escape(label(d.a)) + " ~ " +
                       html_escape(label(d.b)) + "<br>" + num + " " + html_escape(d.decision) + "</figcaption>");
      }
      h.figures(figs);
    }
    if (!plan.duplicates.empty()) {
      h.heading("Near-duplicate images (" + std::to_string(plan.duplicates.size()) + ")");
      std::vector<std::string> figs;
      for (size_t x = 0; x < plan.duplicates.size() && x < kShown; ++x) {
        const auto& d = plan.duplicates[x];
        std::snprintf(num, sizeof num, "%.3f", d.score);
        figs.push_back(thumbnail(source(d.a, d.a_image)) + thumbnail(source(d.b, d.b_image)) + "<figcaption>" +
                       html_escape(label(d.a)) + " ~ " + html_escape(label(d.b)) + "<br>" + num + " " +
                       html_escape(d.decision) + "</figcaption>");
      }
      h.figures(figs);
    }
    detail::write_file_atomic(tmp / "report.html", h.html());
    fs::rename(tmp, out);
  } catch (const fs::filesystem_error& e) {
    fs::remove_all(tmp, ec);
    throw Error(ErrorKind::Io, std::string("merge: writing ") + out.string() + ": " + e.what());
  }
}

}  // namespace facerec
