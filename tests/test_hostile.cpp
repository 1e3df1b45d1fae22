// The REST service against a hostile-but-fair client, over raw loopback sockets (bounded: every
// wait has a deadline): invalid UTF-8 everywhere, deep JSON, chunked / compressed / oversized
// bodies, oversized images in every format, header floods, slow clients, name/id confusion,
// delete/add races, a second server on the port, a stop with a half-open connection, log forging.
// Each check: no crash, no 5xx, limits hold before the bytes are read, nothing stored that
// should not be. Needs the models and AT&T faces from ../shared (skips otherwise).
#include "test_util.hpp"

#include <facerec/error.hpp>
#include <facerec/service/service.hpp>

#include "common/fs.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>
#include <thread>

namespace facerec {
namespace {

using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;
const std::string kKey = "hostile-key-0123456789abcdef";

std::string att(int person, int photo) {
  return detail::read_file(test::shared_dir() / "data" / "att_faces" / ("s" + std::to_string(person)) /
                           (std::to_string(photo) + ".pgm"));
}

// One raw TCP connection to the service.
class Conn {
 public:
  explicit Conn(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(uint16_t(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~Conn() { ::close(fd_); }
  bool ok() const { return ok_; }
  // Sends everything it can; returns the bytes the server accepted before closing / timing out.
  size_t send_all(const std::string& s, std::chrono::milliseconds deadline = std::chrono::seconds(20)) {
    size_t off = 0;
    auto until = Clock::now() + deadline;
    while (off < s.size() && Clock::now() < until) {
      pollfd p{fd_, POLLOUT, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      if (p.revents & (POLLERR | POLLHUP)) break;
      ssize_t w = ::send(fd_, s.data() + off, std::min<size_t>(s.size() - off, 1 << 16), MSG_NOSIGNAL);
      if (w <= 0) break;
      off += size_t(w);
    }
    return off;
  }
  void close_write() { ::shutdown(fd_, SHUT_WR); }
  // Everything the server sends until it closes or `deadline` passes.
  std::string read_all(std::chrono::milliseconds deadline = std::chrono::seconds(60)) {
    std::string out;
    auto until = Clock::now() + deadline;
    char buf[8192];
    while (Clock::now() < until) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      ssize_t r = ::recv(fd_, buf, sizeof buf, 0);
      if (r <= 0) break;
      out.append(buf, size_t(r));
    }
    return out;
  }

 private:
  int fd_ = -1;
  bool ok_ = false;
};

struct Reply {
  int status = 0;  // 0: no reply
  std::string body;
  Json json;
};

Reply parse_reply(const std::string& raw) {
  Reply r;
  if (raw.rfind("HTTP/1.1 ", 0) != 0 || raw.size() < 12) return r;
  r.status = std::stoi(raw.substr(9, 3));
  size_t b = raw.find("\r\n\r\n");
  if (b != std::string::npos) r.body = raw.substr(b + 4);
  r.json = Json::parse(r.body, nullptr, false);
  return r;
}

std::string request(const std::string& method, const std::string& target, const std::string& body = "",
                    const std::string& type = "application/json", const std::string& extra = "", bool with_key = true) {
  return method + " " + target + " HTTP/1.1\r\nHost: localhost\r\n" + (with_key ? "X-API-Key: " + kKey + "\r\n" : "") +
         "Content-Type: " + type + "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n" +
         extra + "\r\n" + body;
}

class Hostile : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(test::shared_dir() / "data" / "att_faces" / "s1"))
      GTEST_SKIP() << "../shared/data/att_faces is absent";
    start(0);
  }
  void TearDown() override { stop(); }
  void start(int port) {
    ServiceOptions o;
    o.gallery = (test::temp_dir("hostile") / "g.db").string();
    o.api_keys = {kKey};
    o.max_body_bytes = 2u << 20;
    o.max_pixels = 4'000'000;
    o.http_threads = 16;
    o.head_timeout_s = 2;
    o.pipelines = 2;
    o.log = [this](const std::string& line) {
      std::lock_guard l(log_mu_);
      log_.push_back(line);
    };
    service_ = std::make_unique<FaceService>(o);
    port_ = service_->bind("127.0.0.1", port);
    thread_ = std::thread([this] { service_->serve(); });
  }
  void stop() {
    if (service_) service_->stop();
    if (thread_.joinable()) thread_.join();
  }
  Reply send(const std::string& raw) {
    Conn c(port_);
    EXPECT_TRUE(c.ok());
    c.send_all(raw);
    return parse_reply(c.read_all());
  }
  // A 4xx with a JSON error body naming the status.
  void expect_4xx(const Reply& r, const std::string& what, int status = 0) {
    EXPECT_GE(r.status, 400) << what << ": " << r.body;
    EXPECT_LT(r.status, 500) << what << ": " << r.body;
    if (status) {
      EXPECT_EQ(r.status, status) << what << ": " << r.body;
    }
    ASSERT_TRUE(r.json.is_object()) << what << ": the error body is not JSON: " << r.body;
    EXPECT_EQ(r.json["error"]["status"], r.status) << what;
  }
  bool healthy() { return send(request("GET", "/v1/health")).status == 200; }
  int64_t create(const std::string& name) {
    auto r = send(request("POST", "/v1/people", Json{{"name", name}}.dump()));
    EXPECT_EQ(r.status, 201) << r.body;
    return r.json.value("id", int64_t(-1));
  }
  Reply add_face(int64_t id, const std::string& image) {
    return send(request("POST", "/v1/people/" + std::to_string(id) + "/faces", image, "application/octet-stream"));
  }

