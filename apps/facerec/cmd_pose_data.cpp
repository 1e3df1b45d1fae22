// Offline 3D pose augmentation and pose-balanced sets (issue 12, part 3):
//   data repose DATA --out DIR      each face's pose estimated; views turned in yaw written beside it
//   data pose-balance TABLE... --out DIR   a training set balanced over yaw bins (real + synthetic)
//   eval pose-pairs                 LFW verification by the yaw difference of each pair's faces
#include "commands.hpp"
#include "eval_flags.hpp"

#include <facerec/analyzer.hpp>
#include <facerec/error.hpp>
#include <facerec/eval/eval.hpp>
#include <facerec/eval/pose_strata.hpp>
#include <facerec/eval/report.hpp>
#include <facerec/head_pose.hpp>
#include <facerec/image.hpp>
#include <facerec/repose.hpp>

#include "common/fs.hpp"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <sstream>

namespace facerec::cli {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

FaceModel3D face_model(const std::string& mesh) {
  const std::string obj = face_mesh_path(mesh);
  if (obj.empty())
    throw Error(ErrorKind::InvalidArgument,
                "give --mesh (MediaPipe's canonical_face_model.obj, 468 vertices) or set FACEREC_FACE_MESH");
  return load_face_model_obj(obj);
}

// "a,b,c" as numbers ("" or "none": none). Throws Error(InvalidArgument) naming `what`.
std::vector<double> parse_list(const std::string& text, const std::string& what) {
  std::vector<double> v;
  if (text == "none") return v;
  for (const auto& item : split_list(text)) {
    try {
      size_t used = 0;
      v.push_back(std::stod(item, &used));
      if (used != item.size()) throw std::invalid_argument(item);
    } catch (const std::exception&) {
      throw Error(ErrorKind::InvalidArgument, what + ": '" + item + "' is not a number");
    }
  }
  return v;
}

// A folder that is written in `<out>.partial` and renamed when complete; an existing one is refused.
fs::path partial_folder(const fs::path& out) {
  std::error_code ec;
  if (fs::exists(out, ec)) throw Error(ErrorKind::AlreadyExists, out.string() + " exists: name a new folder");
  const fs::path tmp = out.string() + ".partial";
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp);
  return tmp;
}

// A face and some context around it, `side` pixels square, for contact sheets.
cv::Mat face_tile(const cv::Mat& img, const cv::Rect& box, int side) {
  const int s = int(std::max(box.width, box.height) * 1.5);
  const cv::Point c(box.x + box.width / 2, box.y + box.height / 2);
  cv::Rect r(c.x - s / 2, c.y - s / 2, s, s);
  cv::Mat padded;
  const int pad = s;
  cv::copyMakeBorder(img, padded, pad, pad, pad, pad, cv::BORDER_CONSTANT, cv::Scalar::all(0));
  cv::Mat tile;
  cv::resize(padded(r + cv::Point(pad, pad)), tile, cv::Size(side, side), 0, 0, cv::INTER_AREA);
  return tile;
}

struct ReposeArgs {
  std::string data, out, mesh, yaw = "-35,-20,20,35", pitch = "0";
  double max_fit = 8.0, max_yaw = 60.0;
  size_t views_every = 1, contact_rows = 8;
  int jpeg_quality = 95;
};

