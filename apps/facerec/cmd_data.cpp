// facerec data: dataset tools. merge: folder-per-identity datasets merged without identities that
// occur twice, and without the people of a test set (see include/facerec/eval/merge.hpp).
#include "commands.hpp"
#include "eval_flags.hpp"

#include <facerec/error.hpp>
#include <facerec/eval/eval.hpp>
#include <facerec/eval/merge.hpp>

#include <cstdio>
#include <filesystem>
#include <limits>
#include <map>
#include <set>

namespace facerec::cli {
namespace {

struct MergeArgs {
  std::vector<std::string> inputs, exclude;
  std::string out;
  MergeOptions options;
  bool copy = false;
  EvalFlags flags;
};

// A dataset's name in the output: its folder's name, made unique with a number.
std::vector<std::string> dataset_names(const std::vector<std::filesystem::path>& roots) {
  std::vector<std::string> names;
  std::set<std::string> taken;
  for (const auto& r : roots) {
    std::string base = std::filesystem::weakly_canonical(r).filename().string();
    if (base.empty()) base = "data";
    std::string name = base;
    for (int k = 2; taken.count(name); ++k) name = base + std::to_string(k);
    taken.insert(name);
    names.push_back(name);
  }
  return names;
}

int merge(const MergeArgs& a) {
  std::vector<std::filesystem::path> roots;
  for (const auto& p : a.inputs) roots.emplace_back(p);
  for (const auto& p : a.exclude) roots.emplace_back(p);
  const auto names = dataset_names(roots);
  check_merge_output(a.out, roots);  // before the embedding, which takes long
  auto o = a.flags.options(false);
  if (o.variants.size() != 1)
    throw Error(ErrorKind::InvalidArgument, "merge: give one embedder (--embedder), not " + a.flags.embedder);
  std::vector<MergeIdentity> ids;
  for (size_t d = 0; d < roots.size(); ++d) {
    const auto subjects = read_identity_folders(roots[d]);
    std::vector<std::string> images;
    for (const auto& s : subjects) images.insert(images.end(), s.images.begin(), s.images.end());
    const auto r = embed(roots[d], images, o, "embedding " + names[d]);
    const auto& table = r.tables[0];
    for (const auto& s : subjects) {
      MergeIdentity id;
      id.dataset = int(d);
      id.name = s.id;
      id.images = s.images;
      for (const auto& img : s.images) {
        const auto it = table.find(img);
        id.embeddings.push_back(it != table.end() && it->second.found ? it->second.embedding : std::vector<float>{});
      }
      ids.push_back(std::move(id));
    }
  }
  std::fprintf(stderr, "merge: comparing identities (%s)...\n", o.variants[0].name().c_str());
  const auto plan = plan_merge(ids, names, int(a.inputs.size()), a.options);
  write_merge(plan, ids, names, roots, a.out, a.copy, o.variants[0].name());
  std::map<std::string, size_t> counts;
  for (const auto& d : plan.overlaps) ++counts[d.decision];
  for (const auto& d : plan.duplicates) ++counts["duplicate image, " + d.decision];
  size_t images = 0;
  for (const auto& m : plan.output) images += m.images.size();
  std::printf("impostor identity pairs (within one dataset): %zu; identity pairs compared: %zu\n", plan.impostor_pairs,
              plan.compared_pairs);
  for (const auto& t : plan.thresholds) {
    char rate[64] = "given";
    if (t.fmr > 0) std::snprintf(rate, sizeof rate, "false-match rate %.3g per identity pair", t.fmr);
    std::printf("threshold %s ~ %s: %.4f (%s)\n", names[size_t(t.d)].c_str(), names[size_t(t.e)].c_str(), t.threshold,
                rate);
  }
  for (const auto& [k, v] : counts) std::printf("%-48s %zu\n", k.c_str(), v);
  if (plan.without_centroid)
    std::printf("%-48s %zu\n", "identities without a face (kept, unchecked)", plan.without_centroid);
  for (const auto& n : plan.notes) std::printf("note: %s\n", n.c_str());
  std::printf("output: %zu identities, %zu images in %s (overlaps.tsv, sources.tsv, embeddings.bin, report.html)\n",
              plan.output.size(), images, a.out.c_str());
  return kOk;
}

}  // namespace

void add_data_commands(CLI::App& app, Action* action) {
  auto* data = app.add_subcommand("data", "Dataset tools: merge, calib-set, repose, pose-balance");
  data->require_subcommand(1);
  auto* m = data->add_subcommand(
      "merge",
      "Merge folder-per-identity datasets: identities found in two of them (by their faces) are merged, people "
      "of --exclude sets left out, near-duplicate images dropped; the inputs are not modified");
  auto a = std::make_shared<MergeArgs>();
  m->add_option("inputs", a->inputs, "Datasets (<dataset>/<identity>/<image>)")
      ->required()
      ->check(CLI::ExistingDirectory);
  m->add_option("--out", a->out, "The merged dataset's folder (must not exist)")->required();
  m->add_option("--exclude", a->exclude, "A test set whose people must not be in the output (repeatable)")
      ->check(CLI::ExistingDirectory);
  m->add_option("--fmr", a->options.fmr,
                "False-match rate per identity pair of the overlap threshold, calibrated on the inputs' own "
                "impostor identity pairs (default 0: one over the identity pairs of the two datasets, i.e. one "
                "expected false merge per pair of inputs)")
      ->check(CLI::Range(0.0, 0.5));
  m->add_option("--exclude-fmr", a->options.exclude_fmr,
                "The same against --exclude sets (default 0: 0.01 over the exclude set's identities, i.e. each "
                "input identity has a 1% chance of being left out by mistake)")
      ->check(CLI::Range(0.0, 0.5));
  m->add_option("--threshold", a->options.threshold, "Use this centroid-cosine threshold instead of calibrating")
      ->check(CLI::Range(-1.0, 1.0));
  m->add_option("--exclude-threshold", a->options.exclude_threshold,
                "Use this centroid-cosine threshold against --exclude sets instead of calibrating")
      ->check(CLI::Range(-1.0, 1.0));
  m->add_option("--duplicate-threshold", a->options.duplicate_threshold,
                "Image pairs at or above this cosine are near-duplicates")
      ->capture_default_str()
      ->check(CLI::Range(0.01, 1.0));
  m->add_flag("--drop-overlaps", a->options.drop_overlaps,
              "Leave out identities found in two datasets instead of merging them");
  m->add_flag("--copy", a->copy, "Copy the images (default: symbolic links to them)");
  a->flags.add(m, false);
  m->callback([=] { *action = [=] { return merge(*a); }; });
  add_calib_set_command(data, action);
}

}  // namespace facerec::cli