  std::unique_ptr<FaceService> service_;
  std::thread thread_;
  int port_ = 0;
  std::mutex log_mu_;
  std::vector<std::string> log_;
};

TEST_F(Hostile, InvalidUtf8AnywhereGetsA4xxNeverAnAbort) {
  int64_t id = create("ada");
  expect_4xx(send(request("GET", "/v1/\xff\xfe\x80nothing")), "unknown route with invalid UTF-8", 404);
  expect_4xx(send(request("GET", "/v1/\xc3\x28", "", "text/plain", "", false)), "unknown route, no key");
  expect_4xx(send(request("GET", "/v1/people/%ff%fe")), "id with invalid UTF-8", 400);
  expect_4xx(send(request("DELETE", "/v1/people/\xff")), "id with invalid UTF-8 (DELETE)", 400);
  expect_4xx(send(request("POST", "/v1/identify?top=%ff", att(1, 1), "image/x-portable-graymap")), "query", 400);
  expect_4xx(send(request("POST", "/v1/verify?person=%c3%28", att(1, 1), "image/x-portable-graymap")), "person", 400);
  expect_4xx(send(request("POST", "/v1/people", "{\"name\": \"\xff\xfe\"}")), "JSON name", 400);
  expect_4xx(send(request("POST", "/v1/people", "{\"name\": \"x\", \"metadata\": \"\xc3\"}")), "JSON metadata", 400);
  expect_4xx(send("\xff\xfe / HTTP/1.1\r\nHost: x\r\n\r\n"), "method with invalid UTF-8");
  EXPECT_TRUE(healthy());
  auto r = send(request("GET", "/v1/people"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json["total"], 1) << "nothing stored by the bad requests";
  EXPECT_EQ(r.json["people"][0]["id"], id);
}

TEST_F(Hostile, DeepOrHugeJsonIsRefused) {
  std::string deep(100000, '[');
  deep += std::string(100000, ']');
  expect_4xx(send(request("POST", "/v1/people", deep)), "100000 levels", 400);
  std::string meta = "1";
  for (int i = 0; i < 40; ++i) meta = "[" + meta + "]";
  expect_4xx(send(request("POST", "/v1/people", R"({"name": "deep", "metadata": )" + meta + "}")), "deep metadata",
             400);
  expect_4xx(send(request("POST", "/v1/people", Json{{"name", "big"}, {"metadata", std::string(20000, 'm')}}.dump())),
             "20 KB of metadata", 400);
  EXPECT_TRUE(healthy());
  EXPECT_EQ(send(request("GET", "/v1/people")).json["total"], 0);
  // within the bounds: stored and returned as JSON
  std::string ok_meta = "1";
  for (int i = 0; i < 20; ++i) ok_meta = "[" + ok_meta + "]";
  auto r = send(request("POST", "/v1/people", R"({"name": "fine", "metadata": )" + ok_meta + "}"));
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_TRUE(r.json["metadata"].is_array());
}

TEST_F(Hostile, BodyLimitsHoldBeforeTheBodyIsRead) {
  // Content-Length above the limit: refused from the head; the server stops reading
  {
    Conn c(port_);
    std::string head = "POST /v1/identify HTTP/1.1\r\nHost: x\r\nX-API-Key: " + kKey +
                       "\r\nContent-Type: image/jpeg\r\nContent-Length: 209715200\r\n\r\n";
    size_t sent = c.send_all(head + std::string(200u << 20, 'x'), std::chrono::seconds(15));
    auto r = parse_reply(c.read_all(std::chrono::seconds(10)));
    expect_4xx(r, "declared 200 MB", 413);
    EXPECT_LT(sent, size_t(40u << 20)) << "the server read most of a body it had refused";
  }
  // chunked, 200 MB in 64 KiB chunks: refused while it arrives, before 2 MB + framing is exceeded much
  {
    Conn c(port_);
    std::string head = "POST /v1/identify HTTP/1.1\r\nHost: x\r\nX-API-Key: " + kKey +
                       "\r\nContent-Type: image/jpeg\r\nTransfer-Encoding: chunked\r\n\r\n";
    std::string chunk = "10000\r\n" + std::string(0x10000, 'y') + "\r\n";
    size_t sent = c.send_all(head, std::chrono::seconds(5));
    for (int i = 0; i < 3200 && sent > 0; ++i) {
      size_t n = c.send_all(chunk, std::chrono::seconds(5));
      sent += n;
      if (n < chunk.size()) break;
    }
    auto r = parse_reply(c.read_all(std::chrono::seconds(10)));
    expect_4xx(r, "200 MB chunked", 413);
    EXPECT_LT(sent, size_t(40u << 20)) << "the server read " << sent << " bytes of a chunked body over its limit";
  }
  // compressed bodies are refused (an inflated body would escape the limit)
  {
    std::string gz("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03", 10);
    expect_4xx(send(request("POST", "/v1/people", gz, "application/json", "Content-Encoding: gzip\r\n")), "gzip", 415);
    expect_4xx(send(request("POST", "/v1/people", gz, "application/json", "Content-Encoding: deflate\r\n")), "deflate",
               415);
  }
  EXPECT_TRUE(healthy());
}

TEST_F(Hostile, OversizedImagesInEveryFormatAreRefusedFromTheHeader) {
  int64_t id = create("ada");
  cv::Mat big(2100, 2100, CV_8UC3, cv::Scalar(40, 40, 40));    // 4.4 MP > the 4 MP limit
  for (const char* ext : {".png", ".tif", ".webp", ".jpg"}) {  // compressed: real files under the body limit
    std::vector<uchar> b;
    ASSERT_TRUE(cv::imencode(ext, big, b)) << ext;
    ASSERT_LT(b.size(), size_t(2u << 20)) << ext;
    auto r = add_face(id, std::string(b.begin(), b.end()));
    expect_4xx(r, ext, 413);
    EXPECT_EQ(r.json["error"]["code"], "image_too_large") << ext;
  }
  // uncompressed formats: small files whose headers declare 2100 x 2100 (and 60000 x 60000)
  cv::Mat small(16, 16, CV_8UC3, cv::Scalar(40, 40, 40));
  std::vector<uchar> bmp;
  cv::imencode(".bmp", small, bmp);
  for (int32_t side : {2100, 60000}) {
    std::string b(bmp.begin(), bmp.end());
    std::memcpy(b.data() + 18, &side, 4);
    std::memcpy(b.data() + 22, &side, 4);
    expect_4xx(add_face(id, b), "BMP declaring " + std::to_string(side), 413);
    expect_4xx(
        add_face(id, "P6\n" + std::to_string(side) + " " + std::to_string(side) + "\n255\n" + std::string(768, '\x28')),
        "PPM declaring " + std::to_string(side), 413);
  }
  // formats whose headers are not read are refused, not decoded at any size
  std::vector<uchar> hdr;
  cv::Mat f(64, 64, CV_32FC3, cv::Scalar(0.5, 0.5, 0.5));
  ASSERT_TRUE(cv::imencode(".hdr", f, hdr));
  expect_4xx(add_face(id, std::string(hdr.begin(), hdr.end())), "Radiance HDR", 422);
  // a JPEG with a fill byte before its frame header declares its size all the same
  std::vector<uchar> j;
  cv::imencode(".jpg", big, j);
  std::string jpg(j.begin(), j.end());
  expect_4xx(add_face(id, jpg.substr(0, 2) + "\xff" + jpg.substr(2)), "JPEG with a fill byte", 413);
  // a truncated JPEG is refused, never enrolled from a half-grey image
  std::string face;
  {
    std::string pgm = att(1, 1);
    cv::Mat m = cv::imdecode(std::vector<uchar>(pgm.begin(), pgm.end()), cv::IMREAD_COLOR);
    std::vector<uchar> e;
    cv::imencode(".jpg", m, e);
    face.assign(e.begin(), e.end());
  }
  expect_4xx(add_face(id, face.substr(0, face.size() * 2 / 3)), "truncated JPEG", 422);
  EXPECT_EQ(send(request("GET", "/v1/people/" + std::to_string(id))).json["templates"], 0) << "nothing stored";
  EXPECT_EQ(add_face(id, face).status, 201) << "the whole JPEG enrols";
}

TEST_F(Hostile, HeaderFloodsAndSlowClientsAreCutOff) {
  // 29 MB of headers without a key: refused at 64 KiB, long before the 29 MB are read
  {
    Conn c(port_);
    std::string flood = "GET /v1/people HTTP/1.1\r\nHost: x\r\n";
    std::string line = "X-Pad: " + std::string(4000, 'p') + "\r\n";
    size_t sent = c.send_all(flood, std::chrono::seconds(2));
    for (int i = 0; i < 7500; ++i) {
      size_t n = c.send_all(line, std::chrono::seconds(2));
      sent += n;
      if (n < line.size()) break;
    }
    auto r = parse_reply(c.read_all(std::chrono::seconds(5)));
    expect_4xx(r, "header flood", 431);
    EXPECT_LT(sent, size_t(8u << 20)) << "the server read " << sent << " bytes of headers";
  }
  // more slow half-open connections than half the HTTP threads: health still answers at once,
  // and the slow ones get 408 after the head deadline (2 s here)
  std::vector<std::unique_ptr<Conn>> slow;
  for (int i = 0; i < 10; ++i) {
    slow.push_back(std::make_unique<Conn>(port_));
    slow.back()->send_all("GET /v1/peo");
  }
  auto t0 = Clock::now();
  EXPECT_TRUE(healthy());
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(2)) << "health waited behind slow clients";
  for (int s = 0; s < 3; ++s) {  // keep trickling bytes: a per-read timeout alone would never fire
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
    for (auto& c : slow) c->send_all("p");
  }
  for (auto& c : slow) {
    auto r = parse_reply(c->read_all(std::chrono::seconds(5)));
    EXPECT_EQ(r.status, 408) << r.body;
  }
}

TEST_F(Hostile, StopReturnsPromptlyWithAHalfOpenConnection) {
  Conn c(port_);
  c.send_all("POST /v1/people HTTP/1.1\r\nHost: x\r\n");  // and never more
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto t0 = Clock::now();
  stop();
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(3)) << "stop waited for a half-open connection";
}

TEST_F(Hostile, ASecondServerOnTheSamePortIsRefused) {
  ServiceOptions o;
  o.gallery = (test::temp_dir("hostile-second") / "g.db").string();
  o.api_keys = {kKey};
  o.pipelines = 1;
  FaceService second(o);
  try {
    second.bind("127.0.0.1", port_);
    FAIL() << "a second server bound the port the first serves";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Io);
  }
  EXPECT_TRUE(healthy());
}