int repose(const ReposeArgs& a) {
  const FaceReposer reposer(face_model(a.mesh));
  const auto& model = reposer.model();
  const auto yaws = parse_list(a.yaw, "--yaw"), pitches = parse_list(a.pitch, "--pitch");
  for (double y : yaws)
    if (std::abs(y) > 90) throw Error(ErrorKind::InvalidArgument, "--yaw: turns of at most 90 degrees");
  for (double p : pitches)
    if (std::abs(p) > 90) throw Error(ErrorKind::InvalidArgument, "--pitch: turns of at most 90 degrees");
  const fs::path root = a.data, out = a.out;
  std::vector<fs::path> chosen;  // absolute
  for (const auto& f : list_image_files(root)) chosen.push_back(fs::absolute(root / f).lexically_normal());
  std::sort(chosen.begin(), chosen.end());
  const fs::path tmp = partial_folder(out);
  AnalyzerOptions ao;
  ao.landmarker.model = "facemesh";
  FaceAnalyzer fa(manifest(), ao);
  std::string table = std::string(kPoseTableHeader) + "\n";
  std::vector<cv::Mat> sheet_rows;
  size_t views = 0, no_face = 0, bad_fit = 0, unreadable = 0, out_of_range = 0;
  auto progress = progress_printer("re-posing", "img/s");
  for (size_t k = 0; k < chosen.size(); ++k) {
    const fs::path rel = chosen[k].lexically_relative(fs::absolute(root).lexically_normal());
    const std::string identity = rel.has_parent_path() ? rel.parent_path().string() : "";
    try {
      const auto img = decode_image_file(chosen[k].string());
      const auto faces = fa.analyze(img.bgr, false);
      const Face* face = largest_face(faces);
      if (!face || face->landmarks.size() != model.vertices.size()) {
        ++no_face;
      } else {
        ReposeOptions ro;
        ro.max_fit_px = a.max_fit * std::max(1.0, double(img.bgr.cols) / 250.0);  // in a 250-px image's pixels
        const auto h = estimate_head_pose(face->landmarks, model, img.bgr.size());
        PoseRow real{"real", chosen[k].string(), identity, h.yaw, h.pitch, h.roll, h.reprojection_error,
                     0,      chosen[k].string()};
        table += pose_table_line(real) + "\n";
        const bool render = k % a.views_every == 0 && !yaws.empty();
        if (render && h.reprojection_error > ro.max_fit_px) {
          ++bad_fit;
        } else if (render) {
          std::vector<cv::Mat> row{face_tile(img.bgr, cv::Rect(face->detection.box), 96)};
          for (double dy : yaws)
            for (double dp : pitches) {
              if (std::abs(h.yaw + dy) > a.max_yaw) {
                ++out_of_range;
                continue;
              }
              const auto r = reposer.turn(img.bgr, face->landmarks, h, dy, dp, ro);
              char suffix[64];
              std::snprintf(suffix, sizeof suffix, "_yaw%+03d%s", int(std::lround(dy)),
                            dp != 0 ? ("_pitch" + std::to_string(int(std::lround(dp)))).c_str() : "");
              const fs::path file = tmp / rel.parent_path() / (rel.stem().string() + suffix + ".jpg");
              fs::create_directories(file.parent_path());
              if (!cv::imwrite(file.string(), r.image, {cv::IMWRITE_JPEG_QUALITY, a.jpeg_quality}))
                throw Error(ErrorKind::Io, "cannot write " + file.string());
              PoseRow v{"synthetic",
                        (fs::absolute(out).lexically_normal() / file.lexically_relative(tmp)).string(),
                        identity,
                        r.yaw,
                        r.pitch,
                        h.roll,
                        h.reprojection_error,
                        r.mirrored_share,
                        chosen[k].string()};
              table += pose_table_line(v) + "\n";
              ++views;
              if (sheet_rows.size() < a.contact_rows) row.push_back(face_tile(r.image, r.face_box, 96));
            }
          if (sheet_rows.size() < a.contact_rows && row.size() == 1 + yaws.size() * pitches.size()) {
            cv::Mat strip;
            cv::hconcat(row, strip);
            sheet_rows.push_back(strip);
          }
        }
      }
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::BadInput && e.kind() != ErrorKind::NotFound && e.kind() != ErrorKind::InvalidArgument)
        throw;
      std::fprintf(stderr, "\r%s: %s\n", chosen[k].string().c_str(), e.what());
      ++unreadable;
    }
    progress(k + 1, chosen.size());
  }
  detail::write_file_atomic(tmp / "poses.tsv", table);
  if (!sheet_rows.empty()) {
    cv::Mat sheet;
    cv::vconcat(sheet_rows, sheet);
    if (!cv::imwrite((tmp / "contact.png").string(), sheet))
      throw Error(ErrorKind::Io, "cannot write " + (tmp / "contact.png").string());
  }
  fs::rename(tmp, out);
  std::printf(
      "%zu images read (views for every %zu), %zu views written, %zu without a FaceMesh face, %zu with a "
      "poor model fit, %zu views beyond |yaw| %.0f skipped, %zu unreadable\n",
      chosen.size(), a.views_every, views, no_face, bad_fit, out_of_range, a.max_yaw, unreadable);
  std::printf("output: %s (poses.tsv%s)\n", out.string().c_str(), sheet_rows.empty() ? "" : ", contact.png");
  return unreadable ? kBadInput : kOk;
}

struct BalanceArgs {
  std::vector<std::string> tables;
  std::string out;
  double bin = 15, range = 45;
  size_t per_bin = 0;
};

