// Writes the seed corpora of the fuzz targets into DIR/<target>/: real files of every kind a
// target reads, made here from synthetic content (no third-party data or weights): images in each
// accepted format (and some refused ones), a small TFJS graph model with its weights manifest, a
// small ONNX model written by the project's ONNX builder, index files of each kind, a gallery file,
// and HTTP requests for every route. Usage: fuzz_seeds DIR
#include "import/onnx/onnx_builder.hpp"

#include <facerec/gallery/gallery.hpp>
#include <facerec/gallery/index.hpp>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

namespace fs = std::filesystem;

static void put(const fs::path& p, const std::string& bytes) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << bytes;
}

static std::string encode(const cv::Mat& m, const std::string& ext, std::vector<int> params = {}) {
  std::vector<uchar> buf;
  cv::imencode(ext, m, buf, params);
  return std::string(buf.begin(), buf.end());
}

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: fuzz_seeds DIR\n";
    return 2;
  }
  fs::path out = argv[1];
  // images: a small synthetic face-like pattern in every format
  cv::Mat img(48, 40, CV_8UC3, cv::Scalar(90, 120, 160));
  cv::circle(img, {20, 24}, 15, cv::Scalar(120, 160, 210), -1);
  cv::circle(img, {14, 20}, 2, cv::Scalar(20, 20, 20), -1);
  cv::circle(img, {26, 20}, 2, cv::Scalar(20, 20, 20), -1);
  cv::Mat grey;
  cv::cvtColor(img, grey, cv::COLOR_BGR2GRAY);
  auto d = out / "image";
  put(d / "a.jpg", encode(img, ".jpg"));
  put(d / "progressive.jpg", encode(img, ".jpg", {cv::IMWRITE_JPEG_PROGRESSIVE, 1}));
  put(d / "a.png", encode(img, ".png"));
  put(d / "grey.png", encode(grey, ".png"));
  put(d / "a.bmp", encode(img, ".bmp"));
  put(d / "a.tif", encode(img, ".tif"));
  put(d / "a.webp", encode(img, ".webp"));
  put(d / "lossless.webp", encode(img, ".webp", {cv::IMWRITE_WEBP_QUALITY, 101}));
  put(d / "a.pgm", encode(grey, ".pgm"));
  put(d / "a.ppm", encode(img, ".ppm"));
  put(d / "a.hdr", encode(
                       [&] {
                         cv::Mat f;
                         img.convertTo(f, CV_32F, 1 / 255.0);
                         return f;
                       }(),
                       ".hdr"));
  std::string jpg = encode(img, ".jpg");
  put(d / "truncated.jpg", jpg.substr(0, jpg.size() / 2));
  put(d / "fill.jpg", jpg.substr(0, 2) + "\xFF\xFF" + jpg.substr(2));

  // a TFJS graph model: x -> Conv2D (3x3x3x4, weights from w.bin) -> Relu; the fuzz target keeps a
  // 4 KiB w.bin beside the model.json
  put(out / "tfjs" / "conv.json", R"({"format": "graph-model", "modelTopology": {"node": [
 {"name": "x", "op": "Placeholder", "attr": {"dtype": {"type": "DT_FLOAT"}, "shape": {"shape": {"dim": [{"size": "1"}, {"size": "8"}, {"size": "8"}, {"size": "3"}]}}}},
 {"name": "w", "op": "Const", "attr": {"dtype": {"type": "DT_FLOAT"}, "value": {"tensor": {"dtype": "DT_FLOAT", "tensorShape": {"dim": [{"size": "3"}, {"size": "3"}, {"size": "3"}, {"size": "4"}]}}}}},
 {"name": "conv", "op": "Conv2D", "input": ["x", "w"], "attr": {"T": {"type": "DT_FLOAT"}, "strides": {"list": {"i": ["1", "1", "1", "1"]}}, "padding": {"s": "U0FNRQ=="}, "data_format": {"s": "TkhXQw=="}, "dilations": {"list": {"i": ["1", "1", "1", "1"]}}}},
 {"name": "y", "op": "Relu", "input": ["conv"], "attr": {"T": {"type": "DT_FLOAT"}}}]},
 "weightsManifest": [{"paths": ["w.bin"], "weights": [{"name": "w", "shape": [3, 3, 3, 4], "dtype": "float32"}]}]})");

  // an ONNX model from the project's builder: x -> Conv -> Relu -> GlobalAveragePool
  {
    facerec::detail::OnnxBuilder b("seed");
    b.input("x", {1, 3, 8, 8});
    std::vector<float> w(4 * 3 * 3 * 3);
    for (size_t i = 0; i < w.size(); ++i) w[i] = float(std::sin(double(i)));
    auto wn = b.initializer("w", {4, 3, 3, 3}, w);
    auto c = b.node("Conv", {"x", wn}, "conv");
    auto r = b.node("Relu", {c}, "relu");
    auto g = b.node("GlobalAveragePool", {r}, "pool");
    b.rename_output(g, "y");
    b.output("y", {1, 4, 1, 1});
    put(out / "onnx" / "conv.onnx", b.serialize());
  }

  // index files of each kind, with random unit vectors
  cv::RNG rng(7);
  std::vector<float> x(64 * 16);
  std::vector<int64_t> ids(64);
  for (size_t i = 0; i < 64; ++i) {
    ids[i] = int64_t(i + 1);
    float n = 0;
    for (size_t k = 0; k < 16; ++k) n += (x[i * 16 + k] = float(rng.gaussian(1))) * x[i * 16 + k];
    for (size_t k = 0; k < 16; ++k) x[i * 16 + k] /= std::sqrt(n);
  }
  for (const char* f : {"Flat", "hnswlib:M=8,ef=16", "faiss:IVF4,Flat;nprobe=2", "faiss:HNSW8"}) {
    auto ix = facerec::make_index(f, 16);
    if (!ix->is_trained()) ix->train(x.data(), 64);
    ix->add(ids.data(), x.data(), 64);
    std::ostringstream s;
    facerec::save_index(*ix, s);
    std::string name = f;
    for (char& ch : name)
      if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
    put(out / "index" / (name + ".frix"), s.str());
  }

  // a gallery file: two people, three templates (with a crop), one removal
  {
    auto g = out / "gallery" / "g.db";
    fs::create_directories(g.parent_path());
    fs::remove(g);
    {
      auto s = facerec::open_store(g.string());
      facerec::Template t;
      t.model = "seed";
      t.embedding.assign(x.begin(), x.begin() + 16);
      t.crop.jpeg = jpg;
      t.crop.landmarks = {1, 2, 3, 4};
      s->enroll("ada", R"({"team": "R&D"})", {t, t});
      int64_t b = s->create("bob", "");
      s->add_templates(b, {t});
      s->remove(s->create("carl", ""));
      s->list();
    }
    for (const char* extra : {"-wal", "-shm"}) fs::remove(g.string() + extra);
  }

  // HTTP requests for every route (the fuzz server's key; person 1 exists there)
  const std::string key = "X-API-Key: fuzz-key-0123456789abcdef\r\n";
  auto req = [&](const std::string& name, const std::string& head, const std::string& body,
                 const std::string& type = "application/json") {
    put(out / "http" / name, head + "\r\nHost: x\r\n" + key + "Content-Type: " + type +
                                 "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
  };
  req("health", "GET /v1/health HTTP/1.1", "");
  req("openapi", "GET /openapi.json HTTP/1.1", "");
  req("version", "GET /v1/version HTTP/1.1", "");
  req("people", "GET /v1/people?offset=0&limit=10 HTTP/1.1", "");
  req("create", "POST /v1/people HTTP/1.1", R"({"name": "eve", "metadata": {"a": [1, 2, {"b": null}]}})");
  req("get", "GET /v1/people/1 HTTP/1.1", "");
  req("delete", "DELETE /v1/people/9 HTTP/1.1", "");
  req("face", "POST /v1/people/1/faces HTTP/1.1", jpg, "image/jpeg");
  req("identify", "POST /v1/identify?top=3 HTTP/1.1", encode(img, ".png"), "image/png");
  std::string mp =
      "--XyZ\r\nContent-Disposition: form-data; name=\"a\"; filename=\"a.jpg\"\r\nContent-Type: "
      "image/jpeg\r\n\r\n" +
      jpg + "\r\n--XyZ\r\nContent-Disposition: form-data; name=\"b\"; filename=\"b.jpg\"\r\n\r\n" + jpg +
      "\r\n--XyZ--\r\n";
  req("verify", "POST /v1/verify HTTP/1.1", mp, "multipart/form-data; boundary=XyZ");
  req("verify_person", "POST /v1/verify?person=1 HTTP/1.1", jpg, "image/jpeg");
  put(out / "http" / "chunked", "POST /v1/people HTTP/1.1\r\nHost: x\r\n" + key +
                                    "Transfer-Encoding: chunked\r\nContent-Type: "
                                    "application/json\r\n\r\n5\r\n{\"nam\r\n9\r\ne\": \"z\"}\r\n0\r\n\r\n");
  put(out / "http" / "pipelined",
      "GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\nGET /v1/people/1 HTTP/1.1\r\nHost: x\r\n" + key + "\r\n");
  std::cout << "seeds written to " << out << "\n";
  return 0;
}
