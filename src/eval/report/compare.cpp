// Side-by-side comparison of two JSON reports: every numeric leaf matched by its path.
#include <facerec/error.hpp>
#include <facerec/eval/report.hpp>

#include <nlohmann/json.hpp>

#include <map>

namespace facerec {
namespace {

using Json = nlohmann::json;

// Arrays of objects that carry a "name" (variants, pairings) are addressed by that name, so two
// reports with the same entries in another order still line up.
void flatten(const Json& j, const std::string& path, size_t max_array, std::map<std::string, double>& out) {
  if (j.is_number()) {
    out[path] = j.get<double>();
  } else if (j.is_boolean()) {
    out[path] = j.get<bool>() ? 1 : 0;
  } else if (j.is_object()) {
    for (const auto& [k, v] : j.items()) {
      if (k == "curves" || k == "manifest") continue;
      flatten(v, path.empty() ? k : path + "/" + k, max_array, out);
    }
  } else if (j.is_array()) {
    if (j.size() > max_array) return;
    for (size_t i = 0; i < j.size(); ++i) {
      std::string key = std::to_string(i);
      if (j[i].is_object() && j[i].contains("name") && j[i]["name"].is_string()) key = j[i]["name"].get<std::string>();
      flatten(j[i], path + "/" + key, max_array, out);
    }
  }
}

Json parse(const std::string& text, const char* which) {
  try {
    return Json::parse(text);
  } catch (const Json::exception& e) {
    throw Error(ErrorKind::InvalidArgument, std::string("report ") + which + " is not valid JSON: " + e.what());
  }
}

}  // namespace

std::vector<ReportDifference> compare_reports(const std::string& json_a, const std::string& json_b, size_t max_array) {
  std::map<std::string, double> a, b;
  flatten(parse(json_a, "A"), "", max_array, a);
  flatten(parse(json_b, "B"), "", max_array, b);
  std::map<std::string, ReportDifference> all;
  for (const auto& [k, v] : a) {
    auto& d = all[k];
    d.key = k;
    d.in_a = true;
    d.a = v;
  }
  for (const auto& [k, v] : b) {
    auto& d = all[k];
    d.key = k;
    d.in_b = true;
    d.b = v;
  }
  std::vector<ReportDifference> out;
  for (auto& [k, d] : all) out.push_back(d);
  return out;
}

}  // namespace facerec
