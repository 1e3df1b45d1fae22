// Per-image label tables (see include/facerec/eval/labels.hpp).
#include <facerec/error.hpp>
#include <facerec/eval/labels.hpp>

#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

namespace facerec {
std::vector<std::string> split_tabs(const std::string& text) {
  std::string line = text;
  if (!line.empty() && line.back() == '\r') line.pop_back();
  std::vector<std::string> out;
  std::stringstream s(line);
  for (std::string f; std::getline(s, f, '\t');) out.push_back(f);
  if (!line.empty() && line.back() == '\t') out.emplace_back();  // a trailing empty field
  return out;
}

size_t LabelTable::factor_index(const std::string& factor) const {
  for (size_t i = 0; i < factors.size(); ++i)
    if (factors[i] == factor) return i;
  throw Error(ErrorKind::NotFound, "the label table has no column '" + factor + "'");
}

std::string label_level(const std::string& factor, const std::string& value) {
  char* end = nullptr;
  const long v = std::strtol(value.c_str(), &end, 10);
  const bool number = !value.empty() && end && *end == '\0';
  if (factor == "age" && number && v >= 0)
    return v <= 10 ? "0-10" : v <= 20 ? "11-20" : v <= 40 ? "21-40" : v <= 60 ? "41-60" : "61+";
  if (factor == "gender" && number && (v == 0 || v == 1)) return v == 0 ? "male" : "female";
  if (factor == "race" && number && v >= 0 && v < 5) {
    static const char* const names[] = {"white", "black", "asian", "indian", "other"};
    return names[v];
  }
  return value;
}

LabelTable read_label_table(const std::filesystem::path& tsv) {
  std::ifstream in(tsv);
  if (!in) throw Error(ErrorKind::NotFound, "cannot read the label table " + tsv.string());
  std::string line;
  std::getline(in, line);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  const auto header = split_tabs(line);
  if (header.empty() || header[0] != "file")
    throw Error(ErrorKind::BadInput, tsv.string() + ": the first line must be a header starting with 'file'");
  LabelTable t;
  t.root = tsv.parent_path();
  t.factors.assign(header.begin() + 1, header.end());
  std::set<std::string> seen;
  for (size_t line_no = 2; std::getline(in, line); ++line_no) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    auto f = split_tabs(line);
    if (f.size() != header.size())
      throw Error(ErrorKind::BadInput, tsv.string() + ":" + std::to_string(line_no) + ": " + std::to_string(f.size()) +
                                           " fields, the header has " + std::to_string(header.size()));
    if (f[0].empty()) throw Error(ErrorKind::BadInput, tsv.string() + ":" + std::to_string(line_no) + ": no file");
    if (!seen.insert(f[0]).second)
      throw Error(ErrorKind::BadInput, tsv.string() + ":" + std::to_string(line_no) + ": " + f[0] + " is listed twice");
    LabelledFile img;
    img.file = f[0];
    for (size_t c = 1; c < f.size(); ++c) img.levels.push_back(label_level(header[c], f[c]));
    t.images.push_back(std::move(img));
  }
  if (t.images.empty()) throw Error(ErrorKind::BadInput, tsv.string() + " lists no images");
  return t;
}

}  // namespace facerec
