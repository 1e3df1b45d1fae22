// Image decoding: formats, bit depths, channels, EXIF orientation, limits and bad files.
#include "test_util.hpp"

#include <facerec/error.hpp>
#include <facerec/image.hpp>

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>

#include <fstream>

namespace facerec {
namespace {

std::string encode(const cv::Mat& m, const std::string& ext, std::vector<int> params = {}) {
  std::vector<uchar> buf;
  EXPECT_TRUE(cv::imencode(ext, m, buf, params));
  return std::string(buf.begin(), buf.end());
}

ErrorKind kind_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.kind();
  }
  return ErrorKind::Internal;
}

TEST(Image, ConvertsDepthsAndChannelsTo8BitBgr) {
  cv::Mat grey(40, 30, CV_8UC1, cv::Scalar(77));
  cv::Mat rgba(40, 30, CV_8UC4, cv::Scalar(10, 20, 30, 128));
  cv::Mat deep(40, 30, CV_16UC3, cv::Scalar(65535, 0, 32768));
  for (const auto& [m, ext] :
       std::vector<std::pair<cv::Mat, std::string>>{{grey, ".png"}, {rgba, ".png"}, {deep, ".png"}, {grey, ".jpg"}}) {
    auto d = decode_image_bytes(encode(m, ext));
    EXPECT_EQ(d.bgr.type(), CV_8UC3) << ext;
    EXPECT_EQ(d.bgr.size(), cv::Size(30, 40));
  }
  auto d = decode_image_bytes(encode(deep, ".png"));
  EXPECT_EQ(d.bgr.at<cv::Vec3b>(0, 0)[0], 255);  // 16-bit scaled, not truncated
  EXPECT_NEAR(d.bgr.at<cv::Vec3b>(0, 0)[2], 128, 1);
}

TEST(Image, AppliesExifOrientation) {
  cv::Mat m(20, 60, CV_8UC3, cv::Scalar(0, 0, 255));
  std::string jpg = encode(m, ".jpg");
  // APP1 Exif with one IFD entry: Orientation (0x0112) = 6, "rotate 90 degrees clockwise"
  const unsigned char exif[] = {0xFF, 0xE1, 0x00, 0x22, 'E', 'x', 'i', 'f', 0, 0, 'I', 'I', 0x2A, 0, 8, 0, 0, 0,
                                1,    0,    0x12, 0x01, 3,   0,   1,   0,   0, 0, 6,   0,   0,    0, 0, 0, 0, 0};
  std::string with = jpg.substr(0, 2) + std::string(reinterpret_cast<const char*>(exif), sizeof exif) + jpg.substr(2);
  auto d = decode_image_bytes(with);
  EXPECT_EQ(d.bgr.size(), cv::Size(20, 60)) << "EXIF orientation 6 swaps width and height";
}

TEST(Image, LargeJpegIsReducedWhileDecodingOthersRefused) {
  cv::Mat m(2000, 1600, CV_8UC3, cv::Scalar(50, 100, 150));
  ImageLimits lim;
  lim.max_pixels = 1'000'000;
  auto d = decode_image_bytes(encode(m, ".jpg"), lim);
  EXPECT_EQ(d.bgr.size(), cv::Size(800, 1000));
  EXPECT_DOUBLE_EQ(d.scale, 0.5);
  EXPECT_EQ(d.original_width, 1600);
  EXPECT_EQ(kind_of([&] { decode_image_bytes(encode(m, ".png"), lim); }), ErrorKind::InvalidArgument);
  // a PNG header claiming 20000 x 20000 is refused from the header, before any decoding
  std::string png = encode(cv::Mat(8, 8, CV_8UC3, cv::Scalar(1, 2, 3)), ".png");
  png[16] = 0, png[17] = 0, png[18] = 0x4E, png[19] = 0x20;  // width 20000
  png[20] = 0, png[21] = 0, png[22] = 0x4E, png[23] = 0x20;  // height 20000
  int w = 0, h = 0;
  ASSERT_TRUE(probe_image_size(png, w, h));
  EXPECT_EQ(w, 20000);
  EXPECT_EQ(kind_of([&] { decode_image_bytes(png); }), ErrorKind::InvalidArgument);
}

TEST(Image, BadFilesAreClearErrors) {
  auto dir = test::temp_dir("image");
  EXPECT_EQ(kind_of([&] { decode_image_file((dir / "missing.jpg").string()); }), ErrorKind::NotFound);
  std::ofstream(dir / "empty.jpg").close();
  EXPECT_EQ(kind_of([&] { decode_image_file((dir / "empty.jpg").string()); }), ErrorKind::InvalidArgument);
  std::ofstream(dir / "text.jpg") << "hello, I am not a picture";
  EXPECT_EQ(kind_of([&] { decode_image_file((dir / "text.jpg").string()); }), ErrorKind::InvalidArgument);
  std::string jpg = encode(cv::Mat(100, 100, CV_8UC3, cv::Scalar(9, 9, 9)), ".jpg");
  std::ofstream(dir / "truncated.jpg", std::ios::binary) << jpg.substr(0, 40);
  EXPECT_EQ(kind_of([&] { decode_image_file((dir / "truncated.jpg").string()); }), ErrorKind::InvalidArgument);
  EXPECT_EQ(kind_of([&] { decode_image_bytes(encode(cv::Mat(1, 1, CV_8UC3), ".png")); }), ErrorKind::InvalidArgument);
}

}  // namespace
}  // namespace facerec
