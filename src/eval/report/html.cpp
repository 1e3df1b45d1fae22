// A self-contained HTML page: inline CSS, inline SVG figures.
#include <facerec/eval/report.hpp>

namespace facerec {

std::string base64(const std::vector<unsigned char>& in) {
  static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    unsigned v = unsigned(in[i]) << 16 | unsigned(in[i + 1]) << 8 | in[i + 2];
    out += t[v >> 18];
    out += t[(v >> 12) & 63];
    out += t[(v >> 6) & 63];
    out += t[v & 63];
  }
  if (i < in.size()) {
    unsigned v = unsigned(in[i]) << 16 | (i + 1 < in.size() ? unsigned(in[i + 1]) << 8 : 0u);
    out += t[v >> 18];
    out += t[(v >> 12) & 63];
    out += i + 1 < in.size() ? t[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string html_escape(const std::string& s) {
  std::string o;
  o.reserve(s.size());
  for (char c : s) switch (c) {
      case '&':
        o += "&amp;";
        break;
      case '<':
        o += "&lt;";
        break;
      case '>':
        o += "&gt;";
        break;
      case '"':
        o += "&quot;";
        break;
      case '\'':
        o += "&#39;";
        break;
      default:
        o += c;
    }
  return o;
}

HtmlReport::HtmlReport(std::string title) : title_(std::move(title)) {}

void HtmlReport::heading(const std::string& text, int level) {
  level = level < 1 ? 1 : level > 4 ? 4 : level;
  body_ += "<h" + std::to_string(level) + ">" + html_escape(text) + "</h" + std::to_string(level) + ">\n";
}

void HtmlReport::paragraph(const std::string& text) { body_ += "<p>" + html_escape(text) + "</p>\n"; }

void HtmlReport::preformatted(const std::string& text) { body_ += "<pre>" + html_escape(text) + "</pre>\n"; }

void HtmlReport::table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows) {
  body_ += "<table>\n<tr>";
  for (const auto& h : header) body_ += "<th>" + html_escape(h) + "</th>";
  body_ += "</tr>\n";
  for (const auto& r : rows) {
    body_ += "<tr>";
    for (const auto& c : r) body_ += "<td>" + html_escape(c) + "</td>";
    body_ += "</tr>\n";
  }
  body_ += "</table>\n";
}

void HtmlReport::figures(const std::vector<std::string>& svgs) {
  body_ += "<div class=\"figs\">\n";
  for (const auto& s : svgs) body_ += "<figure>" + s + "</figure>\n";
  body_ += "</div>\n";
}

std::string HtmlReport::html() const {
  return "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>" + html_escape(title_) +
         "</title>\n<style>\n"
         "body{font-family:sans-serif;margin:24px auto;max-width:1200px;color:#222}\n"
         "table{border-collapse:collapse;margin:8px 0 16px}\n"
         "th,td{border:1px solid #ccc;padding:3px 8px;text-align:right;font-size:13px}\n"
         "th{background:#f2f2f2}td:first-child,th:first-child{text-align:left}\n"
         "pre{background:#f7f7f7;padding:8px;overflow-x:auto;font-size:12px}\n"
         ".figs{display:flex;flex-wrap:wrap;gap:12px}figure{margin:0}\n"
         "</style></head><body>\n<h1>" +
         html_escape(title_) + "</h1>\n" + body_ + "</body></html>\n";
}

}  // namespace facerec
