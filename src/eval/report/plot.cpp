// Line plots as standalone SVG (no dependencies): linear or log10 axes, grid, legend.
#include <facerec/eval/report.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace facerec {
namespace {

const char* kColours[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"};

struct Axis {
  bool log = false;
  double lo = 0, hi = 1;
  double map(double v, double a, double b) const {  // value -> pixel between a and b
    double t = log ? (std::log10(v) - std::log10(lo)) / (std::log10(hi) - std::log10(lo)) : (v - lo) / (hi - lo);
    return a + t * (b - a);
  }
  bool usable(double v) const { return std::isfinite(v) && (!log || v > 0); }
};

std::string num(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f", v);
  return b;
}

std::string tick_label(double v, bool log) {
  char b[32];
  if (log) {
    int e = int(std::floor(std::log10(v) + 1e-9));
    double mant = v / std::pow(10.0, e);
    if (e == 0) {
      std::snprintf(b, sizeof b, "%.0f", mant);
      return b;
    }
    std::snprintf(b, sizeof b, "%.0fe%d", mant, e);
  } else {
    std::snprintf(b, sizeof b, "%g", std::abs(v) < 1e-12 ? 0.0 : v);
  }
  return b;
}

std::vector<double> ticks(const Axis& a) {
  std::vector<double> t;
  if (a.log) {
    for (double e = std::floor(std::log10(a.lo)); e <= std::ceil(std::log10(a.hi)) + 1e-9; e += 1) {
      double v = std::pow(10.0, e);
      if (v >= a.lo * (1 - 1e-9) && v <= a.hi * (1 + 1e-9)) t.push_back(v);
      // within two decades, 2x and 5x ticks too
      if (std::log10(a.hi / a.lo) <= 2.01)
        for (double m : {2.0, 5.0})
          if (v * m >= a.lo * (1 - 1e-9) && v * m <= a.hi * (1 + 1e-9)) t.push_back(v * m);
    }
    std::sort(t.begin(), t.end());
    return t;
  }
  double span = a.hi - a.lo, raw = span / 6, mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = raw / mag < 1.5 ? mag : raw / mag < 3.5 ? 2 * mag : raw / mag < 7.5 ? 5 * mag : 10 * mag;
  for (double v = std::ceil(a.lo / step - 1e-9) * step; v <= a.hi + step * 1e-9; v += step) t.push_back(v);
  return t;
}

Axis make_axis(bool log, double lo, double hi, const std::vector<PlotSeries>& series, bool x) {
  Axis a;
  a.log = log;
  double dlo = 1e300, dhi = -1e300;
  for (const auto& s : series)
    for (size_t i = 0; i < std::min(s.x.size(), s.y.size()); ++i) {
      double v = x ? s.x[i] : s.y[i];
      if (a.usable(v)) {
        dlo = std::min(dlo, v);
        dhi = std::max(dhi, v);
      }
    }
  if (dlo > dhi) dlo = log ? 1e-3 : 0, dhi = 1;
  a.lo = std::isnan(lo) ? dlo : lo;
  a.hi = std::isnan(hi) ? dhi : hi;
  if (log) {
    if (a.lo <= 0) a.lo = dlo > 0 ? dlo : 1e-6;
    if (a.hi <= a.lo) a.hi = a.lo * 10;
    if (std::isnan(lo)) a.lo = std::pow(10.0, std::floor(std::log10(a.lo)));
    if (std::isnan(hi)) a.hi = std::pow(10.0, std::ceil(std::log10(a.hi)));
  } else if (a.hi <= a.lo) {
    a.hi = a.lo + 1;
  }
  return a;
}

}  // namespace

std::string svg_plot(const PlotSpec& spec, const std::vector<PlotSeries>& series) {
  const double left = 64, right = 16, top = 30, bottom = 46;
  const double legend_h = 18.0 * double(series.size()) + 6;
  const double w = spec.width, h = spec.height + legend_h;
  const double x0 = left, x1 = w - right, y0 = spec.height - bottom, y1 = top;  // y0: bottom pixel
  Axis ax = make_axis(spec.log_x, spec.x_min, spec.x_max, series, true);
  Axis ay = make_axis(spec.log_y, spec.y_min, spec.y_max, series, false);
  std::ostringstream o;
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << w << "\" height=\"" << h << "\" viewBox=\"0 0 " << w
    << " " << h << "\" font-family=\"sans-serif\" font-size=\"11\">\n";
  o << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  o << "<text x=\"" << w / 2 << "\" y=\"18\" text-anchor=\"middle\" font-size=\"13\" font-weight=\"bold\">"
    << html_escape(spec.title) << "</text>\n";
  for (double t : ticks(ax)) {
    double px = ax.map(t, x0, x1);
    o << "<line x1=\"" << num(px) << "\" y1=\"" << num(y0) << "\" x2=\"" << num(px) << "\" y2=\"" << num(y1)
      << "\" stroke=\"#e4e4e4\"/>\n";
    o << "<text x=\"" << num(px) << "\" y=\"" << num(y0 + 15) << "\" text-anchor=\"middle\">" << tick_label(t, ax.log)
      << "</text>\n";
  }
  for (double t : ticks(ay)) {
    double py = ay.map(t, y0, y1);
    o << "<line x1=\"" << num(x0) << "\" y1=\"" << num(py) << "\" x2=\"" << num(x1) << "\" y2=\"" << num(py)
      << "\" stroke=\"#e4e4e4\"/>\n";
    o << "<text x=\"" << num(x0 - 5) << "\" y=\"" << num(py + 4) << "\" text-anchor=\"end\">" << tick_label(t, ay.log)
      << "</text>\n";
  }
  o << "<rect x=\"" << num(x0) << "\" y=\"" << num(y1) << "\" width=\"" << num(x1 - x0) << "\" height=\""
    << num(y0 - y1) << "\" fill=\"none\" stroke=\"#444\"/>\n";
  o << "<text x=\"" << num((x0 + x1) / 2) << "\" y=\"" << num(y0 + 34) << "\" text-anchor=\"middle\">"
    << html_escape(spec.x_label) << "</text>\n";
  o << "<text transform=\"translate(14," << num((y0 + y1) / 2) << ") rotate(-90)\" text-anchor=\"middle\">"
    << html_escape(spec.y_label) << "</text>\n";
  o << "<clipPath id=\"c" << std::hash<std::string>{}(spec.title) % 100000 << "\"><rect x=\"" << num(x0) << "\" y=\""
    << num(y1) << "\" width=\"" << num(x1 - x0) << "\" height=\"" << num(y0 - y1) << "\"/></clipPath>\n";
  for (size_t k = 0; k < series.size(); ++k) {
    const auto& s = series[k];
    const char* colour = kColours[k % 8];
    o << "<polyline fill=\"none\" stroke=\"" << colour << "\" stroke-width=\"1.8\" clip-path=\"url(#c"
      << std::hash<std::string>{}(spec.title) % 100000 << ")\" points=\"";
    for (size_t i = 0; i < std::min(s.x.size(), s.y.size()); ++i)
      if (ax.usable(s.x[i]) && ay.usable(s.y[i]))
        o << num(ax.map(s.x[i], x0, x1)) << "," << num(ay.map(s.y[i], y0, y1)) << " ";
    o << "\"/>\n";
    double ly = spec.height + 18.0 * double(k) + 6;
    o << "<line x1=\"" << num(x0) << "\" y1=\"" << num(ly) << "\" x2=\"" << num(x0 + 24) << "\" y2=\"" << num(ly)
      << "\" stroke=\"" << colour << "\" stroke-width=\"2.5\"/>\n";
    o << "<text x=\"" << num(x0 + 30) << "\" y=\"" << num(ly + 4) << "\">" << html_escape(s.name) << "</text>\n";
  }
  o << "</svg>\n";
  return o.str();
}

}  // namespace facerec
