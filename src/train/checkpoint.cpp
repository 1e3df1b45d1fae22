// Checkpoints of a run (checkpoint.hpp).
#include "train/checkpoint.hpp"

#include <facerec/error.hpp>

#include "common/fs.hpp"
#include "common/sha256.hpp"

#include <algorithm>
#include <fstream>
#include <regex>

namespace facerec::train::ckpt {

using json = nlohmann::json;


std::filesystem::path checkpoint_path(const std::filesystem::path& run, int64_t step) {
  char name[40];
  std::snprintf(name, sizeof name, "step-%09lld.pt", static_cast<long long>(step));
  return run / "checkpoints" / name;
}

std::vector<std::pair<int64_t, std::filesystem::path>> checkpoints(const std::filesystem::path& run) {
  std::vector<std::pair<int64_t, std::filesystem::path>> out;
  std::error_code ec;
  if (!std::filesystem::is_directory(run / "checkpoints", ec)) return out;
  static const std::regex re("step-([0-9]{9})\\.pt");
  for (const auto& e : std::filesystem::directory_iterator(run / "checkpoints")) {
    std::smatch m;
    const auto name = e.path().filename().string();
    if (std::regex_match(name, m, re)) out.emplace_back(std::stoll(m[1].str()), e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool checkpoint_intact(const std::filesystem::path& pt) {
  auto meta = pt;
  meta.replace_extension(".json");
  std::error_code ec;
  if (!std::filesystem::exists(meta, ec)) return false;
  try {
    const auto j = json::parse(detail::read_file(meta));
    return j.at("sha256").get<std::string>() == detail::sha256_file(pt);
  } catch (const std::exception&) {
    return false;
  }
}

torch::serialize::InputArchive open_archive(const std::filesystem::path& file) {
  torch::serialize::InputArchive ar;
  try {
    ar.load_from(file.string());
  } catch (const c10::Error& e) {
    throw Error(ErrorKind::BadModel, "checkpoint " + file.string() + " is corrupt or truncated (libtorch: " +
                                         std::string(e.what_without_backtrace()).substr(0, 200) + ")");
  }
  return ar;
}

// Loads part `what` of a checkpoint into `m`. libtorch replaces a tensor of another shape
// silently, so the shapes are compared after loading (an error leaves `m` unusable: callers drop it).
void read_part(const std::filesystem::path& file, torch::serialize::InputArchive& ar, const std::string& what,
               torch::nn::Module& m) {
  std::vector<std::vector<int64_t>> shapes;
  for (const auto& t : m.parameters()) shapes.push_back(t.sizes().vec());
  for (const auto& t : m.buffers()) shapes.push_back(t.sizes().vec());
  try {
    torch::serialize::InputArchive part;
    ar.read(what, part);
    m.load(part);
  } catch (const c10::Error& e) {
    throw Error(ErrorKind::BadModel, "checkpoint " + file.string() + ": its " + what +
                                         " does not fit this configuration (libtorch: " +
                                         std::string(e.what_without_backtrace()).substr(0, 200) + ")");
  }
  size_t i = 0;
  bool same = true;
  for (const auto& t : m.parameters()) same = same && t.sizes().vec() == shapes[i++];
  for (const auto& t : m.buffers()) same = same && t.sizes().vec() == shapes[i++];
  if (!same)
    throw Error(ErrorKind::BadModel, "checkpoint " + file.string() + ": its " + what +
                                         " does not fit this configuration (tensor shapes differ: another "
                                         "architecture, width or embedding size)");
}

uint64_t mix(uint64_t a, uint64_t b) {
  uint64_t x = a * 0x9E3779B97F4A7C15ULL ^ (b + 0x632BE59BD9B4E019ULL + (a << 6) + (a >> 2));
  x ^= x >> 31;
  x *= 0xBF58476D1CE4E5B9ULL;
  return x ^ (x >> 29);
}


std::vector<json> read_log(const std::filesystem::path& file) {
  std::vector<json> out;
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);) {
    try {
      out.push_back(json::parse(line));
    } catch (const json::exception&) {
      // a partial last line
    }
  }
  return out;
}

void write_checkpoint(const std::filesystem::path& pt, torch::serialize::OutputArchive& ar, json meta, int keep) {
  std::filesystem::create_directories(pt.parent_path());
  const auto tmp = pt.string() + ".tmp";
  ar.save_to(tmp);
  std::filesystem::rename(tmp, pt);
  auto m = pt;
  m.replace_extension(".json");
  meta["sha256"] = detail::sha256_file(pt);
  detail::write_file_atomic(m, meta.dump(2) + "\n");
  auto all = checkpoints(pt.parent_path().parent_path());
  for (size_t i = 0; i + size_t(std::max(keep, 1)) < all.size(); ++i) {
    std::error_code ec;
    auto j = all[i].second;
    std::filesystem::remove(all[i].second, ec);
    std::filesystem::remove(j.replace_extension(".json"), ec);
  }
}

}  // namespace facerec::train::ckpt
