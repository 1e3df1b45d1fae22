#pragma once
// Evaluation reports: line plots as inline SVG, a self-contained HTML page, and a side-by-side
// comparison of two JSON reports.
// Thread safety: pure functions; an HtmlReport object is not shared between threads.
#include <limits>
#include <string>
#include <vector>

namespace facerec {

// One named line of a plot. A plain value.
struct PlotSeries {
  std::string name;
  std::vector<double> x, y;  // same length; points with a non-finite (or, on a log axis, <= 0) value are skipped
};

// A plot's title, axes and size in pixels (plus the legend below). A plain value.
struct PlotSpec {
  std::string title, x_label, y_label;
  bool log_x = false, log_y = false;
  // Axis range; NaN = from the data. Log axes need positive limits.
  double x_min = std::numeric_limits<double>::quiet_NaN(), x_max = std::numeric_limits<double>::quiet_NaN();
  double y_min = std::numeric_limits<double>::quiet_NaN(), y_max = std::numeric_limits<double>::quiet_NaN();
  int width = 560, height = 400;
};

// Ensures: a standalone <svg> element (axes, ticks, grid, one coloured polyline per series,
// legend); text is XML-escaped. Axis limits that do not fit the axis (a log limit <= 0, max <= min)
// are replaced. Pure; never throws Error.
std::string svg_plot(const PlotSpec& spec, const std::vector<PlotSeries>& series);

// Escapes &, <, >, " and ' for HTML text and attributes. Pure.
std::string html_escape(const std::string& s);

// Standard base64 (RFC 4648, with '=' padding), e.g. for <img src="data:image/jpeg;base64,...">. Pure.
std::string base64(const std::vector<unsigned char>& bytes);

// Builds one HTML page with inline CSS; nothing is loaded from elsewhere. Parts are appended in call
// order. Thread safety: one thread at a time per object. Never throws Error.
class HtmlReport {
 public:
  explicit HtmlReport(std::string title);                // escaped; also the page's <h1>
  void heading(const std::string& text, int level = 2);  // escaped; level clamped to 1..4
  void paragraph(const std::string& text);               // escaped
  void preformatted(const std::string& text);            // escaped, monospace
  // Cells escaped; rows may differ in length.
  void table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows);
  void figures(const std::vector<std::string>& svgs);  // side by side, wrapping; inserted as given (not escaped)
  // The whole page (a complete HTML document).
  std::string html() const;

 private:
  std::string title_, body_;
};

// One number present in either report, addressed by its JSON path: array elements by index, or by
// their string "name" when they are objects with one ("lfw/variants/<variant name>/mean_accuracy").
// A plain value.
struct ReportDifference {
  std::string key;
  bool in_a = false, in_b = false;
  double a = 0, b = 0;
};
// Every numeric (and boolean, as 0/1) leaf of two JSON documents, matched by path, in path order;
// arrays longer than `max_array` (curves, per-fold lists) and objects under a key named "curves" or
// "manifest" are skipped. Throws Error(InvalidArgument) naming the document that is not valid JSON.
std::vector<ReportDifference> compare_reports(const std::string& json_a, const std::string& json_b,
                                              size_t max_array = 12);

}  // namespace facerec
