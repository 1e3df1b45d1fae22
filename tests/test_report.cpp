// Report pieces: SVG plots, HTML escaping, and the comparison of two JSON reports.
#include <facerec/error.hpp>
#include <facerec/eval/report.hpp>

#include <gtest/gtest.h>

namespace facerec {
namespace {

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

TEST(Report, SvgPlotHasOneLinePerSeriesAndEscapesText) {
  PlotSpec spec{"ROC <A&B>", "FMR", "TAR", true, false};
  std::vector<PlotSeries> s = {{"first", {1e-4, 1e-3, 1e-2, 1}, {0.5, 0.7, 0.9, 1}},
                               {"second \"quoted\"", {0, 1e-3, 1}, {0.2, 0.6, 1}}};
  auto svg = svg_plot(spec, s);
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  EXPECT_EQ(count(svg, "<polyline"), 2u);
  EXPECT_NE(svg.find("ROC &lt;A&amp;B&gt;"), std::string::npos);
  EXPECT_EQ(svg.find("<A&B>"), std::string::npos);
  EXPECT_NE(svg.find("second &quot;quoted&quot;"), std::string::npos);
  // decade ticks on the log axis, from 1e-4 to 1
  EXPECT_NE(svg.find(">1e-4<"), std::string::npos);
  EXPECT_NE(svg.find(">1e-2<"), std::string::npos);
  // the second series' x = 0 cannot be drawn on a log axis: 2 points remain
  auto second = svg.substr(svg.find("<polyline", svg.find("<polyline") + 1));
  auto pts = second.substr(second.find("points=\"") + 8);
  pts = pts.substr(0, pts.find('"'));
  EXPECT_EQ(count(pts, ","), 2u);
}

TEST(Report, HtmlIsSelfContainedAndEscaped) {
  HtmlReport h("title & more");
  h.heading("<b>");
  h.table({"a", "b"}, {{"1<2", "x"}});
  h.paragraph("it's");
  auto html = h.html();
  EXPECT_NE(html.find("<title>title &amp; more</title>"), std::string::npos);
  EXPECT_NE(html.find("<td>1&lt;2</td>"), std::string::npos);
  EXPECT_NE(html.find("it&#39;s"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("http://"), std::string::npos);  // nothing loaded from elsewhere
}

TEST(Report, CompareMatchesNumbersByPathAndName) {
  std::string a = R"({"lfw":{"variants":[{"name":"m1","acc":0.99,"curves":{"roc":[[0,1]]}},{"name":"m2","acc":0.9}]},
                      "seconds":100, "manifest":{"x":1}, "long":[1,2,3,4,5]})";
  std::string b = R"({"lfw":{"variants":[{"name":"m2","acc":0.95},{"name":"m1","acc":0.98}]},"seconds":80,"new":1})";
  auto d = compare_reports(a, b, 4);
  auto find = [&](const std::string& k) -> const ReportDifference* {
    for (const auto& x : d)
      if (x.key == k) return &x;
    return nullptr;
  };
  auto m1 = find("lfw/variants/m1/acc");
  ASSERT_NE(m1, nullptr);
  EXPECT_DOUBLE_EQ(m1->a, 0.99);
  EXPECT_DOUBLE_EQ(m1->b, 0.98);  // matched by name although the order differs
  ASSERT_NE(find("seconds"), nullptr);
  EXPECT_TRUE(find("new")->in_b);
  EXPECT_FALSE(find("new")->in_a);
  EXPECT_EQ(find("manifest/x"), nullptr);                      // the manifest is not compared number by number
  EXPECT_EQ(find("lfw/variants/m1/curves/roc/0/0"), nullptr);  // nor curves
  EXPECT_EQ(find("long/0"), nullptr);                          // nor long arrays
  try {
    compare_reports(a, "{not json");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::InvalidArgument);
    EXPECT_NE(std::string(e.what()).find("report B"), std::string::npos);
  }
}

}  // namespace
}  // namespace facerec