int pose_balance(const BalanceArgs& a) {
  if (!(a.bin > 0) || !(a.range >= a.bin))
    throw Error(ErrorKind::InvalidArgument, "--bin must be > 0 and --range at least one bin");
  std::vector<PoseRow> rows;
  for (const auto& t : a.tables) {
    auto r = read_pose_table(t);
    rows.insert(rows.end(), r.begin(), r.end());
  }
  const int nbins = int(std::ceil(2 * a.range / a.bin));
  auto bin_of = [&](double yaw) { return int(std::floor((yaw + a.range) / a.bin)); };
  const size_t bins = size_t(nbins);
  std::vector<std::vector<const PoseRow*>> real(bins), synth(bins);
  size_t outside = 0;
  std::set<std::string> seen;
  std::vector<const PoseRow*> real_outside;  // kept: every real image is
  for (const auto& r : rows) {
    if (!seen.insert(r.path).second) continue;  // listed twice
    const int b = bin_of(r.yaw);
    if (b < 0 || b >= nbins) {
      if (r.kind == "real")
        real_outside.push_back(&r);
      else
        ++outside;
      continue;
    }
    (r.kind == "real" ? real : synth)[size_t(b)].push_back(&r);
  }
  size_t target = a.per_bin;
  for (const auto& b : real) target = a.per_bin ? target : std::max(target, b.size());
  const fs::path tmp = partial_folder(a.out);
  std::string tsv = "image\tkind\tyaw\tbin\tsource\n";
  std::vector<std::vector<std::string>> hist;
  size_t written = 0;
  auto link_into = [&](const PoseRow* r, const std::string& range) {
    const fs::path src = r->path;
    const std::string id = r->identity.empty() ? "_" : r->identity;
    fs::path link = tmp / id / src.filename();
    for (int n = 2; fs::exists(fs::symlink_status(link)); ++n)
      link = tmp / id / (src.stem().string() + "-" + std::to_string(n) + src.extension().string());
    fs::create_directories(link.parent_path());
    fs::create_symlink(fs::absolute(src), link);
    char yaw[32];
    std::snprintf(yaw, sizeof yaw, "%.2f", r->yaw);
    tsv += link.lexically_relative(tmp).string() + "\t" + r->kind + "\t" + yaw + "\t" + range + "\t" + r->source + "\n";
    ++written;
  };
  for (const auto* r : real_outside) link_into(r, "outside");
  for (int b = 0; b < nbins; ++b) {
    // every real image; synthetic views, in a fixed order (a hash of the path), up to the target
    auto s = synth[size_t(b)];
    std::sort(s.begin(), s.end(), [](const PoseRow* x, const PoseRow* y) {
      const auto hx = std::hash<std::string>{}(x->path), hy = std::hash<std::string>{}(y->path);
      return hx != hy ? hx < hy : x->path < y->path;
    });
    std::vector<const PoseRow*> take = real[size_t(b)];
    for (const auto* r : s)
      if (take.size() < target) take.push_back(r);
    char range[64];
    std::snprintf(range, sizeof range, "[%+.0f, %+.0f)", -a.range + b * a.bin, -a.range + (b + 1) * a.bin);
    hist.push_back({range, std::to_string(real[size_t(b)].size()), std::to_string(s.size()),
                    std::to_string(take.size() - real[size_t(b)].size()), std::to_string(take.size())});
    for (const auto* r : take) link_into(r, range);
  }
  detail::write_file_atomic(tmp / "balance.tsv", tsv);
  fs::rename(tmp, a.out);
  std::printf("%-16s %8s %10s %10s %8s\n", "yaw bin", "real", "synthetic", "taken", "total");
  for (const auto& h : hist)
    std::printf("%-16s %8s %10s %10s %8s\n", h[0].c_str(), h[1].c_str(), h[2].c_str(), h[3].c_str(), h[4].c_str());
  std::printf(
      "target %zu per bin; %zu real images beyond |yaw| %.0f kept, %zu views there left out; output: %zu "
      "images in %s (balance.tsv)\n",
      target, real_outside.size(), a.range, outside, written, a.out.c_str());
  return kOk;
}

struct PosePairsArgs {
  std::string images, pairs, poses, edges = "0,5,10,15,20,30", contact;
  EvalFlags f;
};

