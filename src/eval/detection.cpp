#include <facerec/error.hpp>
#include <facerec/eval/eval.hpp>

#include <algorithm>
#include <fstream>
#include <regex>
#include <sstream>

namespace facerec {

double DetectionCounts::recall() const {
  int n = true_positives + false_negatives;
  return n ? double(true_positives) / n : 1.0;
}
double DetectionCounts::precision() const {
  int n = true_positives + false_positives;
  return n ? double(true_positives) / n : 1.0;
}

static double iou(const Box& a, const Box& b) {
  double x0 = std::max(a.x, b.x), y0 = std::max(a.y, b.y);
  double x1 = std::min(a.x + a.w, b.x + b.w), y1 = std::min(a.y + a.h, b.y + b.h);
  double inter = std::max(0.0, x1 - x0) * std::max(0.0, y1 - y0);
  double uni = double(a.w) * a.h + double(b.w) * b.h - inter;
  return uni > 0 ? inter / uni : 0;
}

DetectionCounts match_detections(const std::vector<Box>& truth, const std::vector<Box>& found, double min_iou) {
  std::vector<std::tuple<double, size_t, size_t>> cand;
  for (size_t t = 0; t < truth.size(); ++t)
    for (size_t f = 0; f < found.size(); ++f) {
      double v = iou(truth[t], found[f]);
      if (v >= min_iou) cand.emplace_back(v, t, f);
    }
  std::sort(cand.begin(), cand.end(), [](const auto& a, const auto& b) { return std::get<0>(a) > std::get<0>(b); });
  std::vector<bool> tu(truth.size(), false), fu(found.size(), false);
  DetectionCounts c;
  for (const auto& [v, t, f] : cand)
    if (!tu[t] && !fu[f]) {
      tu[t] = fu[f] = true;
      ++c.true_positives;
    }
  c.false_negatives = int(truth.size()) - c.true_positives;
  c.false_positives = int(found.size()) - c.true_positives;
  return c;
}

std::vector<LabelledImage> read_dlib_xml(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) throw Error(ErrorKind::NotFound, "cannot read " + file.string());
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  std::vector<LabelledImage> out;
  static const std::regex image_re(R"(<image\s+file='([^']+)'[^>]*?(/?)>)");
  static const std::regex box_re(R"(<box\s+([^>]*?)/?>)");
  static const std::regex attr_re(R"((\w+)='([^']*)')");
  auto begin = std::sregex_iterator(text.begin(), text.end(), image_re);
  for (auto it = begin; it != std::sregex_iterator(); ++it) {
    LabelledImage li;
    li.file = (*it)[1];
    if ((*it)[2] == "/") {  // <image .../> without boxes
      out.push_back(li);
      continue;
    }
    size_t start = size_t(it->position() + it->length());
    size_t end = text.find("</image>", start);
    if (end == std::string::npos)
      throw Error(ErrorKind::InvalidArgument, file.string() + ": <image file='" + li.file + "'> is not closed");
    std::string body = text.substr(start, end - start);
    for (auto b = std::sregex_iterator(body.begin(), body.end(), box_re); b != std::sregex_iterator(); ++b) {
      std::string attrs = (*b)[1];
      Box box;
      bool ignore = false;
      int have = 0;
      for (auto a = std::sregex_iterator(attrs.begin(), attrs.end(), attr_re); a != std::sregex_iterator(); ++a) {
        std::string k = (*a)[1], v = (*a)[2];
        try {
          if (k == "top")
            box.y = std::stof(v), ++have;
          else if (k == "left")
            box.x = std::stof(v), ++have;
          else if (k == "width")
            box.w = std::stof(v), ++have;
          else if (k == "height")
            box.h = std::stof(v), ++have;
          else if (k == "ignore")
            ignore = v == "1";
        } catch (const std::exception&) {
          throw Error(ErrorKind::InvalidArgument,
                      file.string() + ": box attribute " + k + "='" + v + "' is not a number");
        }
      }
      if (have != 4)
        throw Error(ErrorKind::InvalidArgument,
                    file.string() + ": a box in " + li.file + " lacks top/left/width/height");
      if (!ignore) li.boxes.push_back(box);
    }
    out.push_back(li);
  }
  if (out.empty()) throw Error(ErrorKind::InvalidArgument, file.string() + ": no <image> entries");
  return out;
}

}  // namespace facerec
