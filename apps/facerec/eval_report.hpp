#pragma once
// Evaluation reports of the CLI: figures -> JSON, JSON -> self-contained HTML.
#include <facerec/eval/dataset.hpp>
#include <facerec/eval/eval.hpp>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

namespace facerec::cli {

using Json = nlohmann::ordered_json;

Json to_json(const PairEvaluation& e);
Json to_json(const IdentificationResult& r);
Json to_json(const DegradationRanges& r);

// An original and its degraded copy, shown in the report's quality section.
struct DegradationSample {
  std::string image;
  Degradation params;
  std::vector<unsigned char> original_jpeg, degraded_jpeg;
};

// Renders the report JSON (as written by `facerec eval lfw|identification`) as one HTML page.
std::string render_html(const Json& report, const std::vector<DegradationSample>& samples = {});

// Writes DIR/report.json and DIR/report.html (each atomically); returns the HTML path.
std::filesystem::path write_report(const std::filesystem::path& dir, const Json& report,
                                   const std::vector<DegradationSample>& samples = {});

// Comparison table of two reports (text and HTML).
std::string compare_text(const std::string& name_a, const std::string& name_b, const std::string& json_a,
                         const std::string& json_b, bool all);
std::string compare_html(const std::string& name_a, const std::string& name_b, const std::string& json_a,
                         const std::string& json_b, bool all);

}  // namespace facerec::cli