int pose_pairs(const PosePairsArgs& a) {
  const auto pairs = read_lfw_pairs(a.pairs);
  const auto edges = parse_list(a.edges, "--edges");
  std::map<std::string, double> yaw;  // image relative to --images -> yaw
  for (const auto& r : read_pose_table(a.poses))
    if (r.kind == "real")
      yaw[fs::path(r.path).lexically_normal().lexically_relative(fs::absolute(a.images).lexically_normal()).string()] =
          r.yaw;
  std::set<std::string> wanted;
  for (const auto& p : pairs) wanted.insert({p.a, p.b});
  const std::vector<std::string> images(wanted.begin(), wanted.end());
  const auto variants = a.f.variants();
  const auto emb = embed(a.images, images, a.f.options(false), "embedding");
  std::vector<double> diff;
  std::vector<bool> same;
  std::vector<int> folds;
  size_t posed = 0;
  for (const auto& p : pairs) {
    const auto ia = yaw.find(p.a), ib = yaw.find(p.b);
    const bool ok = ia != yaw.end() && ib != yaw.end();
    diff.push_back(ok ? std::abs(ia->second - ib->second) : std::nan(""));
    posed += ok;
    same.push_back(p.same);
    folds.push_back(p.fold);
  }
  HtmlReport html("Verification by yaw difference");
  html.paragraph(std::to_string(pairs.size()) + " pairs of " + a.pairs + "; " + std::to_string(posed) +
                 " with a head pose for both faces (from " + a.poses +
                 "). Each pair is decided at the threshold of "
                 "its fold (chosen on the other folds, as the 10-fold accuracy).");
  std::vector<PlotSeries> acc_series, fnmr_series;
  Json out = Json::array();
  for (size_t k = 0; k < variants.size(); ++k) {
    const auto scores = pair_scores(emb.tables[k], emb.tables[k], pairs);
    const auto v = evaluate_verification(scores, same, folds);
    const auto bins = verification_by_yaw_difference(scores, same, folds, v.fold_threshold, diff, edges);
    std::printf("%s: 10-fold accuracy %.2f%%\n%-14s %7s %8s %9s %9s %9s\n", variants[k].name().c_str(),
                100 * v.mean_accuracy, "|yaw a - b|", "pairs", "genuine", "accuracy", "FNMR", "FMR");
    std::vector<std::vector<std::string>> rows;
    PlotSeries acc{variants[k].name(), {}, {}}, fnmr{variants[k].name(), {}, {}};
    Json jb = Json::array();
    for (const auto& b : bins) {
      char range[48], row[160];
      if (std::isinf(b.hi))
        std::snprintf(range, sizeof range, ">= %.0f", b.lo);
      else
        std::snprintf(range, sizeof range, "[%.0f, %.0f)", b.lo, b.hi);
      std::snprintf(row, sizeof row, "%-14s %7zu %8zu %8.2f%% %8.2f%% %8.2f%%", range, b.pairs, b.genuine,
                    100 * b.accuracy, 100 * b.fnmr, 100 * b.fmr);
      std::printf("%s\n", row);
      rows.push_back({range, std::to_string(b.pairs), std::to_string(b.genuine), std::to_string(100 * b.accuracy),
                      std::to_string(100 * b.fnmr), std::to_string(100 * b.fmr)});
      if (b.pairs) {
        const double mid = std::isinf(b.hi) ? b.lo + 5 : (b.lo + b.hi) / 2;
        acc.x.push_back(mid);
        acc.y.push_back(b.accuracy);
        fnmr.x.push_back(mid);
        fnmr.y.push_back(b.fnmr);
      }
      jb.push_back({{"lo", b.lo},
                    {"hi", std::isinf(b.hi) ? Json(nullptr) : Json(b.hi)},
                    {"pairs", b.pairs},
                    {"genuine", b.genuine},
                    {"impostor", b.impostor},
                    {"accuracy", b.accuracy},
                    {"fnmr", b.fnmr},
                    {"fmr", b.fmr}});
    }
    html.heading(variants[k].name() + ": 10-fold accuracy " + std::to_string(100 * v.mean_accuracy) + "%", 3);
    html.table({"|yaw a − yaw b| (°)", "pairs", "genuine", "accuracy %", "FNMR %", "FMR %"}, rows);
    acc_series.push_back(acc);
    fnmr_series.push_back(fnmr);
    out.push_back({{"name", variants[k].name()}, {"accuracy", v.mean_accuracy}, {"bins", jb}});
  }
  PlotSpec as{"Accuracy by yaw difference", "|yaw a − yaw b| (degrees, bin centre)", "accuracy"};
  PlotSpec fs_{"Genuine pairs rejected by yaw difference", "|yaw a − yaw b| (degrees, bin centre)", "FNMR"};
  fs_.y_min = 0;
  std::vector<std::string> figs{svg_plot(as, acc_series), svg_plot(fs_, fnmr_series)};
  if (!a.contact.empty()) {
    const auto bytes = detail::read_file(a.contact);
    figs.push_back("<figure><img src=\"data:image/png;base64," +
                   base64(std::vector<unsigned char>(bytes.begin(), bytes.end())) +
                   "\"><figcaption>original (left) and re-posed views</figcaption></figure>");
  }
  html.figures(figs);
  if (!a.f.report_dir.empty()) {
    const fs::path dir = a.f.report_dir;
    fs::create_directories(dir);
    detail::write_file_atomic(dir / "report.html", html.html());
    detail::write_file_atomic(dir / "report.json", Json{{"by_yaw_difference", out}}.dump(2) + "\n");
    std::printf("report: %s\n", (dir / "report.html").string().c_str());
  }
  if (!a.f.json_out.empty()) detail::write_file_atomic(a.f.json_out, Json{{"by_yaw_difference", out}}.dump(2) + "\n");
  return kOk;
}

}  // namespace