TEST_F(Hostile, IdsAreNeverShadowedByNamesNorReused) {
  int64_t a = create("ada");
  int64_t one = create(std::to_string(a));  // a person whose name is the other's id
  ASSERT_NE(a, one);
  auto r = send(request("GET", "/v1/people/" + std::to_string(a)));
  EXPECT_EQ(r.json["name"], "ada") << "the id was shadowed by a name";
  ASSERT_EQ(add_face(a, att(1, 1)).status, 201);
  EXPECT_EQ(send(request("GET", "/v1/people/" + std::to_string(a))).json["templates"], 1);
  EXPECT_EQ(send(request("GET", "/v1/people/" + std::to_string(one))).json["templates"], 0);
  auto v = send(request("POST", "/v1/verify?person=" + std::to_string(a), att(1, 2), "application/octet-stream"));
  ASSERT_EQ(v.status, 200) << v.body;
  EXPECT_EQ(v.json["against"]["id"], a);
  // a deleted person's id is never given again, and adding to it fails without bringing it back
  int64_t gone = create("gone");
  ASSERT_EQ(send(request("DELETE", "/v1/people/" + std::to_string(gone))).status, 200);
  expect_4xx(add_face(gone, att(2, 1)), "add to a deleted person", 404);
  int64_t next = create("next");
  EXPECT_GT(next, gone) << "an id was reused";
  for (const auto& p : send(request("GET", "/v1/people")).json["people"]) EXPECT_NE(p["name"], "gone");
}

