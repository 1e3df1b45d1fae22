// Image decoding: formats, bit depths, channels, EXIF orientation, limits and bad files.
#include "test_util.hpp"

#include <facerec/error.hpp>
#include <facerec/image.hpp>

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>

#include <facerec/analyzer.hpp>

#include <jpeglib.h>

#include <cstdio>
#include <cstring>
#include <fstream>

namespace facerec {
namespace {

std::string encode(const cv::Mat& m, const std::string& ext, std::vector<int> params = {}) {
  std::vector<uchar> buf;
  EXPECT_TRUE(cv::imencode(ext, m, buf, params));
  return std::string(buf.begin(), buf.end());
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

// A CMYK JPEG as Photoshop and most print workflows write it (Adobe APP14 marker, inverted
// values: stored = 255 - ink), made with libjpeg from a BGR image (K = 0).
std::string cmyk_jpeg(const cv::Mat& bgr) {
  unsigned char* out = nullptr;
  unsigned long size = 0;
  jpeg_compress_struct c;
  jpeg_error_mgr err;
  c.err = jpeg_std_error(&err);
  jpeg_create_compress(&c);
  jpeg_mem_dest(&c, &out, &size);
  c.image_width = JDIMENSION(bgr.cols);
  c.image_height = JDIMENSION(bgr.rows);
  c.input_components = 4;
  c.in_color_space = JCS_CMYK;
  jpeg_set_defaults(&c);
  jpeg_set_quality(&c, 95, TRUE);
  jpeg_start_compress(&c, TRUE);
  std::vector<unsigned char> row(size_t(bgr.cols) * 4);
  while (c.next_scanline < c.image_height) {
    const auto* p = bgr.ptr<cv::Vec3b>(int(c.next_scanline));
    for (int x = 0; x < bgr.cols; ++x) {  // ink C = 255 - R etc.; stored inverted: R, G, B, 255 - K
      row[size_t(x) * 4 + 0] = p[x][2];
      row[size_t(x) * 4 + 1] = p[x][1];
      row[size_t(x) * 4 + 2] = p[x][0];
      row[size_t(x) * 4 + 3] = 255;
    }
    JSAMPROW r = row.data();
    jpeg_write_scanlines(&c, &r, 1);
  }
  jpeg_finish_compress(&c);
  jpeg_destroy_compress(&c);
  std::string bytes(reinterpret_cast<char*>(out), size);
  std::free(out);
  return bytes;
}

TEST(Image, CmykJpegDecodesToTheRightColours) {
  cv::Mat bgr(64, 64, CV_8UC3, cv::Scalar(0, 0, 255));          // red
  bgr(cv::Rect(32, 0, 32, 64)).setTo(cv::Scalar(255, 0, 0));    // blue
  bgr(cv::Rect(0, 48, 64, 16)).setTo(cv::Scalar(40, 160, 90));  // a skin-free green
  auto d = decode_image_bytes(cmyk_jpeg(bgr));
  ASSERT_EQ(d.bgr.type(), CV_8UC3);
  ASSERT_EQ(d.bgr.size(), bgr.size());
  for (auto [x, y] : {std::pair{10, 10}, {50, 10}, {20, 56}})
    for (int k = 0; k < 3; ++k)
      EXPECT_NEAR(d.bgr.at<cv::Vec3b>(y, x)[k], bgr.at<cv::Vec3b>(y, x)[k], 6) << x << "," << y << " channel " << k;
  // a face photo saved as CMYK is still a face
  auto photo = test::shared_dir() / "data" / "lfw" / "images" / "Colin_Powell" / "Colin_Powell_0001.jpg";
  if (!std::filesystem::exists(photo)) GTEST_SKIP() << "../shared absent: colours checked, face skipped";
  auto original = decode_image_file(photo.string()).bgr;
  auto cmyk = decode_image_bytes(cmyk_jpeg(original)).bgr;
  EXPECT_LT(cv::norm(original, cmyk, cv::NORM_L1) / double(original.total() * 3), 4.0);
  FaceAnalyzer fa;
  auto faces = fa.analyze(cmyk);
  ASSERT_EQ(faces.size(), 1u);
  auto ref = fa.analyze(original);
  ASSERT_EQ(ref.size(), 1u);
  EXPECT_GT(FaceAnalyzer::cosine(faces[0].embedding, ref[0].embedding), 0.97f);
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
  EXPECT_EQ(test::kind_of([&] { decode_image_bytes(encode(m, ".png"), lim); }), ErrorKind::BadInput);
  // a PNG header claiming 20000 x 20000 is refused from the header, before any decoding
  std::string png = encode(cv::Mat(8, 8, CV_8UC3, cv::Scalar(1, 2, 3)), ".png");
  png[16] = 0, png[17] = 0, png[18] = 0x4E, png[19] = 0x20;  // width 20000
  png[20] = 0, png[21] = 0, png[22] = 0x4E, png[23] = 0x20;  // height 20000
  int w = 0, h = 0;
  ASSERT_TRUE(probe_image_size(png, w, h));
  EXPECT_EQ(w, 20000);
  EXPECT_EQ(test::kind_of([&] { decode_image_bytes(png); }), ErrorKind::BadInput);
}

TEST(Image, BadFilesAreClearErrors) {
  auto dir = test::temp_dir("image");
  EXPECT_EQ(test::kind_of([&] { decode_image_file((dir / "missing.jpg").string()); }), ErrorKind::NotFound);
  std::ofstream(dir / "empty.jpg").close();
  EXPECT_EQ(test::kind_of([&] { decode_image_file((dir / "empty.jpg").string()); }), ErrorKind::BadInput);
  std::ofstream(dir / "text.jpg") << "hello, I am not a picture";
  EXPECT_EQ(test::kind_of([&] { decode_image_file((dir / "text.jpg").string()); }), ErrorKind::BadInput);
  std::string jpg = encode(cv::Mat(100, 100, CV_8UC3, cv::Scalar(9, 9, 9)), ".jpg");
  std::ofstream(dir / "truncated.jpg", std::ios::binary) << jpg.substr(0, 40);
  EXPECT_EQ(test::kind_of([&] { decode_image_file((dir / "truncated.jpg").string()); }), ErrorKind::BadInput);
  EXPECT_EQ(test::kind_of([&] { decode_image_bytes(encode(cv::Mat(1, 1, CV_8UC3), ".png")); }), ErrorKind::BadInput);
}

TEST(Image, EveryAcceptedFormatIsProbedAndLimitedBeforeDecoding) {
  cv::Mat m(50, 70, CV_8UC3, cv::Scalar(30, 60, 90));
  ImageLimits lim;
  lim.max_pixels = 3000;  // 50 x 70 = 3500 pixels: over the limit
  cv::Mat grey(50, 70, CV_8UC1, cv::Scalar(77));
  for (const char* ext : {".png", ".bmp", ".tif", ".webp", ".ppm", ".pgm"}) {
    std::string bytes = encode(std::string(ext) == ".pgm" ? grey : m, ext);
    auto h = probe_image(bytes);
    ASSERT_TRUE(h.has_value()) << ext;
    EXPECT_EQ(h->width, 70) << ext;
    EXPECT_EQ(h->height, 50) << ext;
    EXPECT_EQ(decode_image_bytes(bytes).bgr.size(), cv::Size(70, 50)) << ext;
    EXPECT_EQ(test::kind_of([&] { decode_image_bytes(bytes, lim); }), ErrorKind::BadInput) << ext << " over the limit";
  }
  // lossless WebP and a JPEG with fill bytes before its frame header
  auto lossless = probe_image(encode(m, ".webp", {cv::IMWRITE_WEBP_QUALITY, 101}));
  ASSERT_TRUE(lossless.has_value());
  EXPECT_EQ(lossless->width, 70);
  std::string jpg = encode(m, ".jpg");
  auto filled = probe_image(jpg.substr(0, 2) + "\xff\xff\xff" + jpg.substr(2));
  ASSERT_TRUE(filled.has_value()) << "fill bytes (0xFF) before a marker are legal";
  EXPECT_EQ(filled->height, 50);
  // formats whose header is not read are refused, whatever their size
  cv::Mat f;
  m.convertTo(f, CV_32F, 1 / 255.0);
  EXPECT_FALSE(probe_image(encode(f, ".hdr")).has_value());
  EXPECT_EQ(test::kind_of([&] { decode_image_bytes(encode(f, ".hdr")); }), ErrorKind::BadInput);
  EXPECT_EQ(test::kind_of([&] { decode_image_bytes("GIF89a\x10\x00\x10\x00" + std::string(64, '\0')); }),
            ErrorKind::BadInput);
}

// Found by fuzz_image: a WebP header with "DICM" at byte 128 went to OpenCV's DICOM reader, which
// aborted the process on an assertion.
TEST(Image, ADicomMarkerInsideAnotherFormatIsRefusedNotDecoded) {
  std::string b = "RIFF\x8c\x00\x00\x00WEBPVP8L\x7f\x0a\x00\x00\x2f\x27\xc0\x0b\x00\x17";
  b.resize(128, '\xfd');
  b += std::string("DICM\x00", 5);
  EXPECT_FALSE(probe_image(b).has_value());
  EXPECT_EQ(test::kind_of([&] { decode_image_bytes(b); }), ErrorKind::BadInput);
  std::string png = encode(cv::Mat(20, 20, CV_8UC3, cv::Scalar(1, 2, 3)), ".png");
  png.resize(200, '\0');
  std::memcpy(png.data() + 128, "DICM", 4);
  EXPECT_EQ(test::kind_of([&] { decode_image_bytes(png); }), ErrorKind::BadInput);
}

TEST(Image, TruncatedJpegIsRefusedWholeOneDecodes) {
  cv::Mat m(120, 100, CV_8UC3);
  cv::randu(m, cv::Scalar::all(0), cv::Scalar::all(255));
  std::string jpg = encode(m, ".jpg");
  EXPECT_TRUE(probe_image(jpg)->complete);
  EXPECT_EQ(decode_image_bytes(jpg).bgr.size(), cv::Size(100, 120));
  for (double keep : {0.5, 0.9, 0.99}) {
    std::string cut = jpg.substr(0, size_t(double(jpg.size()) * keep));
    EXPECT_FALSE(probe_image(cut)->complete) << keep;
    EXPECT_EQ(test::kind_of([&] { decode_image_bytes(cut); }), ErrorKind::BadInput) << "kept " << keep;
  }
  for (const char* p : {"-progressive"}) {
    std::string prog = encode(m, ".jpg", {cv::IMWRITE_JPEG_PROGRESSIVE, 1});
    EXPECT_EQ(decode_image_bytes(prog).bgr.size(), cv::Size(100, 120)) << p;
    EXPECT_EQ(test::kind_of([&] { decode_image_bytes(prog.substr(0, prog.size() - 200)); }), ErrorKind::BadInput) << p;
  }
}

}  // namespace
}  // namespace facerec