std::string face_mesh_path(const std::string& flag) {
  if (!flag.empty()) return flag;
  const char* env = std::getenv("FACEREC_FACE_MESH");
  return env ? env : "";
}

void add_pose_data_commands(CLI::App* data, CLI::App* eval, Action* action) {
  {
    auto a = std::make_shared<ReposeArgs>();
    auto* c = data->add_subcommand(
        "repose",
        "Offline 3D pose augmentation: each face's head pose estimated (FaceMesh + a 3D face model) and views turned "
        "in yaw rendered from its texture (the hidden side from the mirrored half); writes the views beside their "
        "identity folders, poses.tsv (every image's pose) and contact.png");
    c->add_option("data", a->data, "Images, or a folder of identity folders")
        ->required()
        ->check(CLI::ExistingDirectory);
    c->add_option("--out", a->out, "Output folder (must not exist)")->required();
    c->add_option("--mesh", a->mesh,
                  "3D face model (MediaPipe's canonical_face_model.obj; default $FACEREC_FACE_MESH)");
    c->add_option("--yaw", a->yaw, "Yaw changes in degrees, comma-separated ('none': poses only)")
        ->capture_default_str();
    c->add_option("--pitch", a->pitch, "Pitch changes in degrees, comma-separated")->capture_default_str();
    c->add_option("--max-yaw", a->max_yaw, "Skip views whose yaw would pass this")
        ->capture_default_str()
        ->check(CLI::Range(0.0, 90.0));
    c->add_option("--max-fit", a->max_fit, "Skip faces the model fits worse than this (RMS px at 250 px width)")
        ->capture_default_str()
        ->check(CLI::Range(0.1, 1000.0));
    c->add_option("--views-every", a->views_every, "Views for every n-th image only (sorted by path; all get a pose)")
        ->capture_default_str()
        ->check(CLI::Range(size_t(1), size_t(1) << 30));
    c->add_option("--contact-rows", a->contact_rows, "Faces in contact.png")->capture_default_str();
    c->callback([=] { *action = [=] { return repose(*a); }; });
  }
  {
    auto a = std::make_shared<BalanceArgs>();
    auto* c = data->add_subcommand(
        "pose-balance",
        "A training set balanced over yaw bins: every real image, and re-posed views added to the bins below the "
        "target, from the pose tables `data repose` writes; symbolic links in identity folders and balance.tsv");
    c->add_option("tables", a->tables, "poses.tsv files of data repose")->required()->check(CLI::ExistingFile);
    c->add_option("--out", a->out, "Output folder (must not exist)")->required();
    c->add_option("--bin", a->bin, "Yaw bin width in degrees")->capture_default_str();
    c->add_option("--range", a->range, "Bins cover yaw in [-range, range)")->capture_default_str();
    c->add_option("--per-bin", a->per_bin, "Images per bin to reach (default: the fullest bin's real images)");
    c->callback([=] { *action = [=] { return pose_balance(*a); }; });
  }
  {
    auto a = std::make_shared<PosePairsArgs>();
    auto* c = eval->add_subcommand(
        "pose-pairs", "LFW-style verification by the yaw difference of each pair's two faces (poses from data repose)");
    c->add_option("--images", a->images, "Image root of the pairs")->required()->check(CLI::ExistingDirectory);
    c->add_option("--pairs", a->pairs, "Pairs file (LFW format)")->required()->check(CLI::ExistingFile);
    c->add_option("--poses", a->poses, "poses.tsv of `data repose <images> --yaw none`")
        ->required()
        ->check(CLI::ExistingFile);
    c->add_option("--edges", a->edges, "Bin edges of |yaw a − yaw b| in degrees")->capture_default_str();
    c->add_option("--contact", a->contact, "A contact sheet (PNG) to show in the report (data repose's contact.png)")
        ->check(CLI::ExistingFile);
    a->f.add(c, true);
    c->callback([=] { *action = [=] { return pose_pairs(*a); }; });
  }
}

}  // namespace facerec::cli