TEST_F(Hostile, AddFaceRacingDeleteNeverResurrects) {
  for (int round = 0; round < 4; ++round) {
    int64_t id = create("racer" + std::to_string(round));
    std::string meta_check;
    std::thread adder([&] {
      for (int i = 0; i < 3; ++i) add_face(id, att(3, 1 + i));
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(150 * round));
    auto d = send(request("DELETE", "/v1/people/" + std::to_string(id)));
    adder.join();
    EXPECT_EQ(d.status, 200) << d.body;
    EXPECT_EQ(send(request("GET", "/v1/people/" + std::to_string(id))).status, 404)
        << "round " << round << ": the deleted person came back";
  }
  auto all = send(request("GET", "/v1/people"));
  EXPECT_EQ(all.json["total"], 0) << all.body;
}

TEST_F(Hostile, TheAccessLogCannotBeForgedAndNamesTheClient) {
  send(request("GET", "/v1/health%0Afacerec%20serve:%20GET%20/v1/admin%20200"));
  std::lock_guard l(log_mu_);
  bool seen = false;
  for (const auto& line : log_) {
    EXPECT_EQ(line.find('\n'), std::string::npos) << line;
    if (line.find("/v1/health") != std::string::npos) {
      seen = true;
      EXPECT_NE(line.find("\\x0a"), std::string::npos) << line;
      EXPECT_NE(line.find("127.0.0.1"), std::string::npos) << "no client address: " << line;
    }
  }
  EXPECT_TRUE(seen);
}

}  // namespace
}  // namespace facerec
